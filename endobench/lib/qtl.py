"""QTL truth sets read by header name into one schema, with bad rows counted by reason instead of dropped silently.

Every truth set (GTEx `signif_variant_gene_pairs`, GTEx `egenes`, a generic caQTL/dsQTL table) becomes a frame with
`QTL_COLUMNS`. `effect` is the signed effect of the ALT allele (GTEx `slope`, dsQTL `Beta`), never a p-value.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from isal import igzip_threaded, isal_zlib

from endobench.lib.builds import CHROM_SIZES, chrom_length, normalize_build, normalize_chrom
from endobench.lib.errors import InputError

QTL_COLUMNS = [
    "truth_set", "variant_id", "chrom", "pos", "ref", "alt", "gene_id", "effect", "effect_se", "pval",
    "maf", "tss_distance", "is_significant", "build", "source_line",
]

BUILD_ID_SUFFIX = {"hg38": "b38", "hg19": "b37", "hg18": "b36"}
_COMPLEMENT = str.maketrans("ACGTacgt", "TGCAtgca")


@dataclass
class ParsedQtls:
    """A normalised QTL frame plus the bookkeeping the funnel needs."""

    frame: pd.DataFrame
    rows_read: int
    excluded: Counter = field(default_factory=Counter)
    kind: str = ""


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


def read_table(path: Path, required: list[str], what: str, optional: list[str] | None = None) -> pd.DataFrame:
    """Read the named columns of a tab-separated (optionally gzipped) table as strings.

    Columns are matched by header name, never by position; errors say which file and what to do.
    """
    path = Path(path)
    header = check_header(path, required, what)
    usecols = list(dict.fromkeys(required + [c for c in optional or [] if c in header]))
    try:
        frame = pd.read_csv(
            path, sep="\t", usecols=usecols, dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE,
            engine="c", compression="infer" if not _is_gzip(path) else "gzip",
        )
    except (EOFError, OSError, zlib.error) as exc:
        raise truncation_error(path, exc) from exc
    except UnicodeDecodeError as exc:
        raise InputError(
            path, f"the file is not UTF-8 text ({exc.reason} at byte {exc.start:,})",
            "Check that this is the right file (a tab-separated text table, optionally gzipped)",
        ) from exc
    except pd.errors.ParserError as exc:
        raise InputError(path, f"the table is malformed ({exc})", "Check the delimiter and the number of fields") from exc
    if frame.empty:
        raise InputError(path, f"the {what} file has a header but no data rows", "Point the run at a complete file",
                         line=2)
    return frame


def check_header(path: Path, required: list[str], what: str) -> list[str]:
    """The header's column names; a missing required column is an error that names it and near misses."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"the {what} file does not exist", "Check the path in the run configuration.")
    header_line = _first_line(path, what)
    header = header_line.rstrip("\r\n").split("\t")
    missing = [c for c in required if c not in header]
    if missing:
        hint = ""
        if len(header) == 1 and ("," in header_line or " " in header_line.strip()):
            sep = "commas" if "," in header_line else "spaces"
            hint = f"; the header has one column: the file looks separated by {sep}, not tabs"
        else:
            near = _near_names(missing, header)
            if near:
                hint = "; did you rename " + ", ".join(f"{want!r} to {found!r}" for want, found in near.items()) + "?"
        shown = header[:12] + (["..."] if len(header) > 12 else [])
        raise InputError(
            path,
            f"missing required column(s) {missing} in the header (found {shown}){hint}",
            f"Provide a tab-separated {what} file whose header names these columns; columns are matched by name, "
            "never by position",
            line=1,
        )
    return header


NA_SPELLINGS = ["", "na", "nan", "null", "none", "."]
_COMPRESSED_SUFFIXES = (".bz2", ".zip", ".xz", ".zst", ".tar")


