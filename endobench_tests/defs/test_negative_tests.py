"""All-pairs negatives through the assets: the full profile's own download code fetches a GTEx all-pairs table from a
loopback server laid out as GTEx's requester-pays bucket, `gtex_negative_tests` keeps the non-significant tests of
each positive's own gene, and they join their tissue's truth set in `dhs_filtered_variants`.

The table (`allpairs_files`) surrounds the real Whole Blood eGenes whose significant lead is a Degner dsQTL position
on chr1, chr11, chr17 and chr19 (41 genes) with generated tests of the same genes; the truth set is Whole Blood at LCL
DNase-sensitive sites.
"""

import gzip
import json
import shutil

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from endobench.defs.assets import inputs, motifs, negative_tests, predictions, report, variants
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, prediction_partition_key
from endobench.defs.resources import LOCAL, build_predictor
from endobench.resources.sources import FullDataSources
from endobench.resources.storage import Storage
from endobench_tests.lib.truth_sets.allpairs_files import allpairs_rows, dsqtl_sites, positives, write_allpairs
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.http_server import (
    EXCLUSION_LIST_METADATA,
    FixtureServer,
    encode_file_metadata,
    tar_archive,
)

CHROMOSOMES = ("chr1", "chr11", "chr17", "chr19")
V8_TAR = "/bulk-qtl/v8/single-tissue-cis-qtl/GTEx_Analysis_v8_eQTL.tar"
ALLPAIRS = "/gtex-resources/GTEx_Analysis_v8_QTLs/GTEx_Analysis_v8_eQTL_all_associations/Whole_Blood.allpairs.txt.gz"
PEAKS = "/files/ENCFF185XRG/@@download/ENCFF185XRG.bed.gz"
BLACKLIST = "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz"
PROJECT, TOKEN = "endobench-test-billing", "test-token-not-a-secret-7f3a"
TRUTH_SET = "gtex_wb_lcl_dsqtl_sites"


def gtex_host_files(allpairs: bytes) -> dict[str, bytes]:
    """The full profile's downloads for Whole Blood eGenes at LCL DNase-sensitive sites, with all-pairs negatives."""
    peaks = (SAMPLE_DIR / "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz").read_bytes()
    blacklist = (SAMPLE_DIR / "abc_GRCh38_unified_blacklist.bed.gz").read_bytes()
    return {
        V8_TAR: tar_archive({"GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz":
                             (SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz").read_bytes()}),
        PEAKS: peaks, "/files/ENCFF185XRG/": encode_file_metadata(peaks),
        BLACKLIST: blacklist, "/files/ENCFF356LFX/": encode_file_metadata(blacklist, EXCLUSION_LIST_METADATA),
        ALLPAIRS: allpairs,
    }


def allpairs_host(tmp_path) -> FixtureServer:
    """The loopback publishers; the all-pairs table in a requester-pays bucket that declares its MD5."""
    server = FixtureServer(gtex_host_files(write_allpairs(allpairs_rows(CHROMOSOMES), tmp_path / "wb.gz").read_bytes()))
    server.goog_hash(ALLPAIRS)
    server.requester_pays(ALLPAIRS, PROJECT, TOKEN)
    return server


def negatives_sources(server: FixtureServer, download_dir, **overrides) -> FullDataSources:
    settings = dict(
        sample_dir=str(SAMPLE_DIR), download_dir=str(download_dir), gtex_base_url=server.url("/bulk-qtl"),
        encode_base_url=server.url("/files"), gtex_allpairs_base_url=server.url("/gtex-resources"),
        gtex_allpairs_billing_project=PROJECT, gcs_access_token=TOKEN, gtex_tissues=["Whole_Blood"],
        gtex_file_kind="egenes", annotations=["lcl_dsqtl_sites"], gtex_negatives="allpairs",
        reference_fasta=str(SAMPLE_DIR / "hg38_sample_segments.fa"), pinned_md5={}, download_retries=1,
    )
    return FullDataSources(**{**settings, **overrides})


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """The inputs, `gtex_negative_tests` and `dhs_filtered_variants` of v8, materialised once."""
    tmp_path = tmp_path_factory.mktemp("negatives")
    storage = Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
    with allpairs_host(tmp_path) as server:
        resources = {"sources": negatives_sources(server, tmp_path / "full"), "storage": storage}
        assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], resources=resources,
                              instance=instance).success
        result = dg.materialize([inputs.raw_gtex_eqtls, negative_tests.gtex_negative_tests,
                                 variants.dhs_filtered_variants], resources=resources, instance=instance,
                                partition_key="v8")
        requests = [r for r in server.requests if r.path == ALLPAIRS]
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("gtex_negative_tests")[0].metadata.items()}
    return {"storage": storage, "metadata": metadata, "requests": requests, "download_dir": tmp_path / "full"}


