"""The data sources: the bundled `sample` profile, and the `full` profile downloading through a loopback server.

The loopback server (127.0.0.1) lays files out the way the real hosts do (GTEx bucket, UCSC goldenPath, ENCODE
`@@download`), so the same URL templates are exercised; only the base URLs point at it.
"""

import gzip
import hashlib
import json

import dagster as dg
import pandas as pd
import pytest

from endobench.defs.assets.inputs import dhs_peaks, raw_gtex_eqtls
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.truth_sets.gtex import EGENES, SIGNIF_PAIRS, read_gtex_eqtls
from endobench.resources.sources import FullDataSources, SampleDataSources, data_sources
from endobench.resources.storage import Storage
from endobench_tests.lib.genome.test_liftover import write_hg19_k562_peaks
from endobench_tests.lib.truth_sets.test_gtex import tensorqtl_parquet
from endobench_tests.paths import FIXTURES, SAMPLE_DIR
from endobench_tests.stand_ins.http_server import (
    EXCLUSION_LIST_METADATA,
    FixtureServer,
    encode_file_metadata,
    tar_archive,
)

GTEX_DIR = FIXTURES / "gtex"
V8_TAR = "/bulk-qtl/v8/single-tissue-cis-qtl/GTEx_Analysis_v8_eQTL.tar"
V10_TAR = "/bulk-qtl/v10/single-tissue-cis-qtl/GTEx_Analysis_v10_eQTL.tar"
UCSC_PEAKS = "/goldenPath/hg19/encodeDCC/wgEncodeOpenChromDnase/wgEncodeOpenChromDnaseK562PkV2.narrowPeak.gz"
CHAIN = "/goldenPath/hg19/liftOver/hg19ToHg38.over.chain.gz"
BLACKLIST = "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz"
HG38_FA = "/goldenPath/hg38/bigZips/hg38.fa.gz"
ENCODE_PEAKS = "/files/ENCFF185XRG/@@download/ENCFF185XRG.bed.gz"
K562_HG38 = (SAMPLE_DIR / "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz").read_bytes()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def encode_metadata(data: bytes, **changes) -> bytes:
    return encode_file_metadata(data, **changes)


SIGNIF = gzip.compress((GTEX_DIR / "Whole_Blood.v8.signif_variant_gene_pairs.chr22_32Mb.txt").read_bytes())
EGENES_FILE = gzip.compress((GTEX_DIR / "Whole_Blood.v8.egenes.chr22_32Mb.txt").read_bytes())
LCL_EGENES = (SAMPLE_DIR / "gtex_v8_Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz").read_bytes()


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
            "GTEx_Analysis_v8_eQTL/Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz": LCL_EGENES,
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
        ENCODE_PEAKS: K562_HG38,
    }
    # The publishers' checksums: ENCODE file metadata, UCSC md5sum.txt per folder (encodeDCC's is left out here, to
    # show a download without a published checksum).
    files["/files/ENCFF185XRG/"] = encode_metadata(K562_HG38)
    files["/files/ENCFF356LFX/"] = encode_file_metadata(files[BLACKLIST], EXCLUSION_LIST_METADATA)
    files["/goldenPath/hg38/bigZips/md5sum.txt"] = f"{md5(files[HG38_FA])}  hg38.fa.gz\n".encode()
    files["/goldenPath/hg19/liftOver/md5sum.txt"] = f"{md5(files[CHAIN])}  hg19ToHg38.over.chain.gz\n".encode()
    with FixtureServer(files) as server:
        yield server


def full_sources(host: FixtureServer, tmp_path, **overrides) -> FullDataSources:
    settings = dict(
        sample_dir=str(SAMPLE_DIR), download_dir=str(tmp_path / "full"), peaks_encode_accession="", pinned_md5={},
        gtex_base_url=host.url("/bulk-qtl"), ucsc_base_url=host.url("/goldenPath"), encode_base_url=host.url("/files"),
        download_retries=1, gtex_tissues=["Whole_Blood"],
    )
    return FullDataSources(**{**settings, **overrides})


