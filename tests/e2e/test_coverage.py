"""status is coverage: every targeted account and Region, and update mends what CloudFormation cannot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.inprocess import cli, member_client, write_config

pytest.importorskip("moto")


def _foreign(inprocess_sandbox: Any) -> tuple[str, str]:
    quirk = next(q for q in inprocess_sandbox.summary.quirks if q.kind == "foreign-recorder")
    return quirk.account_id, quirk.region


def _status(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str) -> tuple[int, dict[str, Any]]:
    code, out, err = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    assert code in (0, 1), err
    return code, json.loads(out)


def _gaps(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (p["account"], p["region"], p["reason"])
        for p in document["coverage"]["places"]
        if p["verdict"] == "not covered"
    ]


@pytest.fixture
def bootstrapped(inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    config = write_config(tmp_path)
    endpoint = inprocess_sandbox.endpoint_url
    code, _, err = cli(
        capsys, "bootstrap", "--yes", "--enable-trusted-access", "-c", str(config), "--endpoint-url", endpoint
    )
    assert code == 0, err
    return config, endpoint


def test_status_names_the_foreign_recorder_that_records_nothing_until_it_starts(
    inprocess_sandbox: Any, bootstrapped: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, endpoint = bootstrapped
    account, region = _foreign(inprocess_sandbox)
    code, document = _status(capsys, config, endpoint)
    assert code == 1
    assert document["deployed_healthy"] is True
    [(gap_account, gap_region, reason)] = _gaps(document)
    assert (gap_account, gap_region) == (account, region)
    assert "made outside orgdeploy" in reason and "not recording" in reason
    code, out, _ = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 1 and f"NOT COVERED {account}" in out and "1 not covered" in out

    # Its owner gives it a channel and starts it: Config records there now, whoever made the recorder.
    member = member_client(endpoint, "config", account, region)
    member.put_delivery_channel(DeliveryChannel={"name": "legacy", "s3BucketName": _bucket(endpoint)})
    member.start_configuration_recorder(ConfigurationRecorderName="default")
    code, document = _status(capsys, config, endpoint)
    assert (code, _gaps(document)) == (0, [])
    foreign = next(p for p in document["coverage"]["places"] if (p["account"], p["region"]) == (account, region))
    assert foreign["owner"] == "unknown" and foreign["recording"] is True and foreign["group_matches"] is None


def _bucket(endpoint: str) -> str:
    buckets = member_client(endpoint, "s3").list_buckets()["Buckets"]
    return next(b["Name"] for b in buckets if "-config-" in b["Name"])


def test_update_starts_a_stopped_recorder_and_resets_a_changed_group(
    inprocess_sandbox: Any, bootstrapped: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, endpoint = bootstrapped
    foreign, _ = _foreign(inprocess_sandbox)
    stopped, changed = [
        a.id
        for a in inprocess_sandbox.summary.accounts
        if a.status == "ACTIVE" and a.id not in {foreign, "123456789012"}
    ][:2]
    member_client(endpoint, "config", stopped, "eu-west-1").stop_configuration_recorder(
        ConfigurationRecorderName="orgdeploy-recorder"
    )
    changing = member_client(endpoint, "config", changed, "us-east-1")
    recorder = changing.describe_configuration_recorders()["ConfigurationRecorders"][0]
    recorder["recordingGroup"] = {"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]}
    changing.put_configuration_recorder(ConfigurationRecorder=recorder)

    code, document = _status(capsys, config, endpoint)
    gaps = {(a, r): why for a, r, why in _gaps(document)}
    assert code == 1
    assert "orgdeploy's) is not recording" in gaps[(stopped, "eu-west-1")]
    assert "recordingGroup.allSupported is false, expected true" in gaps[(changed, "us-east-1")]

    # CloudFormation's drift detection sees the changed group, property by property; a stopped recorder is no drift.
    code, out, err = cli(capsys, "status", "--drift", "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    drift = json.loads(out)["drift"]
    [resource] = drift["drifted"]
    assert (resource["account"], resource["region"], resource["status"]) == (changed, "us-east-1", "MODIFIED")
    assert (
        resource["stack_set"] == "orgdeploy-recorder"
        and resource["resource_type"] == "AWS::Config::ConfigurationRecorder"
    )
    assert {
        "path": "/RecordingGroup/AllSupported",
        "expected": "true",
        "actual": "false",
        "kind": "NOT_EQUAL",
    } in resource["changes"]
    assert drift["instances_checked"] >= 20 and drift["failed"] == []

    # The default census reads what the stack sets cannot vouch for: the stopped recorder's aggregator source is
    # OUTDATED, so it is read and started; the changed group sits behind a healthy instance until --census full.
    code, out, err = cli(capsys, "update", "--yes", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err
    assert "Repaired 1 recorder(s)" in out and f"{stopped} eu-west-1 orgdeploy-recorder: started" in out
    assert "is found with --census full" in out
    code, out, err = cli(capsys, "update", "--yes", "--census", "full", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err
    assert "Repaired 1 recorder(s)" in out
    assert f"{changed} us-east-1 orgdeploy-recorder: recording group and mode put back" in out
    assert member_client(endpoint, "config", stopped, "eu-west-1").describe_configuration_recorder_status()[
        "ConfigurationRecordersStatus"
    ][0]["recording"]
    group = changing.describe_configuration_recorders()["ConfigurationRecorders"][0]["recordingGroup"]
    assert group["allSupported"] is True and group["includeGlobalResourceTypes"] is True
    code, out, _ = cli(capsys, "status", "--drift", "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    document = json.loads(out)
    assert {(a, r) for a, r, _ in _gaps(document)} == {_foreign(inprocess_sandbox)}
    assert document["drift"]["drifted"] == []
    # Mended: a second update has nothing to do.
    code, out, _ = cli(capsys, "plan", "--census", "full", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0 and "repair-" not in out
