"""The benchmark report: funnel, exclusions, metrics side by side, strata, diagnostics and plots.

One list of blocks is rendered twice, as markdown (for Dagster metadata) and as standalone HTML, both with
the plots embedded as base64 PNGs; metrics.json holds every number. All files are written atomically.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.evaluation import plots
from endobench.lib.evaluation.diagnostics import diagnose
from endobench.lib.evaluation.metrics import MIN_STRATUM_N, N_BOOTSTRAP, scored_units, side_by_side, too_few
from endobench.lib.io.atomic import write_bytes, write_text

HEADLINE_KEYS = ("n", "spearman", "pearson", "sign_auroc")
# The configuration parts `split_by_training` adds for a model that knows its training chromosomes.
HELD_OUT_SPLIT = "held_out_chromosomes"
TRAINING_SPLIT = "training_chromosomes"
_HEX = re.compile(r"^[0-9a-f]{9,}$")


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


def short_name(configuration: str, readout: str | None = None) -> str:
    """A configuration id made readable: the trailing readout dropped, long hashes cut to 8 characters.

    `local_gkm_dnase|3f9a0c1d2e4b5a6f|accessibility` -> `local_gkm_dnase:3f9a0c1d`.
    """
    parts = [p for p in str(configuration).split("|") if p]
    if readout is not None and len(parts) > 1 and parts[-1] == readout:
        parts = parts[:-1]
    return ":".join(p[:8] if _HEX.match(p) else p for p in parts)


def _num(value: object, digits: int = 3) -> str:
    if value is None:
        return "–"
    value = float(value)
    if not math.isfinite(value):
        return "–"
    return f"{value:.{digits}f}"


def _count(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{int(value):,}"


def _p(value: object) -> str:
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):.2g}"


def _with_ci(row: Mapping[str, object], key: str) -> str:
    lo, hi = row.get(f"{key}_ci") or [math.nan, math.nan]
    point = _num(row.get(key))
    if point == "–" or not (math.isfinite(lo) and math.isfinite(hi)):
        return point
    return f"{point} [{lo:.3f}, {hi:.3f}]"


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def scope_statement(predictions: pd.DataFrame) -> list[str]:
    """What this setting can and cannot show, in plain sentences, for the truth sets and predictors present."""
    truth_sets = " ".join(sorted(map(str, predictions["truth_set"].dropna().unique()))).lower()
    predictors = " ".join(sorted(map(str, predictions.get("predictor", pd.Series(dtype=str)).dropna().unique())))
    lines = [
        "These numbers show whether predicted ALT-vs-REF scores rank and sign the measured effects in this setting, "
        "with bootstrap 95% intervals; they do not show that a model is right about any single variant.",
    ]
    if "gtex" in truth_sets:
        lines.append(
            "GTEx eQTLs measure whole-blood expression, while an accessibility readout predicts DNase signal in "
            "K562 (a leukaemia cell line): readout and cell type both differ, so published comparisons of this "
            "kind reach |rho| of only about 0.1-0.17. Significant variant-gene pairs are mostly LD tags of an "
            "unknown causal variant, and a model scoring a tag's own sequence cannot be expected to match them; "
            "fine-mapped (PIP > 0.9) variants with a matching tissue track are the fair test."
        )
    if "dsqtl" in truth_sets or "degner" in truth_sets:
        lines.append(
            "The Degner 2012 dsQTLs measure DNase sensitivity in lymphoblastoid cells (LCLs): the readout matches "
            "an accessibility prediction, the cell type matches only with an LCL (GM12878) track, not K562."
        )
    if "alphagenome" in predictors.lower():
        lines.append(
            "AlphaGenome trained on most chromosomes; numbers comparable with its paper are those on its test "
            "chromosomes 3, 6, 9, 12, 16, 18, 19 and 21 (the 'AlphaGenome split' stratum)."
        )
    if "local" in predictors:
        lines.append(
            "The local predictor is a small gapped k-mer model trained on the bundled sample; it tests the "
            "pipeline, not the state of the art. Only its held-out chromosomes give numbers free of training "
            "leakage (see the 'model training split' stratum)."
        )
    return lines


Block = tuple


def _blocks_to_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            out.append(block[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]) if block[1] else "_(none)_")
        elif kind == "table":
            header, rows = block[1], block[2]
            if not rows:
                out.append("_(none)_")
                continue
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            out.append(f"![{block[1]}](data:image/png;base64,{base64.b64encode(block[2]).decode()})")
    return "\n\n".join(out) + "\n"


def _blocks_to_html(blocks: Sequence[Block], title: str) -> str:
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            body.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "ul":
            items = "".join(f"<li>{html.escape(str(i))}</li>" for i in block[1]) or "<li>(none)</li>"
            body.append(f"<ul>{items}</ul>")
        elif kind == "table":
            header, rows = block[1], block[2]
            head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(block[2]).decode()
            body.append(f'<figure><img alt="{html.escape(block[1])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(block[1])}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}"
             "figure{display:inline-block;margin:0.5em}figcaption{font-size:12px;color:#555}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def _metrics_rows(
    results: Sequence[Mapping[str, object]], empty_truth_sets: Sequence[str], min_n: int
) -> list[list[str]]:
    rows = []
    for r in results:
        if r["n"] < min_n:
            rows.append([r["truth_set"], r["readout"], r["short_name"], f"{r['n']:,}", too_few(r["n"]),
                         "", "", "", "", "", ""])
            continue
        strong = (f"{_num(r['sign_auroc_strong'])} (n={r['n_strong']:,}, |effect|>={_num(r['strong_threshold'])})"
                  if r["n"] else "–")
        auprc = (f"{_num(r['auprc_significant'])} ({r['n_significant']:,} sig / {r['n_not_significant']:,} not)"
                 if math.isfinite(float(r["auprc_significant"])) else "no non-significant units")
        rows.append([
            r["truth_set"], r["readout"], r["short_name"], f"{r['n']:,}", _with_ci(r, "spearman"), _p(r["spearman_p"]),
            _with_ci(r, "pearson"), _p(r["pearson_p"]), _with_ci(r, "sign_auroc"), strong, auprc,
        ])
    rows += [[t, "–", "–", "0", "no scored units", "", "", "", "", "", ""] for t in empty_truth_sets]
    return rows


METRICS_HEADER = ["truth set", "readout", "configuration", "n", "Spearman [95% CI]", "p", "Pearson [95% CI]", "p",
                  "sign auROC [95% CI]", "sign auROC, strong half", "auPRC |score|, significant vs not"]
STRATA_HEADER = ["stratification", "stratum", "n", "Spearman [95% CI]", "Pearson [95% CI]", "sign auROC [95% CI]"]


def _strata_rows(strata: Sequence[Mapping[str, object]]) -> list[list[str]]:
    rows = []
    for s in strata:
        if s.get("note"):
            rows.append([s["stratification"], s["stratum"], f"{s['n']:,}", s["note"], "", ""])
        else:
            rows.append([s["stratification"], s["stratum"], f"{s['n']:,}", _with_ci(s, "spearman"),
                         _with_ci(s, "pearson"), _with_ci(s, "sign_auroc")])
    return rows


def _unscorable_counts(predictions: pd.DataFrame, scored: pd.DataFrame) -> dict[str, int]:
    """Rows with status "scored" whose effect or score is not a finite number: counted, never dropped silently."""
    marked = predictions[predictions["status"] == "scored"]
    lost = marked.loc[~marked.index.isin(scored.index), "truth_set"].value_counts()
    return {str(k): int(v) for k, v in lost.items()}


def build_report(
    predictions: pd.DataFrame,
    funnels: Mapping[str, Mapping[str, object]],
    exclusions: Mapping[str, Mapping[str, int]],
    context: Mapping[str, Mapping[str, object]],
    out_dir: Path,
    *,
    title: str = "endobench benchmark report",
    scope: Sequence[str] | None = None,
    extra_metrics: Mapping[str, object] | None = None,
    n_boot: int = N_BOOTSTRAP,
    min_stratum_n: int = MIN_STRATUM_N,
    top_level_keys: Sequence[str] = (),
) -> ReportResult:
    """Compute metrics per (truth set, readout, configuration), diagnose the inputs, and write the report.

    Writes `report.md`, `report.html`, `metrics.json` and `plots/*.png` under `out_dir`. Only rows with
    status "scored" and finite effect and score enter the metrics; every other row is in the exclusions.
    A result with fewer than `min_stratum_n` units shows "too few (n=...)" in the table and gets no
    scatter or strata plot (its numbers stay in metrics.json).
    `scope` replaces the default statement of what the setting can and cannot show; `extra_metrics` is merged
    into the top level of metrics.json; `top_level_keys` copies those metrics of the only result to the top
    level too (the `evaluate` command's contract: n, spearman, spearman_p, ...; None when nothing was scored).
    """
    out_dir = Path(out_dir)
    scored = scored_units(predictions)
    unscorable = _unscorable_counts(predictions, scored)
    exclusions = {t: dict(v) for t, v in exclusions.items()}
    for truth_set, n in unscorable.items():
        exclusions.setdefault(truth_set, {})["metrics_effect_or_score_not_finite"] = n

    results = side_by_side(predictions, min_n=min_stratum_n, n_boot=n_boot)
    for r in results:
        r["short_name"] = short_name(r["configuration"], r["readout"])
        r["label"] = f"{r['truth_set']} | {r['readout']} | {r['short_name']}"
    truth_sets = sorted(set(map(str, predictions["truth_set"].dropna().unique())) | set(funnels) | set(exclusions))
    empty = [t for t in truth_sets if t not in {r["truth_set"] for r in results}]
    warnings = diagnose(scored, context)
    # A model's training chromosomes leak; their numbers stay in the tables, not in the headline.
    headline = {
        f"{r['truth_set']}|{r['readout']}|{r['short_name']}": {k: r[k] for k in HEADLINE_KEYS} for r in results
        if TRAINING_SPLIT not in str(r["configuration"])
    }

    figures: list[tuple[str, bytes]] = []
    if funnels:
        figures.append(("funnel", plots.funnel(funnels)))
    if results:
        figures.append(("configurations side by side", plots.comparison(results)))
        curves = []
        for r in results:
            group = scored[(scored["truth_set"] == r["truth_set"]) & (scored["readout"] == r["readout"])
                           & (scored["configuration"] == r["configuration"])]
            curves.append((r["label"], group["effect"], group["score"]))
        figures.append(("sign ROC curves", plots.roc_curves(curves)))
        for (label, effect, score), r in zip(curves, results, strict=True):
            if r["n"] < min_stratum_n:
                continue
            figures.append((f"scatter {label}", plots.scatter(effect, score, title=label)))
            figures.append((f"strata {label}", plots.forest(r["strata"], title=label)))

    blocks: list[Block] = [("h", 1, title)]
    blocks += [("h", 2, "What this setting can and cannot show"), ("ul", list(scope or scope_statement(predictions)))]
    blocks += [("h", 2, "Warnings"), ("ul", warnings)]
    blocks += [("h", 2, "Metrics"), ("table", METRICS_HEADER, _metrics_rows(results, empty, min_stratum_n))]
    n_boot_used = sorted({int(r.get("n_bootstrap", 0)) for r in results if r.get("n_bootstrap")})
    blocks.append(("p", f"Intervals: percentile bootstrap over {', '.join(map(str, n_boot_used)) or 'no'} resamples "
                        "(fixed seed). Sign auROC: predicted score separating ALT-increasing from ALT-decreasing "
                        "variants; strong half: units with |effect| at or above the median."))
    blocks.append(("h", 2, "Funnel and exclusions"))
    for truth_set in truth_sets:
        blocks.append(("h", 3, truth_set))
        steps = funnels.get(truth_set, {})
        blocks.append(("table", ["step", "count"], [[k, _count(v)] for k, v in steps.items()]))
        reasons = exclusions.get(truth_set, {})
        blocks.append(("table", ["excluded because", "count"],
                       [[k, _count(v)] for k, v in sorted(reasons.items(), key=lambda kv: -float(kv[1] or 0))]))
    blocks.append(("h", 2, "Plots"))
    blocks += [("img", name, png) for name, png in figures]
    blocks.append(("h", 2, "Strata"))
    for r in results:
        blocks.append(("h", 3, r["label"]))
        blocks.append(("p", f"Strata below {min_stratum_n} units are reported as too few, not as numbers."))
        blocks.append(("table", STRATA_HEADER, _strata_rows(r["strata"])))

    plot_paths = []
    for i, (name, png) in enumerate(figures):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:80]
        plot_paths.append(write_bytes(png, out_dir / "plots" / f"{i:02d}_{slug}.png"))
    markdown = _blocks_to_markdown(blocks)
    markdown_path = write_text(markdown, out_dir / "report.md")
    html_path = write_text(_blocks_to_html(blocks, title), out_dir / "report.html")
    only = results[0] if len(results) == 1 else {}
    top = {k: only.get(k) for k in top_level_keys}
    if "n" in top:
        top["n"] = int(only.get("n") or 0)
    metrics = _jsonable({
        **top,
        **(extra_metrics or {}),
        "title": title,
        "warnings": warnings,
        "headline": headline,
        "truth_sets": {t: {"funnel": funnels.get(t, {}), "exclusions": exclusions.get(t, {}),
                           "context": context.get(t, {})} for t in truth_sets},
        "results": results,
    })
    metrics_path = write_text(json.dumps(metrics, indent=1, allow_nan=False), out_dir / "metrics.json")
    return ReportResult(
        markdown=markdown, html_path=html_path, metrics_path=metrics_path, metrics=metrics, warnings=warnings,
        headline=headline, markdown_path=markdown_path, plot_paths=plot_paths,
    )
