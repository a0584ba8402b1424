"""The layout rules of docs/architecture.md, checked on the code itself so that they stay true."""

import ast
import json
import re
import subprocess
import sys

from endobench_tests.paths import REPO

PACKAGE = REPO / "endobench"
MAX_ASSET_BODY_LINES = 40


def asset_bodies() -> dict[str, int]:
    """Lines of each decorated function in defs/assets/, its docstring left out."""
    lengths = {}
    for path in sorted((PACKAGE / "defs" / "assets").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.decorator_list:
                body = node.body
                if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                    body = body[1:]
                lengths[f"{path.name}:{node.name}"] = node.end_lineno - body[0].lineno + 1
    return lengths


def test_no_asset_body_is_longer_than_40_lines():
    lengths = asset_bodies()
    assert "inputs.py:raw_gtex_eqtls" in lengths and "report.py:benchmark_report" in lengths
    assert {name: n for name, n in lengths.items() if n > MAX_ASSET_BODY_LINES} == {}


def test_lib_holds_at_most_8_modules_directly():
    direct = [p.name for p in (PACKAGE / "lib").iterdir() if p.name != "__init__.py" and p.name != "__pycache__"]
    assert len(direct) <= 8, sorted(direct)


def test_lib_imports_no_dagster():
    offenders = [str(p.relative_to(REPO)) for p in (PACKAGE / "lib").rglob("*.py")
                 if re.search(r"^\s*(import dagster|from dagster)", p.read_text(), flags=re.M)]
    assert offenders == []


def test_tests_use_no_dagster_internals():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "endobench_tests").rglob("*.py")
                 if re.search(r"^\s*(import dagster\._|from dagster\._)", p.read_text(), flags=re.M)]
    assert offenders == []


def test_loading_the_definitions_leaves_the_report_stack_unimported():
    """Every run process loads the definitions; only the report and model runs need scipy.stats, sklearn, matplotlib."""
    script = ("import sys, json; from endobench.definitions import defs; defs(); "
              "print(json.dumps(sorted(m for m in ('scipy.stats', 'sklearn', 'matplotlib') if m in sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == []
