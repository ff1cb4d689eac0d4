"""``python -m dycore``: the same as ``python -m dycore.run``."""

from dycore.driver.signals import install_early

install_early()  # before the driver's imports: see dycore.run

from dycore.driver.main import finish, main  # noqa: E402

finish(main())
