"""GTEx eQTL tables (`signif_variant_gene_pairs` and `egenes`) parsed by header name into the QTL schema.

The seed script read column 6 (`pval_nominal`) as the effect; here `slope` is looked up by name and a
file without it is an error, whatever its column order. v8 tables are gzipped text; v10 ships its significant
pairs as parquet written by tensorQTL, whose names for the same columns are mapped here (`TENSORQTL_NAMES`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from endobench.lib.codes import arrow_codes, recode
from endobench.lib.genome.builds import normalize_build
from endobench.lib.io.compression import PARQUET, TEXT_KINDS, refuse, sniff
from endobench.lib.io.errors import InputError, quote, replace_damaged
from endobench.lib.io.tables import check_header, numeric_column, read_header, read_table, read_typed_table
from endobench.lib.truth_sets.schema import (
    PVAL_OUT_OF_RANGE,
    QVAL_MISSING,
    QVAL_OUT_OF_RANGE,
    DistinctIds,
    ParsedQtls,
    probability_exclusions,
    validated_qtl_table,
)

SIGNIF_PAIRS = "signif_variant_gene_pairs"
EGENES = "egenes"
# The effect a truth set is measured in: `slope` (normalised expression per ALT allele, every GTEx table) or
# `log2_aFC` (log2 allelic fold change of expression, eGenes tables): the scale of a log-fold-change scorer.
SLOPE = "slope"
LOG2_AFC = "log2_aFC"
EFFECTS = (SLOPE, LOG2_AFC)

_SIGNIF_REQUIRED = ["variant_id", "gene_id", "slope", "slope_se", "pval_nominal"]
_SIGNIF_OPTIONAL = ["maf", "tss_distance"]
_EGENES_REQUIRED = ["gene_id", "variant_id", "slope", "slope_se", "pval_nominal", "qval"]
_EGENES_OPTIONAL = ["maf", "tss_distance", "gene_name"]
_BUILD_SUFFIX = {"b38": "hg38", "b37": "hg19"}  # the inverse of qtl.BUILD_ID_SUFFIX
# tensorQTL's names (GTEx v10) for the columns GTEx v8 calls gene_id and tss_distance, taken where GTEx's own are
# absent. tensorQTL's `af` is the ALT allele frequency: without a `maf` column, maf = min(af, 1 - af).
TENSORQTL_NAMES = {"phenotype_id": "gene_id", "start_distance": "tss_distance"}
_TEXT_COLUMNS = ("variant_id", "gene_id", "gene_name")


def detect_kind(path: Path) -> str:
    """Tell the two GTEx file kinds apart by their header (or parquet schema), not their name."""
    return _kind(_header(Path(path)))


# Columns only an egenes table has (GTEx v8 and tensorQTL's v10 eGenes): any of them makes the file egenes, whose
# `qval` is then required. Guessing from `qval` and `gene_name` alone turned an egenes file with either renamed into
# "every pair significant" (found by the property tests).
_EGENES_ONLY = {"qval", "gene_name", "num_var", "beta_shape1", "beta_shape2", "true_df", "pval_true_df", "pval_perm"}


def _kind(header: list[str]) -> str:
    return EGENES if _EGENES_ONLY & set(header) else SIGNIF_PAIRS


def _header(path: Path) -> list[str]:
    kind = sniff(path, "GTEx eQTL")
    if kind == PARQUET:
        try:
            return pq.read_schema(path).names
        except (pa.ArrowException, OSError) as exc:
            raise InputError(path, f"the parquet file cannot be read ({exc})", replace_damaged(path),
                             damaged=True) from exc
    if kind not in TEXT_KINDS:
        raise refuse(path, kind, "GTEx eQTL")
    return read_header(path, "GTEx eQTL")


def columns_by_name(path: Path, header: list[str], kind: str, effect: str = SLOPE) -> tuple[dict[str, str], list[str]]:
    """GTEx name -> the file's name for each column read, and the GTEx names in reading order (`af` last if read).

    A missing required column is an error naming it (`check_header` for text, the schema for parquet). With
    `effect` `log2_aFC` (eGenes tables only), that column is read where `slope` is, and no standard error is read:
    GTEx gives log2_aFC a confidence interval, not a standard error on its scale.
    """
    names = {n: n for n in header}
    for theirs, ours in TENSORQTL_NAMES.items():
        if theirs in names and ours not in names:
            names[ours] = theirs
    required, optional = (_EGENES_REQUIRED, _EGENES_OPTIONAL) if kind == EGENES else (_SIGNIF_REQUIRED, _SIGNIF_OPTIONAL)
    if effect != SLOPE:
        if effect not in EFFECTS:
            raise ValueError(f"unknown GTEx effect {effect!r}: use one of {EFFECTS}")
        if kind != EGENES or effect not in names:
            raise InputError(path, f"no {effect!r} column: GTEx gives {effect} in its eGenes tables only, and this "
                             f"is a {kind} table", "Set the GTEx effect to slope, or use an eGenes table")
        names[SLOPE] = names[effect]
        required = [c for c in required if c != "slope_se"]
    missing = [c for c in required if c not in names]
    if missing and sniff(path) != PARQUET:
        check_header(path, required, f"GTEx {kind}")  # raises, with near-miss hints
    if missing:
        raise InputError(
            path, f"missing required column(s) {missing} in the parquet schema (found {header[:14]})",
            f"Provide a GTEx {kind} table whose schema names these columns (tensorQTL's phenotype_id and "
            "start_distance are accepted for gene_id and tss_distance); columns are matched by name, never by position",
        )
    wanted = [*required, *[c for c in optional if c in names]]
    if "maf" not in names and "af" in names:
        wanted.append("af")
    return {c: names[c] for c in wanted}, wanted


def arrow_maf_from_af(columns: dict[str, pa.ChunkedArray]) -> None:
    """Replace tensorQTL's `af` (ALT allele frequency) by `maf = min(af, 1 - af)`, in place."""
    if "af" in columns:
        af = columns.pop("af")
        columns["maf"] = pc.min_element_wise(af, pc.subtract(1.0, af))


