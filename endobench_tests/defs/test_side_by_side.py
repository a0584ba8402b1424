"""Several predictor configurations scored into the same partition are reported side by side, none overwritten."""

import json

import dagster as dg
import pytest

from endobench.defs.assets import inputs, model, motifs, predictions, report, variants
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE, prediction_partition_key
from endobench.defs.resources import build_resources
from endobench.resources.alphagenome import AlphaGenomePredictor
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests

CHROM = "chr22"


@pytest.mark.slow
def test_local_model_and_two_alphagenome_lengths_share_one_report(tmp_path):
    """The seed's multi-window experiment, done right: each configuration is its own row of the metrics table."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = build_resources(data_dir=str(tmp_path), sample_dir=str(SAMPLE_DIR))
    key = prediction_partition_key(SAMPLE_RELEASE, CHROM)
    assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks, model.local_model], resources=resources,
                          instance=instance).success
    assert dg.materialize([inputs.raw_gtex_eqtls, variants.dhs_filtered_variants, variants.sequence_windows,
                           motifs.motif_changes],
                          resources=resources, instance=instance, partition_key=SAMPLE_RELEASE).success
    assert dg.materialize([predictions.variant_effect_predictions], resources=resources, instance=instance,
                          partition_key=key).success

    _, genes = sample_eqtl_requests(1)
    with AlphaGenomeStandIn(genes=genes) as server:
        for length in (131_072, 1_048_576):
            remote = AlphaGenomePredictor(api_key="stand-in", address=server.address, interval_length=length,
                                          requests_per_minute=0)
            # The windows asset records the geometry of the predictor it was built for; rebuild it per length.
            assert dg.materialize([variants.sequence_windows], resources={**resources, "predictor": remote},
                                  instance=instance, partition_key=SAMPLE_RELEASE).success
            assert dg.materialize([predictions.variant_effect_predictions],
                                  resources={**resources, "predictor": remote}, instance=instance,
                                  partition_key=key).success

    assert dg.materialize([report.benchmark_report], resources=resources, instance=instance,
                          partition_key=SAMPLE_RELEASE).success
    metrics = json.loads((tmp_path / "outputs" / "benchmark_report" / SAMPLE_RELEASE / "metrics.json").read_text())
    dsqtl = {r["configuration"] for r in metrics["results"] if r["truth_set"] == "dsqtl_degner2012"}
    # The motif baseline, from the release's motif changes, sits beside every model.
    assert {c.split("|")[0] for c in dsqtl} == {"local_gkm_dnase", "alphagenome", "motif_jaspar"}
    assert any("|131072|" in c for c in dsqtl) and any("|1048576|" in c for c in dsqtl)
    files = list((tmp_path / "outputs" / "variant_effect_predictions" / SAMPLE_RELEASE / CHROM).glob("*.parquet"))
    assert len(files) == 3
