"""The fast ingest paths give the answers of the slow, obvious ones they replaced, on real sample data.

- batched overlap (one bedtools call, hits read back by pandas) == the line-by-line `bedtools intersect -u` / `-v`;
- the Arrow reader of GTEx tables == the pandas text reader, and irregular files go to the text reader;
- one `os.pread` per window == pyfaidx, on segment sets and whole records;
- narrowPeak q-value -1 ("not computed") is unknown, not weak.
"""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pybedtools
import pyfaidx
import pytest

from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.peaks import BIN, _share_a_bin, filter_peaks, intersect, read_peaks
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.io.tables import read_typed_table
from endobench.lib.truth_sets import gtex
from endobench_tests.paths import CORPUS, FIXTURES

SAMPLE_PEAKS = "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz"
SAMPLE_BLACKLIST = "abc_GRCh38_unified_blacklist.bed.gz"


def _bedtools_inside(variants: pd.DataFrame, peaks: pd.DataFrame) -> np.ndarray:
    bed = pd.DataFrame({"chrom": variants["chrom"], "start": variants["pos"] - 1,
                        "end": variants["pos"] - 1 + variants["ref"].str.len(), "name": np.arange(len(variants))})
    hits = pybedtools.BedTool.from_dataframe(bed).intersect(
        pybedtools.BedTool.from_dataframe(peaks[["chrom", "start", "end"]]), u=True)
    inside = {int(fields.name) for fields in hits}
    pybedtools.cleanup(remove_all=False)
    return np.isin(np.arange(len(variants)), list(inside))


@pytest.fixture(scope="module")
def sample_peaks(sample_dir):
    return read_peaks(sample_dir / SAMPLE_PEAKS, "hg38")


def test_variants_in_peaks_agrees_with_bedtools_intersect_u(sample_dir, sample_peaks):
    """The real Whole Blood lead variants plus SNVs and 3-bp deletions on both sides of every sample peak edge
    (26,612 real K562 peaks, overlapping and artifact-wide ones included) get bedtools' answer, row for row."""
    leads = gtex.read_gtex_eqtls(sample_dir / "gtex_v8_Whole_Blood.v8.egenes.txt.gz", truth_set="t").frame
    edges = np.concatenate([sample_peaks.frame["start"] + d for d in (-2, 0, 1)]
                           + [sample_peaks.frame["end"] + d for d in (0, 1)])
    edges = edges[edges >= 1]
    probes = pd.DataFrame({"chrom": "chr22", "pos": np.concatenate([edges, edges]),
                           "ref": ["A"] * len(edges) + ["AGT"] * len(edges)})
    variants = pd.concat([leads[["chrom", "pos", "ref"]], probes], ignore_index=True)
    variants["variant_id"] = variants["chrom"] + "_" + variants["pos"].astype(str) + "_" + variants["ref"] + "_C_b38"

    ours = variants_in_peaks(variants, sample_peaks)
    theirs = _bedtools_inside(variants, sample_peaks.frame)
    assert ours.sum() > 10_000 and (~ours).sum() > 10_000  # both answers occur, so agreement means something
    np.testing.assert_array_equal(ours, theirs)


def test_blacklist_removal_agrees_with_bedtools_intersect_v(sample_dir, sample_peaks):
    """Every sample peak, against the real hg38 blacklist: the peaks kept are those `bedtools intersect -v` keeps."""
    blacklist = read_peaks(sample_dir / SAMPLE_BLACKLIST, "hg38")
    kept = filter_peaks(sample_peaks, max_width=10**9, min_qvalue=None, blacklist=blacklist)
    theirs = pybedtools.BedTool.from_dataframe(sample_peaks.frame).intersect(
        pybedtools.BedTool.from_dataframe(blacklist.frame), v=True).to_dataframe(header=None)
    pybedtools.cleanup(remove_all=False)
    assert kept.excluded["in_blacklist"] == len(sample_peaks.frame) - len(theirs) > 0
    assert kept.frame[["chrom", "start", "end"]].values.tolist() == theirs.iloc[:, :3].values.tolist()


