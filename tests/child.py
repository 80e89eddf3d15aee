"""Running ``partsim`` in a child process under conditions a test sets: a umask, no power to
write where the file modes forbid it (even as root), or an optional module hidden."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

#: A ``sitecustomize`` that makes the modules named in $PARTSIM_TEST_HIDE unimportable, and
#: those in $PARTSIM_TEST_BREAK found but failing to import (a broken install), in the process
#: and its children (the live-topic reading process among them).
SITECUSTOMIZE = """
import importlib.abc, importlib.machinery, os, sys

_HIDE = set(filter(None, os.environ.get("PARTSIM_TEST_HIDE", "").split(",")))
_BREAK = set(filter(None, os.environ.get("PARTSIM_TEST_BREAK", "").split(",")))


class _Broken(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError("libbroken.so: cannot open shared object file (a test breaks it)")


class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in _HIDE:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        if top in _BREAK:
            return importlib.machinery.ModuleSpec(name, _Broken())
        return None


sys.meta_path.insert(0, _Hide())
"""

#: CAP_DAC_OVERRIDE (linux/capability.h) and prctl's PR_CAPBSET_DROP (linux/prctl.h).
_CAP_DAC_OVERRIDE, _PR_CAPBSET_DROP = 1, 24


def _drop_override() -> None:
    """In the child before exec: leave the capability that lets root write anywhere, so that
    file modes bind it as they bind any user (after exec, root's capabilities are the
    bounding set)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")


def hiding(folder: Path, *, hide: Sequence[str] = (), broken: Sequence[str] = ()) -> dict:
    """The environment of a child in which ``hide`` cannot be imported and ``broken`` fails
    to (``folder`` receives the sitecustomize)."""
    (folder / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    env["PARTSIM_TEST_HIDE"] = ",".join(hide)
    env["PARTSIM_TEST_BREAK"] = ",".join(broken)
    return env


def run(
    *args: str,
    cwd: Path | None = None,
    env: dict | None = None,
    umask: int | None = None,
    unprivileged: bool = False,
    code: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """``python -m partsim ARGS`` (or ``python -c CODE``) in a child process, text captured.

    ``umask`` is set in the child; ``unprivileged`` takes root's power to write anywhere."""

    def prepare() -> None:
        if umask is not None:
            os.umask(umask)
        if unprivileged:
            _drop_override()

    command = (
        [sys.executable, "-c", code] if code is not None else [sys.executable, "-m", "partsim"]
    )
    setup: Callable[[], None] | None = prepare if umask is not None or unprivileged else None
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        preexec_fn=setup,
    )  # fmt: skip


def one_error(done: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The single ``Error:`` line of a failed run (exit ``code``), holding every needle."""
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]
