"""The headline as the console prints it (`endobench demo`), read from metrics.json, in at most 150 columns.

A legend, a column header, then per truth set (one even when it has no scorable unit, saying why) its primary
endpoint and, per readout x biosample with the units and noise ceiling its lines share, one line per model and
reference: primary endpoint [95% CI], p (Holm), Spearman [95% CI], mde, the reference on the same units. Under a
truth set with published numbers of its own setting, each model's metric beside them; under a truth set with
motif changes, how often the motif's direction agrees with the measured effect. Numbers of another setting are
said once, at the end. Every number is the one metrics.json, the report and the UI show (`headline.cells`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

from endobench.lib.evaluation.endpoints import ENDPOINTS
from endobench.lib.evaluation.headline import cells, sorted_entries
from endobench.lib.evaluation.render import num, pvalue
from endobench.lib.truth_sets.catalog import DIRECTION, METRIC_NAMES

WIDTH = 150
LEGEND = ("headline: each truth set's primary endpoint on units oriented by their measured effect, with its 95% "
          "interval; p two-sided, and Holm-adjusted over the headline; mde: the Spearman its units detect with 80% "
          "power; ref: the readout's reference on the same units and ceiling: the noise ceiling of the measured "
          "effects, both as primary / Spearman (units)")
HEADER = ["primary [95% CI]", "p (Holm)", "Spearman [95% CI]", "mde", "ref (units)"]


def console_lines(metrics: Mapping[str, object], width: int = WIDTH) -> list[str]:
    """The whole console headline (see the module docstring), each line at most `width` columns but the table's."""
    headline = metrics.get("headline", {}) or {}
    truth_sets = metrics.get("headline_truth_sets", {}) or {}
    entries = sorted_entries(headline)
    rows = {id(e): _row(e) for e in entries}
    widths = [max([len(HEADER[i - 1]) if i else 0] + [len(r[i]) for r in rows.values()]) for i in range(6)]

    def table(cells_: Sequence[str]) -> str:
        return "      " + "  ".join(c.ljust(w) for c, w in zip(cells_, widths, strict=True)).rstrip()

    lines = wrap(LEGEND, width, "  ") + [table(["", *HEADER])]
    names = sorted(set(truth_sets) | {str(e["truth_set"]) for e in entries},
                   key=lambda t: str(truth_sets.get(t, {}).get("title", t)))
    for name in names:
        summary = truth_sets.get(name, {})
        mine = [e for e in entries if e["truth_set"] == name]
        title = summary.get("title") or (str(mine[0]["title"]) if mine else name)
        if summary.get("reason"):
            lines += wrap(f"  {title}: 0 scorable units ({summary['reason']})", width, "    ")
            continue
        lines.append(f"  {title} (primary: {summary.get('primary_metric', ENDPOINTS[DIRECTION])})")
        for group_line, group in _groups(mine):
            lines.append(group_line)
            lines += [table(rows[id(e)]) for e in group]
        lines += _beside_published(mine, widths[0], width)
        lines += _motif_agreement(metrics.get("motifs", {}).get(name), width)
    return lines + _other_settings(metrics, width)


def _row(entry: Mapping[str, object]) -> list[str]:
    c = cells(entry)
    reference = entry.get("reference")
    if reference is None:
        ref = "–"
    elif reference.get("note") or entry.get("note"):
        ref = f"too few ({int(reference['n_units']):,} units)"
    else:
        ref = f"{num(reference.get('primary'))} / {num(reference.get('spearman'))} ({int(reference['n_units']):,})"
    flag = f"  {c['flag']}" if c["flag"] else ""
    if entry.get("note"):
        return [str(entry.get("label", "")), f"too few ({int(entry.get('n_units') or 0):,} units)", "", "", "–",
                ref + flag]
    primary = entry["primary"]
    return [str(entry.get("label", "")), c["primary"], f"{pvalue(primary.get('p'))} ({pvalue(primary.get('p_holm'))})",
            c["spearman"], c["mde"], ref + flag]


