"""Why a variant scores as it does: the report's section on transcription-factor motifs gained and lost.

Per truth set, on its headline units (one significant row per unit): the units with the largest measured effects,
and for each model the units where model and measurement disagree most, each with its strongest motif change
(`lib/motifs/changes.py`) and whether the motif's direction (a site gained by ALT predicts a higher readout with
ALT) agrees with the measured effect; and the agreement rate over every unit with a strong change.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from endobench.lib.evaluation.metrics import MIN_UNITS, N_BOOTSTRAP, summarize
from endobench.lib.evaluation.render import Block, num, with_ci
from endobench.lib.evaluation.results import scored_rows
from endobench.lib.evaluation.units import headline_rows, resampling_units
from endobench.lib.truth_sets.catalog import GENE_UNIT, TruthSetSpec

N_SHOWN = 10
VARIANT_KEYS = ["chrom", "pos", "ref", "alt"]
NOT_MODELS = ("measured", "motif_jaspar")
# The published reference for the agreement rate, in its own setting (allele-specific binding of the TF itself).
ADASTRA = ("For comparison, allele-specific binding of a TF measured by ChIP-seq agrees with the allele its motif "
           "prefers in 85% of events at FDR < 0.05 and in over 90% at FDR < 0.00005, under the same rule "
           "(ADASTRA release BillCipher, 2022, README, HOCOMOCO motifs; the method: Abramov et al. 2021, Nature "
           "Communications 12:2751, doi:10.1038/s41467-021-23007-0). That measures the TF's own binding; "
           "accessibility and expression are further from any one motif, so a lower rate is expected here.")
RULE = ("A change is strong when |log2(p REF / p ALT)| >= 2 and the better allele's p < 5e-4 (ADASTRA's rule); "
        "motif positions are 1-based on the motif's strand. Profiles: JASPAR 2024 CORE vertebrates, all 879, so "
        "nearly every variant makes or breaks some site by this rule, which was written for one TF's motif at a "
        "time. A model's disagreement table covers all its scored units, training ones included.")


def change_text(row: Mapping[str, object]) -> str:
    """`loss of CTCF (MA0139.2)` / `gain of SPI1 (MA0080.7)` / `none`."""
    kind = row.get("strongest") or ""
    if not kind:
        return "none"
    return f"{kind} of {row[f'{kind}_tf']} ({row[f'{kind}_motif_id']})"


def _details(row: Mapping[str, object]) -> list[str]:
    kind = row.get("strongest") or ""
    if not kind:
        return ["–", "–", "–", "–"]
    return [num(row[f"{kind}_log2_fold"], 2), f"{row[f'{kind}_p_ref']:.1e} -> {row[f'{kind}_p_alt']:.1e}",
            f"{int(row[f'{kind}_motif_position'])} ({row[f'{kind}_strand']})", "yes" if row["strong"] else "no"]


def _agrees(row: Mapping[str, object]) -> str:
    if not row.get("strongest") or not row["strong"] or row["effect"] == 0:
        return "–"
    return "yes" if np.sign(row["strongest_log2_fold"]) == np.sign(row["effect"]) else "no"


def with_changes(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Rows with their variant's strongest changes (a variant not scanned has none)."""
    changes = table.drop(columns=["variant_id"], errors="ignore").drop_duplicates(VARIANT_KEYS)
    out = rows.drop(columns=[c for c in changes if c not in VARIANT_KEYS and c in rows]).merge(
        changes, on=VARIANT_KEYS, how="left")
    out["strongest"] = out["strongest"].fillna("")
    out["strong"] = out["strong"].fillna(False).astype(bool)
    return out


def agreement(units: pd.DataFrame, unit: str, n_boot: int = N_BOOTSTRAP) -> dict[str, object]:
    """Share of units with a strong change whose change has the sign of the measured effect, with its interval."""
    strong = units[units["strong"] & (units["effect"] != 0)]
    out: dict[str, object] = {"n_units": int(units[unit].nunique()), "n_strong": int(len(strong))}
    resampled = resampling_units(strong, unit)
    if pd.Series(resampled).nunique() >= MIN_UNITS:
        summary = summarize(strong["effect"], strong["strongest_log2_fold"], units=resampled, n_boot=n_boot,
                            with_null=False)
        out.update(agreement=summary["sign_agreement"], agreement_ci=summary["sign_agreement_ci"])
    return out


