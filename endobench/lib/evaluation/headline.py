"""The headline, as every place that shows it reads it: metrics.json, the console, the report, its figure, the UI.

One entry per headline result (each model's leak-free result and each reference), built once from the results:
its primary endpoint with the exact or bootstrap interval and the two-sided p, Holm-adjusted over the headline
rows; its minimum detectable Spearman (`mde`) and whether it is underpowered; the noise ceiling and the readout's
reference on the same units. An entry with fewer than `MIN_UNITS` units keeps its counts and a note, never a
number. A truth set with no scorable unit still has a line, saying why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from endobench.lib.evaluation.endpoints import ENDPOINTS, ceiling_of, holm
from endobench.lib.evaluation.metrics import MIN_UNITS, too_few
from endobench.lib.evaluation.references import REFERENCE
from endobench.lib.evaluation.render import num, pvalue, with_ci
from endobench.lib.evaluation.results import ALL, HELD_OUT, MODEL, reference_for
from endobench.lib.truth_sets.catalog import DIRECTION, GENE_UNIT, VARIANT_UNIT, TruthSetSpec

METRICS_SHOWN = ("spearman", "pearson", "sign_agreement", "sign_auroc")
MDE_MEANS = "the Spearman detectable with 80% power at two-sided 0.05 from the row's units"


def is_headline(result: Mapping[str, object], results: Sequence[Mapping[str, object]]) -> bool:
    """References and each model's leak-free result: held-out rows, or all rows of a model whose training split is
    unknown. Training rows (and the 'all' rows of a model that has held-out ones) never reach it."""
    if result["kind"] != MODEL:
        return True
    if result["split"] == HELD_OUT:
        return True
    if result["split"] != ALL:
        return False
    return not any(r["split"] == HELD_OUT and all(r[k] == result[k] for k in ("truth_set", "readout", "configuration"))
                   for r in results)


def adjust_headline_pvalues(results: Sequence[dict], min_n: int = MIN_UNITS) -> int:
    """Holm-adjust the primary p-values of the headline results with at least `min_n` units, in place
    (`primary.p_holm`); returns how many p-values the family holds."""
    family = [r for r in results if r.get("headline") and int(r.get("n_units") or 0) >= min_n
              and math.isfinite(float(r["primary"].get("p", math.nan)))]
    for r, adjusted in zip(family, holm([float(r["primary"]["p"]) for r in family]), strict=True):
        r["primary"]["p_holm"] = adjusted
    return len(family)


def units_phrase(entry: Mapping[str, object]) -> str:
    """`41 genes on 36 variants`, `2,667 variants`, `120 rows in 30 units`: what n counts and what is resampled."""
    n, n_units = int(entry.get("n") or 0), int(entry.get("n_units") or 0)
    if entry.get("unit") == VARIANT_UNIT:
        return f"{n_units:,} variants"
    if entry.get("unit") == GENE_UNIT:
        n_variants = int(entry.get("n_variants") or 0)
        if n_units == n_variants:
            return f"{n:,} genes on {n_variants:,} variants"
        return f"{n:,} genes in {n_units:,} linked units"
    return f"{n:,} rows in {n_units:,} units"


def headline_entry(result: Mapping[str, object], spec: TruthSetSpec | None, min_n: int = MIN_UNITS) -> dict:
    """The headline entry of one result (see the module docstring)."""
    primary = result["primary"]
    ceiling = result.get("noise_ceiling") or {}
    reference = reference_for(result) if result["kind"] == MODEL else None
    power = result.get("power") or {}
    entry: dict[str, object] = {
        "truth_set": result["truth_set"], "title": spec.title if spec is not None else result["truth_set"],
        "readout": result["readout"], "readout_label": result["readout_label"], "label": result["label"],
        "kind": result["kind"], "configuration": result["configuration"], "split": result["split"],
        "unit": result["unit"], "n": result["n"], "n_units": result["n_units"],
        "n_variants": result.get("n_variants"), "units": units_phrase(result),
        "primary": {k: primary.get(k) for k in ("endpoint", "metric", "value", "ci", "p", "p_holm", "alternative",
                                                "test", "mde", "null", "n_units", "chance")},
        "mde": result.get("mde"), "underpowered": bool(power.get("underpowered")),
        "power_against": power.get("against"),
        "noise_ceiling": {"spearman": ceiling.get("spearman"), "primary": ceiling_of(primary["endpoint"], ceiling),
                          "reliability": ceiling.get("reliability"), "n": ceiling.get("n")},
        "reference": None,
        **{k: result.get(k) for k in METRICS_SHOWN},
        **{f"{k}_ci": result.get(f"{k}_ci") for k in METRICS_SHOWN},
    }
    if reference is not None:
        entry["reference"] = {
            "label": reference["label"], "n_units": reference["n_units"], "spearman": reference.get("spearman"),
            "spearman_ci": reference.get("spearman_ci"),
            "primary": (reference.get("primary") or {}).get("value"),
            "model_primary": ((reference.get("model_on_same_units") or {}).get("primary") or {}).get("value"),
            "model_spearman": (reference.get("model_on_same_units") or {}).get("spearman"),
        }
    if int(result["n_units"] or 0) < min_n:
        entry["note"] = too_few(int(result["n_units"] or 0), min_n)
        for key in METRICS_SHOWN:
            entry[key] = None
            entry[f"{key}_ci"] = None
        entry["primary"].update(value=None, ci=None, p=None, p_holm=None, null=None)
        entry["noise_ceiling"].update(spearman=None, primary=None, reliability=None)
        if entry["reference"] is not None:
            entry["reference"].update(spearman=None, spearman_ci=None, primary=None, model_primary=None,
                                      model_spearman=None)
    elif entry["reference"] is not None and int(entry["reference"]["n_units"] or 0) < min_n:
        entry["reference"].update(spearman=None, spearman_ci=None, primary=None, model_primary=None,
                                  model_spearman=None, note=too_few(int(entry["reference"]["n_units"]), min_n))
    return entry


def empty_reason(funnel: Mapping[str, object], exclusions: Mapping[str, object]) -> str:
    """Why a truth set has no scorable unit, from its funnel (the first step that reaches 0) and its exclusions."""
    steps = [(k, v) for k, v in funnel.items() if isinstance(v, (int, float))]
    where = ""
    for (before, n_before), (step, n) in zip(steps, steps[1:], strict=False):
        if n == 0 and n_before:
            where = f"{before} {int(n_before):,}, {step} 0"
            break
    reasons = "; ".join(f"{k} {int(v):,}" for k, v in sorted(exclusions.items(), key=lambda kv: -float(kv[1] or 0))
                        if k != "not_in_annotation" and v)
    return ", ".join(x for x in (where, reasons) if x) or "no scored rows"


def truth_set_summaries(results: Sequence[Mapping[str, object]], truth_sets: Sequence[str],
                        specs: Mapping[str, TruthSetSpec], funnels: Mapping[str, Mapping],
                        exclusions: Mapping[str, Mapping]) -> dict[str, dict]:
    """One entry per truth set, including those without a scorable unit: title, unit, primary endpoint, and for
    a truth set that no model could score, `reason`."""
    out = {}
    for truth_set in truth_sets:
        spec = specs.get(truth_set)
        models = [r for r in results if r["truth_set"] == truth_set and r["kind"] == MODEL and r.get("headline")]
        endpoint = spec.primary if spec is not None else DIRECTION
        entry = {"title": spec.title if spec is not None else truth_set,
                 "unit": spec.unit if spec is not None else "",
                 "primary_metric": ENDPOINTS[endpoint], "n_model_results": len(models),
                 "n_units_scored": max((int(r["n_units"]) for r in models), default=0)}
        if not models:
            entry["reason"] = empty_reason(funnels.get(truth_set, {}), exclusions.get(truth_set, {}))
        out[truth_set] = entry
    return out


def cells(entry: Mapping[str, object]) -> dict[str, str]:
    """The headline entry's numbers as text, shared by the console, the report table and the UI table."""
    primary = entry["primary"]
    reference = entry.get("reference")
    ceiling = entry.get("noise_ceiling") or {}
    if entry.get("note"):
        primary_text = spearman_text = str(entry["note"])
    else:
        primary_text = with_ci({"value": primary.get("value"), "value_ci": primary.get("ci")}, "value")
        spearman_text = with_ci(entry, "spearman")
    if reference is None:
        reference_text = "–"
    elif reference.get("note"):
        reference_text = f"{reference['label']}: {reference['note']}"
    else:
        reference_text = (f"{num(reference.get('primary'))} / {num(reference.get('spearman'))} "
                          f"(model {num(reference.get('model_primary'))} / {num(reference.get('model_spearman'))}"
                          f", n={int(reference['n_units']):,})")
    return {
        "primary": primary_text, "spearman": spearman_text, "mde": num(entry.get("mde")),
        "p": f"{pvalue(primary.get('p'))} (Holm {pvalue(primary.get('p_holm'))})" if not entry.get("note") else "–",
        "reference": reference_text,
        "ceiling": f"{num(ceiling.get('primary'))} / {num(ceiling.get('spearman'))}",
        "flag": "underpowered" if entry.get("underpowered") and not entry.get("note") else "",
    }


