"""AlphaGenome throughput against the loopback stand-in (real gRPC on 127.0.0.1, the real SDK client).

Every section runs on real GTEx v8 Whole Blood lead variants on chr22 (each with its nearest eGenes), so each
call carries the DNase and the RNA-seq scorer as in the graph. Sections (`--sections`, default all):

- `seed`: the seed's call pattern (two sequential `predict_sequence` per variant-gene pair) against endobench's
  `AlphaGenomePredictor.score_variants` (one `score_variant` per distinct variant, `--concurrency` in flight),
  then the same call again, served from the cache. The seed's sequences are synthetic (seeded random bases around
  the variant): the stand-in's latency, not the sequence, sets the time.
- `quota`: the stand-in enforces a quota of `--quota` calls per window (default 20 per 60 s) in each shape a
  server may have: a sliding window, a bucket filled again at each window, and a bucket refilled continuously, each
  with and without RetryInfo. endobench scores `--quota-windows x quota` variants (default 6 windows' worth) with
  4 workers, no configured ceiling, 20 ms per call. Printed per shape: the share of what the quota offered that
  was used (from the first call to the last granted one), the variants lost, the refusals, the wall time against
  the ideal (a client that takes every call the moment the quota offers it), and the error of the ETA the
  progress lines (every twelfth of a window) printed once 20% was done, up to the last progress interval
  (|ETA - time that actually remained| / time that remained, largest and median). `--window-seconds` scales the
  minute down (6 runs everything 10x faster).
- `faults`: 200 variants, 4 workers, 50 ms per call, fault-free and with 10% of calls failing UNAVAILABLE or
  INTERNAL (three seeds), for endobench and for the SDK's own `DnaClient.score_variants` (`max_workers=4`) as
  the peer. Printed: times, the fault/fault-free ratio, what each returned.
- `atlas`: `--atlas-snvs` real Degner dsQTL SNVs (default 2,000, genome-wide at their lifted hg38 positions, REF the
  bundled sample reference's base, the dsQTLs' own ALT) and `--atlas-indels` insertions at the first of them
  (default 50), one GM12878 DNase row each, under a live quota of `--live-quota` calls per `--window-seconds`
  (default 60 per 60 s: per minute), 20 ms per call for both services, 4 workers: once with the Atlas (the default:
  SNVs from the Atlas, the rest live) and once live only (`ENDOBENCH_ALPHAGENOME_ATLAS=off`), on the same server.
  Printed: the calls of each source, and the live-only time over the Atlas time. The stand-in's Atlas has no quota
  (the public docs name none: docs/alphagenome.md). The live-only path is quota-bound (its time is about
  calls / quota windows), the Atlas path is not (its 50 live calls fit in one window), so a shorter window
  (`--window-seconds 10`) shortens the live-only run and lowers the ratio: the ratio it prints is a lower bound of
  the ratio at the service's 60-s window.
- `refusal`: a wrong key answered as Google's front end does (INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID) with
  200 variants queued: the paid calls that reached the server (the free GetMetadata of the preflight refuses the
  key first); then a key refused only once scoring has started (revoked mid-run), with the default pacing and
  with no ceiling: how many calls the client sent after it had received the first refusal, and how many reached
  the server after it had answered the first (10 ms network latency before every answer).

Run: `.venv/bin/python bench/alphagenome_throughput.py [--sections seed,quota,faults,refusal,atlas] [--pairs N]
[--latency S] [--quota N] [--quota-windows N] [--window-seconds S] [--atlas-snvs N] [--atlas-indels N]
[--live-quota N]`.
"""

import argparse
import logging
import math
import re
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alphagenome.models import dna_client  # noqa: E402

