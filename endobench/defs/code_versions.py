"""Code versions that change when the code behind an asset changes, so that automation rebuilds what it made.

A hand-set `code_version` is only bumped when someone remembers to: a new truth set added to the catalog, or a
reader fixed, would otherwise leave last week's table in place, and the report would silently lack it. Each
asset's version is therefore its hand-set number plus a digest of the source of its module and of every
`endobench` module that module imports, directly or through others (imports inside functions included). A
change anywhere in that closure changes the version, and `UP_TO_DATE` requests the asset again; a change
elsewhere (the report's code, for the inputs) does not. Paid AlphaGenome calls are not repeated by a rebuild:
they come from the score cache.

What a digest cannot see: the data files a resource points to, and resource settings (for example
`ENDOBENCH_GTEX_TISSUES`); after changing those, materialise the inputs again (`endobench demo --force`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding the `endobench` package
PACKAGE = "endobench"
# Modules every asset imports that say when to run, not what to compute.
NOT_BEHAVIOUR = frozenset({"endobench.defs.automation", "endobench.defs.code_versions"})


def source_code_version(version: str, module: str, *also: str) -> str:
    """`<version>.<digest>`: the digest covers `module`, the modules in `also` (code an asset reaches through a
    resource chosen at load time) and every package module they import."""
    return f"{version}.{closure_digest(SOURCE_ROOT, PACKAGE, (module, *also))[:12]}"


@functools.cache
def closure_digest(root: Path, package: str, modules: tuple[str, ...], skip: frozenset = NOT_BEHAVIOUR) -> str:
    """SHA-256 over the names and sources of `modules` and of the `package` modules they import, transitively."""
    digest = hashlib.sha256()
    for name, path in sorted(import_closure(root, package, modules, skip).items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def import_closure(
    root: Path, package: str, modules: tuple[str, ...], skip: frozenset = frozenset(),
) -> dict[str, Path]:
    """Each module of `package` that `modules` import, directly or not, with its file."""
    found: dict[str, Path] = {}
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in found or name in skip:
            continue
        path = module_file(root, name)
        if path is None:  # `from package.x import a_function`: the module is package.x, already queued
            continue
        found[name] = path
        todo.extend(package_imports(path.read_bytes(), package))
    return found


@functools.cache
def package_imports(source: bytes, package: str) -> tuple[str, ...]:
    """The `package` modules a source imports (and the names it imports from them, which may be submodules).

    Cached on the source itself: the assets' closures share most of their modules, and each is parsed once."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == package:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)  # submodules imported by name
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names if alias.name.split(".")[0] == package)
    return tuple(names)


def module_file(root: Path, name: str) -> Path | None:
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None
