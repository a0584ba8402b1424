"""The fixed vocabulary of materialization metadata keys, and helpers that build it."""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from pathlib import Path

import dagster as dg


def exclusion_metadata(excluded: Mapping[str, int], prefix: str = "") -> dict[str, dg.MetadataValue]:
    """`n_excluded_<reason>` for each reason (always present for every reason seen, even when 0)."""
    return {f"{prefix}n_excluded_{reason}": dg.MetadataValue.int(int(n)) for reason, n in sorted(excluded.items())}


def table_metadata(path: Path, row_count: int) -> dict[str, dg.MetadataValue]:
    return {"row_count": dg.MetadataValue.int(int(row_count)), "output_path": dg.MetadataValue.path(str(path))}


def markdown_table(rows: list[Mapping[str, object]]) -> str:
    if not rows:
        return "_(none)_"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(h)) for h in headers) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def png_markdown(name: str, png: bytes) -> str:
    return f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})"


def rounded(metadata: Mapping[str, object], significant: int = 4) -> dict[str, object]:
    """The same metadata with every float kept to `significant` digits: the UI shows 0.6203, not 0.6202986613.

    Plain floats and float metadata values are rounded; everything else passes through unchanged.
    """
    def one(value: object) -> object:
        if isinstance(value, float):
            return float(f"{value:.{significant}g}") if math.isfinite(value) else value
        if isinstance(value, dg.FloatMetadataValue) and value.value is not None:
            return dg.MetadataValue.float(one(float(value.value)))
        return value

    return {key: one(value) for key, value in metadata.items()}
