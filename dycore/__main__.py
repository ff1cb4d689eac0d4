"""``python -m dycore``: the same as ``python -m dycore.run``."""
import sys

from dycore.driver.signals import install_early

install_early()  # before the driver's imports: see dycore.run

from dycore.driver.main import main  # noqa: E402

sys.exit(main())
