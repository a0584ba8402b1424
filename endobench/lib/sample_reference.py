"""Build the bundled sample reference: real hg38 segments plus the real 100-bp dsQTL contexts placed at hg38.

No full hg38 chromosome is available offline. The sample reference is therefore a FASTA of segments named
`chrom:start-end` (1-based, inclusive): chr22:32,000,001-32,300,000 and chr2:1-2,333,275 as published, and for
every Degner dsQTL lifted to hg38 its 100-bp context with the reference base put at the variant. The reference
base is the table's `Ref` when it is the high or the low allele of the context; otherwise the variant is left
out and counted. Contexts lifted to the minus strand are reverse-complemented.
"""

from __future__ import annotations

import gzip
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from endobench.lib.atomic import atomic_path

CONTEXT_VARIANT_INDEX = 49
_REVCOMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")


@dataclass(frozen=True)
class SampleReferenceInputs:
    segments: tuple[tuple[Path, int], ...]  # (single-record FASTA, 1-based start of the record)
    dsqtl_table: Path
    high_fasta: Path
    low_fasta: Path

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
        )


def read_fasta(path: Path) -> dict[str, str]:
    opener = gzip.open if Path(path).suffix == ".gz" else open
    records: dict[str, list[str]] = {}
    name = None
    with opener(path, "rt") as handle:
        for line in handle:
            line = line.strip()
            if line.startswith(">"):
                name = line[1:].split()[0]
                records[name] = []
            elif name is not None and line:
                records[name].append(line)
    return {k: "".join(v) for k, v in records.items()}


def dsqtl_contexts(inputs: SampleReferenceInputs) -> tuple[list[tuple[str, str]], Counter]:
    """(record name, sequence) for every dsQTL context that can be placed at hg38, and the counts left out."""
    table = pd.read_csv(inputs.dsqtl_table, sep="\t", dtype=str, keep_default_na=False)
    high, low = read_fasta(inputs.high_fasta), read_fasta(inputs.low_fasta)
    excluded: Counter = Counter()
    placed: list[tuple[str, str]] = []
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
        context = hi[:CONTEXT_VARIANT_INDEX] + ref + hi[CONTEXT_VARIANT_INDEX + 1:]
        offset = CONTEXT_VARIANT_INDEX
        if strand == "-":
            context = context.translate(_REVCOMP)[::-1]
            offset = len(context) - 1 - CONTEXT_VARIANT_INDEX
        start = int(pos) - offset
        placed.append((f"{chrom}:{start}-{start + len(context) - 1}", context))
    return placed, excluded


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