def motif_section(predictions: pd.DataFrame, table: pd.DataFrame, specs: Mapping[str, TruthSetSpec],
                  labels: Mapping[str, str], *, n_shown: int = N_SHOWN, n_boot: int = N_BOOTSTRAP,
                  ) -> tuple[list[Block], dict[str, dict]]:
    """The report blocks and the numbers (per truth set: units, units with a strong change, agreement rate).

    `labels` names each configuration as the report does; configurations of the measured reference and of the
    motif baseline are not models and get no disagreement table.
    """
    scored = scored_rows(predictions)
    blocks: list[Block] = [("h", 2, "Motifs gained and lost"), ("p", RULE)]
    numbers: dict[str, dict] = {}
    for truth_set in sorted(map(str, scored["truth_set"].dropna().unique())):
        spec = specs.get(truth_set)
        rows = scored[scored["truth_set"] == truth_set]
        unit = spec.unit if spec is not None else "variant_id"
        lead_by = spec.lead_by if spec is not None else "keep_all"
        units = with_changes(headline_rows(rows.drop_duplicates(["variant_id", "gene_id"]), unit, lead_by), table)
        numbers[truth_set] = agreement(units, unit, n_boot)
        blocks.append(("h", 3, spec.title if spec is not None else truth_set))
        blocks.append(("p", _agreement_sentence(numbers[truth_set])))
        gene = unit == GENE_UNIT
        largest = units.reindex(units["effect"].abs().sort_values(ascending=False, kind="stable").index)
        blocks.append(("p", f"The {min(n_shown, len(units))} units with the largest measured effects:"))
        blocks.append(("table", _header(gene), [_row(r, gene) for _, r in largest.head(n_shown).iterrows()]))
        for configuration in sorted(map(str, rows["configuration"].unique())):
            model = rows[rows["configuration"] == configuration]
            if str(model["predictor"].iloc[0]) in NOT_MODELS:
                continue
            worst = _disagreements(with_changes(headline_rows(model, unit, lead_by), table))
            blocks.append(("p", f"{labels.get(configuration, configuration)}: the {min(n_shown, len(worst))} units "
                                "where its score and the measured effect disagree most (largest gap between their "
                                "percentile ranks):"))
            blocks.append(("table", _header(gene, model=True),
                           [_row(r, gene, model=True) for _, r in worst.head(n_shown).iterrows()]))
    blocks.append(("p", ADASTRA))
    return blocks, numbers


def _disagreements(units: pd.DataFrame) -> pd.DataFrame:
    effect_rank = units["effect"].rank(pct=True)
    score_rank = units["score"].rank(pct=True)
    gap = (effect_rank - score_rank).abs()
    return units.assign(effect_pct=effect_rank, score_pct=score_rank).reindex(
        gap.sort_values(ascending=False, kind="stable").index)


def _agreement_sentence(n: Mapping[str, object]) -> str:
    if "agreement" not in n:
        return (f"{n['n_strong']:,} of {n['n_units']:,} units carry a strong motif change: too few for an "
                f"agreement rate (at least {MIN_UNITS} units of resampling).")
    return (f"{n['n_strong']:,} of {n['n_units']:,} units carry a strong motif change; its direction agrees with "
            f"the measured effect in {with_ci(n, 'agreement')} of them (95% cluster bootstrap over units; 0.5 is "
            "chance).")


def _header(gene: bool, model: bool = False) -> list[str]:
    lead = ["variant"] + (["gene"] if gene else []) + ["measured effect"]
    lead += ["model score (percentile)", "effect percentile"] if model else []
    return lead + ["strongest motif change", "log2 fold", "p REF -> ALT", "position in motif", "strong",
                   "motif agrees with effect"]


def _row(r: pd.Series, gene: bool, model: bool = False) -> list[str]:
    cells = [str(r["variant_id"])] + ([str(r["gene_id"])] if gene else []) + [num(r["effect"])]
    if model:
        cells += [f"{num(r['score'])} ({num(r['score_pct'], 2)})", num(r["effect_pct"], 2)]
    return cells + [change_text(r)] + _details(r) + [_agrees(r)]
