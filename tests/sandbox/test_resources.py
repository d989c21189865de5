"""The sandbox's CloudFormation resource models, checked through the AWS APIs as the member account."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from orgdeploy.sandbox.cfn_models.registry import register_resource_models
from orgdeploy.sandbox.state import reset_state

MEMBER = "111111111111"
LOG_ARCHIVE = "222222222222"
BUCKET = "central-config-bucket"
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    register_resource_models()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def fresh(endpoint: str) -> None:
    # moto's backends are process-wide: every test starts from an empty cloud.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    reset_state()


def client(endpoint: str, service: str, account: str | None = None, region: str = "us-east-1") -> Any:
    creds = dict(DUMMY)
    if account:
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **DUMMY)
        role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        got = sts.assume_role(RoleArn=role, RoleSessionName="sandbox-test")["Credentials"]
        creds = {
            "aws_access_key_id": got["AccessKeyId"],
            "aws_secret_access_key": got["SecretAccessKey"],
            "aws_session_token": got["SessionToken"],
        }
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **creds)


def create_stack(cfn: Any, name: str, resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> Any:
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources, "Outputs": outputs or {}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def failed_reasons(cfn: Any, stack: str) -> dict[str, str]:
    events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    return {
        e["LogicalResourceId"]: e.get("ResourceStatusReason", "")
        for e in events
        if e["ResourceStatus"] == "CREATE_FAILED"
    }


def recorder(frequency: str = "CONTINUOUS") -> dict[str, Any]:
    return {
        "Type": "AWS::Config::ConfigurationRecorder",
        "Properties": {
            "Name": "orgdeploy",
            "RoleARN": {
                "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/"
                "config.amazonaws.com/AWSServiceRoleForConfig"
            },
            "RecordingGroup": {
                "AllSupported": "false",
                "IncludeGlobalResourceTypes": False,
                "ExclusionByResourceTypes": {"ResourceTypes": ["AWS::IAM::User"]},
                "RecordingStrategy": {"UseOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
            },
            "RecordingMode": {
                "RecordingFrequency": frequency,
                "RecordingModeOverrides": [
                    {
                        "Description": "EC2 daily",
                        "RecordingFrequency": "DAILY",
                        "ResourceTypes": ["AWS::EC2::VPC"],
                    }
                ],
            },
        },
    }


def channel(bucket: str = BUCKET, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Config::DeliveryChannel",
        **extra,
        "Properties": {
            "Name": "orgdeploy",
            "S3BucketName": bucket,
            "S3KeyPrefix": "config",
            "ConfigSnapshotDeliveryProperties": {"DeliveryFrequency": "TwentyFour_Hours"},
        },
    }


def make_central_bucket(endpoint: str) -> None:
    client(endpoint, "s3", LOG_ARCHIVE).create_bucket(Bucket=BUCKET)


def test_register_is_idempotent() -> None:
    register_resource_models()
    register_resource_models()


def test_recorder_and_channel_stack_records_then_deletes(endpoint: str) -> None:
    make_central_bucket(endpoint)
    cfn = client(endpoint, "cloudformation", MEMBER)
    resources = {"ConfigurationRecorder": recorder(), "DeliveryChannel": channel()}
    stack = create_stack(cfn, "recorder", resources, {"Name": {"Value": {"Ref": "ConfigurationRecorder"}}})
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == "orgdeploy"

    config = client(endpoint, "config", MEMBER)
    [rec] = config.describe_configuration_recorders()["ConfigurationRecorders"]
    assert rec["name"] == "orgdeploy"
    assert rec["roleARN"].endswith(f"{MEMBER}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig")
    assert rec["recordingGroup"]["allSupported"] is False
    assert rec["recordingGroup"]["exclusionByResourceTypes"] == {"resourceTypes": ["AWS::IAM::User"]}
    assert rec["recordingMode"]["recordingFrequency"] == "CONTINUOUS"
    assert rec["recordingMode"]["recordingModeOverrides"][0]["resourceTypes"] == ["AWS::EC2::VPC"]
    [chan] = config.describe_delivery_channels()["DeliveryChannels"]
    assert (chan["name"], chan["s3BucketName"], chan["s3KeyPrefix"]) == ("orgdeploy", BUCKET, "config")
    assert chan["configSnapshotDeliveryProperties"] == {"deliveryFrequency": "TwentyFour_Hours"}
    [status] = config.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True

    cfn.delete_stack(StackName="recorder")
    assert config.describe_configuration_recorders()["ConfigurationRecorders"] == []
    assert config.describe_delivery_channels()["DeliveryChannels"] == []


def test_a_channel_that_waits_for_the_recorder_deadlocks_the_stack(endpoint: str) -> None:
    # The recorder's create handler starts it, which needs a channel; this channel waits for the recorder.
    make_central_bucket(endpoint)
    cfn = client(endpoint, "cloudformation", MEMBER)
    resources = {"ConfigurationRecorder": recorder(), "DeliveryChannel": channel(DependsOn="ConfigurationRecorder")}

    stack = create_stack(cfn, "recorder", resources)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    reason = failed_reasons(cfn, "recorder")["ConfigurationRecorder"]
    assert "Error Code: NoAvailableDeliveryChannelException" in reason
    assert "Delivery channel is not available to start configuration recorder." in reason
    config = client(endpoint, "config", MEMBER)
    assert config.describe_configuration_recorders()["ConfigurationRecorders"] == []
    assert config.describe_delivery_channels()["DeliveryChannels"] == []


def test_a_recorder_alone_cannot_start_without_a_channel(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation", MEMBER)
    stack = create_stack(cfn, "recorder", {"ConfigurationRecorder": recorder()})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "NoAvailableDeliveryChannelException" in failed_reasons(cfn, "recorder")["ConfigurationRecorder"]


def test_a_channel_needs_a_recorder_first(endpoint: str) -> None:
    make_central_bucket(endpoint)
    config = client(endpoint, "config", MEMBER)
    with pytest.raises(ClientError) as raised:
        config.put_delivery_channel(DeliveryChannel={"name": "orgdeploy", "s3BucketName": BUCKET})
    assert raised.value.response["Error"]["Code"] == "NoAvailableConfigurationRecorderException"


def test_stack_update_changes_recording_mode(endpoint: str) -> None:
    make_central_bucket(endpoint)
    cfn = client(endpoint, "cloudformation", MEMBER)
    create_stack(cfn, "recorder", {"ConfigurationRecorder": recorder(), "DeliveryChannel": channel()})
    template = {"Resources": {"ConfigurationRecorder": recorder("DAILY"), "DeliveryChannel": channel()}}
    cfn.update_stack(StackName="recorder", TemplateBody=json.dumps(template))
    [rec] = client(endpoint, "config", MEMBER).describe_configuration_recorders()["ConfigurationRecorders"]
    assert rec["recordingMode"]["recordingFrequency"] == "DAILY"


def test_second_recorder_fails_the_stack_like_aws(endpoint: str) -> None:
    config = client(endpoint, "config", MEMBER, "eu-west-1")
    foreign = {"name": "default", "roleARN": f"arn:aws:iam::{MEMBER}:role/legacy"}
    config.put_configuration_recorder(ConfigurationRecorder=foreign)
    cfn = client(endpoint, "cloudformation", MEMBER, "eu-west-1")

    stack = create_stack(cfn, "recorder", {"ConfigurationRecorder": recorder()})

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "[ConfigurationRecorder]" in stack["StackStatusReason"]
    reason = failed_reasons(cfn, "recorder")["ConfigurationRecorder"]
    assert "Error Code: MaxNumberOfConfigurationRecordersExceededException" in reason
    assert "Failed to put configuration recorder 'orgdeploy' because the maximum number of" in reason
    names = [r["name"] for r in config.describe_configuration_recorders()["ConfigurationRecorders"]]
    assert names == ["default"]


def test_failed_channel_rolls_back_the_recorder(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation", MEMBER)
    resources = {"ConfigurationRecorder": recorder(), "DeliveryChannel": channel("no-such-bucket")}

    stack = create_stack(cfn, "recorder", resources)

    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "NoSuchBucketException" in failed_reasons(cfn, "recorder")["DeliveryChannel"]
    config = client(endpoint, "config", MEMBER)
    assert config.describe_configuration_recorders()["ConfigurationRecorders"] == []


def test_template_errors_still_fail_the_create_call(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation", MEMBER)
    bad = {
        "Type": "AWS::Config::DeliveryChannel",
        "Properties": {"S3BucketName": {"Fn::GetAtt": ["Nope", "Arn"]}},
    }
    with pytest.raises(ClientError, match="references undefined resource Nope"):
        create_stack(cfn, "bad", {"DeliveryChannel": bad})


def test_service_linked_role_is_created_once(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation", MEMBER)
    slr = {"Type": "AWS::IAM::ServiceLinkedRole", "Properties": {"AWSServiceName": "config.amazonaws.com"}}
    outputs = {"RoleName": {"Value": {"Ref": "Role"}}}
    first = create_stack(cfn, "slr", {"Role": slr}, outputs)
    assert first["StackStatus"] == "CREATE_COMPLETE"
    assert first["Outputs"][0]["OutputValue"] == "AWSServiceRoleForConfig"
    iam = client(endpoint, "iam", MEMBER)
    role = iam.get_role(RoleName="AWSServiceRoleForConfig")["Role"]
    assert role["Path"] == "/aws-service-role/config.amazonaws.com/"

    second = create_stack(cfn, "slr-again", {"Role": slr})
    taken = "Service role name AWSServiceRoleForConfig has been taken in this account, please try a different suffix."
    assert second["StackStatus"] == "ROLLBACK_COMPLETE"
    assert taken in failed_reasons(cfn, "slr-again")["Role"]
    with pytest.raises(ClientError) as raised:
        iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")
    assert raised.value.response["Error"]["Code"] == "InvalidInput"
    assert raised.value.response["Error"]["Message"] == taken

    cfn.delete_stack(StackName="slr")
    with pytest.raises(ClientError, match="NoSuchEntity"):
        iam.get_role(RoleName="AWSServiceRoleForConfig")


def test_aggregator_stack_creates_a_real_aggregator(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    resources = {
        "AggregatorRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
        "Aggregator": {
            "Type": "AWS::Config::ConfigurationAggregator",
            "Properties": {
                "ConfigurationAggregatorName": "org-aggregator",
                "OrganizationAggregationSource": {
                    "RoleArn": {"Fn::GetAtt": ["AggregatorRole", "Arn"]},
                    "AllAwsRegions": "true",
                },
                "Tags": [{"Key": "owner", "Value": "orgdeploy"}],
            },
        },
    }
    outputs = {"Arn": {"Value": {"Fn::GetAtt": ["Aggregator", "ConfigurationAggregatorArn"]}}}
    stack = create_stack(cfn, "aggregator", resources, outputs)
    assert stack["StackStatus"] == "CREATE_COMPLETE"

    config = client(endpoint, "config")
    [agg] = config.describe_configuration_aggregators()["ConfigurationAggregators"]
    assert agg["ConfigurationAggregatorName"] == "org-aggregator"
    assert agg["ConfigurationAggregatorArn"] == stack["Outputs"][0]["OutputValue"]
    assert agg["OrganizationAggregationSource"]["AllAwsRegions"] is True
    assert ":role/aggregator-AggregatorRole-" in agg["OrganizationAggregationSource"]["RoleArn"]

    cfn.delete_stack(StackName="aggregator")
    assert config.describe_configuration_aggregators()["ConfigurationAggregators"] == []


def test_organization_conformance_pack_stack_is_listed_without_names(endpoint: str) -> None:
    # The pack deploys only where a recorder records; the caller is the only account here.
    make_central_bucket(endpoint)
    cfn = client(endpoint, "cloudformation")
    create_stack(cfn, "recorder", {"ConfigurationRecorder": recorder(), "DeliveryChannel": channel()})
    body = "Resources:\n  Rule:\n    Type: AWS::Config::ConfigRule\n"
    resources = {
        "ConformsBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "awsconfigconforms-test"}},
        "Pack": {
            "Type": "AWS::Config::OrganizationConformancePack",
            "Properties": {
                "OrganizationConformancePackName": "baseline",
                "TemplateBody": body,
                "DeliveryS3Bucket": {"Ref": "ConformsBucket"},
                "ConformancePackInputParameters": [{"ParameterName": "MaxAge", "ParameterValue": "90"}],
                "ExcludedAccounts": [MEMBER],
            },
        },
    }
    stack = create_stack(cfn, "pack", resources, {"Pack": {"Value": {"Ref": "Pack"}}})
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Outputs"][0]["OutputValue"] == "baseline"

    config = client(endpoint, "config")
    [pack] = config.describe_organization_conformance_packs()["OrganizationConformancePacks"]
    assert pack["OrganizationConformancePackName"] == "baseline"
    assert pack["DeliveryS3Bucket"] == "awsconfigconforms-test"
    assert pack["ExcludedAccounts"] == [MEMBER]
    assert pack["ConformancePackInputParameters"] == [{"ParameterName": "MaxAge", "ParameterValue": "90"}]
    statuses = config.describe_organization_conformance_pack_statuses()["OrganizationConformancePackStatuses"]
    assert [s["OrganizationConformancePackName"] for s in statuses] == ["baseline"]

    cfn.delete_stack(StackName="pack")
    assert config.describe_organization_conformance_packs()["OrganizationConformancePacks"] == []


def test_an_organization_pack_stack_fails_where_no_recorder_records(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation")
    pack = {
        "Type": "AWS::Config::OrganizationConformancePack",
        "Properties": {
            "OrganizationConformancePackName": "baseline",
            "TemplateBody": "Resources:\n  Rule:\n    Type: AWS::Config::ConfigRule\n",
        },
    }
    stack = create_stack(cfn, "pack", {"Pack": pack})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "NoAvailableConfigurationRecorderException" in failed_reasons(cfn, "pack")["Pack"]
    assert client(endpoint, "config").describe_organization_conformance_packs()["OrganizationConformancePacks"] == []


def test_a_pack_from_s3_is_read_as_the_caller(endpoint: str) -> None:
    # The pack body lives in another account's bucket; AWS Config reads it with the caller's rights.
    make_central_bucket(endpoint)
    create_stack(
        client(endpoint, "cloudformation"),
        "recorder",
        {"ConfigurationRecorder": recorder(), "DeliveryChannel": channel()},
    )
    s3 = client(endpoint, "s3", LOG_ARCHIVE)
    s3.create_bucket(Bucket="pack-artifacts")
    s3.put_object(
        Bucket="pack-artifacts", Key="packs/big.yaml", Body=b"Resources:\n  Rule:\n    Type: AWS::Config::ConfigRule\n"
    )
    cfn = client(endpoint, "cloudformation")
    pack = {
        "Type": "AWS::Config::OrganizationConformancePack",
        "Properties": {"OrganizationConformancePackName": "big", "TemplateS3Uri": "s3://pack-artifacts/packs/big.yaml"},
    }

    refused = create_stack(cfn, "refused", {"Pack": pack})

    assert refused["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Error Code: AccessDeniedException" in failed_reasons(cfn, "refused")["Pack"]
    grant = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::pack-artifacts/packs/*",
    }
    s3.put_bucket_policy(Bucket="pack-artifacts", Policy=json.dumps({"Version": "2012-10-17", "Statement": [grant]}))
    assert create_stack(cfn, "granted", {"Pack": pack})["StackStatus"] == "CREATE_COMPLETE"
    missing = {**pack, "Properties": {**pack["Properties"], "TemplateS3Uri": "s3://pack-artifacts/packs/none.yaml"}}
    missing["Properties"]["OrganizationConformancePackName"] = "none"
    assert create_stack(cfn, "missing", {"Pack": missing})["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "The specified key does not exist." in failed_reasons(cfn, "missing")["Pack"]


def test_a_delivery_channel_key_must_be_in_the_bucket_region(endpoint: str) -> None:
    make_central_bucket(endpoint)  # in us-east-1
    cfn = client(endpoint, "cloudformation", MEMBER, "eu-west-1")
    key = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    wrong = channel()
    wrong["Properties"]["S3KmsKeyArn"] = key
    stack = create_stack(cfn, "recorder", {"ConfigurationRecorder": recorder(), "DeliveryChannel": wrong})
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "InvalidS3KmsKeyArnException" in failed_reasons(cfn, "recorder")["DeliveryChannel"]


def test_a_region_launched_after_february_2022_cannot_record_the_global_types(endpoint: str) -> None:
    config = client(endpoint, "config", MEMBER, "eu-central-2")
    role = f"arn:aws:iam::{MEMBER}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"
    with pytest.raises(ClientError) as refused:
        config.put_configuration_recorder(
            ConfigurationRecorder={
                "name": "orgdeploy",
                "roleARN": role,
                "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
            }
        )
    assert refused.value.response["Error"]["Code"] == "InvalidRecordingGroupException"
    recorder_without = {"name": "orgdeploy", "roleARN": role, "recordingGroup": {"allSupported": True}}
    config.put_configuration_recorder(ConfigurationRecorder=recorder_without)
