"""Non-significant tests of the positives' own genes, chosen from GTEx's all-pairs tables: the report's negatives.

A causal-against-non-causal comparison needs, for each positive (a gene's significant lead in a truth set: a GTEx
tissue under an accessibility annotation), tests of the same gene that are not significant; GTEx's all-pairs tables
hold every test (`truth_sets.allpairs`). A test becomes a candidate negative of a truth set when
- its gene has a positive in that truth set (a significant test whose variant lies in the annotation; its lead by
  p-value, as the report's headline takes it);
- it is not significant: `pval_nominal` above the gene's own `pval_nominal_threshold` (GTEx calls a test
  significant at or below it; the release's eGenes and significant-pairs tables give it), or above
  `NO_THRESHOLD_P` for a gene the table gives no threshold;
- its variant is no significant test of any gene of the tissue's table (an accessibility score is one number per
  variant, so it would stand on both sides of the comparison);
- its variant lies in the truth set's annotation (bedtools decides, as it decides for the truth sets).
Each gene keeps at most `per_gene` candidates per truth set: those nearest to its positive in the covariates the
report matches on (log10 TSS distance and MAF, in units of the positives' spread; ties by position), because every
test kept costs a prediction. The rest is counted by reason, and the balance of the positives against every
candidate (before the bound) is kept, to set beside the balance after matching.

The files are read a block at a time and only the bounded candidates are kept between blocks, so memory stays flat
whatever the length of the file (`bench/allpairs.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from endobench.lib.codes import arrow_codes
from endobench.lib.evaluation.covariates import COVARIATES, standardised_mean_difference
from endobench.lib.evaluation.units import lead_rows, significant
from endobench.lib.genome.intervals import variants_in_peaks
from endobench.lib.genome.peaks import PeakSet
from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets.allpairs import Block, allpairs_blocks
from endobench.lib.truth_sets.annotate import annotate_truth_sets
from endobench.lib.truth_sets.catalog import TruthSetSpec
from endobench.lib.truth_sets.gtex import float_array, id_parts, split_ids
from endobench.lib.truth_sets.schema import QTL_SCHEMA, validated_qtl_table

NO_THRESHOLD_P = 0.5
RULE = ("pval_nominal above the gene's pval_nominal_threshold (GTEx's own significance threshold for the gene), or "
        f"above {NO_THRESHOLD_P} where the table gives the gene none; the variant a significant test of no gene of "
        "the tissue; in the truth set's annotation")
# Rows of the all-pairs tables left out, by reason (per file set); per truth set see `Selection.truth_sets`.
GENE_WITHOUT_POSITIVE = "gene_without_positive"
SIGNIFICANT = "significant"
PVAL_MISSING = "pval_missing"


@dataclass(frozen=True)
class TruthSetTarget:
    """One truth set's positives (one row per gene: gene_id and each covariate of its lead) and annotation."""

    name: str
    annotation: PeakSet
    positives: pd.DataFrame


@dataclass(frozen=True)
class NegativeTargets:
    """What one tissue's all-pairs files are searched for."""

    source: str  # the tissue's source key (`gtex_wb`): the negatives join its rows
    truth_sets: list[TruthSetTarget]
    thresholds: pd.Series  # pval_nominal_threshold by gene id (may be empty)
    significant_variants: pa.Array  # ids of the tissue's significant tests that lie in an annotation


def negative_targets(sources: pa.Table, specs: Sequence[TruthSetSpec], annotations: Mapping[str, PeakSet],
                     default_annotation: str, thresholds: pd.Series) -> NegativeTargets:
    """The positives of each truth set in `specs` (one tissue's), from that tissue's rows as stored (`sources`, the
    `raw_gtex_eqtls` table of its source key), put in their annotations as `dhs_filtered_variants` puts them."""
    annotated = significant(annotate_truth_sets(sources, specs, annotations, default_annotation).frame)
    targets = []
    for spec in specs:
        leads = lead_rows(annotated[(annotated["truth_set"] == spec.name).to_numpy()], spec.unit, spec.lead_by)
        positives = pd.DataFrame({"gene_id": leads[spec.unit].astype(str).to_numpy()})
        for name, values in COVARIATES.items():
            column = values(leads)
            positives[name] = column.to_numpy(dtype=float) if column is not None else np.nan
        key = spec.annotation.key if spec.annotation is not None else default_annotation
        targets.append(TruthSetTarget(spec.name, annotations[key], positives))
    source = str(specs[0].source) if specs else ""
    return NegativeTargets(source, targets, thresholds,
                           pa.array(annotated["variant_id"].astype(str).unique(), type=pa.string()))


