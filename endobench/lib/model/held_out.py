"""The cross-fitted local model scored on dsQTLs of chromosomes it never saw, through the pipeline's own windows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from endobench.lib.evaluation.metrics import BOOTSTRAP_SEED, N_BOOTSTRAP, summarize
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.sequence import reverse_complement
from endobench.lib.genome.windows import OK, build_windows, variant_window
from endobench.lib.io.errors import InputError
from endobench.lib.model.crossfit import CrossFittedModel, scoring_fold
from endobench.lib.model.training import TrainingInputs
from endobench.lib.truth_sets.schema import variant_ids


@dataclass
class HeldOutEvaluation:
    n: int
    sign_auroc: float
    sign_auroc_ci: tuple[float, float]
    pearson: float
    pearson_ci: tuple[float, float]
    spearman: float
    spearman_ci: tuple[float, float]
    test_chromosomes: list[str]
    scored_by: dict[str, int]  # rows per scoring fold (`crossfit.SCORED_BY` names them)
    n_not_served: int = 0
    sign_agreement: float = float("nan")
    sign_agreement_ci: tuple[float, float] = (float("nan"), float("nan"))


def variant_windows(inputs: TrainingInputs, chroms: list[str], flank: int) -> tuple[pd.DataFrame, list, list]:
    """REF and ALT windows on the hg38 + strand, checked and harmonised by the pipeline's own `build_windows`.

    A variant whose ALT is the genome base is swapped and its Beta negated (Degner's `Ref` is not always the
    genome base); one matching neither allele, or whose window the reference cannot serve, is not returned.
    The frame keeps the table's own alleles; `beta` is the effect of the harmonised ALT, `variant_id` the id the
    pipeline gives the variant (its harmonised alleles on the + strand).
    """
    reference = ReferenceGenome(inputs.reference_fasta, "hg38")
    chosen = inputs.dsqtls[inputs.dsqtls["chrom"].isin(chroms)].reset_index(drop=True)
    minus = (chosen["strand"] == "-").to_numpy()
    plus_strand = pd.DataFrame({
        "variant_id": np.arange(len(chosen)), "chrom": chosen["chrom"], "pos": chosen["pos"],
        "ref": np.where(minus, chosen["ref"].map(reverse_complement), chosen["ref"]),
        "alt": np.where(minus, chosen["alt"].map(reverse_complement), chosen["alt"]),
        "effect": chosen["beta"].to_numpy(dtype=float),
    })
    checked = build_windows(plus_strand, reference, window_length=2 * flank + 1, needs_sequence=True)
    served = (checked["window_status"] == OK).to_numpy()
    with reference.reader() as fetch:
        refs, alts, _ = allele_sequences(checked[served], fetch, flank)
    frame = chosen[served].reset_index(drop=True)
    frame["beta"] = checked.loc[served, "effect"].to_numpy()
    frame["variant_id"] = variant_ids(checked[served], "hg38").to_numpy()
    return frame, refs, alts


def allele_sequences(
    variants: pd.DataFrame, fetch: Callable[[str, int, int], str | None], flank: int
) -> tuple[list[str], list[str], np.ndarray]:
    """What the model scores for each variant: its window of 2 * flank + 1 bases (`windows.variant_window`, the
    pipeline's one window definition), and the same window with ALT spliced in for REF (indels change the
    length). Where `fetch` serves no such window or it does not hold the REF span, both are "" and `ok` is False."""
    starts, ends = variant_window(variants["pos"].to_numpy(), variants["ref"].str.len().to_numpy(), 2 * flank + 1)
    refs, alts, ok = [], [], np.zeros(len(variants), dtype=bool)
    for i, row in enumerate(variants.itertuples(index=False)):
        start, end = int(starts[i]), int(ends[i])
        offset = row.pos - 1 - start
        seq = fetch(row.chrom, start, end) if offset + len(row.ref) <= end - start else None
        ok[i] = seq is not None
        refs.append(seq or "")
        alts.append(seq[:offset] + row.alt + seq[offset + len(row.ref):] if seq is not None else "")
    return refs, alts, ok


def evaluate_held_out(
    model: CrossFittedModel, inputs: TrainingInputs, test_chroms: list[str], *, n_boot: int = N_BOOTSTRAP,
    seed: int = BOOTSTRAP_SEED,
) -> HeldOutEvaluation:
    """delta = score(ALT window) - score(REF window) on hg38 + strand versus the table's Beta, with 95% CIs; each
    dsQTL is scored by the fold model that never saw its chromosome (all autosomes: the whole cross-fitted set)."""
    test_chroms = list(test_chroms)
    frame, refs, alts = variant_windows(inputs, test_chroms, model.flank)
    n_not_served = int(inputs.dsqtls["chrom"].isin(test_chroms).sum()) - len(frame)
    if len(frame) < 10:
        raise InputError(inputs.reference_fasta, f"only {len(frame)} dsQTLs on {test_chroms} can be scored",
                         "Choose test chromosomes that hold dsQTLs covered by the reference")
    s_ref, s_alt = model.score_pairs(refs, alts, frame["chrom"].to_numpy())
    delta = s_alt - s_ref
    beta = frame["beta"].to_numpy(dtype=float)
    # The same metrics and bootstrap as the report, each dsQTL its own unit named as there, so the numbers and their
    # intervals are the report's on the same variants.
    out = summarize(beta, delta, units=frame["variant_id"].to_numpy(), n_boot=n_boot, seed=seed, with_null=False)
    folds, counts = np.unique(scoring_fold(frame["chrom"].to_numpy()), return_counts=True)
    return HeldOutEvaluation(
        n=int(out["n"]),
        sign_auroc=out["sign_auroc"], sign_auroc_ci=tuple(out["sign_auroc_ci"]),
        pearson=out["pearson"], pearson_ci=tuple(out["pearson_ci"]),
        spearman=out["spearman"], spearman_ci=tuple(out["spearman_ci"]),
        sign_agreement=out["sign_agreement"], sign_agreement_ci=tuple(out["sign_agreement_ci"]),
        test_chromosomes=test_chroms,
        scored_by={str(f): int(c) for f, c in zip(folds, counts)},
        n_not_served=n_not_served,
    )