def read_typed_table(path: Path, strings: list[str], numbers: list[str]) -> pa.Table | None:
    """The named columns through Arrow's multithreaded reader: `strings` as text, `numbers` as float64.

    Strict on purpose: any line the pandas text reader would treat specially (a non-number, a short or long
    line, bad UTF-8, a truncated gzip, no data rows) gives None, and the caller reads the file with `read_table`,
    whose errors name the line. On a clean file both readers give the same values; NA spellings are NaN in both.
    The header must have been checked (`check_header`) before.
    """
    path = Path(path)
    gzipped = _is_gzip(path)
    if not gzipped and path.name.lower().endswith(_COMPRESSED_SUFFIXES):
        return None
    na = sorted({v for s in NA_SPELLINGS for v in (s, s.upper(), s.capitalize())} | {"NaN"})
    # ISA-L inflates twice as fast as zlib, on a thread of its own while Arrow parses the blocks it hands over.
    source = igzip_threaded.open(path, "rb", threads=1) if gzipped else pa.input_stream(str(path))
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=[*strings, *numbers],
                column_types={**{c: pa.string() for c in strings}, **{c: pa.float64() for c in numbers}},
                null_values=na, strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, EOFError, zlib.error, isal_zlib.error, UnicodeDecodeError):
        return None
    finally:
        source.close()
    return table if table.num_rows else None


def _near_names(missing: list[str], header: list[str]) -> dict[str, str]:
    """Header names that look like a renamed required column (`Slope`, `beta` for `slope`, ...)."""
    aliases = {"slope": ["beta", "effect", "effect_size"], "slope_se": ["beta_se", "se", "effect_se"],
               "pval_nominal": ["pvalue", "p_value", "pval", "p"]}
    near = {}
    lowered = {h.lower(): h for h in header}
    for want in missing:
        candidates = [want.lower(), *aliases.get(want, [])]
        found = next((lowered[c] for c in candidates if c in lowered), None)
        if found is None:
            close = difflib.get_close_matches(want, header, n=1, cutoff=0.8)
            found = close[0] if close else None
        if found is not None:
            near[want] = found
    return near


def truncation_error(path: Path, exc: BaseException) -> InputError:
    """A gzip stream that ends early, with the last complete line, so the user sees how much was read."""
    lines = 0
    try:
        with gzip.open(path, "rb") as handle:
            for _ in handle:
                lines += 1
    except (EOFError, OSError, zlib.error):
        pass
    return InputError(
        path, f"the gzip stream is truncated or corrupt after {lines:,} complete line(s) ({exc})",
        "Download the file again; this copy is incomplete", line=lines + 1,
    )


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _first_line(path: Path, what: str) -> str:
    try:
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            line = handle.readline()
    except (EOFError, OSError, zlib.error) as exc:
        raise truncation_error(path, exc) from exc
    if not line.strip():
        raise InputError(path, f"the {what} file is empty (no header line)", "Point the run at a non-empty file",
                         line=1)
    return line


