"""Exactly-once scoring under injected faults: transient errors retried, permanent ones recorded, never dropped."""

import logging

import grpc
import pandas as pd
import pytest

from endobench.lib.scoring.score_cache import OK, ScoreCache
from endobench.resources.alphagenome import AlphaGenomePredictor, ApiKeyRefused
from endobench.resources.predictors import FAILED, SCORED
from endobench_tests.stand_ins.alphagenome_server import (
    BILLING_DISABLED,
    SERVICE_DISABLED,
    UNAUTHENTICATED,
    AlphaGenomeStandIn,
    FaultPlan,
    sample_eqtl_requests,
)

LOG = logging.getLogger("test_alphagenome_faults")
KEY = "test-key-faults"


def _predictor(address: str, **overrides) -> AlphaGenomePredictor:
    settings = dict(api_key=KEY, address=address, requests_per_minute=0, initial_backoff_seconds=0.005,
                    max_backoff_seconds=0.02, max_retries=12, call_deadline_seconds=5, max_concurrency=4, atlas=False)
    return AlphaGenomePredictor(**(settings | overrides))


@pytest.fixture(scope="module")
def eqtls():
    return sample_eqtl_requests(60)


def _variant(row) -> str:
    return f"{row.chrom}:{row.pos}:{row.ref}>{row.alt}"


def test_twenty_percent_transient_faults_score_every_variant_exactly_once(eqtls, tmp_path):
    """With 20% of calls failing (RESOURCE_EXHAUSTED, UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED), 5% dropped
    mid-stream and 5% cut short with status OK, every variant ends with one successful response and one cache
    entry per scorer, and the scores equal those of a fault-free run. (A RESOURCE_EXHAUSTED is taken for a quota
    and held for until its window frees: the window is 0.2 s here so the test stays short.)"""
    frame, genes = eqtls
    faults = FaultPlan(transient_rate=0.2, mid_stream_rate=0.05, truncate_rate=0.05, seed=2)
    with AlphaGenomeStandIn(genes=genes, latency=0.005, faults=faults) as server:
        faulty = _predictor(server.address, quota_window_seconds=0.2).score_variants(
            frame, reference=None, cache_dir=tmp_path / "a", log=LOG)
        records = server.records
    with AlphaGenomeStandIn(genes=genes, latency=0.005) as server:
        clean = _predictor(server.address).score_variants(frame, reference=None, cache_dir=tmp_path / "b", log=LOG)

    n_variants = frame["variant_id"].nunique()
    injected = [r for r in records if r.outcome != "ok"]
    assert {"TRUNCATED", "MID_STREAM_ABORT", "RESOURCE_EXHAUSTED", "INTERNAL"} <= {r.outcome for r in injected}
    successes = pd.Series([r.variant for r in records if r.outcome == "ok"]).value_counts()
    assert len(injected) >= 0.15 * len(records)
    assert len(successes) == n_variants and (successes == 1).all()
    assert faulty.api_calls == len(records) == n_variants + len(injected)
    with ScoreCache(tmp_path / "a") as cache:
        assert cache.count_calls(outcome=OK) == cache.count_calls() == 2 * n_variants
    assert faulty.failures_by_reason == clean.failures_by_reason
    pd.testing.assert_frame_equal(faulty.scores, clean.scores)


