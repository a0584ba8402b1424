"""The quota pacer: what it learns from a refusal, how it holds and resumes, and what it achieves against each quota
shape a server may have, simulated on a clock of its own (4 workers, every call answered after a fixed latency)."""

import heapq
import math

import pytest

from endobench.lib.scoring.progress import ScoringProgress
from endobench.lib.scoring.rate_limit import HOLD, PACED, QuotaPacer
from endobench_tests.stand_ins.quotas import SHAPES, SlidingWindow, WindowBucket


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def simulate(shape, n: int, *, concurrency: int = 4, latency: float = 0.02, known: float | None = None,
             tick: float = 30.0):
    """Run `n` calls through a pacer against `shape`; return the pacer, the end time and (time, done, ETA) of a
    progress line every `tick` seconds. Starts are 1 ms apart at the least, as real ones never coincide."""
    clock = Clock(0.0)
    pacer = QuotaPacer(None, window_seconds=shape.window_seconds, known_per_minute=known, concurrency=concurrency,
                       clock=clock)
    progress = ScoringProgress(n, cache_hits=0, write=lambda line: None, clock=clock, pace=pacer)
    waiting, in_flight, lines, seq, next_tick = n, [], [], 0, tick
    while progress.done < n:
        while waiting and len(in_flight) < concurrency and pacer.delay() == 0:
            clock.now += 0.001
            seq += 1
            heapq.heappush(in_flight, (clock.now + latency, seq, pacer.started(), shape.take(clock.now)))
            waiting -= 1
        next_start = clock.now + pacer.delay() if waiting and len(in_flight) < concurrency else math.inf
        next_finish = in_flight[0][0] if in_flight else math.inf
        if next_tick <= min(next_start, next_finish):
            clock.now, next_tick = next_tick, next_tick + tick
            lines.append((clock.now, progress.done, progress.eta_seconds()))
        elif next_finish <= next_start:
            clock.now, _, token, wait = heapq.heappop(in_flight)
            if wait is None:
                pacer.succeeded(token)
                progress.done += 1
            else:
                pacer.refused(token, wait if shape.retry_info else None)
                waiting += 1
        else:
            clock.now = next_start
    return pacer, clock.now, lines


def eta_errors(lines, end: float, n: int) -> list[float]:
    """|ETA - time that actually remained| / time that remained, for each line once 20% is done."""
    return [abs(eta - (end - t)) / (end - t) for t, done, eta in lines if done >= 0.2 * n and end > t]


