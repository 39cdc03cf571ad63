"""House rules that keep business logic free of Dagster wiring (STYLE.md, point 1 and 6)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fintech_dataops"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("folder", ["lib", "schemas"])
def test_business_logic_never_imports_dagster(folder):
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path) if m.split(".")[0].startswith("dagster"))
        for path in python_files(folder)
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"lib/ and schemas/ must not import dagster: {offenders}"


def test_one_import_direction_between_lib_and_schemas():
    """``lib`` imports ``schemas`` (the feed declarations and contracts); ``schemas`` never imports ``lib``."""
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in imported_modules(path) if m.startswith("fintech_dataops.lib"))
        for path in python_files("schemas")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"schemas/ must not import fintech_dataops.lib: {offenders}"


HEAVY_MODULES = ("sklearn", "plotly", "scipy")


def module_level_imports(path: Path) -> set[str]:
    """Imports executed when the module is imported (not inside functions)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_dagster_wiring_has_no_heavy_module_level_imports():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(m for m in module_level_imports(path) if m.split(".")[0] in HEAVY_MODULES)
        for path in python_files("defs")
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"each run process pays these imports; import them inside asset bodies: {offenders}"


def test_no_environment_reads_at_import_time_in_wiring():
    offenders = []
    for path in python_files("defs") + [PACKAGE / "definitions.py"]:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            source = ast.get_source_segment(path.read_text(), node) or ""
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and (
                "os.getenv" in source or "os.environ" in source
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == [], f"use dg.EnvVar in resource fields, not os.environ at import: {offenders}"


def test_required_top_level_folders_exist_in_a_clean_checkout():
    """`data/` is required (DESIGN.md layout); its README is committed so a clean clone has it."""
    import subprocess

    root = PACKAGE.parent
    tracked = subprocess.run(["git", "ls-files", "data/README.md", "workspace.yaml", "pyproject.toml", "README.md"],
                             cwd=root, capture_output=True, text=True, check=False).stdout.split()
    if not tracked:
        pytest.skip("not a git checkout")
    assert sorted(tracked) == ["README.md", "data/README.md", "pyproject.toml", "workspace.yaml"]
    # Every path the data README describes is one the code writes under the data dir.
    text = (root / "data" / "README.md").read_text()
    for entry in ("landing/", "warehouse.duckdb", "models/", "reports/", "dagster_home/", "alerts.log"):
        assert f"`{entry}" in text, entry
