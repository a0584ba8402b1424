"""The benchmark report: a headline a reviewer reads in one minute, then everything behind it.

Order: the headline per truth set (a figure of each row's primary endpoint with its interval, the references, the
noise ceiling and the null band; then the table: what was measured, in which biosample, each model's primary
endpoint with its interval and Holm-adjusted p, its power (MDE), the floor it must beat, its reference on the same
units, published numbers marked as such); how to read the numbers (every formula); what the setting can and
cannot show; warnings; every result with its exact configuration; causal against matched non-causal;
sensitivity; the funnel; plots; strata. Written as report.md (for Dagster metadata) and a standalone report.html
with the plots embedded, plus metrics.json with every number.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from endobench.lib.evaluation import plots
from endobench.lib.evaluation.diagnostics import diagnose
from endobench.lib.evaluation.endpoints import ceiling_of, noise_ceiling, primary_endpoint, spearman_mde
from endobench.lib.evaluation.headline import (
    adjust_headline_pvalues,
    cells,
    headline_entry,
    is_headline,
    sorted_entries,
    truth_set_summaries,
    units_phrase,
)
from endobench.lib.evaluation.metrics import MIN_UNITS, N_BOOTSTRAP, summarize, too_few
from endobench.lib.evaluation.references import REFERENCE_NAMES, WHAT_REFERENCES_ARE
from endobench.lib.evaluation.render import Block, count, jsonable, num, pvalue, to_html, to_markdown, with_ci
from endobench.lib.evaluation.results import (
    ALL,
    DISTANCE_TO_TSS,
    HEADLINE_KEYS,
    HELD_OUT,
    MODEL,
    TRAINING,
    evaluate_results,
    scored_rows,
    with_training_split,
)
from endobench.lib.evaluation.units import headline_rows, resampling_units
from endobench.lib.io.atomic import write_bytes, write_text
from endobench.lib.truth_sets.catalog import BIOSAMPLES, GENE_UNIT, GTEX_TISSUES, Readout, TruthSetSpec

INTERVAL_NAMES = {16_384: "16 KB", 131_072: "128 KB", 524_288: "512 KB", 1_048_576: "1 MB"}
PREDICTOR_NAMES = {"local_gkm_dnase": "local k-mer", "external": "external predictions", **REFERENCE_NAMES}
# The nearest public figure for GTEx eQTLs against a sequence model (DOMAIN.md): cited, not generalised.
NEAREST_PUBLIC_EQTL = ("A reproduction of Borzoi on GTEx Whole Blood single-variant credible sets (PIP > 0.95), "
                       "RNA readout, reached Spearman about 0.17 (johahi/borzoi-pytorch issue 26); no published "
                       "number exists for significant pairs or lead eQTLs against a DNase readout.")


@dataclass(frozen=True)
class ReportResult:
    markdown: str
    html_path: Path
    metrics_path: Path
    metrics: dict
    warnings: list[str]
    headline: dict[str, dict]
    markdown_path: Path | None = None
    plot_paths: list[Path] = field(default_factory=list)
    headline_figures: dict[str, bytes] = field(default_factory=dict)


def predictor_label(predictor: str, configuration: str) -> str:
    """`AlphaGenome 1 MB (ALL_FOLDS)`, `local k-mer`, `measured accessibility (reference)`: names a person reads."""
    if predictor == "alphagenome":
        parts = str(configuration).split("|")
        length = next((INTERVAL_NAMES[int(p)] for p in parts if p.isdigit() and int(p) in INTERVAL_NAMES), "")
        version = next((p for p in parts if p == "ALL_FOLDS" or re.fullmatch(r"FOLD_\d+", p)), "")
        return " ".join(x for x in ("AlphaGenome", length, f"({version})" if version else "") if x)
    if predictor == "external":
        return f"external: {str(configuration).split('|')[-1]}"
    return PREDICTOR_NAMES.get(predictor, predictor or str(configuration))


def split_label(split: str, scheme: str) -> str:
    """What part of a model's training split a result covers, in words (empty for a model without one)."""
    what = "regions" if "region" in scheme else "chromosomes"
    if split == HELD_OUT:
        return f"held-out {what}"
    if split == TRAINING:
        return f"training {what} (leaks)"
    if scheme and not scheme.startswith("none"):
        return f"all {what} (includes training: leaks)"
    return ""


