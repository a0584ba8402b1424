"""One dispatcher for every source of scores: bounded concurrency, quota pacing, retries, progress, and the two ways
a run stops early (the key refused; the first variants all rejected the same way).

A source makes one call for one unit of work (a variant, with what to read from the answer) and says what came of it
(`Attempt`); it never sleeps and never retries. The dispatcher does everything around the calls, the same for every
source: a queue of units ordered by not-before time, at most `max_concurrency` calls in flight, starts paced by a
`QuotaPacer`, transient failures requeued with backoff and jitter (a waiting unit holds no worker), quota refusals
requeued without limit while the quota lets calls through, and a progress line. Each outcome reaches the caller
through one of two callbacks run in the dispatcher's own thread, so that one thread writes the score cache:
`commit(unit, attempt)` for an answer, `fail(unit, reason, cacheable, detail)` for a unit that ends without one.

Two outcomes stop the run instead of being recorded per unit: a refusal of the key or the project
(`ServiceRefused`: no further call is sent) and a uniform rejection (`UniformRejection`): when the first
`uniform_after` distinct units to end are all rejected with the same permanent code and message, the request
itself is wrong for every unit (a malformed scorer, a retired model version), so none of them is recorded and the
run stops, to be repeated once the cause is fixed.
"""

from __future__ import annotations

import concurrent.futures
import heapq
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from endobench.lib.scoring.progress import ScoringProgress
from endobench.lib.scoring.rate_limit import QuotaPacer
from endobench.lib.scoring.rpc_errors import Kind, RpcFailure, ServiceRefused

QUOTA_EXHAUSTED = "quota_exhausted"
NOT_SENT = RpcFailure("CANCELLED", Kind.OTHER, "not sent")


@dataclass
class Attempt:
    """What one call produced: `result` (the source's reading of the answer), or a `failure`."""

    sent: bool = True
    rpcs: int = 1  # the requests the call made (a listing of several pages makes one per page)
    sent_at: float = 0.0  # when the call left (monotonic clock)
    answered_at: float = 0.0  # when its answer came back
    failure: RpcFailure | None = None
    result: Any = None


class Source(Protocol):
    """A source of scores that needs calls: one call for one unit, from a worker thread."""

    def call(self, unit: Any) -> Attempt: ...


class UniformRejection(Exception):
    """The first units to end were all rejected with one permanent code and message."""

    def __init__(self, failure: RpcFailure, units: int) -> None:
        super().__init__(failure.message)
        self.failure, self.units = failure, units


@dataclass(frozen=True)
class DispatchSettings:
    """How a run calls (the values are a source's settings, such as `AlphaGenomePredictor`'s)."""

    max_concurrency: int
    max_retries: int  # per unit, for transient failures
    initial_backoff_seconds: float
    max_backoff_seconds: float
    quota_patience_seconds: float  # no call let through for this long: the units still waiting fail for this run
    uniform_after: int  # the first this many units rejected alike stop the run