@dataclass
class Selection:
    """The negatives kept (a `QTL_SCHEMA` table, `is_significant` False) and how they were chosen."""

    table: pa.Table
    rows_read: int
    excluded: Counter  # rows of the files left out, by reason (the variant checks' reasons included)
    truth_sets: dict[str, dict[str, object]]
    genes_without_threshold: int
    build: str | None


def select_negative_tests(paths: Iterable[Path], targets: NegativeTargets, *, per_gene: int,
                          progress: Callable[[int, int], None] | None = None) -> Selection:
    """Stream `paths` (one tissue's all-pairs files) and keep, per truth set and gene, at most `per_gene`
    non-significant tests nearest to the gene's positive (the module docstring has the rule). `progress(rows read,
    candidates kept)` is called after each block."""
    if per_gene < 1:
        raise ValueError(f"per_gene is {per_gene}: at least one negative per gene is needed")
    selector = _Selector(targets, per_gene)
    paths = [Path(p) for p in paths]
    for index, path in enumerate(paths):
        for block in allpairs_blocks(path):
            selector.add(path, index, block)
            if progress is not None:
                progress(selector.rows_read, selector.kept())
    return selector.result(paths)


class _Pool:
    """One truth set's bounded candidates, its positives' covariates by gene slot, and running counts."""

    def __init__(self, target: TruthSetTarget, genes: pd.Index, per_gene: int) -> None:
        self.target, self.per_gene = target, per_gene
        slot = genes.get_indexer(target.positives["gene_id"])
        self.has = np.zeros(len(genes), dtype=bool)
        self.has[slot] = True
        self.centre, self.spread, self.sums = {}, {}, {}
        for name in COVARIATES:
            values = target.positives[name].to_numpy(dtype=float)
            self.centre[name] = np.full(len(genes), np.nan)
            self.centre[name][slot] = values
            finite = values[np.isfinite(values)]
            spread = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
            self.spread[name] = spread if spread > 0 else 1.0
            self.sums[name] = np.zeros(3)  # n, sum, sum of squares of the candidates' values
        self.counts: Counter = Counter()
        self.kept = pd.DataFrame()

    def offer(self, candidates: pd.DataFrame) -> None:
        """Add candidates (gene `slot` and row columns) and keep the `per_gene` nearest of each gene."""
        distance = np.zeros(len(candidates))
        for name, values in COVARIATES.items():
            column = values(candidates)
            if column is None:
                continue
            x = column.to_numpy(dtype=float)
            finite = x[np.isfinite(x)]
            self.sums[name] += [len(finite), finite.sum(), np.square(finite).sum()]
            gap = np.abs(x - self.centre[name][candidates["slot"].to_numpy()]) / self.spread[name]
            distance += np.nan_to_num(gap, nan=10.0)
        merged = pd.concat([self.kept, candidates.assign(distance=distance)], ignore_index=True)
        merged = merged.sort_values(["slot", "distance", "chrom", "pos", "file", "line"], kind="stable")
        self.kept = merged.groupby("slot", sort=False).head(self.per_gene).reset_index(drop=True)

    def description(self) -> dict[str, object]:
        positives = self.target.positives
        balance = {}
        for name in COVARIATES:
            n, total, squares = self.sums[name]
            a = positives[name].dropna()
            if n > 1 and len(a) > 1:
                mean = total / n
                balance[name] = standardised_mean_difference(a.mean(), a.var(), mean, (squares - n * mean ** 2) / (n - 1))
        kept = len(self.kept)
        counted = ("not_in_annotation", "variant_significant_for_a_gene", "candidates")
        return {"positive_genes": int(len(positives)), **{k: int(self.counts[k]) for k in counted},
                "kept": kept, "beyond_per_gene_bound": int(self.counts["candidates"]) - kept,
                "genes_with_negatives": int(self.kept["slot"].nunique()) if kept else 0,
                "balance_every_candidate": balance}


