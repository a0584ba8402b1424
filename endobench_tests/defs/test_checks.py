"""Blocking checks guard the prediction step: each is shown passing on the real sample and failing on bad input."""

import gzip

import dagster as dg
import pandas as pd

from endobench.defs import checks
from endobench.defs.assets import inputs
from endobench.resources.sources import SampleDataSources
from endobench.resources.storage import Storage
from endobench_tests.defs.conftest import check_results, sample_copy
from endobench_tests.paths import SAMPLE_DIR

GTEX = "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
DEGNER = "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"


def resources(tmp_path, sample_dir=SAMPLE_DIR):
    return {
        "storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
        "sources": SampleDataSources(sample_dir=str(sample_dir)),
    }


def rewrite_column(name, tmp_path, column, source_column):
    """A copy of a bundled table whose `column` holds another column's values (the seed's mistake)."""
    table = pd.read_csv(SAMPLE_DIR / name, sep="\t", dtype=str, keep_default_na=False)
    table[column] = table[source_column]
    path = tmp_path / f"altered_{name}"
    with gzip.open(path, "wt") as handle:
        table.to_csv(handle, sep="\t", index=False)
    return path


def test_gtex_slope_check_passes_on_the_real_slopes(tmp_path, instance):
    result = dg.materialize([inputs.raw_gtex_eqtls, checks.gtex_effect_is_signed], resources=resources(tmp_path),
                            instance=instance, partition_key="v8")
    assert check_results(result) == {"gtex_effect_is_signed": True}


def test_gtex_slope_check_fails_when_the_slope_holds_pval_nominal(tmp_path, instance):
    """The seed read pval_nominal as the slope: never negative, all in [0, 1], piled near 0."""
    altered = rewrite_column(GTEX, tmp_path, "slope", "pval_nominal")
    sample = sample_copy(tmp_path / "sample", {GTEX: altered})
    result = dg.materialize([inputs.raw_gtex_eqtls, checks.gtex_effect_is_signed],
                            resources=resources(tmp_path, sample), instance=instance, partition_key="v8",
                            raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert "never negative" in evaluation.description
    assert "looks like p-values" in evaluation.description


def test_qtl_effect_check_passes_on_degner_betas(tmp_path, instance):
    result = dg.materialize([inputs.raw_qtl_tables, checks.qtl_effect_is_signed], resources=resources(tmp_path),
                            instance=instance)
    assert check_results(result) == {"qtl_effect_is_signed": True}


def test_qtl_effect_check_fails_when_beta_holds_p_values(tmp_path, instance):
    altered = rewrite_column(DEGNER, tmp_path, "Beta", "Pr(>|t|)")
    sample = sample_copy(tmp_path / "sample", {DEGNER: altered})
    result = dg.materialize([inputs.raw_qtl_tables, checks.qtl_effect_is_signed],
                            resources=resources(tmp_path, sample), instance=instance, raise_on_error=False)
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.description.startswith("dsqtl_degner2012: ")


# --- builds, reference agreement, window lengths: through the real assets up to sequence_windows ---------------

from endobench.defs.assets import variants  # noqa: E402
from endobench.resources.alphagenome import AlphaGenomePredictor  # noqa: E402

HG19_SEGMENT = SAMPLE_DIR / "hisat2_example_hg19_chr22_20000001-21000000.fa.gz"
UPSTREAM = [inputs.raw_gtex_eqtls, inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks,
            variants.dhs_filtered_variants]


def remote_predictor(interval_length=1_048_576):
    """AlphaGenome's window geometry; building windows never calls the API, so no key is needed here."""
    return AlphaGenomePredictor(api_key="unused-by-windows", interval_length=interval_length)


def window_resources(tmp_path, **sources):
    return {
        "storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
        "sources": SampleDataSources(sample_dir=str(SAMPLE_DIR), **sources),
        "predictor": remote_predictor(),
    }


def materialise_windows(tmp_path, instance, **sources):
    return dg.materialize(
        [*UPSTREAM, variants.sequence_windows, checks.genome_builds_match, checks.reference_allele_agreement,
         checks.window_lengths_match_predictor],
        resources=window_resources(tmp_path, **sources), instance=instance, partition_key="v8", raise_on_error=False,
    )


def test_builds_agreement_and_lengths_pass_on_the_sample(tmp_path, instance):
    result = materialise_windows(tmp_path, instance)
    assert check_results(result) == {
        "genome_builds_match": True, "reference_allele_agreement": True, "window_lengths_match_predictor": True,
    }


def test_a_hg19_fasta_labelled_hg38_fails_reference_agreement(tmp_path, instance):
    """hg38 variants read against real hg19 sequence (chr22:20-21 Mb) match the genome only by chance."""
    fasta = tmp_path / "labelled_hg38.fa"
    fasta.write_bytes(gzip.decompress(HG19_SEGMENT.read_bytes()))
    result = materialise_windows(tmp_path, instance, reference_fasta=str(fasta), reference_build="hg38")
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "reference_allele_agreement")
    assert not evaluation.passed
    assert "all truth sets:" in evaluation.description
    assert evaluation.metadata["checked_all"].value >= 10
    assert evaluation.metadata["agreement_all"].value < 0.7


