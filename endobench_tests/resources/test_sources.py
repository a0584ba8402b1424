"""The data sources: the bundled `sample` profile, and the `full` profile downloading through a loopback server.

The loopback server (127.0.0.1) lays files out the way the real hosts do (GTEx bucket, UCSC goldenPath, ENCODE
`@@download`), so the same URL templates are exercised; only the base URLs point at it.
"""

import gzip

import dagster as dg
import pandas as pd
import pytest

from endobench.defs.assets.inputs import dhs_peaks, raw_gtex_eqtls
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.truth_sets.gtex import EGENES, SIGNIF_PAIRS, read_gtex_eqtls
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage
from endobench_tests.conftest import FIXTURES, SAMPLE_DIR
from endobench_tests.lib.genome.test_liftover import write_hg19_k562_peaks
from endobench_tests.lib.truth_sets.test_gtex import tensorqtl_parquet
from endobench_tests.stand_ins.http_server import FixtureServer, tar_archive

GTEX_DIR = FIXTURES / "gtex"
V8_TAR = "/bulk-qtl/v8/single-tissue-cis-qtl/GTEx_Analysis_v8_eQTL.tar"
V10_TAR = "/bulk-qtl/v10/single-tissue-cis-qtl/GTEx_Analysis_v10_eQTL.tar"
UCSC_PEAKS = "/goldenPath/hg19/encodeDCC/wgEncodeOpenChromDnase/wgEncodeOpenChromDnaseK562PkV2.narrowPeak.gz"
CHAIN = "/goldenPath/hg19/liftOver/hg19ToHg38.over.chain.gz"
BLACKLIST = "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz"
HG38_FA = "/goldenPath/hg38/bigZips/hg38.fa.gz"


SIGNIF = gzip.compress((GTEX_DIR / "Whole_Blood.v8.signif_variant_gene_pairs.chr22_32Mb.txt").read_bytes())
EGENES_FILE = gzip.compress((GTEX_DIR / "Whole_Blood.v8.egenes.chr22_32Mb.txt").read_bytes())


def _reference_fa_gz() -> bytes:
    """The real hg38 chr22:32,000,001-32,300,000 as one segment record, plain gzip like UCSC's hg38.fa.gz."""
    lines = gzip.decompress((SAMPLE_DIR / "kipoiseq_hg38_chr22_32000000_32300000.fa.gz").read_bytes()).decode().split("\n")
    return gzip.compress(("\n".join([">chr22:32000001-32300000", *lines[1:]])).encode())


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    hg19 = tmp_path_factory.mktemp("hg19") / "k562.hg19.narrowPeak"
    write_hg19_k562_peaks(hg19)
    files = {
        V8_TAR: tar_archive({
            "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.signif_variant_gene_pairs.txt.gz": SIGNIF,
            "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz": EGENES_FILE,
            "GTEx_Analysis_v8_eQTL/Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz": b"other tissue",
        }),
        V10_TAR: tar_archive({
            "GTEx_Analysis_v10_eQTL_updated/Whole_Blood.v10.eGenes.txt.gz": EGENES_FILE,
            "GTEx_Analysis_v10_eQTL_updated/Whole_Blood.v10.eQTLs.signif_pairs.parquet": tensorqtl_parquet(
                GTEX_DIR / "Whole_Blood.v8.signif_variant_gene_pairs.chr22_32Mb.txt", hg19.parent / "v10.parquet",
            ).read_bytes(),
        }, gz=True),
        UCSC_PEAKS: gzip.compress(hg19.read_bytes()),
        CHAIN: (SAMPLE_DIR / "ucsc_hg19ToHg38.over.chain.gz").read_bytes(),
        BLACKLIST: (SAMPLE_DIR / "abc_GRCh38_unified_blacklist.bed.gz").read_bytes(),
        HG38_FA: _reference_fa_gz(),
    }
    with FixtureServer(files) as server:
        yield server


def full_sources(host: FixtureServer, tmp_path, **overrides) -> DataSources:
    settings = dict(
        profile="full", sample_dir=str(SAMPLE_DIR), download_dir=str(tmp_path / "full"),
        gtex_base_url=host.url("/bulk-qtl"), ucsc_base_url=host.url("/goldenPath"), encode_base_url=host.url("/files"),
        download_retries=1,
    )
    return DataSources(**{**settings, **overrides})


def test_sample_profile_serves_the_bundled_files_with_their_builds():
    """The default profile is offline: bundled GTEx egenes, hg38 peaks and reference, bundled chains."""
    sources = DataSources(sample_dir=str(SAMPLE_DIR))
    assert sources.gtex_eqtls("v8").path == SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
    assert sources.peaks().build == sources.reference().build == sources.blacklist().build == "hg38"
    assert sources.chain("hg19", "hg38") == SAMPLE_DIR / "ucsc_hg19ToHg38.over.chain.gz"
    assert sources.chain("hg38", "hg19") is None


def test_unknown_profile_is_refused():
    with pytest.raises(dg.Failure, match="unknown data profile 'ful'"):
        DataSources(profile="ful").peaks()