from endobench.resources.alphagenome import AlphaGenomePredictor, ApiKeyRefused  # noqa: E402
from endobench_tests.stand_ins.alphagenome_server import (  # noqa: E402
    SAMPLE_EGENES,
    WRONG_KEY,
    AlphaGenomeStandIn,
    FaultPlan,
    StandInGene,
)
from endobench.lib.genome.reference import ReferenceGenome  # noqa: E402
from endobench.lib.scoring.score_cache import ATLAS, LIVE  # noqa: E402
from endobench_tests.paths import SAMPLE_DIR  # noqa: E402
from endobench_tests.stand_ins.alphagenome_atlas import SAMPLE_REFERENCE  # noqa: E402
from endobench_tests.stand_ins.quotas import SHAPES, ContinuousBucket, SlidingWindow  # noqa: E402

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


def seed_section(args, log: logging.Logger) -> None:
    pairs, genes = variant_gene_pairs(args.pairs, args.genes_per_variant)
    frame = predictor_input(pairs, args.interval_length)
    n_variants = pairs["variant_id"].nunique()
    print(f"== seed: pairs {len(pairs):,}, distinct variants {n_variants:,} ({args.genes_per_variant} genes each), "
          f"stand-in latency {args.latency * 1000:.0f} ms per call")
    print(f"endobench: concurrency {args.concurrency}, interval {args.interval_length:,} bp; "
          f"seed: sequential, 2 predict_sequence calls per pair of {args.seed_sequence_length:,} bp")
    with AlphaGenomeStandIn(genes=genes, latency=args.latency, max_workers=max(16, 2 * args.concurrency)) as server, \
            tempfile.TemporaryDirectory() as cache_dir:
        predictor = _predictor(server.address, max_concurrency=args.concurrency,
                               interval_length=args.interval_length, max_new_calls_per_run=max(n_variants, 1))
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


def _predictor(address: str, **settings) -> AlphaGenomePredictor:
    return AlphaGenomePredictor(**({"api_key": KEY, "address": address, "requests_per_minute": 0} | settings))


def _lost(outcome) -> int:
    """Variants without an outcome to show for the call: failed for any reason but a gene outside the interval."""
    failed = outcome.scores[(outcome.scores["status"] != "scored") & (outcome.scores["reason"] != "gene_not_in_output")]
    return failed["variant_id"].nunique()


_ETA = re.compile(r"AlphaGenome: ([\d,]+) of ([\d,]+) variants .*?"
                  r"ETA ((?:\d+ h )?(?:\d+ min )?(?:[\d.]+ s)?(?:\d+ min)?);")


def _seconds(text: str) -> float:
    """`1 h 02 min`, `3 min 20 s`, `45 s`, `4.2 s` as seconds (how the progress line writes a duration)."""
    units = {"h": 3600, "min": 60, "s": 1}
    words = text.split()
    return sum(float(n) * units[u] for n, u in zip(words[::2], words[1::2]))