def readout_label(readout: str, biosample: str) -> str:
    """`DNase x GM12878 (LCL)`: readout x biosample."""
    known = BIOSAMPLES.get(biosample)
    return Readout(readout, known).label if known else f"{Readout(readout, None).assay} x {biosample or 'as given'}"


def result_label(result: Mapping[str, object]) -> str:
    base = predictor_label(str(result["predictor"]), str(result["configuration"]))
    split = split_label(str(result["split"]), str(result.get("held_out_scheme", "")))
    return f"{base}, {split}" if split else base


def scope_statement(predictions: pd.DataFrame) -> list[str]:
    """What this setting can and cannot show, in plain sentences, for the truth sets and predictors present."""
    truth_sets = " ".join(sorted(map(str, predictions["truth_set"].dropna().unique()))).lower()
    predictors = " ".join(sorted(map(str, predictions.get("predictor", pd.Series(dtype=str)).dropna().unique())))
    lines = [
        "These numbers show whether predicted ALT-vs-REF scores rank and sign the measured effects in this setting, "
        "with cluster-bootstrap 95% intervals over the independent unit (the gene for eQTLs, the variant for "
        "accessibility QTLs); they do not show that a model is right about any single variant.",
    ]
    if "gtex" in truth_sets:
        lines.append(
            "GTEx eQTLs measure expression in a tissue; an accessibility readout predicts DNase signal in a cell "
            "type, so readout and often cell type differ from what was measured. Lead or significant eQTL variants "
            "are often LD tags of an unknown causal variant: a model scoring a tag's own sequence cannot be expected "
            "to match them. The measured accessibility of the same variants (a reference, not an upper bound) "
            "shows how far accessibility measured in LCLs tracks them. " + NEAREST_PUBLIC_EQTL
        )
    if "dsqtl" in truth_sets or "degner" in truth_sets:
        lines.append(
            "The Degner 2012 dsQTLs measure DNase sensitivity in lymphoblastoid cells (LCLs): they are scored on an "
            "LCL (GM12878) DNase track, the setting of AlphaGenome's published dsQTL result."
        )
    if "alphagenome" in predictors.lower():
        lines.append(
            "AlphaGenome's held-out data are genomic intervals, not chromosomes: a FOLD_k model held out one "
            "validation and one test fold of 196,608-bp regions (from the SDK's fold definitions), and only variants "
            "in those regions are free of training leakage; the default ALL_FOLDS model trained on every region, so "
            "no variant is held out of it."
        )
    if "local" in predictors:
        lines.append(
            "The local predictor is a small gapped k-mer model trained on the bundled LCL dsQTL contexts of the odd "
            "chromosomes; it tests the pipeline, not the state of the art. Only its held-out (even) chromosomes give "
            "numbers free of training leakage."
        )
    return lines


def _n_with_units(result: Mapping[str, object]) -> str:
    """`41 genes on 36 variants`: rows, and the independent units they are resampled as."""
    return units_phrase(result)


HEADLINE_HEADER = ["configuration", "readout x biosample", "n (units of resampling)", "primary [95% CI]",
                   "p, two-sided (Holm)", "MDE (Spearman)", "Spearman [95% CI]", "sign auROC [95% CI]",
                   "reference on the same units: reference / model (primary / Spearman)",
                   "noise ceiling (primary / Spearman)", "null, 95% range of the primary", "distance to TSS: Spearman",
                   "power"]