class Dispatcher:
    def __init__(self, source: Source, pacer: QuotaPacer, settings: DispatchSettings,
                 progress: ScoringProgress) -> None:
        self.source, self.pacer, self.settings, self.progress = source, pacer, settings, progress
        self._jitter = random.Random()

    def run(self, units: Sequence[Any], commit: Callable[[Any, Attempt], None],
            fail: Callable[[Any, str, bool, str], None]) -> None:
        """Call for every unit until each has an outcome; raise `ServiceRefused` or `UniformRejection` to stop."""
        if not units:
            return
        run = _Run(units, commit, fail, self.progress)
        settings, pacer = self.settings, self.pacer
        in_flight: dict[concurrent.futures.Future, tuple[int, float]] = {}
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=settings.max_concurrency,
                                                     thread_name_prefix="scoring")
        try:
            while run.queue or in_flight:
                now = time.monotonic()
                while (run.queue and len(in_flight) < settings.max_concurrency and not run.stop.is_set()
                       and run.queue[0][0] <= now and pacer.delay() == 0):
                    _, i = heapq.heappop(run.queue)
                    future = pool.submit(self._call, units[i], run.stop)
                    in_flight[future] = (i, pacer.started())
                if not in_flight and (run.stop.is_set() or not run.queue):
                    break
                timeout = self.progress.seconds_until_due()
                if run.queue and len(in_flight) < settings.max_concurrency and not run.stop.is_set():
                    timeout = min(timeout, max(run.queue[0][0] - now, pacer.delay()))
                if in_flight:
                    finished, _ = concurrent.futures.wait(in_flight, timeout=timeout,
                                                          return_when=concurrent.futures.FIRST_COMPLETED)
                else:  # every queued unit waits for its not-before time or the pacer
                    time.sleep(timeout)
                    finished = set()
                for future in finished:
                    i, started = in_flight.pop(future)
                    self._settle(run, i, started, future.result())
                if run.queue and time.monotonic() - run.last_success > settings.quota_patience_seconds \
                        and not in_flight:
                    self.progress.write()
                    for _, i in run.queue:  # the quota did not let one call through in all that time: next run
                        run.finish(i, QUOTA_EXHAUSTED, False)
                    run.queue.clear()
                self.progress.maybe_write()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        self.progress.write()
        if run.refusal is not None:
            raise ServiceRefused(run.refusal, len(run.sent_times), sum(t > run.refused_at for t in run.sent_times))
        if run.uniform:
            raise UniformRejection(run.rejected[0][1], len(run.rejected))
        run.release_rejected()  # too few units to tell: each rejection is its own

    def _settle(self, run: _Run, i: int, started: float, attempt: Attempt) -> None:
        """What one finished call means: for the pacer, for the unit, for the run."""
        now, failure, pacer = time.monotonic(), attempt.failure, self.pacer
        self.progress.calls += attempt.rpcs if attempt.sent else 0
        if attempt.sent:
            run.sent_times.append(attempt.sent_at)
        if failure is None:
            pacer.succeeded(started)
            run.last_success = now
            if not run.uniform:
                run.release_rejected()
            run.commit(run.units[i], attempt)
            self.progress.done += 1
        elif failure.kind is Kind.REFUSED:
            run.refusal = run.refusal or failure
            run.refused_at = min(run.refused_at, attempt.answered_at)
            run.stop.set()
        elif not attempt.sent:
            pacer.ended(started)
        elif failure.kind is Kind.QUOTA:
            pacer.refused(started, failure.retry_delay)
            self.progress.retried[failure.reason] += 1
            if now - run.last_success > self.settings.quota_patience_seconds:
                run.finish(i, QUOTA_EXHAUSTED, False)
            else:
                heapq.heappush(run.queue, (now + (failure.retry_delay or 0.0), i))
        elif failure.kind is Kind.TRANSIENT:
            pacer.ended(started)
            run.transient[i] += 1
            if run.transient[i] > self.settings.max_retries:
                run.finish(i, f"retries_exhausted_{failure.reason}", False)
            else:
                self.progress.retried[failure.reason] += 1
                heapq.heappush(run.queue, (now + self._backoff(run.transient[i]), i))
        elif failure.kind is Kind.PERMANENT:
            pacer.succeeded(started)  # the quota let it through; the request itself was refused
            run.reject(i, failure, self.settings.uniform_after)
        else:
            pacer.ended(started)
            run.finish(i, failure.reason, False, failure.message[:200])

    def _call(self, unit: Any, stop: threading.Event) -> Attempt:
        """One call, in a worker thread."""
        if stop.is_set():  # the run stopped while this call waited for a worker: do not send it
            return Attempt(sent=False, failure=NOT_SENT)
        sent_at = time.monotonic()
        attempt = self.source.call(unit)
        attempt.sent_at, attempt.answered_at = sent_at, time.monotonic()
        if attempt.failure is not None and attempt.failure.kind is Kind.REFUSED:
            stop.set()
        return attempt

    def _backoff(self, failures: int) -> float:
        settings = self.settings
        backoff = min(settings.max_backoff_seconds, settings.initial_backoff_seconds * 2 ** (failures - 1))
        return backoff * self._jitter.uniform(0.5, 1.5)


class _Run:
    """The state of one run: the queue, the outcomes so far, and what stops it."""

    def __init__(self, units: Sequence[Any], commit: Callable, fail: Callable, progress: ScoringProgress) -> None:
        self.units, self.commit, self._fail, self.progress = units, commit, fail, progress
        self.queue: list[tuple[float, int]] = [(0.0, i) for i in range(len(units))]  # (not before, unit), a heap
        self.transient = [0] * len(units)
        self.stop = threading.Event()  # set once the run must send nothing more
        self.refusal: RpcFailure | None = None
        self.refused_at = float("inf")
        self.sent_times: list[float] = []
        self.last_success = time.monotonic()
        # Permanent rejections held back until the verdict: None once another outcome showed they are per unit.
        self.rejected: list[tuple[int, RpcFailure]] | None = []
        self.uniform = False  # every unit so far rejected alike, and enough of them to stop

    def finish(self, i: int, reason: str, cacheable: bool, detail: str = "") -> None:
        self._fail(self.units[i], reason, cacheable, detail)
        self.progress.failed[reason] += 1
        self.progress.done += 1

    def reject(self, i: int, failure: RpcFailure, uniform_after: int) -> None:
        if self.uniform:
            return  # the run stops; nothing of it is recorded
        if self.rejected is None:
            self.finish(i, failure.reason, True, failure.message[:200])
        elif all((f.code, f.message) == (failure.code, failure.message) for _, f in self.rejected):
            self.rejected.append((i, failure))
            self.uniform = len(self.rejected) >= uniform_after
            if self.uniform:
                self.stop.set()
        else:
            self.release_rejected()
            self.finish(i, failure.reason, True, failure.message[:200])

    def release_rejected(self) -> None:
        """Another outcome came: the rejections held back were each a unit's own, recorded as such."""
        held, self.rejected = self.rejected or [], None
        for i, failure in held:
            self.finish(i, failure.reason, True, failure.message[:200])
