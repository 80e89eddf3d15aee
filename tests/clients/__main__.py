"""``python -m tests.clients``: build every real producer program (see ``__init__``)."""

from tests.clients import main

main()
