"""``python -m partsim``: the same as the ``partsim`` command."""

import sys

from partsim.cli import main

sys.exit(main())
