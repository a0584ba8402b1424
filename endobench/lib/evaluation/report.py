"""The benchmark report: a headline a reviewer reads in one minute, then everything behind it.

Order: the headline per truth set (a figure of each row's primary endpoint with its interval, the references, the
noise ceiling and the null band; then the table: what was measured, in which biosample, each model's primary
endpoint with its interval and Holm-adjusted p, its power (MDE), the floor it must beat, its reference on the same
units, published numbers marked as such); how to read the numbers (every formula); what the setting can and
cannot show; warnings; every result with its exact configuration; causal against matched non-causal;
sensitivity; the funnel; plots; strata. Written as report.md (its plots linked as plots/*.png), a standalone
report.html with the plots embedded, and metrics.json with every number.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from endobench.lib.evaluation import plots
from endobench.lib.evaluation.diagnostics import diagnose
from endobench.lib.evaluation.headline import (
    adjust_headline_pvalues,
    headline_entry,
    is_headline,
    sorted_entries,
    truth_set_summaries,
    units_phrase,
)
from endobench.lib.evaluation.metrics import MIN_UNITS, N_BOOTSTRAP, summarize, too_few
from endobench.lib.evaluation.negatives import UNSIGNED_SCORES
from endobench.lib.evaluation.references import REFERENCE_NAMES
from endobench.lib.evaluation.render import Block, count, jsonable, num, pvalue, to_html, to_markdown, with_ci
from endobench.lib.evaluation.report_headline import (
    beside_published,
    headline_blocks,
    method_statements,
    replication_blocks,
)
from endobench.lib.evaluation.results import (
    ALL,
    DISTANCE_TO_TSS,
    HELD_OUT,
    MODEL,
    TRAINING,
    evaluate_results,
    evaluate_tissue_replication,
    scored_rows,
    with_training_split,
)
from endobench.lib.evaluation.units import headline_rows, resampling_units
from endobench.lib.io.atomic import replaced_folder, write_bytes, write_text
from endobench.lib.truth_sets.catalog import BIOSAMPLES, Biosample, Readout, TruthSetSpec

INTERVAL_NAMES = {16_384: "16 KB", 131_072: "128 KB", 524_288: "512 KB", 1_048_576: "1 MB"}
PREDICTOR_NAMES = {"local_gkm_dnase": "local k-mer", "external": "external predictions",
                   "motif_jaspar": "JASPAR motif baseline (floor)", **REFERENCE_NAMES}


@dataclass(frozen=True)
class ReportResult:
    """`markdown` is report.md, its plots linked as files under plots/; `inline_markdown` the same with the plots
    inline, for a viewer that cannot reach the files (the Dagster UI's metadata)."""

    markdown: str
    inline_markdown: str
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


def sources_label(result: Mapping[str, object]) -> str:
    """Where a result's scores came from: `AlphaGenome Atlas 120 rows (precomputed with this configuration: ALL_FOLDS,
    1 MB, the recommended scorers; held out: none), live 30 rows`; "–" for a predictor that does not say."""
    sources = dict(result.get("sources") or {})
    parts = []
    if sources.get("atlas"):
        parts.append(f"AlphaGenome Atlas {sources['atlas']:,} rows (precomputed with this configuration: "
                     f"{predictor_label('alphagenome', str(result.get('configuration', ''))).removeprefix('AlphaGenome ')}"
                     f", the recommended scorers; held out: {_held_out_words(str(result.get('held_out_scheme', '')))})")
    if sources.get("live"):
        parts.append(f"live {sources['live']:,} rows")
    return ", ".join(parts) or "–"


def _held_out_words(scheme: str) -> str:
    return "none (ALL_FOLDS trained on every region)" if scheme.startswith("none: ALL_FOLDS") else (scheme or "unknown")


def split_label(split: str, scheme: str) -> str:
    """What part of a model's training split a result covers, in words (empty for a model without one)."""
    what = "regions" if "region" in scheme else "chromosomes"
    if split == HELD_OUT and "cross-fitted" in scheme:
        return f"cross-fitted, every {what[:-1]} held out"
    if split == HELD_OUT:
        return f"held-out {what}"
    if split == TRAINING:
        return f"training {what} (leaks)"
    if scheme and not scheme.startswith("none"):
        return f"all {what} (includes training: leaks)"
    return ""


def readout_label(readout: str, biosample: str, named: Mapping[str, Biosample] = BIOSAMPLES) -> str:
    """`DNase x GM12878 (LCL)`: readout x biosample (named from `named`, the truth sets' biosamples)."""
    known = named.get(biosample)
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
            "to match them; the measured accessibility of the same variants (a reference, not an upper bound) "
            "shows how far accessibility measured in LCLs tracks them. The peer-reviewed eQTL "
            "numbers beside them (AlphaGenome paper, figure 4: fine-mapped GTEx eQTLs, SuSiE PIP > 0.9, on the "
            "matching tissue's RNA-seq track) are another setting; no published number exists for lead eQTLs at "
            "DNase sites against a DNase readout."
        )
    if "dsqtl" in truth_sets or "degner" in truth_sets:
        lines.append(
            "The Degner 2012 dsQTLs measure DNase sensitivity in lymphoblastoid cells (LCLs): they are scored on an "
            "LCL (GM12878) DNase track. The field's dsQTL protocol (deltaSVM, ChromBPNet and AlphaGenome papers) "
            "evaluates only the deltaSVM paper's strong dsQTLs by signed Pearson: that set is its own truth set "
            "here, with the published numbers beside it in their own metric, on the chromosomes they were computed "
            "on; the published auPRCs need the protocol's 27,735 control variants, which are not bundled."
        )
    if "alphagenome" in predictors.lower():
        lines.append(
            "AlphaGenome's held-out data are genomic intervals, not chromosomes: a FOLD_k model held out one "
            "validation and one test fold of 196,608-bp regions (from the SDK's fold definitions), and only variants "
            "in those regions are free of training leakage; the default ALL_FOLDS model trained on every region, so "
            "no variant is held out of it. Stricter, the stratum 'held out, beyond training context' keeps the "
            "held-out variants that no training input reached (AlphaGenome read 1 MB around each 196,608-bp "
            "training region, so 425,984 bp beyond its edges)."
        )
    if "motif" in predictors:
        lines.append(
            "The JASPAR motif baseline scores a variant by the strongest transcription-factor site it makes or breaks "
            "(signed log2 fold of the motif p-values of ALT and REF, among the TFs GTEx counts as expressed in the "
            "biosample; every profile where no expression list exists). It was fitted to no QTL: a floor that "
            "a sequence model should beat."
        )
    if "local" in predictors:
        lines.append(
            "The local predictor is a small gapped k-mer model of GM12878 (LCL) DNase, trained on the bundled dsQTL "
            "contexts and cross-fitted by chromosome parity: the model trained on the odd autosomes scores the even "
            "ones and the reverse, so every one of its rows is held out. It tests the pipeline, not the state of the "
            "art, and its scores stand for GM12878 DNase whichever biosample a truth set asks for."
        )
    return lines