def _headline_blocks(results: Sequence[dict], entries: Mapping[str, dict], specs: Mapping[str, TruthSetSpec],
                     summaries: Mapping[str, dict], figures: Mapping[str, bytes], min_n: int) -> list[Block]:
    blocks: list[Block] = [("h", 2, "Headline"), ("p", HEADLINE_INTRO.format(min_n=min_n))]
    by_key = {_entry_key(r): r for r in results if r["headline"]}
    for truth_set, summary in sorted(summaries.items(), key=lambda kv: kv[1]["title"]):
        spec = specs.get(truth_set)
        blocks.append(("h", 3, summary["title"]))
        if truth_set in figures:
            blocks.append(("img", f"headline: {summary['title']}", figures[truth_set]))
        if summary.get("reason"):
            blocks.append(("p", f"0 scorable units: {summary['reason']}."))
            continue
        rows = [e for e in sorted_entries(entries) if e["truth_set"] == truth_set]
        measured = spec.measured.label if spec is not None else "as given"
        scope = by_key[_entry_key(rows[0])]["scope"] if rows else ""
        blocks.append(("p", f"Measured: {measured}. Unit: {scope}. Primary endpoint: {summary['primary_metric']}, on "
                            "units oriented by their measured effect."))
        table = []
        for e in rows:
            c = cells(e)
            r = by_key[_entry_key(e)]
            tss = r.get("baselines", {}).get(DISTANCE_TO_TSS, {})
            null = e["primary"].get("null") or [None, None]
            if e.get("note"):
                table.append([e["label"], e["readout_label"], e["units"], e["note"], "–", c["mde"], "–", "–",
                              c["reference"], c["ceiling"], "–", "–", c["flag"]])
                continue
            table.append([
                e["label"], e["readout_label"], e["units"], f"{e['primary']['metric']}: {c['primary']}", c["p"],
                c["mde"], c["spearman"], with_ci(r, "sign_auroc"), c["reference"], c["ceiling"],
                f"{num(null[0])} to {num(null[1])}",
                num(tss.get("spearman")) if tss and tss.get("n_units", 0) >= min_n else "–", c["flag"] or "ok",
            ])
        if spec is not None:
            for published in spec.published:
                table.append([f"published: {published.what}", spec.measured.label, "–",
                              f"{published.metric} {published.value:.2f} (published, not computed here)"]
                             + [""] * (len(HEADLINE_HEADER) - 4))
        blocks.append(("table", HEADLINE_HEADER, table))
        blocks += [("p", sentence) for sentence in _reference_sentences([by_key[_entry_key(e)] for e in rows], min_n)]
    return blocks


HEADLINE_INTRO = (
    "Each row: a model's leak-free result or a measured reference, with its primary endpoint on units oriented by "
    "their measured effect (it does not depend on which allele is called ALT) and its 95% interval; the two-sided "
    "p of that endpoint, Holm-adjusted over the headline rows; the minimum detectable effect (MDE: the Spearman "
    "detectable with 80% power at two-sided 0.05 from the row's units); the readout's reference and the noise "
    "ceiling on the same units. A row whose MDE is above its reference on the same units (or above the noise "
    "ceiling where it has none) is underpowered (greyed in the figure). Rows with fewer than {min_n} units of "
    "resampling show no numbers. " + WHAT_REFERENCES_ARE
)


def _entry_key(entry: Mapping[str, object]) -> tuple:
    return tuple(str(entry[k]) for k in ("truth_set", "readout", "configuration", "split"))


def _reference_sentences(rows: Sequence[Mapping[str, object]], min_n: int) -> list[str]:
    out = []
    for r in rows:
        for reference in (r.get("references") or {}).values():
            if r["kind"] != MODEL or reference.get("n_units", 0) < min_n or "spearman" not in reference:
                continue
            model = reference["model_on_same_units"]
            out.append(
                f"{r['label']} ({r['readout_label']}) reaches {model['primary']['metric']} "
                f"{num(model['primary']['value'])} and Spearman {num(model['spearman'])} on the "
                f"{reference['n_units']:,} units of resampling where the {reference['label']} exists; the "
                f"{reference['label']} itself reaches {num(reference['primary']['value'])} and "
                f"{num(reference['spearman'])} on the same units.")
    return out


RESULTS_HEADER = ["truth set", "readout x biosample", "configuration", "unit", "n (units)", "Spearman [95% CI]",
                  "p (units)", "Pearson [95% CI]", "sign agreement [95% CI]", "sign auROC [95% CI]",
                  "sign auROC, strong half", "all rows: n (units), Spearman [95% CI]"]


