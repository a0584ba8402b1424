"""GTEx eQTL tables (`signif_variant_gene_pairs` and `egenes`) parsed by header name into the QTL schema.

The seed script read column 6 (`pval_nominal`) as the effect; here `slope` is looked up by name and a
file without it is an error, whatever its column order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from endobench.lib.builds import normalize_build
from endobench.lib.errors import InputError
from endobench.lib.qtl import (
    ParsedQtls,
    _first_line,
    check_header,
    finalize,
    numeric_column,
    read_table,
    read_typed_table,
)

SIGNIF_PAIRS = "signif_variant_gene_pairs"
EGENES = "egenes"

_SIGNIF_REQUIRED = ["variant_id", "gene_id", "slope", "slope_se", "pval_nominal"]
_SIGNIF_OPTIONAL = ["maf", "tss_distance"]
_EGENES_REQUIRED = ["gene_id", "variant_id", "slope", "slope_se", "pval_nominal", "qval"]
_EGENES_OPTIONAL = ["maf", "tss_distance", "gene_name"]
_BUILD_SUFFIX = {"b38": "hg38", "b37": "hg19"}  # the inverse of qtl.BUILD_ID_SUFFIX


def detect_kind(path: Path) -> str:
    """Tell the two GTEx file kinds apart by their header, not their name."""
    header = _first_line(Path(path), "GTEx eQTL").rstrip("\r\n").split("\t")
    if "qval" in header and "gene_name" in header:
        return EGENES
    return SIGNIF_PAIRS


def read_gtex_eqtls(path: Path, *, truth_set: str, qval_threshold: float = 0.05) -> ParsedQtls:
    """Read a GTEx tissue table into the QTL schema (effect = `slope`, the signed effect of ALT).

    For `egenes`, every gene row is kept with `is_significant = qval <= qval_threshold`, so the
    non-significant genes can serve as negatives.

    A clean file (all of GTEx's own) is read by Arrow with typed columns and its ids split in Arrow: the 2.4 M
    rows of Whole Blood in about 4 s and 1.0 GB peak (`bench/ingest.py`). Anything irregular (a non-number, a malformed id,
    mixed build suffixes, a truncated gzip) sends the file to the text reader below, whose errors name the line;
    both readers give the same frame on a clean file.
    """
    path = Path(path)
    kind = detect_kind(path)
    required, optional = (_EGENES_REQUIRED, _EGENES_OPTIONAL) if kind == EGENES else (_SIGNIF_REQUIRED, _SIGNIF_OPTIONAL)
    header = check_header(path, required, f"GTEx {kind}")
    present = [c for c in optional if c in header]
    numbers = [c for c in [*required, *present] if c not in ("variant_id", "gene_id", "gene_name")]
    table = read_typed_table(path, ["variant_id", "gene_id"], numbers)
    typed = _frame_from_arrow(table, kind, qval_threshold) if table is not None else None
    del table  # the frame holds copies; the Arrow buffers would only raise the peak memory of `finalize`
    if typed is None:
        return _read_gtex_text(path, kind, truth_set, qval_threshold)
    frame, build, row_id = typed
    excluded: Counter = Counter()
    kept = finalize(frame, path, truth_set, build, excluded, same_variant=row_id)
    return ParsedQtls(frame=kept, rows_read=len(frame), excluded=excluded, kind=kind)


def _frame_from_arrow(table: pa.Table, kind: str, qval_threshold: float) -> tuple[pd.DataFrame, str, np.ndarray] | None:
    """The frame `finalize` takes, the build and each row's distinct-id code; None when the ids need the text reader.

    Each distinct id (about 970 K of Whole Blood's 2.4 M rows) is split once, from the right in Arrow (contig names
    such as chrUn_KI270742v1 contain underscores) and checked to be what the text reader's pattern
    `^(.+)_(\\d+)_([^_]+)_([^_]+)_([^_]+)$` accepts. Rows carry only the code of their id, numbered by first
    appearance, and chrom, ref, alt and gene_id become categoricals, so `finalize` checks each distinct value once.
    """
    encoded = pc.dictionary_encode(table.column("variant_id").combine_chunks())
    row_id = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    parts = pc.split_pattern(pc.utf8_trim_whitespace(encoded.dictionary), "_", max_splits=4, reverse=True)
    if pc.min(pc.list_value_length(parts)).as_py() != 5:
        return None
    chrom, pos, ref, alt, suffix = (pc.list_element(parts, k) for k in range(5))
    del encoded, parts
    if min(pc.min(pc.utf8_length(field)).as_py() for field in (chrom, ref, alt, suffix)) == 0:
        return None
    if not pc.all(pc.ascii_is_decimal(pos)).as_py():
        return None
    suffixes = pc.unique(suffix).to_pylist()
    if len(suffixes) != 1 or suffixes[0] not in _BUILD_SUFFIX:
        return None
    try:
        positions = pc.cast(pos, pa.int64()).to_numpy()
    except pa.ArrowInvalid:
        return None

    def categorical(values: pa.Array, rows: np.ndarray | None = None) -> pd.Categorical:
        """`values` as codes into its distinct values; `rows` maps each table row to an element of `values`."""
        encoded = values.dictionary_encode()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        return pd.Categorical.from_codes(codes if rows is None else codes[rows],
                                         categories=pd.Index(encoded.dictionary.to_pylist(), dtype=object))

    def number(column: str) -> np.ndarray:
        return table.column(column).to_numpy().astype(np.float64, copy=False)

    n = table.num_rows
    frame = pd.DataFrame(
        {
            "chrom": categorical(chrom, row_id),
            "pos": positions[row_id],
            "ref": categorical(ref, row_id),
            "alt": categorical(alt, row_id),
            "gene_id": categorical(pc.utf8_trim_whitespace(table.column("gene_id").combine_chunks())),
            "effect": number("slope"),
            "effect_se": number("slope_se"),
            "pval": number("pval_nominal"),
            "maf": number("maf") if "maf" in table.column_names else np.nan,
            "tss_distance": number("tss_distance") if "tss_distance" in table.column_names else np.nan,
            "source_line": np.arange(2, n + 2),
        },
        copy=False,
    )
    frame["is_significant"] = number("qval") <= qval_threshold if kind == EGENES else True
    return frame, normalize_build(_BUILD_SUFFIX[suffixes[0]]), row_id


def _read_gtex_text(path: Path, kind: str, truth_set: str, qval_threshold: float) -> ParsedQtls:
    """Every column as text, then parsed with pandas: slower, and the reader whose errors name the line."""
    required, optional = (_EGENES_REQUIRED, _EGENES_OPTIONAL) if kind == EGENES else (_SIGNIF_REQUIRED, _SIGNIF_OPTIONAL)
    raw = read_table(path, required, f"GTEx {kind}", optional)
    # From the right: contig names such as chrUn_KI270742v1 contain underscores themselves.
    parts = raw["variant_id"].str.strip().str.extract(r"^(.+)_(\d+)_([^_]+)_([^_]+)_([^_]+)$")
    malformed = parts.isna().any(axis=1).to_numpy()
    if malformed.any():
        bad = int(np.flatnonzero(malformed)[0])
        raise InputError(
            path,
            f"variant_id {raw['variant_id'].iloc[bad]!r} is not in GTEx form chr_pos_ref_alt_b38 "
            f"({int(malformed.sum()):,} such rows)",
            "Use the GTEx variant ids unchanged",
            line=bad + 2,
        )
    suffixes = parts[4].value_counts()
    unknown = [s for s in suffixes.index if s not in _BUILD_SUFFIX]
    if unknown or len(suffixes) != 1:
        odd = unknown[0] if unknown else suffixes.index[-1]
        bad = int(np.flatnonzero((parts[4] == odd).to_numpy())[0])
        raise InputError(
            path,
            f"variant ids carry build suffix(es) {sorted(map(str, suffixes.index))[:5]}, expected exactly one of "
            f"{sorted(_BUILD_SUFFIX)} (first {odd!r} row: {raw['variant_id'].iloc[bad]})",
            "Split the file by build, or lift it over first",
            line=bad + 2,
        )
    suffixes = suffixes.index
    build = normalize_build(_BUILD_SUFFIX[suffixes[0]])
    excluded: Counter = Counter()
    frame = pd.DataFrame(
        {
            "chrom": parts[0],
            "pos": pd.to_numeric(parts[1], errors="coerce"),
            "ref": parts[2],
            "alt": parts[3],
            "gene_id": raw["gene_id"].str.strip(),
            "effect": numeric_column(raw, "slope", path),
            "effect_se": numeric_column(raw, "slope_se", path),
            "pval": numeric_column(raw, "pval_nominal", path),
            "maf": numeric_column(raw, "maf", path) if "maf" in raw else np.nan,
            "tss_distance": numeric_column(raw, "tss_distance", path) if "tss_distance" in raw else np.nan,
            "source_line": np.arange(2, len(raw) + 2),
        }
    )
    if kind == EGENES:
        frame["is_significant"] = (numeric_column(raw, "qval", path) <= qval_threshold).to_numpy()
    else:
        frame["is_significant"] = True
    kept = finalize(frame, path, truth_set, build, excluded)
    return ParsedQtls(frame=kept, rows_read=len(raw), excluded=excluded, kind=kind)


