"""Score allele pairs given as two FASTA files (records with the same name are one pair) with the local model.

Each record is scored whole. The local model's score is a sum over every l-mer window of the sequence, so
scoring a long record is the same as sliding the model along it, and for a SNV at least l-1 bases from both
ends the delta equals the delta the pipeline computes on its (2*flank+1)-bp window. Records shorter than that
window are not scored and are counted as `too_short`; names found in only one file are counted too.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from endobench.lib.atomic import atomic_path
from endobench.lib.errors import InputError

HEADER = "name\tscore_ref\tscore_alt\tdelta\n"


def read_named_fasta(path: Path) -> dict[str, str]:
    """Records in file order (plain or gzipped); a duplicated name is an error naming both lines."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "the FASTA file does not exist", "Check the path given to score-pairs")
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    records: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    name = None
    try:
        with opener(path, "rt") as handle:
            for line_no, line in enumerate(handle, start=1):
                line = line.strip()
                if line.startswith(">"):
                    name = line[1:].split()[0] if line[1:].split() else ""
                    if not name:
                        raise InputError(path, "a FASTA header has no name", "Give every record a name", line=line_no)
                    if name in records:
                        raise InputError(
                            path, f"record name {name!r} appears again (first at line {first_line[name]:,})",
                            "Give every record a unique name", line=line_no,
                        )
                    records[name] = []
                    first_line[name] = line_no
                elif line:
                    if name is None:
                        raise InputError(path, "sequence before the first '>' header", "Check that the file is FASTA",
                                         line=line_no)
                    records[name].append(line)
    except (UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(path, f"the file is not readable as (gzipped) FASTA text ({exc})",
                         "Check that the file is a FASTA or a gzipped FASTA") from exc
    return {k: "".join(v).upper() for k, v in records.items()}


def score_fasta_pairs(ref_fasta: Path, alt_fasta: Path, out_tsv: Path, model) -> dict[str, int]:
    """Write name, score_ref, score_alt, delta (= alt - ref) for every shared name, in the REF file's order.

    Returns counts: ref_records, alt_records, scored, only_in_ref, only_in_alt, too_short, and min_length
    (the shortest record scored, the model input of 2*flank+1 bp).
    """
    refs = read_named_fasta(ref_fasta)
    alts = read_named_fasta(alt_fasta)
    shared = [name for name in refs if name in alts]
    if not shared:
        raise InputError(
            ref_fasta, f"no record name is shared with {alt_fasta}",
            "Name each REF record and its ALT record identically in the two files",
        )
    minimum = model.input_length
    usable = [n for n in shared if len(refs[n]) >= minimum and len(alts[n]) >= minimum]
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
        "too_short": len(shared) - len(usable),
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
    if counts["too_short"]:
        left_out.append(f"{counts['too_short']:,} shorter than the model input of {counts['min_length']} bp")
    if left_out:
        text += "; not scored: " + ", ".join(left_out)
    return text
