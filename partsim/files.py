"""Writing output files where the user said, and nowhere else.

Every file partsim writes (``--out`` directories, sample files) is written whole or not at
all, through a temporary name beside it, with the modes a plain ``mkdir`` and ``open`` give
under the user's umask. A place the user cannot write to is found before a long run, and is
one :class:`~partsim.errors.OutputError` line that names the path, never an internal error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from partsim.errors import OutputError

__all__ = ["atomic_write", "check_writable", "new_directory"]


def new_directory(parent: Path, prefix: str) -> Path:
    """A new, uniquely named directory in ``parent``, made by a plain ``mkdir``: its mode is
    what the umask gives (``tempfile.mkdtemp`` would make it 0700)."""
    while True:
        path = parent / f"{prefix}{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _cannot(
    option: str, target: Path, error: OSError | str, place: Path | None = None
) -> OutputError:
    reason = error if isinstance(error, str) else error.strerror or str(error)
    where = f" ({str(place)!r})" if place is not None and place != target else ""
    return OutputError(f"cannot write {option} {str(target)!r}: {reason}{where}")


def check_writable(directory: Path, *, option: str, target: Path) -> None:
    """Raise an :class:`OutputError` naming ``target`` (the ``option``'s value) unless files
    can be made in ``directory``, or in its nearest existing parent when it does not exist
    yet. A directory is made and removed there to find out: nothing else is created."""
    place = _nearest_existing(directory)
    if not place.is_dir():
        raise _cannot(option, target, "not a directory", place)
    try:
        new_directory(place, ".partsim-check-").rmdir()
    except OSError as error:
        raise _cannot(option, target, error, place) from None


def atomic_write(target: Path, write: Callable[[str], None], *, option: str) -> None:
    """Call ``write(name)`` on a new file beside ``target``, then rename it into place.

    The file is created as ``open`` creates it (mode 0666 less the umask; ``mkstemp`` would
    make it 0600). An ``OSError`` becomes an :class:`OutputError` naming ``target``.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        while True:
            temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.tmp"
            try:
                os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                break
            except FileExistsError:
                continue
    except OSError as error:
        raise _cannot(option, target, error) from None
    try:
        write(str(temporary))
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise _cannot(option, target, error) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