def _groups(entries: Sequence[Mapping[str, object]]) -> list[tuple[str, list[Mapping[str, object]]]]:
    """Per readout x biosample, the lines that share their units and noise ceiling, under one line saying them."""
    groups: dict[tuple[str, str, str], list[Mapping[str, object]]] = {}
    for entry in entries:
        ceiling = cells(entry)["ceiling"]
        key = (str(entry.get("readout_label")), str(entry.get("units")), "–" if ceiling == "– / –" else ceiling)
        groups.setdefault(key, []).append(entry)
    return [(f"    {readout}: {units}; ceiling {ceiling}", group) for (readout, units, ceiling), group in groups.items()]


def _with_ci(numbers: Mapping[str, object], metric: str) -> str:
    value, ci = numbers.get(metric), numbers.get(f"{metric}_ci") or [None, None]
    if not isinstance(value, (int, float)):
        return str(numbers.get("note") or "n/a")
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if None not in ci else "")


def _beside_published(entries: Sequence[Mapping[str, object]], label_width: int, width: int) -> list[str]:
    """Each model's metric as the published numbers of this setting read it (over all units, and on the chromosomes
    they were computed on), then those numbers grouped by where and by source."""
    beside = [e for e in entries if e.get("beside_published")]
    if not beside:
        return []
    first = beside[0]["beside_published"]
    metric = first["metric"]
    chromosomes = next((p["chromosomes"] for p in first["published"] if p["chromosomes"]), [])
    where = f" | on chromosomes {', '.join(c.removeprefix('chr') for c in chromosomes)}" if chromosomes else ""
    lines = [f"    {METRIC_NAMES.get(metric, metric)}, as the published numbers of this setting read it: "
             f"all units{where}"]
    for entry in beside:
        numbers = entry["beside_published"]
        text = f"{_with_ci(numbers['all'], metric)} (n={int(numbers['all']['n']):,})"
        if chromosomes:
            on = numbers.get("published_chromosomes") or {}
            text += f" | {_with_ci(on, metric)} (n={int(on.get('n') or 0):,})"
        lines.append(f"      {str(entry['label']).ljust(label_width)}  {text}")
    grouped: dict[tuple[str, str], list[str]] = {}
    for p in first["published"]:
        place = "on those chromosomes" if p["chromosomes"] else "on all chromosomes"
        grouped.setdefault((place, p["source"].split(";")[0]), []).append(f"{p['model']} {p['value']:.{p['digits']}f}")
    for (place, source), models in grouped.items():
        lines += wrap(f"      published {place}: {', '.join(models)} ({source})", width, "        ")
    return lines


def _motif_agreement(numbers: Mapping[str, object] | None, width: int) -> list[str]:
    if not numbers or numbers.get("agreement") is None:
        return []
    return wrap(f"    motif direction agrees with the measured effect: {_with_ci(numbers, 'agreement')} of "
                 f"{int(numbers['n_strong']):,} units with a strong motif change (of {int(numbers['n_units']):,})",
                 width, "      ")


def _other_settings(metrics: Mapping[str, object], width: int) -> list[str]:
    """Published numbers of another setting, said once beside the truth sets they stand by."""
    other: dict[tuple[str, str], list[str]] = {}
    for truth_set in (metrics.get("truth_sets", {}) or {}).values():
        for p in truth_set.get("published", []):
            if not p.get("same_setting", True):
                entry = f"{p['model']} {METRIC_NAMES.get(p['metric'], p['metric'])} {p['value']:.{p['digits']}f}"
                listed = other.setdefault((p["setting"], p["source"].split(";")[0]), [])
                if entry not in listed:
                    listed.append(entry)
    return [line for (setting, source), entries in other.items()
            for line in wrap(f"  published for {setting}: {', '.join(entries)} ({source})", width, "    ")]


def wrap(text: str, width: int, indent: str) -> list[str]:
    return textwrap.wrap(text, width=width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