def test_sample_profile_serves_the_bundled_files_with_their_builds():
    """The default profile is offline: bundled GTEx egenes, hg38 peaks and reference, bundled chains."""
    sources = SampleDataSources(sample_dir=str(SAMPLE_DIR))
    assert sources.gtex_eqtls("v8", "Whole_Blood").path == SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
    assert sources.peaks().build == sources.fetched_reference().build == sources.blacklist().build == "hg38"
    assert sources.chain("hg19", "hg38") == SAMPLE_DIR / "ucsc_hg19ToHg38.over.chain.gz"
    assert sources.chain("hg38", "hg19") is None


def test_a_misspelt_tissue_is_refused_before_any_download_with_the_closest_names():
    """A name that is no GTEx eQTL tissue stops the run at once, without retries, naming the tissues it resembles."""
    with pytest.raises(dg.Failure, match=r"'Livr' is not a GTEx eQTL tissue \(closest: Liver") as caught:
        SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Whole_Blood", "Livr"]).gtex_sources()
    assert caught.value.allow_retries is False


def test_a_tissue_with_a_track_but_no_eqtl_table_is_refused():
    """Bladder has an AlphaGenome RNA-seq track but GTEx publishes no eQTL table for it (fewer than 70 samples)."""
    with pytest.raises(dg.Failure, match="'Bladder' has an AlphaGenome track but no GTEx eQTL table"):
        SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Bladder"]).truth_sets()


def test_any_gtex_eqtl_tissue_is_measured_in_its_biosample_from_alphagenomes_catalogue():
    """Liver's truth sets are measured in UBERON:0001114, the biosample of its GTEx track in the bundled catalogue,
    and an expression readout is asked on it; the two bundled tissues keep their names."""
    specs = SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Liver", "Whole_Blood"]).truth_sets()
    by_name = {s.name: s for s in specs}
    liver = by_name["gtex_liver_k562_dhs"]
    assert liver.measured.biosample.curie == "UBERON:0001114" and liver.label == "GTEx v8 Liver eQTLs"
    assert [(r.kind, r.biosample.curie) for r in liver.readouts] == [("accessibility", "EFO:0002067"),
                                                                     ("expression", "UBERON:0001114")]
    assert by_name["gtex_wb_k562_dhs"].measured.biosample.curie == "UBERON:0013756"


def test_all_means_every_gtex_eqtl_tissue():
    """`all` gives the 49 GTEx v8 eQTL tissues, each with its own biosample."""
    sources = SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["all"], annotations=["k562_dhs"])
    tissues = sources.configured_tissues()
    assert len(tissues) == 49 and "Brain_Spinal_cord_cervical_c-1" in tissues and "Bladder" not in tissues
    specs = [s for s in sources.truth_sets() if s.measured.kind == "expression"]
    assert len({s.measured.biosample.curie for s in specs}) == 49


def test_the_sample_profile_names_the_full_profile_for_a_tissue_it_does_not_bundle():
    sources = SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Liver"])
    with pytest.raises(dg.Failure, match="eGenes of .*Whole_Blood only, not Liver.*ENDOBENCH_PROFILE=full"):
        sources.gtex_eqtls("v8", "Liver")


def test_each_tissue_is_a_truth_set_under_each_annotation():
    """Two tissues and two annotations give four GTEx truth sets, beside the dsQTLs and the field's strong ones."""
    names = [s.name for s in SampleDataSources(sample_dir=str(SAMPLE_DIR)).truth_sets()]
    assert names == ["gtex_wb_k562_dhs", "gtex_wb_lcl_dsqtl_sites", "gtex_lcl_k562_dhs", "gtex_lcl_lcl_dsqtl_sites",
                     "dsqtl_degner2012", "dsqtl_degner2012_strong"]


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError, match="unknown data profile 'ful': set ENDOBENCH_PROFILE"):
        data_sources("ful")


