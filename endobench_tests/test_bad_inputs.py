"""Every kind of bad input in `corpus/` gives a clear error, a counted exclusion, or a documented normalisation.

The table `CASES` is the contract (README.md in the corpus lists the same rows in prose). Each case names a corpus
file, the public function that reads it, and the outcome:

- `error`: an `InputError` whose message names the file, says where (line, variant or record), and ends with a fix.
- `excluded:<reason>=<n>,...`: the reader succeeds and counts exactly these exclusions; every row read is either
  kept or counted, and no kept row's numbers differ from the undamaged file.
- `normalised`: the reader succeeds and the named check shows what it fixed (e.g. `1` became `chr1`).

A few kinds also go through the Dagster assets, which must fail with the same clear message (a `dg.Failure`, not a
traceback) or record the exclusion in their materialization metadata.
"""

import gzip
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import dagster as dg
import pandas as pd
import pytest

from endobench.defs.assets import inputs
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE
from endobench.lib.genome.peaks import filter_peaks, read_peaks
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import OK, build_windows, exclusion_counts
from endobench.lib.io.errors import InputError
from endobench.lib.io.fasta import read_fasta
from endobench.lib.truth_sets.finemap import read_finemapped_eqtls
from endobench.lib.truth_sets.generic import read_generic_qtls
from endobench.lib.truth_sets.gtex import read_gtex_eqtls
from endobench.resources.sources import DEGNER_COLUMNS, FullDataSources, SampleDataSources
from endobench.resources.storage import Storage
from endobench_tests.paths import CORPUS, SAMPLE_DIR

pytestmark = pytest.mark.timeout(60)

LEAD_VARIANT = 32_016_646  # chr22_32016646_G_T_b38, inside the corpus FASTA cut
LEAD_CONTEXT = "GCCCGGGCCAACAAC"  # hg38 chr22:32,016,646-32,016,660, from the bundled kipoiseq segment


@dataclass(frozen=True)
class Case:
    kind: str
    file: str
    reader: str
    expected: str  # "error", "excluded:<reason>=<n>,...", or "normalised"
    where: str = ""  # for errors: the text that locates the problem ("line 5", "record chr22:...")
    fix: str = ""  # for errors: a word of the fix the message must end with
    window_length: int = 1_000
    normalised: Callable | None = None


def _gtex(path: Path, tmp: Path):
    return read_gtex_eqtls(path, truth_set="gtex_wb")


def _dsqtl(path: Path, tmp: Path):
    return read_generic_qtls(path, truth_set="dsqtl_degner2012", build="hg38", columns=DEGNER_COLUMNS)


def _finemap(path: Path, tmp: Path):
    return read_finemapped_eqtls(path, truth_set="susie_wb", tissue="Whole_Blood")


def _peaks(path: Path, tmp: Path):
    return filter_peaks(read_peaks(path, "hg38"), max_width=5_000, min_qvalue=None, blacklist=None)


def _copy(source: Path, tmp: Path) -> Path:
    """Readers that write an index beside the FASTA get a private copy, so the corpus stays as committed."""
    target = tmp / source.relative_to(CORPUS)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    index = Path(f"{source}.fai")
    if index.exists():
        shutil.copy(index, f"{target}.fai")
    return target


def _reference(path: Path, tmp: Path):
    return ReferenceGenome(_copy(path, tmp), "hg38")


def _reference_fetch(path: Path, tmp: Path):
    """Open the reference and serve the lead variant's context, as `sequence_windows` does."""
    reference = ReferenceGenome(_copy(path, tmp), "hg38")
    return reference.fetch("chr22", LEAD_VARIANT - 1, LEAD_VARIANT - 1 + len(LEAD_CONTEXT))


def _fasta(path: Path, tmp: Path):
    return read_fasta(path)


def _chain(path: Path, tmp: Path):
    from endobench.lib.genome.liftover import load_chain

    return load_chain(path)


def _windows_reader(window_length: int):
    def read(path: Path, tmp: Path):
        variants = read_generic_qtls(path, truth_set="windows").frame
        reference = ReferenceGenome(_copy(CORPUS / "reference" / "segments.fa", tmp), "hg38")
        return build_windows(variants, reference, window_length=window_length, needs_sequence=True)

    return read


def _same_as_ok(reader, ok_file):
    def check(result, tmp):
        ok = reader(CORPUS / ok_file, tmp)
        pd.testing.assert_frame_equal(result.frame.drop(columns="source_line"), ok.frame.drop(columns="source_line"))
        assert result.frame["chrom"].str.startswith("chr").all()

    return check


