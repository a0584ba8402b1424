"""`endobench score-variants`: score any list of variants with the configured predictor, through the graph's checks.

The predictor is built by the same wiring as the asset graph (`endobench.defs.resources`), so the settings
(`ALPHAGENOME_API_KEY` through `dg.EnvVar`, `ENDOBENCH_ALPHAGENOME_*`) and the score cache (`data/cache` by
default) are the same: a variant scored here is not paid for again when the graph scores it, and the reverse.
Each row is checked as the graph checks a truth-set row (`lib/truth_sets/variant_list.py`: the readers' checks,
then `sequence_windows`' window and REF checks against the genome), so a row gets the graph's status and reason.

Input: TSV, CSV or parquet with `chrom pos ref alt` and optionally `gene_id` and `biosample` (1-based positions,
hg38). Each row is asked for accessibility, and for expression too when it names a gene and the predictor scores
expression. Output (`.parquet`, `.tsv` or `.csv`, as its name says): one row per input row and readout,
`OUTPUT_COLUMNS`, where `status` is `scored`, `excluded` (a check before the predictor), `failed` (the predictor
gave no score) or `skipped_call_cap`, and `reason` says why; `source` says where a score came from (`atlas`: the
AlphaGenome Atlas's precomputed scores; `live`: the model) and `avi_score` is an SNV's AlphaGenome Variant Impact
(unsigned, from the Atlas; empty otherwise).
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from endobench.cli import CommandStopped
from endobench.defs.resources import SettingsError, built_predictor, resources_from_environment
from endobench.lib.genome.builds import HG38
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.io.atomic import check_output_dir, check_output_file, write_frame
from endobench.lib.scoring.plan import ScoringPlan
from endobench.lib.scoring.score_cache import CACHE_FILE
from endobench.lib.truth_sets.variant_list import check_variant_list, read_variant_list, reference_agreement
from endobench.resources.alphagenome import AlphaGenomeConfigError
from endobench.resources.predictors import (
    ACCESSIBILITY,
    EXPRESSION,
    PREDICTOR_INPUT,
    SCORED,
    LocalPredictor,
    VariantEffectPredictor,
)

OUTPUT_COLUMNS = ["chrom", "pos", "ref", "alt", "gene_id", "readout", "score", "quantile_score", "status", "reason",
                  "harmonisation", "variant_id", "track", "source", "avi_score"]
EXCLUDED = "excluded"  # stopped by a check before the predictor: the graph counts these as exclusions
FAILED = "failed"


@dataclass
class Summary:
    out: Path
    statuses: Counter
    reasons: dict[str, Counter]
    api_calls: int
    cache_hits: int
    calls_by_source: Counter

    def line(self) -> str:
        def listed(counts: Counter) -> str:
            return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))

        parts = [f"{status} {n:,}" + (f" ({listed(self.reasons[status])})" if self.reasons.get(status) else "")
                 for status, n in sorted(self.statuses.items())]
        by_source = f" ({listed(self.calls_by_source)})" if self.calls_by_source else ""
        return (f"wrote {self.out}: {sum(self.statuses.values()):,} rows: {', '.join(parts)}; "
                f"{self.api_calls:,} calls{by_source}, {self.cache_hits:,} cache hits")


def score_file(variants_path: Path, predictor_kind: str, out: Path, cache_dir: Path | None, log: logging.Logger,
               reference_path: Path | None = None, *, dry_run: bool = False) -> Summary | ScoringPlan:
    """Score every row of `variants_path` and write `out`, or with `dry_run` return the plan (the predictor's free
    preflight and the cache: no paid call, nothing written); raise `CommandStopped` when the run cannot go on.

    Every output and input is checked before any work: `out` must be named for a format and be none of the inputs
    (the list, the reference, the score cache), and the cache folder must be a folder."""
    resources = _resources(predictor_kind)
    cache_dir = Path(cache_dir) if cache_dir else Path(resources["storage"].cache_dir)
    inputs = [variants_path, reference_path, cache_dir / CACHE_FILE]
    check_output_file(out, inputs=inputs, table=True)
    check_output_dir(cache_dir, what="score cache folder (--cache-dir)")
    variants = read_variant_list(variants_path)
    try:
        predictor = built_predictor(resources)
    except SettingsError as exc:
        raise CommandStopped(str(exc)) from None
    if isinstance(predictor, LocalPredictor):
        _ensure_local_model(predictor.model_path, resources["sources"].sample_dir)
    try:
        window_length = predictor.window_length()
    except AlphaGenomeConfigError as exc:  # a setting out of range
        raise CommandStopped(str(exc)) from None
    reference = _reference(predictor, reference_path, resources["sources"], log)
    checked = check_variant_list(variants, reference, window_length=window_length,
                                 needs_sequence=predictor.needs_local_sequence())
    _warn_on_disagreement(checked, reference, log)
    requests = predictor_requests(checked, predictor.supported_readouts())
    asked = requests[requests["reason"] == ""]
    try:
        if dry_run:
            return predictor.plan(predictor_input(asked), cache_dir=cache_dir, log=log)
        outcome = predictor.score_variants(predictor_input(asked), reference=reference, cache_dir=cache_dir, log=log)
    except dg.Failure as exc:
        raise CommandStopped(exc.description) from None
    except AlphaGenomeConfigError as exc:  # a setting out of range
        raise CommandStopped(str(exc)) from None
    result = output_rows(requests, outcome.scores)
    write_frame(result, out)
    statuses = Counter(result["status"])
    reasons = {status: Counter(result.loc[(result["status"] == status) & (result["reason"] != ""), "reason"])
               for status in statuses}
    return Summary(out, statuses, reasons, outcome.api_calls, outcome.cache_hits,
                   Counter({k: v for k, v in outcome.calls_by_source.items() if v}))


def _resources(predictor_kind: str) -> dict:
    try:
        return resources_from_environment(predictor=predictor_kind)
    except ValueError as exc:  # an ENDOBENCH_ALPHAGENOME_* variable that does not parse
        raise CommandStopped(str(exc)) from None


def _reference(predictor: VariantEffectPredictor, path: Path | None, sources, log: logging.Logger
               ) -> ReferenceGenome | None:
    """The genome REF alleles are checked against: `--reference`, else the one the predictor reads (the data
    sources'), else none (a remote predictor holding its own genome): then the rows go as given, said once."""
    if path is not None:
        return ReferenceGenome(Path(path), HG38)
    if predictor.needs_local_sequence():
        return sources.reference_genome()
    log.warning("REF alleles not checked against a genome (no --reference): rows are sent as given, so a swapped "
                "or wrong REF or a 0-based position is not caught; pass --reference hg38.fa (bgzip or plain, "
                "indexed) to check and harmonise them")
    return None


def _warn_on_disagreement(checked: pd.DataFrame, reference: ReferenceGenome | None, log: logging.Logger) -> None:
    """The graph blocks predictions below 90% agreement (`reference_allele_agreement`); a list is still scored,
    row by row, but a low agreement is said: another build, or 0-based positions."""
    agreement, n = reference_agreement(checked)
    if reference is not None and n >= 10 and agreement < 0.9:
        log.warning(f"only {agreement:.0%} of the {n:,} REF alleles checked match {reference.path} (as REF or ALT): "
                    "are the positions 1-based and on hg38? The rows that match neither are ref_mismatch")


def _ensure_local_model(model_path: str, sample_dir: str) -> None:
    """Train and save the local model when its file is missing; the predictor loads it when it scores."""
    from endobench.cli import load_or_train_model

    if not Path(model_path).exists():
        load_or_train_model(Path(model_path), Path(sample_dir))


def predictor_requests(checked: pd.DataFrame, readouts: frozenset[str]) -> pd.DataFrame:
    """One row per (input row, readout): accessibility for every row, expression for rows naming a gene (when the
    predictor scores it), in the input's order; `row` is the input row, `reason` "" where the predictor is asked."""
    base = checked.assign(row=np.arange(len(checked)))
    parts = []
    if ACCESSIBILITY in readouts:
        parts.append(base.assign(readout=ACCESSIBILITY, score_gene_id=None))
    if EXPRESSION in readouts:
        named = base[base["gene_id"].notna()]
        parts.append(named.assign(readout=EXPRESSION, score_gene_id=named["gene_id"]))
    requests = pd.concat(parts, ignore_index=True).sort_values(["row", "readout"], kind="stable")
    requests["pos"] = requests["pos"].astype("Int64")
    return requests.reset_index(drop=True)


def predictor_input(asked: pd.DataFrame) -> pd.DataFrame:
    """The harmonised variants of the requests, as the predictions asset hands them to the predictor."""
    return pd.DataFrame({
        "variant_id": asked["variant_id"].to_numpy(), "chrom": asked["chrom"].to_numpy(),
        "pos": asked["pos"].to_numpy(dtype=np.int64), "ref": asked["harmonised_ref"].to_numpy(),
        "alt": asked["harmonised_alt"].to_numpy(), "gene_id": asked["score_gene_id"].to_numpy(),
        "readout": asked["readout"].to_numpy(), "biosample": asked["biosample"].to_numpy(),
        "window_start": asked["window_start"].to_numpy(dtype=np.int64),
        "window_end": asked["window_end"].to_numpy(dtype=np.int64),
    })[PREDICTOR_INPUT]


def output_rows(requests: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Each request in order with its outcome: the predictor's score (times `sign`, so it is the effect of the row's
    own ALT) or why there is none. `scores` answers the requests whose `reason` is "", in their order."""
    asked = (requests["reason"] == "").to_numpy()
    out = requests.assign(score=np.nan, quantile_score=np.nan, status=EXCLUDED, track="", source="", avi_score=np.nan)
    sign = out.loc[asked, "sign"].to_numpy(dtype=float)
    status = scores["status"].to_numpy(dtype=object)
    out.loc[asked, "score"] = scores["score"].to_numpy(dtype=float) * sign
    out.loc[asked, "quantile_score"] = scores["quantile_score"].to_numpy(dtype=float) * sign
    out.loc[asked, "status"] = status
    out.loc[asked, "reason"] = scores["reason"].fillna("").to_numpy(dtype=object)
    out.loc[asked, "track"] = scores["track"].fillna("").to_numpy(dtype=object)
    out.loc[asked, "source"] = scores["source"].fillna("").to_numpy(dtype=object)
    if "avi_score" in scores:  # unsigned: the same whichever allele the row calls ALT
        out.loc[asked, "avi_score"] = scores["avi_score"].to_numpy(dtype=float)
    out.loc[out["status"] == SCORED, "reason"] = ""
    out["harmonisation"] = out["harmonisation"].where(asked, "")
    return out[OUTPUT_COLUMNS].reset_index(drop=True)


def run(args) -> int:
    """The subcommand: 0 when every row has its outcome written (or the plan printed); a run that cannot go on
    raises `CommandStopped` (exit status 1, one line)."""
    log = logging.getLogger("endobench.score_variants")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        result = score_file(Path(args.variants), args.predictor, Path(args.out),
                            Path(args.cache_dir) if args.cache_dir else None, log,
                            Path(args.reference) if args.reference else None, dry_run=args.dry_run)
    finally:
        log.removeHandler(handler)
    if isinstance(result, ScoringPlan):
        print("\n".join([*result.lines(), f"dry run: 0 paid calls made, {args.out} not written"]))
    else:
        print(result.line())
    return 0
