"""Writing results: an ``--out`` directory of fixed file names, and the stdout summary.

The directory is written whole or not at all: every file goes to a temporary directory
beside it first, then is moved into place, so an error never leaves a half-written report
that looks whole.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import os
import pickle
import re
import shutil
import signal
import stat
import sys
import textwrap
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from partsim.errors import OutputError, UsageError
from partsim.files import check_writable, new_directory
from partsim.style import RATE_NAMES, rate_text, ratio_text

__all__ = [
    "PlotProcess",
    "format_summary",
    "to_json",
    "write_csv",
    "write_directory",
    "write_outputs",
]

#: Every file ``analyze --out`` may write; stale ones from an earlier run are removed.
ANALYZE_FILES = (
    "summary.json",
    "partitions.csv",
    "hot_keys.csv",
    "windows.csv",
    "load.png",
    "lorenz.png",
    "hot_keys.png",
    "heatmap.png",
    "report.html",
)


def _clean(value: object) -> object:
    """JSON-safe: numpy scalars become Python numbers, NaN and infinity become null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(payload: object) -> str:
    """Indented JSON with numpy values converted and NaN written as null."""
    return json.dumps(_clean(payload), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


#: A text cell that begins with one of these is escaped in a report CSV (a ``'`` in front):
#: a spreadsheet reads a cell that begins with ``=``, ``+``, ``-``, ``@``, tab or CR as a
#: formula (OWASP, "CSV Injection"); ASVS 1.2.10 adds NUL; LF, and the full-width forms
#: U+FF1D, U+FF0B, U+FF0D and U+FF20 that some spreadsheets also take for ``= + - @``, are
#: escaped too. A cell that already begins with ``'`` gets one more, so that removing the
#: first ``'`` of every cell that begins with one always gives the value back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d",
                  "\uff20", "'")  # fmt: skip

#: The dtypes pandas infers for columns written as text rather than as numbers.
_TEXT_KINDS = frozenset({"string", "bytes", "mixed", "mixed-integer", "categorical"})
#: What makes a text cell need quotes: a delimiter (that of any spreadsheet locale: comma,
#: semicolon or tab), a quote, CR or LF.
_NEEDS_QUOTES = ',;"\r\n\t'
_CARE = re.compile(f"[{re.escape(_NEEDS_QUOTES)}]")
_CARE_OR_FORMULA = re.compile(
    f"[{re.escape(_NEEDS_QUOTES)}]|^[{re.escape(''.join(FORMULA_STARTS))}]"
)


def escape_formula(text: str) -> str:
    """``text`` as a report CSV writes it: a ``'`` in front when it begins like a formula.

    >>> print(*map(escape_formula, ['=HYPERLINK("http://x","y")', "-2", "C1"]))
    '=HYPERLINK("http://x","y") '-2 C1
    """
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _cell(text: str) -> str:
    """A text cell: quoted (quotes doubled, RFC 4180) when it holds a delimiter, quote, CR or
    LF."""
    return '"' + text.replace('"', '""') + '"' if _CARE.search(text) else text


def _is_text(series) -> bool:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    return pd.api.types.infer_dtype(series, skipna=True) in _TEXT_KINDS


def _needs_care(series, escape: bool) -> bool:
    """Whether some cell of a text column needs quotes (or, with ``escape``, an escape)."""
    pattern = (_CARE_OR_FORMULA if escape else _CARE).pattern
    try:
        return bool(series.dropna().str.contains(pattern, regex=True).any())
    except (AttributeError, TypeError, ValueError):  # not all str (bytes, mixed), or the
        return True  # regex engine refused: write cell by cell


def _text_cells(series, escape: bool) -> list[str]:
    out = []
    for value in series.astype(object).to_numpy():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append("")
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "backslashreplace")
        text = str(value)
        out.append(_cell(escape_formula(text) if escape else text))
    return out


