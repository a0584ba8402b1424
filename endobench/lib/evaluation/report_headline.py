"""The report's first sections: the headline of each truth set (its figure, then its table), every formula behind
it, and the genome-wide tissue replication, as report blocks (`render`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from endobench.lib.evaluation.endpoints import ceiling_of
from endobench.lib.evaluation.headline import cells, sorted_entries, units_phrase
from endobench.lib.evaluation.metrics import too_few
from endobench.lib.evaluation.references import WHAT_REFERENCES_ARE
from endobench.lib.evaluation.render import Block, num, with_ci
from endobench.lib.evaluation.results import DISTANCE_TO_TSS, MODEL
from endobench.lib.evaluation.strata import OTHER_CHROMOSOMES, PUBLISHED_EVALUATION, chromosome_list
from endobench.lib.truth_sets.catalog import METRIC_NAMES, TruthSetSpec

HEADLINE_HEADER = ["configuration", "readout x biosample", "n (units of resampling)", "primary [95% CI]",
                   "p, two-sided (Holm)", "MDE (Spearman)", "Spearman [95% CI]", "Pearson [95% CI]",
                   "sign auROC [95% CI]", "reference on the same units: reference / model (primary / Spearman)",
                   "noise ceiling (primary / Spearman)", "null, 95% range of the primary",
                   "distance to TSS: |effect| Spearman", "power"]
# The headline table's column of each metric a published number can be in (sign agreement is the primary
# endpoint's column: direction is every truth set's primary today).
HEADLINE_METRIC_COLUMNS = {"sign_agreement": 3, "spearman": 6, "pearson": 7, "sign_auroc": 8}


def headline_blocks(results: Sequence[dict], entries: Mapping[str, dict], specs: Mapping[str, TruthSetSpec],
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
        effect = f", effect {spec.effect}" if spec is not None and spec.effect else ""
        blocks.append(("p", f"Measured: {measured}{effect}. Unit: {scope}. Primary endpoint: "
                            f"{summary['primary_metric']}, on units oriented by their measured effect."))
        table = []
        for e in rows:
            c = cells(e)
            r = by_key[_entry_key(e)]
            tss = r.get("baselines", {}).get(DISTANCE_TO_TSS, {})
            null = e["primary"].get("null") or [None, None]
            if e.get("note"):
                table.append([e["label"], e["readout_label"], e["units"], e["note"], "–", c["mde"], "–", "–", "–",
                              c["reference"], c["ceiling"], "–", "–", c["flag"]])
                continue
            table.append([
                e["label"], e["readout_label"], e["units"], f"{e['primary']['metric']}: {c['primary']}", c["p"],
                c["mde"], c["spearman"], with_ci(r, "pearson"), with_ci(r, "sign_auroc"), c["reference"], c["ceiling"],
                f"{num(null[0])} to {num(null[1])}",
                num(tss.get("spearman")) if tss and tss.get("n_units", 0) >= min_n else "–", c["flag"] or "ok",
            ])
        # A published number sits in the column of its own metric, never in another metric's.
        for published in spec.published if spec is not None else ():
            row = [f"published: {published.model}", spec.measured.label, "–"] + [""] * (len(HEADLINE_HEADER) - 3)
            prefix = f"{METRIC_NAMES['sign_agreement']}: " if published.metric == "sign_agreement" else ""
            row[HEADLINE_METRIC_COLUMNS[published.metric]] = f"{prefix}{published.text} (published; " + (
                "its source and setting in the table below)" if published.same_setting else f"{published.setting})")
            table.append(row)
        blocks.append(("table", HEADLINE_HEADER, table))
        if spec is not None and any(p.same_setting for p in spec.published):
            blocks += _published_blocks([by_key[_entry_key(e)] for e in rows], spec, min_n)
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


def method_statements(n_tests: int, min_n: int) -> list[str]:
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


REPLICATION_HEADER = ["tissue measured", "predicted by", "n (units of resampling)", "primary [95% CI]",
                      "Spearman [95% CI]", "MDE (Spearman)", "noise ceiling (primary / Spearman)"]


def replication_blocks(replication: Sequence[Mapping[str, object]], min_n: int) -> list[Block]:
    """The genome-wide tissue replication of each ordered pair of tissues, as a table."""
    if not replication:
        return []
    return [("h", 3, "Tissue replication, genome-wide"),
            ("p", "Every gene whose significant lead variant is the same in both tissues (no annotation): the other "
                  "tissue's slope used as a prediction of this tissue's."),
            ("table", REPLICATION_HEADER, [_replication_row(v, min_n) for v in replication])]


def _replication_row(v: Mapping[str, object], min_n: int) -> list[str]:
    phrase = units_phrase(v)
    ceiling = v["noise_ceiling"]
    if v["n_units"] < min_n:
        return [v["tissue"], v["predicted_by"], phrase, too_few(v["n_units"], min_n), "", "", ""]
    primary = v["primary"]
    return [v["tissue"], v["predicted_by"], phrase,
            f"{primary['metric']}: {num(primary['value'])} [{num(primary['ci'][0])}, {num(primary['ci'][1])}]",
            with_ci(v, "spearman"), num(v["mde"]),
            f"{num(ceiling_of(primary['endpoint'], ceiling))} / {num(ceiling['spearman'])}"]


def published_comparison(result: Mapping[str, object], metric: str) -> dict[str, object]:
    """A result's `metric` over all its units and on the chromosomes of the published evaluation (its stratum)."""
    on = next((s for s in result.get("strata", []) if s["stratification"] == PUBLISHED_EVALUATION
               and s["stratum"] != OTHER_CHROMOSOMES), None)
    return {"all": {k: result.get(k) for k in ("n", metric, f"{metric}_ci")},
            "published_chromosomes": {k: on.get(k) for k in ("n", "note", metric, f"{metric}_ci")} if on else None}


