"""FASTA files read whole into memory: small record sets such as allele contexts, segments and allele pairs.

A reference genome is not read this way; `endobench.lib.genome.reference` serves it by random access.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from endobench.lib.io.errors import InputError


def read_fasta(path: Path) -> dict[str, str]:
    """Records in file order (plain or gzipped); a duplicated name is an error naming both lines."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "the FASTA file does not exist", "Check the path")
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
