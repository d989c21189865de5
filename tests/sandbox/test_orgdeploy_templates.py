"""orgdeploy's own rendered templates, deployed with plain boto3 into the sandbox and read back as the accounts."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from orgdeploy.config.model import Config
from orgdeploy.sandbox.org.seed import SeedQuirk
from orgdeploy.sandbox.server import RunningSandbox, start_sandbox
from orgdeploy.templates import naming
from orgdeploy.templates.render import RenderedSet, render_all
from tests.helpers import decode_template, make_config

HOME, OTHER = "us-east-1", "eu-west-1"
REGIONS = [HOME, OTHER]
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
DELIVERY_BUCKET = "orgdeploy-test-config-delivery"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(accounts=4, seed=0, op_seconds=0) as running:
        yield running


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return make_config(tmp_path_factory.mktemp("config"), home_region=HOME, regions=REGIONS)


@pytest.fixture(scope="module")
def rendered(config: Config) -> RenderedSet:
    return render_all(config)


def client(sandbox: RunningSandbox, service: str, account: str | None = None, region: str = HOME) -> Any:
    """A client as the management account, or as `account` through OrganizationAccountAccessRole."""
    creds: dict[str, str] = dict(DUMMY)
    if account is not None:
        sts = boto3.client("sts", endpoint_url=sandbox.endpoint_url, region_name=HOME, **DUMMY)
        got = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="template-test"
        )["Credentials"]
        creds = {
            "aws_access_key_id": got["AccessKeyId"],
            "aws_secret_access_key": got["SecretAccessKey"],
            "aws_session_token": got["SessionToken"],
        }
    config = BotoConfig(retries={"total_max_attempts": 1})
    return boto3.client(service, endpoint_url=sandbox.endpoint_url, region_name=region, config=config, **creds)


def quirk(sandbox: RunningSandbox, kind: str) -> SeedQuirk:
    [found] = [q for q in sandbox.summary.quirks if q.kind == kind]
    return found


def log_archive(sandbox: RunningSandbox) -> str:
    [account] = [a.id for a in sandbox.summary.accounts if a.name == "log-archive"]
    return account


def active_members(sandbox: RunningSandbox) -> list[str]:
    management = sandbox.summary.management_account_id
    return [a.id for a in sandbox.summary.accounts if a.status == "ACTIVE" and a.id != management]


def recorders(sandbox: RunningSandbox, account: str, region: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client(sandbox, "config", account, region).describe_configuration_recorders()[
        "ConfigurationRecorders"
    ]
    return found


def wait_for(cfn: Any, stack_set: str, operation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        op: dict[str, Any] = cfn.describe_stack_set_operation(StackSetName=stack_set, OperationId=operation_id)[
            "StackSetOperation"
        ]
        if op["Status"] not in ("QUEUED", "RUNNING", "STOPPING"):
            return op
        assert time.monotonic() < deadline, f"operation {operation_id} still {op['Status']}"
        time.sleep(0.05)


def instances(cfn: Any, stack_set: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = cfn.list_stack_instances(StackSetName=stack_set)["Summaries"]
    return {(i["Account"], i["Region"]): i for i in found}


# Spread the work over every account at once; tolerate the expected failure so nothing is cancelled.
PREFERENCES = {"RegionConcurrencyType": "PARALLEL", "MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 100}


@pytest.fixture(scope="module")
def delivery_stack(sandbox: RunningSandbox, rendered: RenderedSet) -> dict[str, Any]:
    """The rendered delivery-bucket template as a stack in the log-archive account."""
    cfn = client(sandbox, "cloudformation", log_archive(sandbox))
    cfn.create_stack(
        StackName="orgdeploy-delivery-bucket",
        TemplateBody=rendered.get("delivery-bucket").body,
        Parameters=[
            {"ParameterKey": "OrganizationId", "ParameterValue": sandbox.summary.organization_id},
            {"ParameterKey": "BucketName", "ParameterValue": DELIVERY_BUCKET},
            {"ParameterKey": "PackReaderAccountId", "ParameterValue": sandbox.summary.management_account_id},
        ],
    )
    stack: dict[str, Any] = cfn.describe_stacks(StackName="orgdeploy-delivery-bucket")["Stacks"][0]
    return stack


@pytest.fixture(scope="module")
def recorder_stack_set(
    sandbox: RunningSandbox, config: Config, rendered: RenderedSet, delivery_stack: dict[str, Any]
) -> str:
    cfn = client(sandbox, "cloudformation")
    cfn.activate_organizations_access()
    name = naming.recorder_stack_set(config)
    cfn.create_stack_set(
        StackSetName=name,
        TemplateBody=rendered.get("recorder").body,
        Parameters=[{"ParameterKey": "DeliveryBucketName", "ParameterValue": DELIVERY_BUCKET}],
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": False},
    )
    return name


@pytest.fixture
def deployed(sandbox: RunningSandbox, recorder_stack_set: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The recorder stack set's instances across the root OU and both Regions (created again if a test deleted them)."""
    cfn = client(sandbox, "cloudformation")
    current = instances(cfn, recorder_stack_set).values()
    if all(i["StackInstanceStatus"]["DetailedStatus"] == "SKIPPED_SUSPENDED_ACCOUNT" for i in current):
        operation_id = cfn.create_stack_instances(
            StackSetName=recorder_stack_set,
            DeploymentTargets={"OrganizationalUnitIds": [sandbox.summary.root_id]},
            Regions=REGIONS,
            OperationPreferences=PREFERENCES,
        )["OperationId"]
        wait_for(cfn, recorder_stack_set, operation_id)
    return instances(cfn, recorder_stack_set)