class _EtaLines(logging.Handler):
    """Keeps (time, done, total, ETA seconds) of every progress line, as printed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[float, int, int, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        found = _ETA.search(record.getMessage())
        if found and found.group(3):
            done, total = (int(found.group(i).replace(",", "")) for i in (1, 2))
            self.lines.append((time.perf_counter(), done, total, _seconds(found.group(3))))


def _ideal(quota, n: int, latency: float) -> float:
    """The time a client needs that takes every call the moment the quota offers it."""
    q, window = quota.per_window, quota.window_seconds
    if isinstance(quota, ContinuousBucket):
        return max(0, n - q) * window / q + latency
    return (math.ceil(n / q) - 1) * window + latency


def quota_section(args, log: logging.Logger) -> None:
    n_variants = args.quota * args.quota_windows
    print(f"== quota: {args.quota} calls per {args.window_seconds:g} s window in each shape, {n_variants} variants "
          f"({args.quota_windows:g} windows' worth); endobench with 4 workers, no ceiling, 20 ms per call")
    pairs, genes = variant_gene_pairs(n_variants, 1)
    frame = predictor_input(pairs, 1_048_576)
    used = []
    for shape in SHAPES:
        for retry_info in (False, True):
            quota = shape(args.quota, args.window_seconds, retry_info=retry_info)
            handler = _EtaLines()
            log.addHandler(handler)
            interval = args.window_seconds / 12
            with AlphaGenomeStandIn(genes=genes, latency=0.02, quota=quota) as server, \
                    tempfile.TemporaryDirectory() as cache_dir:
                started = time.perf_counter()
                outcome = _predictor(server.address, max_new_calls_per_run=n_variants,
                                     quota_window_seconds=args.window_seconds,
                                     progress_interval_seconds=interval).score_variants(
                    frame, reference=None, cache_dir=Path(cache_dir), log=log)
                ended = time.perf_counter()
            log.removeHandler(handler)
            # Lines once 20% is done, up to the last progress interval: in that one, the time left is shorter than
            # the printed ETA's resolution (0.1 s) allows to compare at this scale.
            errors = [abs(eta - (ended - t)) / (ended - t) for t, done, total, eta in handler.lines
                      if 0.2 * total <= done < total and ended - t >= interval]
            elapsed, ideal = ended - started, _ideal(quota, n_variants, 0.02)
            used.append(quota.used_fraction())
            eta = (f"ETA error max {100 * max(errors):4.1f}%, median {100 * float(np.median(errors)):4.1f}% "
                   f"({len(errors)} lines)") if errors else "no progress line after 20%"
            print(f"{quota.describe():>62}: quota used {100 * quota.used_fraction():5.1f}%, variants lost "
                  f"{_lost(outcome)} of {n_variants}, {quota.refused:3d} refusals, {elapsed:6.1f} s against "
                  f"{ideal:6.1f} s ideal ({elapsed / ideal:4.2f}x); {eta}")
    print(f"lowest quota used: {100 * min(used):.1f}% (target >= 80%)")


def _sdk_score_variants(address: str, pairs: pd.DataFrame) -> tuple[float, str]:
    """The SDK's own `DnaClient.score_variants` on the same variants and scorers: time and what it returned."""
    from alphagenome.data import genome

    predictor = _predictor(address)
    channel = grpc.insecure_channel(address)
    client = dna_client.DnaClient(channel=channel, metadata=[("x-goog-api-key", KEY)])
    variants = [genome.Variant(r.chrom, int(r.pos), r.ref, r.alt) for r in pairs.itertuples()]
    intervals = [v.reference_interval.resize(1_048_576) for v in variants]
    scorers = [predictor.scorer_for("accessibility"), predictor.scorer_for("expression")]
    started = time.perf_counter()
    try:
        results = client.score_variants(intervals, variants, scorers, max_workers=4, progress_bar=False)
        returned = f"{len(results)} variants scored"
    except grpc.RpcError as exc:
        returned = f"nothing (raised {exc.code().name} at the first error it does not retry)"
    elapsed = time.perf_counter() - started
    channel.close()
    return elapsed, returned


def faults_section(args, log: logging.Logger) -> None:
    n_variants, latency = 200, 0.05
    pairs, genes = variant_gene_pairs(n_variants, 1)
    frame = predictor_input(pairs, 1_048_576)
    print(f"== faults: {n_variants} variants, 4 workers, {latency * 1000:.0f} ms per call; faults: 10% of calls "
          "UNAVAILABLE or INTERNAL")
    codes = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
    times = {}
    for name, rate, seed in [("fault-free", 0.0, 0), ("10% faults, seed 1", 0.1, 1), ("10% faults, seed 2", 0.1, 2),
                             ("10% faults, seed 3", 0.1, 3)]:
        faults = FaultPlan(transient_rate=rate, transient_codes=codes, seed=seed)
        with AlphaGenomeStandIn(genes=genes, latency=latency, faults=faults) as server, \
                tempfile.TemporaryDirectory() as cache_dir:
            started = time.perf_counter()
            outcome = _predictor(server.address, max_concurrency=4).score_variants(
                frame, reference=None, cache_dir=Path(cache_dir), log=log)
            times[name] = time.perf_counter() - started
            server.set_faults(faults)
            sdk_time, sdk_returned = _sdk_score_variants(server.address, pairs)
        ratio = f", {times[name] / times['fault-free']:.2f}x fault-free" if rate else ""
        print(f"endobench {name:>19}: {times[name]:6.2f} s{ratio} ({outcome.api_calls} calls, "
              f"{_lost(outcome)} variants lost)   SDK score_variants: {sdk_time:6.2f} s, {sdk_returned}")


