"""How fast the local DNase model scores variants: prints variants/s and the ratio to the 2,000/s target.

Usage: .venv/bin/python bench/local_model_speed.py [--model PATH] [--n 20000]
Without --model it trains the cross-fitted pair first (about 10-20 s); each variant is scored by the fold model
that never saw its chromosome, as the pipeline scores it. The variants are random
positions of the real hg38 segments in data/sample (chr22 and chr2): 90% SNVs, 5% 1-3 bp deletions and 5%
1-3 bp insertions, each as a REF window of 2*flank + len(REF) bp and its ALT window, as the pipeline builds them.
"""

import argparse
import time
from pathlib import Path

import numpy as np

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.model.crossfit import CrossFittedModel
from endobench.lib.model.training import TrainingInputs, train_cross_fitted

TARGET_PER_SECOND = 2_000
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"
SEGMENTS = [("chr22", 32_000_000, 32_300_000), ("chr2", 0, 2_333_275)]


def random_variant_pairs(reference: ReferenceGenome, flank: int, n: int, seed: int = 0) -> tuple[list, list, list]:
    rng = np.random.default_rng(seed)
    refs, alts, chroms = [], [], []
    while len(refs) < n:
        chrom, lo, hi = SEGMENTS[rng.integers(len(SEGMENTS))]
        kind = rng.random()
        ref_len = int(rng.integers(2, 5)) if kind > 0.95 else 1
        pos0 = int(rng.integers(lo + flank, hi - flank - ref_len))
        seq = reference.fetch(chrom, pos0 - flank, pos0 + ref_len + flank)
        ref = seq[flank:flank + ref_len]
        if "N" in seq:
            continue
        if ref_len > 1:
            alt = ref[0]
        elif kind > 0.90:
            alt = ref + "".join(rng.choice(list("ACGT"), int(rng.integers(1, 4))))
        else:
            alt = str(rng.choice([b for b in "ACGT" if b != ref]))
        refs.append(seq)
        alts.append(seq[:flank] + alt + seq[flank + ref_len:])
        chroms.append(chrom)
    return refs, alts, chroms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    if args.model is not None:
        model = CrossFittedModel.load(args.model)
    else:
        started = time.perf_counter()
        model, _ = train_cross_fitted(TrainingInputs.sample(SAMPLE_DIR))
        print(f"trained {model.name} in {time.perf_counter() - started:.1f} s")
    reference = ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
    refs, alts, chroms = random_variant_pairs(reference, model.flank, args.n)
    model.score_pairs(refs[:100], alts[:100], chroms[:100])  # warm-up
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        s_ref, s_alt = model.score_pairs(refs, alts, chroms)
        best = min(best, time.perf_counter() - started)
    assert np.isfinite(s_alt - s_ref).all()
    rate = len(refs) / best
    print(f"scored {len(refs):,} variant pairs ({2 * len(refs):,} sequences) in {best:.3f} s (best of 3)")
    print(f"variants/s: {rate:,.0f}")
    print(f"ratio to the {TARGET_PER_SECOND:,}/s target: {rate / TARGET_PER_SECOND:.1f}x")


if __name__ == "__main__":
    main()