RESULTS_HEADER = ["truth set", "readout x biosample", "configuration", "unit", "n (units)", "Spearman [95% CI]",
                  "p (units)", "Pearson [95% CI]", "sign agreement [95% CI]", "sign auROC [95% CI]",
                  "sign auROC, strong half", "calibration slope (effect on score)",
                  "all rows: n (units), Spearman [95% CI]"]


def _results_rows(results: Sequence[Mapping[str, object]], empty: Sequence[str], min_n: int) -> list[list[str]]:
    rows = []
    for r in results:
        lead = [r["truth_set"], r["readout_label"], r["label"], r["scope"], units_phrase(r)]
        if r["n_units"] < min_n:
            rows.append(lead + [too_few(r["n_units"], min_n)] + [""] * 7)
            continue
        strong = f"{num(r['sign_auroc_strong'])} (n={r['n_strong']:,}, |effect|>={num(r['strong_threshold'])})"
        secondary = r.get("all_rows")
        rows.append(lead + [
            with_ci(r, "spearman"), pvalue(r["spearman_p"]), with_ci(r, "pearson"), with_ci(r, "sign_agreement"),
            with_ci(r, "sign_auroc"), strong, num(r.get("calibration_slope")),
            (f"{secondary['n']:,} ({secondary['n_units']:,}): " + (with_ci(secondary, "spearman")
             if secondary["n_units"] >= min_n else too_few(secondary["n_units"], min_n))) if secondary else "–",
        ])
    rows += [[t, "–", "–", "–", "0", "no scored units"] + [""] * 7 for t in empty]
    return rows


def _classification_rows(results: Sequence[Mapping[str, object]]) -> list[list[str]]:
    """|score| of matched positives against negatives; fewer matched pairs than the minimum show a note. An unsigned
    score a result's rows carry (the Atlas's AVI) is a row of its own under the result's, on the same pairs."""
    rows = []
    for r in results:
        matching, c = r.get("matching", {}), r.get("classification", {})
        tss = r.get("baselines", {}).get(DISTANCE_TO_TSS, {}).get("classification", {})
        pool = f"{matching.get('n_positives', 0):,} / {matching.get('n_negative_pool', 0):,}"
        if not c or not math.isfinite(float(c.get("auroc", math.nan))):
            rows.append([r["truth_set"], r["label"], matching.get("method", "–"),
                         pool + (f" -> {c['n_positive']:,} matched pairs" if c.get("n_positive") else ""),
                         _balance_text(matching), c.get("note", "–"), "–", "–"])
        else:
            rows.append([r["truth_set"], r["label"], matching.get("method", "–"),
                         f"{pool} -> {c['n_positive']:,} matched pairs", _balance_text(matching), with_ci(c, "auroc"),
                         f"{num(c['auprc'])} (chance {num(c['auprc_chance'])})", with_ci(tss, "auroc") if tss else "–"])
        for column, u in (r.get("unsigned") or {}).items():
            known = math.isfinite(float(u.get("auroc", math.nan)))
            rows.append([r["truth_set"], f"{r['label']}: {UNSIGNED_SCORES.get(column, column)}",
                         matching.get("method", "–"),
                         f"{u.get('n_positive', 0):,} positives, {u.get('n_negative', 0):,} negatives with the score",
                         _balance_text(matching), with_ci(u, "auroc") if known else u.get("note", "–"),
                         f"{num(u['auprc'])} (chance {num(u['auprc_chance'])})" if known else "–", "–"])
    return rows