def numeric_column(frame: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Parse a column as float; text that is not a number (and not an NA spelling) is an error naming the line."""
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    na_spelling = text.str.lower().isin(["", "na", "nan", "null", "none", "."])
    bad = values.isna() & ~na_spelling
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            path,
            f"column {column!r} holds {frame[column].iloc[first]!r}, which is not a number "
            f"({int(bad.sum()):,} such rows)",
            f"Fix or remove those rows, or map {column!r} to the right column.",
            line=first + 2,
        )
    return values.astype("float64")


def _codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the distinct values (an object array; NA is a value of its own, never a -1 code)."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        uniques = np.asarray(values.cat.categories, dtype=object)
        if (codes < 0).any():
            codes = np.where(codes < 0, len(uniques), codes)
            uniques = np.append(uniques, np.nan).astype(object)
        return codes, uniques
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64, copy=False), np.asarray(uniques, dtype=object)


def _recode(codes: np.ndarray, uniques: np.ndarray, mapped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """After a per-value transformation `mapped` (aligned with `uniques`), merge values that became equal."""
    inner, merged = pd.factorize(np.asarray(mapped, dtype=object), use_na_sentinel=False)
    return inner[codes], np.asarray(merged, dtype=object)


def _strip_upper(values: np.ndarray) -> np.ndarray:
    return np.asarray(pd.Series(values, dtype=object).str.strip().str.upper(), dtype=object)


def finalize(
    frame: pd.DataFrame, path: Path, truth_set: str, build: str, excluded: Counter,
    same_variant: np.ndarray | None = None,
) -> pd.DataFrame:
    """Validate alleles, chromosomes and positions shared by every truth-set kind; count what is excluded.

    Every string check runs once per distinct chromosome or allele (a few thousand values at GTEx scale) and is
    mapped back to the rows by integer codes, so 2.4 M rows cost array operations, not 2.4 M string operations.
    A row gets the first reason that applies, in the order below. `same_variant`, when the reader has it, codes the
    rows by their variant id's spelling, numbered by first appearance (a GTEx file's distinct ids); the rows are
    then grouped into variants through one row per id instead of hashing every row.
    """
    n = len(frame)
    chrom_codes, chrom_uniques = _codes(frame["chrom"])
    chrom_codes, chrom_uniques = _recode(chrom_codes, chrom_uniques,
                                         normalize_chrom(pd.Series(chrom_uniques, dtype=object)).to_numpy())
    ref_codes, ref_uniques = _codes(frame["ref"])
    alt_codes, alt_uniques = _codes(frame["alt"])
    # One shared vocabulary for REF and ALT, so "ref == alt" is a comparison of codes.
    both, allele_uniques = _recode(
        np.concatenate([ref_codes, alt_codes + len(ref_uniques)]),
        np.concatenate([ref_uniques, alt_uniques]),
        _strip_upper(np.concatenate([ref_uniques, alt_uniques])),
    )
    ref_codes, alt_codes = both[:n], both[n:]
    alleles = pd.Series(allele_uniques, dtype=object)
    symbolic_u = alleles.str.contains(r"[<>*\[\]]", regex=True).fillna(False).to_numpy(dtype=bool)
    comma_u = alleles.str.contains(",", regex=False).fillna(False).to_numpy(dtype=bool)
    valid_u = alleles.str.fullmatch(r"[ACGTN]+").fillna(False).to_numpy(dtype=bool)
    length_u = alleles.str.len().fillna(0).to_numpy(dtype=np.int64)
    chroms = pd.Series(chrom_uniques, dtype=object)
    unplaced_u = chroms.isin(["chr", "chrNA", "chrNAN"]).to_numpy()
    known_u = chroms.isin(list(CHROM_SIZES[build])).to_numpy()
    chrom_len_u = chrom_length(chroms, build)

    pos = np.asarray(frame["pos"], dtype=np.float64)
    effect = np.asarray(frame["effect"], dtype=np.float64)
    reasons = np.zeros(n, dtype=np.int8)  # 0 = kept, else 1 + index into REASONS

    def mark(mask: np.ndarray, reason: str) -> None:
        reasons[mask & (reasons == 0)] = _REASONS.index(reason) + 1

    pos_missing = np.isnan(pos)
    mark(unplaced_u[chrom_codes] | pos_missing, "unplaced")
    mark(~np.isfinite(effect), "invalid_effect")
    mark(symbolic_u[alt_codes] | symbolic_u[ref_codes], "symbolic_allele")
    mark(comma_u[alt_codes], "multiallelic")
    mark(~(valid_u[ref_codes] & valid_u[alt_codes]), "invalid_allele")
    mark(ref_codes == alt_codes, "ref_equals_alt")
    known = known_u[chrom_codes]
    mark(~known, "unknown_chromosome")
    mark(pos_missing | (pos < 1), "invalid_position")
    end = np.where(pos_missing, 0, pos) + length_u[ref_codes] - 1
    mark(known & (end > chrom_len_u[chrom_codes]), "off_chromosome_end")
    gene = _codes(frame["gene_id"]) if "gene_id" in frame else (np.zeros(n, dtype=np.int64), [None])
    n_alleles = len(allele_uniques)
    variant = _variants(chrom_codes, len(chrom_uniques), pos, ref_codes, alt_codes, n_alleles, same_variant)
    pair_key = variant * max(len(gene[1]), 1) + gene[0]  # < n * n: no overflow below 3 G rows
    ordered = np.sort(pair_key)  # sorting finds the repeated pairs ten times faster than hashing every row
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated):  # some variant-gene pairs repeat: among those rows, is the effect the same?
        repeats = np.flatnonzero(np.isin(pair_key, repeated))
        row_key = _group(pair_key[repeats], effect[repeats])
        duplicate = np.zeros(n, dtype=bool)
        duplicate[repeats[~_is_first(row_key)]] = True
        mark(duplicate, "duplicate_row")

    counts = np.bincount(reasons, minlength=len(_REASONS) + 1)
    excluded.update({reason: int(counts[i + 1]) for i, reason in enumerate(_REASONS) if counts[i + 1]})
    rows = np.flatnonzero(reasons == 0)
    kept_chrom, kept_pos = chrom_codes[rows], pos[rows].astype(np.int64)
    kept_ref, kept_alt = ref_codes[rows], alt_codes[rows]
    kept_variant = variant if len(rows) == n else pd.factorize(variant[rows])[0]
    first = np.flatnonzero(_is_first(kept_variant))
    # Built once per distinct variant; the rows of one variant share one string object.
    ids = variant_ids(pd.DataFrame({
        "chrom": chrom_uniques[kept_chrom[first]], "pos": kept_pos[first],
        "ref": allele_uniques[kept_ref[first]], "alt": allele_uniques[kept_alt[first]],
    }), build).to_numpy()
    out = {
        "truth_set": _constant(len(rows), truth_set),
        "variant_id": ids[kept_variant],
        "chrom": chrom_uniques[kept_chrom],
        "pos": kept_pos,
        "ref": allele_uniques[kept_ref],
        "alt": allele_uniques[kept_alt],
        "build": _constant(len(rows), build),
    }
    for column in QTL_COLUMNS:
        if column in out:
            continue
        if column not in frame:
            out[column] = np.full(len(rows), np.nan)
        elif isinstance(frame[column].dtype, pd.CategoricalDtype):  # text given as categorical comes out as text
            codes, uniques = _codes(frame[column])
            out[column] = uniques[codes[rows]]
        else:
            values = frame[column].to_numpy()
            out[column] = values if len(rows) == n else values[rows]
    return pd.DataFrame({column: out[column] for column in QTL_COLUMNS}, copy=False)


def _constant(n: int, value: str) -> np.ndarray:
    """An object array of one string (`fill` is ten times faster than `np.full` for objects)."""
    column = np.empty(n, dtype=object)
    column.fill(value)
    return column


_REASONS = [
    "unplaced", "invalid_effect", "symbolic_allele", "multiallelic", "invalid_allele", "ref_equals_alt",
    "unknown_chromosome", "invalid_position", "off_chromosome_end", "duplicate_row",
]


def _variants(chrom: np.ndarray, n_chroms: int, pos: np.ndarray, ref: np.ndarray, alt: np.ndarray, n_alleles: int,
              same_variant: np.ndarray | None) -> np.ndarray:
    """One code per distinct (chrom, pos, ref, alt), numbered by first appearance; see `finalize` for `same_variant`."""
    if same_variant is not None:
        first = np.flatnonzero(_is_first(same_variant))
        if np.array_equal(same_variant[first], np.arange(len(first))):  # numbered by first appearance, as promised
            by_id = _group((chrom[first], n_chroms), _as_codes(pos[first]), (ref[first], n_alleles), (alt[first], n_alleles))
            return by_id[same_variant]
    return _group((chrom, n_chroms), _as_codes(pos), (ref, n_alleles), (alt, n_alleles))


def _group(*columns: np.ndarray | tuple[np.ndarray, int]) -> np.ndarray:
    """One integer code per distinct combination of the columns (NaN equal to NaN), numbered by first appearance.

    A column is values, or `(codes, cardinality)` when it is already dense codes (no hashing needed). Codes are
    combined arithmetically and hashed again only when the combined range would overflow int64.
    """
    group = np.zeros(len(columns[0][0] if isinstance(columns[0], tuple) else columns[0]), dtype=np.int64)
    size = 1
    for column in columns:
        if isinstance(column, tuple):
            codes, k = column
        else:
            codes, uniques = pd.factorize(column, use_na_sentinel=False)
            k = len(uniques)
        k = max(int(k), 1)
        if size * k >= 2**62:
            group, uniques = pd.factorize(group)
            size = len(uniques)
        group = group * k + codes
        size *= k
    return pd.factorize(group)[0].astype(np.int64, copy=False)


def _is_first(codes: np.ndarray) -> np.ndarray:
    """For codes numbered by first appearance (as `pd.factorize` gives them): is this row its code's first?"""
    first = np.ones(len(codes), dtype=bool)
    if len(codes) > 1:
        first[1:] = codes[1:] > np.maximum.accumulate(codes)[:-1]
    return first


