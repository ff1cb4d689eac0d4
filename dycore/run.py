"""``python -m dycore.run [CONFIG.toml] [flags]``: the command-line driver
(also under ``mpirun -n N``). The driver lives in :mod:`dycore.driver`; this
module keeps the command and the names programs import from it.

Run as a program, it takes note of stop signals (SIGINT, SIGTERM, SIGUSR1,
SIGUSR2) before importing the rest of the driver, so that a signal during
the start-up ends the run before its first step with one line and status
128 + N, writing nothing (see :mod:`dycore.driver.signals`).
"""

if __name__ == "__main__":
    from dycore.driver.signals import install_early

    install_early()

from dycore.driver.cli import build_parser  # noqa: E402
from dycore.driver.main import finish, main  # noqa: E402
from dycore.driver.schedule import schedule  # noqa: E402
from dycore.simulation import Simulation  # noqa: E402

__all__ = ["Simulation", "build_parser", "main", "schedule"]

if __name__ == "__main__":
    finish(main())
