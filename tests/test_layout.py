"""The rooms of the house: one package per stage, and imports only flow from later stages to earlier ones.

fetch → capture → parse (crawler) → extract/normalise (extractors) → index (indexer) → analyse (analytics)
→ alert (alerts), driven by campaigns; dashboards and the command line read everything. A later stage may
import an earlier one, never the reverse. The testbed is a simulated world: the product never needs it,
only the demo command does.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("tor", "extractors", "crawler", "indexer", "analytics", "alerts", "campaigns", "dashboards", "testbed", "cli")

# package -> packages it must never import (the rule, plus "nothing below imports the CLI").
FORBIDDEN: dict[str, set[str]] = {
    "tor": {"analytics", "alerts", "campaigns", "dashboards", "cli", "testbed"},
    "extractors": {"analytics", "alerts", "campaigns", "dashboards", "cli", "testbed"},
    "crawler": {"analytics", "alerts", "campaigns", "dashboards", "cli", "testbed"},
    "indexer": {"analytics", "alerts", "campaigns", "dashboards", "cli", "testbed"},
    "analytics": {"alerts", "campaigns", "dashboards", "cli", "testbed"},
    "alerts": {"campaigns", "dashboards", "cli", "testbed"},
    "campaigns": {"dashboards", "cli", "testbed"},
    "dashboards": {"cli", "campaigns", "testbed"},
    "testbed": {"analytics", "alerts", "campaigns", "dashboards", "cli", "indexer"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute module a file imports (top level and inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _py_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_every_stage_is_a_package_of_its_own() -> None:
    for package in STAGES:
        assert (ROOT / package / "__init__.py").is_file(), f"{package}/ is not a package"


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_a_later_stage(package: str) -> None:
    bad = []
    for path in _py_files(package):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in FORBIDDEN[package] or top == "tests":
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not bad, "imports against the stage order:\n" + "\n".join(bad)


def test_indexer_holds_only_storage() -> None:
    """indexer/ is the data model, schemas, the backend interface, its backends and query parsing."""
    names = {p.stem for p in (ROOT / "indexer").glob("*.py")}
    for moved in ("turnover", "identity", "trends", "rollup", "alerts", "alert_rules", "channels"):
        assert moved not in names, f"indexer/{moved}.py belongs to a later stage"


def _command_modules() -> dict[str, Path]:
    """Every sub-command module: a package's ``cli.py`` or ``*_cli.py``."""
    found = {}
    for path in [*ROOT.glob("*/cli.py"), *ROOT.glob("*/*_cli.py")]:
        if path.parent.name in STAGES:
            found[f"{path.parent.name}.{path.stem}"] = path
    return found


def test_command_modules_do_not_import_each_other() -> None:
    """Each package owns its sub-command modules; only cli.main knows them all (and loads them by name).
    What two commands share lives in an ordinary module (e.g. analytics.profile)."""
    commands = _command_modules()
    bad = []
    for name, path in commands.items():
        for line, module in _imports(path):
            if module in commands and module != name:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    for package in STAGES:
        for path in _py_files(package):
            if path in commands.values() or path.parent.name == "cli":
                continue
            for line, module in _imports(path):
                if module in commands:
                    bad.append(f"{path.relative_to(ROOT)}:{line} imports the command module {module}")
    for path in _py_files("cli"):
        for line, module in _imports(path):
            if module in commands and not module.startswith("cli."):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module} (load it through COMMAND_MODULES)")
    assert not bad, "\n".join(bad)


def test_the_entry_point_registers_every_command_module() -> None:
    from cli.main import COMMAND_MODULES

    on_disk = {name for name in _command_modules() if name != "cli.main"}
    assert on_disk <= set(COMMAND_MODULES), f"not registered: {sorted(on_disk - set(COMMAND_MODULES))}"
