"""``python -m dycore``: the same as ``python -m dycore.run``."""
import sys

from dycore.run import main

sys.exit(main())