def read_gtex_eqtls(path: Path, *, truth_set: str, qval_threshold: float = 0.05, effect: str = SLOPE) -> ParsedQtls:
    """Read a GTEx tissue table into the QTL schema (effect = `slope`, the signed effect of ALT, or with `effect`
    `log2_aFC` the eGenes' log2 allelic fold change of ALT over REF, without a standard error).

    For `egenes`, every gene row is kept with `is_significant = qval <= qval_threshold`, so the
    non-significant genes can serve as negatives.

    A clean file (all of GTEx's own) is read by Arrow with typed columns and its ids split in Arrow: the 2.4 M
    rows of Whole Blood in about 4 s and 1.0 GB peak (`bench/ingest.py`). Anything irregular (a non-number, a malformed id,
    mixed build suffixes, a truncated gzip) sends the file to the text reader below, whose errors name the line;
    both readers give the same frame on a clean file. A parquet table (GTEx v10's significant pairs) is read by
    column name too, tensorQTL's names included; its errors name the row.
    """
    path = Path(path)
    header = _header(path)
    kind = _kind(header)
    if sniff(path) == PARQUET:
        return _read_gtex_parquet(path, header, kind, truth_set, qval_threshold, effect)
    columns, wanted = columns_by_name(path, header, kind, effect)
    numbers = [c for c in wanted if c not in _TEXT_COLUMNS]
    table = read_typed_table(path, [columns["variant_id"], columns["gene_id"]], [columns[c] for c in numbers])
    if table is not None:
        typed_columns = {c: table.column(columns[c]) for c in ["variant_id", "gene_id", *numbers]}
        arrow_maf_from_af(typed_columns)
        table = pa.table(typed_columns)
    typed = _frame_from_arrow(table, kind, qval_threshold) if table is not None else None
    if typed is None:
        return _read_gtex_text(path, kind, truth_set, qval_threshold, columns, effect)
    ranges = _probability_exclusions(path, columns, kind, lambda name: float_array(table.column(name)))
    del table
    frame, build, ids, numbers = typed
    excluded: Counter = Counter()
    kept = validated_qtl_table(frame, path, truth_set, build, excluded, ids=ids, columns=numbers, row_exclusions=ranges)
    return ParsedQtls(table=kept, rows_read=len(frame), excluded=excluded, kind=kind)


