"""Regenerate the bad-input corpus from real rows of the bundled sample (`data/sample/`), then damage them.

Run from the repository root: `.venv/bin/python endobench_tests/corpus/make_corpus.py`. Every file is small; each
damage is described in README.md next to the outcome the parsers must give. The script is deterministic, so
re-running it leaves the committed corpus unchanged.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
CORPUS = Path(__file__).resolve().parent

CHR22_SEGMENT_START = 32_000_001  # 1-based start of kipoiseq_hg38_chr22_32000000_32300000.fa.gz
CUT_START, CUT_END = 32_015_001, 32_018_000  # the 3 kb of chr22 the window fixtures use (1-based, inclusive)
CHR2_CUT_END = 12_000  # chr2:1-12,000: the telomeric 10 kb of N, then real sequence


def _lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return handle.read().splitlines()


def _fasta_sequence(path: Path) -> str:
    return "".join(line.strip() for line in _lines(path) if not line.startswith(">")).upper()


def _fasta_text(name: str, sequence: str, width: int = 60) -> str:
    body = "".join(sequence[i:i + width] + "\n" for i in range(0, len(sequence), width))
    return f">{name}\n{body}"


def _write(relative: str, text: str) -> None:
    path = CORPUS / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _gzip_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as handle:
        handle.write(text.encode())
    return buffer.getvalue()


def _table(header: list[str], rows: list[list[str]], sep: str = "\t") -> str:
    return "".join(sep.join(r) + "\n" for r in [header, *rows])


def _write_bytes(relative: str, data: bytes) -> None:
    path = CORPUS / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _bgzip_bytes(text: str) -> bytes:
    """BGZF (blocked gzip, as bgzip writes it), through Biopython's writer."""
    from Bio import bgzf

    class Kept(io.BytesIO):
        def close(self) -> None:  # the writer closes its file; keep the bytes readable
            pass

    buffer = Kept()
    writer = bgzf.BgzfWriter(fileobj=buffer)
    writer.write(text.encode())
    writer.close()
    return buffer.getvalue()