def test_negatives_are_non_significant_tests_of_each_positives_own_gene(materialized):
    """Every kept test is of a gene with a positive at a dsQTL site, and above that gene's own threshold."""
    negatives = materialized["storage"].read_table("gtex_negative_tests", "v8")
    egenes = pd.read_csv(SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz", sep="\t").set_index("gene_id")
    assert not negatives["is_significant"].any()
    assert set(negatives["gene_id"]) <= set(positives(CHROMOSOMES)["gene_id"])
    assert (negatives["pval"].to_numpy() > egenes.loc[negatives["gene_id"], "pval_nominal_threshold"].to_numpy()).all()


def nearest_two(candidates: pd.DataFrame, leads: pd.DataFrame) -> set[tuple[str, str]]:
    """Per gene, the two candidates nearest to its lead in |log10 TSS distance| and MAF, each in units of the leads'
    standard deviation: the rule, written out."""
    def covariates(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"tss": np.log10(frame["tss_distance"].abs() + 1), "maf": frame["maf"]})

    spread = covariates(leads).std()
    lead = covariates(leads.set_index("gene_id")).loc[candidates["gene_id"]].to_numpy()
    distance = (np.abs(covariates(candidates).to_numpy() - lead) / spread.to_numpy()).sum(axis=1)
    ranked = candidates.assign(distance=distance).sort_values(["gene_id", "distance"])
    return set(ranked.groupby("gene_id").head(2)[["gene_id", "variant_id"]].itertuples(index=False, name=None))


def test_each_gene_keeps_at_most_two_tests_the_nearest_to_its_positive(materialized):
    """The default bound is 2 per gene: 39 of the 41 genes have a dsQTL site within 1 Mb, one of them only one; the
    two kept are the two nearest to the gene's lead of its tests that pass the rule."""
    negatives = materialized["storage"].read_table("gtex_negative_tests", "v8")
    per_gene = negatives.groupby("gene_id").size()
    assert per_gene.max() == 2 and len(per_gene) == 39 and len(negatives) == 77
    rows = allpairs_rows(CHROMOSOMES)
    leads = positives(CHROMOSOMES)
    leads = rows[rows["variant_id"].isin(leads["variant_id"])]
    threshold = pd.read_csv(SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz", sep="\t").set_index("gene_id")[
        "pval_nominal_threshold"]
    sites = {f"{c}_{p}" for c, p in dsqtl_sites()[["chrom", "pos"]].itertuples(index=False, name=None)}
    at_site = rows["variant_id"].str.rsplit("_", n=3).str[0].isin(sites)
    candidates = rows[rows["gene_id"].isin(leads["gene_id"]) & at_site]
    candidates = candidates[candidates["pval_nominal"].to_numpy() > threshold.loc[candidates["gene_id"]].to_numpy()]
    assert set(negatives[["gene_id", "variant_id"]].itertuples(index=False, name=None)) == nearest_two(candidates,
                                                                                                       leads)


