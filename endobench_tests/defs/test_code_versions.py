"""An asset's code version follows the code behind it: its module and every package module that module imports."""

import textwrap

from endobench.defs.code_versions import NOT_BEHAVIOUR, SOURCE_ROOT, closure_digest, import_closure

MODULES = {
    "pkg/__init__.py": "",
    "pkg/assets.py": """
        from pkg.lib.reader import read

        def asset():
            from pkg.lib import late  # imported in the body, as the report asset does
            return read() + late.X
    """,
    "pkg/lib/__init__.py": "",
    "pkg/lib/reader.py": "import pkg.lib.base\n\ndef read():\n    return pkg.lib.base.Y\n",
    "pkg/lib/base.py": "Y = 1\n",
    "pkg/lib/late.py": "X = 2\n",
    "pkg/lib/unrelated.py": "Z = 3\n",
}


def write_package(root, modules=MODULES):
    for name, text in modules.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_closure_follows_imports_at_the_top_in_bodies_and_through_other_modules(tmp_path):
    write_package(tmp_path)
    closure = import_closure(tmp_path, "pkg", ("pkg.assets",))
    assert sorted(closure) == ["pkg.assets", "pkg.lib", "pkg.lib.base", "pkg.lib.late", "pkg.lib.reader"]


def test_a_change_deep_in_the_closure_changes_the_digest(tmp_path):
    write_package(tmp_path)
    before = closure_digest(tmp_path, "pkg", ("pkg.assets",))
    (tmp_path / "pkg/lib/base.py").write_text("Y = 10\n")
    closure_digest.cache_clear()
    assert closure_digest(tmp_path, "pkg", ("pkg.assets",)) != before


def test_a_change_outside_the_closure_keeps_the_digest(tmp_path):
    write_package(tmp_path)
    before = closure_digest(tmp_path, "pkg", ("pkg.assets",))
    (tmp_path / "pkg/lib/unrelated.py").write_text("Z = 30\n")
    closure_digest.cache_clear()
    assert closure_digest(tmp_path, "pkg", ("pkg.assets",)) == before


def test_the_gtex_table_is_rebuilt_when_its_reader_or_the_truth_set_catalog_changes():
    closure = import_closure(SOURCE_ROOT, "endobench", ("endobench.defs.assets.inputs",), NOT_BEHAVIOUR)
    assert {"endobench.lib.truth_sets.gtex", "endobench.lib.truth_sets.catalog",
            "endobench.resources.sources"} <= set(closure)
    assert not NOT_BEHAVIOUR & set(closure)


def test_the_report_code_is_not_behind_the_inputs():
    closure = import_closure(SOURCE_ROOT, "endobench", ("endobench.defs.assets.inputs",), NOT_BEHAVIOUR)
    assert "endobench.lib.evaluation.report" not in closure
