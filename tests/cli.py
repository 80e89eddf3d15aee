"""Running the ``partsim`` command as a user does, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_partsim(
    *args: str,
    stdin: str | bytes | None = None,
    cwd: Path | None = None,
    text: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """``python -m partsim ARGS`` in a subprocess; stdout and stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", "partsim", *args],
        input=stdin,
        capture_output=True,
        text=text,
        timeout=timeout,
        cwd=cwd,
    )