def test_only_intervals_sharing_no_bin_with_a_peak_are_kept_from_bedtools_and_its_answer_stands():
    """Intervals at every offset around 1-kb bin edges, long and 1-base ones, on chromosomes with and without
    intervals to meet, against nested and touching ones: `intersect` (bedtools on the intervals sharing a bin)
    answers as bedtools does on all of them, row for row, having sent it far fewer."""
    rng = np.random.default_rng(17)
    edges = np.arange(1, 400) * BIN
    starts = np.concatenate([edges + d for d in (-3, -1, 0, 1, 2)] + [rng.integers(0, 400 * BIN, 3_000)])
    lengths = np.concatenate([np.ones(len(starts) - 3_000, dtype=np.int64), rng.integers(1, 3_000, 3_000)])
    intervals = pd.DataFrame({"chrom": rng.choice(["chr1", "chr2", "chr3"], len(starts)), "start": starts,
                              "end": starts + lengths})
    peak_starts = rng.integers(0, 400 * BIN, 150)
    others = pd.DataFrame({"chrom": rng.choice(["chr1", "chr2"], 150), "start": peak_starts,
                           "end": peak_starts + rng.integers(1, 2_500, 150)})
    others = pd.concat([others, others.head(20).assign(start=others["start"].head(20) + 1)], ignore_index=True)
    ours = intersect(intervals, others)
    everything = pd.DataFrame({**intervals, "name": np.arange(len(intervals))})
    hits = pybedtools.BedTool.from_dataframe(everything).intersect(pybedtools.BedTool.from_dataframe(others), u=True)
    theirs = np.isin(np.arange(len(intervals)), [int(f.name) for f in hits])
    pybedtools.cleanup(remove_all=False)
    sent = _share_a_bin(intervals, others)
    assert ours.sum() > 300 and (~ours).sum() > 300
    assert sent.sum() < len(intervals) / 2 and not (ours & ~sent).any()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("path", [
    "fixtures/gtex/Whole_Blood.v8.signif_variant_gene_pairs.chr22_32Mb.txt",
    "fixtures/gtex/Whole_Blood.v8.egenes.chr22_32Mb.txt",
    "corpus/gtex/egenes_nan_inf_slope.txt",
    "corpus/gtex/egenes_duplicate_rows.txt",
    "corpus/gtex/egenes_unknown_chromosome.txt",
    "corpus/gtex/egenes_position_zero_and_past_end.txt",
    "corpus/gtex/egenes_bare_chrom_names.txt",
])
def test_arrow_reader_gives_the_text_readers_frame_and_exclusions(path):
    """The Arrow path is taken for these files, and its frame, dtypes and exclusion counts equal the text reader's."""
    path = CORPUS.parent / path
    kind = gtex.detect_kind(path)
    required = gtex._EGENES_REQUIRED if kind == gtex.EGENES else gtex._SIGNIF_REQUIRED
    table = read_typed_table(path, ["variant_id", "gene_id"], [c for c in required if c not in ("variant_id", "gene_id")])
    assert table is not None and gtex._frame_from_arrow(table, kind, 0.05) is not None
    fast = gtex.read_gtex_eqtls(path, truth_set="gtex_wb")
    text = gtex._read_gtex_text(path, kind, "gtex_wb", 0.05)
    pd.testing.assert_frame_equal(fast.frame, text.frame)
    assert (fast.rows_read, fast.excluded) == (text.rows_read, text.excluded)


def test_a_gzip_of_several_members_is_read_whole_by_the_arrow_reader(tmp_path):
    """bgzip writes many gzip members; the ISA-L stream must not stop after the first (here: header + 2 rows)."""
    source = FIXTURES / "gtex/Whole_Blood.v8.signif_variant_gene_pairs.chr22_32Mb.txt"
    lines = source.read_text().splitlines(keepends=True)
    path = tmp_path / "members.txt.gz"
    path.write_bytes(gzip.compress("".join(lines[:3]).encode()) + gzip.compress("".join(lines[3:]).encode()))
    assert read_typed_table(path, ["variant_id", "gene_id"], ["slope"]).num_rows == 4
    pd.testing.assert_frame_equal(gtex.read_gtex_eqtls(path, truth_set="t").frame,
                                  gtex.read_gtex_eqtls(source, truth_set="t").frame)