def test_full_profile_extracts_the_tissue_table_from_the_archive_once(host, tmp_path):
    """The archive is downloaded, the Whole Blood pairs member extracted and parsed; a second call reuses the file."""
    sources = full_sources(host, tmp_path)
    before = len(host.requests_for(V8_TAR))
    source = sources.gtex_eqtls("v8")
    assert source.build == "hg38"
    assert source.path.name == "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz"
    parsed = read_gtex_eqtls(source.path, truth_set="gtex_wb")
    assert parsed.kind == SIGNIF_PAIRS and parsed.rows_read == 4
    assert sources.gtex_eqtls("v8").path == source.path
    assert len(host.requests_for(V8_TAR)) == before + 1


def test_full_profile_can_stream_the_member_without_keeping_the_archive(host, tmp_path):
    """With keep_gtex_archive=False only the member reaches the disk."""
    sources = full_sources(host, tmp_path, keep_gtex_archive=False, gtex_file_kind=EGENES)
    source = sources.gtex_eqtls("v8")
    assert read_gtex_eqtls(source.path, truth_set="gtex_wb").kind == EGENES
    assert sorted(p.name for p in source.path.parent.iterdir()) == ["Whole_Blood.v8.egenes.txt.gz"]


def test_later_release_uses_its_own_archive_and_member_template(host, tmp_path):
    """v10 lives in another (gzip-compressed) archive with `eGenes` spelt differently."""
    source = full_sources(host, tmp_path, gtex_file_kind=EGENES).gtex_eqtls("v10")
    assert source.path.name == "Whole_Blood.v10.eGenes.txt.gz"
    assert read_gtex_eqtls(source.path, truth_set="gtex_wb").rows_read == 4


def test_v10_significant_pairs_come_as_parquet_from_the_same_archive(host, tmp_path):
    source = full_sources(host, tmp_path).gtex_eqtls("v10")
    assert source.path.name == "Whole_Blood.v10.eQTLs.signif_pairs.parquet"
    parsed = read_gtex_eqtls(source.path, truth_set="gtex_wb")
    assert (parsed.kind, parsed.rows_read, len(parsed.frame)) == (SIGNIF_PAIRS, 4, 4)


def test_release_or_kind_without_a_layout_is_a_clear_failure(host, tmp_path):
    sources = full_sources(host, tmp_path)
    with pytest.raises(dg.Failure, match="release 'v99' has no archive layout"):
        sources.gtex_eqtls("v99")
    with pytest.raises(dg.Failure, match="no 'all_variant_gene_pairs' table"):
        full_sources(host, tmp_path, gtex_file_kind="all_variant_gene_pairs").gtex_eqtls("v10")


def test_misspelt_tissue_fails_without_retry_naming_the_member(host, tmp_path):
    sources = full_sources(host, tmp_path, gtex_tissue="Whole Blood")
    with pytest.raises(dg.Failure) as caught:
        sources.gtex_eqtls("v8")
    assert "Whole Blood.v8.signif_variant_gene_pairs" in str(caught.value.description)
    assert caught.value.allow_retries is False


def test_404_from_the_host_is_a_failure_without_retry(host, tmp_path):
    sources = full_sources(host, tmp_path, peaks_encode_accession="ENCFF000NOPE")
    with pytest.raises(dg.Failure) as caught:
        sources.peaks()
    assert "ENCFF000NOPE" in caught.value.description and "404" in caught.value.description
    assert caught.value.allow_retries is False


def test_default_full_peaks_are_the_hg19_ucsc_file_and_declare_it(host, tmp_path):
    """Without an ENCODE accession the full profile uses the UCSC K562 peaks, declared hg19 so they get lifted."""
    source = full_sources(host, tmp_path).peaks()
    assert source.build == "hg19" and source.path.name.endswith("K562PkV2.narrowPeak.gz")


def test_full_reference_is_downloaded_and_decompressed_for_random_access(host, tmp_path):
    """hg38.fa.gz (plain gzip) becomes hg38.fa; the real base of chr22_32261410_C_T_b38 is C."""
    source = full_sources(host, tmp_path).reference()
    assert source.path.name == "hg38.fa" and source.build == "hg38"
    assert ReferenceGenome(source.path, "hg38").fetch("chr22", 32261409, 32261410) == "C"


def _storage(tmp_path) -> Storage:
    return Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))


def test_dhs_peaks_lifts_hg19_peaks_to_the_reference_build(host, tmp_path):
    """The seed's input (hg19 K562 peaks) is lifted, not intersected as is: same peaks as the hg38 original."""
    result = dg.materialize([dhs_peaks], resources={"sources": full_sources(host, tmp_path), "storage": _storage(tmp_path)})
    metadata = result.asset_materializations_for_node("dhs_peaks")[0].metadata
    assert metadata["lifted_from"].value == "hg19"
    assert metadata["not_lifted"].value == 0
    assert metadata["genome_build"].value == "hg38"
    frame = pd.read_parquet(metadata["output_path"].value)
    assert frame["start"].tolist() == [32158625, 32202522, 32206842, 32266197]
    assert frame["build"].unique().tolist() == ["hg38"]


def test_raw_gtex_eqtls_downloads_on_demand_in_the_full_profile(host, tmp_path):
    """The release partition's asset fetches the Whole Blood pairs from the archive and parses them by name."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("gtex_release", ["v8"])
    result = dg.materialize(
        [raw_gtex_eqtls], partition_key="v8", instance=instance,
        resources={"sources": full_sources(host, tmp_path), "storage": _storage(tmp_path)},
    )
    metadata = result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata
    assert metadata["rows_read"].value == 4
    assert metadata["file_kind"].value == SIGNIF_PAIRS
    assert metadata["lifted_from"].value == "not lifted"
