"""Generic QTL tables (chrom, pos, ref, alt, effect, se, p, build) such as caQTLs and dsQTLs, read by header name."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from endobench.lib.genome.builds import normalize_build
from endobench.lib.genome.sequence import reverse_complement
from endobench.lib.io.errors import InputError
from endobench.lib.io.tables import integer_column, numeric_column, read_table
from endobench.lib.truth_sets.schema import (
    PVAL_OUT_OF_RANGE,
    ParsedQtls,
    probability_exclusions,
    validated_qtl_table,
)


@dataclass(frozen=True)
class GenericQtlColumns:
    """Which header names hold the generic fields; defaults are the generic table's own names."""

    chrom: str = "chrom"
    pos: str = "pos"
    ref: str = "ref"
    alt: str = "alt"
    effect: str = "effect"
    se: str = "se"
    p: str = "p"
    variant_id: str | None = None
    strand: str | None = None
    build: str | None = "build"


def read_generic_qtls(
    path: Path,
    *,
    truth_set: str,
    build: str | None = None,
    columns: GenericQtlColumns = GenericQtlColumns(),
    significant_p: float | None = None,
    keep_ids: set[str] | None = None,
) -> ParsedQtls:
    """Read a caQTL/dsQTL-style table (chrom, pos, ref, alt, effect, se, p, build) by header name.

    `keep_ids` keeps only the rows whose `columns.variant_id` is among them (a published selection of the table's
    rows, see `read_selected_qtls`); the others are not part of the truth set and are not counted.

    A `strand` column with `-` (positions lifted to the minus strand) reverse-complements both alleles, so alleles
    are always on the + strand of the declared build; the position, the lifted first base of the REF allele, is
    then the last base of the REF span on the + strand, so it moves to the span's first (the same for a SNV).
    """
    path = Path(path)
    # A declared strand column is required: without it, minus-strand alleles would be read as plus-strand ones.
    required = [columns.chrom, columns.pos, columns.ref, columns.alt, columns.effect, columns.se, columns.p,
                *([columns.strand] if columns.strand else [])]
    optional = [c for c in (columns.variant_id,) if c]
    table_build_column = columns.build if build is None else None
    if table_build_column:
        required.append(table_build_column)
    raw = read_table(path, required, "QTL table", optional)
    if keep_ids is not None:
        raw = raw[raw[columns.variant_id].str.strip().isin(keep_ids)]
    excluded: Counter = Counter()
    declared = _declared_build(raw, path, build, table_build_column)
    frame = pd.DataFrame(
        {
            "chrom": raw[columns.chrom],
            "pos": integer_column(raw, columns.pos, path),
            "ref": raw[columns.ref],
            "alt": raw[columns.alt],
            "effect": numeric_column(raw, columns.effect, path),
            "effect_se": numeric_column(raw, columns.se, path),
            "pval": numeric_column(raw, columns.p, path),
            "gene_id": pd.Series(pd.NA, index=raw.index, dtype=object),
            "source_line": raw.index.to_numpy(),
        }
    )
    if columns.strand:
        minus = (raw[columns.strand].str.strip() == "-").to_numpy()
        frame.loc[minus, "pos"] = frame.loc[minus, "pos"] - frame.loc[minus, "ref"].str.len() + 1
        frame.loc[minus, "ref"] = frame.loc[minus, "ref"].map(reverse_complement)
        frame.loc[minus, "alt"] = frame.loc[minus, "alt"].map(reverse_complement)
    frame["is_significant"] = True if significant_p is None else (frame["pval"] <= significant_p)
    ranges = probability_exclusions(path, columns.p, frame["pval"].to_numpy(), PVAL_OUT_OF_RANGE)
    kept = validated_qtl_table(frame, path, truth_set, declared, excluded, row_exclusions=ranges)
    return ParsedQtls(table=kept, rows_read=len(raw), excluded=excluded, kind="generic_qtl")


def _declared_build(raw: pd.DataFrame, path: Path, build: str | None, column: str | None) -> str:
    if build is not None:
        return normalize_build(build)
    builds = raw[column].str.strip().unique()
    if len(builds) != 1:
        raise InputError(
            path, f"the {column!r} column names several genome builds {sorted(builds)[:5]}",
            "Split the table by build or lift it to one build first.",
        )
    try:
        return normalize_build(builds[0])
    except ValueError as exc:
        raise InputError(path, str(exc), "Fix the build column.") from exc


NOT_IN_SOURCE_TABLE = "not_in_source_table"
DUPLICATE_IN_SELECTION = "duplicate_in_selection"


def read_selected_qtls(
    selection: Path, table: Path, *, id_column: str, truth_set: str, build: str | None, columns: GenericQtlColumns,
) -> ParsedQtls:
    """The rows of a QTL table that a published selection names by id, such as the deltaSVM paper's 574 dsQTLs
    among Degner's 5,671 (the table gives their alleles and effects).

    `rows_read` counts the selection's ids; an id the table does not have is excluded as `not_in_source_table`, a
    repeated one as `duplicate_in_selection`, and every other exclusion is the table reader's.
    """
    if columns.variant_id is None:
        raise ValueError("a selection needs the table's id column (GenericQtlColumns.variant_id)")
    ids = read_table(Path(selection), [id_column], "QTL selection")[id_column].str.strip()
    parsed = read_generic_qtls(table, truth_set=truth_set, build=build, columns=columns, keep_ids=set(ids))
    present = set(read_table(Path(table), [columns.variant_id], "QTL table")[columns.variant_id].str.strip())
    parsed.rows_read = len(ids)
    missing = int((~ids.drop_duplicates().isin(present)).sum())
    if missing:
        parsed.excluded[NOT_IN_SOURCE_TABLE] += missing
    if ids.duplicated().any():
        parsed.excluded[DUPLICATE_IN_SELECTION] += int(ids.duplicated().sum())
    return parsed
