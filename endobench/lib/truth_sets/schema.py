"""The one schema every truth set is read into, with bad rows counted by reason instead of dropped silently.

Every truth set (GTEx `signif_variant_gene_pairs`, GTEx `egenes`, a generic caQTL/dsQTL table, a fine-mapped table)
becomes a table with `QTL_COLUMNS`. `effect` is the signed effect of the ALT allele (GTEx `slope`, dsQTL `Beta`),
never a p-value. The table is Arrow with its text dictionary-encoded (`QTL_SCHEMA`): 2.4 M GTEx rows hold a few
integer codes each, so they go to parquet and back without a Python string per row; `ParsedQtls.frame` gives the
pandas frame with text columns for code that wants one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from endobench.lib.codes import arrow_codes, as_codes, column_codes, group, is_first, recode, text_codes
from endobench.lib.genome.builds import CHROM_SIZES, PARTITION_CHROMOSOMES, chrom_length, normalize_chrom
from endobench.lib.genome.sequence import AMBIGUOUS_ALLELE, allele_problems
from endobench.lib.io.errors import InputError, quote
from endobench.lib.io.tables import frame_from_arrow

QTL_COLUMNS = [
    "truth_set", "variant_id", "chrom", "pos", "ref", "alt", "gene_id", "effect", "effect_se", "pval",
    "maf", "tss_distance", "is_significant", "build", "source_line",
]
TEXT = pa.dictionary(pa.int32(), pa.string())
QTL_SCHEMA = pa.schema([
    ("truth_set", TEXT), ("variant_id", TEXT), ("chrom", TEXT), ("pos", pa.int64()), ("ref", TEXT), ("alt", TEXT),
    ("gene_id", TEXT), ("effect", pa.float64()), ("effect_se", pa.float64()), ("pval", pa.float64()),
    ("maf", pa.float64()), ("tss_distance", pa.float64()), ("is_significant", pa.bool_()), ("build", TEXT),
    ("source_line", pa.int64()),
])


BUILD_ID_SUFFIX = {"hg38": "b38", "hg19": "b37", "hg18": "b36"}


@dataclass
class ParsedQtls:
    """The kept rows of a QTL table (`QTL_SCHEMA`) plus the bookkeeping the funnel needs."""

    table: pa.Table
    rows_read: int
    excluded: Counter = field(default_factory=Counter)
    kind: str = ""

    @property
    def frame(self) -> pd.DataFrame:
        """The rows as pandas, text as Python strings (a copy: built on each call)."""
        return frame_from_arrow(self.table)

    @property
    def warnings(self) -> list[str]:
        """What the user should hear about beyond the counts: rows that contradict each other."""
        n = self.excluded.get(CONFLICTING_DUPLICATE, 0)
        if not n:
            return []
        return [f"{n:,} rows repeat a variant (and gene) with a different effect; none of them is kept "
                f"({CONFLICTING_DUPLICATE}): check how the table was made"]


def _strip_upper(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.Series(values, dtype=object).str.strip().str.upper(), dtype=object)


@dataclass
class DistinctIds:
    """A table's variants as spelled: chrom, pos, ref and alt once per distinct spelling (`frame`), and each row's
    spelling (`of_row`, numbered by first appearance). A GTEx file spells its 970 K variants in 2.4 M rows."""

    frame: pd.DataFrame
    of_row: np.ndarray


def validated_qtl_table(
    frame: pd.DataFrame, path: Path, truth_set: str, build: str, excluded: Counter, ids: DistinctIds | None = None,
    columns: dict[str, pa.ChunkedArray] | None = None, row_exclusions: dict[str, np.ndarray] | None = None,
) -> pa.Table:
    """Validate alleles, chromosomes and positions shared by every truth-set kind; count what is excluded.

    Every string check runs once per distinct chromosome or allele (a few thousand values at GTEx scale) and is
    mapped back to the rows by integer codes, so 2.4 M rows cost array operations, not 2.4 M string operations.
    A row gets the first reason that applies, in the order below. The variant columns (chrom, pos, ref, alt) are
    `frame`'s, or, when the reader has split each distinct id once, `ids`': then every check of the variant runs
    once per id and reaches the rows through `ids.of_row`. The kept rows come back as a `QTL_SCHEMA` table whose
    text columns are those same codes into the distinct values. `columns` holds row-level columns no check reads
    (standard errors, p-values, lines) already in Arrow: the table takes their kept rows without a copy through
    numpy, and without any copy when the excluded rows are few (then the kept rows are slices).
    `row_exclusions` are the reader's own reasons for rows (`probability_exclusions`), applied after the variant's.
    """
    n = len(frame)
    passed = columns or {}
    variants, of_row = (ids.frame, ids.of_row) if ids is not None else (frame, None)
    pos = np.asarray(variants["pos"], dtype=np.float64)
    _refuse_fractional(pos, frame, path, of_row)
    checks = check_variants(variants, build)
    chrom_codes, chrom_uniques = checks.chrom_codes, checks.chrom_uniques
    ref_codes, alt_codes, allele_uniques = checks.ref_codes, checks.alt_codes, checks.allele_uniques
    reasons, m = checks.reasons, len(variants)
    n_alleles = len(allele_uniques)
    variant = group((chrom_codes, len(chrom_uniques)), as_codes(pos), (ref_codes, n_alleles), (alt_codes, n_alleles))
    one_id = np.empty(int(variant.max()) + 1 if m else 0, dtype=np.int64)
    one_id[variant] = np.arange(m)  # any spelling of a variant: they agree on chrom, pos, ref and alt
    whole = np.where(np.isfinite(pos), pos, 0).astype(np.int64)
    chroms_text, alleles_text = _text(chrom_uniques), _text(allele_uniques)
    ids = variant_id_array(chroms_text.take(chrom_codes[one_id]), whole[one_id], alleles_text.take(ref_codes[one_id]),
                           alleles_text.take(alt_codes[one_id]), BUILD_ID_SUFFIX[build])

    def per_row(values: np.ndarray) -> np.ndarray:
        return values if of_row is None else values[of_row]

    reasons, variant = per_row(reasons), per_row(variant)
    effect = np.asarray(frame["effect"], dtype=np.float64)
    unplaced = _REASONS.index("unplaced") + 1
    reasons[~np.isfinite(effect) & (reasons != unplaced)] = _REASONS.index("invalid_effect") + 1
    for reason, rows in (row_exclusions or {}).items():
        reasons[rows & (reasons == 0)] = _REASONS.index(reason) + 1
    gene = text_codes(frame["gene_id"]) if "gene_id" in frame else (np.zeros(n, dtype=np.int64), [None])
    pair_key = variant * max(len(gene[1]), 1) + gene[0]  # < n * n: no overflow below 3 G rows
    _mark_duplicates(pair_key, effect, reasons)

    counts = np.bincount(reasons, minlength=len(_REASONS) + 1)
    excluded.update({reason: int(counts[i + 1]) for i, reason in enumerate(_REASONS) if counts[i + 1]})
    kept = reasons == 0
    every = bool(kept.all())
    kept_rows = None if every else np.flatnonzero(kept)
    # The spelling of each kept row: a column held per spelling reaches the kept rows in one gather, not two.
    spelling = kept_rows if of_row is None else of_row if every else of_row[kept_rows]
    selection = None if every else pa.array(kept_rows)

    def rows(values: np.ndarray) -> np.ndarray:
        """The kept rows of a per-row array."""
        return values if every else values[kept_rows]

    def spelled(values: np.ndarray) -> np.ndarray:
        """The kept rows of an array held per spelling (per row when the reader gave no `ids`)."""
        return values if spelling is None else values[spelling]

    runs = None if every else _runs(kept_rows)

    def column(name: str) -> pa.Array | pa.ChunkedArray:
        """A row-level column of `columns` or of `frame` (zero-copy into Arrow), at the kept rows: slices of it when
        they are a few runs, else taken by Arrow (one copy, not two)."""
        if name in passed:
            values = passed[name]
        else:
            values = pa.array(frame[name].to_numpy() if name in frame else np.full(n, np.nan),
                              QTL_SCHEMA.field(name).type)
        if every:
            return values
        if runs is not None:
            pieces = [values.slice(start, stop - start) for start, stop in runs]
            return pa.chunked_array([c for piece in pieces for c in getattr(piece, "chunks", [piece])],
                                    type=values.type)
        return values.take(selection)

    n_kept = len(kept) if every else len(kept_rows)
    coded = {
        "truth_set": _dictionary(np.zeros(n_kept, dtype=np.int32), _text(np.array([truth_set], dtype=object))),
        "variant_id": _dictionary(rows(variant), ids),
        "chrom": _dictionary(spelled(chrom_codes.astype(np.int32)), chroms_text),
        "pos": pa.array(spelled(whole)),
        "ref": _dictionary(spelled(ref_codes.astype(np.int32)), alleles_text),
        "alt": _dictionary(spelled(alt_codes.astype(np.int32)), alleles_text),
        "gene_id": _dictionary(rows(gene[0]), _text(gene[1])),
        "build": _dictionary(np.zeros(n_kept, dtype=np.int32), _text(np.array([build], dtype=object))),
    }
    return pa.Table.from_arrays([coded[c] if c in coded else column(c) for c in QTL_COLUMNS], schema=QTL_SCHEMA)


@dataclass
class VariantChecks:
    """The checks every truth-set reader makes of its variants, one entry per variant row given.

    Chromosomes are spelled as `normalize_chrom` spells them and alleles stripped and upper-cased, as codes into
    their distinct values (REF and ALT share one vocabulary); `reasons` holds 0 for a variant kept, else 1 + the
    index of its first problem in `_REASONS` (`reason_names` spells them out).
    """

    chrom_codes: np.ndarray
    chrom_uniques: np.ndarray
    ref_codes: np.ndarray
    alt_codes: np.ndarray
    allele_uniques: np.ndarray
    reasons: np.ndarray

    def reason_names(self) -> np.ndarray:
        """Per variant: "" when kept, else the name of its first problem."""
        return np.array(["", *_REASONS], dtype=object)[self.reasons]

    def chrom(self) -> np.ndarray:
        return self.chrom_uniques[self.chrom_codes]

    def ref(self) -> np.ndarray:
        return self.allele_uniques[self.ref_codes]

    def alt(self) -> np.ndarray:
        return self.allele_uniques[self.alt_codes]


def check_variants(variants: pd.DataFrame, build: str) -> VariantChecks:
    """Chromosome, position and alleles of each variant (`chrom pos ref alt`, pos as numbers, NaN where missing)
    checked as every truth set's are, once per distinct chromosome and allele: a variant gets the first reason that
    applies, in the order below. The one place these checks are made: the readers and `score-variants` call it."""
    m = len(variants)
    chrom_codes, chrom_uniques = text_codes(variants["chrom"])
    chrom_codes, chrom_uniques = recode(chrom_codes, chrom_uniques,
                                         normalize_chrom(pd.Series(chrom_uniques, dtype=object)).to_numpy())
    ref_codes, ref_uniques = text_codes(variants["ref"])
    alt_codes, alt_uniques = text_codes(variants["alt"])
    # One shared vocabulary for REF and ALT, so "ref == alt" is a comparison of codes.
    both, allele_uniques = recode(
        np.concatenate([ref_codes, alt_codes + len(ref_uniques)]),
        np.concatenate([ref_uniques, alt_uniques]),
        _strip_upper(np.concatenate([ref_uniques, alt_uniques])),
    )
    ref_codes, alt_codes = both[:m], both[m:]
    alleles = pd.Series(allele_uniques, dtype=object)
    symbolic_u = alleles.str.contains(r"[<>*\[\]]", regex=True).fillna(False).to_numpy(dtype=bool)
    comma_u = alleles.str.contains(",", regex=False).fillna(False).to_numpy(dtype=bool)
    # N and the IUPAC ambiguity codes are not bases a model can be asked about, and N matches any genome base.
    problem_u = allele_problems(alleles)
    valid_u, ambiguous_u = problem_u == "", problem_u == AMBIGUOUS_ALLELE
    length_u = alleles.str.len().fillna(0).to_numpy(dtype=np.int64)
    chroms = pd.Series(chrom_uniques, dtype=object)
    unplaced_u = chroms.isin(["chr", "chrNA", "chrNAN"]).to_numpy()
    known_u = chroms.isin(list(CHROM_SIZES[build])).to_numpy()
    chrom_len_u = chrom_length(chroms, build)
    pos = np.asarray(variants["pos"], dtype=np.float64)
    reasons = np.zeros(m, dtype=np.int8)  # 0 = kept, else 1 + index into _REASONS

    def mark(mask: np.ndarray, reason: str) -> None:
        reasons[mask & (reasons == 0)] = _REASONS.index(reason) + 1

    pos_missing = np.isnan(pos)
    mark(unplaced_u[chrom_codes] | pos_missing, "unplaced")
    mark(symbolic_u[alt_codes] | symbolic_u[ref_codes], "symbolic_allele")
    mark(comma_u[alt_codes], "multiallelic")
    mark(ambiguous_u[ref_codes] | ambiguous_u[alt_codes], AMBIGUOUS_ALLELE)
    mark(~(valid_u[ref_codes] & valid_u[alt_codes]), "invalid_allele")
    mark(ref_codes == alt_codes, "ref_equals_alt")
    known = known_u[chrom_codes]
    mark(~known, "unknown_chromosome")
    mark(pos_missing | (pos < 1), "invalid_position")
    end = np.where(pos_missing, 0, pos) + length_u[ref_codes] - 1
    mark(known & (end > chrom_len_u[chrom_codes]), "off_chromosome_end")
    return VariantChecks(chrom_codes, np.asarray(chrom_uniques, dtype=object), ref_codes, alt_codes,
                         np.asarray(allele_uniques, dtype=object), reasons)


_MAX_RUNS = 1_024


def _runs(rows: np.ndarray) -> list[tuple[int, int]] | None:
    """The kept rows as [start, stop) runs of consecutive rows, when there are at most `_MAX_RUNS` of them (a table
    with a handful of bad rows); None when they are scattered."""
    if not len(rows):
        return None
    breaks = np.flatnonzero(np.diff(rows) != 1)
    if len(breaks) >= _MAX_RUNS:
        return None
    starts = np.concatenate([[rows[0]], rows[breaks + 1]])
    stops = np.concatenate([rows[breaks], [rows[-1]]]) + 1
    return list(zip(starts.tolist(), stops.tolist()))


def _text(values: np.ndarray) -> pa.Array:
    """Distinct text values (NA as null) as an Arrow string array."""
    return pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)


def _dictionary(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    """Rows as codes into `values`; a code of a null value becomes a null row (dictionaries hold no nulls)."""
    if values.null_count:
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        renumber = (np.cumsum(valid) - 1).astype(np.int32)
        indices = pa.array(renumber[codes], mask=~valid[codes])
        return pa.DictionaryArray.from_arrays(indices, values.filter(pa.array(valid)))
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32, copy=False)), values)


def qtl_table(frame: pd.DataFrame) -> pa.Table:
    """A QTL frame (as `ParsedQtls.frame` gives it, or lifted) back as a `QTL_SCHEMA` table."""
    arrays = []
    for column in QTL_SCHEMA:
        values = frame[column.name]
        if pa.types.is_dictionary(column.type):
            codes, uniques = text_codes(values)
            arrays.append(_dictionary(codes, _text(uniques)))
        else:
            arrays.append(pa.array(values.to_numpy(), type=column.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=QTL_SCHEMA)


CONFLICTING_DUPLICATE = "conflicting_duplicate"
PVAL_OUT_OF_RANGE = "pval_out_of_range"
QVAL_MISSING = "qval_missing"
QVAL_OUT_OF_RANGE = "qval_out_of_range"
PIP_MISSING = "pip_missing"
PIP_OUT_OF_RANGE = "pip_out_of_range"
_REASONS = [
    "unplaced", "invalid_effect", "symbolic_allele", "multiallelic", AMBIGUOUS_ALLELE, "invalid_allele",
    "ref_equals_alt", "unknown_chromosome", "invalid_position", "off_chromosome_end", PVAL_OUT_OF_RANGE,
    QVAL_MISSING, QVAL_OUT_OF_RANGE, PIP_MISSING, PIP_OUT_OF_RANGE, "duplicate_row", CONFLICTING_DUPLICATE,
]


def probability_exclusions(path: Path, column: str, values: np.ndarray, out_of_range: str,
                           missing: str | None = None) -> dict[str, np.ndarray]:
    """Rows whose probability (a p-value, q-value or PIP, from the file's `column`) is outside [0, 1]: the reason
    `out_of_range`, and with `missing` the rows without one. Such a value is never believed (a -log10 p in a p
    column would make every row look insignificant, a negative one significant). When more than half the rows
    are out of range the column holds something else: an InputError naming it."""
    values = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(values)
    outside = present & ((values < 0) | (values > 1))
    if outside.sum() * 2 > len(values):
        example = values[outside][0]
        raise InputError(path, f"column {column!r} holds values outside [0, 1] in {int(outside.sum()):,} of "
                         f"{len(values):,} rows (e.g. {example:g}): not a probability (a -log10 p-value?)",
                         f"Give {column!r} as a probability between 0 and 1, or map it to the right column")
    out = {out_of_range: outside}
    if missing is not None:
        if (~present).sum() * 2 > len(values):
            raise InputError(path, f"column {column!r} is empty in {int((~present).sum()):,} of {len(values):,} rows",
                             f"Fill in {column!r}, or point the run at the complete table")
        out[missing] = ~present
    return out


def _mark_duplicates(pair_key: np.ndarray, effect: np.ndarray, reasons: np.ndarray) -> None:
    """Among rows still kept, a variant(-gene) pair seen again: with the same effect the repeat is a `duplicate_row`
    (the first row stays); with a different effect no row of the pair can be trusted, and all are
    `conflicting_duplicate`."""
    kept = reasons == 0
    keys = pair_key if kept.all() else pair_key[kept]
    ordered = np.sort(keys)  # sorting finds the repeated pairs ten times faster than hashing every row
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(repeated):
        return
    # The few rows of repeated pairs: a table of the low 20 bits of their keys marks the rows that may hold one,
    # and those few are checked exactly.
    bucket = np.zeros(1 << 20, dtype=bool)
    bucket[repeated & ((1 << 20) - 1)] = True
    candidates = np.flatnonzero(kept & bucket[pair_key & ((1 << 20) - 1)])
    repeats = candidates[np.isin(pair_key[candidates], repeated)]
    row_key = group(pair_key[repeats], effect[repeats])
    same_pair_codes = pd.factorize(pair_key[repeats])[0]
    effects_per_pair = np.bincount(same_pair_codes, weights=is_first(row_key))  # distinct effects of each pair
    conflicting = effects_per_pair[same_pair_codes] > 1
    reasons[repeats[conflicting]] = _REASONS.index(CONFLICTING_DUPLICATE) + 1
    repeat = ~is_first(row_key) & ~conflicting
    reasons[repeats[repeat]] = _REASONS.index("duplicate_row") + 1


def _refuse_fractional(pos: np.ndarray, frame: pd.DataFrame, path: Path, of_row: np.ndarray | None) -> None:
    """A position with a fraction is an error naming its line: truncating it would move the variant. `pos` holds
    one position per row, or per distinct id when `of_row` gives each row's id."""
    fractional = np.isfinite(pos) & (pos != np.floor(pos))
    if fractional.any():
        if of_row is not None:
            fractional, pos = fractional[of_row], pos[of_row]
        row = int(np.flatnonzero(fractional)[0])
        line = int(frame["source_line"].iloc[row]) if "source_line" in frame else None
        raise InputError(path, f"position {quote(repr(float(pos[row])))} is not a whole number "
                         f"({int(fractional.sum()):,} such rows); positions are never rounded",
                         "Write 1-based positions as whole numbers", line=line)


def variant_ids(frame: pd.DataFrame, build: str) -> pd.Series:
    """GTEx-style ids (`chr1_13550_G_A_b38`), so truth sets join with GTEx and AlphaGenome parses them."""
    def text(column: str) -> pa.Array:
        return pa.array(frame[column].to_numpy(dtype=object), pa.string())

    ids = variant_id_array(text("chrom"), frame["pos"].to_numpy(dtype=np.int64), text("ref"), text("alt"),
                           BUILD_ID_SUFFIX[build])
    return pd.Series(ids.to_numpy(zero_copy_only=False), index=frame.index, dtype=object)


def variant_id_array(chrom: pa.Array, pos: np.ndarray, ref: pa.Array, alt: pa.Array, suffix: str | pa.Array
                     ) -> pa.Array:
    """`variant_ids` on Arrow columns (`suffix`: the build's, `BUILD_ID_SUFFIX`, or one per row), joined in Arrow:
    a million ids in a fraction of a second."""
    return pc.binary_join_element_wise(chrom, pc.cast(pa.array(pos, pa.int64()), pa.string()), ref, alt, suffix, "_")


CHROMOSOME_NOT_PREDICTED = "chromosome_not_predicted"


def drop_unpredicted_chromosomes(table: pa.Table, stats: dict[str, dict]) -> pa.Table:
    """The rows on chromosomes that predictions are partitioned by (`PARTITION_CHROMOSOMES`: chr1-22, chrX).

    Rows elsewhere (chrY, chrM; contigs are `unknown_chromosome` already) would be read and then never scored:
    they leave the funnel here, counted per truth set in `stats[truth_set]["excluded"]`, so that every row read is
    kept or counted.
    """
    chrom, chroms = column_codes(table.column("chrom"))
    outside = ~np.isin(chroms, PARTITION_CHROMOSOMES)[chrom]
    if not outside.any():
        return table
    truth_set, names = column_codes(table.column("truth_set"))
    for name, n in zip(names, np.bincount(truth_set[outside], minlength=len(names))):
        if n:
            excluded = stats.setdefault(name, {}).setdefault("excluded", {})
            excluded[CHROMOSOME_NOT_PREDICTED] = excluded.get(CHROMOSOME_NOT_PREDICTED, 0) + int(n)
    return table.filter(pa.array(~outside))


SOURCE_COLUMNS = [c for c in QTL_COLUMNS if c != "variant_id"]


def as_sources(tables: list[pa.Table]) -> pa.Table:
    """Stored QTL tables (`SOURCE_COLUMNS` read back) as one table for `annotate_truth_sets`, text as codes.

    `variant_id` is not read: chrom, pos, ref, alt and build spell it out, and it is rebuilt for the rows kept.
    A table stored before text was dictionary-encoded is encoded here.
    """
    schema = pa.schema([QTL_SCHEMA.field(c) for c in SOURCE_COLUMNS])
    return pa.concat_tables([table.select(SOURCE_COLUMNS).cast(schema) for table in tables])


def truth_set_builds(table: pa.Table) -> pd.DataFrame:
    """The distinct (truth_set, build) pairs of a QTL table, found on codes: a few rows for 2.4 M."""
    truth_set, truth_sets = column_codes(table.column("truth_set"))
    build, builds = column_codes(table.column("build"))
    pairs = np.flatnonzero(np.bincount(truth_set * len(builds) + build)) if len(truth_set) else np.zeros(0, int)
    return pd.DataFrame({"truth_set": truth_sets[pairs // len(builds)], "build": builds[pairs % len(builds)]})


def distinct_variants(table: pa.Table) -> int:
    """How many distinct variants a QTL table holds: distinct `variant_id`s, counted on their codes (the tables of
    several sources put on one dictionary first)."""
    codes, dictionary = arrow_codes(table.column("variant_id"))
    return int(np.count_nonzero(np.bincount(codes)[:len(dictionary)])) if len(codes) else 0
