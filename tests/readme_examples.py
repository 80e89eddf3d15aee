"""The README's console examples: find them, run them, compare them, and refresh them.

A console example is a `````console`` block in README.md. In it, a line starting with ``$ ``
is a command (continued on the next lines while a line ends with ``\\``); the lines after it,
up to the next command or the end of the block, are what the command prints: stdout and
stderr together, as a terminal shows them.

**Excerpts.** An output may contain one line that is exactly ``...``: it stands for lines
left out. The lines above it must be the first lines of the real output and the lines below
it its last lines, each exactly. Without ``...``, every line must match. Trailing spaces and
trailing blank lines are ignored.

**Which examples run.** Every block runs unless the HTML comment on the line just above it
says otherwise:

- ``<!-- example: live -->``: the commands read a live topic. They run against a real
  broker (the test session's, or ``PARTSIM_BOOTSTRAP``) on topics that
  :class:`LiveTopics` creates: ``orders`` (``sample_data/orders.csv`` produced by two
  clients, see :func:`produce_orders`) and an empty ``orders-archive``. In the command,
  ``localhost:9092`` becomes the broker's address and each ``--topic NAME`` gets a unique
  prefix; in the output, both are turned back, so the README shows what a reader would see.
- ``<!-- example: not run: REASON -->``: the block is shown but not run (a fault that a
  test elsewhere injects, say); REASON must say where it is checked.

A block that runs may only read inputs that ship in ``sample_data/`` (or stdin); the
commands of a block run in turn in one fresh directory where ``sample_data/`` is reachable,
so a later command can read what an earlier one wrote.

**Refreshing.** When an output changes on purpose, rewrite the README's output blocks from
the real commands (live blocks need a broker: ``PARTSIM_BOOTSTRAP``, or Apache Kafka is
started here as the tests start it)::

    python -m tests.readme_examples --update          # rewrites README.md in place
    python -m tests.readme_examples                   # only reports the differences
    python -m tests.readme_examples --update --no-live

An excerpt keeps its shape (as many first and last lines as before). The prose around the
examples is checked by ``tests/test_readme.py``; fix it by hand where that test says so.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import difflib
import os
import re
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SAMPLES = ROOT / "sample_data"
EXCERPT = "..."
#: The address and topic names the README's live examples use.
README_BOOTSTRAP = "localhost:9092"
_MARK = re.compile(r"^<!-- example: (live|not run: (?P<reason>.+?)) -->$")
_BLOCK = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)


@dataclass
class Command:
    """One ``$ `` command of an example and the output the README shows for it."""

    text: str  # as typed, continuation lines included (without the "$ ")
    expected: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        """The command on one line, as the shell reads it."""
        return re.sub(r"\\\n\s*", "", self.text)


@dataclass
class Example:
    """A console block of the README."""

    first_line: int  # 1-based line number of its first command
    mode: str  # "run", "live" or "skip"
    reason: str
    commands: list[Command]
    span: tuple[int, int]  # character offsets of the block's body in the README

    @property
    def name(self) -> str:
        words = self.commands[0].line.split()
        return f"line {self.first_line}: {' '.join(words[:3])}"


def examples(text: str | None = None) -> list[Example]:
    """Every console block of the README that holds a ``$ partsim`` command."""
    text = README.read_text() if text is None else text
    found = []
    for block in _BLOCK.finditer(text):
        before = text[: block.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        mark = _MARK.match(before)
        mode, reason = "run", ""
        if mark:
            mode = "live" if mark.group(1) == "live" else "skip"
            reason = mark.group("reason") or ""
        commands: list[Command] = []
        continued = False
        for line in block.group(1).splitlines():
            if continued:
                commands[-1].text += "\n" + line
            elif line.startswith("$ "):
                commands.append(Command(line[2:]))
            elif commands:
                commands[-1].expected.append(line)
            continued = bool(commands) and line.endswith("\\") and not commands[-1].expected
        if not any(re.search(r"(^|\|\s*)partsim\b", c.line) for c in commands):
            continue
        for command in commands:
            command.expected = _trim(command.expected)
        first = text.count("\n", 0, block.start(1)) + 1
        found.append(Example(first, mode, reason, commands, (block.start(1), block.end(1))))
    return found


def _trim(lines: list[str]) -> list[str]:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return lines


# ------------------------------------------------------------------------ comparing
def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """Why ``expected`` (the README's lines, maybe an excerpt) does not show ``actual``;
    None when it does."""
    actual = _trim(actual)
    if expected.count(EXCERPT) > 1:
        return f"more than one {EXCERPT!r} line in an output"
    if EXCERPT in expected:
        cut = expected.index(EXCERPT)
        head, tail = expected[:cut], expected[cut + 1 :]
        if len(head) + len(tail) > len(actual):
            return _diff(expected, actual)
        if actual[: len(head)] == head and actual[len(actual) - len(tail) :] == tail:
            return None
        return _diff(expected, head + [EXCERPT] + (actual[-len(tail) :] if tail else []))
    return None if expected == actual else _diff(expected, actual)


def _diff(expected: list[str], actual: list[str]) -> str:
    lines = difflib.unified_diff(expected, actual, "README.md", "real output", lineterm="")
    return "\n".join(lines)


def refreshed(expected: list[str], actual: list[str]) -> list[str]:
    """The README lines that show ``actual`` in the shape of ``expected`` (an excerpt keeps
    as many first and last lines as before)."""
    actual = _trim(actual)
    if EXCERPT not in expected:
        return actual
    cut = expected.index(EXCERPT)
    head, tail = cut, len(expected) - cut - 1
    if head + tail >= len(actual):
        return actual
    return actual[:head] + [EXCERPT] + (actual[len(actual) - tail :] if tail else [])


# ------------------------------------------------------------------------- running
def run_example(
    example: Example, workdir: Path, live: LiveTopics | None = None, timeout: float = 300
) -> list[list[str]]:
    """Run the example's commands in turn in ``workdir``; each one's output lines."""
    link = workdir / "sample_data"
    if not link.exists():
        link.symlink_to(SAMPLES, target_is_directory=True)
    environment = {**os.environ, "PARTSIM_PYTHON": sys.executable, "COLUMNS": "100"}
    environment.pop("PARTSIM_KERNELS", None)
    outputs = []
    for command in example.commands:
        line = live.command(command.line) if live else command.line
        script = f'partsim() {{ "$PARTSIM_PYTHON" -m partsim "$@"; }}\n{line}'
        done = subprocess.run(
            ["bash", "-c", script], cwd=workdir, env=environment, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=timeout,
        )  # fmt: skip
        output = done.stdout
        if live:
            output = live.output(output)
        lines = output.splitlines()
        if done.returncode != 0 and not any(line.startswith("Error:") for line in lines):
            raise AssertionError(f"`{command.line}` exited {done.returncode}:\n{output}")
        outputs.append(lines)
    return outputs


# ------------------------------------------------------------------ the live topics
def produce_orders(bootstrap: str, topic: str) -> dict[str, int]:
    """``sample_data/orders.csv`` as a topic written by two producers, in the file's order.

    Every keyed order (an empty ``customer_id`` is skipped) becomes a record keyed by its
    customer, with the order's CSV line as its value and its ``ts`` as its timestamp. In
    each run of 1,000 orders, three orders in four (all but every fourth) are produced by a
    confluent-kafka producer with ``partitioner=murmur2_random`` (where Java's producer puts
    a key), then the rest by one with librdkafka's default (``consistent_random``, CRC32).
    Each producer is flushed before the other starts, so every partition's order, and with
    it which records are a partition's most recent, is the same on every run. Returns the
    number of records each producer wrote."""
    from confluent_kafka import Producer

    with (SAMPLES / "orders.csv").open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["customer_id"]]
    producers = {
        name: Producer({"bootstrap.servers": bootstrap, "partitioner": name, "linger.ms": 5})
        for name in ("murmur2_random", "consistent_random")
    }
    written = dict.fromkeys(producers, 0)
    errors: list[str] = []

    def report(error: object, _message: object) -> None:
        if error is not None:
            errors.append(str(error))

    for first in range(0, len(rows), 1000):
        chunk = list(enumerate(rows[first : first + 1000], start=first))
        for name, producer in producers.items():
            for index, row in chunk:
                if (index % 4 == 3) != (name == "consistent_random"):
                    continue
                moment = datetime.fromisoformat(row["ts"].replace("Z", "+00:00"))
                value = ",".join(row.values()).encode()
                producer.produce(topic, key=row["customer_id"].encode(), value=value,
                                 timestamp=round(moment.timestamp() * 1000),
                                 on_delivery=report)  # fmt: skip
                written[name] += 1
            if producer.flush(60) or errors:
                raise RuntimeError(f"producing to {topic} failed: {errors[:3]}")
    return written


def create_topics(bootstrap: str, prefix: str = "") -> dict[str, int]:
    """Create ``orders`` (12 partitions, filled by :func:`produce_orders`) and an empty
    ``orders-archive`` (a name for the "similar topics" example), each name after
    ``prefix``; the records each producer wrote."""
    from tests import broker

    broker.create_topics(bootstrap, {prefix + "orders": 12, prefix + "orders-archive": 12})
    return produce_orders(bootstrap, prefix + "orders")


class LiveTopics:
    """The topics of the README's live examples on a real broker, under a unique prefix."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = f"readme{uuid.uuid4().hex[:12]}-"
        self.written: dict[str, int] = {}

    def create(self) -> LiveTopics:
        self.written = create_topics(self.bootstrap, self.prefix)
        return self

    def delete(self) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        names = [self.prefix + "orders", self.prefix + "orders-archive"]
        for future in admin.delete_topics(names, operation_timeout=10).values():
            with contextlib.suppress(Exception):  # best effort: the broker may be gone
                future.result(timeout=15)

    def command(self, line: str) -> str:
        line = line.replace(README_BOOTSTRAP, self.bootstrap)
        return re.sub(r"--topic (\S+)", lambda m: f"--topic {self.prefix}{m.group(1)}", line)

    def output(self, text: str) -> str:
        return text.replace(self.bootstrap, README_BOOTSTRAP).replace(self.prefix, "")


# --------------------------------------------------------------------- refreshing
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite README.md's outputs")
    parser.add_argument("--no-live", action="store_true", help="leave the live examples alone")
    args = parser.parse_args()
    text = README.read_text()
    found = [
        e for e in examples(text) if e.mode == "run" or (e.mode == "live" and not args.no_live)
    ]
    live = process = None
    if any(example.mode == "live" for example in found):
        from tests import broker

        bootstrap = os.environ.get("PARTSIM_BOOTSTRAP", "").strip()
        if not bootstrap:  # Apache Kafka, as the test session starts it
            process = broker.start_kafka(Path(tempfile.mkdtemp(prefix="partsim-readme-kafka-")))
            bootstrap = process.bootstrap
        live = LiveTopics(bootstrap).create()
    replacements = []
    differences = 0
    try:
        for example in found:
            with tempfile.TemporaryDirectory() as work:
                outputs = run_example(example, Path(work), live if example.mode == "live" else None)
            body = []
            for command, actual in zip(example.commands, outputs, strict=True):
                problem = mismatch(command.expected, actual)
                if problem:
                    differences += 1
                    print(f"README.md {example.name}: `{command.line}` differs\n{problem}\n")
                body += ["$ " + command.text.split("\n")[0], *command.text.split("\n")[1:]]
                body += refreshed(command.expected, actual)
            replacements.append((example.span, "\n".join(body) + "\n"))
    finally:
        if live:
            live.delete()
        if process is not None:
            process.stop()
    if args.update and differences:
        for (start, end), body in sorted(replacements, reverse=True):
            text = text[:start] + body + text[end:]
        README.write_text(text)
        print(f"rewrote {differences} outputs in README.md; now run pytest tests/test_readme.py")
    elif not differences:
        print(f"all {sum(len(e.commands) for e in found)} commands show their real output")
    sys.exit(1 if differences and not args.update else 0)


if __name__ == "__main__":
    main()
