"""What `endobench demo` prints while it works, instead of Dagster's line per event: a line per step of the graph,
and for an asset run once per partition (the predictions, one run per chromosome) one line that counts them.

On a terminal the current line is rewritten in place as runs start and finish; in a log (a pipe, CI) a step's line
is written when it finishes, and the counting line every `every_seconds` and when its last partition is done:
`variant_effect_predictions v8: 12/23 chromosomes, 4,210 variants, 18 s`. Every event still goes to the Dagster
instance, so the UI shows each run's own log.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TextIO

import dagster as dg

CLEAR_LINE = "\r\033[K"


class DemoProgress:
    """Told what a batch of runs holds (`planned`), then each run as it starts and finishes."""

    def __init__(self, out: TextIO | None = None, *, every_seconds: float = 10.0, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._out = out or sys.stdout
        self._live = self._out.isatty() if live is None else live
        self._every = every_seconds
        self._clock = clock
        self._partitions: Counter[dg.AssetKey] = Counter()
        self._stage: tuple | None = None
        self._done = 0
        self._variants = 0
        self._started = 0.0
        self._last_line = 0.0
        self._shown = 0  # runs of the stage its last line counted
        self._open = False  # a live line without its newline yet

    def planned(self, requested: Iterable[tuple[dg.AssetKey, str | None]]) -> None:
        """The asset partitions the next runs materialise: an asset requested in several partitions gets a counter."""
        self._partitions = Counter(key for key, _ in requested)

    def started(self, keys: Iterable[dg.AssetKey], partition: str | None) -> None:
        keys = tuple(sorted(keys, key=lambda key: key.to_user_string()))
        stage = (keys, self._release(partition)) if self._counted(keys) else (keys, partition)
        if stage != self._stage:
            self._finish_stage()
            self._stage, self._done, self._variants, self._started = stage, 0, 0, self._clock()
            self._last_line, self._shown = self._started, 0
        if self._live:
            self._write(self._line(running=True), end="")

    def finished(self, keys: Iterable[dg.AssetKey], partition: str | None, n_variants: int | None) -> None:
        self._done += 1
        self._variants += n_variants or 0
        keys = tuple(keys)
        if not self._counted(keys):
            self._write(self._line(), end="\n")
            self._stage = None
            return
        complete = self._done >= max(self._partitions[key] for key in keys)
        now = self._clock()
        if self._live or complete or now - self._last_line >= self._every:
            self._last_line = now
            self._write(self._line(), end="\n" if complete else "" if self._live else "\n")
        if complete:
            self._stage = None

    def close(self) -> None:
        """End a line left open (a run that failed, an interrupt), so what follows starts on its own line."""
        if self._open:
            self._out.write("\n")
            self._out.flush()
            self._open = False

    def _finish_stage(self) -> None:
        """A stage left before its last partition (the next runs are of another step): its count as it stands."""
        if self._stage is not None and (self._open or self._done != self._shown):
            self._write(self._line(), end="\n")
        self._stage = None

    def _counted(self, keys: tuple[dg.AssetKey, ...]) -> bool:
        return any(self._partitions[key] > 1 for key in keys)

    def _line(self, running: bool = False) -> str:
        keys, partition = self._stage
        names = ", ".join(key.to_user_string() for key in keys)
        where = f" {partition}" if partition else ""
        seconds = f"{self._clock() - self._started:.0f} s"
        if self._counted(keys):
            total = max(self._partitions[key] for key in keys)
            return (f"  {names}{where}: {self._done}/{total} chromosomes, {self._variants:,} variants, {seconds}")
        if running:
            return f"  {names}{where}: running"
        variants = f"{self._variants:,} variants, " if self._variants else ""
        return f"  {names}{where}: {variants}{seconds}"

    def _write(self, text: str, end: str) -> None:
        self._shown = self._done
        if self._live:
            self._out.write(CLEAR_LINE + text + end)
        else:
            self._out.write(text + end)
        self._out.flush()
        self._open = self._live and end == ""

    @staticmethod
    def _release(partition: str | None) -> str | None:
        """The release of a release x chromosome partition key (`chr7|v8`), the key itself otherwise."""
        return partition.split("|")[-1] if partition and "|" in partition else partition