def refusal_section(args, log: logging.Logger) -> None:
    pairs, genes = variant_gene_pairs(200, 1)
    frame = predictor_input(pairs, 1_048_576)
    print("== refusal: a wrong key (INVALID_ARGUMENT, ErrorInfo API_KEY_INVALID), 200 variants queued, 10 ms network "
          "latency before every answer")
    with AlphaGenomeStandIn(genes=genes, latency=0.02, network_latency=0.01,
                            expected_api_key="the-right-key") as server, tempfile.TemporaryDirectory() as cache_dir:
        try:
            _predictor(server.address, api_key="a-wrong-key").score_variants(
                frame, reference=None, cache_dir=Path(cache_dir), log=log)
            print("wrong key: the run was NOT stopped")
        except ApiKeyRefused:
            print(f"{'wrong key':>25}: stopped at the preflight; {len(server.records)} paid calls reached the server, "
                  f"{len(server.metadata_requests)} GetMetadata (free)")
    for label, settings in [("revoked, default pacing", {"requests_per_minute": 240}),
                            ("revoked, no ceiling", {"requests_per_minute": 0})]:
        with AlphaGenomeStandIn(genes=genes, latency=0.02, network_latency=0.01, wrong_key=WRONG_KEY) as server, \
                tempfile.TemporaryDirectory() as cache_dir:
            server.key_revoked = True  # the key passes GetMetadata, every paid call is refused
            try:
                _predictor(server.address, **settings).score_variants(
                    frame, reference=None, cache_dir=Path(cache_dir), log=log)
                print(f"{label:>25}: the run was NOT stopped")
                continue
            except ApiKeyRefused as refused:
                sent = {k: v.value for k, v in refused.metadata.items()}
            records = server.records
        answered = min(r.finished for r in records)
        later = sum(r.started > answered for r in records)
        print(f"{label:>25}: stopped with ApiKeyRefused; {len(records)} calls reached the server, "
              f"{sent['calls_sent_after_first_refusal']} sent after the client received the first refusal "
              f"(server clock: {later} arrived after it had answered the first)")


DSQTLS_HG38 = SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"
GM12878 = "EFO:0002784"


def dsqtl_snvs_and_indels(n_snvs: int, n_indels: int) -> pd.DataFrame:
    """Predictor input: `n_snvs` real dsQTL SNVs (hg38, REF the sample reference's base) and `n_indels` insertions of
    one A after the first `n_indels` of them, one GM12878 accessibility row each."""
    table = pd.read_csv(DSQTLS_HG38, sep="\t").dropna(subset=["pos_hg38"])
    rows = []
    with ReferenceGenome(SAMPLE_REFERENCE, "hg38").reader() as fetch:
        for entry in table.itertuples(index=False):
            pos = int(entry.pos_hg38)
            base = fetch(entry.chr_hg38, pos - 1, pos)
            if base in (entry.Ref, entry.Alt) and len(rows) < n_snvs:
                rows.append((entry.chr_hg38, pos, base, entry.Alt if base == entry.Ref else entry.Ref))
    if len(rows) < n_snvs:
        raise SystemExit(f"--atlas-snvs {n_snvs:,}: the sample holds {len(rows):,} dsQTL SNVs on its hg38 bases")
    rows += [(chrom, pos, ref, ref + "A") for chrom, pos, ref, _ in rows[:n_indels]]
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    frame["variant_id"] = frame["chrom"] + "_" + frame["pos"].astype(str) + "_" + frame["ref"] + "_" + frame["alt"]
    frame = frame.assign(gene_id=pd.NA, readout="accessibility", biosample=GM12878)
    frame["window_start"] = frame["pos"] - 1 - 1_048_576 // 2
    frame["window_end"] = frame["window_start"] + 1_048_576
    return frame


