"""The one sniffer and the gzip reader under every text reader: kinds named from magic bytes, damage located, a
size guard against files that inflate far beyond their size."""

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import pandas as pd
import pytest

from endobench.lib.genome.peaks import read_peaks
from endobench.lib.io.compression import (
    DEFAULT_MAX_DECOMPRESSED_GB,
    MAX_DECOMPRESSED_ENV,
    max_decompressed_bytes,
    open_bytes,
    sniff,
)
from endobench.lib.io.errors import InputError
from endobench.lib.io.fasta import read_fasta
from endobench.lib.io.tables import read_frame, read_table
from endobench.lib.truth_sets.gtex import read_gtex_eqtls
from endobench_tests.paths import CORPUS

OK_EGENES = (CORPUS / "gtex" / "egenes_ok.txt").read_text()
OK_PEAKS = (CORPUS / "peaks" / "peaks_ok.narrowPeak").read_text()


def _zip(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("egenes.txt", text)
    return buffer.getvalue()


def _tar(text: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("egenes.txt")
        info.size = len(text.encode())
        archive.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


@pytest.mark.parametrize("data, kind", [
    (OK_EGENES.encode(), "plain"),
    (gzip.compress(OK_EGENES.encode()), "gzip"),
    ((CORPUS / "gtex" / "egenes_bgzip.txt.gz").read_bytes(), "bgzip"),
    (bz2.compress(OK_EGENES.encode()), "bzip2"),
    (lzma.compress(OK_EGENES.encode()), "xz"),
    (b"\x28\xb5\x2f\xfd" + b"\0" * 20, "zstd"),
    (_zip(OK_EGENES), "zip"),
    (_tar(OK_EGENES), "tar"),
    (OK_EGENES.encode("utf-16"), "utf-16"),
    (b"", "empty"),
])
def test_the_kind_of_a_file_comes_from_its_first_bytes(tmp_path, data, kind):
    path = tmp_path / "egenes.txt.gz"  # the name says gzip; only the content counts
    path.write_bytes(data)
    assert sniff(path) == kind


@pytest.mark.parametrize("kind, data", [
    ("zip", _zip(OK_EGENES)), ("tar", _tar(OK_EGENES)), ("bzip2", bz2.compress(OK_EGENES.encode())),
])
def test_a_compressed_kind_the_readers_do_not_take_is_named_with_what_to_do(tmp_path, kind, data):
    path = tmp_path / "egenes.txt"
    path.write_bytes(data)
    with pytest.raises(InputError) as caught:
        read_gtex_eqtls(path, truth_set="gtex_wb")
    assert f"the GTEx eQTL file is {kind}, not plain or gzip-compressed text" in str(caught.value)


def test_a_parquet_file_named_csv_is_refused_naming_both(tmp_path):
    path = tmp_path / "table.csv"
    pd.DataFrame({"a": [1, 2]}).to_parquet(path)
    with pytest.raises(InputError, match="the file is named .csv but its content is parquet"):
        read_frame(path, "truth table")


@pytest.mark.parametrize("make, says", [
    (lambda p: None, "the peak file does not exist"),
    (lambda p: p.mkdir(), "the peak path is a directory, not a file"),
])
def test_a_path_that_is_no_file_is_an_input_error(tmp_path, make, says):
    path = tmp_path / "peaks.bed"
    make(path)
    with pytest.raises(InputError, match=says):
        read_peaks(path, "hg38")


def test_a_corrupt_gzip_block_names_the_lines_read_before_it(tmp_path):
    data = bytearray(gzip.compress((OK_PEAKS * 40).encode(), mtime=0))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "peaks.narrowPeak.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        read_peaks(path, "hg38")
    assert caught.value.damaged
    assert "complete line(s)" in caught.value.problem and caught.value.line is not None


def test_zero_padding_after_the_gzip_stream_is_harmless(tmp_path):
    path = tmp_path / "peaks.narrowPeak.gz"
    path.write_bytes(gzip.compress(OK_PEAKS.encode()) + b"\0" * 512)
    plain = tmp_path / "peaks.narrowPeak"
    plain.write_text(OK_PEAKS)
    pd.testing.assert_frame_equal(read_peaks(path, "hg38").frame, read_peaks(plain, "hg38").frame)


def test_the_size_guard_defaults_far_above_a_gtex_table_and_is_configurable(monkeypatch):
    monkeypatch.delenv(MAX_DECOMPRESSED_ENV, raising=False)
    assert max_decompressed_bytes() == DEFAULT_MAX_DECOMPRESSED_GB * 1e9 >= 4e9
    monkeypatch.setenv(MAX_DECOMPRESSED_ENV, "0.5")
    assert max_decompressed_bytes() == 500_000_000
    monkeypatch.setenv(MAX_DECOMPRESSED_ENV, "lots")
    with pytest.raises(InputError, match=f"{MAX_DECOMPRESSED_ENV}='lots' is not a positive number of gigabytes"):
        max_decompressed_bytes()


@pytest.fixture
def bomb(tmp_path, monkeypatch):
    """A 0.1 MB limit, and files of about 40 kB that inflate to 2.4 MB of well-formed rows."""
    monkeypatch.setenv(MAX_DECOMPRESSED_ENV, "0.0001")
    header, rows = OK_EGENES.split("\n", 1)
    egenes = tmp_path / "egenes.txt.gz"
    egenes.write_bytes(gzip.compress((header + "\n" + rows * 600).encode()))
    peaks = tmp_path / "peaks.narrowPeak.gz"
    peaks.write_bytes(gzip.compress((OK_PEAKS * 1200).encode()))
    fasta = tmp_path / "contexts.fa.gz"
    fasta.write_bytes(gzip.compress((">a\n" + "ACGT" * 600_000 + "\n").encode()))
    return egenes, peaks, fasta


@pytest.mark.parametrize("reader", [
    lambda egenes, peaks, fasta: read_gtex_eqtls(egenes, truth_set="gtex_wb"),  # Arrow and ISA-L's fast path
    lambda egenes, peaks, fasta: read_table(egenes, ["gene_id"], "GTEx egenes"),  # the exact reader
    lambda egenes, peaks, fasta: read_peaks(peaks, "hg38"),
    lambda egenes, peaks, fasta: read_fasta(fasta),
])
def test_a_file_that_inflates_past_the_guard_stops_with_a_clear_error(bomb, reader):
    assert all(path.stat().st_size < 60_000 for path in bomb)
    with pytest.raises(InputError) as caught:
        reader(*bomb)
    assert "inflates to more than 0.0001 GB, the limit for decompressed input" in str(caught.value)
    assert MAX_DECOMPRESSED_ENV in caught.value.fix


def test_the_exact_reader_and_open_bytes_agree_on_a_multi_member_file(tmp_path):
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(b"a\tb\n1\t2\n") + gzip.compress(b"3\t4\n"))
    with open_bytes(path, "table") as stream:
        assert stream.read() == b"a\tb\n1\t2\n3\t4\n"
    assert read_table(path, ["a", "b"], "table").to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}