@pytest.mark.parametrize("retry_info", [False, True], ids=["no retry delay", "RetryInfo"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_every_quota_shape_is_used_and_the_eta_holds(shape, retry_info):
    """20 calls per minute, six minutes of work: at least 80% of what the quota offered is used (the collapsing
    limiter used 31% of a sliding window), and every progress line once 20% is done gives an ETA within 30% of the
    time that actually remained."""
    quota = shape(20, 60.0, retry_info=retry_info)
    pacer, end, lines = simulate(quota, 120)
    assert quota.used_fraction() >= 0.8
    assert max(eta_errors(lines, end, 120)) <= 0.3
    assert pacer.quota == pytest.approx(20, abs=1)


def test_a_short_run_under_a_sliding_window_takes_the_ideal_time():
    """The issue's case: 55 variants under 20 calls in any sliding minute need three windows (about 120 s); the
    collapsing limiter took 376 s."""
    _, end, _ = simulate(SlidingWindow(20, 60.0), 55)
    assert end < 125


def test_the_first_refusal_sets_the_estimate_to_what_the_window_let_through_and_holds():
    """Five calls let through, the sixth refused: the quota estimate is 5 per window, and no call may start until
    the first of the five leaves the window (60 s after its answer: the server counted it at some moment between
    its start and its answer)."""
    clock = Clock()
    pacer = QuotaPacer(None, clock=clock)
    for _ in range(5):
        token = pacer.started()
        clock.now += 0.1
        pacer.succeeded(token)
    refused = pacer.started()
    clock.now += 0.1
    pacer.refused(refused)
    assert pacer.quota == 5 and pacer.phase == HOLD
    assert pacer.delay() == pytest.approx(100.1 + 60.0 - clock.now)


def test_a_hold_ends_with_one_probe_let_through():
    """While held, one call at a time probes; refused, it waits a twentieth of the window; let through, the pacer
    paces (at most the estimate in any window) again."""
    clock = Clock()
    pacer = QuotaPacer(None, clock=clock)
    first = pacer.started()
    clock.now += 0.1
    pacer.succeeded(first)
    pacer.refused(pacer.started())
    clock.now += pacer.delay()
    probe = pacer.started()
    assert pacer.delay() == math.inf
    pacer.refused(probe)
    assert pacer.delay() == pytest.approx(3.0)
    clock.now += 3.0
    pacer.succeeded(pacer.started())
    assert pacer.phase == PACED


def test_a_retry_delay_holds_every_start_until_it_has_passed():
    clock = Clock()
    pacer = QuotaPacer(None, clock=clock)
    pacer.refused(pacer.started(), retry_delay=2.5)
    assert pacer.delay() == pytest.approx(2.5)
    clock.now += 2.5
    assert pacer.delay() == 0.0


def test_refusals_of_calls_sent_before_the_hold_say_nothing_new():
    """Four calls in flight, all refused: the first refusal sets the estimate and the hold; the other three (sent
    before it) change neither."""
    clock = Clock()
    pacer = QuotaPacer(None, clock=clock)
    for _ in range(3):
        pacer.succeeded(pacer.started())
        clock.now += 0.01
    tokens = [pacer.started() for _ in range(4)]
    clock.now += 0.05
    pacer.refused(tokens[0])
    hold = pacer.delay()
    for token in tokens[1:]:
        pacer.refused(token)
    assert pacer.quota == 3 and pacer.holds == 1 and pacer.delay() == pytest.approx(hold)


def test_one_stray_refusal_does_not_collapse_the_estimate():
    """The estimate is the largest count of the last three refusals: a refusal that came with one call in the
    window (another client, a hiccup) leaves a learned 20 at 20."""
    clock = Clock()
    pacer = QuotaPacer(None, known_per_minute=20, clock=clock)
    clock.now += 120
    pacer.succeeded(pacer.started())
    clock.now += 1
    pacer.refused(pacer.started())
    assert pacer.quota == 20


def test_a_quota_learned_by_an_earlier_run_paces_from_the_first_call():
    """Known: 20 per minute. Twenty calls may start at once, the 21st when the first leaves the window, and with
    those twenty on their way, 40 more take two more windows."""
    clock = Clock()
    pacer = QuotaPacer(None, known_per_minute=20, clock=clock)
    for _ in range(20):
        assert pacer.delay() == 0
        pacer.started()
        clock.now += 0.01
    assert pacer.delay() == pytest.approx(60.0 - 0.2, abs=0.01)
    assert pacer.finish_in(60) == pytest.approx(120 - 0.2, abs=0.5)


def test_the_estimate_grows_after_each_window_without_a_refusal():
    clock = Clock()
    pacer = QuotaPacer(None, known_per_minute=20, clock=clock)
    clock.now += 61
    pacer.succeeded(pacer.started())
    assert pacer.quota == pytest.approx(21.0)


def test_a_ceiling_spaces_starts_evenly():
    """60 per minute: a call may start at once, the next one second later."""
    clock = Clock()
    pacer = QuotaPacer(60, clock=clock)
    assert pacer.delay() == 0.0
    pacer.started()
    assert pacer.delay() == pytest.approx(1.0)


def test_what_is_learned_is_kept_per_minute_for_the_next_run():
    quota = WindowBucket(20, 60.0)
    pacer, _, _ = simulate(quota, 60)
    assert pacer.per_minute() == pytest.approx(20, abs=1)
    assert QuotaPacer(None).per_minute() is None


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="ceiling_per_minute"):
        QuotaPacer(0)
    with pytest.raises(ValueError, match="window_seconds"):
        QuotaPacer(60, window_seconds=0)
