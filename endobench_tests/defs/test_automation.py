"""What the automation conditions request, tick by tick, on the real assets and the bundled sample.

The tests play the automation sensor with `dg.evaluate_automation_conditions`, carrying its cursor from tick to
tick, and materialise what it asks for with `dg.materialize` (the assets and their blocking checks, as a run
launched by the sensor would). Windows are cut for AlphaGenome, which needs no trained model and no key to cut
them. The local model, the motif changes and the prediction partitions are only recorded as materialised
(`report_runless_asset_event`): nothing here reads them, and the conditions look at materialisation events only
(scanning 5,700 variants with 879 motifs would cost seconds and test nothing more).
"""

import warnings

import dagster as dg
import pytest

from endobench.definitions import build_definitions
from endobench.defs import checks
from endobench.defs.assets import inputs, variants
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, chromosome_partitions
from endobench.defs.resources import build_resources
from endobench_tests.defs.conftest import sample_copy
from endobench_tests.defs.test_checks import GTEX, remote_predictor, rewrite_column
from endobench_tests.paths import SAMPLE_DIR

SHARED = {"raw_qtl_tables": {None}, "dhs_peaks": {None}, "local_model": {None}}
CHROMOSOMES = chromosome_partitions.get_partition_keys()
PREDICTIONS = "variant_effect_predictions"


class Ticks:
    """The automation sensor of one instance: each `tick()` evaluates every condition from the last cursor."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
        self.defs, self.instance, self.cursor = defs, instance, None

    def tick(self, defs: dg.Definitions | None = None) -> dict[str, set[str | None]]:
        """What this tick requests: asset name -> partition keys (None for an unpartitioned asset)."""
        defs = defs or self.defs
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Parameter `include_sources`", category=dg.BetaWarning)
            result = dg.evaluate_automation_conditions(defs=defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        return {k.to_user_string(): set(result.get_requested_partitions(k)) for k in keys if result.get_num_requested(k)}

    def materialize(self, assets: list, partition: str | None = None, sample_dir=SAMPLE_DIR) -> dg.ExecuteInProcessResult:
        resources = {**self.defs.resources, "predictor": remote_predictor()}
        resources["sources"] = resources["sources"].model_copy(update={"sample_dir": str(sample_dir)})
        return dg.materialize(assets, instance=self.instance, partition_key=partition, resources=resources,
                              raise_on_error=False)


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """A new deployment, then release v8: every tick's requests, materialising each asset as it is requested."""
    data_dir = tmp_path_factory.mktemp("automation")
    defs = build_definitions(build_resources(data_dir=str(data_dir), sample_dir=str(SAMPLE_DIR)))
    with dg.instance_for_test() as instance:
        ticks, seen = Ticks(defs, instance), {}
        seen["first tick"] = ticks.tick()
        ticks.materialize([inputs.raw_qtl_tables, checks.qtl_effect_is_signed, inputs.dhs_peaks])
        instance.report_runless_asset_event(dg.AssetMaterialization("local_model"))
        seen["shared inputs built"] = ticks.tick()
        ticks.materialize([inputs.dsqtl_sites])
        seen["dsqtl sites built"] = ticks.tick()
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
        seen["v8 added"] = ticks.tick()
        ticks.materialize([inputs.raw_gtex_eqtls, checks.gtex_effect_is_signed], "v8")
        seen["raw table checked"] = ticks.tick()
        ticks.materialize([variants.dhs_filtered_variants, checks.genome_builds_match], "v8")
        seen["variants checked"] = ticks.tick()
        ticks.materialize([variants.sequence_windows, checks.reference_allele_agreement,
                           checks.window_lengths_match_predictor], "v8")
        seen["windows checked"] = ticks.tick()
        seen["next tick"] = ticks.tick()
        instance.report_runless_asset_event(dg.AssetMaterialization("motif_changes", partition="v8"))
        for chrom in CHROMOSOMES[:-1]:
            instance.report_runless_asset_event(dg.AssetMaterialization(PREDICTIONS, partition=f"{chrom}|v8"))
        seen["one chromosome without predictions"] = ticks.tick()
        instance.report_runless_asset_event(dg.AssetMaterialization(PREDICTIONS, partition=f"{CHROMOSOMES[-1]}|v8"))
        seen["every chromosome predicted"] = ticks.tick()
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v10"])
        seen["v10 added"] = ticks.tick()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dg.PreviewWarning)
            warnings.simplefilter("ignore", dg.BetaWarning)
            bumped = defs.map_resolved_asset_specs(
                func=lambda spec: spec.replace_attributes(code_version="2"), selection="sequence_windows"
            )
        seen["windows code bumped"] = ticks.tick(bumped)
        yield seen


