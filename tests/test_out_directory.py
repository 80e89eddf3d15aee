"""``--out`` and ``sample -o``: partsim writes where it is told, never removes a file it did
not write, gives the modes the umask gives, and names a place it cannot write to in one line.

Every test runs the real CLI in a child process. "Cannot write" is made real even as root:
the child drops the capability that lets root write anywhere (see tests/child.py).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from partsim.outputs import MANIFEST
from tests.child import one_error, run

ROOT = Path(__file__).resolve().parents[1]
ORDERS = ROOT / "sample_data" / "orders.csv"
ANALYZE = ["analyze", str(ORDERS), "--key", "customer_id", "-p", "12"]
#: One run of each command that has --out, without its --out.
COMMANDS = {
    "analyze": ANALYZE,
    "sweep": ["sweep", str(ORDERS), "-p", "6,12", "--design", "c=customer_id"],
    "whatif": ["whatif", str(ORDERS), "--key", "customer_id", "--from-partitions", "12",
               "--to-partitions", "16"],
    "simulate": ["simulate", str(ORDERS), "--key", "customer_id", "-p", "12", "--timestamp",
                 "ts", "--consumer-capacity", "5"],
}  # fmt: skip


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_a_stale_file_is_removed_only_when_partsim_wrote_it(tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = run(*ANALYZE, "--timestamp", "ts", "--out", str(out))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / MANIFEST).read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {MANIFEST}
    assert "windows.csv" in manifest["files"]
    (out / "notes.txt").write_text("mine")
    # Without --timestamp the run writes no windows.csv: the stale one (partsim's, unchanged)
    # goes, so the report never mixes two runs; the user's notes stay.
    done = run(*ANALYZE, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert not (out / "windows.csv").exists() and not (out / "heatmap.png").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert "windows.csv" not in json.loads((out / MANIFEST).read_text())["files"]


def test_a_file_partsim_did_not_write_is_never_removed(tmp_path: Path) -> None:
    # 1. A directory without a manifest (the user's own, or an older partsim's report).
    out = tmp_path / "mine"
    out.mkdir()
    (out / "windows.csv").write_text("the user's own windows.csv\n")
    (out / "heatmap.png").write_bytes(b"the user's picture")
    done = run(*ANALYZE, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "windows.csv").read_text() == "the user's own windows.csv\n"
    assert (out / "heatmap.png").read_bytes() == b"the user's picture"
    # 2. Listed in the manifest, but changed since partsim wrote it.
    out = tmp_path / "edited"
    assert run(*ANALYZE, "--timestamp", "ts", "--out", str(out)).returncode == 0
    with (out / "windows.csv").open("a") as handle:
        handle.write("a row the user added\n")
    assert run(*ANALYZE, "--out", str(out)).returncode == 0
    assert (out / "windows.csv").read_text().endswith("a row the user added\n")
    # 3. A forged manifest cannot name anything outside the fixed file names.
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    forged = {"files": {"../victim.txt": "x", "summary.json": "y"}}
    (out / MANIFEST).write_text(json.dumps(forged))
    assert run(*ANALYZE, "--out", str(out)).returncode == 0
    assert victim.read_text() == "keep"
    # 4. A symbolic link named like a stale file is not followed.
    out = tmp_path / "linked"
    assert run(*ANALYZE, "--timestamp", "ts", "--out", str(out)).returncode == 0
    (out / "windows.csv").unlink()
    (out / "windows.csv").symlink_to(victim)
    assert run(*ANALYZE, "--out", str(out)).returncode == 0
    assert victim.read_text() == "keep" and (out / "windows.csv").is_symlink()


def test_a_symlinked_out_is_refused_and_nothing_elsewhere_changes(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "windows.csv").write_text("not partsim's\n")
    link = tmp_path / "report"
    link.symlink_to(elsewhere)
    before = _files(elsewhere)
    for command, args in COMMANDS.items():
        done = run(*args, "--out", str(link))
        one_error(done, 2, f"--out {str(link)!r} is a symbolic link", "give the directory")
        assert _files(elsewhere) == before, command
    assert not [p for p in tmp_path.iterdir() if ".partsim-" in p.name]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_out_gets_the_modes_of_a_plain_mkdir_and_open(umask: int, tmp_path: Path) -> None:
    out = tmp_path / "share" / "report"
    done = run(*ANALYZE, "--timestamp", "ts", "--out", str(out), umask=umask)
    assert done.returncode == 0, done.stderr
    for folder in (out, out.parent):
        assert _mode(folder) == 0o777 & ~umask, oct(_mode(folder))
    for path in out.iterdir():
        assert _mode(path) == 0o666 & ~umask, (path.name, oct(_mode(path)))
    # into an existing directory: the files get the same modes, the directory keeps its own
    os.chmod(out, 0o750)
    done = run(*ANALYZE, "--out", str(out), umask=umask)
    assert done.returncode == 0, done.stderr
    assert _mode(out) == 0o750
    assert {_mode(path) for path in out.iterdir()} == {0o666 & ~umask}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_directory_the_user_cannot_write_to_is_one_line(command: str, tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for out in (locked / "out", locked / "deeper" / "out"):
            done = run(*COMMANDS[command], "--out", str(out), unprivileged=True)
            one_error(done, 1, f"cannot write --out {str(out)!r}", "Permission denied",
                      str(locked))  # fmt: skip
        # an existing directory that is itself read-only
        done = run(*COMMANDS[command], "--out", str(locked), unprivileged=True)
        one_error(done, 1, f"cannot write --out {str(locked)!r}", "Permission denied")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_an_existing_out_in_a_read_only_parent_is_written(tmp_path: Path) -> None:
    """The files are staged inside an existing --out, so its parent need not be writable."""
    parent = tmp_path / "share"
    out = parent / "report"
    out.mkdir(parents=True)
    parent.chmod(0o555)
    try:
        done = run(*ANALYZE, "--out", str(out), unprivileged=True)
        assert done.returncode == 0, done.stderr
        assert (out / "report.html").is_file()
        assert not [p for p in out.iterdir() if ".partsim-" in p.name and p.is_dir()]
    finally:
        parent.chmod(0o755)


def test_sample_o_in_a_directory_the_user_cannot_write_to(tmp_path: Path) -> None:
    """Checked before any broker is asked (none listens here): one line naming the file."""
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for target in (locked / "s.parquet", locked / "sub" / "s.csv"):
            done = run("sample", "--bootstrap", "127.0.0.1:9", "--topic", "orders", "-o",
                       str(target), unprivileged=True)  # fmt: skip
            one_error(done, 1, f"cannot write -o {str(target)!r}", "Permission denied")
    finally:
        locked.chmod(0o755)
    folder = tmp_path / "named.parquet"
    folder.mkdir()
    done = run("sample", "--bootstrap", "127.0.0.1:9", "--topic", "orders", "-o", str(folder))
    one_error(done, 2, "is a directory")


def test_sample_files_get_the_mode_of_a_plain_open(tmp_path: Path) -> None:
    code = (
        "import datetime as dt, sys\n"
        "import pyarrow as pa\n"
        "from partsim.live import SAMPLE_SCHEMA, LiveSample, write_sample\n"
        "table = pa.table({'key': pa.array([b'k'], pa.binary()), 'partition': pa.array([0],"
        " pa.int32()), 'offset': pa.array([0], pa.int64()), 'timestamp': pa.array("
        "[dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)], pa.timestamp('ms', tz='UTC')),"
        " 'key_size': pa.array([1], pa.int32()), 'value_size': pa.array([1], pa.int32()),"
        " 'headers': pa.array(['[]'])}).cast(SAMPLE_SCHEMA)\n"
        "sample = LiveSample(table=table, topic='t', partition_count=1, partial=False,"
        " reason=None, stopped_by='end', sampled_at='', group_id=None, settings={},"
        " request={})\n"
        "for name in sys.argv[1:]:\n"
        "    write_sample(sample, name)\n"
    )
    names = [tmp_path / "s.parquet", tmp_path / "s.csv"]
    done = run(*map(str, names), code=code, umask=0o002)
    assert done.returncode == 0, done.stderr
    for path in [*names, tmp_path / "s.csv.meta.json"]:
        assert _mode(path) == 0o664, (path.name, oct(_mode(path)))
