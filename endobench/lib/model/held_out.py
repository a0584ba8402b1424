"""The local model scored on the dsQTLs of chromosomes it never saw, through the pipeline's own windows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from endobench.lib.genome.sequence import reverse_complement
from endobench.lib.io.errors import InputError
from endobench.lib.model.gkm import LocalDnaseModel
from endobench.lib.model.training import TrainingInputs, _auroc


@dataclass
class HeldOutEvaluation:
    n: int
    sign_auroc: float
    sign_auroc_ci: tuple[float, float]
    pearson: float
    pearson_ci: tuple[float, float]
    spearman: float
    spearman_ci: tuple[float, float]
    train_chromosomes: list[str]
    test_chromosomes: list[str]
    n_not_served: int = 0


def variant_windows(inputs: TrainingInputs, chroms: list[str], flank: int) -> tuple[pd.DataFrame, list, list]:
    """REF and ALT windows on the hg38 + strand, checked and harmonised by the pipeline's own `build_windows`.

    A variant whose ALT is the genome base is swapped and its Beta negated (Degner's `Ref` is not always the
    genome base); one matching neither allele, or whose window the reference cannot serve, is not returned.
    The frame keeps the table's own alleles; `beta` is the effect of the harmonised ALT.
    """
    from endobench.lib.genome.reference import ReferenceGenome
    from endobench.lib.genome.windows import OK, build_windows

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
    return frame, refs, alts


def allele_sequences(
    variants: pd.DataFrame, fetch: Callable[[str, int, int], str | None], flank: int
) -> tuple[list[str], list[str], np.ndarray]:
    """What the model scores for each variant: its REF span with `flank` bases each side, and the same with ALT
    spliced in (indels change the length). Where `fetch` serves no such span, both are "" and `ok` is False."""
    refs, alts, ok = [], [], np.zeros(len(variants), dtype=bool)
    for i, row in enumerate(variants.itertuples(index=False)):
        seq = fetch(row.chrom, row.pos - 1 - flank, row.pos - 1 + len(row.ref) + flank)
        ok[i] = seq is not None
        refs.append(seq or "")
        alts.append(seq[:flank] + row.alt + seq[flank + len(row.ref):] if seq is not None else "")
    return refs, alts, ok


def evaluate_held_out(
    model: LocalDnaseModel, inputs: TrainingInputs, test_chroms: list[str], *, n_boot: int = 1000, seed: int = 0
) -> HeldOutEvaluation:
    """delta = score(ALT window) - score(REF window) on hg38 + strand versus the table's Beta, with 95% CIs."""
    test_chroms = list(test_chroms)
    frame, refs, alts = variant_windows(inputs, test_chroms, model.flank)
    n_not_served = int(inputs.dsqtls["chrom"].isin(test_chroms).sum()) - len(frame)
    if len(frame) < 10:
        raise InputError(inputs.reference_fasta, f"only {len(frame)} dsQTLs on {test_chroms} can be scored",
                         "Choose test chromosomes that hold dsQTLs covered by the reference")
    s_ref, s_alt = model.score_pairs(refs, alts)
    delta = s_alt - s_ref
    beta = frame["beta"].to_numpy(dtype=float)
    labels = beta > 0

    def metrics(idx: np.ndarray) -> tuple[float, float, float]:
        d, b = delta[idx], beta[idx]
        return (_auroc(labels[idx], d), float(np.corrcoef(d, b)[0, 1]),
                float(np.corrcoef(stats.rankdata(d), stats.rankdata(b))[0, 1]))

    full = metrics(np.arange(len(delta)))
    rng = np.random.default_rng(seed)
    boots = np.array([metrics(rng.integers(0, len(delta), len(delta))) for _ in range(n_boot)])
    low, high = np.nanpercentile(boots, [2.5, 97.5], axis=0)
    return HeldOutEvaluation(
        n=len(delta),
        sign_auroc=full[0], sign_auroc_ci=(float(low[0]), float(high[0])),
        pearson=full[1], pearson_ci=(float(low[1]), float(high[1])),
        spearman=full[2], spearman_ci=(float(low[2]), float(high[2])),
        train_chromosomes=list(model.training.get("train_chromosomes", [])),
        test_chromosomes=test_chroms,
        n_not_served=n_not_served,
    )
