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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from endobench.lib.evaluation.references import REFERENCE  # noqa: E402

DPI = 80
PALETTE_COLORS = 128


def _png(fig: Figure, *, tight: bool = True, dpi: int = DPI, bbox_inches: str | None = None) -> bytes:
    """The figure as a 128-colour palette PNG: a third of the RGBA size, so a report with many plots still fits
    comfortably in Dagster metadata."""
    FigureCanvasAgg(fig)
    if tight:
        # tight_layout draws the figure once more; only label-heavy plots need it
        fig.tight_layout()
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=dpi, bbox_inches=bbox_inches, pad_inches=0.15)
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

    A reference (kind `reference`: measured accessibility, tissue replication) is drawn as a dashed line at its
    Spearman across the rows of its truth set, so each model row reads against it.
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
        reference = next((r for r in rows if str(r["truth_set"]) == truth_set and r.get("kind") == REFERENCE), None)
        if reference is None or not math.isfinite(float(reference.get("spearman", math.nan))):
            continue
        ax.vlines(float(reference["spearman"]), min(members) - 0.4, max(members) + 0.4, colors="#555555",
                  linestyles="--", lw=1, label=None if labelled else "measured reference, Spearman")
        labelled = True
    if rows:
        ax.set_yticks(range(len(rows)), [str(r["label"]).replace(" | ", "\n", 2) for r in rows], fontsize=6)
        ax.invert_yaxis()
        ax.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    ax.axvline(0, color="grey", lw=0.6)
    ax.set_title("configurations side by side (95% cluster-bootstrap intervals)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return _png(fig)


HEADLINE_DPI = 100
MODEL_COLOR = "#1f5fa8"
REFERENCE_COLOR = "#b35806"
GREY = "#a0a0a0"


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(float(value))


def headline(title: str, entries: Sequence[Mapping[str, object]], metric: str) -> bytes:
    """One truth set's headline: each row's primary endpoint with its 95% interval; on model rows the readout's
    reference on the same units (diamond); on every row the noise ceiling (bar) and the central 95% range of the
    endpoint under no association (shaded). Underpowered rows are grey, rows below the minimum of units say so.
    Drawn at 100 dpi with 10-point text, so it reads at 100% zoom."""
    rows = list(entries)
    height = 1.6 + 0.75 * max(1, len(rows))
    fig = Figure(figsize=(6.5, height))
    ax = fig.add_subplot()
    chance = next((float(e["primary"]["chance"]) for e in rows if _finite(e["primary"].get("chance"))), 0.0)
    low_x = 0.0 if chance == 0.5 else -1.0
    for i, entry in enumerate(rows):
        primary = entry["primary"]
        if entry.get("note"):
            ax.text(low_x + 0.02, i, str(entry["note"]), va="center", fontsize=9, color="#555555")
            continue
        color = GREY if entry.get("underpowered") else (REFERENCE_COLOR if entry.get("kind") == REFERENCE
                                                        else MODEL_COLOR)
        null = primary.get("null") or [None, None]
        if _finite(null[0]) and _finite(null[1]):
            ax.add_patch(Rectangle((float(null[0]), i - 0.32), float(null[1]) - float(null[0]), 0.64,
                                   color="#e6e6e6", lw=0, zorder=0))
        ceiling = (entry.get("noise_ceiling") or {}).get("primary")
        if _finite(ceiling):
            ax.plot([ceiling, ceiling], [i - 0.3, i + 0.3], color="#333333", lw=2.2, zorder=2)
        value, ci = primary.get("value"), primary.get("ci") or [None, None]
        if _finite(value):
            err = [[max(0.0, float(value) - float(ci[0]))], [max(0.0, float(ci[1]) - float(value))]] \
                if _finite(ci[0]) and _finite(ci[1]) else None
            ax.errorbar([float(value)], [i], xerr=err, fmt="o", ms=7, color=color, lw=2, capsize=4, zorder=3,
                        mfc=color if entry.get("kind") != REFERENCE else "white", mew=2)
        reference = entry.get("reference") or {}
        if _finite(reference.get("primary")):
            ax.plot([reference["primary"]], [i], marker="D", ms=8, color=REFERENCE_COLOR, mfc="none", mew=2,
                    zorder=4)
    labels = [f"{e['label']}\n{e['readout_label']}\n{e['units']}" + ("  [underpowered]" if e.get("underpowered")
                                                                       and not e.get("note") else "")
              for e in rows]
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    for tick, entry in zip(ax.get_yticklabels(), rows, strict=True):
        if entry.get("underpowered") or entry.get("note"):
            tick.set_color("#777777")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(low_x - 0.02, 1.02)
    ax.axvline(chance, color="#777777", lw=0.8, ls=":")
    ax.set_xlabel(f"{metric} (units oriented by their measured effect), 95% interval", fontsize=10)
    ax.tick_params(axis="x", labelsize=10)
    ax.set_title(textwrap.fill(title, 70), fontsize=11)
    handles = [
        Line2D([], [], marker="o", color=MODEL_COLOR, lw=2, label="model (95% interval)"),
        Line2D([], [], marker="o", color=REFERENCE_COLOR, mfc="white", mew=2, lw=2, label="reference row"),
        Line2D([], [], marker="D", color=REFERENCE_COLOR, mfc="none", mew=2, lw=0, label="reference, same units"),
        Line2D([], [], color="#333333", lw=2.2, label="noise ceiling"),
        Patch(color="#e6e6e6", label="null, 95% range"),
        Line2D([], [], marker="o", color=GREY, lw=2, label="underpowered"),
    ]
    ax.legend(handles=handles, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.5 / height - 0.08), ncol=3,
              frameon=False)
    # the labels and the legend sit outside the axes: the saved image grows to hold them
    return _png(fig, tight=False, dpi=HEADLINE_DPI, bbox_inches="tight")
