"""``python -m partsim``: the same as the ``partsim`` command."""

from partsim.cli import run

if __name__ == "__main__":
    run()