def _results_rows(results: Sequence[Mapping[str, object]], empty: Sequence[str], min_n: int) -> list[list[str]]:
    rows = []
    for r in results:
        lead = [r["truth_set"], r["readout_label"], r["label"], r["scope"], _n_with_units(r)]
        if r["n_units"] < min_n:
            rows.append(lead + [too_few(r["n_units"], min_n)] + [""] * 6)
            continue
        strong = f"{num(r['sign_auroc_strong'])} (n={r['n_strong']:,}, |effect|>={num(r['strong_threshold'])})"
        secondary = r.get("all_rows")
        rows.append(lead + [
            with_ci(r, "spearman"), pvalue(r["spearman_p"]), with_ci(r, "pearson"), with_ci(r, "sign_agreement"),
            with_ci(r, "sign_auroc"), strong,
            (f"{secondary['n']:,} ({secondary['n_units']:,}): " + (with_ci(secondary, "spearman")
             if secondary["n_units"] >= min_n else too_few(secondary["n_units"], min_n))) if secondary else "–",
        ])
    rows += [[t, "–", "–", "–", "0", "no scored units"] + [""] * 6 for t in empty]
    return rows


def _classification_rows(results: Sequence[Mapping[str, object]]) -> list[list[str]]:
    """|score| of matched positives against negatives; fewer matched pairs than the minimum show a note."""
    rows = []
    for r in results:
        matching, c = r.get("matching", {}), r.get("classification", {})
        tss = r.get("baselines", {}).get(DISTANCE_TO_TSS, {}).get("classification", {})
        if not c or not math.isfinite(float(c.get("auroc", math.nan))):
            rows.append([r["truth_set"], r["label"], matching.get("method", "–"),
                         f"{matching.get('n_positives', 0):,} / {matching.get('n_negative_pool', 0):,}"
                         + (f" -> {c['n_positive']:,} matched pairs" if c.get("n_positive") else ""),
                         c.get("note", "–"), "–", "–"])
            continue
        rows.append([r["truth_set"], r["label"], matching.get("method", "–"),
                     f"{matching.get('n_positives', 0):,} / {matching.get('n_negative_pool', 0):,} -> "
                     f"{c['n_positive']:,} matched pairs", with_ci(c, "auroc"),
                     f"{num(c['auprc'])} (chance {num(c['auprc_chance'])})", with_ci(tss, "auroc") if tss else "–"])
    return rows


def _sensitivity_rows(predictions: pd.DataFrame, results: Sequence[Mapping[str, object]], n_boot: int,
                      min_n: int) -> list[list[str]]:
    """Raw against quantile scores where a predictor gives both, and the same predictor at other interval lengths."""
    rows = []
    scored = scored_rows(predictions)
    for r in results:
        if r["kind"] != MODEL or r["split"] != ALL or "quantile_score" not in scored:
            continue
        group = scored[(scored["truth_set"] == r["truth_set"]) & (scored["readout"] == r["readout"])
                       & (scored["configuration"] == r["configuration"])]
        group = headline_rows(group[pd.to_numeric(group["quantile_score"], errors="coerce").notna()], str(r["unit"]),
                              str(r["lead_by"]))
        units = resampling_units(group, str(r["unit"]))
        if len(set(units)) < min_n or r["n_units"] < min_n:
            continue
        quantile = summarize(group["effect"], group["quantile_score"], units=units, n_boot=n_boot, with_null=False)
        rows.append([r["truth_set"], r["readout_label"], r["label"], "raw score", with_ci(r, "spearman"),
                     with_ci(r, "sign_agreement")])
        rows.append([r["truth_set"], r["readout_label"], r["label"], "quantile score", with_ci(quantile, "spearman"),
                     with_ci(quantile, "sign_agreement")])
    lengths: dict[tuple, list] = {}
    for r in results:
        if r["predictor"] == "alphagenome" and r["split"] == ALL:
            version = re.sub(r"\d+ [KM]B ?", "", predictor_label("alphagenome", str(r["configuration"])))
            lengths.setdefault((r["truth_set"], r["readout"], version), []).append(r)
    for group in lengths.values():
        if len(group) > 1:
            rows += [[r["truth_set"], r["readout_label"], r["label"], "interval length", with_ci(r, "spearman"),
                      with_ci(r, "sign_agreement")] for r in group if r["n_units"] >= min_n]
    return rows


