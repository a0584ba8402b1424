"""GTEx all-pairs files for tests, in the real layout, built around real leads (`write_allpairs`).

The positives are real: the Whole Blood v8 eGenes of the sample (`gtex_v8_Whole_Blood.v8.egenes.txt.gz`) whose
significant lead (q <= 0.05) sits exactly on a Degner 2012 dsQTL position, with every value of their lead row as
GTEx gives it. Around each lead the file holds generated tests of the same gene, at the positions the sample's
reference serves (other dsQTL positions within 1 Mb, with the genome's base as REF), so that they can be windowed
and scored: `per_gene` not significant (pval_nominal from 0.2 up, far above the gene's threshold), one significant
(a tenth of the threshold), and two beside the lead outside any dsQTL site; plus three tests of a gene GTEx found
no eQTL for. Lines are grouped by gene, as GTEx writes them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.genome.sequence import reverse_complement
from endobench_tests.paths import SAMPLE_DIR

ALLPAIRS_HEADER = ["gene_id", "variant_id", "tss_distance", "ma_samples", "ma_count", "maf", "pval_nominal", "slope",
                   "slope_se"]
EGENES = SAMPLE_DIR / "gtex_v8_Whole_Blood.v8.egenes.txt.gz"
DSQTLS = SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"
SAMPLES = 670  # Whole Blood's genotyped samples in GTEx v8


def dsqtl_sites() -> pd.DataFrame:
    """chrom, pos and the REF/ALT a GTEx id would give each Degner dsQTL position the sample reference serves."""
    table = pd.read_csv(DSQTLS, sep="\t").dropna(subset=["pos_hg38"])
    reference = ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
    sites = []
    with reference.reader() as read:
        for row in table.itertuples(index=False):
            pos = int(row.pos_hg38)
            base = read(row.chr_hg38, pos - 1, pos)
            alleles = [a if row.strand_hg38 == "+" else reverse_complement(a) for a in (row.Ref, row.Alt)]
            if base is None or base not in alleles:
                continue
            sites.append((row.chr_hg38, pos, base, alleles[1 - alleles.index(base)]))
    return pd.DataFrame(sites, columns=["chrom", "pos", "ref", "alt"]).drop_duplicates(["chrom", "pos"])


def positives(chromosomes: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The real significant Whole Blood eGenes whose lead is a dsQTL position (on `chromosomes`, when given)."""
    egenes = pd.read_csv(EGENES, sep="\t")
    sites = dsqtl_sites()
    leads = egenes[egenes["qval"] <= 0.05].merge(sites[["chrom", "pos"]], left_on=["chr", "variant_pos"],
                                                 right_on=["chrom", "pos"])
    return leads[leads["chr"].isin(chromosomes)] if chromosomes else leads


def allpairs_rows(chromosomes: tuple[str, ...] | None = None, per_gene: int = 4) -> pd.DataFrame:
    """The rows of the file (see the module docstring), in GTEx's column names."""
    egenes = pd.read_csv(EGENES, sep="\t")
    sites = dsqtl_sites()
    taken = set(zip(egenes.loc[egenes["qval"] <= 0.05, "chr"], egenes.loc[egenes["qval"] <= 0.05, "variant_pos"]))
    rows = []
    for lead in positives(chromosomes).sort_values(["chr", "variant_pos"]).itertuples(index=False):
        tss = lead.variant_pos - lead.tss_distance
        rows.append((lead.gene_id, lead.variant_id, lead.tss_distance, lead.minor_allele_samples,
                     lead.minor_allele_count, lead.maf, lead.pval_nominal, lead.slope, lead.slope_se))
        near = sites[(sites["chrom"] == lead.chr) & ((sites["pos"] - tss).abs() <= 1_000_000)]
        near = near[[(c, p) not in taken for c, p in zip(near["chrom"], near["pos"])]]
        near = near.iloc[np.argsort((near["pos"] - lead.variant_pos).abs().to_numpy(), kind="stable")]
        for k, site in enumerate(near.head(per_gene + 1).itertuples(index=False)):
            maf = min(0.5, lead.maf * (1 + 0.15 * k))
            pval = lead.pval_nominal_threshold / 10 if k == per_gene else 0.2 + 0.15 * k
            rows.append((lead.gene_id, f"{site.chrom}_{site.pos}_{site.ref}_{site.alt}_b38", site.pos - tss,
                         int(maf * SAMPLES), int(maf * 2 * SAMPLES), maf, pval, 0.02 * (-1) ** k, 0.05))
        for shift in (137, -211):
            rows.append((lead.gene_id, f"{lead.chr}_{lead.variant_pos + shift}_A_G_b38", lead.tss_distance + shift,
                         50, 52, 0.04, 0.6, 0.01, 0.08))
    quiet = egenes[egenes["qval"] > 0.05].iloc[0]
    for shift in (0, 500, 900):
        rows.append((quiet.gene_id, f"{quiet.chr}_{quiet.variant_pos + shift}_C_T_b38", quiet.tss_distance + shift,
                     30, 31, 0.02, 0.7, -0.01, 0.1))
    frame = pd.DataFrame(rows, columns=ALLPAIRS_HEADER)
    gene_order = pd.factorize(frame["gene_id"])[0]
    position = frame["variant_id"].str.split("_").str[1].astype(int)
    return frame.iloc[np.lexsort((position, gene_order))].reset_index(drop=True)


def write_allpairs(rows: pd.DataFrame, path: Path, columns: list[str] | None = None) -> Path:
    """`rows` as GTEx writes an all-pairs table (tab-separated, header line, gzip), in `columns`' order."""
    text = rows[columns or ALLPAIRS_HEADER].to_csv(sep="\t", index=False, float_format="%.6g")
    path.write_bytes(gzip.compress(text.encode()))
    return path
