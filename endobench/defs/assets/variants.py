"""Variant assets: the truth sets restricted to open chromatin, then checked against the reference and windowed."""

import dagster as dg
import numpy as np
import pandas as pd

from endobench.defs.automation import UP_TO_DATE
from endobench.defs.metadata import exclusion_metadata, markdown_table, table_metadata
from endobench.defs.partitions import gtex_release_partitions
from endobench.lib.genome.builds import CHROM_SIZES
from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.peaks import PeakSet
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.windows import OK, build_windows, exclusion_counts, reference_agreement
from endobench.lib.io.atomic import atomic_path
from endobench.lib.io.errors import BuildMismatchError, InputError
from endobench.lib.truth_sets.schema import variant_ids
from endobench.resources.predictors import VariantEffectPredictor
from endobench.resources.sources import DataSources
from endobench.resources.storage import Storage


def load_truth_sets(storage: Storage, release: str) -> tuple[pd.DataFrame, dict]:
    """Every truth set of a release in one frame (GTEx of that release plus the generic QTL tables)."""
    gtex = storage.read_table("raw_gtex_eqtls", release).assign(require_peak=True)
    qtl = storage.read_table("raw_qtl_tables")
    stats = {**storage.read_stats("raw_gtex_eqtls", release), **storage.read_stats("raw_qtl_tables")}
    return pd.concat([gtex, qtl], ignore_index=True), stats


def check_builds(frame: pd.DataFrame, peaks_build: str, reference_build: str, sources: DataSources) -> None:
    """Every input must be on the reference's build: the seed intersected hg38 variants with hg19 peaks."""
    if peaks_build != reference_build:
        raise BuildMismatchError(
            sources.peaks().path,
            f"the peaks are {peaks_build} but the reference {sources.reference_location().path} is {reference_build}",
            "Lift the peaks to the reference build (a UCSC chain in the data sources) or use peaks of that build",
        )
    for truth_set, build in frame.groupby("truth_set")["build"].first().items():
        if build != reference_build:
            raise BuildMismatchError(
                None,
                f"truth set {truth_set} is {build} but the peaks {sources.peaks().path} and the reference are "
                f"{reference_build}",
                "Lift the truth set to the reference build before benchmarking",
            )


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="variants", kinds={"bedtools", "parquet"},
    deps=["raw_gtex_eqtls", "raw_qtl_tables", "dhs_peaks"], automation_condition=UP_TO_DATE, code_version="1",
)
def dhs_filtered_variants(
    context: dg.AssetExecutionContext, sources: DataSources, storage: Storage
) -> dg.MaterializeResult:
    """Truth-set variants inside accessibility peaks (bedtools intersect, each distinct REF span once).

    eQTL truth sets keep only variants in a peak of the readout cell type; accessibility QTL truth sets
    (dsQTLs are DNase sites by construction) keep all variants and carry `in_peak` as an annotation.
    """
    release = context.partition_key
    frame, stats = load_truth_sets(storage, release)
    peak_frame = storage.read_table("dhs_peaks")
    peaks_build = str(peak_frame["build"].iloc[0]) if len(peak_frame) else sources.peaks().build
    try:
        check_builds(frame, peaks_build, sources.reference_location().build, sources)
    except InputError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    peaks = PeakSet(peak_frame.drop(columns="build"), peaks_build, len(peak_frame))
    frame["in_peak"] = variants_in_peaks(frame, peaks)
    in_peak = frame["in_peak"].to_numpy(dtype=bool)
    keep = in_peak | ~frame["require_peak"].to_numpy(dtype=bool)
    kept = frame[keep].reset_index(drop=True)

    # Every count below is over distinct variants: their ids are hashed once, then counted as integer codes.
    variant, distinct_ids = pd.factorize(frame["variant_id"], use_na_sentinel=False)

    def distinct(mask: np.ndarray) -> int:
        return int(np.count_nonzero(np.bincount(variant[mask], minlength=len(distinct_ids))))

    peak_chroms = set(peak_frame["chrom"])
    on_peak_chroms = frame["chrom"].isin(peak_chroms).to_numpy()
    expected = peaks.covered_bp / max(1, sum(CHROM_SIZES[peaks_build][c] for c in peak_chroms))
    truth_codes, truth_sets = pd.factorize(frame["truth_set"], sort=True)
    funnel_rows = []
    for code, truth_set in enumerate(truth_sets):
        group = truth_codes == code
        rows = np.flatnonzero(group & on_peak_chroms)
        first = rows[np.unique(variant[rows], return_index=True)[1]]  # each variant once
        observed = float(in_peak[first].mean()) if len(first) else float("nan")
        stats.setdefault(truth_set, {}).update(
            variants=int(group.sum()),
            unique_variants=distinct(group),
            in_peaks=distinct(group & in_peak),
            kept_after_peak_filter=distinct(group & keep),
            fraction_in_peaks_observed=observed,
            fraction_in_peaks_expected=expected,
            require_peak=bool(frame["require_peak"].to_numpy()[np.argmax(group)]),
        )
        funnel_rows.append({"truth_set": truth_set, **{k: v for k, v in stats[truth_set].items() if k != "excluded"}})
    path = storage.write_table(kept, "dhs_filtered_variants", release)
    kept_unique = kept.drop_duplicates("variant_id")
    bed_path = path.with_suffix(".bed")
    bed = pd.DataFrame({
        "chrom": kept_unique["chrom"], "start": kept_unique["pos"] - 1,
        "end": kept_unique["pos"] - 1 + kept_unique["ref"].str.len(), "name": kept_unique["variant_id"],
    })
    with atomic_path(bed_path) as tmp:
        bed.to_csv(tmp, sep="\t", header=False, index=False)
    storage.write_stats(stats, "dhs_filtered_variants", release)
    return dg.MaterializeResult(
        metadata={
            **table_metadata(path, len(kept)),
            "bed_path": dg.MetadataValue.path(str(bed_path)),
            "release": release,
            "funnel": dg.MetadataValue.md(markdown_table(funnel_rows)),
            "rows_read": int(sum(s.get("rows_read", 0) for s in stats.values())),
            "n_variants": len(distinct_ids),
            "n_in_peaks": distinct(in_peak),
            "fraction_in_peaks_expected": float(expected),
            **{f"fraction_in_peaks_{t}": float(s["fraction_in_peaks_observed"]) for t, s in stats.items()
               if s.get("require_peak") and not np.isnan(s["fraction_in_peaks_observed"])},
        }
    )


