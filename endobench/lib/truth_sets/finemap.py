"""Fine-mapped eQTL tables (SuSiE-style: variant, gene, tissue, pip, beta_posterior) read into the QTL schema.

Fine-mapping turns LD tags into probable causal variants: the published AlphaGenome eQTL numbers use variants
with PIP > 0.9 scored against their own gene, so those are the significant rows here; the rest stay as
negatives. `effect` is `beta_posterior`, the posterior effect of ALT.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.genome.builds import normalize_build
from endobench.lib.io.errors import InputError
from endobench.lib.io.tables import numeric_column, read_header, read_table
from endobench.lib.truth_sets.schema import (
    PIP_MISSING,
    PIP_OUT_OF_RANGE,
    ParsedQtls,
    probability_exclusions,
    validated_qtl_table,
)

# Each field and the header names it goes by in published fine-mapping tables, in order of preference.
ALIASES = {
    "variant": ["variant_id", "variant", "variant_hg38"],
    "gene": ["gene_id", "gene", "phenotype_id", "molecular_trait_id"],
    "tissue": ["tissue", "tissue_id"],
    "pip": ["pip", "PIP"],
    "beta": ["beta_posterior", "posterior_mean", "beta"],
}
_SUFFIX_BUILD = {"b38": "hg38", "b37": "hg19"}


def resolve_columns(header: list[str], path: Path) -> dict[str, str | None]:
    """Which header name holds each field; `tissue` is optional, the others are required."""
    found = {field: next((name for name in names if name in header), None) for field, names in ALIASES.items()}
    missing = [field for field, name in found.items() if name is None and field != "tissue"]
    if missing:
        wanted = "; ".join(f"{field}: one of {ALIASES[field]}" for field in missing)
        raise InputError(path, f"no column for {wanted} (header: {header[:12]})",
                         "Rename the columns or pass a table with variant, gene, pip and beta_posterior", line=1)
    return found


def read_finemapped_eqtls(
    path: Path, *, truth_set: str, tissue: str | None = None, min_pip: float = 0.9, build: str | None = None
) -> ParsedQtls:
    """Read one tissue of a fine-mapped eQTL table; rows with PIP >= `min_pip` are the significant ones.

    Variant ids are GTEx-style (`chr1_13550_G_A_b38`); the build comes from their suffix unless given.
    Rows of other tissues are counted as `other_tissue`, not silently dropped.
    """
    path = Path(path)
    header = read_header(path, "fine-mapped eQTL")
    names = resolve_columns(header, path)
    raw = read_table(path, [n for n in names.values() if n], "fine-mapped eQTL")
    excluded: Counter = Counter()
    if tissue is not None:
        if names["tissue"] is None:
            raise InputError(path, f"a tissue ({tissue!r}) was asked for but the table has no tissue column",
                             "Leave the tissue out, or use a table with a `tissue` column")
        other = raw[names["tissue"]].str.strip() != tissue
        if other.all():
            raise InputError(path, f"no row is of tissue {tissue!r} (found {sorted(raw[names['tissue']].unique())[:8]})",
                             "Use the tissue name exactly as the table spells it")
        excluded["other_tissue"] += int(other.sum())
        raw = raw[~other]
    parts = raw[names["variant"]].str.strip().str.split("_", n=4, expand=True)
    if parts.shape[1] != 5:
        raise InputError(path, f"variant ids such as {raw[names['variant']].iloc[0]!r} are not chr_pos_ref_alt_b38",
                         "Use GTEx-style variant ids")
    suffixes = set(parts[4].dropna())
    if build is None:
        if len(suffixes) != 1 or not suffixes <= set(_SUFFIX_BUILD):
            raise InputError(path, f"variant id build suffixes {sorted(suffixes)[:5]} do not name one build",
                             "Pass the build explicitly or split the table by build")
        build = _SUFFIX_BUILD[suffixes.pop()]
    pip = numeric_column(raw, names["pip"], path)
    frame = pd.DataFrame({
        "chrom": parts[0], "pos": pd.to_numeric(parts[1], errors="coerce"), "ref": parts[2], "alt": parts[3],
        "gene_id": raw[names["gene"]].str.strip(),
        "effect": numeric_column(raw, names["beta"], path),
        "effect_se": np.nan, "pval": np.nan, "maf": np.nan, "tss_distance": np.nan,
        "is_significant": (pip >= min_pip).to_numpy(),
        "source_line": raw.index.to_numpy(),
    })
    ranges = probability_exclusions(path, names["pip"], pip.to_numpy(), PIP_OUT_OF_RANGE, missing=PIP_MISSING)
    kept = validated_qtl_table(frame, path, truth_set, normalize_build(build), excluded, row_exclusions=ranges)
    return ParsedQtls(table=kept, rows_read=len(raw) + excluded["other_tissue"], excluded=excluded, kind="finemapped")
