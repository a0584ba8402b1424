"""Downloads and tar extraction through the real `requests` client against a loopback HTTP server (127.0.0.1)."""

import gzip
import hashlib
from pathlib import Path

import pytest

from endobench.lib.io.downloads import DownloadError, download, extract_tar_member, gunzip_file, partial_path
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.http_server import Fault, FixtureServer, tar_archive

# A real file of the sample (GTEx v8 Whole Blood egenes, chr22 rows): 66 KB of gzip, so a cut mid-way is real.
EGENES_CHR22 = (SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz").read_bytes()
PATH = "/gtex/Whole_Blood.v8.egenes.chr22.txt.gz"
FAST = {"retries": 3, "backoff": 0.01, "timeout": (2.0, 2.0)}


@pytest.fixture
def server():
    with FixtureServer({PATH: EGENES_CHR22}) as srv:
        yield srv


def test_clean_download_writes_the_exact_bytes_and_leaves_no_partial_file(server, tmp_path):
    """A plain GET lands at `dest` byte for byte; the `.partial` file is renamed away, not left behind."""
    dest = download(server.url(PATH), tmp_path / "egenes.txt.gz", expected_size=len(EGENES_CHR22),
                    sha256=hashlib.sha256(EGENES_CHR22).hexdigest(), **FAST)
    assert dest.read_bytes() == EGENES_CHR22
    assert not partial_path(dest).exists()
    assert [(r.status, r.range) for r in server.requests_for(PATH)] == [(200, None)]


def test_existing_complete_file_is_reused_without_a_request(server, tmp_path):
    """Download on demand is idempotent: a file of the expected size is not fetched again."""
    dest = download(server.url(PATH), tmp_path / "egenes.txt.gz", expected_size=len(EGENES_CHR22), **FAST)
    download(server.url(PATH), dest, expected_size=len(EGENES_CHR22), **FAST)
    assert len(server.requests_for(PATH)) == 1


def test_transfer_cut_mid_way_resumes_from_the_bytes_already_on_disk(server, tmp_path):
    """The server drops the connection after 20,000 bytes; the retry asks for `bytes=20000-` and completes the file."""
    server.inject(PATH, Fault.cut(20_000))
    dest = download(server.url(PATH), tmp_path / "egenes.txt.gz", **FAST)
    assert dest.read_bytes() == EGENES_CHR22
    seen = [(r.status, r.range) for r in server.requests_for(PATH)]
    assert seen == [(200, None), (206, "bytes=20000-")]


def test_partial_file_from_an_earlier_run_is_resumed(server, tmp_path):
    """A `.partial` left by a killed run is continued with a Range request, not thrown away."""
    dest = tmp_path / "egenes.txt.gz"
    partial_path(dest).write_bytes(EGENES_CHR22[:50_000])
    download(server.url(PATH), dest, expected_size=len(EGENES_CHR22), **FAST)
    assert dest.read_bytes() == EGENES_CHR22
    assert [r.range for r in server.requests_for(PATH)] == ["bytes=50000-"]


def test_server_ignoring_range_restarts_the_file_instead_of_appending(server, tmp_path):
    """A 200 answer to a Range request carries the whole file: it must overwrite the partial bytes."""
    dest = tmp_path / "egenes.txt.gz"
    partial_path(dest).write_bytes(EGENES_CHR22[:1_000])
    server.inject(PATH, Fault.ignore_range())
    download(server.url(PATH), dest, **FAST)
    assert dest.read_bytes() == EGENES_CHR22


def test_404_fails_at_once_naming_the_url_and_what_to_check(server, tmp_path):
    """A missing file is permanent: one request, an error with the URL and a fix, and no file at `dest`."""
    url = server.url("/gtex/No_Such_Tissue.v8.egenes.txt.gz")
    with pytest.raises(DownloadError) as caught:
        download(url, tmp_path / "x.gz", **FAST)
    assert url in str(caught.value) and "404" in str(caught.value) and "Check the URL" in str(caught.value)
    assert caught.value.retryable is False
    assert len(server.requests_for("/gtex/No_Such_Tissue.v8.egenes.txt.gz")) == 1
    assert not (tmp_path / "x.gz").exists()


def test_500_is_retried_and_then_succeeds(server, tmp_path):
    """Two server errors, then the file: transient 5xx answers are retried with backoff."""
    server.inject(PATH, Fault.status(500), Fault.status(503))
    dest = download(server.url(PATH), tmp_path / "egenes.txt.gz", **FAST)
    assert dest.read_bytes() == EGENES_CHR22
    assert [r.status for r in server.requests_for(PATH)] == [500, 503, 200]


def test_persistent_500_gives_up_after_the_bounded_retries(server, tmp_path):
    """With retries=2 there are exactly 3 attempts, then a retryable error naming the URL."""
    server.inject(PATH, *[Fault.status(500)] * 5)
    with pytest.raises(DownloadError) as caught:
        download(server.url(PATH), tmp_path / "egenes.txt.gz", retries=2, backoff=0.01, timeout=(2.0, 2.0))
    assert caught.value.retryable is True
    assert server.url(PATH) in str(caught.value) and "3 attempts" in str(caught.value)
    assert len(server.requests_for(PATH)) == 3


def test_read_timeout_is_retried(server, tmp_path):
    """A server that stalls past the read timeout is abandoned and asked again."""
    server.inject(PATH, Fault.stall(1.5))
    dest = download(server.url(PATH), tmp_path / "egenes.txt.gz", retries=2, backoff=0.01, timeout=(2.0, 0.5))
    assert dest.read_bytes() == EGENES_CHR22
    assert len(server.requests_for(PATH)) == 2


def test_wrong_size_is_an_error_and_nothing_is_renamed_into_place(server, tmp_path):
    """The server's file is not the size the data sources expect: error with both sizes, no file at `dest`."""
    with pytest.raises(DownloadError) as caught:
        download(server.url(PATH), tmp_path / "egenes.txt.gz", expected_size=len(EGENES_CHR22) + 7, **FAST)
    assert f"{len(EGENES_CHR22):,}" in str(caught.value) and f"{len(EGENES_CHR22) + 7:,}" in str(caught.value)
    assert not (tmp_path / "egenes.txt.gz").exists()
    assert not partial_path(tmp_path / "egenes.txt.gz").exists()


def test_checksum_mismatch_is_an_error(server, tmp_path):
    """Right size, wrong content: the SHA-256 check catches it and the file is not kept."""
    with pytest.raises(DownloadError, match="SHA-256"):
        download(server.url(PATH), tmp_path / "egenes.txt.gz", sha256="0" * 64, **FAST)
    assert not (tmp_path / "egenes.txt.gz").exists()


LCL = (SAMPLE_DIR / "gtex_v8_Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz").read_bytes()
ARCHIVE = tar_archive({
    "GTEx_Analysis_v8_eQTL/Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz": LCL,
    "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz": EGENES_CHR22,
    "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.signif_variant_gene_pairs.txt.gz": b"not needed",
})


def test_only_the_requested_member_is_extracted_from_a_localtar_archive(tmp_path):
    """From an archive of three members, exactly one file appears: the requested member's bytes."""
    archive = tmp_path / "GTEx_Analysis_v8_eQTL.tar"
    archive.write_bytes(ARCHIVE)
    out = tmp_path / "out"
    dest = extract_tar_member(archive, "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz", out / "wb.txt.gz")
    assert dest.read_bytes() == EGENES_CHR22
    assert sorted(p.name for p in out.iterdir()) == ["wb.txt.gz"]


def test_member_streams_from_a_gzipped_tar_at_a_url(tmp_path):
    """A gzip-compressed tar (as GTEx v10 ships) read straight from HTTP, without saving the archive."""
    with FixtureServer({"/v10.tar": tar_archive({"d/Whole_Blood.v10.eGenes.txt.gz": EGENES_CHR22}, gz=True)}) as srv:
        dest = extract_tar_member(srv.url("/v10.tar"), "d/Whole_Blood.v10.eGenes.txt.gz", tmp_path / "wb.gz", **FAST)
    assert gzip.decompress(dest.read_bytes()).startswith(b"gene_id\tgene_name")


def test_missing_member_names_the_archive_and_lists_what_is_there(tmp_path):
    """Asking for a misspelt tissue says which members exist, so the user can fix the name."""
    archive = tmp_path / "a.tar"
    archive.write_bytes(ARCHIVE)
    with pytest.raises(DownloadError) as caught:
        extract_tar_member(archive, "GTEx_Analysis_v8_eQTL/Whole Blood.v8.egenes.txt.gz", tmp_path / "x")
    assert str(archive) in str(caught.value) and "Whole_Blood.v8.egenes.txt.gz" in str(caught.value)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", ["../evil.txt.gz", "/etc/evil.txt.gz", "GTEx/../../evil.txt.gz"])
def test_path_traversal_member_names_are_refused(tmp_path, name):
    """Absolute names and names with `..` are refused before anything is read or written."""
    archive = tmp_path / "evil.tar"
    archive.write_bytes(tar_archive({name: b"owned"}))
    with pytest.raises(DownloadError, match="refusing"):
        extract_tar_member(archive, name, tmp_path / "out" / "x")
    assert not (tmp_path / "out").exists()


def test_link_member_is_refused(tmp_path):
    """A member that is a symlink (here to /etc/passwd) is never extracted or followed."""
    archive = tmp_path / "link.tar"
    archive.write_bytes(tar_archive({}, links={"GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz": "/etc/passwd"}))
    with pytest.raises(DownloadError, match="symlink"):
        extract_tar_member(archive, "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_truncated_archive_is_an_error_asking_for_a_new_download(tmp_path):
    """An archive cut inside the wanted member is reported as truncated; no half member is left at `dest`."""
    archive = tmp_path / "cut.tar"
    archive.write_bytes(ARCHIVE[: 512 + len(LCL) + 512 + 10_000])
    with pytest.raises(DownloadError, match="truncated"):
        extract_tar_member(archive, "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_gunzip_turns_plain_gzip_into_a_fasta_pyfaidx_can_index(tmp_path):
    """UCSC ships hg38.fa.gz as plain gzip; decompressed, it serves random access through ReferenceGenome."""
    from endobench.lib.genome.reference import ReferenceGenome

    src = SAMPLE_DIR / "kipoiseq_hg38_chr22_32000000_32300000.fa.gz"
    fasta = gunzip_file(src, tmp_path / "chr22_part.fa")
    reference = ReferenceGenome(fasta, "hg38")
    expected = "".join(gzip.decompress(src.read_bytes()).decode().split("\n")[1:])[1000:1010].upper()
    assert reference.fetch("chr22", 1000, 1010) == expected


def test_gunzip_of_a_truncated_file_is_an_error(tmp_path):
    """A cut gzip does not become a short FASTA that a later run would trust."""
    cut = tmp_path / "cut.fa.gz"
    cut.write_bytes((SAMPLE_DIR / "kipoiseq_hg38_chr22_32000000_32300000.fa.gz").read_bytes()[:20_000])
    with pytest.raises(DownloadError, match="truncated"):
        gunzip_file(cut, tmp_path / "out.fa")
    assert not Path(tmp_path / "out.fa").exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://ftp.ebi.ac.uk/pub/x.gz", "gs://adult-gtex/x.tar",
                                 "//no-scheme/x"])
def test_only_http_and_https_urls_are_fetched(tmp_path, url):
    """A URL in the settings with another scheme is refused before any request, naming the scheme."""
    with pytest.raises(DownloadError, match="is not http or https") as caught:
        download(url, tmp_path / "x")
    assert not caught.value.retryable
    assert not (tmp_path / "x").exists() and not partial_path(tmp_path / "x").exists()


def test_a_tar_archive_at_a_non_http_url_is_refused(tmp_path):
    with pytest.raises(DownloadError, match="'file' is not http or https"):
        extract_tar_member("file:///tmp/GTEx_Analysis_v8_eQTL.tar", "GTEx_Analysis_v8_eQTL/x.txt.gz", tmp_path / "x")