def _frame_from_arrow(
    table: pa.Table, kind: str, qval_threshold: float, first_line: int = 2
) -> tuple[pd.DataFrame, str, DistinctIds, dict[str, pa.ChunkedArray]] | None:
    """The rows `validated_qtl_table` takes, the build, the distinct ids split, and the columns that only pass
    through (standard error, p-value, MAF, TSS distance, line), left in Arrow; None when the ids need the text
    reader.

    Each distinct id (about 970 K of Whole Blood's 2.4 M rows) is split once (`id_parts`). Rows carry only the code
    of their id, numbered by first appearance, so `validated_qtl_table` checks each variant once; gene_id becomes a
    categorical.
    """
    row_id, spellings = arrow_codes(table.column("variant_id"))
    split = id_parts(spellings)
    del spellings
    if split is None:
        return None
    chrom, positions, ref, alt, build = split

    def categorical(values: pa.Array | pa.ChunkedArray, clean=None) -> pd.Categorical:
        """`values` as codes into its distinct values, `clean` applied to each distinct value (merging any that
        become equal)."""
        codes, distinct = arrow_codes(values)
        codes, categories = recode(codes, distinct,
                                   (clean(distinct) if clean else distinct).to_numpy(zero_copy_only=False))
        return pd.Categorical.from_codes(codes, categories=pd.Index(categories, dtype=object))

    def number(column: str) -> np.ndarray:
        return table.column(column).to_numpy().astype(np.float64, copy=False)

    n = table.num_rows
    frame = pd.DataFrame({"gene_id": categorical(table.column("gene_id"), pc.utf8_trim_whitespace),
                          "effect": number("slope")}, copy=False)
    frame["is_significant"] = number("qval") <= qval_threshold if kind == EGENES else True
    # Columns no check reads go to the table as Arrow read them: 2.4 M rows copied once less each.
    passed = {"effect_se": "slope_se", "pval": "pval_nominal", "maf": "maf", "tss_distance": "tss_distance"}
    numbers = {ours: _nan_for_null(table.column(theirs)) for ours, theirs in passed.items()
               if theirs in table.column_names}
    numbers["source_line"] = pa.chunked_array([pa.array(np.arange(first_line, n + first_line))])
    ids = pd.DataFrame({"chrom": categorical(chrom), "pos": positions, "ref": categorical(ref),
                        "alt": categorical(alt)})
    return frame, build, DistinctIds(ids, row_id), numbers


def id_parts(ids: pa.Array) -> tuple[pa.Array, np.ndarray, pa.Array, pa.Array, str] | None:
    """chrom, pos (int64), ref, alt of distinct GTEx ids (`chr1_13550_G_A_b38`), split in Arrow, and their one build;
    None when any id is not of that form or the ids carry several builds (`split_ids` then says which line).

    Split from the right (contig names such as chrUn_KI270742v1 contain underscores), each id checked to be what
    `split_ids`' pattern `^(.+)_(\\d+)_([^_]+)_([^_]+)_([^_]+)$` accepts.
    """
    parts = pc.split_pattern(pc.utf8_trim_whitespace(ids), "_", max_splits=4, reverse=True)
    if len(ids) == 0 or ids.null_count or pc.min(pc.list_value_length(parts)).as_py() != 5:
        return None
    every_fifth = pc.list_flatten(parts)  # five fields per id, so field k of id i is element 5 i + k
    chrom, pos, ref, alt, suffix = (every_fifth.take(np.arange(k, len(every_fifth), 5)) for k in range(5))
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
    return chrom, positions, ref, alt, normalize_build(_BUILD_SUFFIX[suffixes[0]])


def _probability_exclusions(path: Path, columns: dict[str, str], kind: str, values) -> dict[str, np.ndarray]:
    """The rows whose nominal p-value is outside [0, 1], and for egenes whose q-value is missing or outside it:
    counted, never believed (a q-value above 1 or missing would make a gene a silent negative). `values(name)`
    gives the column of GTEx name `name` as floats; `columns` maps GTEx names to the file's, for the message."""
    ranges = probability_exclusions(path, columns["pval_nominal"], values("pval_nominal"), PVAL_OUT_OF_RANGE)
    if kind == EGENES:
        ranges |= probability_exclusions(path, columns["qval"], values("qval"), QVAL_OUT_OF_RANGE,
                                         missing=QVAL_MISSING)
    return ranges


