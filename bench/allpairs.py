"""All-pairs negatives at scale: the streaming selection against inflating and parsing the file, at two lengths.

    .venv/bin/python bench/allpairs.py                        # 4 M and 16 M rows (about 3 minutes)
    .venv/bin/python bench/allpairs.py --rows 500000          # quick: 0.5 M and 2 M rows (memory not yet flat)
    .venv/bin/python bench/allpairs.py --workdir /tmp/ap --keep   # keep (and later reuse) the generated files

GTEx Whole Blood's `Whole_Blood.allpairs.txt.gz` holds on the order of 10^8 tests; endobench never holds it, it
streams it (`lib/truth_sets/allpairs.py`) and keeps only the bounded candidates (`lib/evaluation/negative_tests.py`).
Generated into a temporary directory (never the repository), in the real layout: GTEx's v8 all-pairs header
(`gene_id variant_id tss_distance ma_samples ma_count maf pval_nominal slope slope_se`), rows grouped by gene and
ordered by position, genes spread over chr1-chr22 by length, each gene tested against every variant of a shared
per-chromosome pool within 1 Mb of its TSS (one variant per 270 bp, as GTEx's about 7,500 tests per gene), so
that a variant is tested for every gene near it; each gene's first test is its lead (p = 1e-12), the rest
uniform p. Positives: every other gene, with its lead as the positive; two annotations: 100 K peaks of 150 bp - 3 kb
(K562-like, about 2% of the genome) and 5,600 single-base sites (dsQTL-like). Thresholds: 1e-4 for every gene.

Each side runs in a subprocess of its own, so that peak RSS (VmHWM) is its own:
(a) endobench: `select_negative_tests` on the file (per_gene 2): every block read by name, the rule, bedtools for the
    annotations, the bound, the QTL table of what is kept;
(b) floor: inflating (ISA-L, as endobench reads it) and parsing the same seven columns with Arrow's streaming reader
    in the same blocks, nothing else: what no selection that reads the file can beat on this machine.
Printed: rows, compressed size and inflation, the wall time of each side and (a)/(b), rows per second, peak RSS of
each, and the peak RSS of (a) at 4x the rows over its peak at 1x: memory must not grow with the file (target <= 1.25;
(a)/(b) target <= 2.0).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from endobench.lib.genome.builds import CHROM_SIZES, HG38  # noqa: E402

HEADER = ["gene_id", "variant_id", "tss_distance", "ma_samples", "ma_count", "maf", "pval_nominal", "slope",
          "slope_se"]
TESTS_PER_GENE = 7_500
WINDOW = 1_000_000
BASES = np.array(list("ACGT"), dtype=object)


def generate(path: Path, rows: int, seed: int = 11) -> dict:
    """Write the all-pairs file and the bench's targets (`targets.json` beside it); reuse them when present."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from isal import igzip

    stamp = path.with_suffix(".json")
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()).get("rows") == rows:
        return json.loads(stamp.read_text())
    rng = np.random.default_rng(seed)
    chroms = [f"chr{i}" for i in range(1, 23)]
    lengths = np.array([CHROM_SIZES[HG38][c] for c in chroms], dtype=np.int64)
    n_genes = max(1, rows // TESTS_PER_GENE)
    gene_chrom = np.sort(rng.choice(len(chroms), p=lengths / lengths.sum(), size=n_genes))
    written, genes, leads = 0, [], []
    with igzip.open(path, "wb", compresslevel=1) as out:
        out.write(("\t".join(HEADER) + "\n").encode())
        for ci, chrom in enumerate(chroms):
            here = np.flatnonzero(gene_chrom == ci)
            if not len(here):
                continue
            pool = np.sort(rng.choice(np.arange(2 * WINDOW, lengths[ci] - 2 * WINDOW, 270), replace=False,
                                      size=(lengths[ci] - 4 * WINDOW) // 270))
            ref = BASES[rng.integers(0, 4, len(pool))]
            alt = BASES[(rng.integers(1, 4, len(pool)) + np.searchsorted(BASES, ref)) % 4]
            ids = np.array([f"{chrom}_{p}_{r}_{a}_b38" for p, r, a in zip(pool, ref, alt)], dtype=object)
            maf = rng.uniform(0.01, 0.5, len(pool))
            for gene in here:
                tss = int(rng.integers(2 * WINDOW, lengths[ci] - 2 * WINDOW))
                lo, hi = np.searchsorted(pool, [tss - WINDOW, tss + WINDOW])
                idx = np.arange(lo, min(hi, lo + max(1, min(TESTS_PER_GENE, rows - written))))
                if not len(idx) or written >= rows:
                    continue
                name = f"ENSG{gene:011d}.1"
                p = rng.uniform(size=len(idx))
                p[0] = 1e-12
                table = pa.table({
                    "gene_id": [name] * len(idx), "variant_id": ids[idx], "tss_distance": pool[idx] - tss,
                    "ma_samples": (maf[idx] * 670).astype(int), "ma_count": (maf[idx] * 700).astype(int),
                    "maf": maf[idx], "pval_nominal": p, "slope": rng.normal(0, 0.1, len(idx)),
                    "slope_se": rng.uniform(0.03, 0.1, len(idx))})
                pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False, delimiter="\t",
                                                               quoting_style="none"))
                genes.append(name)
                leads.append({"gene_id": name, "variant_id": ids[idx[0]], "chrom": chrom, "pos": int(pool[idx[0]]),
                              "tss_distance": int(pool[idx[0]] - tss), "maf": float(maf[idx[0]])})
                written += len(idx)
    peaks = []
    for ci, chrom in enumerate(chroms):
        n = int(100_000 * lengths[ci] / lengths.sum())
        starts = np.sort(rng.integers(0, lengths[ci] - 3_000, n))
        peaks += [(chrom, int(s), int(s + w)) for s, w in zip(starts, rng.integers(150, 3_000, n))]
    sites = [(leads[i]["chrom"], leads[i]["pos"] - 1, leads[i]["pos"]) for i in range(0, len(leads), 2)]
    for ci, chrom in enumerate(chroms):
        n = int(5_600 * lengths[ci] / lengths.sum())
        sites += [(chrom, int(s), int(s) + 1) for s in rng.integers(2 * WINDOW, lengths[ci] - 2 * WINDOW, n)]
    params = {"rows": written, "leads": leads[::2], "peaks": peaks, "sites": sites}
    stamp.write_text(json.dumps(params))
    return params


def peak_rss_mb() -> float:
    """VmHWM of this process image (reset at exec, so the parent's memory is never counted)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_select(path: Path) -> dict:
    import pandas as pd
    import pyarrow as pa

    from endobench.lib.evaluation.negative_tests import NegativeTargets, TruthSetTarget, select_negative_tests
    from endobench.lib.genome.peaks import PeakSet

    params = json.loads(path.with_suffix(".json").read_text())
    leads = pd.DataFrame(params["leads"])
    positives = pd.DataFrame({"gene_id": leads["gene_id"], "log10_tss_distance": np.log10(leads["tss_distance"].abs() + 1),
                              "maf": leads["maf"]})

    def peak_set(intervals) -> PeakSet:
        frame = pd.DataFrame(intervals, columns=["chrom", "start", "end"]).sort_values(["chrom", "start"])
        return PeakSet(frame.assign(name=".", qvalue=np.nan).reset_index(drop=True), HG38, len(frame))

    targets = NegativeTargets("gtex_wb", [TruthSetTarget("peaks", peak_set(params["peaks"]), positives),
                                          TruthSetTarget("sites", peak_set(params["sites"]), positives)],
                              pd.Series(1e-4, index=leads["gene_id"]), pa.array(leads["variant_id"], pa.string()))
    started = time.perf_counter()
    selection = select_negative_tests([path], targets, per_gene=2)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows_read": selection.rows_read, "kept": selection.table.num_rows,
            "truth_sets": {k: {n: v for n, v in d.items() if n != "balance_every_candidate"}
                           for k, d in selection.truth_sets.items()}, "rss_mb": peak_rss_mb()}


def run_floor(path: Path) -> dict:
    from endobench.lib.truth_sets.allpairs import allpairs_blocks

    started = time.perf_counter()
    rows = sum(block.table.num_rows for block in allpairs_blocks(path))
    return {"seconds": time.perf_counter() - started, "rows_read": rows, "rss_mb": peak_rss_mb()}


def inflated_bytes(path: Path) -> int:
    from isal import igzip

    with igzip.open(path, "rb") as stream:
        return sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 24), b""))


def side(kind: str, path: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--side", kind, "--file", str(path)], check=True,
                          capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows of the smaller file (the larger has 4x)")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--side", choices=["select", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps((run_select if args.side == "select" else run_floor)(args.file)))
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="endobench-allpairs-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = {}
        for rows in (args.rows, 4 * args.rows):
            path = workdir / f"Whole_Blood.{rows}.allpairs.txt.gz"
            started = time.perf_counter()
            params = generate(path, rows)
            print(f"generated {params['rows']:,} rows in {time.perf_counter() - started:.0f} s: {path} "
                  f"({path.stat().st_size / 1e6:,.0f} MB)", flush=True)
            select, floor = side("select", path), side("floor", path)
            results[rows] = select
            print(f"  inflates {inflated_bytes(path) / path.stat().st_size:.1f}-fold", flush=True)
            print(f"  (a) endobench selection: {select['seconds']:.1f} s ({select['rows_read'] / select['seconds']:,.0f} "
                  f"rows/s), {select['kept']:,} negatives kept, peak RSS {select['rss_mb']:,.0f} MB")
            print(f"  (b) floor, inflate + parse: {floor['seconds']:.1f} s ({floor['rows_read'] / floor['seconds']:,.0f} "
                  f"rows/s), peak RSS {floor['rss_mb']:,.0f} MB")
            print(f"  (a)/(b) = {select['seconds'] / floor['seconds']:.2f} (target <= 2.0); "
                  f"per truth set: {json.dumps(select['truth_sets'])}", flush=True)
        small, large = results[args.rows], results[4 * args.rows]
        print(f"peak RSS of (a) at {4 * args.rows:,} rows over {args.rows:,}: "
              f"{large['rss_mb'] / small['rss_mb']:.2f} (target <= 1.25); time {large['seconds'] / small['seconds']:.2f}x "
              "for 4x the rows")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
