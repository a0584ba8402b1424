"""Which rows a result counts and what is resampled: significant rows, one lead row per unit, linked units.

A gene-unit truth set's rows are variant-gene pairs. Its headline takes one row per gene (the lead variant), but
genes can share their lead variant (102 Whole Blood eGenes at LCL DNase-sensitive sites rest on 93 variants), and
then their rows are not independent: an accessibility prediction, or a measured accessibility effect, is one
number for the variant, given to each of its genes. So the unit of resampling is the linked unit: genes that
share a variant, with every gene and variant linked to them in turn (the connected components of the gene-variant
graph of the rows). With one row per gene it is the lead variant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from endobench.lib.truth_sets.catalog import GENE_UNIT, LEAD_BY_PIP, VARIANT_UNIT

KEEP_ALL = "keep_all"


def significant(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows whose `is_significant` flag is true or unknown (a table without the flag is all significant)."""
    if "is_significant" not in rows:
        return rows
    flag = pd.array(rows["is_significant"], dtype="boolean")
    return rows[np.asarray(flag.fillna(True), dtype=bool)]


def lead_rows(rows: pd.DataFrame, unit: str, lead_by: str) -> pd.DataFrame:
    """One row per unit: the smallest p-value (or the highest PIP) of each gene; each variant once.

    `lead_by` KEEP_ALL keeps every row (a table whose rows are all wanted, resampled by unit).
    """
    if lead_by == KEEP_ALL or unit not in rows or rows[unit].isna().all():
        return rows
    if lead_by == LEAD_BY_PIP and "pip" in rows:
        order = rows.sort_values("pip", ascending=False, kind="stable", na_position="last")
    elif "pval" in rows:
        order = rows.sort_values("pval", kind="stable", na_position="last")
    else:
        order = rows
    units = order[unit]
    return order[(units.isna() | ~units.duplicated()).to_numpy()].sort_index()


def headline_rows(rows: pd.DataFrame, unit: str, lead_by: str) -> pd.DataFrame:
    """The rows a result's headline metrics are computed on: significant rows, one per unit."""
    return lead_rows(significant(rows), unit, lead_by)


def resampling_units(rows: pd.DataFrame, unit: str) -> np.ndarray:
    """A label per row naming its unit of resampling: for gene units the linked unit (see the module docstring),
    otherwise the `unit` column itself. A row without a gene is linked through its variant alone."""
    if unit != GENE_UNIT or VARIANT_UNIT not in rows or unit not in rows:
        return rows[unit].to_numpy(dtype=object) if unit in rows else np.arange(len(rows)).astype(object)
    genes, gene_names = pd.factorize(rows[unit], use_na_sentinel=True)
    variants, variant_names = pd.factorize(rows[VARIANT_UNIT], use_na_sentinel=True)
    n_genes = len(gene_names)
    # Rows without a variant id are nodes of their own, after the genes and the variants.
    variant_nodes = np.where(variants >= 0, n_genes + variants,
                             n_genes + len(variant_names) + np.arange(len(rows)))
    gene_nodes = np.where(genes >= 0, genes, variant_nodes)
    n_nodes = n_genes + len(variant_names) + len(rows)
    graph = coo_matrix((np.ones(len(rows)), (gene_nodes, variant_nodes)), shape=(n_nodes, n_nodes))
    _, component = connected_components(graph, directed=False)
    return component[variant_nodes].astype(object)