def test_full_profile_extracts_the_tissue_table_from_the_archive_once(host, tmp_path):
    """The archive is downloaded, the Whole Blood pairs member extracted and parsed; a second call reuses the file."""
    sources = full_sources(host, tmp_path)
    before = len(host.requests_for(V8_TAR))
    source = sources.gtex_eqtls("v8", "Whole_Blood")
    assert source.build == "hg38"
    assert source.path.name == "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz"
    parsed = read_gtex_eqtls(source.path, truth_set="gtex_wb")
    assert parsed.kind == SIGNIF_PAIRS and parsed.rows_read == 4
    assert sources.gtex_eqtls("v8", "Whole_Blood").path == source.path
    assert len(host.requests_for(V8_TAR)) == before + 1


def test_full_profile_can_stream_the_member_without_keeping_the_archive(host, tmp_path):
    """With keep_gtex_archive=False only the member reaches the disk."""
    sources = full_sources(host, tmp_path, keep_gtex_archive=False, gtex_file_kind=EGENES)
    source = sources.gtex_eqtls("v8", "Whole_Blood")
    assert read_gtex_eqtls(source.path, truth_set="gtex_wb").kind == EGENES
    assert sorted(p.name for p in source.path.parent.iterdir()) == ["Whole_Blood.v8.egenes.txt.gz"]


def test_later_release_uses_its_own_archive_and_member_template(host, tmp_path):
    """v10 lives in another (gzip-compressed) archive with `eGenes` spelt differently."""
    source = full_sources(host, tmp_path, gtex_file_kind=EGENES).gtex_eqtls("v10", "Whole_Blood")
    assert source.path.name == "Whole_Blood.v10.eGenes.txt.gz"
    assert read_gtex_eqtls(source.path, truth_set="gtex_wb").rows_read == 4


def test_v10_significant_pairs_come_as_parquet_from_the_same_archive(host, tmp_path):
    source = full_sources(host, tmp_path).gtex_eqtls("v10", "Whole_Blood")
    assert source.path.name == "Whole_Blood.v10.eQTLs.signif_pairs.parquet"
    parsed = read_gtex_eqtls(source.path, truth_set="gtex_wb")
    assert (parsed.kind, parsed.rows_read, len(parsed.frame)) == (SIGNIF_PAIRS, 4, 4)


def test_release_or_kind_without_a_layout_is_a_clear_failure(host, tmp_path):
    sources = full_sources(host, tmp_path)
    with pytest.raises(dg.Failure, match="release 'v99' has no archive layout"):
        sources.gtex_eqtls("v99", "Whole_Blood")
    with pytest.raises(dg.Failure, match="no 'all_variant_gene_pairs' table"):
        full_sources(host, tmp_path, gtex_file_kind="all_variant_gene_pairs").gtex_eqtls("v10", "Whole_Blood")


def test_misspelt_tissue_fails_without_retry_naming_the_member(host, tmp_path):
    sources = full_sources(host, tmp_path)
    with pytest.raises(dg.Failure) as caught:
        sources.gtex_eqtls("v8", "Whole Blood")
    assert "Whole Blood.v8.signif_variant_gene_pairs" in str(caught.value.description)
    assert caught.value.allow_retries is False


def test_404_from_the_host_is_a_failure_without_retry(host, tmp_path):
    sources = full_sources(host, tmp_path, peaks_encode_accession="ENCFF000NOPE")
    with pytest.raises(dg.Failure) as caught:
        sources.peaks()
    assert "ENCFF000NOPE" in caught.value.description and "404" in caught.value.description
    assert caught.value.allow_retries is False


def test_default_full_peaks_are_encodes_native_hg38_file_checked_against_its_md5(host, tmp_path):
    """The default K562 peaks are ENCODE's GRCh38 narrowPeak ENCFF185XRG, checked against its metadata's md5sum."""
    assert FullDataSources().peaks_encode_accession == "ENCFF185XRG"
    source = full_sources(host, tmp_path, peaks_encode_accession="ENCFF185XRG").peaks()
    assert source.build == "hg38" and source.path.name == "ENCFF185XRG.bed.gz"
    assert source.verified == f"md5 {md5(K562_HG38)} matches the publisher value"