def write_csv(frame, path: str | Path, *, escape_formulas: bool = True) -> None:
    """Write a DataFrame as CSV that every reader splits into the same cells, and that a
    spreadsheet does not run.

    A text cell that holds a delimiter (comma, or the semicolon or tab of other locales), a
    quote, CR or LF is quoted, with quotes doubled (RFC 4180); with ``escape_formulas``
    (report files), a text cell that begins like a formula (:data:`FORMULA_STARTS`) gets a
    ``'`` in front. Numbers and times are written as pandas writes them; lines end with LF.
    """
    text = [name for name in frame.columns if _is_text(frame[name])]
    if not any(_needs_care(frame[name], escape_formulas) for name in text):
        frame.to_csv(path, index=False, lineterminator="\n")  # no cell needs more care
        return
    numbers = [name for name in frame.columns if name not in text]
    columns = {name: _text_cells(frame[name], escape_formulas) for name in text}
    if numbers:
        written = frame[numbers].to_csv(index=False, header=False, lineterminator="\n")
        # No number holds a comma; a row of one missing number comes as "", made empty here.
        rows = [line.split(",") for line in written.replace('""', "").split("\n")[:-1]]
        for position, name in enumerate(numbers):
            columns[name] = [row[position] for row in rows]
    ordered = [columns[name] for name in frame.columns]
    header = ",".join(_cell(str(name)) for name in frame.columns)
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(header + "\n")
        if len(ordered) == 1:  # a lone empty cell would be a blank line, which readers skip
            out.writelines((cell or '""') + "\n" for cell in ordered[0])
        else:
            out.writelines(",".join(row) + "\n" for row in zip(*ordered, strict=True))