COVARIATE_NAMES = {"log10_tss_distance": "log10 TSS distance", "maf": "MAF"}


def _balance_text(matching: Mapping[str, object]) -> str:
    """`log10 TSS distance 0.41 -> 0.02; MAF 0.30 -> 0.01`: each covariate's standardised mean difference between
    positives and negatives before matching (against their genes' whole pool) and after."""
    before, after = matching.get("balance_before") or {}, matching.get("balance_after") or {}
    return "; ".join(f"{COVARIATE_NAMES.get(k, k)} {num(before[k], 2)} -> {num(after.get(k), 2)}"
                     for k in before) or "–"


def every_row_results(results: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    """One result per truth set, readout and configuration, the one over all its rows: `all`, or `held_out` for a
    cross-fitted model (whose every row is held out)."""
    chosen: dict[tuple, Mapping[str, object]] = {}
    for r in results:
        key = (r["truth_set"], r["readout"], r["configuration"])
        if r["split"] == ALL or (r["split"] == HELD_OUT and key not in chosen):
            chosen[key] = r
    return list(chosen.values())


def _configuration_rows(results: Sequence[Mapping[str, object]]) -> list[list[str]]:
    """One row per configuration, with every track it was read from over all truth sets and readouts, and how many
    rows of its results came from the AlphaGenome Atlas and how many from the live model."""
    tracks: dict[str, dict[str, None]] = {}
    first: dict[str, Mapping[str, object]] = {}
    sources: dict[str, Counter] = {}
    for r in every_row_results(results):
        first.setdefault(str(r["configuration"]), r)
        tracks.setdefault(str(r["configuration"]), {}).update(dict.fromkeys(r["tracks"]))
        sources.setdefault(str(r["configuration"]), Counter()).update(r.get("sources") or {})
    rows = [[predictor_label(str(r["predictor"]), configuration), configuration, ", ".join(sorted(tracks[configuration]))
             or "–", str(r["held_out_scheme"] or "unknown"), sources_label({**r, "sources": sources[configuration]})]
            for configuration, r in first.items()]
    return sorted(rows)


def _sensitivity_rows(predictions: pd.DataFrame, results: Sequence[Mapping[str, object]], n_boot: int,
                      min_n: int) -> list[list[str]]:
    """Raw against quantile scores where a predictor gives both, and the same predictor at other interval lengths."""
    rows = []
    scored = scored_rows(predictions)
    for r in every_row_results(results):
        if r["kind"] != MODEL or "quantile_score" not in scored:
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


# What `build_report` writes in its folder, and all it may hold: the folder is replaced as a whole.
REPORT_FILES = ("metrics.json", "report.md", "report.html", "plots")


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
    extra_sections: Sequence[Block] = (),
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
    only result to the top level too (the `evaluate` command's contract). `extra_sections` are blocks shown after
    every result (the motif section).
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
    named = {**BIOSAMPLES, **{rd.biosample.curie: rd.biosample for spec in specs.values() for rd in spec.readouts
                              if rd.biosample is not None}}
    for r in results:
        r["label"] = result_label(r)
        r["readout_label"] = readout_label(str(r["readout"]), str(r.get("biosample", "")), named)
    for r in results:
        r["headline"] = is_headline(r, results)
    n_tests = adjust_headline_pvalues(results, min_n)
    truth_sets = sorted(set(map(str, predictions["truth_set"].dropna().unique())) | set(funnels) | set(exclusions))
    empty = [t for t in truth_sets if t not in {r["truth_set"] for r in results}]
    warnings = diagnose(scored, diagnostic_inputs)
    headline = {f"{r['truth_set']}|{r['readout']}|{r['label']}": {
        **headline_entry(r, specs.get(r["truth_set"]), min_n), **beside_published(r, specs.get(str(r["truth_set"])))}
        for r in results if r["headline"]}
    summaries = truth_set_summaries(results, truth_sets, specs, funnels, exclusions)
    replication = evaluate_tissue_replication(tissue_replication, n_boot=n_boot)

    headline_figures = {
        t: plots.headline(summary["title"], [e for e in sorted_entries(headline) if e["truth_set"] == t],
                          summary["primary_metric"])
        for t, summary in summaries.items() if not summary.get("reason")}
    figures = _figures(scored, results, funnels, min_n)
    blocks: list[Block] = [("h", 1, title)]
    blocks.append(("section", "headline", headline_blocks(results, headline, specs, summaries, headline_figures,
                                                          min_n)))
    blocks += [("h", 2, "How to read these numbers"), ("ul", method_statements(n_tests, min_n))]
    blocks += replication_blocks(replication, min_n)
    blocks += [("h", 2, "What this setting can and cannot show"), ("ul", list(scope or scope_statement(predictions)))]
    blocks += [("h", 2, "Warnings"), ("ul", warnings)]
    blocks += [("h", 2, "Every result"), ("table", RESULTS_HEADER, _results_rows(results, empty, min_n))]
    n_boot_used = sorted({int(r.get("n_bootstrap", 0)) for r in results if r.get("n_bootstrap")})
    blocks.append(("p", f"Intervals: percentile cluster bootstrap over {', '.join(map(str, n_boot_used)) or 'no'} "
                        "resamples of units (fixed seed); p-values over unit-level summaries (rows oriented within "
                        "each unit). Sign agreement: share of units whose predicted score has the sign of the "
                        "measured effect; sign auROC: the score separating ALT-increasing from ALT-decreasing units; "
                        "strong half: |effect| at or above the median; calibration slope: the least-squares slope of "
                        "the effect on the score, 1 when the score is on the effect's own scale (meaningful only then, "
                        "e.g. GTEx log2_aFC against a log-fold-change scorer). Only significant rows enter these "
                        "metrics."))
    blocks += list(extra_sections)
    blocks += [("h", 2, "Causal against matched non-causal (|score|)"),
               ("table", ["truth set", "configuration", "negatives matched by", "positives / negative pool",
                          "covariate balance: standardised mean difference, before -> after matching",
                          "auROC [95% CI]", "auPRC", "distance to TSS: auROC [95% CI]"], _classification_rows(results)),
               ("p", f"Fewer than {min_n} matched pairs show no auROC. A standardised mean difference below 0.1 in "
                     "absolute value is the usual mark of balanced covariates.")]
    sensitivity = _sensitivity_rows(predictions, results, n_boot, min_n)
    blocks += [("h", 2, "Sensitivity"),
               ("table", ["truth set", "readout x biosample", "configuration", "variant", "Spearman [95% CI]",
                          "sign agreement [95% CI]"], sensitivity) if sensitivity else
               ("p", "No predictor here gives quantile scores or was run at several interval lengths.")]
    blocks.append(("details", "Exact configurations", [("table", ["configuration", "id", "tracks", "held out",
                                                                    "scores from"], _configuration_rows(results))]))
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

    # Named as their image blocks are, so report.md links each block to its file.
    named = [(f"headline: {summaries[t]['title']}", png) for t, png in headline_figures.items()] + figures
    plot_names = [f"{i:02d}_{re.sub(r'[^A-Za-z0-9]+', '_', name).strip('_')[:80]}.png"
                  for i, (name, _) in enumerate(named)]
    markdown = to_markdown(blocks, {name: f"plots/{file}" for (name, _), file in zip(named, plot_names)})
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
                           "diagnostic_inputs": diagnostic_inputs.get(t, {}),
                           "headline_metric": specs[t].headline_metric if t in specs else "spearman",
                           "published": [dataclasses.asdict(p) for p in specs[t].published] if t in specs else []}
                       for t in truth_sets},
        "results": results,
    })
    # The folder is written beside the old one and replaces it whole: no plot or metrics of an earlier run stays.
    with replaced_folder(out_dir) as folder:
        for plot_name, (_, png) in zip(plot_names, named):
            write_bytes(png, folder / "plots" / plot_name)
        write_text(markdown, folder / "report.md")
        write_text(to_html(blocks, title), folder / "report.html")
        write_text(json.dumps(metrics, indent=1, allow_nan=False), folder / "metrics.json")
    plot_paths = [out_dir / "plots" / name for name in plot_names]
    markdown_path, html_path, metrics_path = (out_dir / name for name in ("report.md", "report.html", "metrics.json"))
    return ReportResult(
        markdown=markdown, inline_markdown=to_markdown(blocks), html_path=html_path, metrics_path=metrics_path, metrics=metrics, warnings=warnings,
        headline=metrics["headline"], markdown_path=markdown_path, plot_paths=plot_paths,
        headline_figures={summaries[t]["title"]: png for t, png in headline_figures.items()},
    )


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