def float_array(column: pa.ChunkedArray) -> np.ndarray:
    """A float column as numpy, NaN where the file had NA."""
    return _nan_for_null(column).to_numpy().astype(np.float64, copy=False)


def _nan_for_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A missing number as NaN, as the text reader (and numpy) writes it; a column without one is not copied."""
    return column if column.null_count == 0 else column.fill_null(float("nan"))


def _read_gtex_text(
    path: Path, kind: str, truth_set: str, qval_threshold: float, columns: dict[str, str] | None = None,
    effect: str = SLOPE,
) -> ParsedQtls:
    """Every column as text, then parsed with pandas: slower, and the reader whose errors name the line."""
    columns = columns or columns_by_name(path, _header(path), kind, effect)[0]
    raw = read_table(path, list(columns.values()), f"GTEx {kind}").rename(columns={v: k for k, v in columns.items()})
    parts, build = split_ids(raw["variant_id"], path, lines=raw.index.to_numpy())
    excluded: Counter = Counter()
    frame = pd.DataFrame(
        {
            "chrom": parts[0],
            "pos": pd.to_numeric(parts[1], errors="coerce"),
            "ref": parts[2],
            "alt": parts[3],
            "gene_id": raw["gene_id"].str.strip(),
            "effect": numeric_column(raw, "slope", path),
            "effect_se": numeric_column(raw, "slope_se", path) if "slope_se" in raw else np.nan,
            "pval": numeric_column(raw, "pval_nominal", path),
            "maf": numeric_column(raw, "maf", path) if "maf" in raw else _maf_from_af(raw, path),
            "tss_distance": numeric_column(raw, "tss_distance", path) if "tss_distance" in raw else np.nan,
            "source_line": raw.index.to_numpy(),
        }
    )
    if kind == EGENES:
        frame["is_significant"] = (numeric_column(raw, "qval", path) <= qval_threshold).to_numpy()
    else:
        frame["is_significant"] = True
    ranges = _probability_exclusions(path, columns, kind, lambda name: numeric_column(raw, name, path).to_numpy())
    kept = validated_qtl_table(frame, path, truth_set, build, excluded, row_exclusions=ranges)
    return ParsedQtls(table=kept, rows_read=len(raw), excluded=excluded, kind=kind)


def _maf_from_af(raw: pd.DataFrame, path: Path) -> pd.Series | float:
    """min(af, 1 - af) from tensorQTL's ALT allele frequency, when the table has it."""
    if "af" not in raw:
        return np.nan
    af = numeric_column(raw, "af", path)
    return np.minimum(af, 1.0 - af)


def split_ids(ids: pd.Series, path: Path, *, lines: np.ndarray | None, first_row: int = 1
              ) -> tuple[pd.DataFrame, str]:
    """chrom, pos, ref, alt and build suffix of GTEx ids (columns 0-4) and their one build.

    A malformed id, or ids of several builds, is an error naming the line of the first offender (`lines` holds
    each row's line), or its row when the table has no lines (parquet, `lines=None`; `ids` start at `first_row`).
    """
    # From the right: contig names such as chrUn_KI270742v1 contain underscores themselves.
    parts = ids.str.strip().str.extract(r"^(.+)_(\d+)_([^_]+)_([^_]+)_([^_]+)$")

    def error(bad: int, problem: str, fix: str) -> InputError:
        where = {"line": int(lines[bad])} if lines is not None else {}
        return InputError(path, problem + ("" if where else f" (first at row {bad + first_row:,})"), fix, **where)

    malformed = parts.isna().any(axis=1).to_numpy()
    if malformed.any():
        bad = int(np.flatnonzero(malformed)[0])
        raise error(bad, f"variant_id {quote(ids.iloc[bad])} is not in GTEx form chr_pos_ref_alt_b38 "
                         f"({int(malformed.sum()):,} such rows)", "Use the GTEx variant ids unchanged")
    suffixes = parts[4].value_counts()
    unknown = [s for s in suffixes.index if s not in _BUILD_SUFFIX]
    if unknown or len(suffixes) != 1:
        odd = unknown[0] if unknown else suffixes.index[-1]
        bad = int(np.flatnonzero((parts[4] == odd).to_numpy())[0])
        raise error(bad, f"variant ids carry build suffix(es) {sorted(map(str, suffixes.index))[:5]}, expected exactly "
                         f"one of {sorted(_BUILD_SUFFIX)} (first {quote(odd, 40)} row: {quote(ids.iloc[bad])})",
                    "Split the file by build, or lift it over first")
    return parts, normalize_build(_BUILD_SUFFIX[suffixes.index[0]])


