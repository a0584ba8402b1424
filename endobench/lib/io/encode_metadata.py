"""An ENCODE file's own metadata (`/files/<accession>/?format=json`), checked before the file is used.

An accession typed wrong, or a file ENCODE has since revoked, would otherwise be read as if it were what the
configuration says: K562 DNase peaks on GRCh38. The metadata the full profile already fetches for the checksum
says what the file is; every field the run relies on is compared with what it expects, and a mismatch fails
naming both values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from endobench.lib.genome.builds import normalize_build
from endobench.lib.io.errors import InputError

RELEASED = "released"
PEAKS = "peaks"
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_REFETCH = "Check encode_base_url; delete this file so it is fetched again"


@dataclass(frozen=True)
class EncodeExpectation:
    """What a file must be for the run to use it; None leaves a field unchecked (a reference file has no assay).

    `output_type` matches ENCODE's output types ending in it (`peaks`, `replicated peaks`, `pseudoreplicated
    peaks`, ...); `biosample_id` is the ontology CURIE ENCODE files carry in `biosample_ontology.term_id`.
    """

    build: str
    status: str = RELEASED
    assay: str | None = None
    biosample_id: str | None = None
    biosample_name: str | None = None
    output_type: str | None = None


def read_encode_metadata(path: Path) -> dict:
    """The JSON object ENCODE returns for a file; anything else is bad input naming the file."""
    try:
        value = json.loads(Path(path).read_text())
    except ValueError as exc:
        raise InputError(path, f"the ENCODE file metadata is not JSON ({exc})", _REFETCH) from exc
    if not isinstance(value, dict):
        raise InputError(path, f"the ENCODE file metadata is a JSON {type(value).__name__}, not an object", _REFETCH)
    return value


def md5_from_encode_metadata(metadata: dict) -> str | None:
    """The file's `md5sum` as ENCODE publishes it, or None when it gives none (or not an MD5)."""
    value = str(metadata.get("md5sum") or "").lower()
    return value if _MD5.match(value) else None


def _biosample(metadata: dict) -> tuple[str | None, str | None]:
    """(term_id, term_name) of the file's biosample: embedded as an object in the default frame."""
    ontology = metadata.get("biosample_ontology")
    if isinstance(ontology, list):  # some frames give a list of one
        ontology = ontology[0] if len(ontology) == 1 else None
    if isinstance(ontology, dict):
        return ontology.get("term_id"), ontology.get("term_name")
    return None, None


def _build_of(assembly: object) -> str | None:
    try:
        return normalize_build(str(assembly)) if assembly else None
    except ValueError:
        return None


def metadata_mismatches(metadata: dict, expected: EncodeExpectation) -> list[str]:
    """Each field that differs from the expectation, as `field is <found>, expected <wanted>`."""
    found: list[str] = []
    assembly = metadata.get("assembly")
    if _build_of(assembly) != normalize_build(expected.build):
        found.append(f"assembly is {assembly!r}, expected {expected.build} (the build the source declares)")
    if metadata.get("status") != expected.status:
        found.append(f"status is {metadata.get('status')!r}, expected {expected.status!r}")
    if expected.assay is not None:
        assay = metadata.get("assay_term_name") or metadata.get("assay_title")
        if assay != expected.assay:
            found.append(f"assay is {assay!r}, expected {expected.assay!r}")
    if expected.biosample_id is not None:
        term_id, term_name = _biosample(metadata)
        if term_id != expected.biosample_id:
            found.append(f"biosample is {term_name!r} ({term_id}), expected {expected.biosample_name!r} "
                         f"({expected.biosample_id})")
    if expected.output_type is not None:
        output_type = str(metadata.get("output_type") or "")
        if not output_type.endswith(expected.output_type):
            found.append(f"output type is {metadata.get('output_type')!r}, expected {expected.output_type!r}")
    return found


def check_encode_metadata(path: Path, accession: str, expected: EncodeExpectation) -> dict:
    """The metadata at `path`, if the file it describes is what `expected` says; else InputError naming every
    mismatch with both values."""
    metadata = read_encode_metadata(path)
    wrong = metadata_mismatches(metadata, expected)
    if wrong:
        raise InputError(path, f"ENCODE file {accession} is not what this run expects: " + "; ".join(wrong),
                         "Configure the accession of the file you mean, or declare the build it is on")
    return metadata
