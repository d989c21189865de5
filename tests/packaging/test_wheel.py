"""The templates ship inside a real wheel and are found after a non-editable install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the test environment already has setuptools, and tests need no network.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (built,) = out.glob("orgdeploy-*.whl")
    return built


def test_wheel_contains_templates_and_py_typed(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for template in (REPO_ROOT / "cfn").glob("*.j2"):
        assert f"orgdeploy/cfn/{template.name}" in names
    assert "orgdeploy/cfn/packs/baseline.yaml" in names
    assert "orgdeploy/cfn/orgdeploy.example.yaml" in names
    assert "orgdeploy/py.typed" in names
    assert "orgdeploy/reporting/prices.json" in names
    for init in (REPO_ROOT / "orgdeploy").rglob("__init__.py"):
        assert str(init.relative_to(REPO_ROOT)) in names, f"{init.parent.name} is missing from the wheel"
    assert not any(name.startswith("tests/") for name in names)


def test_installed_wheel_renders_from_its_own_templates(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    script = (
        "import sys, orgdeploy.templates.jinja as j; print(j.cfn_dir());"
        "from orgdeploy.cli import main; sys.argv[1:] = sys.argv[1:]; main()"
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", script, *args], cwd=work, env=env, capture_output=True, text=True, check=False
        )

    init = run("init", ".")
    assert init.returncode == 0, init.stderr
    assert init.stdout.splitlines()[0].startswith(str(target)), "templates must come from the installed wheel"
    render = run("render", "--out", "out")
    assert render.returncode == 0, render.stderr
    assert (work / "out" / "recorder.yaml").read_text().startswith('AWSTemplateFormatVersion: "2010-09-09"')
    assert (work / "out" / "manifest.json").is_file()
    # Every command's modules import from the wheel alone.
    for command in ("plan", "bootstrap", "census", "report", "cost", "events", "sandbox"):
        shown = run(command, "--help")
        assert shown.returncode == 0, (command, shown.stderr)
    imports = subprocess.run(
        [
            sys.executable,
            "-c",
            "import orgdeploy.aws.inventory_reader, orgdeploy.reporting.compliance_render, orgdeploy.reporting.cost",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert imports.returncode == 0, imports.stderr