class _Selector:
    def __init__(self, targets: NegativeTargets, per_gene: int) -> None:
        self.targets = targets
        genes = sorted(set().union(*(t.positives["gene_id"] for t in targets.truth_sets)))
        self.genes = pd.Index(genes, dtype=object)
        threshold = targets.thresholds.reindex(self.genes).to_numpy(dtype=float) if len(genes) else np.zeros(0)
        self.without_threshold = int(np.isnan(threshold).sum())
        self.threshold = np.where(np.isnan(threshold), NO_THRESHOLD_P, threshold)
        self.pools = [_Pool(t, self.genes, per_gene) for t in targets.truth_sets]
        self.rows_read = 0
        self.excluded: Counter = Counter()
        self.build: str | None = None

    def kept(self) -> int:
        return sum(len(pool.kept) for pool in self.pools)

    def add(self, path: Path, file: int, block: Block) -> None:
        table, n = block.table, block.table.num_rows
        self.rows_read += n
        gene_codes, gene_names = arrow_codes(table.column("gene_id"))
        slot_of = self.genes.get_indexer(pc.utf8_trim_whitespace(gene_names).to_numpy(zero_copy_only=False))
        slot = np.append(slot_of, -1)[gene_codes]  # a missing gene id has the code len(gene_names)
        ours = slot >= 0
        pval = float_array(table.column("pval_nominal"))
        threshold = self.threshold[np.where(ours, slot, 0)] if len(self.threshold) else np.zeros(n)
        keep = ours & (pval > threshold)
        self.excluded.update({GENE_WITHOUT_POSITIVE: int(n - ours.sum()), PVAL_MISSING: int((ours & np.isnan(pval)).sum()),
                              SIGNIFICANT: int((ours & (pval <= threshold)).sum())})
        rows = np.flatnonzero(keep)
        if not len(rows):
            return
        sub = table.take(pa.array(rows))
        codes, ids = arrow_codes(sub.column("variant_id"))
        parts = id_parts(ids)
        if parts is None:
            raise self._bad_ids(path, block)
        chrom, pos, ref, alt, build = parts
        if self.build is not None and build != self.build:
            raise InputError(path, f"the variant ids from {block.where} {block.first:,} on are {build}, those before "
                             f"{self.build}", "Use the GTEx all-pairs files of one release")
        self.build = build
        variants = pd.DataFrame({"chrom": chrom.to_numpy(zero_copy_only=False), "pos": pos,
                                 "ref": ref.to_numpy(zero_copy_only=False), "alt": alt.to_numpy(zero_copy_only=False),
                                 "variant_id": ids.to_numpy(zero_copy_only=False)})
        elsewhere = pc.is_in(ids, value_set=self.targets.significant_variants).to_numpy(zero_copy_only=False)
        gene_slot = slot[rows]
        for pool in self.pools:
            wanted = pool.has[gene_slot]
            if not wanted.any():
                continue
            tested = np.flatnonzero(np.bincount(codes[wanted], minlength=len(ids)) > 0)
            inside = np.zeros(len(ids), dtype=bool)
            inside[tested] = variants_in_peaks(variants.iloc[tested], pool.target.annotation)
            pool.counts["not_in_annotation"] += int((wanted & ~inside[codes]).sum())
            candidate = wanted & inside[codes]
            pool.counts["variant_significant_for_a_gene"] += int((candidate & elsewhere[codes]).sum())
            candidate &= ~elsewhere[codes]
            pool.counts["candidates"] += int(candidate.sum())
            if candidate.any():
                pool.offer(self._rows(sub, variants, codes, rows, candidate, gene_slot, file, block))

    @staticmethod
    def _rows(sub: pa.Table, variants: pd.DataFrame, codes: np.ndarray, rows: np.ndarray, mask: np.ndarray,
              gene_slot: np.ndarray, file: int, block: Block) -> pd.DataFrame:
        picked = np.flatnonzero(mask)
        frame = variants.iloc[codes[picked]].reset_index(drop=True)
        frame["gene_id"] = pc.utf8_trim_whitespace(sub.column("gene_id").take(pa.array(picked))).to_numpy(
            zero_copy_only=False)
        for ours, theirs in (("effect", "slope"), ("effect_se", "slope_se"), ("pval", "pval_nominal"),
                             ("maf", "maf"), ("tss_distance", "tss_distance")):
            frame[ours] = float_array(sub.column(theirs))[picked] if theirs in sub.column_names else np.nan
        frame["slot"], frame["file"], frame["line"] = gene_slot[picked], file, block.first + rows[picked]
        return frame

    @staticmethod
    def _bad_ids(path: Path, block: Block) -> InputError:
        """The error naming the block's first malformed id (or its mixed builds) by its line or row."""
        ids = pd.Series(block.table.column("variant_id").to_numpy(zero_copy_only=False), dtype=object)
        lines = block.first + np.arange(len(ids)) if block.where == "line" else None
        split_ids(ids, path, lines=lines, first_row=block.first)  # raises, naming it
        return InputError(path, f"variant ids from {block.where} {block.first:,} on cannot be split into chrom, pos, "
                          "ref and alt", "Use the GTEx variant ids unchanged")

    def result(self, paths: Sequence[Path]) -> Selection:
        kept = [pool.kept for pool in self.pools if len(pool.kept)]
        described = {pool.target.name: pool.description() for pool in self.pools}
        excluded = Counter({k: v for k, v in self.excluded.items() if v})
        if not kept:
            return Selection(QTL_SCHEMA.empty_table(), self.rows_read, excluded, described, self.without_threshold,
                             self.build)
        frame = pd.concat(kept, ignore_index=True).drop_duplicates(["variant_id", "gene_id"])
        frame = frame.sort_values(["file", "line"], kind="stable").reset_index(drop=True)
        frame = frame.assign(is_significant=False, source_line=frame["line"].to_numpy(dtype=np.int64))
        table = validated_qtl_table(frame, paths[0], self.targets.source, self.build, excluded)
        return Selection(table, self.rows_read, excluded, described, self.without_threshold, self.build)