#: The file in an ``--out`` directory that lists what partsim's last run wrote there, with
#: each file's SHA-256: a later run removes a stale file only when it is listed there and
#: unchanged, so a file that partsim did not write is never removed.
MANIFEST = ".partsim-manifest.json"


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict[str, str]:
    """``{file name: sha256}`` from ``folder``'s manifest; empty when it has none."""
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
        return {str(name): str(digest) for name, digest in files.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def check_output_directory(out_dir: str | Path, option: str = "--out") -> Path:
    """Fail before a long run when ``out_dir`` cannot be written: one line naming the path.

    A symbolic link is refused (files would be written, and stale ones removed, in a
    directory the user did not name), and so is a path that is not a directory.
    """
    out = Path(out_dir)
    if out.is_symlink():
        raise UsageError(
            f"{option} {str(out)!r} is a symbolic link (to {os.readlink(out)!r}); give the "
            "directory itself, so that partsim writes and removes files only where you say"
        )
    if out.exists() and not out.is_dir():
        raise UsageError(f"{option} {str(out)!r} exists and is not a directory")
    check_writable(out, option=option, target=out)
    return out


def write_directory(
    out_dir: str | Path, write: Callable[[Path], None], known: tuple[str, ...] = ()
) -> Path:
    """Run ``write(tmp)`` into a temporary directory, then move its files into ``out_dir``.

    A new ``out_dir`` appears whole, by one rename. Into an existing one, the files are
    moved one by one; then a file named in ``known`` that this run did not write is
    removed, but only when the last run's manifest (:data:`MANIFEST`) lists it and it is
    unchanged since: partsim never removes a file it did not write. The directory and the
    files get the modes a plain ``mkdir`` and ``open`` give under the umask. An ``OSError``
    (a directory this user cannot write to, a full disk) becomes an :class:`OutputError`
    that names the path.
    """
    out = check_output_directory(out_dir)
    exists = out.is_dir()
    try:
        if not exists:
            out.parent.mkdir(parents=True, exist_ok=True)
        # Staged inside an existing directory (its parent may be read-only), else beside it.
        staging = new_directory(out if exists else out.parent, f".{out.name}.partsim-")
    except OSError as error:
        raise OutputError(f"cannot write --out {str(out)!r}: {error.strerror or error}") from None
    try:
        write(staging)
        written = sorted(path.name for path in staging.iterdir())
        digests = {name: _digest(staging / name) for name in written}
        (staging / MANIFEST).write_text(
            to_json({"written_by": "partsim", "files": digests}), encoding="utf-8"
        )
        if not exists:
            os.replace(staging, out)
            return out
        previous = _manifest(out)
        for name in [*written, MANIFEST]:
            os.replace(staging / name, out / name)
        staging.rmdir()
        for name in known:
            stale = out / name
            if name in written or name not in previous or not _regular(stale):
                continue
            if _digest(stale) == previous[name]:
                stale.unlink()
        return out
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(f"cannot write --out {str(out)!r}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _regular(path: Path) -> bool:
    """A regular file, not a symbolic link (which is never followed to remove its target)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def plot_processes() -> int:
    """How many processes may draw plots at once: one per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _fork() -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork in a process with threads (here, numpy's and Arrow's
        # idle pools): the child only draws with matplotlib and exits with os._exit.
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


class PlotProcess:
    """A forked process that draws the PNGs of ``analyze --out``.

    Started before the events are read, it imports matplotlib (a fifth of a second) while
    they are; :meth:`draw` then hands it the result, and it draws the plots, in up to
    :func:`plot_processes` processes at once, while this process writes the other files.
    If it fails, :func:`write_outputs` draws the plots here instead, so that an error is
    raised where it would be without it. Fork is used only on Linux (elsewhere
    :meth:`start` returns None), where it is cheap and safe for a child that only draws.
    """

    def __init__(self, pid: int, jobs: int) -> None:
        self.pid = pid
        self._jobs: int | None = jobs  # the write end of the pipe the result goes down
        self._sender: threading.Thread | None = None

    @classmethod
    def start(cls) -> PlotProcess | None:
        if not sys.platform.startswith("linux"):
            return None
        jobs_in, jobs_out = os.pipe()
        try:
            pid = _fork()
        except OSError:
            os.close(jobs_in)
            os.close(jobs_out)
            return None
        if pid == 0:
            os.setpgid(0, 0)  # a group of its own, with its helpers, to be ended as one
            os.close(jobs_out)
            _plot_process(jobs_in)
        with contextlib.suppress(OSError):  # also here, so that it holds before close()
            os.setpgid(pid, pid)
        os.close(jobs_in)
        return cls(pid, jobs_out)

    def draw(self, result, folder: Path) -> None:
        """Hand over the result: the plots are drawn into ``folder`` in the background."""
        payload = pickle.dumps((result, str(folder)), protocol=pickle.HIGHEST_PROTOCOL)
        jobs, self._jobs = self._jobs, None
        assert jobs is not None, "a PlotProcess draws once"

        def send() -> None:
            try:
                with os.fdopen(jobs, "wb") as pipe:
                    pipe.write(payload)
            except OSError:
                pass  # the process is gone; wait() says so

        # A thread, so that this process writes its files while the other one reads.
        self._sender = threading.Thread(target=send, name="partsim-plots", daemon=True)
        self._sender.start()

    def wait(self) -> bool:
        """Wait until the plots are drawn; False if they are not (draw them here)."""
        if self._sender is not None:
            self._sender.join()
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return os.waitstatus_to_exitcode(status) == 0

    def close(self) -> None:
        """End the process, if it still runs: unneeded (no result came) or after an error."""
        if self._jobs is not None:
            os.close(self._jobs)  # it reads the end of its input and exits
            self._jobs = None
        elif self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0


def _plot_process(jobs: int) -> None:
    """The child of :meth:`PlotProcess.start`: import, read the result, draw, exit."""
    status = 1
    try:
        from partsim import plot

        with os.fdopen(jobs, "rb") as pipe:
            payload = pipe.read()
        if not payload:
            status = 0  # no result: nothing to draw
            return
        result, folder = pickle.loads(payload)
        names = plot.plot_names(result)
        count = max(1, min(plot_processes(), len(names)))
        # Deal the plots out slowest first, snaking, so the shares take about as long.
        snake = [*range(count), *reversed(range(count))]
        shares: list[list[str]] = [[] for _ in range(count)]
        for index, name in enumerate(names):
            shares[snake[index % len(snake)]].append(name)
        gc.freeze()  # the helpers' collections skip the heap they share with this process
        helpers = []
        for share in shares[1:]:
            pid = _fork()
            if pid == 0:
                helped = 1
                try:
                    plot.save_plots(result, folder, only=share)
                    helped = 0
                finally:
                    os._exit(helped)
            helpers.append(pid)
        plot.save_plots(result, folder, only=shares[0])
        failed = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in helpers]
        status = 1 if any(failed) else 0
    finally:
        os._exit(status)


def write_outputs(
    result, out_dir: str | Path, *, plots: bool = True, plotter: PlotProcess | None = None
) -> Path:
    """Write an :class:`~partsim.analysis.AnalysisResult` as ``summary.json``, CSVs, PNGs and
    ``report.html`` into ``out_dir``.

    With a ``plotter`` (see :class:`PlotProcess`) the PNGs are drawn there, while this
    process writes the other files; it is closed when the files are written."""

    def write(folder: Path) -> None:
        drawn = False
        try:
            if plots and plotter is not None:
                plotter.draw(result, folder)
            _write_tables(result, folder)
            if plots and plotter is not None:
                drawn = plotter.wait()
        finally:
            if plotter is not None:  # ended before the folder is removed on an error
                plotter.close()
        images: dict[str, bytes] = {}
        if plots and not drawn:
            from partsim.plot import save_plots

            save_plots(result, folder)
        if plots:
            for name in ANALYZE_FILES:
                if name.endswith(".png") and (folder / name).is_file():
                    images[name.removesuffix(".png")] = (folder / name).read_bytes()
        from partsim.report import render_html

        (folder / "report.html").write_text(render_html(result, images), encoding="utf-8")

    try:
        return write_directory(out_dir, write, ANALYZE_FILES)
    finally:
        if plotter is not None:  # also when write() never ran
            plotter.close()


def _write_tables(result, folder: Path) -> None:
    """``summary.json`` and the CSVs of an analysis."""
    (folder / "summary.json").write_text(to_json(result.summary), encoding="utf-8")
    write_csv(result.partitions, folder / "partitions.csv")
    write_csv(result.hot_keys, folder / "hot_keys.csv")
    if result.windows is not None:
        windows = result.windows.copy()
        whole = float(result.summary["windows"]["window_seconds"]).is_integer()
        # 2026-11-27T10:01:00Z (with .ffffff for windows of fractional seconds), as
        # strftime("%Y-%m-%dT%H:%M:%S[.%f]Z") writes it, ten times faster.
        starts = windows["window_start"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        text = np.datetime_as_string(starts.astype("datetime64[s]" if whole else "datetime64[us]"))
        windows["window_start"] = np.char.add(text, "Z")
        write_csv(windows, folder / "windows.csv")


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def _short(text: object, width: int = 32) -> str:
    text = "" if text is None else str(text)
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= width else text[: width - 1] + "…"


def _sized(summary: Mapping) -> bool:
    """Whether events have sizes (without, every command counts 1 byte per event)."""
    return summary.get("size_source", "none").startswith(("column", "key"))


def _bytes_from(summary: Mapping) -> str:
    """Where the bytes come from, as every command prints it: ``bytes: column size_bytes``,
    ``bytes: key + value_size`` or ``bytes: none (1 per event)``."""
    return f"bytes: {summary['size_source']}"


def _approx(summary: Mapping) -> str:
    """``"~"`` when the key counts come from sketches (estimates), else ``""``."""
    return "~" if summary.get("key_counts", {}).get("method") == "sketch" else ""


def rates_text(stats: Mapping) -> str:
    r"""The three rates of ``summary["windows"]`` in one line, named as everywhere else.

    >>> text = rates_text({"peak_partition_rate": 10.9, "peak_partition": 5,
    ...                    "mean_partition_rate": 0.8333, "topic_rate": 10.0,
    ...                    "peak_to_mean_partition_rate": 13.08})
    >>> print(*text.replace("; ", ", ").split(", "), sep="\n")
    peak partition rate 10.9 messages/s (partition 5)
    13.08× the mean partition rate 0.83 messages/s
    topic rate 10.0 messages/s
    """
    peak, mean, topic = (RATE_NAMES[name] for name in RATE_NAMES)
    return (
        f"{peak} {rate_text(stats['peak_partition_rate'])} (partition {stats['peak_partition']}), "
        f"{ratio_text(stats['peak_to_mean_partition_rate'])} the {mean} "
        f"{rate_text(stats['mean_partition_rate'])}; {topic} {rate_text(stats['topic_rate'])}"
    )


def format_summary(result, *, partitions_shown: int = 64) -> str:
    """The readable summary ``partsim analyze`` prints without ``--json`` or ``--out``."""
    s = result.summary
    noise = s["uniform_placement"]
    how = (
        f"simulated, {noise['trials']} trials"
        if noise["method"] == "simulated"
        else noise["method"]
    )
    lines = [
        f"{s['inputs']}: key {s['key']}, {s['partitioner']}, {s['partition_count']} partitions",
        f"events {s['events']:,} (keyed {s['keyed_events']:,}, null key {s['null_key_events']:,}"
        + (f", skipped {s['skipped_rows']:,} unparsable" if s["skipped_rows"] else "")
        + f"), distinct keys {_approx(s)}{s['distinct_keys']:,}; {_bytes_from(s)}",
        f"max/mean {ratio_text(s['max_mean_ratio'])}"
        + (f" (bytes {ratio_text(s['max_mean_ratio_bytes'])})" if _sized(s) else "")
        + "; best possible "
        f"{ratio_text(s['best_possible_max_mean_ratio'])}; random placement "
        f"{ratio_text(noise['mean'])} ({noise['p05']:.2f}-{ratio_text(noise['p95'])}, {how})",
        f"cv {s['cv']:.3f}  gini {s['gini']:.3f}  jain {s['jain']:.3f}  entropy {s['entropy']:.3f}",
        f"hottest partition {s['hottest_partition']}: {s['hottest_partition_share']:.1%} of events",
    ]
    if _approx(s):
        lines.append(f"sketched: {s['key_counts']['note']}")
    if "windows" in s:
        w = s["windows"]
        lines.append(
            f"windows of {w['window_seconds']:g}s: peak max/mean "
            f"{ratio_text(w['peak_window_max_mean_ratio'])} at {w['peak_window_start']}"
        )
        lines.append(f"rates: {rates_text(w)}")
    if "ordering" in s:
        o = s["ordering"]
        lines.append(
            f"ordering by {s['order_by']}: {o['ordering_preserved']:.1%} of "
            f"{o['entities_with_2_or_more_events']:,} entities with 2+ events keep their order; "
            f"{o['events_at_risk']:.1%} of their events are at risk "
            f"({o['unordered_by_spread_over_partitions']:,} spread over partitions, "
            f"{o['unordered_by_null_or_keyless_keys']:,} with null or keyless keys)"
        )
    lines += ["", s["verdict"], ""]
    frame = result.partitions
    rows = [["partition", "messages", "share", "× mean", "keys", "top key", "top key share"]]
    shown = (
        frame if len(frame) <= partitions_shown else frame.nlargest(partitions_shown, "messages")
    )
    for row in shown.itertuples():
        rows.append([
            str(row.partition), f"{row.messages:,}", f"{row.share:.1%}", f"{row.ratio_to_mean:.2f}",
            f"{row.distinct_keys:,}", _short(row.top_key), f"{row.top_key_share:.1%}",
        ])  # fmt: skip
    lines += _table(rows, {0, 1, 2, 3, 4, 6})
    if len(frame) > partitions_shown:
        lines.append(f"(the {partitions_shown} busiest of {len(frame)} partitions; --out for all)")
    if len(result.hot_keys):
        lines += ["", "hot keys:"]
        rows = [["key", "count", "share", "partition"]]
        for row in result.hot_keys.head(10).itertuples():
            rows.append(
                [_short(row.key, 48), f"{row.count:,}", f"{row.share:.2%}", str(row.partition)]
            )
        lines += _table(rows, {1, 2, 3})
    return "\n".join(lines) + "\n"


SWEEP_FILES = ("sweep.json", "sweep.csv", "recommendations.csv", "sweep_heatmap.png",
               "sweep_lines.png")  # fmt: skip
WHATIF_FILES = ("whatif.json", "partitions.csv", "moves.csv", "salting.csv",
                "whatif_partitions.png", "salting.png")  # fmt: skip


def write_sweep_outputs(result, out_dir: str | Path, *, plots: bool = True) -> Path:
    """``sweep.json``, ``sweep.csv`` (one row per design × partitioner × partition count),
    ``recommendations.csv`` and the heatmap and line plots."""

    def write(folder: Path) -> None:
        (folder / "sweep.json").write_text(
            to_json({**result.summary, "rows": result.table.to_dict("records")}), encoding="utf-8"
        )
        write_csv(result.table, folder / "sweep.csv")
        write_csv(result.recommendations, folder / "recommendations.csv")
        if plots:
            from partsim.plot import save_sweep_plots

            save_sweep_plots(result, folder)

    return write_directory(out_dir, write, SWEEP_FILES)


def write_whatif_outputs(result, out_dir: str | Path, *, plots: bool = True) -> Path:
    """``whatif.json``, ``partitions.csv`` (before/after), ``moves.csv`` (the keys that move),
    ``salting.csv`` (with --salt) and the plots."""

    def write(folder: Path) -> None:
        (folder / "whatif.json").write_text(to_json(result.summary), encoding="utf-8")
        write_csv(result.partitions, folder / "partitions.csv")
        write_csv(result.moves, folder / "moves.csv")
        if result.salting is not None:
            write_csv(result.salting, folder / "salting.csv")
        if plots:
            from partsim.plot import save_whatif_plots

            save_whatif_plots(result, folder)

    return write_directory(out_dir, write, WHATIF_FILES)


def _fraction(value: object) -> str:
    return (
        "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1%}"
    )


def format_sweep(result) -> str:
    """The readable table ``partsim sweep`` prints."""
    s = result.summary
    lines = [f"{s['inputs']}: {s['events']:,} events; {_bytes_from(s)}; max skew {s['max_skew']:g}"]
    rows = [["design", "partitioner", "N", "max/mean", "best", "hottest", "order kept",
             "at risk", "keys"]]  # fmt: skip
    for row in result.table.itertuples():
        rows.append([
            row.design, row.partitioner, str(row.partition_count), f"{row.max_mean_ratio:.2f}",
            f"{row.best_possible_max_mean_ratio:.2f}", f"{row.hottest_partition_share:.1%}",
            _fraction(row.ordering_preserved), _fraction(row.events_at_risk),
            f"{row.distinct_keys:,}",
        ])  # fmt: skip
    lines += _table(rows, {2, 3, 4, 5, 6, 7, 8})
    lines += ["", "recommendation:"]
    for row in result.recommendations.itertuples():
        lines.append(f"  {row.design} ({row.partitioner}): {row.advice}")
    return "\n".join(lines) + "\n"


def format_whatif(result) -> str:
    """The readable summary ``partsim whatif`` prints."""
    s = result.summary
    before, after = s["before"], s["after"]

    def config(c: dict) -> str:
        schema = f", schema id {c['schema_id']}" if c["schema_id"] is not None else ""
        key_format = f", key format {c['key_format']}" if c.get("key_format", "string") != (
            "string") else ""  # fmt: skip
        return f"{c['partitioner']}, {c['partition_count']} partitions{key_format}{schema}"

    lines = [
        f"{s['inputs']}: key {s['key']}, {s['events']:,} events, {s['distinct_keys']:,} keys; "
        f"{_bytes_from(s)}",
        f"before: {config(before)}",
        f"after:  {config(after)}",
        f"keys moved {s['keys_moved']:.1%} ({s['keys_moved_count']:,} of {s['keys_compared']:,}); "
        f"events moved {s['events_moved']:.1%} ({s['events_moved_count']:,})",
        f"max/mean {s['max_mean_ratio_before']:.2f} -> {s['max_mean_ratio_after']:.2f}",
    ]
    if s["keys_keyless_before_or_after"]:
        lines.append(f"{s['keys_keyless_before_or_after']:,} keys take a keyless path on one side "
                     "and are not counted as moved")  # fmt: skip
    if s.get("events_unrepresentable"):
        about = "about " if "keys_unrepresentable_interval" in s.get("key_counts", {}) else ""
        keys, events = s["keys_unrepresentable"], s["events_unrepresentable"]
        lines.append(f"{about}{keys:,} keys ({events:,} events) cannot be held by one side's "
                     "key schema and are left out")  # fmt: skip
    if s.get("key_change"):
        lines += ["", textwrap.fill(s["key_change"], width=100)]
    if len(result.moves):
        lines += ["", "heaviest keys that move:"]
        rows = [["key", "count", "from", "to"]]
        for row in result.moves.head(10).itertuples():
            rows.append([_short(row.key, 48), f"{row.count:,}", str(row.from_partition),
                         str(row.to_partition)])  # fmt: skip
        lines += _table(rows, {1, 2, 3})
    if result.salting is not None:
        lines += ["", f"salting (ordering by {s['order_by']}):"]
        rows = [["salt", "max/mean", "hottest", "order kept", "events at risk"]]
        for row in result.salting.itertuples():
            rows.append([str(row.salt), f"{row.max_mean_ratio:.2f}",
                         f"{row.hottest_partition_share:.1%}", _fraction(row.ordering_preserved),
                         _fraction(row.events_at_risk)])  # fmt: skip
        lines += _table(rows, {0, 1, 2, 3, 4})
    return "\n".join(lines) + "\n"


SIMULATE_FILES = ("simulation.json", "rates.csv", "lag.csv", "consumer_lag.csv", "consumers.csv",
                  "consumer_sweep.csv", "brokers.csv", "lag.png", "consumers.png",
                  "brokers.png")  # fmt: skip


def write_simulation_outputs(result, out_dir: str | Path, *, plots: bool = True) -> Path:
    """``simulation.json`` and CSVs (per-step rates and lag, consumers, the consumer sweep,
    brokers), with lag curves, consumer load bars and broker load as PNGs."""

    def write(folder: Path) -> None:
        (folder / "simulation.json").write_text(to_json(result.summary), encoding="utf-8")
        frames = (("rates", result.rates), ("lag", result.lag),
                  ("consumer_lag", result.consumer_lag))  # fmt: skip
        for name, frame in frames:
            frame = frame.copy()
            frame["time"] = frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            write_csv(frame, folder / f"{name}.csv")
        consumers = result.consumers.copy()
        consumers["partitions"] = [" ".join(map(str, parts)) for parts in consumers["partitions"]]
        write_csv(consumers, folder / "consumers.csv")
        write_csv(result.consumer_sweep, folder / "consumer_sweep.csv")
        if result.brokers is not None:
            write_csv(result.brokers, folder / "brokers.csv")
        if plots:
            from partsim.plot import save_simulation_plots

            save_simulation_plots(result, folder)

    return write_directory(out_dir, write, SIMULATE_FILES)


def format_simulation(result) -> str:
    """The readable summary ``partsim simulate`` prints."""
    s = result.summary
    capacity = s["consumer_capacity"]
    lines = [
        f"{s['inputs']}: key {s['key']}, {s['partitioner']}, {s['partition_count']} partitions, "
        f"{s['total_rate_messages_per_second']:,.0f} msg/s ({s['scale_factor']:.3g}× the sample)",
        f"{len(s['consumers'])} consumers ({s['assignor']}), {capacity['value']:,.0f} "
        f"{capacity['unit']} each; keyless records: {s['keyless_events']:,} "
        f"({s['keyless_client']}); {_bytes_from(s)}",
        f"max lag {s['max_lag_messages']:,.0f} messages, {s['max_lag_seconds']:,.1f} s; "
        f"drains {s['time_to_drain_seconds']:,.1f} s after the last arrival",
    ]
    if "step_widened" in s:
        widened = s["step_widened"]
        lines.append(f"step {widened['step_seconds']:g} s, not {widened['asked_seconds']:g} s: "
                     f"{widened['reason']}")  # fmt: skip
    if s["slo_met"] is not None:
        verdict = "met" if s["slo_met"] else "NOT met"
        lines.append(f"SLO max lag {s['max_lag_seconds_slo']:g} s: {verdict}")
        smallest = s.get("smallest_consumer_count", {})
        lines.append(
            f"smallest consumer count that meets it: {smallest['consumers']}"
            if smallest.get("consumers")
            else f"consumers: {smallest.get('reason', '')}"
        )
        parts = s.get("smallest_partition_count", {})
        lines.append(
            f"smallest partition count that meets it (one consumer each): {parts['partitions']}"
            if parts.get("partitions")
            else f"partitions: {parts.get('reason', '')}"
        )
    lines += ["", "consumer loads:"]
    rows = [["consumer", "partitions", "load", "max lag msgs", "max lag s"]]
    for row in s["consumers"]:
        rows.append([row["consumer"], _short(" ".join(map(str, row["partitions"])), 40),
                     f"{row['load_share']:.1%}", f"{row['max_lag_messages']:,.0f}",
                     f"{row['max_lag_seconds']:,.1f}"])  # fmt: skip
    lines += _table(rows, {2, 3, 4})
    if s.get("brokers"):
        # As brokers.png labels it: without sizes, the bytes are 1 per event.
        unit = "bytes/s" if _sized(s) else "bytes/s; no sizes: 1 byte per event"
        lines += ["", f"brokers ({unit}):"]
        rows = [["broker", "leaders", "in", "out"]]
        for row in s["brokers"]:
            rows.append([str(row["broker"]), str(row["leader_partitions"]),
                         f"{row['bytes_in']:,.0f}", f"{row['bytes_out']:,.0f}"])  # fmt: skip
        lines += _table(rows, {1, 2, 3})
    return "\n".join(lines) + "\n"
