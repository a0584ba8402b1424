"""`endobench score-variants`: score any list of variants with the configured predictor.

The predictor is built by the same wiring as the asset graph (`endobench.defs.resources`), so the settings
(`ALPHAGENOME_API_KEY` through `dg.EnvVar`, `ENDOBENCH_ALPHAGENOME_*`) and the score cache (`data/cache` by
default) are the same: a variant scored here is not paid for again when the graph scores it, and the reverse.

Input: TSV, CSV or parquet with `chrom pos ref alt` and optionally `gene_id` and `biosample` (1-based positions,
hg38). Each row is scored for accessibility, and for expression too when it names a gene and the predictor scores
expression. Output: one row per input row and readout, `chrom pos ref alt gene_id readout score quantile_score
status reason track`, where `status` is `ok`, `gene_not_in_output` or `failed` (and `reason` says why).
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

from endobench.defs.resources import LOCAL, resources_from_environment
from endobench.lib.genome.builds import HG38, chrom_length, known_chromosome, normalize_chrom
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.sequence import allele_problems
from endobench.lib.io.atomic import write_parquet
from endobench.lib.io.errors import InputError
from endobench.lib.io.tables import read_frame
from endobench.lib.scoring.plan import ScoringPlan
from endobench.lib.truth_sets.schema import variant_ids
from endobench.resources.alphagenome import API_KEY_VARIABLE, AlphaGenomeConfigError
from endobench.resources.predictors import ACCESSIBILITY, EXPRESSION, SCORED

REQUIRED = ["chrom", "pos", "ref", "alt"]
OUTPUT_COLUMNS = ["chrom", "pos", "ref", "alt", "gene_id", "readout", "score", "quantile_score", "status", "reason",
                  "track"]
OK = "ok"
GENE_NOT_IN_OUTPUT = "gene_not_in_output"
FAILED = "failed"
UNKNOWN_CHROMOSOME = "unknown_chromosome"
OFF_CHROMOSOME_END = "off_chromosome_end"


class RunStopped(Exception):
    """The run cannot go on (the key refused, a setting wrong); the message is the one line to print."""


@dataclass
class Summary:
    out: Path
    statuses: Counter
    reasons: Counter
    api_calls: int
    cache_hits: int

    def line(self) -> str:
        def listed(counts: Counter) -> str:
            return ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))

        reasons = f" (failed: {listed(self.reasons)})" if self.reasons else ""
        return (f"wrote {self.out}: {sum(self.statuses.values()):,} rows, {listed(self.statuses)}{reasons}; "
                f"{self.api_calls:,} calls, {self.cache_hits:,} cache hits")


def read_variants(path: Path) -> pd.DataFrame:
    """The variant list with `chrom pos ref alt gene_id biosample` as strings (pos as text until checked);
    a missing column or an unreadable file is an `InputError` naming the file."""
    table = read_frame(Path(path), "variant list")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise InputError(path, f"no column {', '.join(repr(c) for c in missing)}; columns present: "
                         f"{', '.join(map(str, table.columns))}",
                         "Give chrom, pos (1-based, hg38), ref and alt, and optionally gene_id and biosample.", line=1)
    if table.empty:
        raise InputError(path, "the file has a header but no variants", "Point the command at a complete list.", line=2)
    frame = pd.DataFrame(index=table.index)
    for column in REQUIRED + ["gene_id", "biosample"]:
        values = table[column] if column in table.columns else pd.Series(pd.NA, index=table.index)
        frame[column] = values.astype("string").str.strip().replace("", pd.NA)
    return frame.reset_index(drop=True)


def predictor_requests(variants: pd.DataFrame, readouts: frozenset[str]) -> tuple[pd.DataFrame, pd.Series]:
    """The predictor's input (valid rows, one per readout) and, per input row, why it cannot be asked ('' if it can).

    The checks and spellings are the truth sets' own: chromosomes as `normalize_chrom` writes them (`1` -> `chr1`,
    `x` -> `chrX`, `MT` -> `chrM`), alleles upper-cased and judged by `allele_problems` (N and IUPAC codes are
    `ambiguous_allele`, anything else but A, C, G, T `invalid_allele`), ids as `variant_ids` builds them. A row
    names its first problem: the chromosome (missing, or not one of hg38's), then the position (not a whole number
    >= 1, or the REF running past the chromosome's end), then the alleles.
    """
    chrom = normalize_chrom(variants["chrom"].fillna(""))
    pos = pd.to_numeric(variants["pos"], errors="coerce")
    ref, alt = (variants[c].fillna("").str.upper() for c in ("ref", "alt"))
    problems = pd.DataFrame({"ref": allele_problems(ref), "alt": allele_problems(alt)})
    invalid = problems["ref"].where(problems["ref"] != "", problems["alt"]).astype(object)
    whole = ((pos >= 1) & (pos % 1 == 0)).fillna(False).astype(bool).to_numpy()
    length = chrom_length(chrom, HG38)
    past_end = whole & (length > 0) & (pos.fillna(0).to_numpy() + ref.str.len().to_numpy() - 1 > length)
    invalid[past_end] = OFF_CHROMOSOME_END
    invalid[~whole] = "invalid_position"
    invalid[~known_chromosome(chrom, HG38)] = UNKNOWN_CHROMOSOME
    invalid[chrom.eq("chr").to_numpy()] = "invalid_chromosome"
    base = pd.DataFrame({
        "row": variants.index, "chrom": chrom, "pos": pos.fillna(0).astype("int64"), "ref": ref, "alt": alt,
        "gene_id": variants["gene_id"], "biosample": variants["biosample"],
    })[invalid.eq("").to_numpy()]
    base["variant_id"] = variant_ids(base, HG38)
    parts = []
    if ACCESSIBILITY in readouts:
        parts.append(base.assign(readout=ACCESSIBILITY, gene_id=pd.Series(pd.NA, index=base.index, dtype="string")))
    if EXPRESSION in readouts:
        parts.append(base[base["gene_id"].notna()].assign(readout=EXPRESSION))
    requests = pd.concat(parts, ignore_index=True).sort_values(["row", "readout"], kind="stable")
    if requests["biosample"].isna().all():
        requests = requests.drop(columns="biosample")  # the predictor then uses its per-readout settings
    return requests.reset_index(drop=True), invalid


def score_file(variants_path: Path, predictor_kind: str, out: Path, cache_dir: Path | None,
               log: logging.Logger, *, dry_run: bool = False) -> Summary | ScoringPlan:
    """Score every row of `variants_path` and write `out` (parquet), or with `dry_run` return the plan (the free
    preflight and the cache, no paid call, nothing written); raise `RunStopped` when the run cannot go on."""
    variants = read_variants(variants_path)
    try:
        resources = resources_from_environment(predictor=predictor_kind)
    except ValueError as exc:  # an ENDOBENCH_ALPHAGENOME_* variable that does not parse
        raise RunStopped(str(exc)) from None
    try:
        with dg.build_resources({"predictor": resources["predictor"]}) as built:
            predictor = built.predictor
    except dg.DagsterInvalidConfigError as exc:
        text = str(exc)
        if API_KEY_VARIABLE in text:
            raise RunStopped(f"{API_KEY_VARIABLE} is not set: export your AlphaGenome API key in it") from None
        raise RunStopped(text.splitlines()[0]) from None
    requests, invalid = predictor_requests(variants, predictor.supported_readouts())
    if predictor_kind == LOCAL:
        _ensure_local_model(predictor.model_path, resources["sources"].sample_dir)
    if dry_run:
        try:
            return predictor.plan(requests.drop(columns="row"),
                                  cache_dir=cache_dir or resources["storage"].cache_path(), log=log)
        except dg.Failure as exc:
            raise RunStopped(exc.description) from None
    source = resources["sources"].fetched_reference() if predictor.needs_local_sequence() else None
    try:
        outcome = predictor.score_variants(
            requests.drop(columns="row"),
            reference=ReferenceGenome(source.path, source.build) if source is not None else None,
            cache_dir=cache_dir or resources["storage"].cache_path(), log=log,
        )
    except dg.Failure as exc:
        raise RunStopped(exc.description) from None
    except AlphaGenomeConfigError as exc:  # a setting out of range
        raise RunStopped(str(exc)) from None
    result = _output_rows(variants, requests, outcome.scores, invalid)
    write_parquet(result, out)
    failed = result["status"] == FAILED
    return Summary(out, Counter(result["status"]), Counter(result.loc[failed, "reason"]), outcome.api_calls,
                   outcome.cache_hits)


def _ensure_local_model(model_path: str, sample_dir: str) -> None:
    """Train and save the local model when its file is missing; the predictor loads it when it scores."""
    from endobench.cli import load_or_train_model

    if not Path(model_path).exists():
        load_or_train_model(Path(model_path), Path(sample_dir))


def _output_rows(variants: pd.DataFrame, requests: pd.DataFrame, scores: pd.DataFrame,
                 invalid: pd.Series) -> pd.DataFrame:
    """Input rows in order, each with its scored readouts, and the invalid ones as one failed row each."""
    error = scores["error"].fillna("").to_numpy(dtype=object)
    scored = scores["status"].to_numpy() == SCORED
    status = np.where(scored, OK, np.where(error == GENE_NOT_IN_OUTPUT, GENE_NOT_IN_OUTPUT, FAILED))
    reason = np.where(status == FAILED, np.where(error == "", scores["status"].to_numpy(dtype=object), error), "")
    answered = pd.DataFrame({
        "row": requests["row"].to_numpy(), "chrom": requests["chrom"].to_numpy(), "pos": requests["pos"].to_numpy(),
        "ref": requests["ref"].to_numpy(), "alt": requests["alt"].to_numpy(),
        "gene_id": variants["gene_id"].to_numpy()[requests["row"].to_numpy()],
        "readout": requests["readout"].to_numpy(), "score": scores["score"].to_numpy(),
        "quantile_score": scores["quantile_score"].to_numpy(), "status": status, "reason": reason,
        "track": scores["track"].to_numpy(),
    })
    bad = invalid[invalid != ""]
    rejected = variants.loc[bad.index].assign(row=bad.index, readout=pd.NA, score=np.nan, quantile_score=np.nan,
                                              status=FAILED, reason=bad.to_numpy(), track="")
    rejected["pos"] = pd.to_numeric(rejected["pos"], errors="coerce").astype("Int64")
    frame = pd.concat([answered, rejected[answered.columns]], ignore_index=True)
    frame["pos"] = frame["pos"].astype("Int64")
    return frame.sort_values("row", kind="stable")[OUTPUT_COLUMNS].reset_index(drop=True)


def run(args) -> int:
    """The subcommand: 0 when every row has its outcome written, 1 when the run was stopped (one line says why)."""
    log = logging.getLogger("endobench.score_variants")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        result = score_file(Path(args.variants), args.predictor, Path(args.out),
                            Path(args.cache_dir) if args.cache_dir else None, log, dry_run=args.dry_run)
    except RunStopped as exc:
        print(f"endobench score-variants: stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        log.removeHandler(handler)
    if isinstance(result, ScoringPlan):
        print("\n".join([*result.lines(), f"dry run: 0 paid calls made, {args.out} not written"]))
    else:
        print(result.line())
    return 0