def _unsorted_is_sorted(result, tmp):
    ok = _peaks(CORPUS / "peaks" / "peaks_ok.narrowPeak", tmp)
    assert result.was_sorted is False
    pd.testing.assert_frame_equal(result.frame, ok.frame)


def _same_rows_on_other_lines(lines):
    """The undamaged file's rows and numbers, each on the line of the damaged file it stands on."""
    def check(result, tmp):
        ok = _gtex(CORPUS / "gtex" / "egenes_ok.txt", tmp)
        pd.testing.assert_frame_equal(result.frame.drop(columns="source_line"), ok.frame.drop(columns="source_line"))
        assert result.frame["source_line"].tolist() == lines

    return check


def _bed12_intervals(result, tmp):
    ok = _peaks(CORPUS / "peaks" / "peaks_ok.narrowPeak", tmp)
    pd.testing.assert_frame_equal(result.frame.drop(columns="qvalue"), ok.frame.drop(columns="qvalue"))
    assert result.frame["qvalue"].isna().all()  # BED12 has no q-value; the q filter is then skipped, as for BED3


def _swapped(result, tmp):
    row = result.iloc[0]
    assert (row["window_status"], row["harmonisation"], row["ref"], row["alt"]) == (OK, "swapped", "G", "T")
    assert row["effect"] == -0.42  # the table's effect was of G; now it is the effect of T, the non-reference allele


def _index_built(result, tmp):
    assert result.fetch("chr22", LEAD_VARIANT - 1, LEAD_VARIANT - 1 + len(LEAD_CONTEXT)) == LEAD_CONTEXT
    assert (tmp / "reference" / "segments.fa.fai").exists()


