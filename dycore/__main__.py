"""``python -m dycore``: the same as ``python -m dycore.run``."""
import sys

from dycore.driver.main import main

sys.exit(main())
