"""The package's rooms keep to their imports, and no module imports itself back through another.

Each room's __init__.py says what it may import; this test holds those lines. Imports under
`if TYPE_CHECKING:` never run and are left out; imports inside functions count.
"""

from __future__ import annotations

import ast
import shutil
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "orgdeploy"
PURE = ("config", "templates", "planning", "reporting")

# The orgdeploy rooms each room may import, in pipeline order. A room may always import itself.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "errors": frozenset(),
    "config": frozenset({"errors"}),
    "templates": frozenset({"errors", "config"}),
    "planning": frozenset({"errors", "config", "templates"}),
    "reporting": frozenset({"errors", "config", "templates", "planning"}),
    "aws": frozenset({"errors", *PURE}),
    "running": frozenset({"errors", *PURE, "aws"}),
    "cli": frozenset({"errors", *PURE, "aws", "running", "root"}),
    "sandbox": frozenset({"errors", *PURE, "aws", "running"}),
    "root": frozenset({"cli"}),
}
# Third-party packages and the rooms (or single modules) that alone may import them.
ONLY_IN: dict[str, tuple[str, ...]] = {
    "boto3": ("aws", "sandbox"),
    "botocore": ("aws", "sandbox"),
    "moto": ("sandbox",),
    "typer": ("cli",),
    "cfnlint": ("templates/lint.py",),
}
# The code path that starts a sandbox: the only modules outside it that may import it.
SANDBOX_STARTERS = ("cli/aws_options.py", "cli/commands_sandbox.py")


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _room(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    if len(relative.parts) == 1:
        return "errors" if relative.stem == "errors" else "root"
    return relative.parts[0]


def _dotted(path: Path) -> str:
    relative = path.relative_to(REPO_ROOT).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


@cache
def _imports(path: Path) -> frozenset[str]:
    """Every module name path imports at run time, with `from a import b` giving a.b when b is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if _module_path(candidate) is not None:
                    found.add(candidate)
    return frozenset(found)


def _module_path(dotted: str) -> Path | None:
    if not dotted.startswith("orgdeploy"):
        return None
    base = REPO_ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _room_of_import(dotted: str) -> str | None:
    path = _module_path(dotted)
    return None if path is None else _room(path)


def _allowed(path: Path, rule: tuple[str, ...]) -> bool:
    relative = path.relative_to(PACKAGE).as_posix()
    return any(relative == item or relative.startswith(f"{item}/") for item in rule)


def layering_violations() -> list[str]:
    found = []
    for path in _modules():
        room = _room(path)
        where = path.relative_to(REPO_ROOT).as_posix()
        for name in sorted(_imports(path)):
            top = name.split(".")[0]
            if top in ONLY_IN and not _allowed(path, ONLY_IN[top]):
                found.append(f"{where} imports {name}: only {', '.join(ONLY_IN[top])} may")
            target = _room_of_import(name)
            # The package itself holds only the version, which every room may read.
            if target is None or target == room or name == "orgdeploy":
                continue
            if target == "sandbox" and room == "cli":
                if not _allowed(path, SANDBOX_STARTERS):
                    found.append(f"{where} imports {name}: only {', '.join(SANDBOX_STARTERS)} start the sandbox")
            elif target not in MAY_IMPORT[room]:
                found.append(f"{where} imports {name}: {room}/ may import only {sorted(MAY_IMPORT[room])}")
    return found


def import_cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), by dotted name."""
    graph = {_dotted(path): sorted(n for n in _imports(path) if _module_path(n)) for path in _modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            # A package's __init__ is imported on the way to its modules; that is no cycle.
            if node.startswith(f"{nxt}."):
                continue
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_every_room_keeps_to_its_imports() -> None:
    assert layering_violations() == []


def test_there_are_no_import_cycles() -> None:
    assert import_cycles() == []


def test_every_room_states_its_role_and_its_imports() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        if init.parent == PACKAGE:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert doc.startswith("Holds "), f"{init}: the first line says what the room holds"
        assert "mport" in doc, f"{init}: the docstring says what the room may import"


def test_the_package_root_reads_as_the_pipeline() -> None:
    rooms = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    assert rooms == sorted(["config", "templates", "planning", "running", "reporting", "aws", "cli", "sandbox"])
    files = sorted(p.name for p in PACKAGE.iterdir() if p.is_file())
    assert files == ["__init__.py", "__main__.py", "errors.py", "py.typed"]


@pytest.fixture
def package_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A copy of the package that the rules read instead, for adding one bad line to."""
    copy = tmp_path / "orgdeploy"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", copy)
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    _imports.cache_clear()
    yield copy
    _imports.cache_clear()


def _add_import(module: Path, line: str) -> None:
    module.write_text(module.read_text(encoding="utf-8") + f"\n\ndef _probe() -> None:\n    {line}\n")


@pytest.mark.parametrize(
    ("module", "line", "expected"),
    [
        ("planning/planner.py", "import boto3", "only aws, sandbox may"),
        ("reporting/cost.py", "from orgdeploy.running.executor import Executor", "reporting/ may import only"),
        ("aws/stacks.py", "from orgdeploy.cli import common", "aws/ may import only"),
        ("cli/commands_report.py", "from orgdeploy.sandbox.server import start_sandbox", "start the sandbox"),
        ("templates/render.py", "import typer", "only cli may"),
        ("reporting/events.py", "from moto import mock_aws", "only sandbox may"),
    ],
)
def test_a_forbidden_import_is_caught(module: str, line: str, expected: str, package_copy: Path) -> None:
    _add_import(package_copy / module, line)
    assert [v for v in layering_violations() if v.startswith(f"orgdeploy/{module}") and expected in v]


def test_a_cycle_is_caught(package_copy: Path) -> None:
    _add_import(package_copy / "planning" / "stage.py", "from orgdeploy.planning import planner")
    assert any({"orgdeploy.planning.planner", "orgdeploy.planning.stage"} <= set(c) for c in import_cycles())
