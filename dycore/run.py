"""``python -m dycore.run [CONFIG.toml] [flags]``: the command-line driver
(also under ``mpirun -n N``). The driver lives in :mod:`dycore.driver`; this
module keeps the command and the names programs import from it."""
import sys

from dycore.driver.cli import build_parser
from dycore.driver.main import main
from dycore.driver.schedule import schedule
from dycore.simulation import Simulation

__all__ = ["Simulation", "build_parser", "main", "schedule"]

if __name__ == "__main__":
    sys.exit(main())
