"""Each truth set under its accessibility annotation: the variants of its source table inside its accessible sites.

A source table (GTEx Whole Blood, say) can make several truth sets, one per annotation (K562 DNase peaks, LCL
DNase-sensitive sites). An eQTL truth set keeps the variants whose REF span overlaps its annotation; a truth set
without an annotation (the dsQTLs, accessible sites by construction) keeps every variant and carries whether it
lies in the default annotation as `in_annotation`. Every count of the funnel is over distinct variants.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from endobench.lib.genome.builds import CHROM_SIZES
from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.peaks import PeakSet
from endobench.lib.truth_sets.catalog import TruthSetSpec


@dataclass
class AnnotatedTruthSets:
    """The rows every truth set keeps (`truth_set` = the spec's name) and each truth set's funnel counts."""

    frame: pd.DataFrame
    funnel: dict[str, dict[str, object]]


def sites_as_peaks(variants: pd.DataFrame, build: str) -> PeakSet:
    """Variant positions as an annotation: the REF span of each distinct variant (0-based half-open)."""
    unique = variants.drop_duplicates(["chrom", "pos", "ref"])
    frame = pd.DataFrame({
        "chrom": unique["chrom"].to_numpy(), "start": unique["pos"].to_numpy(dtype=np.int64) - 1,
        "end": unique["pos"].to_numpy(dtype=np.int64) - 1 + unique["ref"].str.len().to_numpy(),
        "name": unique["variant_id"].to_numpy(), "qvalue": np.nan,
    }).sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    return PeakSet(frame, build, len(frame))


def expected_fraction(peaks: PeakSet) -> float:
    """The share of the genome (over the chromosomes the annotation covers) inside it: what random positions hit."""
    chroms = set(peaks.frame["chrom"])
    size = sum(CHROM_SIZES[peaks.build].get(c, 0) for c in chroms)
    return peaks.covered_bp / size if size else float("nan")


def annotate_truth_sets(
    sources: pd.DataFrame, specs: Sequence[TruthSetSpec], annotations: Mapping[str, PeakSet], default_annotation: str,
) -> AnnotatedTruthSets:
    """Every spec's rows of `sources` (whose `truth_set` column holds source keys) under its annotation.

    `annotations` maps annotation keys to intervals; `default_annotation` is the one `in_annotation` refers to
    for specs without an annotation of their own.
    """
    parts, funnel = [], {}
    for spec in specs:
        rows = sources[sources["truth_set"] == spec.source]
        key = spec.annotation.key if spec.annotation is not None else default_annotation
        inside = variants_in_peaks(rows, annotations[key]) if len(rows) else np.zeros(0, dtype=bool)
        keep = inside if spec.annotation is not None else np.ones(len(rows), dtype=bool)
        variant = pd.factorize(rows["variant_id"], use_na_sentinel=False)[0] if len(rows) else np.zeros(0, int)

        def distinct(mask: np.ndarray) -> int:
            return int(len(np.unique(variant[mask])))

        peaks_like = spec.annotation is None or not spec.annotation.sites
        on_chroms = rows["chrom"].isin(set(annotations[key].frame["chrom"])).to_numpy()
        first = np.flatnonzero(on_chroms)[np.unique(variant[on_chroms], return_index=True)[1]] if len(rows) else []
        funnel[spec.name] = {
            "rows_kept": int(len(rows)),
            "unique_variants": distinct(np.ones(len(rows), dtype=bool)),
            "in_annotation": distinct(inside),
            "kept_after_annotation": distinct(keep),
            "annotation": spec.annotation.label if spec.annotation is not None else "none (all kept)",
            "filtered_by_annotation": spec.annotation is not None,
            "fraction_in_annotation_observed": float(inside[first].mean()) if len(first) else float("nan"),
            # Sites made from variants are enriched for variants by construction: no expectation to compare with.
            "fraction_in_annotation_expected": expected_fraction(annotations[key]) if peaks_like else None,
        }
        parts.append(rows[keep].assign(truth_set=spec.name, in_annotation=inside[keep]))
    frame = pd.concat(parts, ignore_index=True) if parts else sources.iloc[0:0].assign(in_annotation=False)
    return AnnotatedTruthSets(frame, funnel)