def build_report(
    predictions: pd.DataFrame,
    funnels: Mapping[str, Mapping[str, object]],
    exclusions: Mapping[str, Mapping[str, int]],
    diagnostic_inputs: Mapping[str, Mapping[str, object]],
    out_dir: Path,
    *,
    specs: Mapping[str, TruthSetSpec] | None = None,
    tissue_replication: pd.DataFrame | None = None,
    unit: str | None = None,
    title: str = "endobench benchmark report",
    scope: Sequence[str] | None = None,
    extra_metrics: Mapping[str, object] | None = None,
    n_boot: int = N_BOOTSTRAP,
    min_n: int = MIN_UNITS,
    top_level_keys: Sequence[str] = (),
) -> ReportResult:
    """Compute every result (see `results.evaluate_results`), diagnose the inputs, and write the report.

    Writes `report.md`, `report.html`, `metrics.json` and `plots/*.png` under `out_dir`. Only rows with status
    "scored" and a finite effect and score enter the metrics; every other row is in the exclusions. Rows of a
    reference predictor (`references.REFERENCE_NAMES`: measured accessibility, tissue replication) are evaluated
    as results of their own and on each model's units. A result below `min_n` units of resampling shows "too few
    (n=...)" and gets no scatter or strata plot (its numbers stay in metrics.json's `results`, not its
    `headline`). `tissue_replication` (from `references.tissue_replication_genome_wide`) adds the genome-wide
    tissue replication. `scope` replaces the default statement of what the setting can and cannot show;
    `extra_metrics` is merged into the top level of metrics.json; `top_level_keys` copies those metrics of the
    only result to the top level too (the `evaluate` command's contract).
    """
    out_dir = Path(out_dir)
    specs = dict(specs or {})
    scored = scored_rows(predictions)
    exclusions = {t: dict(v) for t, v in exclusions.items()}
    marked = predictions[predictions["status"] == "scored"]
    for truth_set, n in marked.loc[~marked.index.isin(scored.index), "truth_set"].value_counts().items():
        exclusions.setdefault(str(truth_set), {})["metrics_effect_or_score_not_finite"] = int(n)

    references = scored[scored["predictor"].isin(list(REFERENCE_NAMES))] if "predictor" in scored else None
    results = evaluate_results(predictions, specs, references=references, unit=unit, min_n=min_n, n_boot=n_boot)
    for r in results:
        r["label"] = result_label(r)
        r["readout_label"] = readout_label(str(r["readout"]), str(r.get("biosample", "")))
    for r in results:
        r["headline"] = is_headline(r, results)
    n_tests = adjust_headline_pvalues(results, min_n)
    truth_sets = sorted(set(map(str, predictions["truth_set"].dropna().unique())) | set(funnels) | set(exclusions))
    empty = [t for t in truth_sets if t not in {r["truth_set"] for r in results}]
    warnings = diagnose(scored, diagnostic_inputs)
    headline = {f"{r['truth_set']}|{r['readout']}|{r['label']}": headline_entry(r, specs.get(r["truth_set"]), min_n)
                for r in results if r["headline"]}
    summaries = truth_set_summaries(results, truth_sets, specs, funnels, exclusions)
    replication = _tissue_replication(tissue_replication, specs, n_boot, min_n)

    headline_figures = {
        t: plots.headline(summary["title"], [e for e in sorted_entries(headline) if e["truth_set"] == t],
                          summary["primary_metric"])
        for t, summary in summaries.items() if not summary.get("reason")}
    figures = _figures(scored, results, funnels, min_n)
    blocks: list[Block] = [("h", 1, title)]
    blocks.append(("section", "headline", _headline_blocks(results, headline, specs, summaries, headline_figures,
                                                           min_n)))
    blocks += [("h", 2, "How to read these numbers"), ("ul", _method_statements(results, n_tests, min_n))]
    if replication:
        blocks += [("h", 3, "Tissue replication, genome-wide"),
                   ("p", "Every gene whose significant lead variant is the same in both tissues (no annotation): the "
                         "other tissue's slope used as a prediction of this tissue's."),
                   ("table", ["tissue measured", "predicted by", "n (units of resampling)", "primary [95% CI]",
                              "Spearman [95% CI]", "MDE (Spearman)", "noise ceiling (primary / Spearman)"],
                    [_replication_row(v, min_n) for v in replication])]
    blocks += [("h", 2, "What this setting can and cannot show"), ("ul", list(scope or scope_statement(predictions)))]
    blocks += [("h", 2, "Warnings"), ("ul", warnings)]
    blocks += [("h", 2, "Every result"), ("table", RESULTS_HEADER, _results_rows(results, empty, min_n))]
    n_boot_used = sorted({int(r.get("n_bootstrap", 0)) for r in results if r.get("n_bootstrap")})
    blocks.append(("p", f"Intervals: percentile cluster bootstrap over {', '.join(map(str, n_boot_used)) or 'no'} "
                        "resamples of units (fixed seed); p-values over unit-level summaries (rows oriented within "
                        "each unit). Sign agreement: share of units whose predicted score has the sign of the "
                        "measured effect; sign auROC: the score separating ALT-increasing from ALT-decreasing units; "
                        "strong half: |effect| at or above the median. Only significant rows enter these metrics."))
    blocks += [("h", 2, "Causal against matched non-causal (|score|)"),
               ("table", ["truth set", "configuration", "negatives matched by", "positives / negative pool",
                          "auROC [95% CI]", "auPRC", "distance to TSS: auROC [95% CI]"], _classification_rows(results)),
               ("p", f"Fewer than {min_n} matched pairs show no auROC.")]
    sensitivity = _sensitivity_rows(predictions, results, n_boot, min_n)
    blocks += [("h", 2, "Sensitivity"),
               ("table", ["truth set", "readout x biosample", "configuration", "variant", "Spearman [95% CI]",
                          "sign agreement [95% CI]"], sensitivity) if sensitivity else
               ("p", "No predictor here gives quantile scores or was run at several interval lengths.")]
    blocks.append(("details", "Exact configurations", [("table", ["configuration", "id", "tracks", "held out"], [
        [r["label"], str(r["configuration"]), ", ".join(r["tracks"]) or "–", r["held_out_scheme"] or "unknown"]
        for r in results if r["split"] == ALL])]))
    blocks.append(("h", 2, "Funnel and exclusions"))
    for truth_set in truth_sets:
        blocks.append(("h", 3, specs[truth_set].title if truth_set in specs else truth_set))
        blocks.append(("table", ["step", "count"], [[k, count(v)] for k, v in funnels.get(truth_set, {}).items()]))
        reasons = exclusions.get(truth_set, {})
        blocks.append(("table", ["excluded because", "count"],
                       [[k, count(v)] for k, v in sorted(reasons.items(), key=lambda kv: -float(kv[1] or 0))]))
    blocks.append(("h", 2, "Plots"))
    blocks += [("img", name, png) for name, png in figures]
    blocks.append(("h", 2, "Strata"))
    for r in results:
        if r["headline"]:
            blocks.append(("details", f"{r['truth_set']} | {r['readout_label']} | {r['label']}", [
                ("p", f"Strata below {min_n} units of resampling are reported as too few, not as numbers."),
                ("table", ["stratification", "stratum", "n (units)", "Spearman [95% CI]", "sign agreement [95% CI]",
                           "sign auROC [95% CI]"], _strata_rows(r["strata"]))]))

    for stale in (out_dir / "plots").glob("*.png"):
        stale.unlink()  # plots of an earlier report whose names this one no longer writes
    plot_paths = []
    named = [(f"headline {summaries[t]['title']}", png) for t, png in headline_figures.items()] + figures
    for i, (name, png) in enumerate(named):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:80]
        plot_paths.append(write_bytes(png, out_dir / "plots" / f"{i:02d}_{slug}.png"))
    markdown = to_markdown(blocks)
    markdown_path = write_text(markdown, out_dir / "report.md")
    html_path = write_text(to_html(blocks, title), out_dir / "report.html")
    only = results[0] if len(results) == 1 else {}
    top = {k: only.get(k) for k in top_level_keys}
    for key in ("n", "n_units"):
        if key in top:
            top[key] = int(only.get(key) or 0)
    metrics = jsonable({
        **top,
        **(extra_metrics or {}),
        "title": title,
        "warnings": warnings,
        "min_units": min_n,
        "headline": headline,
        "headline_truth_sets": summaries,
        "tissue_replication_genome_wide": replication,
        "truth_sets": {t: {"title": specs[t].title if t in specs else t, "funnel": funnels.get(t, {}),
                           "exclusions": exclusions.get(t, {}),
                           "diagnostic_inputs": diagnostic_inputs.get(t, {})} for t in truth_sets},
        "results": results,
    })
    metrics_path = write_text(json.dumps(metrics, indent=1, allow_nan=False), out_dir / "metrics.json")
    return ReportResult(
        markdown=markdown, html_path=html_path, metrics_path=metrics_path, metrics=metrics, warnings=warnings,
        headline=metrics["headline"], markdown_path=markdown_path, plot_paths=plot_paths,
        headline_figures={summaries[t]["title"]: png for t, png in headline_figures.items()},
    )


