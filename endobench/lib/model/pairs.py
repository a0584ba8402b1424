"""Score allele pairs given as two FASTA files (records with the same name are one pair) with the local model.

Each record is scored whole. The local model's score is a sum over every l-mer window of the sequence, so
scoring a long record is the same as sliding the model along it, and for a SNV at least l-1 bases from both
ends the delta equals the delta the pipeline computes on its (2*flank+1)-bp window. Records shorter than that
window are not scored and are counted as `too_short`; names found in only one file are counted too, and so are
pairs with a character other than A, C, G, T in either sequence (`non_acgt_base`: N, an ambiguity code): the model
would skip those k-mers silently. Lines that are not sequence at all (digits, spaces) stop the parser.
"""

from __future__ import annotations

from pathlib import Path

from endobench.lib.io.atomic import atomic_path
from endobench.lib.io.errors import InputError
from endobench.lib.io.fasta import is_acgt, read_fasta

HEADER = "name\tscore_ref\tscore_alt\tdelta\n"


def score_fasta_pairs(ref_fasta: Path, alt_fasta: Path, out_tsv: Path, model) -> dict[str, int]:
    """Write name, score_ref, score_alt, delta (= alt - ref) for every shared name, in the REF file's order.

    `model` may be a function that returns the model: it is called once both files have been read, so that bad
    input costs no training. Returns counts: ref_records, alt_records, scored, only_in_ref, only_in_alt,
    non_acgt_base, too_short, and min_length (the shortest record scored, the model input of 2*flank+1 bp).
    """
    refs = read_fasta(ref_fasta)
    alts = read_fasta(alt_fasta)
    shared = [name for name in refs if name in alts]
    if not shared:
        raise InputError(
            ref_fasta, f"no record name is shared with {alt_fasta}",
            "Name each REF record and its ALT record identically in the two files",
        )
    model = model() if callable(model) else model
    minimum = model.input_length
    clean = [n for n in shared if is_acgt(refs[n]) and is_acgt(alts[n])]
    usable = [n for n in clean if len(refs[n]) >= minimum and len(alts[n]) >= minimum]
    s_ref, s_alt = model.score_pairs([refs[n] for n in usable], [alts[n] for n in usable])
    with atomic_path(Path(out_tsv)) as tmp, open(tmp, "w") as handle:
        handle.write(HEADER)
        handle.writelines(f"{name}\t{a:.6g}\t{b:.6g}\t{b - a:.6g}\n" for name, a, b in zip(usable, s_ref, s_alt))
    return {
        "ref_records": len(refs),
        "alt_records": len(alts),
        "scored": len(usable),
        "only_in_ref": len(refs) - len(shared),
        "only_in_alt": sum(1 for n in alts if n not in refs),
        "non_acgt_base": len(shared) - len(clean),
        "too_short": len(clean) - len(usable),
        "min_length": minimum,
    }


def describe_counts(counts: dict[str, int]) -> str:
    """One readable line for the command line, naming every record that was not scored and why."""
    text = f"scored {counts['scored']:,} pairs"
    left_out = []
    if counts["only_in_ref"]:
        left_out.append(f"{counts['only_in_ref']:,} only in the REF file")
    if counts["only_in_alt"]:
        left_out.append(f"{counts['only_in_alt']:,} only in the ALT file")
    if counts["non_acgt_base"]:
        left_out.append(f"{counts['non_acgt_base']:,} with a base other than A, C, G, T (N or an ambiguity code)")
    if counts["too_short"]:
        left_out.append(f"{counts['too_short']:,} shorter than the model input of {counts['min_length']} bp")
    if left_out:
        text += "; not scored: " + ", ".join(left_out)
    return text
