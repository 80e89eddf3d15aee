"""``python -m partsim``: the same as the ``partsim`` command."""

import sys

from partsim.cli import main

if __name__ == "__main__":
    sys.exit(main())
