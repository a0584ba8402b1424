"""Progress lines: done/total, rate, ETA, calls, cache hits, failures and retries by reason."""

from endobench.lib.scoring.progress import ScoringProgress
from endobench.lib.scoring.rate_limit import QuotaPacer


def test_a_line_gives_counts_rate_eta_and_reasons():
    now = [0.0]
    lines = []
    progress = ScoringProgress(400, cache_hits=35, write=lines.append, every_seconds=30, clock=lambda: now[0])
    progress.done, progress.calls = 120, 150
    progress.failed["gene_not_in_output"] += 3
    progress.retried["unavailable"] += 2
    now[0] = 60.0
    progress.maybe_write()
    assert lines == ["AlphaGenome: 120 of 400 variants (30%), 2.00/s, ETA 2 min 20 s; 150 calls, 35 cache hits; "
                     "failed: gene_not_in_output 3; retried: unavailable 2"]


def test_lines_come_no_more_often_than_the_interval():
    now = [0.0]
    lines = []
    progress = ScoringProgress(10, cache_hits=0, write=lines.append, every_seconds=30, clock=lambda: now[0])
    for t in (10.0, 29.9, 30.0, 45.0, 60.5):
        now[0] = t
        progress.maybe_write()
    assert len(lines) == 2
    assert progress.seconds_until_due() == 30.0


def test_once_the_quota_is_known_the_eta_is_the_pacings_schedule_not_the_rate_so_far():
    """20 variants done in the first second (the quota's burst), 40 to go at a quota of 20 per minute: the ETA is
    two more windows (about 2 min), where the rate so far would say 2 s."""
    now = [0.0]
    pacer = QuotaPacer(None, known_per_minute=20, clock=lambda: now[0])
    lines = []
    progress = ScoringProgress(60, cache_hits=0, write=lines.append, clock=lambda: now[0], pace=pacer)
    for _ in range(20):
        pacer.succeeded(pacer.started())
        now[0] += 0.05
    progress.done = 20
    progress.write()
    assert "ETA 2 min 00 s" in lines[0] and "quota 20.0/min" in lines[0]
