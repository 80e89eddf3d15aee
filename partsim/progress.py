"""A progress line on stderr for long runs: rows, rate and ETA. Silent when not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``with Progress(enabled=True, total_bytes=n) as bar: bar.update(rows, bytes_read)``.

    Draws at most five times a second, only when ``stream`` is a TTY, and clears its line
    at the end so that the next message starts clean.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        total_bytes: int | None = None,
        stream: TextIO | None = None,
        label: str = "reading",
        unit: str = "rows",
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(enabled) and getattr(self.stream, "isatty", lambda: False)()
        self.total_bytes = total_bytes
        self.label = label
        self.unit = unit
        self.rows = 0
        self.started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def __enter__(self) -> Progress:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def update(self, rows: int, bytes_read: int | None = None) -> None:
        self.rows += rows
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._drawn < 0.2:
            return
        self._drawn = now
        elapsed = max(now - self.started, 1e-9)
        line = f"{self.label}: {self.rows:,} {self.unit}, {self.rows / elapsed:,.0f} {self.unit}/s"
        if self.total_bytes and bytes_read:
            done = min(bytes_read / self.total_bytes, 1.0)
            remaining = elapsed * (1 - done) / done if done > 0 else 0
            filled = int(done * 20)
            line = f"[{'#' * filled}{'.' * (20 - filled)}] {done:4.0%} " + line
            line += f", ETA {remaining:,.0f}s"
        self._width = max(self._width, len(line))
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