def test_the_asset_says_what_it_read_kept_and_left_out(materialized):
    metadata = materialized["metadata"]
    assert metadata["rows_read"] == len(allpairs_rows(CHROMOSOMES)) == 305
    assert metadata["row_count"] == 77 and metadata["per_gene"] == 2
    assert metadata["n_excluded_gtex_wb_gene_without_positive"] == 3  # the gene GTEx found no eQTL for
    assert metadata["n_excluded_gtex_wb_significant"] == 41 + 31  # the leads, and one test per gene below threshold
    assert "pval_nominal above the gene's pval_nominal_threshold" in metadata["rule"]


def test_the_download_names_the_billing_project_and_sends_the_token_never_in_the_url(materialized):
    """Requester pays: `userProject` in the query, the token only in the Authorization header; the file was checked
    against the MD5 the bucket declares, and the token is nowhere in what the run wrote."""
    requests = materialized["requests"]
    assert requests and all(r.query == f"userProject={PROJECT}" and r.authorization == f"Bearer {TOKEN}"
                            for r in requests)
    ledger = (materialized["download_dir"] / "checksums.json").read_text()
    assert "gtex-resources/GTEx_Analysis_v8_QTLs" in ledger
    files = materialized["storage"].read_stats("gtex_negative_tests", "v8")["gtex_wb"]["files"]
    assert files["Whole_Blood.allpairs.txt.gz"].endswith("matches the publisher value")
    written = [p for p in materialized["download_dir"].parent.rglob("*") if p.is_file() and p.suffix != ".gz"]
    assert not [p for p in written if TOKEN.encode() in p.read_bytes()]


def test_negatives_join_their_tissue_truth_set_and_its_funnel(materialized):
    """In `dhs_filtered_variants` the 77 tests are rows of Whole Blood at LCL DNase-sensitive sites with
    is_significant False, and the funnel counts them as `negative_tests`."""
    storage = materialized["storage"]
    rows = storage.read_table("dhs_filtered_variants", "v8")
    mine = rows[rows["truth_set"] == TRUTH_SET]
    assert (~mine["is_significant"]).sum() >= 77
    assert set(storage.read_table("gtex_negative_tests", "v8")["variant_id"]) <= set(mine["variant_id"])
    assert storage.read_stats("dhs_filtered_variants", "v8")[TRUTH_SET]["negative_tests"] == 77


def test_without_a_billing_project_the_failure_says_what_to_set(tmp_path):
    """GTEx's all-pairs bucket is requester pays: an anonymous download gets 400, and the failure names the settings."""
    with allpairs_host(tmp_path) as server:
        sources = negatives_sources(server, tmp_path / "full", gtex_allpairs_billing_project="", gcs_access_token="")
        with pytest.raises(dg.Failure) as caught:
            sources.gtex_allpairs("v8", "Whole_Blood")
    assert "HTTP 400" in caught.value.description
    assert "ENDOBENCH_GTEX_ALLPAIRS_BILLING_PROJECT" in caught.value.description
    assert "ENDOBENCH_GCS_ACCESS_TOKEN" in caught.value.description and caught.value.allow_retries is False