def _method_statements(results: Sequence[Mapping[str, object]], n_tests: int, min_n: int) -> list[str]:
    """Every formula behind the headline, in words a reviewer can recompute from."""
    return [
        "Primary endpoint: every row is oriented by its measured effect, (|effect|, score x sign(effect)), so that "
        "recoding a variant on the other allele changes nothing; each unit's oriented rows are averaged. Direction "
        "(sign agreement): the share of units whose oriented score is positive; units with an oriented score of "
        "exactly 0 call no direction and are left out; exact binomial (Clopper-Pearson) 95% interval and exact "
        "two-sided binomial test against 0.5. Magnitude: Spearman of the units' |effect| with their oriented score, "
        "cluster-bootstrap interval, two-sided permutation test.",
        f"Holm's step-down adjustment of the {n_tests} headline p-values with at least {min_n} units "
        "(family-wise error rate 0.05): the k-th smallest p is multiplied by (m - k + 1), then made non-decreasing.",
        "Minimum detectable effect (MDE): the Spearman correlation detectable with 80% power at two-sided 0.05 from "
        "n units of resampling, tanh((z_0.975 + z_0.8) x sqrt(1.06 / (n - 3))), Fisher's z with the variance of "
        "Spearman's z, 1.06 / (n - 3) (Fieller, Hartley and Pearson 1957). A row is underpowered when its MDE is "
        "above its reference's Spearman on the same units (measured accessibility for accessibility readouts, "
        "tissue replication for expression readouts), or above the noise ceiling where it has no reference with "
        f"at least {min_n} units.",
        "Noise ceiling: measured effects are b = beta + e with noise e independent of beta and of any predictor and "
        "Var(e_i) = se_i^2 (the table's standard errors). The reliability is R = (Var(b) - mean(se^2)) / Var(b) "
        "(0 when negative), and no predictor's Pearson correlation with b can exceed sqrt(R) (attenuation: "
        "corr(s, b) = corr(s, beta) sqrt(R)). Spearman's bound is 6/pi asin(sqrt(R) / 2), exact when beta and b are "
        "jointly normal; sign agreement's is the mean over units of Phi(|b_i| / se_i), with |b_i| for |beta_i| "
        "(optimistic for effects selected as significant); the magnitude endpoint's is Spearman's bound with the "
        "reliability of |b|, (Var(|b|) - mean(se^2)) / Var(|b|), which holds when effects lie well away from 0.",
        "Units of resampling: the variant for accessibility truth sets; for eQTL truth sets the gene, and genes that "
        "share a variant are one unit (the connected components of the gene-variant graph), because a prediction "
        "or a measured accessibility of that variant is one number given to each of its genes.",
        f"One minimum for printing any correlation, agreement or auROC: {min_n} units of resampling (below it the "
        "MDE is above 0.79 and the exact sign test needs 9 of 10 agreements); fewer show 'too few'.",
        WHAT_REFERENCES_ARE,
    ]