def test_the_first_tick_of_a_new_deployment_builds_the_shared_inputs(story):
    """With no release yet, the release-independent inputs are missing, so they are requested."""
    assert story["first tick"] == SHARED


def test_what_reads_the_shared_inputs_follows_them(story):
    """The dsQTL sites are made from the dsQTL table once its signs were checked."""
    assert story["shared inputs built"] == {"dsqtl_sites": {None}}


def test_nothing_is_requested_twice(story):
    """Once built, the shared inputs are not requested again, and nothing else is without a release."""
    assert story["dsqtl sites built"] == {}


def test_a_new_release_requests_its_raw_table_only(story):
    """The raw table has a blocking check, so what reads it waits for the check to pass."""
    assert story["v8 added"] == {"raw_gtex_eqtls": {"v8"}}


def test_each_asset_follows_once_the_checks_of_its_inputs_passed(story):
    assert story["raw table checked"] == {"dhs_filtered_variants": {"v8"}}
    assert story["variants checked"] == {"sequence_windows": {"v8"}}


def test_the_windows_fan_out_to_every_chromosome(story):
    """23 prediction partitions in one tick: the daemon launches them as one backfill, one run per chromosome; the
    release's motif changes are requested with them."""
    assert story["windows checked"] == {PREDICTIONS: {f"{chrom}|v8" for chrom in CHROMOSOMES},
                                        "motif_changes": {"v8"}}


def test_requested_partitions_are_not_requested_again_on_the_next_tick(story):
    assert story["next tick"] == {}


def test_the_report_waits_for_every_chromosome(story):
    assert story["one chromosome without predictions"] == {}
    assert story["every chromosome predicted"] == {"benchmark_report": {"v8"}}


def test_a_second_release_requests_only_its_own_partition(story):
    assert story["v10 added"] == {"raw_gtex_eqtls": {"v10"}}


def test_a_bumped_code_version_requests_the_asset_again(story):
    """Its dependants follow once it is materialised again and its checks pass; the motif changes, partitioned as
    the windows are, join the windows' run (and the report, which reads them, that tick too)."""
    assert story["windows code bumped"] == {"sequence_windows": {"v8"}, "motif_changes": {"v8"},
                                            "benchmark_report": {"v8"}}


def test_a_failed_blocking_check_holds_back_what_reads_the_asset(tmp_path):
    """A GTEx table whose slope holds p-values fails `gtex_effect_is_signed`: the peak filter is not requested."""
    sample = sample_copy(tmp_path / "sample", {GTEX: rewrite_column(GTEX, tmp_path, "slope", "pval_nominal")})
    defs = build_definitions(build_resources(data_dir=str(tmp_path), sample_dir=str(sample)))
    with dg.instance_for_test() as instance:
        ticks = Ticks(defs, instance)
        ticks.tick()
        ticks.materialize([inputs.raw_qtl_tables, checks.qtl_effect_is_signed, inputs.dsqtl_sites, inputs.dhs_peaks], sample_dir=sample)
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
        assert ticks.tick() == {"raw_gtex_eqtls": {"v8"}}
        result = ticks.materialize([inputs.raw_gtex_eqtls, checks.gtex_effect_is_signed], "v8", sample_dir=sample)
        assert [e.passed for e in result.get_asset_check_evaluations()] == [False]
        assert instance.get_materialized_partitions(dg.AssetKey("raw_gtex_eqtls")) == {"v8"}
        assert ticks.tick() == {}
