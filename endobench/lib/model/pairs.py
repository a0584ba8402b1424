"""Score allele pairs given as two FASTA files (records with the same name are one pair) with the local model or
the motif scan (`lib/motifs/pairs.MotifPairScorer`): one reader, the same checks and counts, the same columns.

Each record is scored whole by the local model. Its score is a sum over every l-mer window of the sequence, so
scoring a long record is the same as sliding the model along it, and for a SNV at least l-1 bases from both
ends the delta equals the delta the pipeline computes on its (2*flank+1)-bp window. The motif scan scans where the
two records differ, as it scans a variant. The window checks of the graph
that apply to a pair without coordinates apply here, each pair named by its first problem: a character other than
A, C, G, T in either sequence (`non_acgt_base`: N, an ambiguity code; the model would skip those k-mers silently),
the same sequence twice (`ref_equals_alt`, the graph's reason: there is no variant to score), and a record shorter
than the model's window (`too_short`). Names found in only one file are counted too. Lines that are not sequence at
all (digits, spaces) stop the parser. The output is TSV, CSV or parquet, as its name says (`write_frame`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from endobench.lib.genome.windows import REF_EQUALS_ALT
from endobench.lib.io.atomic import write_frame
from endobench.lib.io.errors import InputError
from endobench.lib.io.fasta import is_acgt, read_fasta

COLUMNS = ["name", "score_ref", "score_alt", "delta"]
NON_ACGT_BASE = "non_acgt_base"
TOO_SHORT = "too_short"


def score_fasta_pairs(ref_fasta: Path, alt_fasta: Path, out: Path, model) -> dict[str, object]:
    """Write name, score_ref, score_alt, delta (= alt - ref) for every shared name, in the REF file's order.

    `model` (the local model, or a `MotifPairScorer`: `input_length` and `score_pairs(refs, alts)`) may be a function
    that returns it: it is called once both files have been read, so that bad input costs no training. Returns counts: ref_records, alt_records, scored, only_in_ref, only_in_alt,
    non_acgt_base, ref_equals_alt, too_short, min_length (the shortest record scored, the model input of
    2*flank+1 bp), and `not_scored`: the names of the shared pairs left out, by reason.
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
    not_scored: dict[str, list[str]] = {NON_ACGT_BASE: [], REF_EQUALS_ALT: [], TOO_SHORT: []}
    usable = []
    for name in shared:
        ref, alt = refs[name], alts[name]
        reason = (NON_ACGT_BASE if not (is_acgt(ref) and is_acgt(alt)) else REF_EQUALS_ALT if ref == alt
                  else TOO_SHORT if min(len(ref), len(alt)) < minimum else "")
        if reason:
            not_scored[reason].append(name)
        else:
            usable.append(name)
    s_ref, s_alt = model.score_pairs([refs[n] for n in usable], [alts[n] for n in usable])
    write_frame(pd.DataFrame({"name": usable, "score_ref": s_ref, "score_alt": s_alt, "delta": s_alt - s_ref},
                             columns=COLUMNS), Path(out))
    return {
        "ref_records": len(refs),
        "alt_records": len(alts),
        "scored": len(usable),
        "only_in_ref": len(refs) - len(shared),
        "only_in_alt": sum(1 for n in alts if n not in refs),
        **{reason: len(names) for reason, names in not_scored.items()},
        "min_length": minimum,
        "not_scored": not_scored,
    }


def describe_counts(counts: dict[str, object], shown: int = 5) -> str:
    """One readable line for the command line, naming the pairs that were not scored and why."""
    text = f"scored {counts['scored']:,} pairs"
    names = counts.get("not_scored", {})

    def named(reason: str) -> str:
        listed = names.get(reason, [])
        more = f" and {len(listed) - shown:,} more" if len(listed) > shown else ""
        return f" ({', '.join(listed[:shown])}{more})" if listed else ""

    left_out = []
    if counts["only_in_ref"]:
        left_out.append(f"{counts['only_in_ref']:,} only in the REF file")
    if counts["only_in_alt"]:
        left_out.append(f"{counts['only_in_alt']:,} only in the ALT file")
    if counts[NON_ACGT_BASE]:
        left_out.append(f"{counts[NON_ACGT_BASE]:,} with a base other than A, C, G, T (N or an ambiguity code)"
                        + named(NON_ACGT_BASE))
    if counts[REF_EQUALS_ALT]:
        left_out.append(f"{counts[REF_EQUALS_ALT]:,} whose REF and ALT sequences are the same ({REF_EQUALS_ALT})"
                        + named(REF_EQUALS_ALT))
    if counts[TOO_SHORT]:
        left_out.append(f"{counts[TOO_SHORT]:,} shorter than the model input of {counts['min_length']} bp"
                        + named(TOO_SHORT))
    if left_out:
        text += "; not scored: " + ", ".join(left_out)
    return text