def test_the_seeds_ucsc_peaks_are_declared_hg19_and_say_they_had_no_checksum(host, tmp_path):
    """With no ENCODE accession the full profile uses the seed's UCSC K562 peaks, declared hg19 so they get lifted;
    that folder lists no checksum here, which is said, not hidden."""
    source = full_sources(host, tmp_path).peaks()
    assert source.build == "hg19" and source.path.name.endswith("K562PkV2.narrowPeak.gz")
    assert source.verified.endswith("the publisher gives no checksum for this file")


def test_a_download_that_differs_from_the_publishers_md5_fails_and_is_removed(tmp_path):
    """A chain whose bytes differ from the folder's md5sum.txt is deleted and the run fails, naming both values."""
    chain = (SAMPLE_DIR / "ucsc_hg19ToHg38.over.chain.gz").read_bytes()
    listing = f"{'0' * 32}  hg19ToHg38.over.chain.gz\n".encode()
    with FixtureServer({CHAIN: chain, "/goldenPath/hg19/liftOver/md5sum.txt": listing}) as server:
        with pytest.raises(dg.Failure) as caught:
            full_sources(server, tmp_path).chain("hg19", "hg38")
    message = caught.value.description
    assert md5(chain) in message and f"publisher value {'0' * 32}" in message
    assert caught.value.allow_retries is True
    assert not (tmp_path / "full" / "ucsc" / "hg19ToHg38.over.chain.gz").exists()


def test_encode_metadata_md5_is_enforced(tmp_path):
    other = b"chr22\t1\t2\n"
    with FixtureServer({ENCODE_PEAKS: K562_HG38, "/files/ENCFF185XRG/": encode_metadata(other)}) as server:
        with pytest.raises(dg.Failure, match=f"differs from the publisher value {md5(other)}"):
            full_sources(server, tmp_path, peaks_encode_accession="ENCFF185XRG").peaks()


@pytest.mark.parametrize(("change", "found", "wanted"), [
    ({"assembly": "hg19"}, "assembly is 'hg19'", "expected hg38"),
    ({"biosample_ontology": {"term_id": "EFO:0002784", "term_name": "GM12878"}}, "biosample is 'GM12878' (EFO:0002784)",
     "expected 'K562' (EFO:0002067)"),
    ({"assay_term_name": "ChIP-seq"}, "assay is 'ChIP-seq'", "expected 'DNase-seq'"),
    ({"status": "revoked"}, "status is 'revoked'", "expected 'released'"),
    ({"output_type": "read-depth normalized signal"}, "output type is 'read-depth normalized signal'",
     "expected 'peaks'"),
])
def test_encode_peaks_whose_metadata_say_otherwise_fail_naming_both_values(tmp_path, change, found, wanted):
    """The accession's own metadata are checked before the file is used (or even downloaded): another build,
    biosample, assay, a revoked file or a signal track stops the run with what ENCODE says and what was expected."""
    with FixtureServer({ENCODE_PEAKS: K562_HG38, "/files/ENCFF185XRG/": encode_metadata(K562_HG38, **change)}) as server:
        with pytest.raises(dg.Failure) as caught:
            full_sources(server, tmp_path, peaks_encode_accession="ENCFF185XRG").peaks()
        assert not server.requests_for(ENCODE_PEAKS)
    assert found in caught.value.description and wanted in caught.value.description
    assert caught.value.allow_retries is False


def test_encode_peaks_in_replicated_form_are_still_peaks(tmp_path):
    """ENCODE's output types `replicated peaks`, `pseudoreplicated peaks` are peaks too."""
    metadata = encode_metadata(K562_HG38, output_type="replicated peaks")
    with FixtureServer({ENCODE_PEAKS: K562_HG38, "/files/ENCFF185XRG/": metadata}) as server:
        assert full_sources(server, tmp_path, peaks_encode_accession="ENCFF185XRG").peaks().build == "hg38"


