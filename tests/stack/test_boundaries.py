"""The services (apps/) and the tooling (obsctl/) do not import each other; catalog/ is the one
module both use, and it imports neither.

The tooling knows a service only by what the catalog says and by its entry points
(apps.<name>.app:create_app(), `python -m apps.common.migrate`, `python -m apps.seed`), which it
runs in processes of their own. Imports are read with ast, so an import inside a function counts
too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The repository's own top-level packages.
FIRST_PARTY = {"apps", "catalog", "obsctl", "tests"}
# What each package may import of the others.
ALLOWED = {
    "apps": {"apps", "catalog"},
    "catalog": {"catalog"},
    "obsctl": {"obsctl", "catalog"},
}


def imported_packages(path: Path) -> dict[str, int]:
    """The first-party top-level packages a module imports, each with the line of its first import."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".", 1)[0]
            if top in FIRST_PARTY:
                found.setdefault(top, node.lineno)
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_they_may(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert modules, package
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: imports {other}"
        for path in modules
        for other, line in imported_packages(path).items()
        if other not in ALLOWED[package]
    ]
    assert not wrong, f"{package} may import only {sorted(ALLOWED[package])}:\n" + "\n".join(wrong)


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\n\ndef f():\n    from apps.seed import seed_demo\n    import obsctl.paths\n")
    assert imported_packages(module) == {"apps": 4, "obsctl": 5}