def sorted_entries(headline: Mapping[str, Mapping]) -> list[Mapping]:
    """Headline entries by truth set and readout, references before the models they are read against."""
    return sorted(headline.values(), key=lambda h: (str(h.get("title", "")), str(h.get("readout_label", "")),
                                                    h.get("kind") != REFERENCE, str(h.get("label", ""))))


def table_rows(metrics: Mapping[str, object]) -> list[dict[str, object]]:
    """The headline as records for a table (the Dagster UI's): truth set, readout x biosample, configuration,
    units, primary metric and interval, p, mde, reference, noise ceiling, flag."""
    out = []
    truth_sets = metrics.get("headline_truth_sets", {}) or {}
    for entry in sorted_entries(metrics.get("headline", {}) or {}):
        if truth_sets.get(entry["truth_set"], {}).get("reason"):
            continue  # no model scored a unit there: one row says why, below
        c = cells(entry)
        out.append({"truth set": str(entry["title"]), "readout x biosample": str(entry["readout_label"]),
                    "configuration": str(entry["label"]), "n units": str(entry["units"]),
                    "primary metric [95% CI]": f"{entry['primary']['metric']}: {c['primary']}",
                    "p (Holm)": c["p"], "mde": c["mde"], "reference on the same units": c["reference"],
                    "noise ceiling": c["ceiling"], "power": c["flag"] or "ok"})
    for summary in (metrics.get("headline_truth_sets", {}) or {}).values():
        if summary.get("reason"):
            out.append({"truth set": str(summary["title"]), "readout x biosample": "–", "configuration": "–",
                        "n units": "0", "primary metric [95% CI]": f"0 scorable units: {summary['reason']}",
                        "p (Holm)": "–", "mde": "–", "reference on the same units": "–", "noise ceiling": "–",
                        "power": "–"})
    return out