def _tissue_replication(pairs: pd.DataFrame | None, specs: Mapping[str, TruthSetSpec], n_boot: int,
                        min_n: int) -> list[dict]:
    """The genome-wide tissue replication of each ordered pair of tissues, as results are computed."""
    if pairs is None or pairs.empty:
        return []
    out = []
    for (source, other), rows in pairs.groupby(["truth_set", "other"], sort=True):
        units = resampling_units(rows, GENE_UNIT)
        summary = summarize(rows["effect"], rows["score"], units=units, n_boot=n_boot, with_null=False)
        primary = primary_endpoint(rows["effect"], rows["score"], units=units, n_boot=n_boot)
        ceiling = noise_ceiling(rows["effect"], pd.to_numeric(rows["effect_se"], errors="coerce"))
        out.append({
            "tissue": GTEX_TISSUES[source][1] if source in GTEX_TISSUES else source,
            "predicted_by": GTEX_TISSUES[other][1] if other in GTEX_TISSUES else other,
            "unit": GENE_UNIT, "n": summary["n"], "n_units": summary["n_units"],
            "n_variants": int(rows["variant_id"].nunique()),
            **{k: summary[k] for k in HEADLINE_KEYS if k in summary}, "primary": primary,
            "mde": spearman_mde(int(summary["n_units"])), "noise_ceiling": ceiling,
        })
    return out


