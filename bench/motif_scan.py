"""How fast the motif scan is: variants/s of the vectorised scan, and its ratio to Biopython's PSSM scoring of the
same placements motif by motif (the scores agree to the 1/40-bit quantisation; tests check that).

Usage: .venv/bin/python bench/motif_scan.py [--n 20000] [--n-reference 200]
The variants are random SNVs of the real hg38 segments in data/sample (chr22 and chr2), scanned with all 879
JASPAR 2024 CORE vertebrate profiles, both alleles, both strands, as the `motif_changes` asset scans them. The
demo scans about 5,700 variants.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.motifs.changes import candidates_of_pairs
from endobench.lib.motifs.library import load_jaspar

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
SEGMENTS = [("chr22", 32_000_000, 32_300_000), ("chr2", 0, 2_333_275)]


def random_snv_pairs(reference: ReferenceGenome, flank: int, n: int, seed: int = 0) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    refs, alts = [], []
    while len(refs) < n:
        chrom, lo, hi = SEGMENTS[rng.integers(len(SEGMENTS))]
        pos0 = int(rng.integers(lo + flank, hi - flank - 1))
        seq = reference.fetch(chrom, pos0 - flank, pos0 + 1 + flank)
        if "N" in seq:
            continue
        alt = "ACGT"[("ACGT".index(seq[flank]) + int(rng.integers(1, 4))) % 4]
        refs.append(seq)
        alts.append(seq[:flank] + alt + seq[flank + 1:])
    return refs, alts


def biopython_seconds(refs: list[str], alts: list[str], flank: int, release: str) -> float:
    """Biopython's C scorer over the same placements: each motif, each strand, each allele, one call."""
    from Bio.motifs import jaspar
    from pyjaspar import jaspardb

    found = jaspardb(release=release).fetch_motifs(collection="CORE", tax_group=["vertebrates"])
    pssms = []
    for motif in found:
        motif.pseudocounts = jaspar.calculate_pseudocounts(motif)
        pssms.append((motif.length, motif.pssm, motif.pssm.reverse_complement()))
    started = time.perf_counter()
    for seq in refs + alts:
        for m, forward, reverse in pssms:
            region = seq[flank - m + 1:flank + m]
            max(np.nanmax(forward.calculate(region)), np.nanmax(reverse.calculate(region)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--n-reference", type=int, default=200, help="variants scored with Biopython (slow)")
    args = parser.parse_args()
    library = load_jaspar()
    flank = library.max_length - 1
    reference = ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
    refs, alts = random_snv_pairs(reference, flank, args.n)
    ones = np.ones(len(refs), dtype=np.int64)
    started = time.perf_counter()
    candidates = candidates_of_pairs(refs, alts, ones, ones, flank, library)
    seconds = time.perf_counter() - started
    per_second = len(refs) / seconds
    print(f"vectorised scan: {len(refs):,} SNVs x {len(library):,} profiles x 2 alleles x 2 strands in "
          f"{seconds:.2f} s = {per_second:,.0f} variants/s; {len(candidates):,} sites made or broken")
    n_ref = min(args.n_reference, len(refs))
    reference_per_second = n_ref / biopython_seconds(refs[:n_ref], alts[:n_ref], flank, library.release)
    print(f"Biopython PSSM scoring, motif by motif: {reference_per_second:,.1f} variants/s on {n_ref:,} of them")
    print(f"ratio: the vectorised scan is {per_second / reference_per_second:,.0f}x faster; the demo's ~5,700 "
          f"variants take about {5_700 / per_second:.1f} s")


if __name__ == "__main__":
    main()