def beside_published(result: Mapping[str, object], spec: TruthSetSpec | None) -> dict[str, object]:
    """For a model's headline entry of a truth set with published numbers: its metric over all units and on the
    chromosomes of the published evaluation, and the published numbers with their sources."""
    if spec is None or not any(p.same_setting for p in spec.published) or result["kind"] != MODEL:
        return {}
    return {"beside_published": {"metric": spec.headline_metric, **published_comparison(result, spec.headline_metric),
                                 "published": [dataclasses.asdict(p) for p in spec.published]}}


def _published_blocks(rows: Sequence[Mapping[str, object]], spec: TruthSetSpec, min_n: int) -> list[Block]:
    """Our number beside the published ones, on the metric they are in, over all chromosomes and on the
    chromosomes the published numbers were computed on, with each number's source and setting."""
    metric = spec.headline_metric
    chroms = next((p.chromosomes for p in spec.published if p.chromosomes), ())
    name = METRIC_NAMES.get(metric, metric)
    table = []
    for r in rows:
        if r["kind"] != MODEL:
            continue
        compared = published_comparison(r, metric)
        on = compared["published_chromosomes"]
        table.append([f"ours: {r['label']}", r["readout_label"],
                      with_ci(r, metric) if r["n_units"] >= min_n else too_few(r["n_units"], min_n), f"{r['n']:,}",
                      (on.get("note") or with_ci(on, metric)) if on else "–", f"{on['n']:,}" if on else "–",
                      "computed here", "this truth set"])
    for p in spec.published:
        table.append([f"published: {p.model}", spec.measured.label, "" if p.chromosomes else p.text, "",
                      p.text if p.chromosomes else "", "", p.source, p.setting])
    header = ["model", "readout x biosample", f"{name}, all chromosomes", "n",
              f"{name}, chromosomes of the published evaluation ({chromosome_list(chroms)})" if chroms else
              f"{name}, chromosomes of the published evaluation", "n", "source", "setting"]
    return [("p", f"Beside the published numbers, on their metric ({name}). The chromosomes of the published "
                  "evaluation are where those numbers were computed, not a set held out of our models."),
            ("table", header, table)]
