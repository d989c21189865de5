"""Real organizations: census of existing Config, skip/fail on foreign recorders, delegated administrator,
and the least-privilege policy covering every call. All against the sandbox, asserted with plain boto3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.inprocess import MANAGEMENT, CallRecorder, cli, member_client, write_config

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e

FOREIGN = "556184983478"  # dev-2: recorder 'default' in eu-west-1
HAS_ROLE = "176045229611"  # log-archive
OPTED_OUT = "537510074089"  # prod-1: eu-south-1 not enabled
AUDIT = "407522758688"
LOCKED = "183216448298"  # sandbox-1: we deny its census role in the tests that need it


def test_census_reports_every_seeded_quirk(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orgdeploy.sandbox.moto_fixes import deny_assume_role

    deny_assume_role(LOCKED, "OrganizationAccountAccessRole")
    config = write_config(tmp_path, regions=["us-east-1", "eu-west-1", "eu-south-1"])
    code, out, _ = cli(
        capsys, "census", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "-o", "json"
    )
    assert code == 0
    rows = {(r["account"], r["region"]): r for r in json.loads(out)["rows"]}
    foreign = rows[(FOREIGN, "eu-west-1")]
    assert (foreign["recorder"], foreign["owner"], foreign["recording"]) == ("default", "unknown", False)
    assert rows[(FOREIGN, "us-east-1")]["recorder"] is None
    assert rows[(HAS_ROLE, "us-east-1")]["service_linked_role"] is True
    assert rows[(AUDIT, "us-east-1")]["service_linked_role"] is False
    assert rows[(OPTED_OUT, "eu-south-1")]["region_enabled"] is False
    assert rows[(OPTED_OUT, "us-east-1")]["region_enabled"] is True
    locked = rows[(LOCKED, "us-east-1")]
    assert locked["reachable"] is False and "AccessDenied" in locked["reason"]
    code, text, _ = cli(capsys, "census", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url)
    line = next(line for line in text.splitlines() if line.startswith(FOREIGN))
    # account, "name (OU path)", then one cell per Region and the service-linked role
    assert line.split(")", 1)[1].split()[:3] == [".", "f", "."] and "dev-2 (Root/Workloads/Dev)" in line
    assert "unknown 183216448298: AccessDenied" in text
    csv_code, csv_out, _ = cli(
        capsys, "census", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "-o", "csv"
    )
    assert csv_code == 0 and csv_out.splitlines()[0].startswith("account,account_name,account_status,region")


def test_census_asks_each_account_about_its_own_regions_so_no_one_bucket_serves_the_organization(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ListRegions is five a second per account: asked of the management account about every member, a
    census of thousands would queue behind one bucket. Each account answers through its own role instead,
    which needs no trusted access for account.amazonaws.com (off in the seed)."""
    config = write_config(tmp_path, regions=["us-east-1", "eu-south-1"])
    recorder = CallRecorder(monkeypatch)
    code, out, _ = cli(
        capsys, "census", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "-o", "json"
    )
    assert code == 0
    rows = {(r["account"], r["region"]): r for r in json.loads(out)["rows"]}
    assert rows[(OPTED_OUT, "eu-south-1")]["region_enabled"] is False
    asked = [params for service, op, params, _ in recorder.calls if (service, op) == ("account", "ListRegions")]
    assert len(asked) >= 8 and not [p for p in asked if "AccountId" in p]


