"""One list of report blocks rendered twice: as markdown (Dagster metadata) and as standalone HTML.

A block is a tuple: ("h", level, text), ("p", text), ("ul", [items]), ("table", header, rows),
("img", name, png bytes), ("details", summary, [blocks]) for content one click away, and
("section", css class, [blocks]) to frame a group of blocks in HTML. The HTML is standalone (images inline); the
markdown links each image to its file when given where the file is (`image_paths`), and inlines it otherwise.
Numbers are formatted here, once: three decimals, intervals in brackets, counts with thousands separators.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

Block = tuple

STYLE = ("body{font-family:sans-serif;max-width:1150px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;font-size:13px;margin:1em 0}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#f3f3f3}"
         "figure{display:inline-block;margin:0.5em}figcaption{font-size:12px;color:#555}"
         "details{margin:0.5em 0}summary{cursor:pointer;font-weight:bold}"
         ".headline{background:#f7fbff;border:1px solid #c6dbef;padding:0.5em 1em}")


def num(value: object, digits: int = 3) -> str:
    if value is None or value is pd.NA:
        return "–"
    value = float(value)
    return f"{value:.{digits}f}" if math.isfinite(value) else "–"


def count(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{int(value):,}"


def pvalue(value: object) -> str:
    """`3.3e-26`, or a bound (`< 1e-300`) as it stands."""
    if isinstance(value, str):
        return value
    if value is None or not math.isfinite(float(value)):
        return "–"
    return f"{float(value):.2g}"


def with_ci(row: Mapping[str, object], key: str) -> str:
    """`0.195 [0.159, 0.232]`, or the point alone when the interval is undefined."""
    lo, hi = row.get(f"{key}_ci") or [math.nan, math.nan]
    point = num(row.get(key))
    # an interval read back from metrics.json has None where it was undefined
    if point == "–" or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lo, hi)):
        return point
    return f"{point} [{lo:.3f}, {hi:.3f}]"


def jsonable(value: object) -> object:
    """Plain JSON values: numpy scalars unwrapped, non-finite floats and NA as None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _md_cell(value: object) -> str:
    # A pipe inside a cell would end it: escape it, so `|effect|` stays `|effect|` (not `/effect/`).
    return str(value).replace("|", "\\|")


def to_markdown(blocks: Sequence[Block], image_paths: Mapping[str, str] | None = None) -> str:
    """The blocks as markdown; an image named in `image_paths` is a link to that (relative) path, any other inline."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            out.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            out.append(block[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]) if block[1] else "_(none)_")
        elif kind == "table":
            header, rows = block[1], block[2]
            if not rows:
                out.append("_(none)_")
                continue
            lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            where = (image_paths or {}).get(block[1])
            out.append(f"![{block[1]}]({where})" if where else
                       f"![{block[1]}](data:image/png;base64,{base64.b64encode(block[2]).decode()})")
        elif kind == "details":
            out.append(f"**{block[1]}**\n\n" + to_markdown(block[2], image_paths).rstrip("\n"))
        elif kind == "section":
            out.append(to_markdown(block[2], image_paths).rstrip("\n"))
    return "\n\n".join(out) + "\n"


def _html_blocks(blocks: Sequence[Block]) -> list[str]:
    body = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            body.append(f"<h{block[1]}>{html.escape(block[2])}</h{block[1]}>")
        elif kind == "p":
            body.append(f"<p>{html.escape(block[1])}</p>")
        elif kind == "ul":
            items = "".join(f"<li>{html.escape(str(i))}</li>" for i in block[1]) or "<li>(none)</li>"
            body.append(f"<ul>{items}</ul>")
        elif kind == "table":
            header, rows = block[1], block[2]
            head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        elif kind == "img":
            data = base64.b64encode(block[2]).decode()
            body.append(f'<figure><img alt="{html.escape(block[1])}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(block[1])}</figcaption></figure>")
        elif kind == "details":
            body.append(f"<details><summary>{html.escape(block[1])}</summary>" + "\n".join(_html_blocks(block[2]))
                        + "</details>")
        elif kind == "section":
            body.append(f'<div class="{html.escape(block[1])}">' + "\n".join(_html_blocks(block[2])) + "</div>")
    return body


def to_html(blocks: Sequence[Block], title: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(_html_blocks(blocks)) + "\n</body></html>\n")
