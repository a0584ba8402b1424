"""The prediction asset with the AlphaGenome predictor against the loopback stand-in: a refused key fails the run
without poisoning the cache, gene deserts do not crash it, the quota is waited for, progress is logged."""

import dagster as dg
import pandas as pd
import pytest

from endobench.defs.assets import inputs, predictions, variants
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE, prediction_partition_key
from endobench.defs.resources import build_resources
from endobench.lib.scoring.score_cache import ScoreCache
from endobench.resources.alphagenome import AlphaGenomePredictor
from endobench.resources.storage import Storage
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, Quota, sample_eqtl_requests

KEY = "asset-test-key"
PARTITION = prediction_partition_key(SAMPLE_RELEASE, "chr22")


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """The sample's inputs and 1 MB windows, materialised once; tests score chr22 into caches of their own."""
    root = tmp_path_factory.mktemp("graph")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = build_resources(data_dir=str(root), sample_dir=str(SAMPLE_DIR))
    resources["predictor"] = AlphaGenomePredictor(api_key=KEY, address="127.0.0.1:9")  # geometry only, no call
    assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], resources=resources, instance=instance).success
    assert dg.materialize([inputs.raw_gtex_eqtls, variants.dhs_filtered_variants, variants.sequence_windows],
                          resources=resources, instance=instance, partition_key=SAMPLE_RELEASE).success
    return instance, resources


def _predict(graph, cache_dir, address: str, **settings):
    instance, resources = graph
    predictor = AlphaGenomePredictor(**({"api_key": KEY, "address": address, "requests_per_minute": 0} | settings))
    storage = Storage(root=resources["storage"].root, cache_dir=str(cache_dir))
    return dg.materialize([predictions.variant_effect_predictions],
                          resources={**resources, "storage": storage, "predictor": predictor}, instance=instance,
                          partition_key=PARTITION, raise_on_error=False)


def _metadata(result) -> dict:
    event = result.asset_materializations_for_node("variant_effect_predictions")[0]
    return {k: v.value for k, v in event.metadata.items()}


def test_a_wrong_key_fails_the_run_at_once_and_the_right_key_then_scores(graph, tmp_path):
    """Google's refusal of a wrong key fails the step (no retry) with a message naming ALPHAGENOME_API_KEY, and
    leaves the cache empty; the rerun with the right key on the same cache scores the partition."""
    _, genes = sample_eqtl_requests(1)
    with AlphaGenomeStandIn(genes=genes, expected_api_key=KEY) as server:
        failed = _predict(graph, tmp_path, server.address, api_key="a-wrong-key")
        refused = len(server.records)
        server.clear_records()
        passed = _predict(graph, tmp_path, server.address)
        asked = len(server.records)
    assert not failed.success
    message = failed.get_step_failure_events()[0].step_failure_data.error.message
    assert "ALPHAGENOME_API_KEY" in message and "a-wrong-key" not in message
    assert 1 <= refused <= 4
    assert passed.success
    metadata = _metadata(passed)
    assert metadata["api_calls"] == asked == metadata["n_variants"] and metadata["n_scored"] > 0
    assert metadata["cache_hits"] == 0


def test_a_partition_whose_intervals_hold_no_gene_completes(graph, tmp_path):
    """A stand-in annotation without genes: every expression row is gene_not_in_output, accessibility scores."""
    with AlphaGenomeStandIn(genes=[]) as server:
        result = _predict(graph, tmp_path, server.address)
    assert result.success
    metadata = _metadata(result)
    assert metadata["prediction_n_excluded_gene_not_in_output"] > 0
    assert metadata["n_scored"] > 0


def test_under_a_tight_quota_the_partition_loses_no_variant(graph, tmp_path):
    """A quota of 60 calls per 1 s window against 4 workers with no ceiling: nothing fails, most of the quota is
    used."""
    _, genes = sample_eqtl_requests(1)
    quota = Quota(60, window_seconds=1.0)
    with AlphaGenomeStandIn(genes=genes, quota=quota) as server:
        result = _predict(graph, tmp_path, server.address, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)
    assert result.success
    metadata = _metadata(result)
    assert quota.refused > 0
    assert not [k for k in metadata if k.startswith("prediction_n_excluded_retries")]
    assert metadata["n_scored"] > 0 and quota.used_fraction() >= 0.8


def test_progress_appears_in_the_run_log(graph, tmp_path):
    """With a 0.1 s interval and 10 ms calls, the run's log holds progress lines with done/total, rate and ETA."""
    _, genes = sample_eqtl_requests(1)
    with AlphaGenomeStandIn(genes=genes, latency=0.01) as server:
        result = _predict(graph, tmp_path, server.address, max_concurrency=2, progress_interval_seconds=0.1)
    instance, _ = graph
    messages = [e.user_message for e in instance.all_logs(result.run_id)]
    progress = [m for m in messages if "variants (" in m and "/s, ETA" in m and "cache hits" in m]
    assert len(progress) >= 3
    with ScoreCache(tmp_path) as cache:
        assert cache.count_calls() > 0


def test_a_fold_models_predictions_say_which_rows_no_training_input_reached(graph, tmp_path):
    """FOLD_0 on chr22: each row says whether it is held out of the version's training regions and, stricter,
    whether it lies beyond every training input (1 MB around each training region); the second implies the first."""
    _, genes = sample_eqtl_requests(1)
    with AlphaGenomeStandIn(genes=genes) as server:
        result = _predict(graph, tmp_path, server.address, model_version="FOLD_0",
                          fold_regions_path=str(SAMPLE_DIR / "borzoi_sequences_human.hg38.bed.gz"))
    assert result.success
    _, resources = graph
    frame = pd.concat(pd.read_parquet(p) for p in resources["storage"].configuration_tables(
        "variant_effect_predictions", f"{SAMPLE_RELEASE}|chr22"))
    fold_0 = frame["configuration"].str.contains("FOLD_0", regex=False)  # other tests' configurations share the folder
    dsqtls = frame[fold_0 & (frame["truth_set"] == "dsqtl_degner2012")].drop_duplicates("variant_id")
    held, beyond = dsqtls["held_out"].astype(bool), dsqtls["beyond_training_context"].astype(bool)
    assert (held.sum(), beyond.sum()) == (29, 18)
    assert not (beyond & ~held).any()
    assert dsqtls["held_out_scheme"].str.startswith("regions: FOLD_0").all()
