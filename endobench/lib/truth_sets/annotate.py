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
import pyarrow as pa

from endobench.lib.codes import as_codes, column_codes, group
from endobench.lib.genome.builds import CHROM_SIZES
from endobench.lib.genome.intervals import spans_in_peaks
from endobench.lib.genome.peaks import PeakSet
from endobench.lib.io.tables import frame_from_arrow
from endobench.lib.truth_sets.catalog import TruthSetSpec
from endobench.lib.truth_sets.schema import BUILD_ID_SUFFIX, QTL_COLUMNS, variant_id_array


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
    sources: pa.Table, specs: Sequence[TruthSetSpec], annotations: Mapping[str, PeakSet], default_annotation: str,
) -> AnnotatedTruthSets:
    """Every spec's rows of `sources` (whose `truth_set` column holds source keys) under its annotation.

    `sources` is a QTL table as the source assets store it (`QTL_SCHEMA`, text as codes). Its rows are grouped
    into variants on integer codes (chromosome, position, alleles, build), so no string is hashed per row, and
    each distinct variant is asked once whether it lies in an annotation. `variant_id`, which those columns spell
    out, need not be read: it is rebuilt for the rows kept. `annotations` maps annotation keys to intervals;
    `default_annotation` is the one `in_annotation` refers to for specs without an annotation of their own.
    """
    source, source_names = column_codes(sources.column("truth_set"))
    chrom, chroms = column_codes(sources.column("chrom"))
    ref, refs = column_codes(sources.column("ref"))
    alt, alts = column_codes(sources.column("alt"))
    build, builds = column_codes(sources.column("build"))
    pos = sources.column("pos").to_numpy()
    start = pos - 1
    end = start + np.array([len(r) if r is not None else 0 for r in refs], dtype=np.int64)[ref]
    variant = group((chrom, len(chroms)), as_codes(pos), (ref, len(refs)), (alt, len(alts)), (build, len(builds)))
    n_variants = int(variant.max()) + 1 if len(variant) else 0
    chrom_text, ref_text, alt_text = pa.array(chroms), pa.array(refs), pa.array(alts)
    suffix_text = pa.array([BUILD_ID_SUFFIX.get(b, "") for b in builds])
    parts, funnel = [], {}
    for spec in specs:
        rows = np.flatnonzero(source == list(source_names).index(spec.source)) if spec.source in source_names \
            else np.zeros(0, dtype=np.int64)
        key = spec.annotation.key if spec.annotation is not None else default_annotation
        peaks = annotations[key]
        inside = spans_in_peaks(variant[rows], chrom[rows], chroms, start[rows], end[rows], peaks)
        keep = inside if spec.annotation is not None else np.ones(len(rows), dtype=bool)

        def present(mask: np.ndarray) -> np.ndarray:
            """Per variant code: has it a row of this truth set where `mask` holds?"""
            return np.bincount(variant[rows[mask]], minlength=n_variants) > 0

        on_chroms = np.isin(chroms, peaks.frame["chrom"].unique())[chrom[rows]]
        # Whether a variant is on the annotation's chromosomes and inside it holds for all its rows alike.
        observed = present(on_chroms)
        peaks_like = spec.annotation is None or not spec.annotation.sites
        funnel[spec.name] = {
            "rows_kept": int(len(rows)),
            "unique_variants": int(present(np.ones(len(rows), dtype=bool)).sum()),
            "in_annotation": int(present(inside).sum()),
            "kept_after_annotation": int(present(keep).sum()),
            "annotation": spec.annotation.label if spec.annotation is not None else "none (all kept)",
            "filtered_by_annotation": spec.annotation is not None,
            "fraction_in_annotation_observed": float(present(inside & on_chroms)[observed].mean())
            if observed.any() else float("nan"),
            # Sites made from variants are enriched for variants by construction: no expectation to compare with.
            "fraction_in_annotation_expected": expected_fraction(peaks) if peaks_like else None,
        }
        kept = rows[keep]
        part = frame_from_arrow(sources.take(kept).drop_columns(
            [c for c in ("variant_id", "truth_set") if c in sources.column_names]))
        ids = variant_id_array(chrom_text.take(chrom[kept]), pos[kept], ref_text.take(ref[kept]),
                               alt_text.take(alt[kept]), suffix_text.take(build[kept]))
        part["variant_id"] = ids.to_numpy(zero_copy_only=False)
        part["truth_set"] = spec.name
        part["in_annotation"] = inside[keep]
        parts.append(part[[*QTL_COLUMNS, "in_annotation"]])
    frame = pd.concat(parts, ignore_index=True) if parts else \
        frame_from_arrow(sources.slice(0, 0)).assign(in_annotation=False)
    return AnnotatedTruthSets(frame, funnel)