def test_all_pairs_tables_on_another_build_than_the_reference_stop_before_any_is_read(materialized, tmp_path):
    """The annotations are on the reference's build: hg38 all-pairs tables against an hg19 reference stop the run,
    naming both builds, instead of intersecting positions of two builds."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
    with allpairs_host(tmp_path) as server:
        sources = negatives_sources(server, materialized["download_dir"], reference_build="hg19")
        result = dg.materialize([negative_tests.gtex_negative_tests], partition_key="v8", instance=instance,
                                resources={"sources": sources, "storage": materialized["storage"]},
                                raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.step_failure_data.error.message
    assert "all-pairs:Whole_Blood.allpairs.txt.gz (hg38)" in message and "reference (hg19)" in message


def test_the_demo_probes_the_allpairs_bucket_while_its_table_is_missing(tmp_path):
    """`pending_downloads` (what the demo asks before any work) names the all-pairs URL until the file is in place."""
    with allpairs_host(tmp_path) as server:
        sources = negatives_sources(server, tmp_path / "full")
        assert server.url(f"{ALLPAIRS}?userProject={PROJECT}") in sources.pending_downloads("v8")
        sources.gtex_allpairs("v8", "Whole_Blood")
        assert not [url for url in sources.pending_downloads("v8") if "gtex-resources" in url]


def test_a_file_already_in_place_is_used_without_a_request(tmp_path):
    """Copied there by hand (`gsutil -u <project> cp`), the table is read as it is."""
    placed = tmp_path / "full" / "gtex" / "v8" / "allpairs" / "Whole_Blood.allpairs.txt.gz"
    placed.parent.mkdir(parents=True)
    write_allpairs(allpairs_rows(CHROMOSOMES), placed)
    with allpairs_host(tmp_path) as server:
        files = negatives_sources(server, tmp_path / "full", gcs_access_token="").gtex_allpairs("v8", "Whole_Blood")
        assert not server.requests_for(ALLPAIRS)
    assert [f.path for f in files] == [placed] and gzip.decompress(placed.read_bytes()).startswith(b"gene_id\t")


@pytest.mark.slow
def test_the_report_matches_positives_to_negatives_of_their_own_genes_with_balance(tmp_path, small_model_file):
    """Through every asset to the report (the local model scoring the chromosomes of the 41 genes): Whole Blood at LCL
    DNase-sensitive sites gets a negative of its own gene for each positive gene that has one, the covariates'
    balance before and after matching, an auROC, and a section saying where the negatives come from."""
    storage = Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))
    storage.local_model_path().parent.mkdir(parents=True)
    shutil.copy(small_model_file, storage.local_model_path())
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
    with allpairs_host(tmp_path) as server:
        sources = negatives_sources(server, tmp_path / "full")
        resources = {"sources": sources, "storage": storage, "predictor": build_predictor(LOCAL, storage, sources)}
        assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], resources=resources,
                              instance=instance).success
        assert dg.materialize([inputs.raw_gtex_eqtls, negative_tests.gtex_negative_tests,
                               variants.dhs_filtered_variants, variants.sequence_windows, motifs.motif_changes],
                              resources=resources, instance=instance, partition_key="v8").success
    for chrom in CHROMOSOMES:
        assert dg.materialize([predictions.variant_effect_predictions], resources=resources, instance=instance,
                              partition_key=str(prediction_partition_key("v8", chrom))).success
    assert dg.materialize([report.benchmark_report], resources=resources, instance=instance,
                          partition_key="v8").success

    folder = tmp_path / "outputs" / "benchmark_report" / "v8"
    metrics = json.loads((folder / "metrics.json").read_text())
    model = next(r for r in metrics["results"] if r["truth_set"] == TRUTH_SET and r["predictor"] == "local_gkm_dnase")
    matching, classified = model["matching"], model["classification"]
    assert matching["method"].startswith("within gene") and matching["n_matched"] >= 30
    assert set(matching["balance_before"]) == set(matching["balance_after"]) == {"log10_tss_distance", "maf"}
    assert abs(matching["balance_after"]["log10_tss_distance"]) <= abs(matching["balance_before"]["log10_tss_distance"])
    assert classified["n_positive"] == classified["n_negative"] == matching["n_matched"]
    assert 0 <= classified["auroc"] <= 1 and classified["auroc_ci"][0] <= classified["auroc"]
    assert metrics["negative_tests"]["gtex_wb"]["rows_kept"] == 77
    text = (folder / "report.md").read_text()
    assert "Non-significant tests from GTEx's all-pairs tables" in text and "before -> after matching" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {TRUTH_SET} |") and "within gene" in line)
    assert f"-> {matching['n_matched']:,} matched pairs" in row and "log10 TSS distance" in row