def atlas_section(args, log: logging.Logger) -> None:
    frame = dsqtl_snvs_and_indels(args.atlas_snvs, args.atlas_indels)
    print(f"== atlas: {args.atlas_snvs:,} dsQTL SNVs and {args.atlas_indels} indels, a live quota of "
          f"{args.live_quota} calls per {args.window_seconds:g} s window, 20 ms per call, 4 workers")
    timings = {}
    for label, atlas in (("Atlas first", True), ("live only", False)):
        quota = SlidingWindow(args.live_quota, args.window_seconds)
        with AlphaGenomeStandIn(genes=[], latency=0.02, atlas_latency=0.02, quota=quota) as server, \
                tempfile.TemporaryDirectory() as cache_dir:
            started = time.perf_counter()
            outcome = _predictor(server.address, atlas=atlas, max_new_calls_per_run=len(frame),
                                 quota_window_seconds=args.window_seconds).score_variants(
                frame, reference=None, cache_dir=Path(cache_dir), log=log)
            timings[label] = time.perf_counter() - started
            atlas_calls, live_calls = len(server.atlas_records), len(server.live_records)
        scored = outcome.scores[outcome.scores["status"] == "scored"]
        by_source = scored["source"].value_counts()
        print(f"{label:>12}: {timings[label]:7.1f} s; live calls {live_calls:,} (ScoreVariant), Atlas calls "
              f"{atlas_calls:,}; rows scored {len(scored):,} of {len(frame):,} (atlas {by_source.get(ATLAS, 0):,}, "
              f"live {by_source.get(LIVE, 0):,}); {quota.refused} quota refusals")
    print(f"live only / Atlas first: {timings['live only'] / timings['Atlas first']:.1f}x (target >= 20x; live calls "
          f"with the Atlas must equal the indels, {args.atlas_indels})")


SECTIONS = {"seed": seed_section, "quota": quota_section, "faults": faults_section, "refusal": refusal_section,
            "atlas": atlas_section}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, of {', '.join(SECTIONS)}")
    parser.add_argument("--pairs", type=int, default=2_000, help="seed: variant-gene pairs (default 2,000)")
    parser.add_argument("--genes-per-variant", type=int, default=5, help="seed: eGenes per variant (default 5)")
    parser.add_argument("--latency", type=float, default=0.02,
                        help="seed: stand-in seconds per call (default 0.02 so the seed way runs in about 2.5 "
                             "minutes; 200 ms makes it 2 x pairs x 0.2 s)")
    parser.add_argument("--concurrency", type=int, default=4, help="seed: endobench calls in flight (default 4)")
    parser.add_argument("--interval-length", type=int, default=1_048_576, help="seed: interval (default 1 MB)")
    parser.add_argument("--seed-sequence-length", type=int, default=16_384,
                        help="seed: sequence length of the seed's predict_sequence calls (default 16,384)")
    parser.add_argument("--window-seconds", type=float, default=60.0,
                        help="quota: the quota's window (default 60: per minute, as the service counts)")
    parser.add_argument("--quota", type=int, default=20, help="quota: calls per window (default 20)")
    parser.add_argument("--quota-windows", type=int, default=6,
                        help="quota: windows' worth of variants to score (default 6)")
    parser.add_argument("--atlas-snvs", type=int, default=2_000, help="atlas: dsQTL SNVs (default 2,000)")
    parser.add_argument("--atlas-indels", type=int, default=50, help="atlas: indels (default 50)")
    parser.add_argument("--live-quota", type=int, default=60,
                        help="atlas: the live model's calls per window (default 60)")
    args = parser.parse_args()
    log = logging.getLogger("bench.alphagenome")
    log.setLevel(logging.INFO)  # progress lines reach the quota section's ETA handler; nothing is printed
    log.propagate = False
    log.addHandler(logging.NullHandler())
    for name in args.sections.split(","):
        SECTIONS[name.strip()](args, log)


if __name__ == "__main__":
    main()