def gtex() -> None:
    lines = _lines(SAMPLE / "gtex_v8_Whole_Blood.v8.egenes.chr22.txt.gz")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    col = {name: i for i, name in enumerate(header)}
    in_segment = [r for r in rows if CUT_START <= int(r[col["variant_pos"]]) <= CUT_END]
    base = rows[:5] + in_segment  # five real gene rows plus the lead variant inside the FASTA cut
    _write("gtex/egenes_ok.txt", _table(header, base))

    def variant(row: list[str], vid: str) -> list[str]:
        row = list(row)
        row[col["variant_id"]] = vid
        return row

    def with_value(row: list[str], column: str, value: str) -> list[str]:
        row = list(row)
        row[col[column]] = value
        return row

    _write("gtex/egenes_empty.txt", "")
    _write("gtex/egenes_header_only.txt", _table(header, []))
    many = _table(header, rows[:120]).encode()
    (CORPUS / "gtex").mkdir(parents=True, exist_ok=True)
    full = _gzip_bytes(many.decode())
    (CORPUS / "gtex/egenes_truncated.txt.gz").write_bytes(full[: len(full) * 3 // 5])

    keep = [i for i, name in enumerate(header) if name != "slope"]
    _write("gtex/egenes_missing_slope.txt", _table([header[i] for i in keep], [[r[i] for i in keep] for r in base]))
    renamed = [{"slope": "beta", "slope_se": "beta_se", "pval_nominal": "pvalue"}.get(h, h) for h in header]
    _write("gtex/egenes_renamed_columns.txt", _table(renamed, base))
    _write("gtex/egenes_comma_delimited.csv", _table(header, base, sep=","))
    bad = list(base)
    bad[3] = with_value(bad[3], "slope", bad[3][col["slope"]].replace("0", "O", 1))
    _write("gtex/egenes_nonnumeric_slope.txt", _table(header, bad))
    nan_inf = list(base)
    nan_inf[1] = with_value(nan_inf[1], "slope", "NaN")
    nan_inf[2] = with_value(nan_inf[2], "slope", "inf")
    _write("gtex/egenes_nan_inf_slope.txt", _table(header, nan_inf))
    _write("gtex/egenes_duplicate_rows.txt", _table(header, base[:3] + [base[0]] + base[3:]))
    unknown = list(base)
    unknown[4] = variant(unknown[4], "chrUn_KI270742v1_12345_A_G_b38")
    _write("gtex/egenes_unknown_chromosome.txt", _table(header, unknown))
    _write("gtex/egenes_bare_chrom_names.txt",
           _table(header, [variant(r, r[col["variant_id"]].removeprefix("chr")) for r in base]))
    positions = list(base)
    positions[0] = variant(positions[0], "chr22_0_G_A_b38")
    positions[1] = variant(positions[1], "chr22_50818469_C_T_b38")  # hg38 chr22 is 50,818,468 bp long
    _write("gtex/egenes_position_zero_and_past_end.txt", _table(header, positions))
    malformed = list(base)
    malformed[2] = variant(malformed[2], "rs5748617")
    _write("gtex/egenes_malformed_variant_id.txt", _table(header, malformed))
    _write("gtex/egenes_hg19_ids.txt",
           _table(header, base[:3] + [variant(r, r[col["variant_id"]].replace("_b38", "_b37")) for r in base[3:]]))

    # Round 2 (issue 15): alleles that are not bases, contradicting repeats, damaged or foreign encodings.
    def with_alleles(row: list[str], ref: str | None = None, alt: str | None = None) -> list[str]:
        chrom, pos, old_ref, old_alt, build = row[col["variant_id"]].split("_")
        return variant(row, "_".join([chrom, pos, ref or old_ref, alt or old_alt, build]))

    ok_text = _table(header, base)
    _write("gtex/egenes_ambiguous_alleles.txt",
           _table(header, [base[0], with_alleles(base[1], ref="N"), with_alleles(base[2], alt="R"), *base[3:]]))
    _write("gtex/egenes_conflicting_duplicates.txt",
           _table(header, base[:3] + [with_value(base[0], "slope", "-0.123456")] + base[3:]))
    _write_bytes("gtex/egenes_trailing_garbage.txt.gz", _gzip_bytes(ok_text) + b"<html>Service Unavailable</html>\n")
    _write_bytes("gtex/egenes_bzip2.txt.bz2", bz2.compress(ok_text.encode()))
    _write_bytes("gtex/egenes_xz.txt.xz", lzma.compress(ok_text.encode()))
    _write_bytes("gtex/egenes_utf16.txt", ok_text.encode("utf-16"))
    latin = list(base)
    latin[2] = with_value(latin[2], "gene_name", latin[2][col["gene_name"]] + "\u00e9")
    _write_bytes("gtex/egenes_latin1.txt", _table(header, latin).encode("latin-1"))
    _write_bytes("gtex/egenes_bom_crlf.txt", b"\xef\xbb\xbf" + ok_text.replace("\n", "\r\n").encode())
    blank = ok_text.splitlines(keepends=True)
    _write("gtex/egenes_blank_lines.txt", "".join(blank[:3]) + "\n" + "".join(blank[3:]) + "\n\n")
    cut = ok_text.rstrip("\n")
    _write("gtex/egenes_short_last_line.txt", cut[: cut.rindex("\n") + len(cut[cut.rindex("\n"):]) // 2])
    _write_bytes("gtex/egenes_bgzip.txt.gz", _bgzip_bytes(ok_text))
    middle = ok_text.index("\n", len(ok_text) // 2) + 1
    _write_bytes("gtex/egenes_multimember.txt.gz", _gzip_bytes(ok_text[:middle]) + _gzip_bytes(ok_text[middle:]))
    _write("gtex/egenes_long_malformed_id.txt",
           _table(header, base[:2] + [variant(base[2], "chr22_" + "1234567890" * 600)] + base[3:]))
    # chrY and chrM are real hg38 chromosomes, kept by the reader, but predictions cover chr1-22 and chrX only.
    _write("gtex/egenes_chrY_chrM.txt", _table(header, [variant(base[0], "chrY_2786855_G_A_b38"),
                                                          variant(base[1], "chrM_150_C_T_b38"), *base[2:]]))

    # Round 3 (issue 24): probabilities outside [0, 1] are counted, never believed; a column of -log10 p-values is
    # not a p-value column at all.
    _write("gtex/egenes_qval_missing_and_above_one.txt",
           _table(header, [base[0], with_value(base[1], "qval", "NA"), with_value(base[2], "qval", "1.7"), *base[3:]]))
    _write("gtex/egenes_pval_out_of_range.txt",
           _table(header, [with_value(base[0], "pval_nominal", "-0.01"), with_value(base[1], "pval_nominal", "7.3"),
                           *base[2:]]))
    _write("gtex/egenes_pval_as_minus_log10.txt", _table(header, [
        with_value(r, "pval_nominal", f"{-math.log10(float(r[col['pval_nominal']])):.6g}") for r in base]))
    # A SuSiE-style fine-mapped table of the same real variants and genes (the sample bundles none): PIPs above 1,
    # below 0 and missing.
    finemap_header = ["variant_id", "gene_id", "tissue", "pip", "beta_posterior"]
    pips = ["0.97", "1.3", "-0.2", "NA", "0.95", "0.12"]
    _write("finemap/susie_pip_out_of_range.tsv", _table(finemap_header, [
        [r[col["variant_id"]], r[col["gene_id"]], "Whole_Blood", pip, r[col["slope"]]] for r, pip in zip(base, pips)]))


def dsqtl() -> None:
    lines = _lines(SAMPLE / "maggie_Degner2012_dsQTL.liftover_hg38.chr22.tsv.gz")
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:7]]
    col = {name: i for i, name in enumerate(header)}

    def with_value(row: list[str], column: str, value: str) -> list[str]:
        row = list(row)
        row[col[column]] = value
        return row

    _write("dsqtl/dsqtl_ok.tsv", _table(header, rows))
    _write("dsqtl/dsqtl_bare_chrom_names.tsv", _table(header, [with_value(r, "chr_hg38", "22") for r in rows]))

    def edited(changes: dict[int, dict[str, str]]) -> list[list[str]]:
        """The rows with `changes[row][column] = value` applied."""
        out = [list(r) for r in rows]
        for i, values in changes.items():
            for column, value in values.items():
                out[i] = with_value(out[i], column, value)
        return out

    _write("dsqtl/dsqtl_multiallelic_symbolic.tsv",
           _table(header, edited({0: {"Alt": "A,T"}, 1: {"Alt": "<DEL>"}, 2: {"Alt": "*"}})))
    _write("dsqtl/dsqtl_nan_inf_beta.tsv", _table(header, edited({1: {"Beta": "NA"}, 4: {"Beta": "-inf"}})))
    _write("dsqtl/dsqtl_not_lifted.tsv", _table(header, edited({3: {"pos_hg38": "", "chr_hg38": ""}})))
    _write("dsqtl/dsqtl_nonnumeric_position.tsv", _table(header, edited({2: {"pos_hg38": "17,172,331"}})))
    _write("dsqtl/dsqtl_fractional_position.tsv", _table(header, edited({2: {"pos_hg38": "17172331.5"}})))
    _write("dsqtl/dsqtl_ambiguous_alleles.tsv", _table(header, edited({0: {"Alt": "N"}, 1: {"Ref": "Y"}})))
    _write("dsqtl/dsqtl_conflicting_duplicates.tsv",
           _table(header, rows + [with_value(rows[3], "Beta", str(-float(rows[3][col["Beta"]])))]))
    _write("dsqtl/dsqtl_p_out_of_range.tsv",
           _table(header, edited({0: {"Pr(>|t|)": "-1e-05"}, 2: {"Pr(>|t|)": "12.4"}})))


def peaks() -> None:
    lines = _lines(SAMPLE / "abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz")
    rows = [line.split("\t") for line in lines]
    artifact = rows[0]  # chr22 0-10,709,810: a "peak" over the centromere gap
    normal = [r for r in rows if CUT_START <= int(r[1]) and int(r[2]) <= CUT_END + 4000][:10]

    def text(rs: list[list[str]]) -> str:
        return "".join("\t".join(r) + "\n" for r in rs)

    _write("peaks/peaks_ok.narrowPeak", text(normal))
    _write("peaks/peaks_huge_artifacts.narrowPeak", text([artifact] + normal))
    bad = [list(r) for r in normal]
    bad[2][2] = bad[2][1]  # start == end
    bad[5][1], bad[5][2] = bad[5][2], bad[5][1]  # start > end
    _write("peaks/peaks_start_ge_end.narrowPeak", text(bad))
    _write("peaks/peaks_unsorted.narrowPeak", text(normal[5:] + normal[:5][::-1]))
    shifted = [list(r) for r in normal]
    # hg19 chr22 is 51,304,566 bp, hg38 chr22 50,818,468: a peak near the hg19 end lies past the hg38 end.
    shifted[-1][1], shifted[-1][2] = "51000000", "51000150"
    _write("peaks/peaks_past_hg38_end.narrowPeak", text(shifted))
    full = _gzip_bytes(text(rows[:400]))
    (CORPUS / "peaks/peaks_truncated.narrowPeak.gz").write_bytes(full[: len(full) // 2])
    _write("peaks/peaks_bare_chrom_names.narrowPeak", text([["22", *r[1:]] for r in normal]))
    contig = [list(r) for r in normal]
    contig[4][0] = "chrUn_KI270742v1"
    _write("peaks/peaks_unknown_chromosome.narrowPeak", text(contig))
    _write("peaks/peaks_nonnumeric_start.narrowPeak", text(normal[:3] + [normal[3][:1] + ["32,017,935"] + normal[3][2:]]))

    # Round 2 (issue 15): valid headers and line ends, other BED layouts, fractions.
    ucsc_header = ("browser position chr22:32015001-32022000\n"
                   'track type=narrowPeak name="K562 DNase" description="ENCFF860XAE chr22"\n'
                   "# chrom start end name score strand signal p q summit\n")
    _write("peaks/peaks_track_browser_comment.narrowPeak", ucsc_header + text(normal))
    _write_bytes("peaks/peaks_crlf.narrowPeak", text(normal).replace("\n", "\r\n").encode())
    bed12 = [r[:4] + ["0", ".", r[1], r[2], "0", "1", str(int(r[2]) - int(r[1])), "0"] for r in normal]
    _write("peaks/peaks_bed12.bed", text(bed12))
    _write("peaks/peaks_extra_column.narrowPeak", text([r + ["extra"] for r in normal]))
    fractional = [list(r) for r in normal]
    fractional[3][2] = fractional[3][2] + ".5"
    _write("peaks/peaks_fractional_end.narrowPeak", text(fractional))
    _write("peaks/peaks_mixed_width.narrowPeak", text(normal[:4] + [normal[4][:3]] + normal[5:]))


def reference() -> None:
    chr22 = _fasta_sequence(SAMPLE / "kipoiseq_hg38_chr22_32000000_32300000.fa.gz")
    cut = chr22[CUT_START - CHR22_SEGMENT_START: CUT_END - CHR22_SEGMENT_START + 1]
    name = f"chr22:{CUT_START}-{CUT_END}"
    chr2 = _fasta_sequence(SAMPLE / "bfairkun_hg38_chr2_1-2333275.fa.gz")[:CHR2_CUT_END]
    _write("reference/segments.fa", _fasta_text(name, cut) + _fasta_text(f"chr2:1-{CHR2_CUT_END}", chr2))
    # A copy whose index claims 70-bp lines: pyfaidx would read the wrong bases without complaint.
    _write("reference/corrupt_index/segments.fa", _fasta_text(name, cut))
    offset = len(f">{name}\n")
    _write("reference/corrupt_index/segments.fa.fai", f"{name}\t{len(cut)}\t{offset}\t70\t71\n")
    _write("reference/garbage_index/segments.fa", _fasta_text(name, cut))
    _write("reference/garbage_index/segments.fa.fai", f"{name}\tthree thousand\t{offset}\n")
    (CORPUS / "reference/plain_gzip.fa.gz").write_bytes(_gzip_bytes(_fasta_text(name, cut)))
    _write("reference/wrong_segment_length.fa", _fasta_text(f"chr22:{CUT_START}-{CUT_END + 500}", cut))
    # Round 2 (issue 15): what pyfaidx cannot index, or indexes and then serves as if it were sequence.
    _write_bytes("reference/bom/segments.fa", b"\xef\xbb\xbf" + _fasta_text(name, cut).encode())
    _write("reference/blank_lines_at_end/segments.fa", _fasta_text(name, cut) + "\n\n")
    spaced = "".join(" ".join(line[i:i + 10] for i in range(0, 60, 10)) + "\n"
                     for line in (cut[j:j + 60] for j in range(0, len(cut), 60)))
    _write("reference/spaced_sequence/segments.fa", f">{name}\n{spaced}")
    genbank = "".join(f"{j + 1:>9} " + " ".join(cut[j + i:j + i + 10].lower() for i in range(0, 60, 10)) + "\n"
                      for j in range(0, 600, 60))
    _write("fasta/genbank_numbered.fa", f">PRR14L_context\n{genbank}")

    def one(chrom: str, pos: int, ref: str, alt: str, effect: str = "0.42") -> list[str]:
        return [chrom, str(pos), ref, alt, effect, "0.1", "1e-6", "hg38"]

    header = ["chrom", "pos", "ref", "alt", "effect", "se", "p", "build"]
    lead = 32_016_646  # chr22_32016646_G_T_b38, PRR14L's lead eQTL in GTEx v8 Whole Blood (egenes)
    base = chr22[lead - CHR22_SEGMENT_START]
    assert base == "G", base
    _write("windows/ref_matches.tsv", _table(header, [one("chr22", lead, "G", "T")]))
    _write("windows/ref_mismatch.tsv", _table(header, [one("chr22", lead, "G", "T"), one("chr22", lead, "C", "A")]))
    _write("windows/swapped_alleles.tsv", _table(header, [one("chr22", lead, "T", "G")]))
    deletion_start = lead - 600
    deleted = chr22[deletion_start - CHR22_SEGMENT_START: deletion_start - CHR22_SEGMENT_START + 1200]
    _write("windows/indel_longer_than_window.tsv",
           _table(header, [one("chr22", lead, "G", "T"), one("chr22", deletion_start, deleted, deleted[0])]))
    n_rich_pos = 10_600
    _write("windows/n_rich_window.tsv", _table(header, [one("chr2", n_rich_pos, chr2[n_rich_pos - 1], "A" if chr2[n_rich_pos - 1] != "A" else "C")]))
    near_start = 10_100
    _write("windows/window_past_chromosome_start.tsv",
           _table(header, [one("chr2", near_start, chr2[near_start - 1], "A" if chr2[near_start - 1] != "A" else "C")]))
    _write("windows/outside_reference.tsv", _table(header, [one("chr22", lead, "G", "T"), one("chr22", 32_200_000, "A", "G")]))


def chain() -> None:
    """Liftover chains (issue 15): pyliftover raised a bare Exception on a chain cut short, and read a file with no
    chain header as an empty chain (every variant "not lifted")."""
    with gzip.open(SAMPLE / "ucsc_hg19ToHg38.over.chain.gz", "rt") as handle:
        head = handle.read(6_000)
    cut = head[: head.rindex("\n", 0, 5_000) + 1]  # whole lines, but the first chain's blocks stop early
    _write("chain/hg19ToHg38_cut.over.chain", cut)
    _write("chain/no_chain_header.over.chain", cut.replace("chain ", "chian ", 1))


if __name__ == "__main__":
    gtex()
    dsqtl()
    peaks()
    reference()
    chain()