def test_a_non_number_sends_the_file_to_the_text_reader_whose_error_names_the_line():
    """Arrow cannot say which line is bad, so it declines; the text reader then reports line 5."""
    path = CORPUS / "gtex" / "egenes_nonnumeric_slope.txt"
    assert read_typed_table(path, ["variant_id", "gene_id"], ["slope"]) is None
    with pytest.raises(Exception, match="line 5"):
        gtex.read_gtex_eqtls(path, truth_set="gtex_wb")


def test_narrowpeak_qvalue_minus_one_is_unknown_not_weak(tmp_path):
    """MACS2 without a control writes q = -1: such peaks survive a q >= 2 filter and none counts as below_qvalue."""
    path = tmp_path / "no_q.narrowPeak"
    path.write_text("chr22\t100\t300\tp1\t0\t.\t5.1\t-1\t-1\t90\nchr22\t900\t1200\tp2\t0\t.\t3.2\t-1\t-1\t40\n")
    peaks = read_peaks(path, "hg38")
    filtered = filter_peaks(peaks, max_width=5_000, min_qvalue=2.0, blacklist=None)
    assert peaks.frame["qvalue"].isna().all()
    assert filtered.frame["name"].tolist() == ["p1", "p2"]
    assert "below_qvalue" not in filtered.excluded


def _pyfaidx_bases(path: Path, chrom: str, start0: int, end0: int) -> str | None:
    """The obvious answer: pyfaidx on the first record (whole `chrom`, or a `chrom:a-b` segment) holding the span."""
    for name, record in pyfaidx.Fasta(str(path), as_raw=True).records.items():
        first = int(name.split(":")[1].split("-")[0]) - 1 if ":" in name else 0
        if name.split(":")[0] == chrom and first <= start0 and end0 <= first + len(record):
            return str(record[start0 - first:end0 - first]).upper()
    return None


def test_reader_serves_the_bases_pyfaidx_serves_on_a_segment_set(sample_reference):
    """The sample reference is a set of real segments: windows inside one, across two and outside all agree."""
    spans = [("chr22", s, s + w) for s in range(32_000_000 - 50, 32_300_050, 9_973) for w in (1, 61, 2_048)]
    spans += [("chr1", 875_855 - 49, 875_856 + 50), ("chr7", 1, 2)]
    with sample_reference.reader() as fetch:
        served = [fetch(*span) for span in spans]
    assert served == [_pyfaidx_bases(sample_reference.path, *span) for span in spans]
    assert sum(s is None for s in served) >= 2 and sum(s is not None for s in served) > 50


def test_reader_serves_the_bases_pyfaidx_serves_on_whole_records(tmp_path):
    """The corpus FASTA (a chr22 cut and the first 12 kb of chr2, 60 bases a line): every span up to 130 bp."""
    fasta = tmp_path / "segments.fa"
    shutil.copy(CORPUS / "reference" / "segments.fa", fasta)
    reference = ReferenceGenome(fasta, "hg38")
    spans = [("chr2", s, s + w) for s in range(0, 12_100, 37) for w in (1, 59, 60, 61, 130)]
    with reference.reader() as fetch:
        assert [fetch(*span) for span in spans] == [_pyfaidx_bases(fasta, *span) for span in spans]