CASES = [
    # GTEx egenes (real Whole Blood chr22 rows, damaged)
    Case("truncated gzip", "gtex/egenes_truncated.txt.gz", "gtex", "error", "line 71", "Replace"),
    Case("empty file", "gtex/egenes_empty.txt", "gtex", "error", "line 1", "non-empty"),
    Case("header only", "gtex/egenes_header_only.txt", "gtex", "error", "line 2", "complete file"),
    Case("missing required column", "gtex/egenes_missing_slope.txt", "gtex", "error", "line 1", "matched by name"),
    Case("renamed columns", "gtex/egenes_renamed_columns.txt", "gtex", "error", "line 1", "matched by name"),
    Case("wrong delimiter", "gtex/egenes_comma_delimited.csv", "gtex", "error", "line 1", "tab-separated"),
    Case("non-numeric effect", "gtex/egenes_nonnumeric_slope.txt", "gtex", "error", "line 5", "Fix or remove"),
    Case("malformed variant id", "gtex/egenes_malformed_variant_id.txt", "gtex", "error", "line 4", "unchanged"),
    Case("two builds in one file", "gtex/egenes_hg19_ids.txt", "gtex", "error", "line 5", "lift it over"),
    Case("NaN/inf effects", "gtex/egenes_nan_inf_slope.txt", "gtex", "excluded:invalid_effect=2"),
    Case("duplicate rows", "gtex/egenes_duplicate_rows.txt", "gtex", "excluded:duplicate_row=1"),
    Case("unknown chromosome", "gtex/egenes_unknown_chromosome.txt", "gtex", "excluded:unknown_chromosome=1"),
    Case("position 0 or past the chromosome end", "gtex/egenes_position_zero_and_past_end.txt", "gtex",
         "excluded:invalid_position=1,off_chromosome_end=1"),
    Case("`22` instead of `chr22` (GTEx ids)", "gtex/egenes_bare_chrom_names.txt", "gtex", "normalised",
         normalised=_same_as_ok(_gtex, "gtex/egenes_ok.txt")),
    # Round 2 (issue 15)
    Case("N and IUPAC alleles", "gtex/egenes_ambiguous_alleles.txt", "gtex", "excluded:ambiguous_allele=2"),
    Case("one variant-gene pair with two slopes", "gtex/egenes_conflicting_duplicates.txt", "gtex",
         "excluded:conflicting_duplicate=2"),
    Case("bytes appended after the gzip stream", "gtex/egenes_trailing_garbage.txt.gz", "gtex", "error", "line 8",
         "Replace"),
    Case("bzip2 instead of gzip", "gtex/egenes_bzip2.txt.bz2", "gtex", "error", "is bzip2", "gzip"),
    Case("xz instead of gzip", "gtex/egenes_xz.txt.xz", "gtex", "error", "is xz", "gzip"),
    Case("UTF-16 text", "gtex/egenes_utf16.txt", "gtex", "error", "is utf-16", "UTF-8"),
    Case("Latin-1 byte in a text column", "gtex/egenes_latin1.txt", "gtex", "error", "line 4", "UTF-8"),
    Case("short last line (plain text cut mid-line)", "gtex/egenes_short_last_line.txt", "gtex", "error", "line 7",
         "header's fields"),
    Case("a 6,000-character malformed id", "gtex/egenes_long_malformed_id.txt", "gtex", "error", "line 4",
         "unchanged"),
    Case("byte-order mark and CRLF line ends", "gtex/egenes_bom_crlf.txt", "gtex", "normalised",
         normalised=_same_rows_on_other_lines([2, 3, 4, 5, 6, 7])),
    Case("blank lines inside and at the end", "gtex/egenes_blank_lines.txt", "gtex", "normalised",
         normalised=_same_rows_on_other_lines([2, 3, 5, 6, 7, 8])),
    Case("bgzip (BGZF blocks)", "gtex/egenes_bgzip.txt.gz", "gtex", "normalised",
         normalised=_same_rows_on_other_lines([2, 3, 4, 5, 6, 7])),
    Case("two concatenated gzip members", "gtex/egenes_multimember.txt.gz", "gtex", "normalised",
         normalised=_same_rows_on_other_lines([2, 3, 4, 5, 6, 7])),
    # Degner dsQTL table (real chr22 rows, hg38 columns, damaged)
    Case("`22` instead of `chr22` (QTL table)", "dsqtl/dsqtl_bare_chrom_names.tsv", "dsqtl", "normalised",
         normalised=_same_as_ok(_dsqtl, "dsqtl/dsqtl_ok.tsv")),
    Case("multi-allelic and symbolic alleles", "dsqtl/dsqtl_multiallelic_symbolic.tsv", "dsqtl",
         "excluded:multiallelic=1,symbolic_allele=2"),
    Case("NaN/inf effects (QTL table)", "dsqtl/dsqtl_nan_inf_beta.tsv", "dsqtl", "excluded:invalid_effect=2"),
    Case("variant not lifted to hg38", "dsqtl/dsqtl_not_lifted.tsv", "dsqtl", "excluded:unplaced=1"),
    Case("thousands separators in a position", "dsqtl/dsqtl_nonnumeric_position.tsv", "dsqtl", "error", "line 4",
         "Fix or remove"),
    Case("fractional position", "dsqtl/dsqtl_fractional_position.tsv", "dsqtl", "error", "line 4", "whole numbers"),
    Case("N and IUPAC alleles (QTL table)", "dsqtl/dsqtl_ambiguous_alleles.tsv", "dsqtl",
         "excluded:ambiguous_allele=2"),
    Case("one variant with two effects (QTL table)", "dsqtl/dsqtl_conflicting_duplicates.tsv", "dsqtl",
         "excluded:conflicting_duplicate=2"),
    Case("p-values below 0 and above 1 (QTL table)", "dsqtl/dsqtl_p_out_of_range.tsv", "dsqtl",
         "excluded:pval_out_of_range=2"),
    # Probabilities outside [0, 1] (issue 24): counted, never believed
    Case("q-values missing and above 1", "gtex/egenes_qval_missing_and_above_one.txt", "gtex",
         "excluded:qval_missing=1,qval_out_of_range=1"),
    Case("nominal p-values below 0 and above 1", "gtex/egenes_pval_out_of_range.txt", "gtex",
         "excluded:pval_out_of_range=2"),
    Case("a column of -log10 p-values where p-values belong", "gtex/egenes_pval_as_minus_log10.txt", "gtex",
         "error", "'pval_nominal' holds values outside [0, 1] in 6 of 6 rows", "probability"),
    Case("PIPs above 1, below 0 and missing", "finemap/susie_pip_out_of_range.tsv", "finemap",
         "excluded:pip_out_of_range=2,pip_missing=1"),
    # K562 DNase narrowPeak (real chr22 rows, damaged)
    Case("peaks with start >= end", "peaks/peaks_start_ge_end.narrowPeak", "peaks", "excluded:invalid_interval=2"),
    Case("unsorted peaks", "peaks/peaks_unsorted.narrowPeak", "peaks", "normalised", normalised=_unsorted_is_sorted),
    Case("huge artifact intervals", "peaks/peaks_huge_artifacts.narrowPeak", "peaks", "excluded:too_wide=1"),
    Case("peak past the end of the declared build's chromosome (hg19 coordinates)",
         "peaks/peaks_past_hg38_end.narrowPeak", "peaks", "excluded:off_chromosome_end=1"),
    Case("`22` instead of `chr22` (peaks)", "peaks/peaks_bare_chrom_names.narrowPeak", "peaks", "normalised",
         normalised=lambda result, tmp: pd.testing.assert_frame_equal(
             result.frame, _peaks(CORPUS / "peaks" / "peaks_ok.narrowPeak", tmp).frame)),
    Case("peak on an unknown contig", "peaks/peaks_unknown_chromosome.narrowPeak", "peaks",
         "excluded:unknown_chromosome=1"),
    Case("truncated gzip (peaks)", "peaks/peaks_truncated.narrowPeak.gz", "peaks", "error", "line 193", "Replace"),
    Case("non-numeric peak start", "peaks/peaks_nonnumeric_start.narrowPeak", "peaks", "error", "line 4", "BED"),
    Case("UCSC browser/track lines and a comment first", "peaks/peaks_track_browser_comment.narrowPeak", "peaks",
         "normalised", normalised=lambda result, tmp: pd.testing.assert_frame_equal(
             result.frame, _peaks(CORPUS / "peaks" / "peaks_ok.narrowPeak", tmp).frame)),
    Case("CRLF line ends (peaks)", "peaks/peaks_crlf.narrowPeak", "peaks", "normalised",
         normalised=lambda result, tmp: pd.testing.assert_frame_equal(
             result.frame, _peaks(CORPUS / "peaks" / "peaks_ok.narrowPeak", tmp).frame)),
    Case("BED12 instead of narrowPeak", "peaks/peaks_bed12.bed", "peaks", "normalised", normalised=_bed12_intervals),
    Case("narrowPeak with an 11th field", "peaks/peaks_extra_column.narrowPeak", "peaks", "error", "line 1",
         "narrowPeak"),
    Case("fractional peak end", "peaks/peaks_fractional_end.narrowPeak", "peaks", "error", "line 4", "whole-number"),
    Case("a line with fewer fields than the others", "peaks/peaks_mixed_width.narrowPeak", "peaks", "error",
         "line 5", "same fields"),
    # Reference FASTA (a 3 kb cut of the real chr22 segment and the first 12 kb of chr2)
    Case("FASTA without index", "reference/segments.fa", "reference", "normalised", normalised=_index_built),
    Case("FASTA with a corrupt index", "reference/corrupt_index/segments.fa", "reference", "error", "line 1", "delete"),
    Case("FASTA with an unparseable index", "reference/garbage_index/segments.fa", "reference", "error", "line 1", "delete"),
    Case("FASTA compressed with plain gzip", "reference/plain_gzip.fa.gz", "reference", "error",
         "plain_gzip.fa.gz", "bgzip"),
    Case("segment name that lies about its span", "reference/wrong_segment_length.fa", "reference", "error",
         "record chr22:32015001-32018500", "Rename"),
    Case("FASTA with a byte-order mark", "reference/bom/segments.fa", "reference", "error", "line 1", "Remove"),
    Case("FASTA ending in blank lines", "reference/blank_lines_at_end/segments.fa", "reference", "error",
         "ends with blank lines", "Remove"),
    Case("spaces inside reference sequence lines", "reference/spaced_sequence/segments.fa", "reference_fetch",
         "error", "record chr22:32015001-32018000", "Convert"),
    Case("GenBank-style numbered sequence", "fasta/genbank_numbered.fa", "fasta", "error", "line 2", "Convert"),
    # Liftover chains
    Case("chain cut in the middle of its blocks", "chain/hg19ToHg38_cut.over.chain", "chain", "error",
         "the chain file is unreadable", "Replace"),
    Case("chain file without a chain header", "chain/no_chain_header.over.chain", "chain", "error", "holds no chain",
         "UCSC .over.chain"),
    # Windows: real variants against the corpus FASTA
    Case("ref allele not matching the genome", "windows/ref_mismatch.tsv", "windows", "excluded:ref_mismatch=1"),
    Case("ref and alt swapped relative to the genome", "windows/swapped_alleles.tsv", "windows", "normalised",
         normalised=_swapped),
    Case("indel longer than the window", "windows/indel_longer_than_window.tsv", "windows",
         "excluded:indel_longer_than_window=1"),
    Case("N-rich window", "windows/n_rich_window.tsv", "windows", "excluded:n_rich=1", window_length=2_048),
    Case("window past the chromosome start", "windows/window_past_chromosome_start.tsv", "windows",
         "excluded:off_chromosome_end=1", window_length=25_000),
    Case("window the reference does not cover", "windows/outside_reference.tsv", "windows",
         "excluded:no_reference_sequence=1"),
]

