"""The sandbox server: seeded, answering every service through one endpoint, and stopping cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")
pytest.importorskip("orgdeploy.sandbox.org.seed", reason="the seed module is not written yet")
pytest.importorskip("orgdeploy.sandbox.cfn_models.registry", reason="the resource models are not written yet")

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from orgdeploy.sandbox.org.seed import SeedQuirk
from orgdeploy.sandbox.server import RunningSandbox, launch_server, start_sandbox

REPO = Path(__file__).resolve().parents[2]
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(accounts=4, seed=3, op_seconds=0.3) as running:
        yield running


def client(endpoint: str, service: str, region: str = "us-east-1") -> Any:
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client(service, endpoint_url=endpoint, region_name=region, config=config, **DUMMY)


def quirk(sandbox: RunningSandbox, kind: str) -> SeedQuirk:
    [found] = [q for q in sandbox.summary.quirks if q.kind == kind]
    return found


def test_export_lines_point_the_sdk_at_the_sandbox(sandbox: RunningSandbox) -> None:
    assert sandbox.export_lines() == [
        f"export AWS_ENDPOINT_URL={sandbox.endpoint_url}",
        "export AWS_ACCESS_KEY_ID=testing",
        "export AWS_SECRET_ACCESS_KEY=testing",
        "export AWS_DEFAULT_REGION=us-east-1",
    ]
    assert sandbox.endpoint_url.startswith("http://127.0.0.1:")
    identity = client(sandbox.endpoint_url, "sts").get_caller_identity()
    assert identity["Account"] == sandbox.summary.management_account_id
    accounts = client(sandbox.endpoint_url, "organizations").list_accounts()["Accounts"]
    assert len(accounts) == len(sandbox.summary.accounts)


def test_account_regions_follow_the_opt_in_state(sandbox: RunningSandbox) -> None:
    account = client(sandbox.endpoint_url, "account")
    opted_out = quirk(sandbox, "opt-in-region-disabled")
    own = {r["RegionName"]: r["RegionOptStatus"] for r in account.list_regions()["Regions"]}
    assert own["us-east-1"] == "ENABLED_BY_DEFAULT"
    assert own[str(opted_out.region)] == "ENABLED"

    # Asking about a member needs trusted access for the Account Management service.
    with pytest.raises(ClientError) as refused:
        account.list_regions(AccountId=opted_out.account_id)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "account.amazonaws.com" in refused.value.response["Error"]["Message"]
    client(sandbox.endpoint_url, "organizations").enable_aws_service_access(ServicePrincipal="account.amazonaws.com")
    member = account.list_regions(AccountId=opted_out.account_id, RegionOptStatusContains=["DISABLED"])
    assert member["Regions"] == [{"RegionName": opted_out.region, "RegionOptStatus": "DISABLED"}]
    status = account.get_region_opt_status(AccountId=opted_out.account_id, RegionName=opted_out.region)
    assert status["RegionOptStatus"] == "DISABLED"

    page = account.list_regions(MaxResults=5)
    assert len(page["Regions"]) == 5
    assert "NextToken" in page
    with pytest.raises(ClientError) as own_id:
        account.list_regions(AccountId=sandbox.summary.management_account_id)
    assert own_id.value.response["Error"]["Code"] == "ValidationException"


def wait_for(cfn: Any, name: str, operation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        op: dict[str, Any] = cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)[
            "StackSetOperation"
        ]
        if op["Status"] not in ("RUNNING", "QUEUED"):
            return op
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_stack_set_meets_every_quirk_of_the_seeded_organization(sandbox: RunningSandbox) -> None:
    cfn = client(sandbox.endpoint_url, "cloudformation")
    cfn.activate_organizations_access()
    recorder = {
        "Type": "AWS::Config::ConfigurationRecorder",
        "Properties": {
            "Name": "orgdeploy",
            "RoleARN": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/config"},
            "RecordingGroup": {"AllSupported": True},
        },
    }
    # A recorder starts only with a delivery channel, whose bucket must exist.
    client(sandbox.endpoint_url, "s3").create_bucket(Bucket="quirk-delivery")
    channel = {"Type": "AWS::Config::DeliveryChannel", "Properties": {"S3BucketName": "quirk-delivery"}}
    cfn.create_stack_set(
        StackSetName="recorders",
        TemplateBody=json.dumps({"Resources": {"ConfigRecorder": recorder, "DeliveryChannel": channel}}),
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    foreign, opted_out = quirk(sandbox, "foreign-recorder"), quirk(sandbox, "opt-in-region-disabled")
    regions = sorted({"us-east-1", str(foreign.region), str(opted_out.region)})
    op_id = cfn.create_stack_instances(
        StackSetName="recorders",
        Regions=regions,
        DeploymentTargets={"OrganizationalUnitIds": [sandbox.summary.root_id]},
        OperationPreferences={
            "RegionConcurrencyType": "PARALLEL",
            "FailureTolerancePercentage": 100,
            "MaxConcurrentPercentage": 100,
        },
    )["OperationId"]
    assert (
        cfn.describe_stack_set_operation(StackSetName="recorders", OperationId=op_id)["StackSetOperation"]["Status"]
        == "RUNNING"
    )
    assert wait_for(cfn, "recorders", op_id)["Status"] == "SUCCEEDED"

    found = cfn.list_stack_set_operation_results(StackSetName="recorders", OperationId=op_id)["Summaries"]
    outcome = {(r["Account"], r["Region"]): (r["Status"], r.get("StatusReason", "")) for r in found}
    members = [a for a in sandbox.summary.accounts if a.id != sandbox.summary.management_account_id]
    assert set(outcome) == {(a.id, region) for a in members for region in regions}
    assert "MaxNumberOfConfigurationRecordersExceededException" in outcome[(foreign.account_id, foreign.region)][1]
    assert outcome[(opted_out.account_id, opted_out.region)] == (
        "FAILED",
        f"Account {opted_out.account_id} should have '{opted_out.region}' region enabled",
    )
    suspended = quirk(sandbox, "suspended").account_id
    details = {
        (i["Account"], i["Region"]): i["StackInstanceStatus"]["DetailedStatus"]
        for i in cfn.list_stack_instances(StackSetName="recorders")["Summaries"]
    }
    assert {details[(suspended, region)] for region in regions} == {"SKIPPED_SUSPENDED_ACCOUNT"}
    failed = {key for key, (status, _) in outcome.items() if status == "FAILED"}
    assert failed == {(foreign.account_id, foreign.region), (opted_out.account_id, opted_out.region)}


def test_a_second_sandbox_or_a_taken_port_is_an_error(sandbox: RunningSandbox) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        start_sandbox(accounts=4)
    taken = int(sandbox.endpoint_url.rsplit(":", 1)[1])
    with pytest.raises(OSError, match="in use"):
        launch_server(port=taken)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_forever_stops_cleanly_on_signal(signum: signal.Signals) -> None:
    port = free_port()
    code = f"from orgdeploy.sandbox.server import serve_forever; serve_forever(port={port}, accounts=4, op_seconds=0)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                client(endpoint, "sts").get_caller_identity()
                break
            except Exception:
                assert time.monotonic() < deadline, "the sandbox never answered"
                time.sleep(0.1)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "export AWS_ENDPOINT_URL=" in out
    assert out.rstrip().endswith("Sandbox stopped.")
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "something still listens on the sandbox's port"


def test_a_template_body_over_51200_bytes_is_refused_as_cloudformation_does(sandbox: RunningSandbox) -> None:
    cfn = client(sandbox.endpoint_url, "cloudformation")
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "padded"}}
    template = {"Resources": {"Topic": topic}, "Description": "x" * 100, "Metadata": {"Pad": "y" * 51_200}}
    with pytest.raises(ClientError) as refused:
        cfn.create_stack(StackName="big", TemplateBody=json.dumps(template))
    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "Member must have length less than or equal to 51200" in error["Message"]
    with pytest.raises(ClientError):
        cfn.create_stack_set(StackSetName="big", TemplateBody=json.dumps(template))
    template["Metadata"] = {"Pad": "y" * 50_000}
    cfn.create_stack(StackName="fits", TemplateBody=json.dumps(template))


def test_accounts_carry_state_only_as_organizations_does_after_the_status_retirement(sandbox: RunningSandbox) -> None:
    from orgdeploy.aws.organizations import account_state

    accounts = client(sandbox.endpoint_url, "organizations").list_accounts()["Accounts"]
    assert all("Status" not in a for a in accounts)
    states = {a["Id"]: a["State"] for a in accounts}
    assert states[quirk(sandbox, "suspended").account_id] == "SUSPENDED"
    assert {account_state(a) for a in accounts} == {"ACTIVE", "SUSPENDED"}
    # An older answer that still has Status alone is read too.
    assert account_state({"Id": "1", "Status": "SUSPENDED"}) == "SUSPENDED"
