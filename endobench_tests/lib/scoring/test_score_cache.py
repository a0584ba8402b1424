"""The score cache: outcomes keyed by everything that determines a score, durable as soon as they are stored."""

import math
import sqlite3
import subprocess
import sys

import pytest

from endobench.lib.scoring.score_cache import ATLAS, CACHE_FILE, LIVE, OK, CallKey, ScoreCache

SERVER = "gdmscience.googleapis.com:443"
KEY = CallKey("chr22:16777918:G>A", "alphagenome", "ALL_FOLDS", "GeneMaskLFCScorer(RNA_SEQ)", "UBERON:0013756",
              1_048_576, SERVER)
V1_KEY = KEY.as_row()[:6]  # how a cache written before servers were recorded keyed the same call


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
    ("server", "127.0.0.1:50051"), ("source", ATLAS),
])
def test_a_key_differing_in_any_part_is_a_miss(tmp_path, field, other):
    """Changing the variant, predictor, model version, scorer, track, interval length, server or source finds
    nothing: a loopback stand-in's scores are never served for the public endpoint, and an Atlas score is never
    taken for a live one."""
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


def _old_cache(path, *, strands: bool) -> None:
    """A cache as earlier endobench versions wrote it: no server column (and, earliest, no strand column)."""
    with sqlite3.connect(path / CACHE_FILE) as db:
        db.executescript(f"""
            CREATE TABLE calls (variant TEXT, predictor TEXT, model_version TEXT, scorer TEXT, track TEXT,
                interval_length INTEGER, outcome TEXT, detail TEXT, n_scores INTEGER, stored_at REAL,
                PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length));
            CREATE TABLE scores (variant TEXT, predictor TEXT, model_version TEXT, scorer TEXT, track TEXT,
                interval_length INTEGER, gene TEXT, score REAL, quantile_score REAL
                {", strand TEXT NOT NULL DEFAULT '.'" if strands else ""},
                PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length, gene));
        """)
        db.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, 'ok', '', 1, 0)", V1_KEY)
        strand = ", '-'" if strands else ""
        db.execute(f"INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, 'ENSG1', 0.5, 0.2{strand})", V1_KEY)


def test_a_cache_written_before_servers_were_recorded_serves_its_rows_for_no_server(tmp_path):
    """Opening an older cache keeps every row but binds none to a server: nobody can tell whether they came from the
    public endpoint or a test server, so no lookup finds them, and `unbound_calls` says how many there are."""
    _old_cache(tmp_path, strands=True)
    with ScoreCache(tmp_path) as cache:
        assert cache.lookup([KEY]) == {}
        assert cache.lookup([CallKey(*V1_KEY, "127.0.0.1:50051")]) == {}
        assert cache.unbound_calls() == 1


def test_unbound_rows_can_be_adopted_by_the_server_they_came_from(tmp_path):
    """Whoever knows where the old rows came from binds them to that server; they are then served for it alone,
    and a cache older still (no strand column) reads its scores as unstranded."""
    _old_cache(tmp_path, strands=False)
    with ScoreCache(tmp_path) as cache:
        assert cache.adopt_unbound(SERVER) == 1
        found = cache.lookup([KEY])[KEY]
        assert cache.unbound_calls() == 0
        assert cache.lookup([CallKey(*V1_KEY, "127.0.0.1:50051")]) == {}
    assert found.scores == {"ENSG1": (0.5, 0.2)} and dict(found.strands) == {"ENSG1": "."}


def test_a_cache_is_migrated_once_and_opens_again_unchanged(tmp_path):
    _old_cache(tmp_path, strands=True)
    ScoreCache(tmp_path).close()
    with ScoreCache(tmp_path) as cache:
        assert cache.unbound_calls() == 1 and cache.count_calls() == 1


def test_the_rate_learned_from_a_server_is_kept_for_that_server(tmp_path):
    with ScoreCache(tmp_path) as cache:
        cache.store_learned_rate(SERVER, 20.0)
    with ScoreCache(tmp_path) as cache:
        per_minute, learned_at = cache.learned_rate(SERVER)
        assert per_minute == 20.0 and learned_at > 0
        assert cache.learned_rate("127.0.0.1:50051") is None


def test_a_score_keeps_the_source_it_came_from(tmp_path):
    """The same call answered by the Atlas and by the live model is two outcomes, each saying where it came from."""
    atlas = CallKey(**{**KEY.__dict__, "source": ATLAS})
    with ScoreCache(tmp_path) as cache:
        cache.store_scores(KEY, {"": (1.0, 0.5)})
        cache.store_failure(atlas, "not_in_atlas")
        found = cache.lookup([KEY, atlas])
    assert (found[KEY].source, found[KEY].ok) == (LIVE, True)
    assert (found[atlas].source, found[atlas].outcome) == (ATLAS, "not_in_atlas")