READERS = {"gtex": _gtex, "dsqtl": _dsqtl, "finemap": _finemap, "peaks": _peaks, "reference": _reference,
           "reference_fetch": _reference_fetch, "fasta": _fasta, "chain": _chain}


def _read(case: Case, tmp: Path):
    reader = _windows_reader(case.window_length) if case.reader == "windows" else READERS[case.reader]
    return reader(CORPUS / case.file, tmp)


def _expected_counts(expected: str) -> Counter:
    pairs = expected.removeprefix("excluded:").split(",")
    return Counter({reason: int(n) for reason, n in (p.split("=") for p in pairs)})


def _rows_in(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        return sum(1 for line in handle if line.strip())


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input_outcome(case: Case, tmp_path: Path) -> None:
    """Each corpus file gets exactly the outcome its table row states."""
    path = CORPUS / case.file
    assert path.exists(), f"corpus file {path} is missing: run endobench_tests/corpus/make_corpus.py"
    if case.expected == "error":
        with pytest.raises(InputError) as caught:
            _read(case, tmp_path)
        message = str(caught.value)
        assert path.name in message, message
        assert case.where in message, message
        assert caught.value.fix and message.endswith(caught.value.fix), message
        assert case.fix in caught.value.fix, message
        assert len(message) < len(str(path)) + 1_000, "a bad line is quoted in at most about 200 characters"
        return
    result = _read(case, tmp_path)
    if case.expected == "normalised":
        case.normalised(result, tmp_path)
        excluded = exclusion_counts(result) if case.reader == "windows" else getattr(result, "excluded", Counter())
        assert +excluded == Counter(), f"a normalised input must not lose rows: {excluded}"
        return
    expected = _expected_counts(case.expected)
    if case.reader == "windows":
        assert exclusion_counts(result) == expected
        assert int((result["window_status"] == OK).sum()) + sum(expected.values()) == len(result)
    else:
        assert +result.excluded == expected
        rows = _rows_in(path) - (0 if case.reader == "peaks" else 1)
        assert result.rows_read == rows
        assert len(result.frame) + sum(expected.values()) == rows, "every row read is kept or counted"


@pytest.mark.parametrize("damaged, ok", [
    ("gtex/egenes_nan_inf_slope.txt", "gtex/egenes_ok.txt"),
    ("gtex/egenes_duplicate_rows.txt", "gtex/egenes_ok.txt"),
    ("gtex/egenes_unknown_chromosome.txt", "gtex/egenes_ok.txt"),
    ("gtex/egenes_position_zero_and_past_end.txt", "gtex/egenes_ok.txt"),
    ("dsqtl/dsqtl_multiallelic_symbolic.tsv", "dsqtl/dsqtl_ok.tsv"),
    ("dsqtl/dsqtl_nan_inf_beta.tsv", "dsqtl/dsqtl_ok.tsv"),
])
def test_exclusions_leave_the_other_rows_unchanged(damaged: str, ok: str, tmp_path: Path) -> None:
    """Rows around a damaged one keep their exact effect, se and p: an exclusion never shifts numbers."""
    reader = _gtex if damaged.startswith("gtex") else _dsqtl
    columns = ["variant_id", "gene_id", "effect", "effect_se", "pval", "source_line"]
    kept = reader(CORPUS / damaged, tmp_path).frame[columns]
    reference = reader(CORPUS / ok, tmp_path).frame[columns]
    merged = kept.merge(reference, on="source_line", suffixes=("", "_ok"))
    if damaged.endswith("duplicate_rows.txt"):  # one extra line shifts the later line numbers by one
        merged = kept.merge(reference, on=["variant_id", "gene_id"], suffixes=("", "_ok"))
    assert len(merged) == len(kept) > 0
    for column in ["effect", "effect_se", "pval"]:
        assert merged[column].tolist() == merged[f"{column}_ok"].tolist()


def test_blacklist_of_another_build_names_the_peak_file(tmp_path: Path) -> None:
    """Peaks declared hg19 against an hg38 blacklist: an error naming the peak file and the blacklist."""
    peaks = read_peaks(CORPUS / "peaks" / "peaks_ok.narrowPeak", "hg19")
    blacklist = read_peaks(SAMPLE_DIR / "abc_GRCh38_unified_blacklist.bed.gz", "hg38")
    with pytest.raises(InputError) as caught:
        filter_peaks(peaks, max_width=5_000, min_qvalue=None, blacklist=blacklist)
    message = str(caught.value)
    assert "peaks_ok.narrowPeak" in message and "abc_GRCh38_unified_blacklist.bed.gz" in message
    assert "the blacklist is hg38 but the peaks are hg19" in message


def test_corrupt_index_would_have_served_wrong_bases(tmp_path: Path) -> None:
    """Why the index is checked: pyfaidx itself reads the corrupt index without complaint and returns other bases."""
    import pyfaidx

    fasta = _copy(CORPUS / "reference" / "corrupt_index" / "segments.fa", tmp_path)
    record = next(iter(pyfaidx.Fasta(str(fasta), as_raw=True, rebuild=False).values()))
    offset = LEAD_VARIANT - 32_015_001
    assert str(record[offset:offset + len(LEAD_CONTEXT)]).upper() != LEAD_CONTEXT


# Through the Dagster assets: a sample folder of symlinks with one file swapped for a corpus file.

GTEX_SAMPLE = "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
PEAKS_SAMPLE = "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz"


def _sample_with(tmp_path: Path, name: str, corpus_file: str) -> Path:
    sample = tmp_path / "sample"
    sample.mkdir()
    for source in SAMPLE_DIR.iterdir():
        os.symlink(source, sample / source.name)
    (sample / name).unlink()
    data = (CORPUS / corpus_file).read_bytes()
    # The sample's names end in .gz; the readers detect gzip by its magic bytes, so the content decides.
    (sample / name).write_bytes(data if data[:2] == b"\x1f\x8b" or not data else gzip.compress(data, mtime=0))
    return sample


def _materialize(asset, tmp_path: Path, sample: Path, partition_key: str | None = None):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = {
        "storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
        "sources": SampleDataSources(sample_dir=str(sample), gtex_tissues=["Whole_Blood"]),
    }
    return dg.materialize([asset], resources=resources, instance=instance, partition_key=partition_key,
                          raise_on_error=False)


def _failure(result) -> dg.DagsterEvent:
    failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert len(failures) == 1
    return failures[0]


@pytest.mark.parametrize("corpus_file, where, fix", [
    ("gtex/egenes_truncated.txt.gz", "line 71", "with a complete, undamaged copy"),
    ("gtex/egenes_renamed_columns.txt", "line 1", "did you rename 'slope' to 'beta'"),
])
def test_bad_gtex_file_fails_the_asset_with_the_clear_message(corpus_file, where, fix, tmp_path):
    """raw_gtex_eqtls fails with a dg.Failure carrying the InputError text, not a Python traceback."""
    result = _materialize(inputs.raw_gtex_eqtls, tmp_path, _sample_with(tmp_path, GTEX_SAMPLE, corpus_file), "v8")
    assert not result.success
    error = _failure(result).step_failure_data.error
    assert error.cls_name == "Failure"
    assert GTEX_SAMPLE in error.message and where in error.message and fix in error.message
    assert not (tmp_path / "outputs" / "raw_gtex_eqtls" / "v8.parquet").exists()


def test_nan_effects_are_counted_in_the_asset_metadata(tmp_path):
    """raw_gtex_eqtls succeeds on a file with NaN/inf slopes and shows the exclusion in its metadata."""
    sample = _sample_with(tmp_path, GTEX_SAMPLE, "gtex/egenes_nan_inf_slope.txt")
    result = _materialize(inputs.raw_gtex_eqtls, tmp_path, sample, "v8")
    assert result.success
    metadata = result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata
    assert metadata["n_excluded_gtex_wb_invalid_effect"].value == 2
    assert (metadata["rows_read"].value, metadata["row_count"].value) == (6, 4)


def test_q_values_missing_or_above_one_are_counted_by_the_asset_not_made_negatives(tmp_path):
    """raw_gtex_eqtls counts an egene without a q-value and one with q = 1.7 as exclusions; neither becomes a
    silent non-significant gene."""
    sample = _sample_with(tmp_path, GTEX_SAMPLE, "gtex/egenes_qval_missing_and_above_one.txt")
    result = _materialize(inputs.raw_gtex_eqtls, tmp_path, sample, "v8")
    assert result.success
    metadata = result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata
    assert metadata["n_excluded_gtex_wb_qval_missing"].value == 1
    assert metadata["n_excluded_gtex_wb_qval_out_of_range"].value == 1
    assert (metadata["rows_read"].value, metadata["row_count"].value) == (6, 4)


def test_minus_log10_p_values_fail_the_asset_naming_the_column(tmp_path):
    sample = _sample_with(tmp_path, GTEX_SAMPLE, "gtex/egenes_pval_as_minus_log10.txt")
    result = _materialize(inputs.raw_gtex_eqtls, tmp_path, sample, "v8")
    assert not result.success
    message = _failure(result).step_failure_data.error.message
    assert "'pval_nominal' holds values outside [0, 1]" in message and "-log10" in message


def test_dsqtl_p_values_out_of_range_are_counted_by_the_asset(tmp_path):
    sample = _sample_with(tmp_path, "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", "dsqtl/dsqtl_p_out_of_range.tsv")
    result = _materialize(inputs.raw_qtl_tables, tmp_path, sample)
    assert result.success
    metadata = result.asset_materializations_for_node("raw_qtl_tables")[0].metadata
    assert metadata["n_excluded_dsqtl_degner2012_pval_out_of_range"].value == 2


def test_pips_out_of_range_are_counted_by_the_asset(tmp_path):
    resources = {"storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
                 "sources": SampleDataSources(sample_dir=str(SAMPLE_DIR), gtex_tissues=["Whole_Blood"],
                                              finemapped_eqtls=str(CORPUS / "finemap" / "susie_pip_out_of_range.tsv"))}
    result = dg.materialize([inputs.raw_qtl_tables], resources=resources, instance=dg.DagsterInstance.ephemeral())
    metadata = result.asset_materializations_for_node("raw_qtl_tables")[0].metadata
    assert metadata["n_excluded_finemapped_whole_blood_pip_out_of_range"].value == 2
    assert metadata["n_excluded_finemapped_whole_blood_pip_missing"].value == 1


def test_artifact_peaks_are_counted_in_the_asset_metadata(tmp_path):
    """dhs_peaks drops the 10.7 Mb artifact "peak" over the chr22 gap and says so in its metadata."""
    sample = _sample_with(tmp_path, PEAKS_SAMPLE, "peaks/peaks_huge_artifacts.narrowPeak")
    result = _materialize(inputs.dhs_peaks, tmp_path, sample)
    assert result.success
    metadata = result.asset_materializations_for_node("dhs_peaks")[0].metadata
    assert metadata["n_excluded_too_wide"].value == 1
    assert metadata["rows_read"].value == 10


def test_truncated_peak_file_fails_the_asset_with_the_clear_message(tmp_path):
    """dhs_peaks fails with the truncation message (file, line, fix) and writes nothing."""
    sample = _sample_with(tmp_path, PEAKS_SAMPLE, "peaks/peaks_truncated.narrowPeak.gz")
    result = _materialize(inputs.dhs_peaks, tmp_path, sample)
    assert not result.success
    error = _failure(result).step_failure_data.error
    assert error.cls_name == "Failure"
    assert PEAKS_SAMPLE in error.message and "line 193" in error.message and "Replace" in error.message
    assert not (tmp_path / "outputs" / "dhs_peaks" / "all.parquet").exists()


def test_corrupt_reference_index_fails_sequence_windows_with_the_clear_message(tmp_path):
    """sequence_windows refuses a reference whose .fai disagrees with the FASTA, naming the index line to delete."""
    from endobench.defs.assets import variants
    from endobench.resources.predictors import LocalPredictor

    sample = _sample_with(tmp_path, GTEX_SAMPLE, "gtex/egenes_ok.txt")
    fasta = sample / "hg38_sample_segments.fa"
    fasta.unlink()
    shutil.copy(SAMPLE_DIR / fasta.name, fasta)
    index = (SAMPLE_DIR / f"{fasta.name}.fai").read_text().splitlines()
    name, length, offset, _, _ = index[2].split("\t")
    index[2] = "\t".join([name, length, offset, "61", "62"])  # the file has 60-bp lines
    (sample / f"{fasta.name}.fai").unlink()
    (sample / f"{fasta.name}.fai").write_text("\n".join(index) + "\n")

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = {
        "storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
        "sources": SampleDataSources(sample_dir=str(sample)),
        "predictor": LocalPredictor(model_path=str(tmp_path / "no_model.npz")),
    }
    assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], resources=resources, instance=instance).success
    result = dg.materialize([inputs.raw_gtex_eqtls, variants.dhs_filtered_variants, variants.sequence_windows],
                            resources=resources, instance=instance, partition_key="v8", raise_on_error=False)
    assert not result.success
    error = _failure(result).step_failure_data.error
    assert error.cls_name == "Failure"
    assert f"{fasta.name}.fai, line 3" in error.message and f"record {name}" in error.message
    assert "delete" in error.message
    assert not (tmp_path / "outputs" / "sequence_windows" / "v8.parquet").exists()


