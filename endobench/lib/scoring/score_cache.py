"""A persistent store of remote variant scores, so that no paid call is ever made twice.

One SQLite file (WAL journal) under the cache directory. A *call* is one request for one variant to one server
under one configuration (predictor, model version, scorer, exact track name, interval length) from one source (the
live model, `live`, or the precomputed AlphaGenome Atlas, `atlas`); its outcome is either `ok` with one score per gene
in the response ('' for scorers without genes) and the strand of the track that gave it, or a permanent error reason.
The server and the source are part of the key: scores a loopback stand-in answered are never served for the public
endpoint, nor the reverse, and a score keeps the source it came from. An answer filtered to some genes (the Atlas
takes a gene filter) records which genes were asked (`CachedCall.asked`), so that a gene it was not asked about is a
question still open, not a gene the interval lacks.
Each outcome is committed the moment it is stored, so a killed run loses at most the calls in flight.
Only one thread writes (the caller's); concurrent processes wait on SQLite's lock instead of failing.

Caches written by an earlier endobench are migrated when opened, keeping every row: columns they lack are added with
the value their rows had implicitly (every earlier score came from the live model; a cache written before the server
was recorded gets the server `UNBOUND` (''), which no lookup asks for, so those rows are kept but never served).
`unbound_calls()` counts them; if you know which server they came from, `adopt_unbound(server)` binds them to it.

The file also keeps, per server and service (`live`, `atlas`: two quotas), the call rate a run learned from its quota
(`learned_rate`), so that a dry run can say how long the next run takes.
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
UNBOUND = ""  # the server of rows written before the cache recorded servers: matched by no lookup
LIVE = "live"  # the live model computed the score (every row of a cache older than the Atlas)
ATLAS = "atlas"  # the AlphaGenome Atlas held it precomputed

_KEY_COLUMNS = "variant, predictor, model_version, scorer, track, interval_length, server, source"
_CALLS = f"""CREATE TABLE IF NOT EXISTS calls (
    variant TEXT NOT NULL,
    predictor TEXT NOT NULL,
    model_version TEXT NOT NULL,
    scorer TEXT NOT NULL,
    track TEXT NOT NULL,
    interval_length INTEGER NOT NULL,
    server TEXT NOT NULL,
    source TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    n_scores INTEGER NOT NULL,
    stored_at REAL NOT NULL,
    gene_filter TEXT NOT NULL,
    PRIMARY KEY ({_KEY_COLUMNS})
)"""
_SCORES = f"""CREATE TABLE IF NOT EXISTS scores (
    variant TEXT NOT NULL,
    predictor TEXT NOT NULL,
    model_version TEXT NOT NULL,
    scorer TEXT NOT NULL,
    track TEXT NOT NULL,
    interval_length INTEGER NOT NULL,
    server TEXT NOT NULL,
    source TEXT NOT NULL,
    gene TEXT NOT NULL,
    score REAL,
    quantile_score REAL,
    strand TEXT NOT NULL DEFAULT '.',
    PRIMARY KEY ({_KEY_COLUMNS}, gene)
)"""
_RATES = """CREATE TABLE IF NOT EXISTS learned_rates (
    server TEXT NOT NULL,
    service TEXT NOT NULL,
    per_minute REAL NOT NULL,
    learned_at REAL NOT NULL,
    PRIMARY KEY (server, service)
)"""
# What a column missing from an earlier cache held for every one of its rows.
_IMPLIED = {"server": repr(UNBOUND), "source": repr(LIVE), "strand": "'.'", "gene_filter": "''", "service": repr(LIVE)}
_TABLES = {"calls": _CALLS, "scores": _SCORES, "learned_rates": _RATES}

_KEY_WHERE = " AND ".join(f"{c}=?" for c in _KEY_COLUMNS.split(", "))


@dataclass(frozen=True)
class CallKey:
    """Everything that determines the response to one scoring request, and the server that gave it."""

    variant: str
    predictor: str
    model_version: str
    scorer: str
    track: str
    interval_length: int
    server: str
    source: str = LIVE

    def as_row(self) -> tuple:
        return (self.variant, self.predictor, self.model_version, self.scorer, self.track, self.interval_length,
                self.server, self.source)


@dataclass(frozen=True)
class CachedCall:
    """A stored outcome: `ok` with scores by gene ('' when the scorer has no genes) and the strand of the track
    each came from ('.' for unstranded tracks), or a failure reason; `source` is where it came from, `asked` the genes
    a gene-filtered answer was asked about (None: the answer holds every gene of the interval)."""

    outcome: str
    detail: str = ""
    scores: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    strands: Mapping[str, str] = field(default_factory=dict)
    source: str = LIVE
    asked: frozenset[str] | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    def answers(self, genes: Iterable[str]) -> bool:
        """Whether this outcome settles a question about `genes`: a failure or a complete answer always does; a
        gene-filtered answer only for the genes it was asked about."""
        return not self.ok or self.asked is None or set(genes) <= self.asked


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
        self._migrate()
        for table in (_CALLS, _SCORES, _RATES):
            self._db.execute(table)

    def _migrate(self) -> None:
        """Bring a cache written by an earlier endobench to the current schema, keeping every row (see the module
        docstring for the values the new columns take)."""
        if not self._outdated():
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for table in self._outdated():  # another process may have migrated it while this one waited
                old = self._columns(table)
                wanted = [line.split()[0] for line in _TABLES[table].splitlines()[1:]
                          if line.strip() and not line.strip().startswith(("PRIMARY", ")"))]
                values = ", ".join(column if column in old else _IMPLIED[column] for column in wanted)
                self._db.execute(f"ALTER TABLE {table} RENAME TO {table}_before")
                self._db.execute(_TABLES[table])
                self._db.execute(f"INSERT INTO {table} ({', '.join(wanted)}) SELECT {values} FROM {table}_before")
                self._db.execute(f"DROP TABLE {table}_before")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _outdated(self) -> list[str]:
        """The tables of an earlier schema: present, but without a column the current one has."""
        current = {"calls": {"server", "source", "gene_filter"}, "scores": {"server", "source", "strand"},
                   "learned_rates": {"service"}}
        return [t for t, columns in current.items() if (have := self._columns(t)) and not columns <= have]

    def _columns(self, table: str) -> set[str]:
        return {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}

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
            row = self._db.execute(f"SELECT outcome, detail, gene_filter FROM calls WHERE {_KEY_WHERE}",
                                   key.as_row()).fetchone()
            if row is None:
                continue
            outcome, detail, gene_filter = row
            scores, strands = {}, {}
            if outcome == OK:
                for gene, score, quantile, strand in self._db.execute(
                    f"SELECT gene, score, quantile_score, strand FROM scores WHERE {_KEY_WHERE}", key.as_row()
                ):
                    scores[gene] = (_none_to_nan(score), _none_to_nan(quantile))
                    strands[gene] = strand
            asked = frozenset(gene_filter.split("|")) if gene_filter else None
            found[key] = CachedCall(outcome, detail, scores, strands, key.source, asked)
        return found

    def store_scores(self, key: CallKey, scores: Mapping[str, tuple[float, float]],
                     strands: Mapping[str, str] | None = None, *, asked: Iterable[str] | None = None) -> None:
        """Record a successful call with its scores by gene (and their tracks' strands), committed before returning.
        `asked`: the genes an answer filtered by gene was asked about; the scores of an earlier filtered answer for
        the same key are kept beside these (None: the answer holds every gene, and replaces what was stored)."""
        strands = dict(strands or {})
        if asked is not None:
            asked = set(asked)
            before = self.lookup([key]).get(key)
            if before is not None and before.ok and before.asked is not None:
                scores, asked = {**before.scores, **scores}, asked | before.asked
                strands = {**before.strands, **strands}
        self._store(key, OK, "", scores, strands, "|".join(sorted(asked)) if asked is not None else "")

    def store_failure(self, key: CallKey, reason: str, detail: str = "") -> None:
        """Record a call that failed permanently (retrying it would fail the same way), committed before returning."""
        if reason == OK:
            raise ValueError("a failure reason cannot be 'ok'")
        self._store(key, reason, detail, {}, {}, "")

    def forget_failures(self) -> int:
        """Drop stored permanent failures so the next run calls for them again; return how many were dropped."""
        cursor = self._db.execute("DELETE FROM calls WHERE outcome != ?", (OK,))
        return cursor.rowcount

    def count_calls(self, *, outcome: str | None = None) -> int:
        if outcome is None:
            return self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM calls WHERE outcome=?", (outcome,)).fetchone()[0]

    @_readable
    def unbound_calls(self) -> int:
        """Stored outcomes that do not say which server gave them (written before servers were recorded)."""
        return self._db.execute("SELECT COUNT(*) FROM calls WHERE server=?", (UNBOUND,)).fetchone()[0]

    @_readable
    def adopt_unbound(self, server: str) -> int:
        """Bind the outcomes written before servers were recorded to `server`, for a cache whose owner knows where
        they came from; outcomes the server already has are kept. Returns how many were bound."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            same = " AND ".join(f"c.{c}={{t}}.{c}" for c in _KEY_COLUMNS.split(", ") if c != "server")
            for table in ("scores", "calls"):  # the server's own outcomes win over unbound ones
                self._db.execute(f"DELETE FROM {table} WHERE server=? AND EXISTS (SELECT 1 FROM calls c WHERE "
                                 f"c.server=? AND {same.format(t=table)})", (UNBOUND, server))
            moved = self._db.execute("UPDATE calls SET server=? WHERE server=?", (server, UNBOUND)).rowcount
            self._db.execute("UPDATE scores SET server=? WHERE server=?", (server, UNBOUND))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return moved

    @_readable
    def learned_rate(self, server: str, service: str = LIVE) -> tuple[float, float] | None:
        """(calls per minute, when it was learned as a Unix time) that the last run learned from the quota of
        `server`'s `service` (`live` or `atlas`: each has its own)."""
        row = self._db.execute("SELECT per_minute, learned_at FROM learned_rates WHERE server=? AND service=?",
                               (server, service)).fetchone()
        return (float(row[0]), float(row[1])) if row else None

    @_readable
    def store_learned_rate(self, server: str, per_minute: float, service: str = LIVE) -> None:
        self._db.execute("INSERT OR REPLACE INTO learned_rates VALUES (?, ?, ?, ?)",
                         (server, service, per_minute, time.time()))

    def stored_variants(self) -> set[str]:
        """Variants with any stored outcome (for any configuration)."""
        return {row[0] for row in self._db.execute("SELECT DISTINCT variant FROM calls")}

    @_readable
    def _store(self, key: CallKey, outcome: str, detail: str, scores: Mapping[str, tuple[float, float]],
               strands: Mapping[str, str], gene_filter: str) -> None:
        row = key.as_row()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(f"DELETE FROM scores WHERE {_KEY_WHERE}", row)
            self._db.executemany(
                "INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, gene, _nan_to_none(s), _nan_to_none(q), strands.get(gene, "."))
                 for gene, (s, q) in scores.items()],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, outcome, detail, len(scores), time.time(), gene_filter),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
