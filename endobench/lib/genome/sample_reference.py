"""Build the bundled sample reference: real hg38 segments plus the real 100-bp dsQTL contexts placed at hg38.

No full hg38 chromosome is available offline. The sample reference is therefore a FASTA of segments named
`chrom:start-end` (1-based, inclusive): chr22:32,000,001-32,300,000 and chr2:1-2,333,275 as published, and for
every Degner dsQTL lifted to hg38 its 100-bp context with the reference base put at the variant. The reference
base is the genome's where the bundled data show it (another dsQTL's context covering the position, or a GTEx v8
variant id there: GTEx REF alleles are the hg38 reference bases), otherwise the table's `Ref`, and always one of
the two context alleles; a variant whose `Ref` is neither is left out and counted. Contexts lifted to the minus
strand are reverse-complemented.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from endobench.lib.genome.sequence import complement, reverse_complement
from endobench.lib.io.atomic import atomic_path
from endobench.lib.io.fasta import read_fasta
from endobench.lib.io.tables import read_table

CONTEXT_VARIANT_INDEX = 49


@dataclass(frozen=True)
class SampleReferenceInputs:
    segments: tuple[tuple[Path, int], ...]  # (single-record FASTA, 1-based start of the record)
    dsqtl_table: Path
    high_fasta: Path
    low_fasta: Path
    gtex_tables: tuple[Path, ...] = ()  # GTEx eGenes tables: their REF alleles are hg38 reference bases

    @classmethod
    def from_dir(cls, sample_dir: Path) -> "SampleReferenceInputs":
        d = Path(sample_dir)
        return cls(
            segments=(
                (d / "kipoiseq_hg38_chr22_32000000_32300000.fa.gz", 32_000_001),
                (d / "bfairkun_hg38_chr2_1-2333275.fa.gz", 1),
            ),
            dsqtl_table=d / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz",
            high_fasta=d / "maggie_Degner2012_dsQTL_high_allele_100bp.hg18ctx.fa.gz",
            low_fasta=d / "maggie_Degner2012_dsQTL_low_allele_100bp.hg18ctx.fa.gz",
            gtex_tables=(d / "gtex_v8_Whole_Blood.v8.egenes.txt.gz",
                         d / "gtex_v8_Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz"),
        )

    def files(self) -> list[Path]:
        """Every file the sample reference is built from (an output must be none of them)."""
        return [*(path for path, _ in self.segments), self.dsqtl_table, self.high_fasta, self.low_fasta,
                *self.gtex_tables]


def dsqtl_contexts(inputs: SampleReferenceInputs) -> tuple[list[tuple[str, str]], Counter]:
    """(record name, sequence) for every dsQTL context that can be placed at hg38, and the counts left out.

    The base put at each variant is the table's `Ref` when it is the high or the low allele. Where another
    dsQTL's context also covers the position, that context shows the genome base there (only its own centre
    carries an allele); when that base is the other allele of the variant, it is used instead, so overlapping
    records never disagree and the reference carries the genome base, not Degner's `Ref` column. Where no context
    shows it but a GTEx variant id at the position does (a single-base REF that is one of the two alleles), that
    base is used.
    """
    table = read_table(inputs.dsqtl_table, ["ID", "chr_hg38", "pos_hg38", "strand_hg38", "Ref"], "lifted Degner dsQTL")
    high, low = read_fasta(inputs.high_fasta), read_fasta(inputs.low_fasta)
    excluded: Counter = Counter()
    candidates: list[tuple[str, int, str, str, str, str]] = []  # chrom, hg38 pos, strand, high, low, ref (+ strand)
    for row in table.itertuples(index=False):
        chrom, pos, strand, ident, ref = row.chr_hg38, row.pos_hg38, row.strand_hg38, row.ID, row.Ref.upper()
        if not chrom or not pos or "_" in chrom:
            excluded["not_lifted_to_primary_hg38"] += 1
            continue
        if ident not in high or ident not in low:
            excluded["no_context_sequence"] += 1
            continue
        hi, lo = high[ident].upper(), low[ident].upper()
        if ref not in (hi[CONTEXT_VARIANT_INDEX], lo[CONTEXT_VARIANT_INDEX]):
            excluded["table_ref_not_an_allele_of_context"] += 1
            continue
        if strand == "-":
            hi, lo, ref = reverse_complement(hi), reverse_complement(lo), complement(ref)
        candidates.append((chrom, int(pos), strand, hi, lo, ref))

    def offset(strand: str, length: int) -> int:
        return length - 1 - CONTEXT_VARIANT_INDEX if strand == "-" else CONTEXT_VARIANT_INDEX

    # The genome base at each position as seen from contexts whose centre is elsewhere.
    seen_elsewhere: dict[tuple[str, int], str] = {}
    for chrom, pos, strand, hi, _, _ in candidates:
        centre = offset(strand, len(hi))
        for i, base in enumerate(hi):
            if i != centre:
                seen_elsewhere.setdefault((chrom, pos - centre + i), base)
    from_gtex = gtex_reference_bases(inputs.gtex_tables, {(c, p) for c, p, *_ in candidates})
    placed: list[tuple[str, str]] = []
    for chrom, pos, strand, hi, lo, ref in candidates:
        centre = offset(strand, len(hi))
        for genome, reason in ((seen_elsewhere.get((chrom, pos)), "ref_taken_from_overlapping_context"),
                               (from_gtex.get((chrom, pos)), "ref_taken_from_gtex_variant_id")):
            if genome is not None and genome in (hi[centre], lo[centre]):
                if genome != ref:
                    excluded[reason] += 1
                    ref = genome
                break
        context = hi[:centre] + ref + hi[centre + 1:]
        start = pos - centre
        placed.append((f"{chrom}:{start}-{start + len(context) - 1}", context))
    return placed, excluded


def gtex_reference_bases(tables: tuple[Path, ...], positions: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The hg38 base at `positions` as GTEx variant ids show it (their REF is the reference), single bases only."""
    bases: dict[tuple[str, int], str] = {}
    for path in tables:
        table = read_table(path, ["chr", "variant_pos", "ref"], "GTEx eGenes")[["chr", "variant_pos", "ref"]]
        for chrom, pos, ref in table.itertuples(index=False):
            key = (chrom, int(pos))
            if key in positions and len(ref) == 1:
                bases.setdefault(key, ref.upper())
    return bases


def build_sample_reference(inputs: SampleReferenceInputs, out_fasta: Path) -> Counter:
    """Write the segment-set FASTA (60 bp lines, so pyfaidx can index it) and return the exclusion counts."""
    records: list[tuple[str, str]] = []
    for path, start in inputs.segments:
        ((name, seq),) = read_fasta(path).items()
        records.append((f"{name}:{start}-{start + len(seq) - 1}", seq.upper()))
    contexts, excluded = dsqtl_contexts(inputs)
    records.extend(sorted(set(contexts)))
    with atomic_path(Path(out_fasta)) as tmp:
        with open(tmp, "w") as handle:
            for name, seq in records:
                handle.write(f">{name}\n")
                for i in range(0, len(seq), 60):
                    handle.write(seq[i:i + 60] + "\n")
    Path(str(out_fasta) + ".fai").unlink(missing_ok=True)
    return excluded