def test_an_answer_filtered_by_gene_answers_only_for_the_genes_asked(tmp_path):
    """A gene-filtered answer settles the genes it was asked about (present or not) and leaves the others open; a
    later filtered answer adds its genes beside the earlier ones."""
    with ScoreCache(tmp_path) as cache:
        cache.store_scores(KEY, {"ENSG1": (1.0, 0.5)}, asked=["ENSG1", "ENSG9"])
        first = cache.lookup([KEY])[KEY]
        cache.store_scores(KEY, {"ENSG2": (2.0, 0.6)}, asked=["ENSG2"])
        second = cache.lookup([KEY])[KEY]
    assert first.answers(["ENSG1", "ENSG9"]) and not first.answers(["ENSG2"])
    assert second.asked == {"ENSG1", "ENSG2", "ENSG9"}
    assert second.scores == {"ENSG1": (1.0, 0.5), "ENSG2": (2.0, 0.6)}
    assert second.answers(["ENSG2"])


def test_a_complete_answer_replaces_a_filtered_one(tmp_path):
    with ScoreCache(tmp_path) as cache:
        cache.store_scores(KEY, {"ENSG1": (1.0, 0.5)}, asked=["ENSG1"])
        cache.store_scores(KEY, {"ENSG2": (2.0, 0.6)})
        found = cache.lookup([KEY])[KEY]
    assert found.asked is None and found.scores == {"ENSG2": (2.0, 0.6)} and found.answers(["ENSG7"])


def test_each_service_of_a_server_keeps_its_own_learned_rate(tmp_path):
    """The Atlas and the live model are two quotas of one server."""
    with ScoreCache(tmp_path) as cache:
        cache.store_learned_rate(SERVER, 20.0)
        cache.store_learned_rate(SERVER, 600.0, ATLAS)
        assert cache.learned_rate(SERVER)[0] == 20.0
        assert cache.learned_rate(SERVER, ATLAS)[0] == 600.0


def _cache_before_the_atlas(path) -> None:
    """A cache as endobench wrote it before the Atlas: servers recorded, no source, one learned rate per server."""
    with sqlite3.connect(path / CACHE_FILE) as db:
        db.executescript("""
            CREATE TABLE calls (variant TEXT, predictor TEXT, model_version TEXT, scorer TEXT, track TEXT,
                interval_length INTEGER, server TEXT, outcome TEXT, detail TEXT, n_scores INTEGER, stored_at REAL,
                PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length, server));
            CREATE TABLE scores (variant TEXT, predictor TEXT, model_version TEXT, scorer TEXT, track TEXT,
                interval_length INTEGER, server TEXT, gene TEXT, score REAL, quantile_score REAL,
                strand TEXT NOT NULL DEFAULT '.',
                PRIMARY KEY (variant, predictor, model_version, scorer, track, interval_length, server, gene));
            CREATE TABLE learned_rates (server TEXT PRIMARY KEY, per_minute REAL NOT NULL, learned_at REAL NOT NULL);
        """)
        db.execute("INSERT INTO calls VALUES (?, ?, ?, ?, ?, ?, ?, 'ok', '', 1, 0)", KEY.as_row()[:7])
        db.execute("INSERT INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, 'ENSG1', 0.5, 0.2, '+')", KEY.as_row()[:7])
        db.execute("INSERT INTO learned_rates VALUES (?, 20.0, 1.0)", (SERVER,))


def test_a_cache_written_before_the_atlas_keeps_every_row_as_live(tmp_path):
    """The migration adds the source (every earlier score came from the live model) and the learned rate's service:
    the rows are served as before, each saying it is live, and the rate learned stays the live model's."""
    _cache_before_the_atlas(tmp_path)
    with ScoreCache(tmp_path) as cache:
        found = cache.lookup([KEY])[KEY]
        assert cache.lookup([CallKey(**{**KEY.__dict__, "source": ATLAS})]) == {}
        assert cache.learned_rate(SERVER) == (20.0, 1.0) and cache.learned_rate(SERVER, ATLAS) is None
    assert (found.source, found.scores, dict(found.strands), found.asked) == (
        LIVE, {"ENSG1": (0.5, 0.2)}, {"ENSG1": "+"}, None)