def test_a_reference_on_another_build_than_the_peaks_stops_the_graph(tmp_path, instance):
    """Peaks are hg38, the reference says hg19 and no hg38->hg19 chain is given: a loud error naming both files."""
    fasta = tmp_path / "hg19.fa"
    fasta.write_bytes(gzip.decompress(HG19_SEGMENT.read_bytes()))
    result = materialise_windows(tmp_path, instance, reference_fasta=str(fasta), reference_build="hg19")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert "hg38" in message and "hg19" in message
    assert "hg19.fa" in message and "narrowPeak" in message


def test_builds_check_fails_when_the_reference_changed_after_filtering(tmp_path, instance):
    """Variants were filtered against hg38; the reference was then switched to a hg19 file: the check says so."""
    materialise_windows(tmp_path, instance)
    storage = window_resources(tmp_path)["storage"]
    result = checks.builds_result(storage.read_table("dhs_filtered_variants", "v8"),
                                  {"dhs_peaks": "hg38", "dsqtl_sites": "hg38"}, "hg19")
    assert not result.passed
    assert result.description.startswith("builds differ")
    assert result.metadata["reference"].value == "hg19"
    assert result.metadata["truth_set:gtex_wb_k562_dhs"].value == "hg38"


def test_window_length_check_fails_when_the_predictor_reads_another_length(tmp_path, instance):
    """Windows cut for a 1 Mb interval are refused for a predictor now set to 128 KB."""
    materialise_windows(tmp_path, instance)
    windows = window_resources(tmp_path)["storage"].read_table("sequence_windows", "v8")
    result = checks.window_length_result(windows, remote_predictor(interval_length=131_072).window_length())
    assert not result.passed
    assert result.metadata["expected_length"].value == 131_072
    assert result.metadata["lengths_seen"].value == "[1048576]"


def test_a_finemapped_table_is_a_truth_set_beside_the_dsqtls(tmp_path, instance):
    """Configured through the data sources, a SuSiE-style table is read by header name into raw_qtl_tables."""
    table = tmp_path / "susie.tsv"
    table.write_text(
        "variant_id\tgene_id\ttissue\tpip\tbeta_posterior\n"
        "chr22_32261410_C_T_b38\tENSG00000128253.13\tWhole_Blood\t0.97\t-0.39\n"
        "chr22_32156952_A_G_b38\tENSG00000228839.5\tLung\t0.95\t-0.10\n"
    )
    res = resources(tmp_path)
    res["sources"] = SampleDataSources(sample_dir=str(SAMPLE_DIR), finemapped_eqtls=str(table))
    result = dg.materialize([inputs.raw_qtl_tables], resources=res, instance=instance)
    frame = res["storage"].read_table("raw_qtl_tables")
    finemapped = frame[frame["truth_set"] == "finemapped_whole_blood"]
    assert finemapped["gene_id"].tolist() == ["ENSG00000128253.13"]
    assert {s.name for s in res["sources"].truth_sets()} >= {"finemapped_whole_blood_k562_dhs",
                                                             "finemapped_whole_blood_lcl_dsqtl_sites"}
    metadata = result.asset_materializations_for_node("raw_qtl_tables")[0].metadata
    assert metadata["n_excluded_finemapped_whole_blood_other_tissue"].value == 1
