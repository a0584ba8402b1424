"""A persistent store of remote variant scores, so that no paid call is ever made twice.

One SQLite file (WAL journal) under the cache directory. A *call* is one request for one variant under one
configuration (predictor, model version, scorer, exact track name, interval length); its outcome is either
`ok` with one score per gene in the response ('' for scorers without genes) and the strand of the track that
gave it, or a permanent error reason.
Each outcome is committed the moment it is stored, so a killed run loses at most the calls in flight.
Only one thread writes (the caller's); concurrent processes wait on SQLite's lock instead of failing.
"""

from __future__ import annotations

import functools
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from endobench.lib.io.errors import InputError

OK = "ok"
CACHE_FILE = "variant_scores.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    variant TEXT NOT NULL,
    predictor TEXT NOT NULL,
    model_version TEXT NOT NULL,
    scorer TEXT NOT NULL,
    track TEXT NOT NULL,
    interval_length INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    n_scores INTEGER NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length)
);
CREATE TABLE IF NOT EXISTS scores (
    variant TEXT NOT NULL,
    predictor TEXT NOT NULL,
    model_version TEXT NOT NULL,
    scorer TEXT NOT NULL,
    track TEXT NOT NULL,
    interval_length INTEGER NOT NULL,
    gene TEXT NOT NULL,
    score REAL,
    quantile_score REAL,
    strand TEXT NOT NULL DEFAULT '.',
    PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length, gene)
);
"""

_KEY_WHERE = "variant=? AND predictor=? AND model_version=? AND scorer=? AND track=? AND interval_length=?"


@dataclass(frozen=True)
class CallKey:
    """Everything that determines the response to one scoring request."""

    variant: str
    predictor: str
    model_version: str
    scorer: str
    track: str
    interval_length: int

    def as_row(self) -> tuple:
        return (self.variant, self.predictor, self.model_version, self.scorer, self.track, self.interval_length)


@dataclass(frozen=True)
class CachedCall:
    """A stored outcome: `ok` with scores by gene ('' when the scorer has no genes) and the strand of the track
    each came from ('.' for unstranded tracks), or a failure reason."""

    outcome: str
    detail: str = ""
    scores: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    strands: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def _nan_to_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def damaged_cache(path: Path, exc: sqlite3.DatabaseError) -> InputError:
    """A cache file SQLite cannot read (truncated, overwritten, not a database): what it is and what to do."""
    return InputError(path, f"the score cache is damaged or is not an SQLite database ({exc})",
                      f"Move it aside (mv {path} {path}.damaged) and run again: a new cache is built, asking the "
                      "service again only for the scores it lacks")


def _readable(method):
    """Turn SQLite's report of a damaged file (`DatabaseError`, never a busy `OperationalError`) into
    `damaged_cache`, so the user reads one line naming the cache file instead of an unexpected DatabaseError."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
                raise
            raise damaged_cache(self.path, exc) from exc

    return guarded


class ScoreCache:
    """Open (creating if needed) the cache file in `cache_dir`. Use as a context manager or call `close`."""

    @_readable
    def __init__(self, cache_dir: Path | str, *, filename: str = CACHE_FILE) -> None:
        self.path = Path(cache_dir) / filename
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so each stored call is its own transaction.
        self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a killed process; only a power cut can lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(scores)")}
        if "strand" not in columns:  # a cache written before tracks were chosen by strand
            try:
                self._db.execute("ALTER TABLE scores ADD COLUMN strand TEXT NOT NULL DEFAULT '.'")
            except sqlite3.OperationalError as exc:  # another process added it first
                if "duplicate column" not in str(exc):
                    raise

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @_readable
    def lookup(self, keys: Iterable[CallKey]) -> dict[CallKey, CachedCall]:
        """Stored outcomes for those of `keys` that have one."""
        found: dict[CallKey, CachedCall] = {}
        for key in dict.fromkeys(keys):
            row = self._db.execute(f"SELECT outcome, detail FROM calls WHERE {_KEY_WHERE}", key.as_row()).fetchone()
            if row is None:
                continue
            outcome, detail = row
            scores, strands = {}, {}
            if outcome == OK:
                for gene, score, quantile, strand in self._db.execute(
                    f"SELECT gene, score, quantile_score, strand FROM scores WHERE {_KEY_WHERE}", key.as_row()
                ):
                    scores[gene] = (_none_to_nan(score), _none_to_nan(quantile))
                    strands[gene] = strand
            found[key] = CachedCall(outcome=outcome, detail=detail, scores=scores, strands=strands)
        return found

    def store_scores(self, key: CallKey, scores: Mapping[str, tuple[float, float]],
                     strands: Mapping[str, str] | None = None) -> None:
        """Record a successful call with its scores by gene (and their tracks' strands), committed before returning."""
        self._store(key, OK, "", scores, strands or {})

    def store_failure(self, key: CallKey, reason: str, detail: str = "") -> None:
        """Record a call that failed permanently (retrying it would fail the same way), committed before returning."""
        if reason == OK:
            raise ValueError("a failure reason cannot be 'ok'")
        self._store(key, reason, detail, {}, {})

    def forget_failures(self) -> int:
        """Drop stored permanent failures so the next run calls for them again; return how many were dropped."""
        cursor = self._db.execute("DELETE FROM calls WHERE outcome != ?", (OK,))
        return cursor.rowcount

    def count_calls(self, *, outcome: str | None = None) -> int:
        if outcome is None:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM calls WHERE outcome=?", (outcome,)).fetchone()[0]

    def stored_variants(self) -> set[str]:
        """Variants with any stored outcome (for any configuration)."""
        return {row[0] for row in self._db.execute("SELECT DISTINCT variant FROM calls")}

    @_readable
    def _store(self, key: CallKey, outcome: str, detail: str, scores: Mapping[str, tuple[float, float]],
               strands: Mapping[str, str]) -> None:
        row = key.as_row()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(f"DELETE FROM scores WHERE {_KEY_WHERE}", row)
            self._db.executemany(
                "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, gene, _nan_to_none(s), _nan_to_none(q), strands.get(gene, "."))
                 for gene, (s, q) in scores.items()],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, outcome, detail, len(scores), time.time()),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