@dg.asset(
    partitions_def=gtex_release_partitions, group_name="variants", kinds={"pyfaidx", "parquet"},
    deps=["dhs_filtered_variants"], automation_condition=UP_TO_DATE, code_version="1",
)
def sequence_windows(
    context: dg.AssetExecutionContext, sources: DataSources, storage: Storage, predictor: VariantEffectPredictor
) -> dg.MaterializeResult:
    """For each variant, the window the predictor reads, with the reference allele checked (pyfaidx).

    A variant whose ALT is the genome base is swapped and its effect negated; one matching neither allele is a
    `ref_mismatch`. Windows the reference cannot serve, N-rich windows and windows past a chromosome end are
    counted by reason. Coordinates and checks are stored, not sequence.
    """
    release = context.partition_key
    variants = storage.read_table("dhs_filtered_variants", release)
    source = sources.reference()
    try:
        reference = ReferenceGenome(source.path, source.build)
    except InputError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    window_length = predictor.window_length()
    keys = ["chrom", "pos", "ref", "alt"]
    unique = variants.drop_duplicates(keys)[keys + ["variant_id"]].assign(effect=1.0)
    checked = build_windows(unique, reference, window_length=window_length,
                            needs_sequence=predictor.needs_local_sequence())
    # build_windows keeps row order: key the harmonised rows by the alleles as the truth set gave them.
    checked = checked.drop(columns="variant_id").rename(columns={"effect": "effect_sign", "ref": "ref_h", "alt": "alt_h"})
    checked[["ref", "alt"]] = unique[["ref", "alt"]].to_numpy()
    windows = variants.merge(checked, on=keys, how="left", validate="many_to_one")
    windows["effect"] = windows["effect"] * windows.pop("effect_sign")
    windows["ref"], windows["alt"] = windows.pop("ref_h"), windows.pop("alt_h")
    # A swapped variant is renamed after its harmonised alleles, as every id is built (chr_pos_ref_alt_b38).
    swapped = windows["harmonisation"] == "swapped"
    windows.loc[swapped, "variant_id"] = variant_ids(windows[swapped], source.build)

    stats = storage.read_stats("dhs_filtered_variants", release)
    rows = []
    for truth_set, group in windows.groupby("truth_set", sort=True):
        unique_group = group.drop_duplicates("variant_id")
        agreement, n_checked = reference_agreement(unique_group)
        excluded = exclusion_counts(unique_group)
        stats.setdefault(truth_set, {}).update(
            windows_ok=int((unique_group["window_status"] == OK).sum()),
            window_exclusions=dict(excluded),
            reference_agreement=agreement,
            reference_checked=n_checked,
            swapped=int((unique_group["harmonisation"] == "swapped").sum()),
        )
        rows.append({"truth_set": truth_set, "variants": len(unique_group), "windows_ok": stats[truth_set]["windows_ok"],
                     "ref_agreement": agreement, "swapped": stats[truth_set]["swapped"],
                     "excluded": ", ".join(f"{k}={v:,}" for k, v in sorted(excluded.items())) or "none"})
    path = storage.write_table(windows, "sequence_windows", release)
    storage.write_stats(stats, "sequence_windows", release)
    unique_all = windows.drop_duplicates(["truth_set", "variant_id"])
    context.log.info(f"{release}: {int((unique_all['window_status'] == OK).sum()):,} of {len(unique_all):,} windows usable")
    return dg.MaterializeResult(
        metadata={
            **table_metadata(path, len(windows)),
            "release": release,
            "window_length": window_length,
            "predictor": predictor.predictor_name(),
            "windows_by_truth_set": dg.MetadataValue.md(markdown_table(rows)),
            "n_variants": len(unique_all),
            "n_windows_ok": int((unique_all["window_status"] == OK).sum()),
            **exclusion_metadata(exclusion_counts(unique_all)),
        }
    )