def _as_codes(values: np.ndarray) -> np.ndarray | tuple[np.ndarray, int]:
    """Non-negative whole numbers (positions) are their own codes; anything else is hashed by `_group`."""
    if len(values) and not np.isnan(values).any() and values.min() >= 0 and values.max() < 2**40:
        whole = values.astype(np.int64)
        if (whole == values).all():
            return whole, int(whole.max()) + 1
    return values


def variant_ids(frame: pd.DataFrame, build: str) -> pd.Series:
    """GTEx-style ids (`chr1_13550_G_A_b38`), so truth sets join with GTEx and AlphaGenome parses them.

    Joined in Arrow: a million ids in a fraction of a second.
    """
    def text(column: str) -> pa.Array:
        return pa.array(frame[column].to_numpy(dtype=object), pa.string())

    ids = pc.binary_join_element_wise(
        text("chrom"), pc.cast(pa.array(frame["pos"].to_numpy(dtype=np.int64)), pa.string()), text("ref"), text("alt"),
        BUILD_ID_SUFFIX[build], "_",
    )
    return pd.Series(ids.to_numpy(zero_copy_only=False), index=frame.index, dtype=object)


def read_generic_qtls(
    path: Path,
    *,
    truth_set: str,
    build: str | None = None,
    columns: GenericQtlColumns = GenericQtlColumns(),
    significant_p: float | None = None,
) -> ParsedQtls:
    """Read a caQTL/dsQTL-style table (chrom, pos, ref, alt, effect, se, p, build) by header name.

    A `strand` column with `-` (positions lifted to the minus strand) complements both alleles, so alleles are
    always on the + strand of the declared build.
    """
    path = Path(path)
    required = [columns.chrom, columns.pos, columns.ref, columns.alt, columns.effect, columns.se, columns.p]
    optional = [c for c in (columns.variant_id, columns.strand) if c]
    table_build_column = columns.build if build is None else None
    if table_build_column:
        required.append(table_build_column)
    raw = read_table(path, required, "QTL table", optional)
    excluded: Counter = Counter()
    declared = _declared_build(raw, path, build, table_build_column)
    frame = pd.DataFrame(
        {
            "chrom": raw[columns.chrom],
            "pos": numeric_column(raw, columns.pos, path),
            "ref": raw[columns.ref],
            "alt": raw[columns.alt],
            "effect": numeric_column(raw, columns.effect, path),
            "effect_se": numeric_column(raw, columns.se, path),
            "pval": numeric_column(raw, columns.p, path),
            "gene_id": pd.Series(pd.NA, index=raw.index, dtype=object),
            "source_line": np.arange(2, len(raw) + 2),
        }
    )
    if columns.strand:
        minus = (raw[columns.strand].str.strip() == "-").to_numpy()
        frame.loc[minus, "ref"] = frame.loc[minus, "ref"].str.translate(_COMPLEMENT)
        frame.loc[minus, "alt"] = frame.loc[minus, "alt"].str.translate(_COMPLEMENT)
    frame["is_significant"] = True if significant_p is None else (frame["pval"] <= significant_p)
    kept = finalize(frame, path, truth_set, declared, excluded)
    return ParsedQtls(frame=kept, rows_read=len(raw), excluded=excluded, kind="generic_qtl")


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
