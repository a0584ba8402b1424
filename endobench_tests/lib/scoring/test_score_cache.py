"""The score cache: outcomes keyed by everything that determines a score, durable as soon as they are stored."""

import math
import sqlite3
import subprocess
import sys

import pytest

from endobench.lib.scoring.score_cache import CACHE_FILE, OK, CallKey, ScoreCache

KEY = CallKey("chr22:16777918:G>A", "alphagenome", "ALL_FOLDS", "GeneMaskLFCScorer(RNA_SEQ)", "UBERON:0013756",
              1_048_576)


def test_scores_by_gene_come_back_as_stored(tmp_path):
    """Each gene's raw and quantile score round-trips; a missing quantile stays NaN."""
    with ScoreCache(tmp_path) as cache:
        cache.store_scores(KEY, {"ENSG00000100181": (0.25, 0.1), "ENSG00000172967": (-1.5, math.nan)})
        found = cache.lookup([KEY])[KEY]
    assert found.ok and found.outcome == OK
    assert found.scores["ENSG00000100181"] == (0.25, 0.1)
    score, quantile = found.scores["ENSG00000172967"]
    assert score == -1.5 and math.isnan(quantile)


@pytest.mark.parametrize("field, other", [
    ("variant", "chr22:16777918:G>C"), ("predictor", "other_model"), ("model_version", "FOLD_0"),
    ("scorer", "CenterMaskScorer(DNASE)"), ("track", "EFO:0002067"), ("interval_length", 16_384),
])
def test_a_key_differing_in_any_part_is_a_miss(tmp_path, field, other):
    """Changing the variant, predictor, model version, scorer, track or interval length finds nothing."""
    with ScoreCache(tmp_path) as cache:
        cache.store_scores(KEY, {"": (1.0, 0.5)})
        changed = CallKey(**{**KEY.__dict__, field: other})
        assert cache.lookup([changed]) == {}
        assert KEY in cache.lookup([KEY, changed])


def test_a_permanent_failure_is_stored_with_its_reason_and_can_be_forgotten(tmp_path):
    """A failure comes back with reason and detail and no scores; `forget_failures` drops only failures."""
    ok_key = CallKey(**{**KEY.__dict__, "variant": "chr22:1:A>G"})
    with ScoreCache(tmp_path) as cache:
        cache.store_failure(KEY, "invalid_argument", "interval outside chromosome")
        cache.store_scores(ok_key, {"": (0.0, 0.0)})
        found = cache.lookup([KEY])[KEY]
        assert (found.ok, found.outcome, found.detail, dict(found.scores)) == (
            False, "invalid_argument", "interval outside chromosome", {})
        assert cache.forget_failures() == 1
        assert set(cache.lookup([KEY, ok_key])) == {ok_key}


def test_storing_again_replaces_the_previous_outcome(tmp_path):
    """A later success for a key that had failed replaces the failure and its (absent) scores."""
    with ScoreCache(tmp_path) as cache:
        cache.store_failure(KEY, "invalid_argument")
        cache.store_scores(KEY, {"ENSG1": (2.0, 0.9)})
        assert cache.lookup([KEY])[KEY].scores == {"ENSG1": (2.0, 0.9)}
        assert cache.count_calls() == 1


def test_a_stored_outcome_survives_the_writing_process_being_killed(tmp_path):
    """A process that stores one call and then dies without closing leaves it readable (WAL, commit per call)."""
    code = (
        "import os; from endobench.lib.scoring.score_cache import ScoreCache, CallKey; "
        f"c = ScoreCache({str(tmp_path)!r}); c.store_scores(CallKey(*{KEY.as_row()!r}), {{'': (3.5, 0.7)}}); "
        "os._exit(9)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    with ScoreCache(tmp_path) as cache:
        assert cache.lookup([KEY])[KEY].scores == {"": (3.5, 0.7)}


def test_the_cache_uses_a_write_ahead_log(tmp_path):
    """WAL lets a reader (a report, another run) read while one writer commits."""
    ScoreCache(tmp_path).close()
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_failure_reason_ok_is_refused(tmp_path):
    with ScoreCache(tmp_path) as cache, pytest.raises(ValueError, match="cannot be 'ok'"):
        cache.store_failure(KEY, OK)


def test_the_strand_of_the_track_behind_each_gene_score_comes_back(tmp_path):
    """A stranded track is chosen per gene; the cache keeps which strand gave each score ('.' when none given)."""
    with ScoreCache(tmp_path) as cache:
        cache.store_scores(KEY, {"ENSG1": (1.0, 0.5), "ENSG2": (2.0, 0.6), "ENSG3": (3.0, 0.7)},
                           {"ENSG1": "+", "ENSG2": "-"})
        found = cache.lookup([KEY])[KEY]
    assert dict(found.strands) == {"ENSG1": "+", "ENSG2": "-", "ENSG3": "."}


def test_a_cache_written_before_strands_were_kept_opens_and_reads_as_unstranded(tmp_path):
    """The scores table of an older cache has no strand column: opening adds it, and old scores read as '.'."""
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        db.executescript("""
            CREATE TABLE calls (variant TEXT, predictor TEXT, model_version TEXT, scorer TEXT, track TEXT,
                interval_length INTEGER, outcome TEXT, detail TEXT, n_scores INTEGER, stored_at REAL,
                PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length));
            CREATE TABLE scores (variant TEXT, predictor TEXT, model_version TEXT, scorer TEXT, track TEXT,
                interval_length INTEGER, gene TEXT, score REAL, quantile_score REAL,
                PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length, gene));
        """)
        db.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, 'ok', '', 1, 0)", KEY.as_row())
        db.execute("INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, 'ENSG1', 0.5, 0.2)", KEY.as_row())
    with ScoreCache(tmp_path) as cache:
        found = cache.lookup([KEY])[KEY]
    assert found.scores == {"ENSG1": (0.5, 0.2)} and dict(found.strands) == {"ENSG1": "."}