def test_every_resource_type_in_the_templates_has_a_sandbox_model(rendered: RenderedSet) -> None:
    from moto.cloudformation import parsing

    from orgdeploy.sandbox.cfn_models.registry import register_resource_models

    register_resource_models()
    types = {
        str(resource["Type"])
        for template in rendered.templates
        for resource in decode_template(template.body)["Resources"].values()
    }
    # Without a model moto skips the resource and warns on the user's terminal.
    assert types - set(parsing.get_model_map()) == set()
    assert {"AWS::S3::BucketPolicy", "AWS::IAM::Role", "AWS::Config::ConfigurationRecorder"} <= types


def test_recorder_stack_set_gives_each_member_and_region_exactly_one_recorder(
    sandbox: RunningSandbox, config: Config, deployed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    foreign = quirk(sandbox, "foreign-recorder")
    assert foreign.region == OTHER
    members = active_members(sandbox)
    assert sandbox.summary.management_account_id not in {account for account, _ in deployed}

    for account in members:
        for region in REGIONS:
            instance = deployed[(account, region)]
            found = recorders(sandbox, account, region)
            assert len(found) == 1, (account, region, found)
            if (account, region) == (foreign.account_id, foreign.region):
                assert instance["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
                assert "MaxNumberOfConfigurationRecordersExceededException" in instance["StatusReason"]
                # The account keeps its own recorder; the stack rolled back without touching it.
                assert found[0]["name"] == "default"
                continue
            assert instance["StackInstanceStatus"]["DetailedStatus"] == "SUCCEEDED", instance
            assert found[0]["name"] == naming.recorder_name(config)
            config_client = client(sandbox, "config", account, region)
            [status] = config_client.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
            assert status["recording"] is True
            [channel] = config_client.describe_delivery_channels()["DeliveryChannels"]
            assert channel["s3BucketName"] == DELIVERY_BUCKET

    suspended = quirk(sandbox, "suspended").account_id
    for region in REGIONS:
        assert deployed[(suspended, region)]["StackInstanceStatus"]["DetailedStatus"] == "SKIPPED_SUSPENDED_ACCOUNT"


def test_only_the_home_region_records_global_iam_types(
    sandbox: RunningSandbox, deployed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    foreign = quirk(sandbox, "foreign-recorder")
    for account in active_members(sandbox):
        [home] = recorders(sandbox, account, HOME)
        assert home["recordingGroup"]["allSupported"] is True
        assert home["recordingGroup"]["includeGlobalResourceTypes"] is True
        if account == foreign.account_id:
            continue
        [other] = recorders(sandbox, account, OTHER)
        assert other["recordingGroup"]["allSupported"] is True
        assert other["recordingGroup"]["includeGlobalResourceTypes"] is False
        assert other["recordingMode"]["recordingFrequency"] == "CONTINUOUS"


def test_delivery_bucket_template_blocks_public_access_encrypts_and_denies_plain_http(
    sandbox: RunningSandbox, delivery_stack: dict[str, Any]
) -> None:
    assert delivery_stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in delivery_stack["Outputs"]}
    assert outputs == {"BucketName": DELIVERY_BUCKET, "BucketArn": f"arn:aws:s3:::{DELIVERY_BUCKET}"}
    s3 = client(sandbox, "s3", log_archive(sandbox))

    block = s3.get_public_access_block(Bucket=DELIVERY_BUCKET)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    [rule] = s3.get_bucket_encryption(Bucket=DELIVERY_BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert rule["BucketKeyEnabled"] is True
    assert s3.get_bucket_versioning(Bucket=DELIVERY_BUCKET)["Status"] == "Enabled"
    ownership = s3.get_bucket_ownership_controls(Bucket=DELIVERY_BUCKET)["OwnershipControls"]
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]

    policy = json.loads(s3.get_bucket_policy(Bucket=DELIVERY_BUCKET)["Policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    deny = statements["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Resource"] == [f"arn:aws:s3:::{DELIVERY_BUCKET}", f"arn:aws:s3:::{DELIVERY_BUCKET}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delivery = statements["AWSConfigBucketDelivery"]
    assert delivery["Condition"]["StringEquals"]["aws:SourceOrgID"] == sandbox.summary.organization_id


def test_deleting_the_stack_instances_removes_the_recorders(
    sandbox: RunningSandbox, config: Config, recorder_stack_set: str, deployed: dict[tuple[str, str], dict[str, Any]]
) -> None:
    cfn = client(sandbox, "cloudformation")
    operation_id = cfn.delete_stack_instances(
        StackSetName=recorder_stack_set,
        DeploymentTargets={"OrganizationalUnitIds": [sandbox.summary.root_id]},
        Regions=REGIONS,
        OperationPreferences=PREFERENCES,
        RetainStacks=False,
    )["OperationId"]
    assert wait_for(cfn, recorder_stack_set, operation_id)["Status"] == "SUCCEEDED"
    # StackSets skip a suspended account, so its instances (never deployed) are all that is left.
    left = instances(cfn, recorder_stack_set)
    assert {account for account, _ in left} <= {quirk(sandbox, "suspended").account_id}
    assert {i["StackInstanceStatus"]["DetailedStatus"] for i in left.values()} <= {"SKIPPED_SUSPENDED_ACCOUNT"}

    foreign = quirk(sandbox, "foreign-recorder")
    for account in active_members(sandbox):
        for region in REGIONS:
            names = [r["name"] for r in recorders(sandbox, account, region)]
            assert naming.recorder_name(config) not in names
            # Only the recorder made outside orgdeploy is left, untouched.
            assert names == (["default"] if (account, region) == (foreign.account_id, foreign.region) else [])
            channels = client(sandbox, "config", account, region).describe_delivery_channels()["DeliveryChannels"]
            assert channels == []


def test_deleting_the_bucket_stack_keeps_the_bucket_but_not_its_policy(
    sandbox: RunningSandbox, rendered: RenderedSet
) -> None:
    # A stack of its own: the module's delivery bucket must outlive this test.
    account = log_archive(sandbox)
    cfn = client(sandbox, "cloudformation", account)
    bucket = "orgdeploy-test-retained-bucket"
    cfn.create_stack(
        StackName="retained-bucket",
        TemplateBody=rendered.get("delivery-bucket").body,
        Parameters=[
            {"ParameterKey": "OrganizationId", "ParameterValue": sandbox.summary.organization_id},
            {"ParameterKey": "BucketName", "ParameterValue": bucket},
            {"ParameterKey": "PackReaderAccountId", "ParameterValue": sandbox.summary.management_account_id},
        ],
    )
    s3 = client(sandbox, "s3", account)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"]
    cfn.delete_stack(StackName="retained-bucket")

    # DeletionPolicy: Retain keeps the bucket and its settings; the policy resource has none and goes.
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_policy(Bucket=bucket)
    assert gone.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