def test_rows_on_chromosomes_without_predictions_leave_the_funnel_counted(tmp_path):
    """chrY and chrM rows are read (real hg38 chromosomes) but predictions cover chr1-22 and chrX: the peak filter
    counts them as chromosome_not_predicted, and every row read is kept or counted."""
    from endobench.defs.assets import variants
    from endobench.lib.evaluation.funnel import funnels_and_exclusions

    sample = _sample_with(tmp_path, GTEX_SAMPLE, "gtex/egenes_chrY_chrM.txt")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    storage = Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache"))
    resources = {"storage": storage, "sources": SampleDataSources(sample_dir=str(sample), gtex_tissues=["Whole_Blood"])}
    assert dg.materialize([inputs.raw_qtl_tables, inputs.dsqtl_sites, inputs.dhs_peaks], resources=resources,
                          instance=instance).success
    result = dg.materialize([inputs.raw_gtex_eqtls, variants.dhs_filtered_variants], resources=resources,
                            instance=instance, partition_key="v8")
    assert result.success
    stats = storage.read_stats("dhs_filtered_variants", "v8")["gtex_wb_k562_dhs"]
    assert stats["excluded"] == {"chromosome_not_predicted": 2}
    assert stats["rows_read"] == stats["rows_kept"] + sum(stats["excluded"].values()) == 6
    kept = storage.read_table("dhs_filtered_variants", "v8")
    assert not kept["chrom"].isin(["chrY", "chrM"]).any()
    _, exclusions, _ = funnels_and_exclusions({"gtex_wb_k562_dhs": stats}, pd.DataFrame(
        {"truth_set": pd.Series(dtype=object), "status": pd.Series(dtype=object),
         "variant_id": pd.Series(dtype=object), "reason": pd.Series(dtype=object)}))
    assert exclusions["gtex_wb_k562_dhs"]["input_chromosome_not_predicted"] == 2


