"""Training of the local model on the dsQTL allele contexts of the training chromosomes, cross-fitted by parity.

`train_cross_fitted` trains one model on the odd autosomes and one on the even ones (`crossfit.py` says which
scores what). Each (`train_local_model`) uses only the Degner dsQTLs whose hg38 chromosome is a training chromosome,
through their two real 100-bp allele contexts, with two objectives:
- paired allelic: features(high allele context) - features(low allele context) labelled 1 and the negated
  difference labelled 0 (L2 logistic regression, no intercept, pairs weighted by |t|);
- accessible versus background: the smoothed log-ratio of gapped k-mer counts in the contexts (both alleles)
  against two first-order Markov sequences drawn from each context itself (matched GC and dinucleotides),
  added with a small weight.
The chr22/chr2 segments and the chr22 K562 peaks are not used: the dsQTL contexts alone reach the target, and
eQTL windows there must stay held out of the model that scores them.

Selection by 4-fold cross-validation grouped by chromosome within the odd chromosomes (pooled sign auROC of
the allelic delta): l=6,k=4 0.558; l=8,k=5 0.591; l=10,k=6 0.598; l=8,k=6 0.594, with |t| weights 0.601, with
the background term (weight 0.1) 0.603 (kept); the background objective alone 0.55.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse

from endobench.lib.evaluation.metrics import sign_auroc
from endobench.lib.io.errors import InputError
from endobench.lib.io.fasta import read_fasta
from endobench.lib.io.tables import read_table
from endobench.lib.model.crossfit import EVEN, FOLD_CHROMOSOMES, ODD, CrossFittedModel
from endobench.lib.model.gkm import (
    MAX_FLANK,
    GkmConfig,
    LocalDnaseModel,
    encode_equal_length,
    gkm_features_both_strands,
    lmer_table,
    table_scores,
)

CONTEXT_VARIANT_INDEX = 49
DSQTL_CONTEXT_COLUMNS = ["ID", "chr_hg38", "pos_hg38", "strand_hg38", "Ref", "Alt", "Beta", "t value"]


@dataclass
class TrainingInputs:
    """The dsQTLs with their hg38 placement and both 100-bp allele contexts, and the sample reference.

    `dsqtls` has one row per dsQTL with a context: id, chrom, pos (1-based hg38), strand, ref, alt (as in the
    table, on the table's strand), beta (effect of alt), abs_t. `high` / `low` map id to the 100-bp context of
    the high / low accessibility allele (variant at index 49). Beta > 0 means alt is the high allele.
    """

    dsqtls: pd.DataFrame
    high: dict[str, str]
    low: dict[str, str]
    reference_fasta: Path
    excluded: dict[str, int] = field(default_factory=dict)

    @classmethod
    def sample(cls, sample_dir: Path) -> TrainingInputs:
        d = Path(sample_dir)
        table_path = d / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"
        high_path = d / "maggie_Degner2012_dsQTL_high_allele_100bp.hg18ctx.fa.gz"
        low_path = d / "maggie_Degner2012_dsQTL_low_allele_100bp.hg18ctx.fa.gz"
        reference = d / "hg38_sample_segments.fa"
        for path in (table_path, high_path, low_path, reference):
            if not path.exists():
                raise InputError(path, "a bundled sample file is missing", "Restore data/sample/ from the repository")
        table = read_table(table_path, DSQTL_CONTEXT_COLUMNS, "lifted Degner dsQTL")
        high, low = read_fasta(high_path), read_fasta(low_path)
        excluded: dict[str, int] = {}
        rows = []
        for line, row in enumerate(table.itertuples(index=False), start=2):
            if not row.chr_hg38 or not row.pos_hg38 or "_" in row.chr_hg38:
                excluded["not_lifted_to_primary_hg38"] = excluded.get("not_lifted_to_primary_hg38", 0) + 1
                continue
            if row.ID not in high or row.ID not in low:
                excluded["no_context_sequence"] = excluded.get("no_context_sequence", 0) + 1
                continue
            h, lo = high[row.ID], low[row.ID]
            if len(h) != 100 or len(lo) != 100 or {h[CONTEXT_VARIANT_INDEX], lo[CONTEXT_VARIANT_INDEX]} != {row.Ref.upper(), row.Alt.upper()}:
                raise InputError(high_path, "the high/low contexts do not carry the table's alleles at index 49",
                                 "Check that the context FASTAs and the dsQTL table come from the same release",
                                 variant=row.ID)
            beta = float(row.Beta)
            rows.append((row.ID, row.chr_hg38, int(row.pos_hg38), row.strand_hg38, row.Ref.upper(),
                         row.Alt.upper(), beta, abs(float(row[table.columns.get_loc("t value")]))))
        frame = pd.DataFrame(rows, columns=["id", "chrom", "pos", "strand", "ref", "alt", "beta", "abs_t"])
        return cls(frame, high, low, reference, excluded)


@dataclass(frozen=True)
class TrainingSettings:
    """The variant kept by `cross_validate` within the odd chromosomes (numbers in the module docstring)."""

    l: int = 8
    k: int = 6
    flank: int = MAX_FLANK
    paired_c: float = 3e-5
    accessibility_weight: float = 0.1
    pseudocount: float = 5.0
    seed: int = 0


def markov_background(seq: str, rng: np.random.Generator) -> str:
    """A random sequence from the first-order Markov chain of `seq` itself (matched GC and dinucleotides)."""
    enc = encode_equal_length([seq])[0]
    counts = np.full((4, 4), 0.1)
    ok = (enc[:-1] < 4) & (enc[1:] < 4)
    np.add.at(counts, (enc[:-1][ok], enc[1:][ok]), 1.0)
    cumulative = (counts / counts.sum(axis=1, keepdims=True)).cumsum(axis=1)
    draws = rng.random(len(seq))
    state = int(enc[0]) if enc[0] < 4 else 0
    out = [state]
    for u in draws[1:]:
        state = min(3, int(np.searchsorted(cumulative[state], u)))
        out.append(state)
    return "".join("ACGT"[c] for c in out)


def _fit_weights(high: list[str], low: list[str], abs_t: np.ndarray, settings: TrainingSettings) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    config = GkmConfig(settings.l, settings.k)
    x_high = gkm_features_both_strands(high, config)
    x_low = gkm_features_both_strands(low, config)
    diff = (x_high - x_low).tocsr()
    # Paired objective: high minus low is class 1, its negation class 0; no intercept keeps it antisymmetric.
    # Stronger dsQTLs (larger |t|) have a surer sign, so they weigh more.
    weight = abs_t / abs_t.mean()
    model = LogisticRegression(C=settings.paired_c, fit_intercept=False, max_iter=3000)
    model.fit(sparse.vstack([diff, -diff]), np.r_[np.ones(len(high)), np.zeros(len(high))],
              sample_weight=np.r_[weight, weight])
    paired = model.coef_[0]
    if settings.accessibility_weight == 0:
        return paired
    # Accessible (both allele contexts) versus two matched Markov backgrounds per context: a smoothed
    # log-ratio of gapped k-mer counts, deltaSVM's "what is enriched in DHS" in closed form.
    rng = np.random.default_rng(settings.seed)
    background = [markov_background(s, rng) for s in high] + [markov_background(s, rng) for s in low]
    positive = np.asarray(x_high.sum(axis=0)).ravel() + np.asarray(x_low.sum(axis=0)).ravel()
    negative = np.asarray(gkm_features_both_strands(background, config).sum(axis=0)).ravel()
    enrichment = np.log((positive + settings.pseudocount) / (negative + settings.pseudocount))
    # Put both terms on the scale of their typical allelic delta on the training pairs before mixing.
    paired_scale = np.abs(diff @ paired).mean() or 1.0
    enrichment_scale = np.abs(diff @ enrichment).mean() or 1.0
    return paired / paired_scale + settings.accessibility_weight * enrichment / enrichment_scale


def _training_pairs(inputs: TrainingInputs, chroms: list[str]) -> tuple[list[str], list[str], np.ndarray]:
    chosen = inputs.dsqtls[inputs.dsqtls["chrom"].isin(chroms)]
    high = [inputs.high[i] for i in chosen["id"]]
    low = [inputs.low[i] for i in chosen["id"]]
    return high, low, chosen["abs_t"].to_numpy(dtype=float)


def train_local_model(
    inputs: TrainingInputs, train_chroms: list[str], settings: TrainingSettings = TrainingSettings()
) -> tuple[LocalDnaseModel, dict]:
    """Fit the gapped k-mer model on the dsQTL contexts of `train_chroms` only; deterministic."""
    train_chroms = list(train_chroms)
    high, low, abs_t = _training_pairs(inputs, train_chroms)
    if len(high) < 50:
        raise InputError(None, f"only {len(high)} dsQTLs lie on the training chromosomes {train_chroms}",
                         "Choose training chromosomes that hold at least 50 dsQTLs")
    config = GkmConfig(settings.l, settings.k)
    weights = _fit_weights(high, low, abs_t, settings)
    table = lmer_table(weights, config)
    training = {
        "train_chromosomes": train_chroms,
        "n_train_dsqtls": len(high),
        "objectives": "paired high-vs-low logistic (|t|-weighted) + DHS-vs-Markov-background k-mer enrichment",
        "settings": {k: v for k, v in vars(settings).items()},
    }
    model = LocalDnaseModel(table, config, settings.flank, name=f"gkm_dnase_l{config.l}k{config.k}", training=training)
    summary = {
        "n_train_dsqtls": len(high),
        "n_background_sequences": 2 * len(high) if settings.accessibility_weight else 0,
        "train_material": "Degner dsQTL 100-bp high/low contexts of the training chromosomes (no chr22/chr2 "
                          "segment or peak material)",
        "gapped_kmer": f"l={config.l}, k={config.k}, {config.n_features:,} features, both strands",
        "paired_c": settings.paired_c,
        "accessibility_weight": settings.accessibility_weight,
        "flank": settings.flank,
    }
    return model, summary


def train_cross_fitted(
    inputs: TrainingInputs, settings: TrainingSettings = TrainingSettings()
) -> tuple[CrossFittedModel, dict[str, dict]]:
    """One model per chromosome-parity fold (odd autosomes, even autosomes), each fitted on its fold's dsQTL
    contexts only; deterministic. Returns the cross-fitted pair and each fold's training summary."""
    fitted = {fold: train_local_model(inputs, FOLD_CHROMOSOMES[fold], settings) for fold in (ODD, EVEN)}
    return CrossFittedModel({fold: model for fold, (model, _) in fitted.items()}), \
        {fold: summary for fold, (_, summary) in fitted.items()}


def cross_validate(
    inputs: TrainingInputs, train_chroms: list[str], settings: TrainingSettings = TrainingSettings(), n_folds: int = 4
) -> dict:
    """Pooled and per-fold sign auROC of the allelic delta, folds grouped by chromosome within `train_chroms`.

    Fold i holds out train_chroms[i::n_folds]. Scored on the 100-bp contexts: delta = score(alt) - score(ref)
    with alt the high allele when Beta > 0, the same delta the hg38 windows give (the model is strand-symmetric
    and the base the 99-bp window drops is farther than l from the variant).
    """
    train_chroms = list(train_chroms)
    config = GkmConfig(settings.l, settings.k)
    deltas, labels, per_fold = [], [], []
    for i in range(n_folds):
        held = train_chroms[i::n_folds]
        fit = [c for c in train_chroms if c not in held]
        high, low, abs_t = _training_pairs(inputs, fit)
        table = lmer_table(_fit_weights(high, low, abs_t, settings), config)
        test = inputs.dsqtls[inputs.dsqtls["chrom"].isin(held)]
        s_high = table_scores([inputs.high[j] for j in test["id"]], table, config.l)
        s_low = table_scores([inputs.low[j] for j in test["id"]], table, config.l)
        positive = test["beta"].to_numpy() > 0
        delta = np.where(positive, s_high - s_low, s_low - s_high)
        per_fold.append({"held_out": held, "n": len(test), "sign_auroc": sign_auroc(np.where(positive, 1.0, -1.0), delta)})
        deltas.append(delta)
        labels.append(positive)
    return {"sign_auroc": sign_auroc(np.where(np.concatenate(labels), 1.0, -1.0), np.concatenate(deltas)),
            "folds": per_fold}