def test_permanent_errors_are_recorded_per_variant_and_the_rest_completes(eqtls, tmp_path):
    """INVALID_ARGUMENT for two variants: asked once each, never retried, their rows failed with the reason,
    every other row scored."""
    frame, genes = eqtls
    rejected = [_variant(r) for r in frame.drop_duplicates("variant_id").head(2).itertuples()]
    faults = FaultPlan(permanent={v: grpc.StatusCode.INVALID_ARGUMENT for v in rejected})
    with AlphaGenomeStandIn(genes=genes, latency=0.005, faults=faults) as server:
        outcome = _predictor(server.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        per_variant = server.requests_by_variant()
    assert [per_variant[v] for v in rejected] == [1, 1]
    is_rejected = frame.apply(_variant, axis=1).isin(rejected).to_numpy()
    scores = outcome.scores
    assert (scores.loc[is_rejected, "reason"] == "invalid_argument").all()
    assert (scores.loc[is_rejected, "status"] == FAILED).all()
    assert outcome.failures_by_reason["invalid_argument"] == is_rejected.sum() >= 3
    assert (scores.loc[~is_rejected, "status"].isin([SCORED]) | (scores.loc[~is_rejected, "reason"]
                                                                  == "gene_not_in_output")).all()


def test_a_permanent_error_is_remembered_so_a_rerun_does_not_pay_for_it_again(eqtls, tmp_path):
    """The cached INVALID_ARGUMENT is reported again on rerun without a call; `recall_cached_failures` re-asks."""
    frame, genes = eqtls
    frame = frame.head(1)
    faults = FaultPlan(permanent={_variant(frame.iloc[0]): grpc.StatusCode.INVALID_ARGUMENT})
    with AlphaGenomeStandIn(genes=genes, latency=0.0, faults=faults) as server:
        _predictor(server.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        again = _predictor(server.address).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert len(server.records) == 1
        assert again.api_calls == 0 and again.scores.loc[0, "reason"] == "invalid_argument"
        _predictor(server.address, recall_cached_failures=True).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert len(server.records) == 2


def test_calls_slower_than_the_deadline_are_abandoned_and_retried(eqtls, tmp_path):
    """A third of calls hang for 2 s; with a 0.3 s deadline they end as DEADLINE_EXCEEDED and are retried."""
    frame, genes = eqtls
    frame = frame.head(10)
    faults = FaultPlan(slow_rate=0.3, slow_seconds=2.0, seed=3)
    with AlphaGenomeStandIn(genes=genes, latency=0.005, faults=faults) as server:
        outcome = _predictor(server.address, call_deadline_seconds=0.3).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        n_records = len(server.records)
    assert n_records > frame["variant_id"].nunique()
    assert outcome.api_calls == n_records
    assert set(outcome.scores["status"]) == {SCORED}


def test_transient_errors_beyond_the_retry_budget_fail_the_row_for_this_run_only(eqtls, tmp_path):
    """Always UNAVAILABLE: each variant is tried 1 + max_retries times, failed with the reason, and not cached."""
    frame, genes = eqtls
    frame = frame.head(2)
    faults = FaultPlan(transient_rate=1.0, transient_codes=(grpc.StatusCode.UNAVAILABLE,))
    with AlphaGenomeStandIn(genes=genes, latency=0.0, faults=faults) as server:
        outcome = _predictor(server.address, max_retries=2).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert set(server.requests_by_variant().values()) == {3}
    assert set(outcome.scores["reason"]) == {"retries_exhausted_unavailable"}
    with ScoreCache(tmp_path) as cache:
        assert cache.count_calls() == 0


REFUSALS = {
    "wrong key (Google: INVALID_ARGUMENT + ErrorInfo API_KEY_INVALID)": dict(),
    "wrong key, message only": dict(status_details=False),
    "API disabled (SERVICE_DISABLED)": dict(project_refusal=SERVICE_DISABLED),
    "billing disabled (BILLING_DISABLED)": dict(project_refusal=BILLING_DISABLED),
    "UNAUTHENTICATED": dict(wrong_key=UNAUTHENTICATED),
}


@pytest.mark.parametrize("how", REFUSALS)
def test_a_refused_key_or_project_stops_the_run_names_the_variable_and_caches_nothing(eqtls, tmp_path, how):
    """Every way the front end refuses the caller stops the run at the free preflight (GetMetadata carries the key)
    with ApiKeyRefused naming ALPHAGENOME_API_KEY: no paid call is sent, the cache holds nothing afterwards and the
    key is not in the message."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes, expected_api_key="the-right-key", **REFUSALS[how]) as server:
        with pytest.raises(ApiKeyRefused, match="ALPHAGENOME_API_KEY") as failure:
            _predictor(server.address, api_key="a-wrong-key-123").score_variants(
                frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert server.records == [] and len(server.metadata_requests) == 1
    assert "a-wrong-key-123" not in str(failure.value.description)
    assert failure.value.allow_retries is False
    with ScoreCache(tmp_path) as cache:
        assert cache.count_calls() == 0


@pytest.mark.parametrize("key", ["", "   "], ids=["empty", "blank"])
def test_an_empty_or_blank_key_is_refused_here_without_any_call(eqtls, tmp_path, key):
    """An empty ALPHAGENOME_API_KEY is never sent: the run stops before it connects, naming the variable."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes, expected_api_key="the-right-key") as server:
        with pytest.raises(ApiKeyRefused, match="ALPHAGENOME_API_KEY is empty") as failure:
            _predictor(server.address, api_key=key).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert server.records == [] and server.metadata_requests == []
    assert failure.value.allow_retries is False


def test_a_key_refused_in_the_middle_of_a_run_stops_it_at_once(eqtls, tmp_path):
    """The key passes the preflight, then the service starts refusing it (revoked mid-run): the run stops with
    ApiKeyRefused, no call is sent after the client has the first refusal, and nothing of the refusals is cached."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes, latency=0.005) as server:
        predictor = _predictor(server.address, max_concurrency=1)
        server.wrong_key, server.key_revoked = UNAUTHENTICATED, True  # GetMetadata passes, ScoreVariant does not
        with pytest.raises(ApiKeyRefused) as failure:
            predictor.score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert len(server.records) == 1
    assert failure.value.metadata["calls_sent_after_first_refusal"].value == 0
    with ScoreCache(tmp_path) as cache:
        assert cache.count_calls() == 0


def test_after_a_wrong_key_the_right_key_on_the_same_cache_scores_everything(eqtls, tmp_path):
    """The refusal left nothing in the cache, so the rerun with the right key asks for every variant and scores
    every row that a fault-free run scores."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes, latency=0.002, expected_api_key="the-right-key") as server:
        with pytest.raises(ApiKeyRefused):
            _predictor(server.address, api_key="a-wrong-key").score_variants(
                frame, reference=None, cache_dir=tmp_path, log=LOG)
        server.clear_records()
        outcome = _predictor(server.address, api_key="the-right-key").score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert len(server.requests_by_variant()) == frame["variant_id"].nunique()
    assert outcome.cache_hits == 0
    assert set(outcome.failures_by_reason) <= {"gene_not_in_output"}
    assert (outcome.scores["status"] == SCORED).sum() > 0.8 * len(frame)


def test_a_variant_waiting_out_its_backoff_holds_no_worker(eqtls, tmp_path):
    """One worker, and the first variant answered UNAVAILABLE once with a 1 s backoff: while it waits, the other
    variants are served by that worker; the retry comes after them, not before."""
    frame, genes = eqtls
    frame = frame[frame["readout"] == "accessibility"].head(8)
    first = _variant(frame.iloc[0])
    faults = FaultPlan(flaky={first: 1})
    with AlphaGenomeStandIn(genes=genes, latency=0.01, faults=faults) as server:
        outcome = _predictor(server.address, max_concurrency=1, initial_backoff_seconds=1.0,
                             max_backoff_seconds=1.0).score_variants(frame, reference=None, cache_dir=tmp_path, log=LOG)
        order = [r.variant for r in sorted(server.records, key=lambda r: r.started)]
    assert set(outcome.scores["status"]) == {SCORED}
    assert order[0] == order[-1] == first
    assert len(order) == len(frame) + 1
