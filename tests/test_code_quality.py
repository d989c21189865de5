"""ruff and mypy stay clean, and the pure core stays free of boto3."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# The functional core: values in, values out. None of these may reach boto3, the CLI or the sandbox.
PURE_MODULES = [
    "awsdata",
    "census_report",
    "compliance/model",
    "compliance/names",
    "compliance/render",
    "config",
    "config_edit",
    "cost",
    "diffs",
    "events",
    "inventory",
    "jinja",
    "naming",
    "permissions",
    "plan",
    "plan_steps",
    "planner",
    "planner_notifications",
    "planner_packs",
    "preflight",
    "recording",
    "recorders",
    "render_output",
    "report_text",
    "scaffold",
    "shards",
    "status",
    "statuses",
    "teardown",
    "templates",
    "yamlpos",
]
FORBIDDEN_PACKAGES = {"boto3", "botocore", "typer", "moto", "cfnlint"}
FORBIDDEN_MODULES = ("orgdeploy.aws.", "orgdeploy.cli", "orgdeploy.sandbox", "orgdeploy.executor", "orgdeploy.deploy")


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip(f"{name} is not installed in this environment")
    return found


def test_ruff_is_clean() -> None:
    result = subprocess.run([_tool("ruff"), "check", "."], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = subprocess.run([_tool("mypy")], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_modules_do_not_import_aws_sdks_or_the_cli(module: str) -> None:
    tree = ast.parse((REPO_ROOT / "orgdeploy" / f"{module}.py").read_text())
    # Imports under `if TYPE_CHECKING:` never run.
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert not {name.split(".")[0] for name in imported} & FORBIDDEN_PACKAGES
    assert not [name for name in imported if name.startswith(FORBIDDEN_MODULES)]


def test_only_the_sandbox_imports_moto() -> None:
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "orgdeploy").rglob("*.py")
        if "sandbox" not in path.parts and ("import moto" in path.read_text() or "from moto" in path.read_text())
    ]
    assert offenders == []
