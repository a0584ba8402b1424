"""The API budget: a cap on new calls per run, a requests-per-minute limit, and bounded concurrency."""

import logging

import numpy as np
import pytest

from endobench.lib.scoring.rate_limit import RateLimiter
from endobench.resources.alphagenome import AlphaGenomePredictor
from endobench.resources.predictors import SKIPPED_CALL_CAP
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests

LOG = logging.getLogger("test_alphagenome_limits")
KEY = "test-key-limits"


def _predictor(address: str, **overrides) -> AlphaGenomePredictor:
    settings = dict(api_key=KEY, address=address, requests_per_minute=0, initial_backoff_seconds=0.005,
                    max_backoff_seconds=0.02)
    return AlphaGenomePredictor(**(settings | overrides))


@pytest.fixture(scope="module")
def eqtls():
    return sample_eqtl_requests(30)


def test_the_call_cap_limits_new_variants_and_marks_the_rest_skipped(eqtls, tmp_path):
    """With a cap of 5, the server sees 5 variants; rows of the others say `skipped_call_cap`; the next run
    picks up 5 more from where the first stopped."""
    frame, genes = eqtls
    with AlphaGenomeStandIn(genes=genes) as server:
        first = _predictor(server.address, max_new_calls_per_run=5).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        assert len(server.requests_by_variant()) == 5
        second = _predictor(server.address, max_new_calls_per_run=5).score_variants(
            frame, reference=None, cache_dir=tmp_path, log=LOG)
        per_variant = server.requests_by_variant()
    assert len(per_variant) == 10 and set(per_variant.values()) == {1}
    skipped = first.scores["status"] == SKIPPED_CALL_CAP
    requested_first = {r.variant_id for r in frame[~skipped.to_numpy()].itertuples()}
    assert len(requested_first) == 5
    assert first.scores.loc[skipped, "error"].eq("").all()
    assert (second.scores["status"] == SKIPPED_CALL_CAP).sum() < skipped.sum()
    assert second.scores.loc[~skipped, "from_cache"].all()


def test_requests_per_minute_spaces_call_starts_evenly(eqtls, tmp_path):
    """At 600 requests per minute with 4 workers, calls reach the server 0.1 s apart on average, never in a burst."""
    frame, genes = eqtls
    frame = frame.head(12)
    with AlphaGenomeStandIn(genes=genes, latency=0.0) as server:
        _predictor(server.address, requests_per_minute=600, max_concurrency=4).score_variants(
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
        _predictor(server.address, max_concurrency=2).score_variants(
            frame.head(12), reference=None, cache_dir=tmp_path, log=LOG)
        spans = [(r.started, r.finished) for r in server.records]
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2


def test_the_limiter_hands_out_slots_one_interval_apart():
    """60 per minute: the first call starts at once, the next four wait 1, 2, 3, 4 s (on an injected clock)."""
    now = [100.0]
    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = RateLimiter(60, clock=lambda: now[0], sleep=sleep)
    assert [limiter.acquire() for _ in range(5)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert waits == [1.0, 2.0, 3.0, 4.0]


def test_the_limiter_allows_a_burst_then_spaces_calls():
    """With burst 3, three calls start at once and the fourth waits one interval; an idle period is not banked."""
    now = [0.0]
    limiter = RateLimiter(120, burst=3, clock=lambda: now[0], sleep=lambda s: None)
    assert [limiter.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]
    now[0] = 100.0
    assert [limiter.acquire() for _ in range(4)] == [0.0, 0.0, 0.0, 0.5]


def test_the_limiter_rejects_a_rate_that_is_not_positive():
    with pytest.raises(ValueError, match="per_minute must be positive"):
        RateLimiter(0)
