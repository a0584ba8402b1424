"""Report plots as PNG bytes (matplotlib Agg, no global pyplot state), small enough to embed in metadata."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from endobench.lib.evaluation.ceiling import MEASURED  # noqa: E402

DPI = 80
PALETTE_COLORS = 128


def _png(fig: Figure, *, tight: bool = True) -> bytes:
    """The figure as a 128-colour palette PNG: a third of the RGBA size, so a report with many plots still fits
    comfortably in Dagster metadata."""
    FigureCanvasAgg(fig)
    if tight:
        # tight_layout draws the figure once more; only label-heavy plots need it
        fig.tight_layout()
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=DPI)
    image = Image.open(rendered).convert("RGB").quantize(colors=PALETTE_COLORS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def scatter(
    effect: Sequence[float], score: Sequence[float], *, title: str,
    xlabel: str = "measured effect (ALT vs REF)", ylabel: str = "predicted score (ALT - REF)",
) -> bytes:
    """Measured vs predicted as a log-count hexbin: 100 K points stay readable where dots would be one blot.

    From 200 points on, the axes span the 0.1-99.9th percentiles of each column; the title says how many
    points fall outside (they still count in every metric).
    """
    x, y = np.asarray(effect, dtype=float), np.asarray(score, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    outside = 0
    if n >= 200:
        # a handful of extreme effects would squash everything else into one column of cells
        (x_lo, x_hi), (y_lo, y_hi) = np.quantile(x, [0.001, 0.999]), np.quantile(y, [0.001, 0.999])
        inside = (x >= x_lo) & (x <= x_hi) & (y >= y_lo) & (y <= y_hi)
        outside = int((~inside).sum())
        x, y = x[inside], y[inside]
    fig = Figure(figsize=(4.5, 3.8))
    ax = fig.add_subplot()
    if len(x):
        art = ax.hexbin(x, y, gridsize=40, bins="log", mincnt=1, cmap="viridis")
        bar = fig.colorbar(art, ax=ax)
        bar.set_label("variants per cell", fontsize=7)
        bar.ax.tick_params(labelsize=6, which="both")
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    note = f"; {outside:,} beyond the 0.1-99.9th percentiles not drawn" if outside else ""
    ax.set(title=textwrap.fill(f"{title} (n={n:,}{note})", 60), xlabel=xlabel, ylabel=ylabel)
    ax.title.set_fontsize(7)
    fig.subplots_adjust(left=0.15, right=0.86, bottom=0.13, top=0.9)
    return _png(fig, tight=False)


def funnel(funnels: Mapping[str, Mapping[str, float]]) -> bytes:
    """One horizontal bar chart per truth set: counts from rows read down to scored variants."""
    fig = Figure(figsize=(5.5, 1.0 + 1.6 * max(1, len(funnels))))
    for i, (truth_set, steps) in enumerate(sorted(funnels.items()), start=1):
        ax = fig.add_subplot(max(1, len(funnels)), 1, i)
        names = list(steps)
        values = [float(steps[k]) if steps[k] is not None and math.isfinite(float(steps[k])) else 0.0
                  for k in names]
        ax.barh(range(len(names)), values, color="#4c72b0")
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        for j, v in enumerate(values):
            ax.text(v, j, f" {v:,.0f}", va="center", fontsize=7)
        ax.set_xlim(0, max(values + [1]) * 1.3)
        ax.set_title(truth_set, fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    return _png(fig)


def roc_curves(curves: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> bytes:
    """Sign ROC curves: predicted score separating positive from negative measured effects, one line each."""
    fig = Figure(figsize=(4.5, 4.0))
    ax = fig.add_subplot()
    for label, effect, score in curves:
        x, y = np.asarray(effect, dtype=float), np.asarray(score, dtype=float)
        keep = np.isfinite(x) & np.isfinite(y) & (x != 0)
        if (x[keep] > 0).all() or not (x[keep] > 0).any():
            continue
        fpr, tpr, _ = roc_curve(x[keep] > 0, y[keep])
        ax.plot(fpr, tpr, lw=1.2, label=label)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.7, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="sign ROC (effect > 0 vs < 0)")
    ax.title.set_fontsize(9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="lower right")
    fig.subplots_adjust(left=0.14, right=0.97, bottom=0.12, top=0.92)
    return _png(fig, tight=False)


def _errors(rows: Sequence[Mapping[str, object]], key: str) -> tuple[np.ndarray, np.ndarray]:
    points = np.array([float(r[key]) for r in rows])
    ci = np.array([r.get(f"{key}_ci") or [math.nan, math.nan] for r in rows], dtype=float).reshape(-1, 2)
    return points, np.abs(np.vstack([points - ci[:, 0], ci[:, 1] - points]))


def forest(strata: Sequence[Mapping[str, object]], *, title: str, key: str = "spearman") -> bytes:
    """Per-stratum point and 95% interval of one metric; strata with too few units are listed, not plotted."""
    rows = [r for r in strata if not r.get("note") and np.isfinite(float(r.get(key, math.nan)))]
    skipped = [r for r in strata if r.get("note")]
    fig = Figure(figsize=(6.0, 1.2 + 0.28 * max(1, len(rows))))
    ax = fig.add_subplot()
    if rows:
        points, err = _errors(rows, key)
        ax.errorbar(points, range(len(rows)), xerr=np.nan_to_num(err), fmt="o", ms=3, color="#c44e52", lw=1)
        ax.set_yticks(range(len(rows)), [f"{r['stratification']}: {r['stratum']} (n={r['n']:,})" for r in rows],
                      fontsize=6)
        ax.invert_yaxis()
    ax.axvline(0, color="grey", lw=0.6)
    suffix = f"; {len(skipped)} strata too small to show" if skipped else ""
    fig.suptitle(textwrap.fill(f"{title}: {key} by stratum{suffix}", 90), fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    return _png(fig)


def comparison(results: Sequence[Mapping[str, object]]) -> bytes:
    """Configurations side by side: Spearman, Pearson and sign agreement (minus 0.5) with 95% intervals.

    A measured reference (kind `measured`: the ceiling measured accessibility sets) is drawn as a dashed line at
    its Spearman across the rows of its truth set, so each model row reads against it.
    """
    rows = [r for r in results if int(r.get("n", 0)) >= 3]
    fig = Figure(figsize=(7.0, 1.8 + 0.45 * max(1, len(rows))))
    ax = fig.add_subplot()
    offsets = {"spearman": -0.2, "pearson": 0.0, "sign_agreement": 0.2}
    for key, offset in offsets.items():
        if not rows:
            break
        points, err = _errors(rows, key)
        shift = 0.5 if key == "sign_agreement" else 0.0
        ax.errorbar(points - shift, np.arange(len(rows)) + offset, xerr=np.nan_to_num(err), fmt="o", ms=3, lw=1,
                    label=key if key != "sign_agreement" else "sign agreement - 0.5")
    labelled = False
    for truth_set in dict.fromkeys(str(r["truth_set"]) for r in rows):
        members = [i for i, r in enumerate(rows) if str(r["truth_set"]) == truth_set]
        ceiling = next((r for r in rows if str(r["truth_set"]) == truth_set and r.get("kind") == MEASURED), None)
        if ceiling is None or not math.isfinite(float(ceiling.get("spearman", math.nan))):
            continue
        ax.vlines(float(ceiling["spearman"]), min(members) - 0.4, max(members) + 0.4, colors="#555555",
                  linestyles="--", lw=1, label=None if labelled else "measured accessibility (ceiling), Spearman")
        labelled = True
    if rows:
        ax.set_yticks(range(len(rows)), [str(r["label"]).replace(" | ", "\n", 2) for r in rows], fontsize=6)
        ax.invert_yaxis()
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_title("configurations side by side (95% cluster-bootstrap intervals)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return _png(fig)
