"""Ingest at GTEx scale: the seed's code path against endobench's functions on the same generated files.

    .venv/bin/python bench/ingest.py                         # 2.4 M pairs, 100 K peaks, full-genome FASTA (3.1 GB)
    .venv/bin/python bench/ingest.py --rows 200000 --peaks 20000 --chroms chr21,chr22   # quick run, ~1 min
    .venv/bin/python bench/ingest.py --workdir /tmp/ingest --keep   # keep (and later reuse) the generated files

Generated into a temporary directory (never the repository):
- `Whole_Blood.v8.signif_variant_gene_pairs.txt.gz`: the real 12-column GTEx header and layout, rows grouped by
  gene (as GTEx writes them), variants at uniform positions over the real hg38 chromosome lengths
  (`builds.CHROM_SIZES`), several genes per variant (1-6, mean about 2.4), 8% indels, REF taken from the genome;
- `K562.narrowPeak.gz`: peaks of 150 bp - 3 kb with q >= 2 plus a few multi-megabase artifact "peaks" over
  chromosome starts, shuffled (real files are not always sorted);
- `genome.fa` (+ `.fai` by samtools faidx): random sequence at the real hg38 chromosome lengths, with 10 kb of N
  at each chromosome start. It is a stand-in for hg38 with the same size and layout, so random access costs
  what it costs on the real genome.

Then each side runs in its own subprocess, so that the peak RSS of one does not leak into the other:
(a) seed: the line loop parse into a list of dicts, a BED file, the `bedtools intersect -u` CLI, the filtered BED
    parsed again, and one 2,048 bp pyfaidx window (plus the ALT sequence) per in-peak row, kept in memory;
(b) endobench: `read_gtex_eqtls`, `read_peaks` + `filter_peaks` (width <= 5 kb, q >= 2, the real hg38
    blacklist), `variants_in_peaks`, `build_windows(needs_sequence=True, window_length=2048)` on each distinct
    in-peak variant.
Printed: wall time per step, the ratio (a)/(b), and the peak RSS (VmHWM) of each side; "children" is the
largest ru_maxrss of its bedtools subprocesses, an upper bound (Linux carries the parent's RSS at fork into it). `--profile` adds the top functions of a cProfile run of (b); `--proposed` also times (c), a prototype of the
faster path proposed for the lead's functions (pyarrow reader, searchsorted overlap, mmap reference).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from endobench.lib.builds import CHROM_SIZES, HG38  # noqa: E402

GTEX_HEADER = [
    "variant_id", "gene_id", "tss_distance", "ma_samples", "ma_count", "maf", "pval_nominal", "slope", "slope_se",
    "pval_nominal_threshold", "min_pval_nominal", "pval_beta",
]
WINDOW = 2048
BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
BLACKLIST = REPO / "data" / "sample" / "abc_GRCh38_unified_blacklist.bed.gz"
N_PREFIX = 10_000
LINE = 60


def chromosomes(selected: str | None) -> list[str]:
    names = [c for c in CHROM_SIZES[HG38] if c not in ("chrY", "chrM")]
    if selected:
        wanted = selected.split(",")
        unknown = set(wanted) - set(names)
        if unknown:
            raise SystemExit(f"--chroms: unknown {sorted(unknown)}; use names like chr21,chr22")
        names = [c for c in names if c in wanted]
    return names


def generate(workdir: Path, rows: int, peaks: int, chroms: list[str], seed: int = 7) -> dict:
    """Write the three inputs; reuse them when `workdir` already holds a generation with the same parameters."""
    params = {"rows": rows, "peaks": peaks, "chroms": chroms, "seed": seed}
    stamp = workdir / "generated.json"
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return params
    workdir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lengths = np.array([CHROM_SIZES[HG38][c] for c in chroms], dtype=np.int64)

    # Distinct variants with several genes each, so that rows = sum(genes per variant) ~ `rows`.
    genes_per_variant = rng.choice([1, 2, 3, 4, 5, 6], p=[0.35, 0.25, 0.15, 0.12, 0.08, 0.05], size=rows)
    n_variants = int(np.searchsorted(np.cumsum(genes_per_variant), rows)) + 1
    genes_per_variant = genes_per_variant[:n_variants]
    genes_per_variant[-1] -= int(genes_per_variant.sum()) - rows
    var_chrom = rng.choice(len(chroms), p=lengths / lengths.sum(), size=n_variants)
    var_pos = (N_PREFIX + 1 + rng.random(n_variants) * (lengths[var_chrom] - 2 * N_PREFIX)).astype(np.int64)

    fasta = workdir / "genome.fa"
    refs = np.empty(n_variants, dtype=object)
    alts = np.empty(n_variants, dtype=object)
    kind = rng.random(n_variants)  # < 0.04 deletion, < 0.08 insertion, else SNV
    t0 = time.perf_counter()
    with open(fasta, "wb") as out:
        for ci, chrom in enumerate(chroms):
            length = int(lengths[ci])
            seq = BASES[rng.integers(0, 4, size=length, dtype=np.uint8)]
            seq[:N_PREFIX] = ord("N")
            here = np.flatnonzero(var_chrom == ci)
            for i in here:
                p0 = var_pos[i] - 1
                if kind[i] < 0.04:
                    size = int(rng.integers(2, 6))
                    refs[i] = seq[p0:p0 + size].tobytes().decode()
                    alts[i] = refs[i][0]
                elif kind[i] < 0.08:
                    refs[i] = chr(seq[p0])
                    alts[i] = refs[i] + BASES[rng.integers(0, 4, size=int(rng.integers(1, 5)))].tobytes().decode()
                else:
                    refs[i] = chr(seq[p0])
                    alts[i] = "ACGT".replace(refs[i], "")[int(rng.integers(0, 3))]
            out.write(f">{chrom}\n".encode())
            full = length - length % LINE
            block = np.empty((full // LINE, LINE + 1), dtype=np.uint8)
            block[:, :LINE] = seq[:full].reshape(-1, LINE)
            block[:, LINE] = ord("\n")
            out.write(block.tobytes())
            if length % LINE:
                out.write(seq[full:].tobytes() + b"\n")
            del seq, block
    import pysam

    pysam.faidx(str(fasta))
    t_genome = time.perf_counter() - t0

    # Rows grouped by gene: each gene owns a run of rows; variants are assigned to genes near them by sorting.
    t0 = time.perf_counter()
    row_variant = np.repeat(np.arange(n_variants), genes_per_variant)
    order = np.lexsort((var_pos[row_variant], var_chrom[row_variant]))
    row_variant = row_variant[order]
    n_genes = max(1, rows // 100)
    gene_of_row = np.sort(rng.integers(0, n_genes, size=rows))
    # One variant never sits twice in one gene: shift a gene index on collision by interleaving the copies.
    copy = np.concatenate([np.arange(k) for k in genes_per_variant])[order]
    gene_of_row = (gene_of_row + copy * 7919) % n_genes
    chrom_names = np.array(chroms, dtype=object)[var_chrom[row_variant]]
    pos = var_pos[row_variant]
    ids = (chrom_names + "_" + pos.astype(str).astype(object) + "_" + refs[row_variant] + "_" + alts[row_variant]
           + "_b38")
    maf = np.round(rng.uniform(0.01, 0.5, size=rows), 6)
    slope = np.round(rng.normal(0, 0.3, size=rows), 6)
    slope_se = np.round(np.abs(rng.normal(0.05, 0.01, size=rows)) + 0.005, 6)
    pval = rng.uniform(1e-30, 1e-4, size=rows)
    gene_ids = np.char.add("ENSG", np.char.zfill(gene_of_row.astype(str), 11)).astype(object) + ".5"
    import pandas as pd

    table = pd.DataFrame({
        "variant_id": ids, "gene_id": gene_ids,
        "tss_distance": rng.integers(-1_000_000, 1_000_000, size=rows),
        "ma_samples": rng.integers(5, 600, size=rows), "ma_count": rng.integers(5, 700, size=rows),
        "maf": maf, "pval_nominal": pval, "slope": slope, "slope_se": slope_se,
        "pval_nominal_threshold": 1e-4, "min_pval_nominal": pval, "pval_beta": pval * 10,
    })[GTEX_HEADER]
    table = table.iloc[np.argsort(gene_ids, kind="stable")]
    table.to_csv(workdir / "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz", sep="\t", index=False,
                 compression={"method": "gzip", "compresslevel": 1})
    t_gtex = time.perf_counter() - t0

    t0 = time.perf_counter()
    peak_chrom = rng.choice(len(chroms), p=lengths / lengths.sum(), size=peaks)
    width = rng.integers(150, 3000, size=peaks)
    start = (N_PREFIX + rng.random(peaks) * (lengths[peak_chrom] - 2 * N_PREFIX - 3000)).astype(np.int64)
    q = np.round(rng.uniform(2.0, 300.0, size=peaks), 5)
    frame = pd.DataFrame({
        "chrom": np.array(chroms, dtype=object)[peak_chrom], "start": start, "end": start + width,
        "name": [f"peak_{i}" for i in range(peaks)], "score": 1000, "strand": ".",
        "signal": np.round(q / 3, 5), "p": q + 1, "q": q, "summit": width // 2,
    })
    artifacts = pd.DataFrame({"chrom": chroms[:3], "start": 0, "end": 3_000_000, "name": "gap_artifact", "score": 0,
                              "strand": ".", "signal": 1.0, "p": 3.0, "q": 2.5, "summit": 1_500_000})
    frame = pd.concat([frame, artifacts]).sample(frac=1.0, random_state=seed)
    frame.to_csv(workdir / "K562.narrowPeak.gz", sep="\t", header=False, index=False, compression="gzip")
    t_peaks = time.perf_counter() - t0
    stamp.write_text(json.dumps(params))
    print(f"generated in {workdir}: genome {t_genome:.0f} s, GTEx table {t_gtex:.0f} s "
          f"({rows:,} rows, {n_variants:,} variants), peaks {t_peaks:.0f} s", flush=True)
    return params


def peak_rss_mb() -> float:
    """VmHWM of this process image (reset at exec, so a parent's memory is never counted)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_seed(workdir: Path) -> dict:
    """The seed's path, step for step (its own logic re-written here; see the module docstring)."""
    from pyfaidx import Fasta

    steps = {}
    t0 = time.perf_counter()
    eqtl_data = []
    with gzip.open(workdir / "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz", "rt") as handle:
        handle.readline()
        for line in handle:
            fields = line.strip().split("\t")
            parts = fields[0].split("_")
            if len(parts) >= 4:
                pos = int(parts[1])
                eqtl_data.append({"chr": parts[0], "start": pos - 1, "end": pos, "variant_id": fields[0],
                                  "gene_id": fields[1], "slope": float(fields[7]), "ref": parts[2], "alt": parts[3]})
    bed = workdir / "seed_eqtls.bed"
    with open(bed, "w") as handle:
        for var in eqtl_data:
            handle.write(f"{var['chr']}\t{var['start']}\t{var['end']}\t"
                         f"{var['variant_id']}:{var['gene_id']}:{var['slope']}:{var['ref']}:{var['alt']}\n")
    steps["parse"] = time.perf_counter() - t0
    n_rows = len(eqtl_data)
    del eqtl_data

    t0 = time.perf_counter()
    filtered = workdir / "seed_filtered.bed"
    with open(filtered, "w") as out:
        subprocess.run(["bedtools", "intersect", "-a", str(bed), "-b", str(workdir / "K562.narrowPeak.gz"), "-wa", "-u"],
                       stdout=out, check=True)
    steps["intersect"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    genome = Fasta(str(workdir / "genome.fa"))
    sequences = []
    with open(filtered) as handle:
        for line in handle:
            fields = line.strip().split("\t")
            info = fields[3].split(":")
            pos = int(fields[2])
            window_start = max(1, pos - WINDOW // 2)
            ref_seq = genome[fields[0]][window_start - 1:window_start - 1 + WINDOW].seq.upper()
            if ref_seq.count("N") > WINDOW * 0.1:
                continue
            offset = pos - window_start
            alt_seq = ref_seq[:offset] + info[4] + ref_seq[offset + len(info[3]):]
            alt_seq = alt_seq[:WINDOW] + "N" * max(0, WINDOW - len(alt_seq))
            sequences.append({"variant_id": info[0], "gene_id": info[1], "slope": float(info[2]),
                              "ref_seq": ref_seq, "alt_seq": alt_seq, "chr": fields[0], "pos": pos})
    steps["windows"] = time.perf_counter() - t0
    return {"steps": steps, "rows": n_rows, "in_peaks_rows": len(sequences), "peak_rss_mb": peak_rss_mb(),
            "bedtools_peak_rss_mb": children_rss_mb()}


def run_endobench(workdir: Path) -> dict:
    from endobench.lib.gtex import read_gtex_eqtls
    from endobench.lib.intervals import variants_in_peaks
    from endobench.lib.peaks import filter_peaks, read_peaks
    from endobench.lib.reference import ReferenceGenome
    from endobench.lib.windows import OK, build_windows

    steps = {}
    t0 = time.perf_counter()
    parsed = read_gtex_eqtls(workdir / "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz", truth_set="gtex_wb")
    steps["read_gtex_eqtls"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    peaks = read_peaks(workdir / "K562.narrowPeak.gz", HG38)
    blacklist = read_peaks(BLACKLIST, HG38)
    filtered = filter_peaks(peaks, max_width=5_000, min_qvalue=2.0, blacklist=blacklist)
    steps["read_peaks+filter_peaks"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    frame = parsed.frame
    in_peak = variants_in_peaks(frame, filtered)
    kept = frame[in_peak]
    steps["variants_in_peaks"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    reference = ReferenceGenome(workdir / "genome.fa", HG38)
    keys = ["chrom", "pos", "ref", "alt"]
    unique = kept.drop_duplicates(keys)[keys + ["variant_id", "effect"]]
    windows = build_windows(unique, reference, window_length=WINDOW, needs_sequence=True)
    steps["build_windows"] = time.perf_counter() - t0
    return {"steps": steps, "rows": parsed.rows_read, "kept_rows": len(frame), "in_peaks_rows": int(in_peak.sum()),
            "in_peaks_variants": len(unique), "windows_ok": int((windows["window_status"] == OK).sum()),
            "excluded": dict(parsed.excluded), "peaks_kept": len(filtered.frame),
            "peak_rss_mb": peak_rss_mb(), "bedtools_peak_rss_mb": children_rss_mb()}


# --- (c) a prototype of the patch proposed to the lead (not endobench's code; see the report) ----------------------
# The same three steps without per-row Python or per-element pandas object strings: pyarrow's multithreaded CSV
# reader with typed columns, variant ids split in Arrow, overlap by numpy searchsorted on merged peaks, and the
# reference read through a memory map at offsets computed from the .fai. Results are cross-checked against (b).


def proposed_read_signif_pairs(path: Path):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    floats = ["slope", "slope_se", "pval_nominal", "maf", "tss_distance"]
    table = pacsv.read_csv(
        pa.input_stream(str(path), compression="gzip" if str(path).endswith(".gz") else None),
        read_options=pacsv.ReadOptions(block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            include_columns=["variant_id", "gene_id", *floats],
            column_types={"variant_id": pa.string(), "gene_id": pa.string(), **{c: pa.float64() for c in floats}},
        ),
    )
    ids = table["variant_id"].combine_chunks()
    parts = pc.split_pattern(ids, "_", max_splits=4)
    if pc.min(pc.list_value_length(parts)).as_py() != 5:
        raise ValueError("a variant_id is not chr_pos_ref_alt_build")
    flat = pc.list_flatten(parts)
    n = len(ids)
    field = lambda k: pc.take(flat, pa.array(np.arange(k, 5 * n, 5)))  # noqa: E731
    chrom, ref, alt = field(0), field(2), field(3)
    pos = pc.cast(field(1), pa.int64())
    valid = pc.and_(pc.match_substring_regex(ref, "^[ACGTN]+$"), pc.match_substring_regex(alt, "^[ACGTN]+$"))
    valid = pc.and_(valid, pc.is_finite(table["slope"].combine_chunks()))
    import pandas as pd

    frame = pd.DataFrame({
        "variant_id": ids.to_pandas(types_mapper=pd.ArrowDtype), "chrom": chrom.to_pandas(types_mapper=pd.ArrowDtype),
        "pos": pos.to_numpy(), "ref": ref.to_pandas(types_mapper=pd.ArrowDtype),
        "alt": alt.to_pandas(types_mapper=pd.ArrowDtype), "effect": table["slope"].to_numpy(),
    })
    return frame[valid.to_numpy(zero_copy_only=False)].reset_index(drop=True)


def proposed_in_peaks(chrom: np.ndarray, start: np.ndarray, end: np.ndarray, peaks) -> np.ndarray:
    """Does [start, end) overlap any peak? Merged peaks per chromosome, one searchsorted per variant."""
    inside = np.zeros(len(chrom), dtype=bool)
    for name, group in peaks.groupby("chrom", sort=False):
        s = group["start"].to_numpy()
        e = group["end"].to_numpy()
        order = np.argsort(s, kind="stable")
        s, e = s[order], np.maximum.accumulate(e[order])
        rows = np.flatnonzero(chrom == name)
        if not len(rows):
            continue
        i = np.searchsorted(s, end[rows], side="left") - 1
        inside[rows] = (i >= 0) & (e[np.maximum(i, 0)] > start[rows])
    return inside


class MappedFasta:
    """Byte offsets of bases in an uncompressed FASTA, computed from its .fai; no sequence object per call."""

    def __init__(self, fasta: Path) -> None:
        self.index = {}
        for line in Path(str(fasta) + ".fai").read_text().splitlines():
            name, length, offset, bases, width = line.split("\t")[:5]
            self.index[name] = (int(length), int(offset), int(bases), int(width))

    def offsets(self, chrom: str, pos0: np.ndarray) -> np.ndarray:
        _, offset, bases, width = self.index[chrom]
        return offset + (pos0 // bases) * width + pos0 % bases


def run_proposed(workdir: Path) -> dict:
    import pandas as pd

    from endobench.lib.peaks import filter_peaks, read_peaks

    steps = {}
    t0 = time.perf_counter()
    frame = proposed_read_signif_pairs(workdir / "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz")
    steps["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    peaks = read_peaks(workdir / "K562.narrowPeak.gz", HG38)
    filtered = filter_peaks(peaks, max_width=5_000, min_qvalue=2.0, blacklist=read_peaks(BLACKLIST, HG38))
    steps["read_peaks+filter_peaks"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    codes, uniques = pd.factorize(frame["variant_id"])
    first = np.unique(codes, return_index=True)[1]
    chrom = frame["chrom"].to_numpy(dtype=object)[first]
    start = frame["pos"].to_numpy()[first] - 1
    ref_len = frame["ref"].str.len().to_numpy(dtype=np.int64)[first]
    inside_unique = proposed_in_peaks(chrom, start, start + ref_len, filtered.frame)
    in_peak = inside_unique[codes]
    steps["in_peaks"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    fasta = MappedFasta(workdir / "genome.fa")
    rows = first[inside_unique]
    refs = frame["ref"].to_numpy(dtype=object)[rows]
    positions = frame["pos"].to_numpy()[rows] - 1
    chroms = chrom[inside_unique]
    ok = 0
    with open(workdir / "genome.fa", "rb") as handle:
        fd = handle.fileno()
        for name in np.unique(chroms):
            here = np.flatnonzero(chroms == name)
            p0 = positions[here]
            lengths = np.array([len(r) for r in refs[here]])
            first_base = p0 + lengths // 2 - WINDOW // 2
            lo = fasta.offsets(name, first_base)
            hi = fasta.offsets(name, first_base + WINDOW - 1) + 1
            # pread, not the memory map: file pages read through a map would count as this process's RSS
            for a, b, offset, ref in zip(lo.tolist(), hi.tolist(), (p0 - first_base).tolist(), refs[here]):
                window = os.pread(fd, b - a, a).replace(b"\n", b"").upper()
                if window[offset:offset + len(ref)] == ref.encode():
                    ok += int(window.count(b"N") <= 0.1 * WINDOW)
    steps["windows"] = time.perf_counter() - t0
    return {"steps": steps, "rows": len(frame), "in_peaks_rows": int(in_peak.sum()),
            "in_peaks_variants": int(inside_unique.sum()), "windows_ok": ok,
            "peak_rss_mb": peak_rss_mb(), "bedtools_peak_rss_mb": children_rss_mb()}


def child(side: str, workdir: Path, profile: bool) -> dict:
    command = [sys.executable, __file__, "--side", side, "--workdir", str(workdir)] + (["--profile"] if profile else [])
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{side} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    if profile and side == "endobench":
        print(done.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_400_000, help="variant-gene pairs (GTEx Whole Blood: 2,414,653)")
    parser.add_argument("--peaks", type=int, default=100_000)
    parser.add_argument("--chroms", default=None, help="comma-separated subset of chromosomes (default: chr1-22, chrX)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to generate (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--profile", action="store_true", help="cProfile the endobench side, print the top functions")
    parser.add_argument("--proposed", action="store_true", help="also time (c), the prototype of the proposed patch")
    parser.add_argument("--side", choices=["seed", "endobench", "proposed"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side:
        if args.profile and args.side == "endobench":
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            result = profiler.runcall(run_endobench, args.workdir)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
        else:
            result = {"seed": run_seed, "endobench": run_endobench, "proposed": run_proposed}[args.side](args.workdir)
        print(json.dumps(result))
        return

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="endobench_ingest_"))
    try:
        generate(workdir, args.rows, args.peaks, chromosomes(args.chroms))
        seed = child("seed", workdir, False)
        ours = child("endobench", workdir, args.profile)
        proposed = child("proposed", workdir, False) if args.proposed else None
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{seed['rows']:,} GTEx rows, {args.peaks:,} peaks, window {WINDOW:,} bp, "
          f"chromosomes: {args.chroms or 'chr1-22,chrX'}")
    print(f"(a) seed       {seed['wall_s']:7.1f} s  peak RSS {seed['peak_rss_mb']:7.0f} MB "
          f"(children {seed['bedtools_peak_rss_mb']:.0f} MB)  " + _steps(seed))
    print(f"(b) endobench  {ours['wall_s']:7.1f} s  peak RSS {ours['peak_rss_mb']:7.0f} MB "
          f"(children {ours['bedtools_peak_rss_mb']:.0f} MB)  " + _steps(ours))
    print(f"    seed: {seed['in_peaks_rows']:,} in-peak rows windowed (duplicates included); endobench: "
          f"{ours['in_peaks_rows']:,} in-peak rows, {ours['in_peaks_variants']:,} distinct variants windowed, "
          f"{ours['windows_ok']:,} ok; excluded {ours['excluded'] or 'none'}")
    ratio = seed["wall_s"] / ours["wall_s"]
    print(f"ratio (a)/(b) = {ratio:.2f}x (target >= 10x); endobench peak RSS {ours['peak_rss_mb']:.0f} MB "
          f"(target < 2,048 MB)")
    if proposed:
        same = (proposed["in_peaks_rows"], proposed["in_peaks_variants"], proposed["windows_ok"]) == (
            ours["in_peaks_rows"], ours["in_peaks_variants"], ours["windows_ok"])
        print(f"(c) proposed   {proposed['wall_s']:7.1f} s  peak RSS {proposed['peak_rss_mb']:7.0f} MB  "
              + _steps(proposed))
        print(f"ratio (a)/(c) = {seed['wall_s'] / proposed['wall_s']:.2f}x; counts "
              f"{'identical to' if same else 'DIFFERENT from'} (b): {proposed['in_peaks_rows']:,} rows, "
              f"{proposed['in_peaks_variants']:,} variants, {proposed['windows_ok']:,} windows ok")


def _steps(result: dict) -> str:
    return ", ".join(f"{k} {v:.1f} s" for k, v in result["steps"].items())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