def test_many_spans_at_once_are_the_bases_pyfaidx_serves_on_whole_records(tmp_path):
    """`fetch_many` computes the offsets of spans on whole records together: every span up to 130 bp, spans running
    off either end of chr2's 12 kb, empty spans and a chromosome the file lacks agree with pyfaidx."""
    fasta = tmp_path / "segments.fa"
    shutil.copy(CORPUS / "reference" / "segments.fa", fasta)
    spans = [("chr2", s, s + w) for s in range(0, 12_100, 37) for w in (1, 59, 60, 61, 130)]
    spans += [("chr2", -5, 10), ("chr2", 11_990, 12_010), ("chr9", 0, 10)]
    chroms, starts, ends = (np.array(column, dtype=object if k == 0 else np.int64) for k, column in
                            enumerate(zip(*spans)))
    served = ReferenceGenome(fasta, "hg38").fetch_many(chroms, starts, ends)
    assert served == [_pyfaidx_bases(fasta, *span) if span[1] >= 0 else None for span in spans]
    assert served[-3:-1] == [None, None] and served[-1] is None


def test_many_spans_at_once_on_a_segment_set_and_on_bgzip_are_what_one_at_a_time_gives(sample_reference, sample_dir):
    """Segment sets and bgzip have no one record per chromosome: `fetch_many` hands their spans to `reader`."""
    spans = [("chr22", s, s + 2_048) for s in range(32_000_000 - 50, 32_300_050, 29_999)] + [("chr7", 1, 2)]
    reference = ReferenceGenome(sample_dir / "bfairkun_hg38_chr2_1-2333275.fa.gz", "hg38")
    for genome, chosen in ((sample_reference, spans), (reference, [("chr2", s, s + 61) for s in range(0, 10_000, 997)])):
        chroms, starts, ends = (np.array(c) for c in zip(*chosen))
        with genome.reader() as fetch:
            assert genome.fetch_many(chroms, starts, ends) == [fetch(*span) for span in chosen]


def test_a_repeated_pair_is_a_duplicate_when_its_effect_repeats_and_a_conflict_when_not(tmp_path):
    """Gene A's pair appears twice with one slope: one row kept, one duplicate_row. Gene B's pair appears with two
    slopes: no row of it can be trusted, all three are conflicting_duplicate, and the reader warns."""
    header = "variant_id\tgene_id\ttss_distance\tmaf\tpval_nominal\tslope\tslope_se\n"
    row = "chr22_32261410_C_T_b38\t{}\t57933\t0.08\t8.7e-06\t{}\t0.09\n"
    path = tmp_path / "pairs.txt"
    path.write_text(header + row.format("ENSG00000128253.13", -0.40) + row.format("ENSG00000100030.14", 0.11)
                    + row.format("ENSG00000128253.13", -0.40) + row.format("ENSG00000100030.14", -0.20)
                    + row.format("ENSG00000100030.14", 0.11))
    for parsed in (gtex.read_gtex_eqtls(path, truth_set="gtex_wb"),
                   gtex._read_gtex_text(path, gtex.SIGNIF_PAIRS, "gtex_wb", 0.05)):
        assert parsed.excluded == {"duplicate_row": 1, "conflicting_duplicate": 3}
        assert parsed.frame["gene_id"].tolist() == ["ENSG00000128253.13"]
        assert parsed.frame["effect"].tolist() == [-0.40]
        assert parsed.warnings == ["3 rows repeat a variant (and gene) with a different effect; none of them is kept "
                                   "(conflicting_duplicate): check how the table was made"]


def test_two_spellings_of_one_variant_are_one_variant_on_both_readers(tmp_path):
    """`chr22_..._C_T` and `22_..._c_t` name one variant: one id for both, and the second spelling of the same
    gene with the same slope is a duplicate_row, whether the ids are grouped by spelling (Arrow) or not (text)."""
    header = "variant_id\tgene_id\ttss_distance\tmaf\tpval_nominal\tslope\tslope_se\n"
    row = "{}\t{}\t57933\t0.08\t8.7e-06\t-0.40\t0.09\n"
    path = tmp_path / "pairs.txt"
    path.write_text(header + row.format("chr22_32261410_C_T_b38", "ENSG00000128253.13")
                    + row.format("22_32261410_c_t_b38", "ENSG00000100030.14")
                    + row.format("22_32261410_c_t_b38", "ENSG00000128253.13"))
    fast = gtex.read_gtex_eqtls(path, truth_set="gtex_wb")
    text = gtex._read_gtex_text(path, gtex.SIGNIF_PAIRS, "gtex_wb", 0.05)
    assert fast.frame["variant_id"].tolist() == ["chr22_32261410_C_T_b38"] * 2
    assert fast.excluded == text.excluded == {"duplicate_row": 1}
    pd.testing.assert_frame_equal(fast.frame, text.frame)