def _read_gtex_parquet(path: Path, header: list[str], kind: str, truth_set: str, qval_threshold: float,
                       effect: str = SLOPE) -> ParsedQtls:
    """A GTEx table in parquet (v10's significant pairs), read by column name; rows are numbered from 1.

    The columns are typed already, so only the ids can be irregular: a malformed id is an error naming its row.
    """
    columns, wanted = columns_by_name(path, header, kind, effect)
    try:
        table = pq.read_table(path, columns=list(columns.values())).rename_columns(wanted)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(path, f"the parquet file cannot be read ({exc})", replace_damaged(path),
                             damaged=True) from exc
    typed = {}
    for name in wanted:
        target = pa.string() if name in _TEXT_COLUMNS else pa.float64()
        try:
            typed[name] = pc.cast(table.column(name), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(path, f"column {name!r} is {table.column(name).type} in the parquet schema, not "
                             f"{'text' if target == pa.string() else 'a number'} ({exc})",
                             f"Check that {name!r} holds what GTEx puts there") from exc
    arrow_maf_from_af(typed)
    table = pa.table(typed)
    if table.num_rows == 0:
        raise InputError(path, f"the GTEx {kind} table has no rows", "Point the run at a complete file")
    genes = table.column("gene_id")
    if genes.null_count:
        row = int(np.flatnonzero(genes.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise InputError(path, f"the gene id ({columns['gene_id']!r}) is missing (first at row {row}, "
                         f"{genes.null_count} row(s) in all)", "Every row of a GTEx table names its gene: "
                         "fill in the ids or remove those rows")
    ids = table.column("variant_id")
    typed_frame = _frame_from_arrow(table, kind, qval_threshold, first_line=1) if ids.null_count == 0 else None
    if typed_frame is None:
        split_ids(ids.to_pandas(), path, lines=None)  # raises, naming the first bad row
        raise InputError(path, "some variant ids could not be split into chrom, pos, ref and alt",
                         "Use the GTEx variant ids unchanged")
    frame, build, ids, numbers = typed_frame
    ranges = _probability_exclusions(path, columns, kind, lambda name: float_array(table.column(name)))
    excluded: Counter = Counter()
    kept = validated_qtl_table(frame, path, truth_set, build, excluded, ids=ids, columns=numbers, row_exclusions=ranges)
    return ParsedQtls(table=kept, rows_read=table.num_rows, excluded=excluded, kind=kind)


THRESHOLD = "pval_nominal_threshold"


def gene_thresholds(path: Path) -> pd.Series:
    """Each gene's own nominal p-value threshold by gene id: GTEx calls a test of the gene significant at or below
    it (`pval_nominal_threshold` of its eGenes and significant-pairs tables, read by name); empty when the table
    gives none. A gene given several values keeps the largest, so that no test it calls significant passes as not."""
    path = Path(path)
    header = _header(path)
    gene = next((name for name in ("gene_id", "phenotype_id") if name in header), None)
    if gene is None or THRESHOLD not in header:
        return pd.Series(dtype=np.float64, name=THRESHOLD)
    if sniff(path) == PARQUET:
        frame = pq.read_table(path, columns=[gene, THRESHOLD]).to_pandas()
    else:
        typed = read_typed_table(path, [gene], [THRESHOLD])
        frame = typed.to_pandas() if typed is not None else read_table(path, [gene, THRESHOLD], "GTEx eQTL")
        frame[THRESHOLD] = numeric_column(frame, THRESHOLD, path)
    frame[gene] = frame[gene].astype(str).str.strip()
    return frame.groupby(gene, sort=False)[THRESHOLD].max().rename_axis("gene_id")