SECTION = "Non-significant tests from GTEx's all-pairs tables"


def report_section(stats: Mapping[str, Mapping[str, object]], read: bool) -> list[tuple]:
    """The report's account of where the eQTL truth sets' negatives come from: the all-pairs tables read, the rule,
    and per truth set how many tests were candidates and kept, with the positives' balance against every candidate
    (before the bound); or, when none were read, why the matching below has no negatives for them. `stats` are
    `gtex_negative_tests`' statistics (by source key)."""
    if not read:
        return [("h", 2, SECTION),
                ("p", "None were read (ENDOBENCH_GTEX_NEGATIVES is not set to allpairs; the full profile reads them), "
                      "so the eQTL truth sets hold no non-significant test of a positive's own gene and the matching "
                      "below says so instead of using other genes' leads.")]
    rows = []
    for source, s in sorted(stats.items()):
        for name, t in sorted(s.get("truth_sets", {}).items()):
            balance = t.get("balance_every_candidate", {})
            rows.append([name, f"{int(s.get('rows_read', 0)):,} ({', '.join(s.get('files', {})) or '–'})",
                         f"{t.get('positive_genes', 0):,}", f"{t.get('candidates', 0):,}",
                         f"{t.get('kept', 0):,} ({t.get('genes_with_negatives', 0):,} genes)",
                         "; ".join(f"{k} {v:.2f}" for k, v in balance.items()) or "–"])
    per_gene = sorted({int(s.get("per_gene", 0)) for s in stats.values()})
    return [("h", 2, SECTION),
            ("p", f"A test is a candidate negative of a truth set when {RULE}. Each gene keeps the "
                  f"{' or '.join(map(str, per_gene)) or '–'} candidates nearest to its positive in log10 TSS distance "
                  "and MAF (every test kept costs a prediction); the matching below draws its pool from them."),
            ("table", ["truth set", "all-pairs tests read (files)", "positive genes", "candidates",
                       "kept (genes)", "SMD, positives against every candidate"], rows)]
