"""AlphaGenome throughput: the seed's call pattern versus endobench's, against the loopback stand-in.

Both ways run in one process against the same stand-in server (real gRPC on 127.0.0.1, a fixed latency per
call) through the real SDK client, on the same variant-gene pairs: real GTEx v8 Whole Blood lead variants on
chr22, each paired with its nearest eGenes, so a few hundred variants are shared by several genes as in GTEx.

- seed: for every pair, two `predict_sequence` calls (reference and alternate sequence), one after the other;
- endobench: `AlphaGenomePredictor.score_variants` (one `score_variant` per distinct variant carrying both the
  DNase and the RNA-seq scorer, `--concurrency` in flight), then the same call again, served from the cache.

The seed's sequences are synthetic (seeded random bases around the variant): the stand-in's latency, not the
sequence, sets the time. Run: `.venv/bin/python bench/alphagenome_throughput.py [--pairs N] [--latency S]`.
"""

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alphagenome.models import dna_client  # noqa: E402

from endobench.resources.alphagenome import AlphaGenomePredictor  # noqa: E402
from endobench_tests.stand_ins.alphagenome_server import SAMPLE_EGENES, AlphaGenomeStandIn, StandInGene  # noqa: E402

KEY = "bench-key"
K562 = "EFO:0002067"
BASES = np.frombuffer(b"ACGT", dtype="S1")


