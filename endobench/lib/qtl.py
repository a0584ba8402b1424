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


def finalize(
    frame: pd.DataFrame, path: Path, truth_set: str, build: str, excluded: Counter
) -> pd.DataFrame:
    """Validate alleles, chromosomes and positions shared by every truth-set kind; count what is excluded."""
    frame = frame.copy()
    frame["truth_set"] = truth_set
    frame["build"] = build
    frame["chrom"] = normalize_chrom(frame["chrom"])
    frame["ref"] = frame["ref"].str.strip().str.upper()
    frame["alt"] = frame["alt"].str.strip().str.upper()

    reasons = pd.Series("", index=frame.index, dtype=object)

    def mark(mask: np.ndarray | pd.Series, reason: str) -> None:
        mask = pd.Series(mask, index=frame.index) & (reasons == "")
        reasons[mask] = reason

    mark(frame["chrom"].isin(["chr", "chrNA", "chrNAN"]) | frame["pos"].isna(), "unplaced")
    mark(~np.isfinite(frame["effect"].to_numpy()), "invalid_effect")
    symbolic = frame["alt"].str.contains(r"[<>*\[\]]", regex=True) | frame["ref"].str.contains(r"[<>*\[\]]", regex=True)
    mark(symbolic, "symbolic_allele")
    mark(frame["alt"].str.contains(",", regex=False), "multiallelic")
    valid = frame["ref"].str.fullmatch(r"[ACGTN]+") & frame["alt"].str.fullmatch(r"[ACGTN]+")
    mark(~valid.fillna(False), "invalid_allele")
    mark(frame["ref"] == frame["alt"], "ref_equals_alt")
    known = frame["chrom"].isin(list(CHROM_SIZES[build]))
    mark(~known, "unknown_chromosome")
    pos = frame["pos"]
    mark(pos.isna() | (pos < 1), "invalid_position")
    end = pos.fillna(0) + frame["ref"].str.len() - 1
    mark(known & (end > chrom_length(frame["chrom"], build)), "off_chromosome_end")
    duplicate = frame.duplicated(subset=["chrom", "pos", "ref", "alt", "gene_id", "effect"], keep="first")
    mark(duplicate, "duplicate_row")

    excluded.update(reasons[reasons != ""].value_counts().to_dict())
    kept = frame[reasons == ""].copy()
    kept["pos"] = kept["pos"].astype("int64")
    kept["variant_id"] = variant_ids(kept, build)
    for column in QTL_COLUMNS:
        if column not in kept:
            kept[column] = np.nan
    return kept[QTL_COLUMNS].reset_index(drop=True)


def variant_ids(frame: pd.DataFrame, build: str) -> pd.Series:
    """GTEx-style ids (`chr1_13550_G_A_b38`), so truth sets join with GTEx and AlphaGenome parses them."""
    suffix = BUILD_ID_SUFFIX[build]
    return frame["chrom"] + "_" + frame["pos"].astype("int64").astype(str) + "_" + frame["ref"] + "_" + frame["alt"] + "_" + suffix


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
