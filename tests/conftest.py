from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orgdeploy.cli import app
from orgdeploy.cli.common import run_app
from tests.helpers import use_sandbox_credentials

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_PACKS = REPO_ROOT.parent / "shared" / "packs"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run the orgdeploy CLI in-process through the same error mapping as the console script."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        code = run_app(app, list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def example_dir(tmp_path: Path) -> Path:
    """A folder holding the example config and the default pack, as `orgdeploy init` writes them."""
    from orgdeploy.templates.scaffold import write_example

    write_example(tmp_path, force=False)
    return tmp_path


@pytest.fixture
def shared_packs() -> list[Path]:
    if not SHARED_PACKS.is_dir():
        pytest.skip("../shared/packs is not present")
    packs = sorted(SHARED_PACKS.glob("*.yaml"))
    if not packs:
        pytest.skip("../shared/packs holds no packs")
    return packs


def copy_pack(source: Path, folder: Path) -> Path:
    target = folder / "packs" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


@pytest.fixture
def inprocess_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh seeded sandbox in this process (op_seconds 0.2), with dummy credentials in the environment."""
    pytest.importorskip("moto")
    from orgdeploy.sandbox.server import start_sandbox

    use_sandbox_credentials(monkeypatch)
    with start_sandbox(op_seconds=0.2) as running:
        yield running
