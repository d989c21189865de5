"""StackSet operations in the sandbox behave like AWS's: they take time, queue, fail and auto-deploy."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from orgdeploy.sandbox.server import launch_server
from orgdeploy.sandbox.state import STATE, reset_state

DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
MANAGEMENT = "123456789012"
TOPIC = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}})


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    try:
        from orgdeploy.sandbox.cfn_models.registry import register_resource_models
    except ImportError:
        pass  # only the recorder test needs the Config models; it skips without them
    else:
        register_resource_models()
    server = launch_server()
    yield server.endpoint_url
    server.stop()


@pytest.fixture(autouse=True)
def fresh(endpoint: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    reset_state()


def client(endpoint: str, service: str, account: str | None = None, region: str = "us-east-1") -> Any:
    creds: dict[str, str] = dict(DUMMY)
    if account:
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **DUMMY)
        role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        got = sts.assume_role(RoleArn=role, RoleSessionName="realism-test")["Credentials"]
        creds = {
            "aws_access_key_id": got["AccessKeyId"],
            "aws_secret_access_key": got["SecretAccessKey"],
            "aws_session_token": got["SessionToken"],
        }
    config = Config(retries={"total_max_attempts": 1})
    return boto3.client(service, endpoint_url=endpoint, region_name=region, config=config, **creds)


@dataclass
class Org:
    root: str
    workloads: str  # holds a1, and the child OU prod (a2, a3)
    prod: str
    other: str  # holds b1
    accounts: dict[str, str]


def build_org(endpoint: str) -> Org:
    org = client(endpoint, "organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]

    def ou(parent: str, name: str) -> str:
        return str(org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"])

    workloads = ou(root, "Workloads")
    prod, other = ou(workloads, "Prod"), ou(root, "Other")
    accounts = {}
    for name, parent in (("a1", workloads), ("a2", prod), ("a3", prod), ("b1", other)):
        account = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=parent)
        accounts[name] = account
    client(endpoint, "cloudformation").activate_organizations_access()
    return Org(root, workloads, prod, other, accounts)


def create_stack_set(cfn: Any, name: str, template: str = TOPIC, **kwargs: Any) -> str:
    kwargs.setdefault("PermissionModel", "SERVICE_MANAGED")
    if kwargs["PermissionModel"] == "SERVICE_MANAGED":
        kwargs.setdefault("AutoDeployment", {"Enabled": False})
    cfn.create_stack_set(StackSetName=name, TemplateBody=template, **kwargs)
    return str(cfn.describe_stack_set(StackSetName=name)["StackSet"]["StackSetARN"])


def wait_for(cfn: Any, name: str, operation_id: str, timeout: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        op: dict[str, Any] = cfn.describe_stack_set_operation(StackSetName=name, OperationId=operation_id)[
            "StackSetOperation"
        ]
        if op["Status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
            return op
        assert time.monotonic() < deadline, op
        time.sleep(0.05)


def instances(cfn: Any, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = cfn.list_stack_instances(StackSetName=name)["Summaries"]
    return {(i["Account"], i["Region"]): i for i in found}


def results(cfn: Any, name: str, operation_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = cfn.list_stack_set_operation_results(StackSetName=name, OperationId=operation_id)["Summaries"]
    return {(r["Account"], r["Region"]): r for r in found}


def error_code(info: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_operation_is_running_then_succeeds_and_only_then_creates_stacks(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "topics")
    STATE.op_seconds = 0.5
    regions = ["us-east-1", "eu-west-1"]
    op_id = cfn.create_stack_instances(
        StackSetName="topics", Regions=regions, DeploymentTargets={"OrganizationalUnitIds": [org.workloads]}
    )["OperationId"]

    op = cfn.describe_stack_set_operation(StackSetName="topics", OperationId=op_id)["StackSetOperation"]
    assert op["Status"] == "RUNNING"
    running = instances(cfn, "topics")
    # The child OU's accounts are targets too; the management account never is.
    expected = {(org.accounts[a], r) for a in ("a1", "a2", "a3") for r in regions}
    assert set(running) == expected
    assert {(i["Status"], i["StackInstanceStatus"]["DetailedStatus"]) for i in running.values()} == {
        ("OUTDATED", "RUNNING")
    }
    assert all("StackId" not in i for i in running.values())
    assert results(cfn, "topics", op_id) == {}
    assert client(endpoint, "sns", org.accounts["a2"]).list_topics()["Topics"] == []

    assert wait_for(cfn, "topics", op_id)["Status"] == "SUCCEEDED"
    done = instances(cfn, "topics")
    assert {(i["Status"], i["StackInstanceStatus"]["DetailedStatus"]) for i in done.values()} == {
        ("CURRENT", "SUCCEEDED")
    }
    summary = results(cfn, "topics", op_id)
    assert set(summary) == expected
    assert {r["Status"] for r in summary.values()} == {"SUCCEEDED"}
    assert all(r["AccountGateResult"]["Status"] == "SKIPPED" for r in summary.values())
    member_cfn = client(endpoint, "cloudformation", org.accounts["a2"], "eu-west-1")
    stack_id = done[(org.accounts["a2"], "eu-west-1")]["StackId"]
    [stack] = member_cfn.describe_stacks(StackName=stack_id)["Stacks"]
    assert stack["StackName"].startswith("StackSet-topics-")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert len(client(endpoint, "sns", org.accounts["a2"], "eu-west-1").list_topics()["Topics"]) == 1
    described = cfn.describe_stack_set(StackSetName="topics")["StackSet"]
    assert described["OrganizationalUnitIds"] == [org.workloads]
    assert described["Regions"] == regions


def test_managed_execution_queues_the_next_operation(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "queued", ManagedExecution={"Active": True})
    STATE.op_seconds = 0.3
    targets = {"OrganizationalUnitIds": [org.other]}
    first = cfn.create_stack_instances(StackSetName="queued", Regions=["us-east-1"], DeploymentTargets=targets)
    second = cfn.update_stack_set(StackSetName="queued", TemplateBody=TOPIC.replace("Topic", "Topic2", 1))

    statuses = {
        o["OperationId"]: o["Status"] for o in cfn.list_stack_set_operations(StackSetName="queued")["Summaries"]
    }
    assert statuses == {first["OperationId"]: "RUNNING", second["OperationId"]: "QUEUED"}
    assert cfn.describe_stack_set(StackSetName="queued")["StackSet"]["ManagedExecution"] == {"Active": True}

    done_first = wait_for(cfn, "queued", first["OperationId"])
    done_second = wait_for(cfn, "queued", second["OperationId"])
    assert (done_first["Status"], done_second["Status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert done_second["EndTimestamp"] >= done_first["EndTimestamp"]
    [instance] = instances(cfn, "queued").values()
    assert instance["LastOperationId"] == second["OperationId"]
    assert instance["Status"] == "CURRENT"


def test_second_operation_without_managed_execution_is_refused(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    arn = create_stack_set(cfn, "busy")
    STATE.op_seconds = 30
    targets = {"OrganizationalUnitIds": [org.other]}
    op_id = cfn.create_stack_instances(StackSetName="busy", Regions=["us-east-1"], DeploymentTargets=targets)[
        "OperationId"
    ]
    with pytest.raises(ClientError) as refused:
        cfn.create_stack_instances(StackSetName="busy", Regions=["eu-west-1"], DeploymentTargets=targets)
    assert error_code(refused) == ("OperationInProgressException", 409)
    assert refused.value.response["Error"]["Message"] == f"Another Operation on StackSet {arn} is in progress"
    with pytest.raises(ClientError) as not_deleted:
        cfn.delete_stack_set(StackSetName="busy")
    assert error_code(not_deleted)[0] == "OperationInProgressException"

    cfn.stop_stack_set_operation(StackSetName="busy", OperationId=op_id)
    stopped = cfn.describe_stack_set_operation(StackSetName="busy", OperationId=op_id)["StackSetOperation"]
    assert stopped["Status"] == "STOPPED"
    assert {r["Status"] for r in results(cfn, "busy", op_id).values()} == {"CANCELLED"}
    assert {i["StackInstanceStatus"]["DetailedStatus"] for i in instances(cfn, "busy").values()} == {"CANCELLED"}


def test_reused_operation_id_is_refused(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "ids")
    targets = {"OrganizationalUnitIds": [org.other]}
    cfn.create_stack_instances(StackSetName="ids", Regions=["us-east-1"], DeploymentTargets=targets, OperationId="op-1")
    with pytest.raises(ClientError) as refused:
        cfn.create_stack_instances(
            StackSetName="ids", Regions=["eu-west-1"], DeploymentTargets=targets, OperationId="op-1"
        )
    assert error_code(refused) == ("OperationIdAlreadyExistsException", 409)


def recorder_template() -> str:
    recorder = {
        "Type": "AWS::Config::ConfigurationRecorder",
        "Properties": {
            "Name": "orgdeploy",
            "RoleARN": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/config-recorder"},
            "RecordingGroup": {"AllSupported": True},
        },
    }
    # A recorder starts only with a delivery channel (its bucket is made by the foreign_recorder fixture).
    channel = {"Type": "AWS::Config::DeliveryChannel", "Properties": {"S3BucketName": "realism-delivery"}}
    return json.dumps({"Resources": {"ConfigRecorder": recorder, "DeliveryChannel": channel}})


@pytest.fixture
def foreign_recorder(endpoint: str) -> Org:
    pytest.importorskip("orgdeploy.sandbox.cfn_models.registry", reason="the Config models are not written yet")
    org = build_org(endpoint)
    client(endpoint, "s3").create_bucket(Bucket="realism-delivery")
    config = client(endpoint, "config", org.accounts["a2"], "us-east-1")
    config.put_configuration_recorder(
        ConfigurationRecorder={"name": "default", "roleARN": "arn:aws:iam::111111111111:role/legacy"}
    )
    return org


def test_failed_instance_within_tolerance_leaves_the_operation_succeeded(endpoint: str, foreign_recorder: Org) -> None:
    org, cfn = foreign_recorder, client(endpoint, "cloudformation")
    create_stack_set(cfn, "recorders", recorder_template())
    op_id = cfn.create_stack_instances(
        StackSetName="recorders",
        Regions=["us-east-1"],
        DeploymentTargets={"OrganizationalUnitIds": [org.workloads]},
        OperationPreferences={"FailureToleranceCount": 1, "MaxConcurrentCount": 2},
    )["OperationId"]

    assert wait_for(cfn, "recorders", op_id)["Status"] == "SUCCEEDED"
    by_account = {account: r for (account, _), r in results(cfn, "recorders", op_id).items()}
    failed = by_account.pop(org.accounts["a2"])
    assert failed["Status"] == "FAILED"
    assert failed["StatusReason"].startswith(
        "ResourceLogicalId:ConfigRecorder, ResourceType:AWS::Config::ConfigurationRecorder, ResourceStatusReason:"
    )
    assert "MaxNumberOfConfigurationRecordersExceededException" in failed["StatusReason"]
    assert {r["Status"] for r in by_account.values()} == {"SUCCEEDED"}
    instance = instances(cfn, "recorders")[(org.accounts["a2"], "us-east-1")]
    assert (instance["Status"], instance["StackInstanceStatus"]["DetailedStatus"]) == ("OUTDATED", "FAILED")
    assert instance["StatusReason"] == failed["StatusReason"]
    described = cfn.describe_stack_set_operation(StackSetName="recorders", OperationId=op_id)["StackSetOperation"]
    assert described["StatusDetails"] == {"FailedStackInstancesCount": 1}


def test_failure_beyond_tolerance_cancels_later_regions(endpoint: str, foreign_recorder: Org) -> None:
    org, cfn = foreign_recorder, client(endpoint, "cloudformation")
    create_stack_set(cfn, "recorders", recorder_template())
    op_id = cfn.create_stack_instances(
        StackSetName="recorders",
        Regions=["eu-west-1", "us-east-1"],
        DeploymentTargets={"OrganizationalUnitIds": [org.prod]},
        OperationPreferences={"RegionOrder": ["us-east-1", "eu-west-1"], "RegionConcurrencyType": "SEQUENTIAL"},
    )["OperationId"]

    assert wait_for(cfn, "recorders", op_id)["Status"] == "FAILED"
    summary = results(cfn, "recorders", op_id)
    assert summary[(org.accounts["a2"], "us-east-1")]["Status"] == "FAILED"
    assert {summary[(account, "eu-west-1")]["Status"] for account in (org.accounts["a2"], org.accounts["a3"])} == {
        "CANCELLED"
    }
    reason = summary[(org.accounts["a2"], "eu-west-1")]["StatusReason"]
    assert reason == "Cancelled since failure tolerance has exceeded"


def test_suspended_accounts_are_skipped_and_disabled_regions_fail(endpoint: str) -> None:
    org = build_org(endpoint)
    client(endpoint, "organizations").close_account(AccountId=org.accounts["a3"])
    STATE.disabled_regions.add((org.accounts["a1"], "eu-south-1"))
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "quirks")
    op_id = cfn.create_stack_instances(
        StackSetName="quirks",
        Regions=["eu-south-1"],
        DeploymentTargets={"OrganizationalUnitIds": [org.workloads]},
        OperationPreferences={"FailureTolerancePercentage": 100, "MaxConcurrentPercentage": 100},
    )["OperationId"]

    assert wait_for(cfn, "quirks", op_id)["Status"] == "SUCCEEDED"
    summary = results(cfn, "quirks", op_id)
    disabled = summary[(org.accounts["a1"], "eu-south-1")]
    assert (disabled["Status"], disabled["StatusReason"]) == (
        "FAILED",
        f"Account {org.accounts['a1']} should have 'eu-south-1' region enabled",
    )
    found = instances(cfn, "quirks")
    assert found[(org.accounts["a3"], "eu-south-1")]["StackInstanceStatus"]["DetailedStatus"] == (
        "SKIPPED_SUSPENDED_ACCOUNT"
    )
    assert found[(org.accounts["a2"], "eu-south-1")]["Status"] == "CURRENT"


def test_account_filters(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    a1, a2, a3 = (org.accounts[name] for name in ("a1", "a2", "a3"))
    for name, filter_type, expected in (("inter", "INTERSECTION", {a2}), ("diff", "DIFFERENCE", {a1, a3})):
        create_stack_set(cfn, name)
        cfn.create_stack_instances(
            StackSetName=name,
            Regions=["us-east-1"],
            DeploymentTargets={
                "OrganizationalUnitIds": [org.workloads],
                "Accounts": [a2, MANAGEMENT],
                "AccountFilterType": filter_type,
            },
        )
        assert {account for account, _ in instances(cfn, name)} == expected
    for filter_type in ("UNION", None):
        targets: dict[str, Any] = {"OrganizationalUnitIds": [org.workloads], "Accounts": [a2]}
        if filter_type:
            targets["AccountFilterType"] = filter_type
        with pytest.raises(ClientError) as rejected:
            cfn.create_stack_instances(StackSetName="inter", Regions=["eu-west-1"], DeploymentTargets=targets)
        assert error_code(rejected) == ("ValidationError", 400)

    # Updates may add accounts outside the OUs (UNION, the default when both are given).
    op_id = cfn.update_stack_instances(
        StackSetName="diff",
        Regions=["us-east-1"],
        DeploymentTargets={"OrganizationalUnitIds": [org.prod], "Accounts": [a1]},
        ParameterOverrides=[],
    )["OperationId"]
    assert {account for account, _ in results(cfn, "diff", op_id)} == {a1, a3}


def test_auto_deployment_follows_accounts_in_dependency_order(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    targets = {"OrganizationalUnitIds": [org.other]}
    base = create_stack_set(cfn, "base", AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False})
    create_stack_set(
        cfn, "dependent", AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": True, "DependsOn": [base]}
    )
    for name in ("base", "dependent"):
        cfn.create_stack_instances(StackSetName=name, Regions=["us-east-1", "eu-west-1"], DeploymentTargets=targets)
    organizations = client(endpoint, "organizations")
    a1 = org.accounts["a1"]

    STATE.op_seconds = 0.2
    organizations.move_account(AccountId=a1, SourceParentId=org.workloads, DestinationParentId=org.other)
    [base_op] = [o for o in cfn.list_stack_set_operations(StackSetName="base")["Summaries"] if "EndTimestamp" not in o]
    [dependent_op] = [
        o for o in cfn.list_stack_set_operations(StackSetName="dependent")["Summaries"] if "EndTimestamp" not in o
    ]
    assert (base_op["Status"], dependent_op["Status"]) == ("RUNNING", "QUEUED")
    first = wait_for(cfn, "base", base_op["OperationId"])
    second = wait_for(cfn, "dependent", dependent_op["OperationId"])
    assert second["EndTimestamp"] >= first["EndTimestamp"]
    for name in ("base", "dependent"):
        placed = instances(cfn, name)
        assert {region for account, region in placed if account == a1} == {"us-east-1", "eu-west-1"}
        assert placed[(a1, "us-east-1")]["OrganizationalUnitId"] == org.other
    kept_stack = instances(cfn, "dependent")[(a1, "us-east-1")]["StackId"]
    gone_stack = instances(cfn, "base")[(a1, "us-east-1")]["StackId"]

    STATE.op_seconds = 0
    organizations.move_account(AccountId=a1, SourceParentId=org.other, DestinationParentId=org.root)
    for name in ("base", "dependent"):
        assert all(account != a1 for account, _ in instances(cfn, name))
    member_cfn = client(endpoint, "cloudformation", a1)
    assert member_cfn.describe_stacks(StackName=kept_stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    assert member_cfn.describe_stacks(StackName=gone_stack)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"

    # A new account created straight into the targeted root is not deployed: only Other is targeted.
    created = organizations.create_account(AccountName="n1", Email="n1@example.com")["CreateAccountStatus"]
    assert all(account != created["AccountId"] for account, _ in instances(cfn, "base"))


def test_update_stack_set_refuses_auto_deployment_with_regions(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "auto")
    with pytest.raises(ClientError) as rejected:
        cfn.update_stack_set(
            StackSetName="auto",
            UsePreviousTemplate=True,
            AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
            DeploymentTargets={"OrganizationalUnitIds": [org.other]},
            Regions=["us-east-1"],
        )
    assert error_code(rejected) == ("ValidationError", 400)


def test_organizations_access_switch(endpoint: str) -> None:
    client(endpoint, "organizations").create_organization(FeatureSet="ALL")
    cfn = client(endpoint, "cloudformation")
    assert cfn.describe_organizations_access()["Status"] == "DISABLED"
    with pytest.raises(ClientError) as refused:
        create_stack_set(cfn, "early")
    assert error_code(refused)[0] == "ValidationError"

    cfn.activate_organizations_access()
    assert cfn.describe_organizations_access(CallAs="SELF")["Status"] == "ENABLED"
    trusted = client(endpoint, "organizations").list_aws_service_access_for_organization()
    assert [s["ServicePrincipal"] for s in trusted["EnabledServicePrincipals"]] == [
        "member.org.stacksets.cloudformation.amazonaws.com"
    ]
    cfn.deactivate_organizations_access()
    assert cfn.describe_organizations_access()["Status"] == "DISABLED"
    assert STATE.organizations_access == "DISABLED"


def test_stack_set_lifecycle_errors_and_status_filter(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "life")
    with pytest.raises(ClientError) as duplicate:
        create_stack_set(cfn, "life")
    assert error_code(duplicate)[0] == "NameAlreadyExistsException"
    targets = {"OrganizationalUnitIds": [org.other]}
    cfn.create_stack_instances(StackSetName="life", Regions=["us-east-1"], DeploymentTargets=targets)
    with pytest.raises(ClientError) as not_empty:
        cfn.delete_stack_set(StackSetName="life")
    assert error_code(not_empty)[0] == "StackSetNotEmptyException"

    cfn.delete_stack_instances(
        StackSetName="life", Regions=["us-east-1"], DeploymentTargets=targets, RetainStacks=False
    )
    assert cfn.describe_stack_set(StackSetName="life")["StackSet"]["OrganizationalUnitIds"] == []
    cfn.delete_stack_set(StackSetName="life")
    assert cfn.list_stack_sets(Status="ACTIVE")["Summaries"] == []
    assert [s["StackSetName"] for s in cfn.list_stack_sets(Status="DELETED")["Summaries"]] == ["life"]
    with pytest.raises(ClientError) as missing:
        cfn.delete_stack_set(StackSetName="life")
    assert error_code(missing) == ("StackSetNotFoundException", 404)


def test_auto_deployment_ignores_the_account_filter_of_an_account_moving_between_target_ous(endpoint: str) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "set", AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False})
    a1 = org.accounts["a1"]
    targets = {"OrganizationalUnitIds": [org.workloads, org.other], "Accounts": [a1], "AccountFilterType": "DIFFERENCE"}
    op = cfn.create_stack_instances(StackSetName="set", Regions=["us-east-1"], DeploymentTargets=targets)
    wait_for(cfn, "set", op["OperationId"])
    assert a1 not in {account for account, _ in instances(cfn, "set")}

    client(endpoint, "organizations").move_account(
        AccountId=a1, SourceParentId=org.workloads, DestinationParentId=org.other
    )

    [auto] = [
        o
        for o in cfn.list_stack_set_operations(StackSetName="set")["Summaries"]
        if o["OperationId"] != op["OperationId"]
    ]
    wait_for(cfn, "set", auto["OperationId"])
    assert instances(cfn, "set")[(a1, "us-east-1")]["Status"] == "CURRENT"


def test_an_inoperable_instance_is_left_out_of_updates(endpoint: str) -> None:
    from moto.cloudformation.models import cloudformation_backends

    from orgdeploy.sandbox.stacksets.model import find_instance

    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "set")
    targets = {"OrganizationalUnitIds": [org.workloads]}
    op = cfn.create_stack_instances(StackSetName="set", Regions=["us-east-1"], DeploymentTargets=targets)
    wait_for(cfn, "set", op["OperationId"])
    stackset = cloudformation_backends["123456789012"]["us-east-1"].describe_stack_set("set")
    stuck = find_instance(stackset, org.accounts["a2"], "us-east-1")
    assert stuck is not None
    stuck.status, stuck.detailed_status = "INOPERABLE", "INOPERABLE"

    update = cfn.update_stack_instances(StackSetName="set", Regions=["us-east-1"], DeploymentTargets=targets)
    wait_for(cfn, "set", update["OperationId"])

    touched = {account for account, _ in results(cfn, "set", update["OperationId"])}
    assert org.accounts["a2"] not in touched and org.accounts["a1"] in touched
    assert instances(cfn, "set")[(org.accounts["a2"], "us-east-1")]["Status"] == "INOPERABLE"


@pytest.mark.parametrize(("preferences", "waves"), [({}, 6), ({"RegionConcurrencyType": "PARALLEL"}, 3)])
def test_an_operation_takes_its_instances_time(endpoint: str, preferences: dict[str, Any], waves: int) -> None:
    org = build_org(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack_set(cfn, "topics")
    STATE.op_seconds, STATE.instance_seconds = 0.0, 0.25
    try:
        op_id = cfn.create_stack_instances(
            StackSetName="topics",
            Regions=["us-east-1", "eu-west-1"],
            DeploymentTargets={"OrganizationalUnitIds": [org.workloads]},
            OperationPreferences=preferences,
        )["OperationId"]
        op = wait_for(cfn, "topics", op_id)
    finally:
        STATE.instance_seconds = 0.0
    assert op["Status"] == "SUCCEEDED"
    # Three accounts, one at a time (the StackSets default), in two Regions.
    took = (op["EndTimestamp"] - op["CreationTimestamp"]).total_seconds()
    assert waves * 0.25 <= took < waves * 0.25 + 1.0, took