def _replication_row(v: Mapping[str, object], min_n: int) -> list[str]:
    phrase = units_phrase(v)
    ceiling = v["noise_ceiling"]
    if v["n_units"] < min_n:
        return [v["tissue"], v["predicted_by"], phrase, too_few(v["n_units"], min_n), "", "", ""]
    primary = v["primary"]
    return [v["tissue"], v["predicted_by"], phrase,
            f"{primary['metric']}: {num(primary['value'])} [{num(primary['ci'][0])}, {num(primary['ci'][1])}]",
            with_ci(v, "spearman"), num(v["mde"], 2),
            f"{num(ceiling_of(primary['endpoint'], ceiling))} / {num(ceiling['spearman'])}"]


def _strata_rows(strata: Sequence[Mapping[str, object]]) -> list[list[str]]:
    rows = []
    for s in strata:
        if s.get("note"):
            rows.append([s["stratification"], s["stratum"], f"{s['n']:,} ({s.get('n_units', s['n']):,})", s["note"],
                         "", ""])
        else:
            rows.append([s["stratification"], s["stratum"], f"{s['n']:,} ({s['n_units']:,})", with_ci(s, "spearman"),
                         with_ci(s, "sign_agreement"), with_ci(s, "sign_auroc")])
    return rows


def _figures(scored: pd.DataFrame, results: Sequence[Mapping[str, object]], funnels: Mapping,
             min_n: int) -> list[tuple[str, bytes]]:
    figures: list[tuple[str, bytes]] = []
    if funnels:
        figures.append(("funnel", plots.funnel(funnels)))
    shown = [r for r in results if r["headline"]]
    if not shown:
        return figures
    figures.append(("configurations side by side", plots.comparison(
        [{**r, "label": f"{r['truth_set']} | {r['readout_label']} | {r['label']}"} for r in shown
         if r["n_units"] >= min_n])))
    split = with_training_split(scored)
    curves = []
    for r in shown:
        group = split[(split["truth_set"] == r["truth_set"]) & (split["readout"] == r["readout"])
                      & (split["configuration"] == r["configuration"]) & (split["split"] == r["split"])]
        group = headline_rows(group, str(r["unit"]), str(r["lead_by"]))
        curves.append((f"{r['truth_set']} | {r['readout_label']} | {r['label']}", group["effect"], group["score"]))
    figures.append(("sign ROC curves", plots.roc_curves(
        [curve for curve, r in zip(curves, shown, strict=True) if r["n_units"] >= min_n])))
    for (label, effect, score), r in zip(curves, shown, strict=True):
        if r["n_units"] < min_n:
            continue
        figures.append((f"scatter {label}", plots.scatter(effect, score, title=label)))
        figures.append((f"strata {label}", plots.forest(r["strata"], title=label)))
    return figures
