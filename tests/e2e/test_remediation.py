"""The cloud heals itself and a person knows: org-wide remediation on the sandbox, as a new user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.inprocess import cli, member_client, write_config

pytest.importorskip("moto")

AUDIT, DEV1, SANDBOX1 = "407522758688", "029061126486", "183216448298"
PUBLIC = "dev-1-site-us-east-1"
RULE = "s3-bucket-public-read-prohibited"
DOCUMENT = "AWS-DisableS3BucketPublicReadWrite"
S3_PACK = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "packs"
    / "Operational-Best-Practices-for-Amazon-S3-with-Remediation.yaml"
)


def _config(tmp_path: Path, **remediation: Any) -> Path:
    settings = {"rules": [{"rule": RULE, "document": DOCUMENT, "maximum_automatic_attempts": 3}], **remediation}
    return write_config(tmp_path, notifications={"hub_account": AUDIT}, remediation=settings)


def _run(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str, *args: str) -> str:
    code, out, err = cli(capsys, *args, "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0, (args, err[-2000:])
    return out


def _events(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str, account: str) -> list[dict[str, Any]]:
    out = _run(capsys, config, endpoint, "events", "--account", account, "-o", "json")
    return sorted(json.loads(out)["events"], key=lambda e: (e["time"], e["kind"] != "compliance_change"))


def _about(events: list[dict[str, Any]], bucket: str, rule: str = RULE) -> list[dict[str, Any]]:
    return [e for e in events if e["resource_id"] == bucket and (e["rule"] == rule or e["kind"] == "remediation")]


def _blocked(endpoint: str, account: str, bucket: str) -> bool:
    """Block Public Access on all four counts, read as the member account with plain boto3."""
    s3 = member_client(endpoint, "s3", account)
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except s3.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
        return False
    return all(block[k] for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"))


def _clock(capsys: pytest.CaptureFixture[str], endpoint: str, advance: str) -> None:
    code, _, err = cli(capsys, "sandbox", "clock", "--advance", advance, "--endpoint-url", endpoint)
    assert code == 0, err


def test_the_public_bucket_is_remediated_and_the_timeline_tells_the_story(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    config = _config(tmp_path, exceptions=[{"rule": RULE, "resource_id": "sandbox-1-site-us-east-1",
                                           "reason": "the public website", "expires": "2099-01-01"}])  # fmt: skip
    assert not _blocked(endpoint, DEV1, PUBLIC)
    _run(capsys, config, endpoint, "bootstrap", "--yes", "--enable-trusted-access")
    _clock(capsys, endpoint, "1h")

    report = json.loads(_run(capsys, config, endpoint, "report", "--rule", RULE, "-o", "json"))
    listed = (
        {r["resource_id"] for r in report["rows"]}
        if "rows" in report
        else {r["resource_id"] for rule in report.get("rules", []) for r in rule.get("resources", [])}
    )
    assert PUBLIC not in json.dumps(report) and "sandbox-1-site-us-east-1" in json.dumps(report), listed
    # Read as the member account with plain boto3: Block Public Access makes the ACL and the policy inert.
    assert _blocked(endpoint, DEV1, PUBLIC)

    first, fixed, healed = _about(_events(capsys, config, endpoint, DEV1), PUBLIC)
    assert (first["kind"], first["new"]) == ("compliance_change", "NON_COMPLIANT")
    assert (fixed["kind"], fixed["what"], fixed["rule"], fixed["runbook"]) == (
        "remediation",
        "remediated",
        RULE,
        DOCUMENT,
    )
    assert fixed["account_name"] == "dev-1" and fixed["compliance_after"] == "COMPLIANT"
    assert fixed["message"].startswith(
        f"dev-1 (Root/Workloads/Dev), us-east-1: bucket `{PUBLIC}` was NON_COMPLIANT with {RULE}; "
    )
    assert f"{DOCUMENT} ran at " in fixed["message"] and fixed["message"].endswith("and succeeded; now COMPLIANT.")
    assert (healed["what"], healed["new"]) == ("healed", "COMPLIANT")
    # AWS Config's own record of the run, read as the member account.
    member = member_client(endpoint, "config", DEV1)
    [name] = [r["ConfigRuleName"] for r in member.describe_config_rules()["ConfigRules"]
              if r["ConfigRuleName"].startswith(f"{RULE}-conformance-pack-")]  # fmt: skip
    key = {"resourceType": "AWS::S3::Bucket", "resourceId": PUBLIC}
    [status] = member.describe_remediation_execution_status(ConfigRuleName=name, ResourceKeys=[key])[
        "RemediationExecutionStatuses"
    ]
    assert status["State"] == "SUCCEEDED" and status["StepDetails"][0]["State"] == "SUCCEEDED"
    table = _run(capsys, config, endpoint, "events", "--account", DEV1, "--kind", "remediation")
    assert f"{RULE} / {DOCUMENT}" in table and "remediated" in table

    # The excepted bucket is left alone, and reported as excepted.
    assert not _blocked(endpoint, SANDBOX1, "sandbox-1-site-us-east-1")
    [excepted] = [e for e in _events(capsys, config, endpoint, SANDBOX1)
                  if e["kind"] == "remediation" and e["resource_id"] == "sandbox-1-site-us-east-1"]  # fmt: skip
    assert excepted["what"] == "remediation excepted" and "left alone" in excepted["message"]


def test_a_role_without_the_permission_fails_the_run_with_awss_reason(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    config = _config(tmp_path)
    _run(capsys, config, endpoint, "bootstrap", "--yes", "--enable-trusted-access")
    iam = member_client(endpoint, "iam", DEV1)
    nothing = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetBucketAcl", "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName="orgdeploy-remediation", PolicyName="remediation-documents", PolicyDocument=json.dumps(nothing)
    )
    s3 = member_client(endpoint, "s3", DEV1)
    s3.create_bucket(Bucket="dev-1-made-public")
    s3.put_bucket_acl(Bucket="dev-1-made-public", ACL="public-read")
    _clock(capsys, endpoint, "1h")

    assert not _blocked(endpoint, DEV1, "dev-1-made-public")
    failed = [
        e for e in _about(_events(capsys, config, endpoint, DEV1), "dev-1-made-public") if e["kind"] == "remediation"
    ]
    assert failed and all(e["what"] == "remediation failed" for e in failed)
    reason = "because no identity-based policy allows the s3:PutBucketPublicAccessBlock action"
    assert reason in failed[-1]["failure"]
    assert (
        f"failed after {len(failed)} attempt(s): An error occurred (AccessDenied) when calling the PutPublicAccessBlock"
        in failed[-1]["message"]
    )
    assert len(failed) <= 3, "MaximumAutomaticAttempts is 3: AWS Config holds the resource back after that"


def test_notify_mode_changes_nothing_and_says_what_would_have_run(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    config = _config(tmp_path, mode="notify")
    _run(capsys, config, endpoint, "bootstrap", "--yes", "--enable-trusted-access")
    _clock(capsys, endpoint, "1h")
    assert not _blocked(endpoint, DEV1, PUBLIC)
    events = _about(_events(capsys, config, endpoint, DEV1), PUBLIC)
    assert [e["kind"] for e in events] == ["compliance_change"]
    assert events[0]["would_run"] == DOCUMENT
    assert f"notify mode: {DOCUMENT} would have run, and nothing was changed." in events[0]["message"]


@pytest.mark.skipif(not S3_PACK.exists(), reason="AWS's sample packs are not beside the project")
def test_the_real_s3_remediation_pack_deploys_unmodified_with_its_role_wired(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    config = write_config(tmp_path)
    shutil.copy(S3_PACK, tmp_path / "packs" / "s3.yaml")
    data = yaml.safe_load(config.read_text())
    data["conformance_packs"].append(
        {
            "name": "s3",
            "template": "packs/s3.yaml",
            "parameters": {"S3TargetBucketNameForEnableLogging": "dev-1-logs-us-east-1"},
        }
    )
    config.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "lint", "-c", str(config))
    assert code == 0, err
    _run(capsys, config, endpoint, "bootstrap", "--yes", "--enable-trusted-access")
    member = member_client(endpoint, "config", DEV1)
    rules = [
        r["ConfigRuleName"]
        for r in member.describe_config_rules()["ConfigRules"]
        if "PublicRead" in r["ConfigRuleName"]
    ]
    [remediation] = member.describe_remediation_configurations(ConfigRuleNames=rules)["RemediationConfigurations"]
    role = remediation["Parameters"]["AutomationAssumeRole"]["StaticValue"]["Values"]
    assert role == [f"arn:aws:iam::{DEV1}:role/orgdeploy-remediation"]
    assert remediation["TargetId"] == DOCUMENT and remediation["Automatic"] is True
    code, out, err = cli(capsys, "permissions", "--role", "remediation", "-c", str(config))
    assert code == 0, err
    policy = json.loads(out)
    actions = {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    assert actions == {"s3:PutBucketPublicAccessBlock", "s3:PutEncryptionConfiguration", "s3:PutBucketLogging"}
    assert (
        member_client(endpoint, "iam", DEV1)
        .get_role(RoleName="orgdeploy-remediation")["Role"]["Arn"]
        .endswith(":role/orgdeploy-remediation")
    )
