"""What the atheris harnesses share: writing a fuzzed input as a file, and the property.

The property: only :class:`partsim.errors.PartsimError` s may escape. Any other exception
is a bug, and so is one Python could only print ("Exception ignored in ...", a traceback on
the user's screen); libFuzzer reports crashes, hangs (``-timeout``) and memory blow-ups
(``-rss_limit_mb``) itself. With ``PARTSIM_FUZZ_FINDINGS=DIR`` a harness keeps going after
an unexpected exception instead of stopping: it saves the first input of each distinct failure
(exception type and innermost partsim line) to ``DIR`` with its traceback, so one campaign
lists every distinct failure. Crashes, hangs and memory blow-ups still stop it.

Run from the repository root, in a venv with partsim and atheris (a dev tool: in no extra,
and CI does not fuzz; the inputs fuzzing found are cases in ``tests/test_bad_inputs.py``)::

    python fuzz/make_seeds.py fuzz-corpus                    # seeds, one folder per harness
    mkdir -p fuzz-out/readers
    nice -n 19 python fuzz/fuzz_readers.py fuzz-corpus/readers -max_total_time=600 \\
        -rss_limit_mb=2048 -timeout=30 -max_len=16384 -artifact_prefix=fuzz-out/readers/

``fuzz_design.py`` and ``fuzz_analyze.py`` run the same way over their own folders. To
replay one input, give its path instead of a folder.
"""

from __future__ import annotations

import atexit
import bz2
import contextlib
import gzip
import hashlib
import importlib
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

import atheris
import pyarrow as pa

with atheris.instrument_imports(include=["partsim"]):  # coverage of partsim's Python code
    for module in ("partsim.analysis", "partsim.design", "partsim.io", "partsim.outputs"):
        importlib.import_module(module)
    from partsim.errors import PartsimError

#: A fuzzed input's first byte picks one of these: (format, compression, how). ``packed``
#: means the harness compresses the fuzzed bytes (so the reader behind the codec is fuzzed);
#: ``raw`` means the fuzzed bytes are the compressed file (so the codec's errors are).
TEXT_FORMATS = ("csv", "tsv", "jsonl", "log", "kcat")
VARIANTS: tuple[tuple[str, str | None, str], ...] = (
    *((fmt, None, "plain") for fmt in TEXT_FORMATS),
    ("parquet", None, "plain"),
    *((fmt, codec, "packed") for codec in ("gzip", "zstd", "bz2") for fmt in TEXT_FORMATS),
    *((fmt, codec, "raw") for codec in ("gzip", "zstd") for fmt in TEXT_FORMATS),
)
_SUFFIXES = {"gzip": ".gz", "zstd": ".zst", "bz2": ".bz2"}
#: Regexes for log input: the sample's, a loose one, and one with optional groups.
LOG_REGEXES = (
    r"^(?P<ts>\S+) INFO \S+ placed order=\S+ customer=(?P<key>\S+) bytes=(?P<size>\d+)",
    r"(?P<key>\w+)=?(?P<size>\d*)",
    r"customer=(?P<key>[^ ]*)(?: ts=(?P<ts>\S+))?",
)

_FOLDER = Path(tempfile.mkdtemp(prefix="partsim-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, True)


def pack(data: bytes, codec: str) -> bytes:
    """``data`` compressed with ``codec`` as a ``.gz``, ``.zst`` or ``.bz2`` file holds it."""
    if codec == "gzip":
        return gzip.compress(data, compresslevel=1)
    if codec == "bz2":
        return bz2.compress(data, compresslevel=1)
    return pa.Codec("zstd").compress(data, asbytes=True)


def write_input(variant: int, body: bytes, name: str = "input") -> tuple[Path, str]:
    """Write ``body`` as the variant's file; the path and its format."""
    fmt, codec, how = VARIANTS[variant % len(VARIANTS)]
    suffix = "." + fmt + (_SUFFIXES[codec] if codec else "")
    path = _FOLDER / (name + suffix)
    path.write_bytes(pack(body, codec) if how == "packed" and codec else body)
    return path, fmt


def seed_header(fmt: str, codec: str | None = None, how: str = "plain") -> int:
    """The first byte that picks ``(fmt, codec, how)``: for writing seeds."""
    return VARIANTS.index((fmt, codec, how if codec else "plain"))


_SEEN: set[str] = set()


def checked(test: Callable[[bytes], None]) -> Callable[[bytes], None]:
    """``test`` with the property applied: PartsimErrors pass, anything else is a finding."""
    findings = os.environ.get("PARTSIM_FUZZ_FINDINGS")

    def test_one_input(data: bytes) -> None:
        _UNRAISABLE.clear()
        try:
            with contextlib.suppress(PartsimError):
                test(data)
            if _UNRAISABLE:  # printed to stderr as "Exception ignored in ...": a traceback
                raise _UNRAISABLE[0].exc_value
        except Exception as error:
            if not findings:
                raise
            _record(Path(findings), data, error)

    return test_one_input


#: Exceptions Python could not raise (in a callback from C, a ``__del__``), which it prints
#: with a traceback and otherwise ignores: for the user, a traceback all the same.
_UNRAISABLE: list = []


def _record(folder: Path, data: bytes, error: Exception) -> None:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if f"{os.sep}partsim{os.sep}" in frame.filename]
    where = (ours or frames)[-1]
    signature = f"{type(error).__name__}@{Path(where.filename).name}:{where.lineno}"
    if signature in _SEEN:
        return
    _SEEN.add(signature)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{signature.replace('@', '-').replace(':', '-')}-{hashlib.sha1(data).hexdigest()[:8]}"
    (folder / f"{stem}.bin").write_bytes(data)
    (folder / f"{stem}.txt").write_text("".join(traceback.format_exception(error)))
    print(f"FINDING {signature}: {type(error).__name__}: {str(error)[:200]}", file=sys.stderr)


def fuzz(test: Callable[[bytes], None]) -> None:
    """Run libFuzzer over ``test`` with the command line's libFuzzer options."""
    pa.set_cpu_count(1)  # one core per campaign (CSV reads use Arrow's thread pool)
    pa.set_io_thread_count(1)
    sys.unraisablehook = _UNRAISABLE.append
    atheris.Setup(sys.argv, checked(test))
    atheris.Fuzz()


__all__ = [
    "LOG_REGEXES",
    "VARIANTS",
    "fuzz",
    "pack",
    "seed_header",
    "write_input",
]
