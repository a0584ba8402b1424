"""The adaptive limiter: even spacing under a ceiling, slower after a quota refusal, faster after successes."""

import pytest

from endobench.lib.scoring.rate_limit import MIN_PER_MINUTE, AdaptiveRateLimiter


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_starts_are_spaced_one_interval_apart_under_the_ceiling():
    """60 per minute: a call may start at once, the next one second later, then one more second later."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(60, clock=clock)
    assert limiter.delay() == 0.0
    limiter.started()
    assert limiter.delay() == pytest.approx(1.0)
    clock.now += 1.0
    limiter.started()
    clock.now += 0.25
    assert limiter.delay() == pytest.approx(0.75)


def test_a_quota_refusal_lowers_the_rate_once_for_the_calls_already_in_flight():
    """Four calls start at 240/min; all four are refused. Only the first refusal lowers the rate (to 0.7 x):
    the other three were sent before the decrease and say nothing new. A call started after it lowers it again."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(240, clock=clock)
    starts = []
    for _ in range(4):
        clock.now += limiter.delay()
        starts.append(limiter.started())
    for started in starts:
        limiter.refused(started)
    assert limiter.per_minute == pytest.approx(168.0) and limiter.decreases == 1
    clock.now += limiter.delay()
    limiter.refused(limiter.started())
    assert limiter.per_minute == pytest.approx(117.6) and limiter.decreases == 2


def test_successes_raise_the_rate_back_to_the_ceiling_and_no_further():
    limiter = AdaptiveRateLimiter(120, clock=Clock())
    limiter.refused(limiter.started())
    assert limiter.per_minute == pytest.approx(84.0)
    limiter.succeeded()
    assert limiter.per_minute == pytest.approx(88.2)
    for _ in range(20):
        limiter.succeeded()
    assert limiter.per_minute == 120


def test_a_server_retry_delay_pauses_every_start_until_it_has_passed():
    clock = Clock()
    limiter = AdaptiveRateLimiter(None, clock=clock)
    limiter.refused(limiter.started(), retry_delay=2.5)
    assert limiter.delay() == pytest.approx(2.5)
    clock.now += 2.5
    assert limiter.delay() == 0.0


def test_without_a_ceiling_the_first_refusal_starts_from_the_observed_rate():
    """No limit at first: ten starts 0.1 s apart (600/min) then a refusal sets the rate to 0.7 x 600 = 420/min."""
    clock = Clock()
    limiter = AdaptiveRateLimiter(None, clock=clock)
    for _ in range(10):
        assert limiter.delay() == 0.0
        limiter.started()
        clock.now += 0.1
    limiter.refused(clock.now - 0.1)
    assert limiter.per_minute == pytest.approx(420.0)


def test_the_rate_never_falls_below_the_floor():
    limiter = AdaptiveRateLimiter(2, clock=Clock())
    for _ in range(5):
        limiter.refused(limiter.started())
        limiter._clock.now += 100
    assert limiter.per_minute == MIN_PER_MINUTE


def test_settings_out_of_range_are_refused():
    with pytest.raises(ValueError, match="ceiling_per_minute"):
        AdaptiveRateLimiter(0)
    with pytest.raises(ValueError, match="decrease"):
        AdaptiveRateLimiter(60, decrease=1.5)