def test_an_unreadable_account_blocks_the_plan_unless_skipped(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orgdeploy.sandbox.moto_fixes import deny_assume_role

    deny_assume_role(LOCKED, "OrganizationAccountAccessRole")
    config = write_config(tmp_path)
    endpoint = ["-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "--enable-trusted-access"]
    code, _, err = cli(capsys, "plan", *endpoint)
    assert code == 1
    assert "could not read 1 account(s): sandbox-1 183216448298" in err
    assert "--skip-unreadable-accounts" in err
    code, out, err = cli(capsys, "plan", *endpoint, "--skip-unreadable-accounts", "-o", "json")
    assert code == 0, err
    plan = json.loads(out)
    assert (LOCKED, None, "account") in {(s["account"], s["region"], s["what"]) for s in plan["skipped"]}
    for step in plan["steps"]:
        if step["action"] == "deploy_stack" and step["template"] == "pack:baseline":
            assert LOCKED in step["parameters"]["ExcludedAccounts"].split(",")
        if step["action"] == "create_stack_instances":
            targets = step["deployment_targets"]
            assert targets["AccountFilterType"] == "DIFFERENCE" and LOCKED in targets["Accounts"]


def test_bootstrap_skips_foreign_recorder_with_zero_failures(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, regions=["us-east-1", "eu-west-1", "eu-south-1"])
    args = ["bootstrap", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "--yes"]
    code, out, err = cli(capsys, *args, "--enable-trusted-access", "-o", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["failed"] is False
    assert all(not step["failures"] for step in report["execution"]["steps"])
    skipped = {(s["account"], s["region"], s["what"]) for s in report["plan"]["skipped"]}
    assert (FOREIGN, "eu-west-1", "recorder") in skipped
    assert (OPTED_OUT, "eu-south-1", "recorder") in skipped
    assert (HAS_ROLE, None, "service-linked role") in skipped
    assert (FOREIGN, "eu-west-1", "conformance pack baseline") in skipped
    # The foreign recorder is untouched: still the only one, still not recording.
    config_client = member_client(inprocess_sandbox.endpoint_url, "config", FOREIGN, "eu-west-1")
    assert [r["name"] for r in config_client.describe_configuration_recorders()["ConfigurationRecorders"]] == [
        "default"
    ]
    # The text summary names the skipped pairs too.
    code, text, _ = cli(capsys, "plan", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url)
    assert code == 0 and "No changes" in text
    assert f"{FOREIGN} eu-west-1 recorder: already has recorder 'default'" in text


def test_existing_recorder_fail_stops_before_any_change(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, recording={"existing_recorder": "fail"})
    code, _, err = cli(
        capsys,
        "bootstrap",
        "-c",
        str(config),
        "--endpoint-url",
        inprocess_sandbox.endpoint_url,
        "--yes",
        "--enable-trusted-access",
    )
    assert code == 1
    assert f"{FOREIGN} eu-west-1: already has recorder 'default'" in err
    cfn = member_client(inprocess_sandbox.endpoint_url, "cloudformation")
    assert cfn.list_stack_sets(Status="ACTIVE")["Summaries"] == []
    assert [s for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_delegated_administrator_flow(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path,
        admin={"call_as": "DELEGATED_ADMIN", "delegated_admin_account": AUDIT},
        management_account={
            "deploy": True,
            "role_arn": f"arn:aws:iam::{MANAGEMENT}:role/OrganizationAccountAccessRole",
        },
    )
    endpoint = inprocess_sandbox.endpoint_url
    # With management credentials, a plan from the wrong account says which account to use.
    code, _, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 1 and f"admin.delegated_admin_account is {AUDIT}" in err
    code, out, err = cli(capsys, "org-setup", "-c", str(config), "--endpoint-url", endpoint, "--yes", "-o", "json")
    assert code == 0, err
    assert all(item["changed"] for item in json.loads(out))
    code, out, _ = cli(capsys, "org-setup", "-c", str(config), "--endpoint-url", endpoint, "--yes", "-o", "json")
    assert not any(item["changed"] for item in json.loads(out)), "org-setup is idempotent"

    sts = member_client(endpoint, "sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{AUDIT}:role/OrganizationAccountAccessRole", RoleSessionName="da")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["Credentials"]["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["Credentials"]["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["Credentials"]["SessionToken"])
    recorder = CallRecorder(monkeypatch)
    code, out, err = cli(capsys, "bootstrap", "-c", str(config), "--endpoint-url", endpoint, "--yes", "-o", "json")
    assert code == 0, err
    stackset_calls = [
        (op, params)
        for service, op, params, _ in recorder.calls
        if service == "cloudformation"
        and ("StackSet" in op or "StackInstance" in op or op == "DescribeOrganizationsAccess")
    ]
    assert stackset_calls
    without = {op for op, params in stackset_calls if params.get("CallAs") != "DELEGATED_ADMIN"}
    assert without == set()
    monkeypatch.undo()
    aggregators = member_client(endpoint, "config", AUDIT).describe_configuration_aggregators()[
        "ConfigurationAggregators"
    ]
    assert [a["ConfigurationAggregatorName"] for a in aggregators] == ["orgdeploy"]
    assert aggregators[0]["OrganizationAggregationSource"]["AllAwsRegions"] is True
    for region in ("us-east-1", "eu-west-1"):
        da_packs = member_client(endpoint, "config", AUDIT, region).describe_organization_conformance_packs()
        assert [p["OrganizationConformancePackName"] for p in da_packs["OrganizationConformancePacks"]] == [
            "orgdeploy-baseline"
        ]
        mgmt = member_client(endpoint, "config", MANAGEMENT, region)
        assert [r["name"] for r in mgmt.describe_configuration_recorders()["ConfigurationRecorders"]] == [
            "orgdeploy-recorder"
        ]
        assert mgmt.describe_organization_conformance_packs()["OrganizationConformancePacks"] == []
    stacks = member_client(endpoint, "cloudformation", MANAGEMENT).list_stacks(StackStatusFilter=["CREATE_COMPLETE"])
    assert {"orgdeploy-recorder", "orgdeploy-config-role"} <= {s["StackName"] for s in stacks["StackSummaries"]}
    # The stack sets live in the management account, as with CallAs=DELEGATED_ADMIN on AWS.
    in_management = member_client(endpoint, "cloudformation", MANAGEMENT).list_stack_sets(Status="ACTIVE")
    assert {"orgdeploy-recorder", "orgdeploy-config-role"} <= {s["StackSetName"] for s in in_management["Summaries"]}
    in_audit = member_client(endpoint, "cloudformation", AUDIT).list_stack_sets(Status="ACTIVE")["Summaries"]
    assert in_audit == []
    as_admin = member_client(endpoint, "cloudformation", AUDIT).list_stack_sets(
        Status="ACTIVE", CallAs="DELEGATED_ADMIN"
    )
    assert {s["StackSetName"] for s in as_admin["Summaries"]} == {s["StackSetName"] for s in in_management["Summaries"]}


def test_an_unregistered_account_calling_as_delegated_admin_is_refused(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    endpoint = inprocess_sandbox.endpoint_url
    with pytest.raises(ClientError) as refused:
        member_client(endpoint, "cloudformation", AUDIT).list_stack_sets(CallAs="DELEGATED_ADMIN")
    assert refused.value.response["Error"]["Code"] == "ValidationError"
    config = write_config(
        tmp_path,
        admin={"call_as": "DELEGATED_ADMIN", "delegated_admin_account": AUDIT},
        management_account={"deploy": False},
    )
    creds = member_client(endpoint, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{AUDIT}:role/OrganizationAccountAccessRole", RoleSessionName="da"
    )["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    code, _, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 1
    assert f"account {AUDIT} is not the management account or a registered delegated administrator" in err
    assert "org-setup" in err


def test_permissions_cover_every_call_of_a_full_run(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orgdeploy.aws.permissions import actions_for, iam_action
    from orgdeploy.aws.policy import all_needs

    config = write_config(tmp_path)
    endpoint = inprocess_sandbox.endpoint_url
    recorder = CallRecorder(monkeypatch)
    for args in (
        ["census"],
        ["bootstrap", "--yes", "--enable-trusted-access"],
        ["status"],
        ["add-region", "ap-southeast-2", "--yes"],
        ["destroy", "--yes"],
    ):
        code, _, err = cli(capsys, *args, "-c", str(config), "--endpoint-url", endpoint)
        assert code == (1 if args == ["status"] else 0), (args, err)  # status: the foreign recorder
    management = set(actions_for("management", all_needs()))
    member = set(actions_for("member", all_needs()))
    missing = set()
    for service, operation, _, key in recorder.calls:
        action = iam_action(service, operation)
        if action is None:
            continue
        allowed = management if key == "testing" else member
        if action not in allowed:
            missing.add((action, "management" if key == "testing" else "member"))
    assert missing == set()
    assert len({(s, o) for s, o, _, _ in recorder.calls}) > 25


def test_permissions_command_prints_a_policy(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "permissions", "--role", "ci")
    assert code == 0
    actions = {a for statement in json.loads(out)["Statement"] for a in statement["Action"]}
    assert "cloudformation:CreateStackInstances" in actions
    assert "organizations:RegisterDelegatedAdministrator" not in actions
    assert "cloudformation:DeleteStackSet" not in actions


def test_a_pack_too_large_to_send_inline_goes_by_s3_from_a_bucket_in_another_account(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, delivery={"bucket_account": HAS_ROLE})
    pack = tmp_path / "packs" / "baseline.yaml"
    pack.write_text(pack.read_text() + "".join(f"# reviewed control {n:05d}\n" for n in range(2_500)))
    assert 51_200 - 6_000 < pack.stat().st_size < 300 * 1024
    args = ["bootstrap", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "--yes"]
    code, out, err = cli(capsys, *args, "--enable-trusted-access", "-o", "json")
    assert code == 0, err + out
    steps = {s["id"]: s for s in json.loads(out)["execution"]["steps"]}
    assert steps["pack-baseline-upload"]["outcome"] == "succeeded"
    for region in ("us-east-1", "eu-west-1"):
        regional = member_client(inprocess_sandbox.endpoint_url, "config", region=region)
        names = [
            p["OrganizationConformancePackName"]
            for p in regional.describe_organization_conformance_packs()["OrganizationConformancePacks"]
        ]
        assert names == ["orgdeploy-baseline"], (region, names)
    cfn = member_client(inprocess_sandbox.endpoint_url, "cloudformation")
    body = cfn.get_template(StackName="orgdeploy-pack-baseline")["TemplateBody"]
    assert "TemplateS3Uri" in json.dumps(body) and len(json.dumps(body)) < 51_200


def test_a_recorder_that_fails_under_the_tolerance_is_excluded_from_the_pack_when_it_runs(
    inprocess_sandbox: Any, tmp_path: Path
) -> None:
    from orgdeploy.aws.session import AwsContext, AwsOptions
    from orgdeploy.config.model import load_config
    from orgdeploy.running.deploy import RunOptions, apply
    from orgdeploy.running.executor import ExecutorSettings
    from orgdeploy.running.progress import SilentReporter

    path = write_config(tmp_path, stacksets={"failure_tolerance_percentage": 50})
    endpoint = inprocess_sandbox.endpoint_url
    ctx = AwsContext.with_static_keys(
        AwsOptions(None, "us-east-1", endpoint), access_key="testing", secret_key="testing", region="us-east-1"
    )

    def someone_adds_a_recorder_after_the_plan(_plan: Any) -> bool:
        config = member_client(endpoint, "config", AUDIT, "eu-west-1")
        config.put_configuration_recorder(ConfigurationRecorder={"name": "late", "roleARN": "arn:aws:iam::1:role/x"})
        return True

    report = apply(
        ctx,
        load_config(path),
        options=RunOptions(enable_trusted_access=True),
        reporter=SilentReporter(),
        settings=ExecutorSettings(poll_first=0.1, poll_max=0.5),
        confirm=someone_adds_a_recorder_after_the_plan,
    )

    assert report.execution is not None
    steps = {r.step.id: r for r in report.execution.results}
    recorder = steps["recorder-create-regions-eu-west-1"]
    assert [(f.account, f.region) for f in recorder.failures] == [(AUDIT, "eu-west-1")]
    pack_step = steps["pack-baseline-eu-west-1"]
    assert pack_step.outcome == "succeeded", pack_step.message
    assert f"whose recorder failed: {AUDIT}" in pack_step.message
    [pack] = member_client(endpoint, "config", region="eu-west-1").describe_organization_conformance_packs()[
        "OrganizationConformancePacks"
    ]
    assert AUDIT in pack["ExcludedAccounts"]


def test_an_organization_pack_fails_in_each_member_without_a_recorder(inprocess_sandbox: Any) -> None:
    config = member_client(inprocess_sandbox.endpoint_url, "config")
    s3 = member_client(inprocess_sandbox.endpoint_url, "s3")
    s3.create_bucket(Bucket="awsconfigconforms-probe")
    rule = "{Owner: AWS, SourceIdentifier: S3_BUCKET_VERSIONING_ENABLED}"
    body = f"Resources:\n  Rule:\n    Type: AWS::Config::ConfigRule\n    Properties:\n      Source: {rule}\n"
    config.put_organization_conformance_pack(
        OrganizationConformancePackName="probe", TemplateBody=body, DeliveryS3Bucket="awsconfigconforms-probe"
    )
    statuses = config.get_organization_conformance_pack_detailed_status(OrganizationConformancePackName="probe")[
        "OrganizationConformancePackDetailedStatuses"
    ]
    # Nothing records yet: every active account, the management account included, fails.
    assert MANAGEMENT in {s["AccountId"] for s in statuses}
    assert {s["Status"] for s in statuses} == {"CREATE_FAILED"}
    assert {s["ErrorCode"] for s in statuses} == {"NoAvailableConfigurationRecorderException"}
    [overall] = config.describe_organization_conformance_pack_statuses(OrganizationConformancePackNames=["probe"])[
        "OrganizationConformancePackStatuses"
    ]
    assert overall["Status"] == "CREATE_FAILED"
