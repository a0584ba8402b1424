"""The API budget: a cap on new calls per run, a rate that follows the quota, bounded concurrency, progress."""

import logging
import re

import grpc
import numpy as np
import pytest

from endobench.resources.predictors import SKIPPED_CALL_CAP
from endobench_tests.stand_ins.alphagenome_server import (
    AlphaGenomeStandIn,
    FaultPlan,
    fast_predictor,
    sample_eqtl_requests,
)
from endobench_tests.stand_ins.quotas import SHAPES, ContinuousBucket

LOG = logging.getLogger("test_alphagenome_limits")




@pytest.fixture(scope="module")
def eqtls():
    return sample_eqtl_requests(50)


def test_the_call_cap_limits_new_variants_and_marks_the_rest_skipped(eqtls, tmp_path):
    """With a cap of 5, the server sees 5 variants; rows of the others say `skipped_call_cap`; the next run
    picks up 5 more from where the first stopped."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes) as server:
        first = fast_predictor(server.address, max_new_calls_per_run=5).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert len(server.requests_by_variant()) == 5
        second = fast_predictor(server.address, max_new_calls_per_run=5).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        per_variant = server.requests_by_variant()
    assert len(per_variant) == 10 and set(per_variant.values()) == {1}
    skipped = first.scores["status"] == SKIPPED_CALL_CAP
    requested_first = {r.variant_id for r in frame[~skipped.to_numpy()].itertuples()}
    assert len(requested_first) == 5
    assert first.scores.loc[skipped, "reason"].eq("").all()
    assert (second.scores["status"] == SKIPPED_CALL_CAP).sum() < skipped.sum()
    assert second.scores.loc[~skipped, "from_cache"].all()


def test_requests_per_minute_spaces_call_starts_evenly(eqtls, tmp_path):
    """At 600 requests per minute with 4 workers, calls reach the server 0.1 s apart on average, never in a burst."""
    frame, genes = eqtls
    frame = frame.head(12)
    with AlphaGenomeStandIn(genes=genes, latency=0.0) as server:
        fast_predictor(server.address, requests_per_minute=600, max_concurrency=4).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        starts = np.sort([r.started for r in server.records])
    assert len(starts) == frame["variant_id"].nunique() >= 8
    # Arrival times carry a few ms of scheduling jitter on a busy machine; the spacing itself is 0.1 s.
    gaps = np.diff(starts)
    assert gaps.min() >= 0.07
    assert (starts[-1] - starts[0]) / (len(starts) - 1) >= 0.095


def test_no_more_than_max_concurrency_calls_are_in_flight(eqtls, tmp_path):
    """With 0.1 s per call and 2 workers, at most 2 requests overlap at the server at any moment."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes, latency=0.1) as server:
        fast_predictor(server.address, max_concurrency=2).score_variants(
            frame.head(12), reference=None, cache_dir=tmp_path, log=LOG)
        spans = [(r.started, r.finished) for r in server.records]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2


@pytest.mark.parametrize("retry_info", [False, True], ids=["no retry delay", "RetryInfo"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_under_each_quota_shape_nothing_is_lost_and_most_of_the_quota_is_used(eqtls, tmp_path, shape, retry_info):
    """A quota of 10 calls per 0.5 s window (20/min scaled 120x) as a sliding window, a bucket refilled each window
    or one refilled continuously, with and without RetryInfo, against 4 workers and no ceiling, for four windows'
    worth of variants: every variant is scored, the quota is refused at least once (it binds), and at least 80% of
    what it offered was used."""
    frame, genes = eqtls
    frame = frame[frame["variant_id"].isin(frame["variant_id"].drop_duplicates().head(40))]
    quota = shape(10, window_seconds=0.5, retry_info=retry_info)
    with AlphaGenomeStandIn(genes=genes, latency=0.002, quota=quota) as server:
        outcome = fast_predictor(server.address, max_concurrency=4, quota_window_seconds=0.5).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        n_refused = sum(r.outcome == "RESOURCE_EXHAUSTED" for r in server.records)
    assert len(quota.granted) == frame["variant_id"].nunique() == 40
    assert set(outcome.failures_by_reason) <= {"gene_not_in_output"}
    assert n_refused > 0
    assert quota.used_fraction() >= 0.8


def test_a_server_retry_delay_is_honoured(eqtls, tmp_path):
    """After each RESOURCE_EXHAUSTED carrying a RetryInfo delay, no call reaches the server before it has passed
    (one worker, so that no call is already on its way when the refusal arrives). The quota counts per second here,
    and the predictor is told so (`quota_window_seconds`; AlphaGenome's counts per minute)."""
    frame, genes = eqtls
    quota = ContinuousBucket(4, window_seconds=1.0, retry_info=True)
    with AlphaGenomeStandIn(genes=genes, latency=0.005, quota=quota) as server:
        fast_predictor(server.address, max_concurrency=1, quota_window_seconds=1.0).score_variants(
            frame.head(12), reference=None, cache_dir=tmp_path, log=LOG)
        records = server.records
    refusals = [r for r in records if r.retry_delay is not None]
    assert refusals
    for refusal in refusals:
        too_early = [r for r in records if refusal.finished < r.started < refusal.finished + refusal.retry_delay - 0.01]
        assert too_early == []


def test_progress_lines_name_done_rate_eta_calls_cache_hits_and_failures(eqtls, tmp_path, caplog):
    """With a 0.2 s progress interval and calls of 0.05 s, a one-worker run of 12 variants logs several progress
    lines, each with done/total, rate, ETA, calls and cache hits; a rejected variant shows under `failed`."""
    frame, genes = eqtls
    frame = frame.head(12)
    rejected = f"{frame.iloc[0].chrom}:{frame.iloc[0].pos}:{frame.iloc[0].ref}>{frame.iloc[0].alt}"
    faults = FaultPlan(permanent={rejected: grpc.StatusCode.INVALID_ARGUMENT})
    caplog.set_level(logging.INFO, logger=LOG.name)
    with AlphaGenomeStandIn(genes=genes, latency=0.05, faults=faults) as server:
        fast_predictor(server.address, max_concurrency=1, progress_interval_seconds=0.2).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
    n_variants = frame["variant_id"].nunique()
    lines = [m for m in caplog.messages if f"of {n_variants} variants" in m]
    assert len(lines) >= 3
    assert all(re.search(r"\d+ of \d+ variants \(\d+%\), [\d.]+/s, ETA .+; \d+ calls, \d+ cache hits", m)
               for m in lines)
    assert lines[-1].startswith(f"AlphaGenome: {n_variants} of {n_variants} variants (100%)")
    assert "failed: invalid_argument 1" in lines[-1]