def test_reader_of_a_bgzip_fasta_serves_what_the_plain_fasta_serves(sample_dir, tmp_path):
    """BGZF blocks have no fixed byte offsets: the reader hands the spans to pyfaidx, with the bases that `pread`
    gives on the same FASTA decompressed."""
    name = "bfairkun_hg38_chr2_1-2333275.fa.gz"
    for suffix in ("", ".fai", ".gzi"):
        shutil.copy(sample_dir / f"{name}{suffix}", tmp_path)
    (tmp_path / "plain.fa").write_bytes(gzip.decompress((tmp_path / name).read_bytes()))
    spans = [("chr2", s, s + 2_048) for s in range(0, 2_333_275, 199_999)]
    with ReferenceGenome(tmp_path / name, "hg38").reader() as fetch:
        served = [fetch(*span) for span in spans]
    with ReferenceGenome(tmp_path / "plain.fa", "hg38").reader() as fetch:
        assert served == [fetch(*span) for span in spans]
    assert all(s is not None and len(s) == 2_048 for s in served[:-1])


@pytest.mark.parametrize("bad_every", [2, 700], ids=["scattered: taken", "few runs: sliced"])
def test_the_kept_rows_keep_their_own_numbers_and_lines_however_few_or_many_are_excluded(tmp_path, bad_every):
    """Columns no check reads reach the table straight from Arrow: as slices when the excluded rows are few, taken
    when they are scattered (1,050 runs). Either way each kept row carries its own standard error and line."""
    header = "variant_id\tgene_id\ttss_distance\tmaf\tpval_nominal\tslope\tslope_se\n"
    rows = [f"chr22_{32_000_000 + i}_C_T_b38\tENSG00000128253.13\t{i}\t0.1\t1e-5\t{'nan' if i % bad_every == 1 else 0.5}"
            f"\t{i}\n" for i in range(2_100)]
    path = tmp_path / "pairs.txt"
    path.write_text(header + "".join(rows))
    parsed = gtex.read_gtex_eqtls(path, truth_set="gtex_wb")
    kept = [i for i in range(2_100) if i % bad_every != 1]
    assert parsed.excluded == {"invalid_effect": 2_100 - len(kept)}
    assert parsed.table.column("effect_se").to_pylist() == [float(i) for i in kept]
    assert parsed.table.column("source_line").to_pylist() == [i + 2 for i in kept]
    assert parsed.table.column("tss_distance").to_pylist() == [float(i) for i in kept]


def test_a_missing_number_is_nan_on_both_readers(tmp_path):
    """`NA` in a column only passed through (here MAF) is NaN in the table, as the text reader writes it, not an
    Arrow null that only one reader would give."""
    header = "variant_id\tgene_id\ttss_distance\tmaf\tpval_nominal\tslope\tslope_se\n"
    path = tmp_path / "pairs.txt"
    path.write_text(header + "chr22_32261410_C_T_b38\tENSG00000128253.13\t57933\tNA\t8.7e-06\t-0.40\t0.09\n"
                    + "chr22_32261411_C_T_b38\tENSG00000128253.13\t57934\t0.08\t8.7e-06\t-0.40\t0.09\n")
    fast = gtex.read_gtex_eqtls(path, truth_set="gtex_wb").table
    text = gtex._read_gtex_text(path, gtex.SIGNIF_PAIRS, "gtex_wb", 0.05).table
    for table in (fast, text):
        assert table.column("maf").null_count == 0
        assert np.isnan(table.column("maf")[0].as_py()) and table.column("maf")[1].as_py() == 0.08
