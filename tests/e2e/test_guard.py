"""Tampering: a member administrator stops the recorder; the timeline names them, update mends it, the guard refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from tests.e2e.inprocess import MANAGEMENT, cli, member_client, write_config

pytest.importorskip("moto")

AUDIT = "407522758688"
RECORDER = "orgdeploy-recorder"


def _as_role(endpoint: str, account: str, role: str, service: str, region: str = "us-east-1") -> Any:
    """A client as `role` in the account, the way its own administrator signs in."""
    iam = member_client(endpoint, "iam", account)
    allow = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    trust = {"Version": "2012-10-17", "Statement": [allow]}
    try:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "EntityAlreadyExists"
    sts = member_client(endpoint, "sts", account)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="alice")["Credentials"]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )


def _recording(endpoint: str, account: str, region: str = "us-east-1") -> bool:
    statuses = member_client(endpoint, "config", account, region).describe_configuration_recorder_status()
    return bool(next(s for s in statuses["ConfigurationRecordersStatus"] if s["name"] == RECORDER)["recording"])


def _tamper_events(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str) -> list[dict[str, Any]]:
    code, out, err = cli(
        capsys, "events", "--kind", "tamper", "-o", "json", "-c", str(config), "--endpoint-url", endpoint
    )
    assert code == 0, err
    return [e for e in json.loads(out)["events"] if not e["by_orgdeploy"]]


def _set_guard(config: Path, **guard: Any) -> None:
    data = yaml.safe_load(config.read_text())
    data["guard"] = guard
    config.write_text(yaml.safe_dump(data))


@pytest.fixture
def covered(inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str, str]:
    """Bootstrapped with notifications, and dev-2's foreign recorder started, so that status begins at 0."""
    endpoint = inprocess_sandbox.endpoint_url
    config = write_config(tmp_path, notifications={"hub_account": AUDIT})
    code, _, err = cli(
        capsys, "bootstrap", "--yes", "--enable-trusted-access", "-c", str(config), "--endpoint-url", endpoint
    )
    assert code == 0, err
    quirk = next(q for q in inprocess_sandbox.summary.quirks if q.kind == "foreign-recorder")
    foreign = member_client(endpoint, "config", quirk.account_id, quirk.region)
    bucket = next(b["Name"] for b in member_client(endpoint, "s3").list_buckets()["Buckets"] if "-config-" in b["Name"])
    foreign.put_delivery_channel(DeliveryChannel={"name": "legacy", "s3BucketName": bucket})
    foreign.start_configuration_recorder(ConfigurationRecorderName="default")
    code, _, err = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err
    victim = next(
        a.id
        for a in inprocess_sandbox.summary.accounts
        if a.status == "ACTIVE" and a.id not in {MANAGEMENT, quirk.account_id, AUDIT}
    )
    return config, endpoint, victim


def test_a_stopped_recorder_is_reported_named_and_restarted(
    covered: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, endpoint, victim = covered
    _as_role(endpoint, victim, "MemberAdmin", "config").stop_configuration_recorder(ConfigurationRecorderName=RECORDER)

    code, out, _ = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint)
    assert (
        code == 1
        and f"NOT COVERED {victim}" in out
        and "us-east-1: recorder 'orgdeploy-recorder' (orgdeploy's) is not recording" in out
    )
    [event] = _tamper_events(capsys, config, endpoint)
    assert (event["account"], event["region"], event["call"]) == (victim, "us-east-1", "StopConfigurationRecorder")
    assert event["principal"] == f"arn:aws:sts::{victim}:assumed-role/MemberAdmin/alice"
    assert event["what"] == "tampered" and event["refused"] is False and event["resource_id"] == RECORDER
    assert "AWS allowed it" in event["message"]
    code, table, _ = cli(capsys, "events", "-c", str(config), "--endpoint-url", endpoint)
    assert "tampered" in table and "StopConfigurationRecorder" in table and "MemberAdmin/alice" in table

    code, out, err = cli(capsys, "update", "--yes", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err
    assert f"{victim} us-east-1 orgdeploy-recorder: started" in out
    assert _recording(endpoint, victim)
    code, _, err = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err


def test_the_guard_refuses_the_member_administrator_and_lets_orgdeploy_mend(
    covered: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    config, endpoint, victim = covered
    _set_guard(config, enabled=True, break_glass_roles=["BreakGlass"])
    # Service control policies are off on a new organization: plan says so, org-setup turns them on.
    code, _, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 1 and "org-setup" in err
    code, out, err = cli(capsys, "org-setup", "--yes", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0 and "changed   service control policies enabled on the root" in out, err
    code, out, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0 and "put_guard_policy orgdeploy-config-guard" in out and '"Effect": "Deny"' in out, err
    code, out, err = cli(capsys, "update", "--yes", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err
    org = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1")
    [policy] = [
        p
        for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == "orgdeploy-config-guard"
    ]
    root = org.list_roots()["Roots"][0]["Id"]
    assert [t["TargetId"] for t in org.list_targets_for_policy(PolicyId=policy["Id"])["Targets"]] == [root]

    admin = _as_role(endpoint, victim, "MemberAdmin", "config")
    with pytest.raises(ClientError) as refused:
        admin.stop_configuration_recorder(ConfigurationRecorderName=RECORDER)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "explicit deny in a service control policy" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        admin.delete_delivery_channel(DeliveryChannelName="orgdeploy-delivery")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert _recording(endpoint, victim)
    events = sorted(_tamper_events(capsys, config, endpoint), key=lambda e: e["call"])
    assert [(e["call"], e["what"], e["refused"]) for e in events] == [
        ("DeleteDeliveryChannel", "tamper refused", True),
        ("StopConfigurationRecorder", "tamper refused", True),
    ]
    assert events[1]["error"].startswith("AccessDeniedException: User: arn:aws:sts::")
    assert "AWS refused it" in events[1]["message"]

    # The break-glass role may still change the recorder; orgdeploy's update, as the census role, mends it.
    glass = _as_role(endpoint, victim, "BreakGlass", "config")
    recorder = glass.describe_configuration_recorders()["ConfigurationRecorders"][0]
    glass.put_configuration_recorder(
        ConfigurationRecorder={
            **recorder,
            "recordingGroup": {"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"]},
        }
    )
    # A changed group is not a stopped recorder: its aggregator source stays SUCCEEDED, so only a full census sees it.
    code, out, err = cli(capsys, "update", "--yes", "--census", "full", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0 and "recording group and mode put back" in out, err
    code, _, err = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err

    # Turning the guard off detaches and deletes the policy; destroy would do the same.
    _set_guard(config, enabled=False)
    code, out, err = cli(capsys, "update", "--yes", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, err
    assert not [
        p
        for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
        if p["Name"] == "orgdeploy-config-guard"
    ]
