"""The API key reaches the server as gRPC metadata and nowhere else: not logs, files, outcomes, metadata, run config."""

import logging
from pathlib import Path

import dagster as dg
import grpc

from endobench.resources.alphagenome import AlphaGenomePredictor
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, FaultPlan, sample_eqtl_requests

SECRET = "AIzaSy-endobench-test-secret-7f3c9"


def _files_containing(root: Path, text: str) -> list[Path]:
    needle = text.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_the_key_is_sent_to_the_server_but_never_logged_stored_or_returned(tmp_path, caplog):
    """Every request carries the key header; logs (DEBUG, including grpc's), the cache files, the outcome and
    the configuration id do not contain it, even when calls fail."""
    frame, genes = sample_eqtl_requests(20)
    rejected = f"{frame.iloc[0].chrom}:{frame.iloc[0].pos}:{frame.iloc[0].ref}>{frame.iloc[0].alt}"
    faults = FaultPlan(transient_rate=0.3, mid_stream_rate=0.1, permanent={rejected: grpc.StatusCode.INVALID_ARGUMENT},
                       seed=11)
    caplog.set_level(logging.DEBUG)
    with AlphaGenomeStandIn(genes=genes, faults=faults, expected_api_key=SECRET) as server:
        # A RESOURCE_EXHAUSTED is held for until the quota's window frees: the window is 0.2 s here.
        predictor = AlphaGenomePredictor(api_key=SECRET, address=server.address, requests_per_minute=0,
                                         initial_backoff_seconds=0.005, max_backoff_seconds=0.01,
                                         quota_window_seconds=0.2)
        outcome = predictor.score_variants(frame, reference=None, cache_dir=tmp_path,
                                           log=logging.getLogger("endobench.alphagenome"))
        records = server.records
    assert records and all(r.had_api_key for r in records)
    assert outcome.failures_by_reason.get("invalid_argument", 0) > 0
    assert "AlphaGenome:" in caplog.text
    assert SECRET not in caplog.text
    assert _files_containing(tmp_path, SECRET) == []
    assert sorted(p.name for p in tmp_path.iterdir())[0].startswith("variant_scores.sqlite")
    assert SECRET not in outcome.scores.to_csv() + repr(outcome.failures_by_reason) + predictor.configuration_id()


def test_materializing_predictions_keeps_the_key_out_of_run_config_and_event_metadata(tmp_path, monkeypatch):
    """The prediction asset, wired with `dg.EnvVar("ALPHAGENOME_API_KEY")`, scores the sample's chr22 windows
    against the stand-in; neither the run's config, its events, its metadata nor the files it wrote hold the key."""
    from endobench.defs.assets import inputs, predictions, variants
    from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE, prediction_partition_key
    from endobench.defs.resources import build_resources

    monkeypatch.setenv("ALPHAGENOME_API_KEY", SECRET)
    _, genes = sample_eqtl_requests(1)
    sample = SAMPLE_DIR
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    with AlphaGenomeStandIn(genes=genes, expected_api_key=SECRET) as server:
        resources = build_resources(predictor="alphagenome", data_dir=str(tmp_path / "data"), sample_dir=str(sample))
        resources["predictor"] = AlphaGenomePredictor(api_key=dg.EnvVar("ALPHAGENOME_API_KEY"),
                                                      address=server.address, requests_per_minute=0)
        assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], resources=resources,
                              instance=instance).success
        assert dg.materialize([inputs.raw_gtex_eqtls, variants.dhs_filtered_variants, variants.sequence_windows],
                              resources=resources, instance=instance, partition_key=SAMPLE_RELEASE).success
        result = dg.materialize([predictions.variant_effect_predictions], resources=resources, instance=instance,
                                partition_key=prediction_partition_key(SAMPLE_RELEASE, "chr22"))
        n_requests = len(server.records)
    assert result.success
    metadata = result.asset_materializations_for_node("variant_effect_predictions")[0].metadata
    assert metadata["predictor"].value == "alphagenome"
    assert metadata["api_calls"].value == n_requests > 0
    assert metadata["n_scored"].value > 0
    run = instance.get_run_by_id(result.run_id)
    events = instance.all_logs(result.run_id)
    assert SECRET not in repr(run.run_config)
    assert SECRET not in "".join(repr(e) for e in events)
    assert _files_containing(tmp_path, SECRET) == []


def test_the_key_is_in_no_repr_or_str_of_the_resource_or_the_client():
    """Neither the resource nor the SDK clients it builds (their attributes, metadata, channel; the Atlas's stub and
    source) prints the key, while the key still reaches the server on every call."""
    from endobench.lib.scoring.alphagenome_atlas import AtlasSource

    frame, genes = sample_eqtl_requests(1)
    with AlphaGenomeStandIn(genes=genes, expected_api_key=SECRET) as server:
        predictor = AlphaGenomePredictor(api_key=SECRET, address=server.address)
        session = predictor.connect_and_check(frame, logging.getLogger("test_secrets"))
    client = session.client
    try:
        atlas = AtlasSource(session.atlas_stub, session.atlas_catalogue)
        shown = [repr(predictor), str(predictor), repr(client), str(client), repr(vars(client)),
                 repr(client._metadata), repr(vars(client._channel)), repr(session), repr(vars(session.atlas_stub)),
                 repr(vars(atlas))]
        shown.append(repr(vars(client._channel._interceptor)))
    finally:
        session.close()
    assert session.atlas_status == "on"
    assert not [text for text in shown if SECRET in text]
    assert f"address='{server.address}'" in repr(predictor)
