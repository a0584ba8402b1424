"""The one FASTA parser, for files read whole into memory: allele contexts, segments and allele pairs.

A reference genome is not read this way; `endobench.lib.genome.reference` serves it by random access (pyfaidx).
Sequence lines hold nucleotide codes only (A, C, G, T, N, the IUPAC ambiguity codes, U; any case): digits, spaces,
gaps or protein letters are an error naming the line, so GenBank-style numbered sequence or an alignment is never
read as bases. Blank lines, trailing spaces, a byte-order mark and CRLF line ends are harmless.
"""

from __future__ import annotations

import re
from pathlib import Path

from endobench.lib.io.compression import encoding_error, open_text
from endobench.lib.io.errors import InputError, quote

NUCLEOTIDE_CODES = "ACGTURYSWKMBDHVN"
_NOT_A_CODE = re.compile(f"[^{NUCLEOTIDE_CODES}{NUCLEOTIDE_CODES.lower()}]")
_ACGT = re.compile("[ACGT]*")


def is_acgt(sequence: str) -> bool:
    """True when every character is A, C, G or T (upper case, as `read_fasta` returns them)."""
    return _ACGT.fullmatch(sequence) is not None


def read_fasta(path: Path, what: str = "FASTA") -> dict[str, str]:
    """Records in file order, upper case (plain or gzipped); a repeated name is an error naming both lines."""
    path = Path(path)
    records: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    name = None
    handle = open_text(path, what)
    try:
        for line_no, line in enumerate(handle, start=1):
            line = line.rstrip()  # trailing spaces and line ends; spaces inside a line are an error below
            if not line:
                continue
            if line.startswith(">"):
                name = line[1:].split()[0] if line[1:].split() else ""
                if not name:
                    raise InputError(path, "a FASTA header has no name", "Give every record a name", line=line_no)
                if name in records:
                    raise InputError(
                        path, f"record name {quote(name)} appears again (first at line {first_line[name]:,})",
                        "Give every record a unique name", line=line_no,
                    )
                records[name] = []
                first_line[name] = line_no
                continue
            if name is None:
                raise InputError(path, f"text before the first '>' header: {quote(line)}",
                                 "Check that the file is FASTA (records start with a '>name' line)", line=line_no)
            bad = _NOT_A_CODE.search(line)
            if bad:
                raise InputError(path, f"record {quote(name, 60)} has {_describe(bad.group())} in its sequence: "
                                 f"{quote(line)}", _fix_for(bad.group()), line=line_no)
            records[name].append(line)
    except UnicodeDecodeError as exc:
        raise encoding_error(path, what, exc) from exc
    finally:
        handle.close()
    if not records:
        raise InputError(path, f"the {what} file holds no record", "Check that the file is FASTA (records start "
                         "with a '>name' line)", line=1)
    return {k: "".join(v).upper() for k, v in records.items()}


def _describe(character: str) -> str:
    if character.isdigit() or character.isspace():
        return f"{quote(character)}, which is not a base (numbering or spacing, as in GenBank/EMBL files)"
    if character in "-.*":
        return f"{quote(character)}, an alignment gap or stop, not a base"
    return f"{quote(character)}, which is not a nucleotide code"


def _fix_for(character: str) -> str:
    if character.isdigit() or character.isspace():
        return "Convert the file to FASTA: sequence lines hold bases only, without numbers or spaces"
    if character in "-.*":
        return "Remove the gaps: give ungapped sequences, not an alignment"
    return f"Give DNA sequences made of {NUCLEOTIDE_CODES} only (is this a protein FASTA?)"
