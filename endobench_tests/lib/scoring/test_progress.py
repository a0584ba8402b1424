"""Progress lines: done/total, rate, ETA, calls, cache hits, failures and retries by reason."""

from endobench.lib.scoring.progress import ScoringProgress


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