def variant_gene_pairs(n_pairs: int, genes_per_variant: int) -> tuple[pd.DataFrame, list[StandInGene]]:
    """`n_pairs` rows of real chr22 lead variants, each paired with its `genes_per_variant` nearest eGenes."""
    table = pd.read_csv(SAMPLE_EGENES, sep="\t")
    genes = [StandInGene(g.split(".")[0], c, int(s) - 1, int(e), st) for g, c, s, e, st in
             table[["gene_id", "gene_chr", "gene_start", "gene_end", "strand"]].itertuples(index=False)]
    tss = np.where(table["strand"] == "+", table["gene_start"], table["gene_end"]).astype(int)
    leads = table.drop_duplicates("variant_id").reset_index(drop=True)
    n_variants = -(-n_pairs // genes_per_variant)
    if n_variants > len(leads):
        raise SystemExit(f"--pairs {n_pairs:,} needs {n_variants:,} variants; the sample has {len(leads):,}: "
                         "raise --genes-per-variant")
    rows = []
    for lead in leads.head(n_variants).itertuples():
        nearest = np.argsort(np.abs(tss - int(lead.variant_pos)), kind="stable")[:genes_per_variant]
        for j in nearest:
            rows.append((lead.variant_id, lead.chr, int(lead.variant_pos), lead.ref, lead.alt,
                         table["gene_id"].iloc[j]))
    pairs = pd.DataFrame(rows[:n_pairs], columns=["variant_id", "chrom", "pos", "ref", "alt", "gene_id"])
    return pairs, genes


def predictor_input(pairs: pd.DataFrame, interval_length: int) -> pd.DataFrame:
    """What the prediction asset passes: every pair for expression, every distinct variant once for accessibility."""
    expression = pairs.assign(readout="expression")
    accessibility = pairs.drop_duplicates("variant_id").assign(gene_id=pd.NA, readout="accessibility")
    frame = pd.concat([expression, accessibility], ignore_index=True)
    frame["window_start"] = frame["pos"] - 1 - interval_length // 2
    frame["window_end"] = frame["window_start"] + interval_length
    return frame


def seed_way(address: str, pairs: pd.DataFrame, sequence_length: int) -> tuple[float, int]:
    """Two sequential `predict_sequence` calls per pair, scoring the DNase difference around the centre."""
    import grpc

    channel = grpc.insecure_channel(address)
    client = dna_client.DnaClient(channel=channel, metadata=[("x-goog-api-key", KEY)])
    rng = np.random.default_rng(0)
    centre = sequence_length // 2
    calls = 0
    started = time.perf_counter()
    for pair in pairs.itertuples():
        flank = BASES[rng.integers(0, 4, size=sequence_length)].tobytes().decode()
        ref = flank[:centre] + pair.ref + flank[centre + len(pair.ref):]
        # Indels change the length; trim or pad with N to the model's length, as the seed had to.
        alt = (flank[:centre] + pair.alt + flank[centre + len(pair.ref):] + "N" * len(pair.ref))[:sequence_length]
        ref_out = client.predict_sequence(ref, requested_outputs=[dna_client.OutputType.DNASE],
                                          ontology_terms=[K562])
        alt_out = client.predict_sequence(alt, requested_outputs=[dna_client.OutputType.DNASE],
                                          ontology_terms=[K562])
        calls += 2
        window = slice(centre - 250, centre + 251)
        _ = float(np.log2(alt_out.dnase.values[window].sum() + 1) - np.log2(ref_out.dnase.values[window].sum() + 1))
    elapsed = time.perf_counter() - started
    channel.close()
    return elapsed, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2_000, help="variant-gene pairs (default 2,000)")
    parser.add_argument("--genes-per-variant", type=int, default=5, help="eGenes per variant (default 5)")
    parser.add_argument("--latency", type=float, default=0.02,
                        help="stand-in seconds per call (default 0.02 so the seed way runs in about 2.5 minutes; "
                             "200 ms makes it 2 x pairs x 0.2 s)")
    parser.add_argument("--concurrency", type=int, default=4, help="endobench calls in flight (default 4)")
    parser.add_argument("--requests-per-minute", type=float, default=0,
                        help="endobench limiter (default 0: none, the stand-in has no quota)")
    parser.add_argument("--interval-length", type=int, default=1_048_576, help="endobench interval (default 1 MB)")
    parser.add_argument("--seed-sequence-length", type=int, default=16_384,
                        help="sequence length of the seed's predict_sequence calls (default 16,384)")
    args = parser.parse_args()

    pairs, genes = variant_gene_pairs(args.pairs, args.genes_per_variant)
    frame = predictor_input(pairs, args.interval_length)
    n_variants = pairs["variant_id"].nunique()
    print(f"pairs {len(pairs):,}, distinct variants {n_variants:,} ({args.genes_per_variant} genes each), "
          f"stand-in latency {args.latency * 1000:.0f} ms per call")
    print(f"endobench: concurrency {args.concurrency}, requests per minute "
          f"{args.requests_per_minute or 'unlimited'}, interval {args.interval_length:,} bp; "
          f"seed: sequential, 2 predict_sequence calls per pair of {args.seed_sequence_length:,} bp")
    log = logging.getLogger("bench.alphagenome")
    with AlphaGenomeStandIn(genes=genes, latency=args.latency, max_workers=max(16, 2 * args.concurrency)) as server, \
            tempfile.TemporaryDirectory() as cache_dir:
        predictor = AlphaGenomePredictor(api_key=KEY, address=server.address, max_concurrency=args.concurrency,
                                         requests_per_minute=args.requests_per_minute,
                                         interval_length=args.interval_length,
                                         max_new_calls_per_run=max(n_variants, 1))
        started = time.perf_counter()
        first = predictor.score_variants(frame, reference=None, cache_dir=Path(cache_dir), log=log)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        second = predictor.score_variants(frame, reference=None, cache_dir=Path(cache_dir), log=log)
        cached = time.perf_counter() - started
        seed, seed_calls = seed_way(server.address, pairs, args.seed_sequence_length)

    scored = (first.scores["status"] == "scored").sum()
    print(f"seed way:       {seed:8.1f} s  ({seed_calls:,} predict_sequence calls)")
    print(f"endobench way:  {ours:8.1f} s  ({first.api_calls:,} score_variant calls, {scored:,} of "
          f"{len(frame):,} rows scored, the rest {dict(first.failures_by_reason)})")
    print(f"ratio:          {seed / ours:8.1f}x  (target >= 8x)")
    print(f"second run:     {cached:8.2f} s  ({second.api_calls} calls, {second.cache_hits:,} cache hits)")


if __name__ == "__main__":
    main()
