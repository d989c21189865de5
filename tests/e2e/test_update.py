"""`update`, the CI job: the lint gate, dry-run diffs, and applying only the delta."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.inprocess import CallRecorder, cli, member_client, write_config

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e

PROD_2 = "312502394918"


def test_update_dry_run_diffs_then_applies_only_the_delta(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    config = write_config(tmp_path)
    code, _, err = cli(
        capsys, "bootstrap", "-c", str(config), "--endpoint-url", endpoint, "--yes", "--enable-trusted-access"
    )
    assert code == 0, err
    data = yaml.safe_load(config.read_text())
    data["delivery"]["snapshot_frequency"] = "One_Hour"
    config.write_text(yaml.safe_dump(data))

    code, out, err = cli(capsys, "update", "-c", str(config), "--endpoint-url", endpoint, "--dry-run")
    assert code == 0, err
    assert '-        DeliveryFrequency: "TwentyFour_Hours"' in out
    assert '+        DeliveryFrequency: "One_Hour"' in out
    assert "--- deployed: stack set orgdeploy-recorder" in out
    assert "orgdeploy-recorder-update: update_stack_set orgdeploy-recorder" in out
    channel = member_client(endpoint, "config", PROD_2).describe_delivery_channels()["DeliveryChannels"][0]
    assert channel["configSnapshotDeliveryProperties"]["deliveryFrequency"] == "TwentyFour_Hours", "dry run changed"

    code, out, err = cli(capsys, "update", "-c", str(config), "--endpoint-url", endpoint, "--yes", "-o", "json")
    assert code == 0, err
    report = json.loads(out)
    actions = {s["action"] for s in report["plan"]["steps"]}
    assert actions <= {"update_stack_set", "deploy_stack", "verify"}, actions
    assert not any(s["action"] == "create_stack_instances" for s in report["plan"]["steps"])
    for region in ("us-east-1", "eu-west-1"):
        channel = member_client(endpoint, "config", PROD_2, region).describe_delivery_channels()["DeliveryChannels"][0]
        assert channel["configSnapshotDeliveryProperties"]["deliveryFrequency"] == "One_Hour"

    code, out, _ = cli(capsys, "update", "-c", str(config), "--endpoint-url", endpoint, "--dry-run")
    assert code == 0 and "No changes" in out


def test_lint_errors_stop_update_before_any_aws_call(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    pack = tmp_path / "packs" / "baseline.yaml"
    pack.write_text(pack.read_text().replace("      Source:\n", "      NotAProperty: 1\n      Source:\n", 1))
    recorder = CallRecorder(monkeypatch)
    code, _, err = cli(capsys, "update", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "--yes")
    assert code == 2
    assert "cfn-lint found errors; nothing was deployed" in err and "NotAProperty" in err
    assert recorder.calls == []


@pytest.mark.parametrize("command", ["plan", "bootstrap", "update", "status", "census", "destroy"])
def test_invalid_config_makes_no_aws_call(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, regions=["us-east-1", "eu-wset-1"])
    recorder = CallRecorder(monkeypatch)
    extra = ["--yes"] if command in {"bootstrap", "update", "destroy"} else []
    code, _, err = cli(capsys, command, "-c", str(config), "--endpoint-url", "http://127.0.0.1:9", *extra)
    assert code == 2
    assert "unknown Region 'eu-wset-1' (did you mean 'eu-west-1'?)" in err
    assert "Traceback" not in err
    assert recorder.calls == []