def test_the_pinned_hg38_checksum_must_match_too(host, tmp_path):
    """hg38.fa.gz carries UCSC's md5 pinned in the code: a file that matches only a (changed) listing fails."""
    sources = full_sources(host, tmp_path, pinned_md5={"hg38/bigZips/hg38.fa.gz": "1c9dcaddfa41027f17cd8f7a82c7293b"})
    with pytest.raises(dg.Failure, match="pinned value 1c9dcaddfa41027f17cd8f7a82c7293b"):
        sources.fetched_reference()


def test_a_file_the_publisher_replaced_is_caught_by_the_recorded_checksum(tmp_path):
    """The first download's md5 is recorded; a later download of a different file under the same name fails even
    though the publisher's listing changed with it."""
    chain = (SAMPLE_DIR / "ucsc_hg19ToHg38.over.chain.gz").read_bytes()
    first = {CHAIN: chain, "/goldenPath/hg19/liftOver/md5sum.txt": f"{md5(chain)}  hg19ToHg38.over.chain.gz".encode()}
    with FixtureServer(first) as server:
        full_sources(server, tmp_path).chain("hg19", "hg38").unlink()
    changed = chain[:-1] + b"x"
    second = {CHAIN: changed, "/goldenPath/hg19/liftOver/md5sum.txt": f"{md5(changed)}  hg19ToHg38.over.chain.gz".encode()}
    (tmp_path / "full" / "ucsc" / "checksums" / "hg19" / "liftOver" / "md5sum.txt").unlink()
    with FixtureServer(second) as server:
        with pytest.raises(dg.Failure, match=f"recorded by an earlier run value {md5(chain)}"):
            full_sources(server, tmp_path).chain("hg19", "hg38")


def test_full_reference_is_downloaded_and_decompressed_for_random_access(host, tmp_path):
    """hg38.fa.gz (plain gzip) becomes hg38.fa; the real base of chr22_32261410_C_T_b38 is C."""
    source = full_sources(host, tmp_path).fetched_reference()
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
    tables = metadata["tables"].value
    assert "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz" in tables and SIGNIF_PAIRS in tables
    assert "not lifted" in tables


def test_the_full_profile_downloads_each_configured_tissues_table(host, tmp_path):
    """Two tissues configured: raw_gtex_eqtls extracts both members from the one archive and reads each into its
    own truth-set source (the real LCL eGenes beside the Whole Blood ones)."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("gtex_release", ["v8"])
    sources = full_sources(host, tmp_path, gtex_file_kind=EGENES,
                           gtex_tissues=["Whole_Blood", "Cells_EBV-transformed_lymphocytes"])
    result = dg.materialize([raw_gtex_eqtls], partition_key="v8", instance=instance,
                            resources={"sources": sources, "storage": _storage(tmp_path)})
    metadata = result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata
    assert sorted(p.name for p in (tmp_path / "full" / "gtex" / "v8").glob("*.egenes.txt.gz")) == [
        "Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz", "Whole_Blood.v8.egenes.txt.gz"]
    assert metadata["rows_read"].value == 4 + 22_759
    frame = pd.read_parquet(metadata["output_path"].value)
    assert set(frame["truth_set"]) == {"gtex_wb", "gtex_lcl"}


def test_pending_downloads_are_the_urls_the_full_profile_fetches_until_each_is_on_disk(host, tmp_path):
    """What the demo probes before any work: the first URL of every input not yet downloaded, each one a URL the
    downloads themselves ask for; none once everything is on disk."""
    sources = full_sources(host, tmp_path, peaks_encode_accession="ENCFF185XRG")
    pending = sources.pending_downloads("v8")
    assert pending == [host.url("/files/ENCFF185XRG/?format=json"), host.url("/files/ENCFF356LFX/?format=json"),
                       host.url(V8_TAR), host.url(HG38_FA)]
    sources.peaks()
    sources.blacklist()
    sources.gtex_eqtls("v8", "Whole_Blood")
    sources.fetched_reference()
    asked = {request.path for request in host.requests}  # as recorded: without the query string
    assert {url.removeprefix(host.base_url).split("?")[0] for url in pending} <= asked
    assert sources.pending_downloads("v8") == []
