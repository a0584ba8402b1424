"""A run killed mid-way (SIGKILL, no cleanup) resumes from the score cache without asking again for stored variants."""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from endobench.lib.scoring.score_cache import ScoreCache
from endobench.resources.alphagenome import AlphaGenomePredictor
from endobench_tests.paths import REPO
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests

LOG = logging.getLogger("test_alphagenome_resume")
KEY = "test-key-resume"
N_GENES = 40


def _predictor(address: str) -> AlphaGenomePredictor:
    return AlphaGenomePredictor(api_key=KEY, address=address, requests_per_minute=0, max_concurrency=2,
                                initial_backoff_seconds=0.005, max_backoff_seconds=0.02, atlas=False)


def child_run(address: str, cache_dir: str) -> None:
    """What the killed process runs: the same predictor call the prediction asset makes."""
    frame, _ = sample_eqtl_requests(N_GENES)
    _predictor(address).score_variants(frame, reference=None, cache_dir=Path(cache_dir), log=LOG)


def test_a_killed_run_resumes_without_repeating_a_stored_variant(tmp_path):
    """Kill the scoring process after 12 responses; the rerun asks only for variants the cache does not hold and
    ends with the same scores as an uninterrupted run."""
    frame, genes = sample_eqtl_requests(N_GENES)
    cache_dir = tmp_path / "cache"
    with AlphaGenomeStandIn(genes=genes, latency=0.1) as server:
        code = (f"from endobench_tests.resources.test_alphagenome_resume import child_run; "
                f"child_run({server.address!r}, {str(cache_dir)!r})")
        child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=os.environ | {"PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 60
        while server.completed() < 12 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"

        with ScoreCache(cache_dir) as cache:
            stored = cache.stored_variants()
        n_variants = frame["variant_id"].nunique()
        # Up to 2 x max_concurrency responses may have arrived without being committed when the kill came.
        assert 8 <= len(stored) < n_variants

        server.clear_records()
        resumed = _predictor(server.address).score_variants(frame, reference=None, cache_dir=cache_dir, log=LOG)
        asked_again = set(server.requests_by_variant())

    assert asked_again.isdisjoint(stored)
    assert len(asked_again) == n_variants - len(stored)
    with AlphaGenomeStandIn(genes=genes) as server:
        clean = _predictor(server.address).score_variants(frame, reference=None, cache_dir=tmp_path / "clean", log=LOG)
    pd.testing.assert_frame_equal(resumed.scores.drop(columns="from_cache"), clean.scores.drop(columns="from_cache"))
    assert resumed.scores["from_cache"].sum() > 0