def test_conflicting_duplicates_warn_in_the_asset_log(tmp_path):
    """raw_gtex_eqtls counts the two rows of a pair with two slopes and says so as a warning, not only a count."""
    sample = _sample_with(tmp_path, GTEX_SAMPLE, "gtex/egenes_conflicting_duplicates.txt")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = {"storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
                 "sources": SampleDataSources(sample_dir=str(sample))}
    result = dg.materialize([inputs.raw_gtex_eqtls], resources=resources, instance=instance, partition_key="v8")
    metadata = result.asset_materializations_for_node("raw_gtex_eqtls")[0].metadata
    assert metadata["n_excluded_gtex_wb_conflicting_duplicate"].value == 2
    warnings = [entry.user_message for entry in instance.all_logs(result.run_id) if entry.level == logging.WARNING]
    assert any("2 rows repeat a variant (and gene) with a different effect" in w for w in warnings), warnings


def test_a_damaged_download_is_to_be_deleted_and_downloaded_again(tmp_path):
    """The same truncated gzip as a bundled file says "replace"; downloaded by the full profile (from a loopback
    GTEx bucket), the asset says to delete it so that the next run downloads it again."""
    from endobench_tests.stand_ins.http_server import FixtureServer, tar_archive

    member = "GTEx_Analysis_v8_eQTL/Whole_Blood.v8.egenes.txt.gz"
    truncated = (CORPUS / "gtex" / "egenes_truncated.txt.gz").read_bytes()
    archive = "/bulk-qtl/v8/single-tissue-cis-qtl/GTEx_Analysis_v8_eQTL.tar"
    with FixtureServer({archive: tar_archive({member: truncated})}) as host:
        sources = FullDataSources(sample_dir=str(SAMPLE_DIR), download_dir=str(tmp_path / "full"),
                                  gtex_base_url=host.url("/bulk-qtl"), gtex_file_kind="egenes", download_retries=1,
                                  gtex_tissues=["Whole_Blood"])
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
        result = dg.materialize(
            [inputs.raw_gtex_eqtls], instance=instance, partition_key="v8", raise_on_error=False,
            resources={"storage": Storage(root=str(tmp_path / "outputs"), cache_dir=str(tmp_path / "cache")),
                       "sources": sources},
        )
    message = _failure(result).step_failure_data.error.message
    downloaded = tmp_path / "full" / "gtex" / "v8" / "Whole_Blood.v8.egenes.txt.gz"
    assert f"{downloaded}, line 71: the gzip stream is truncated" in message
    assert f"Delete {downloaded}; the next run downloads it again" in message
