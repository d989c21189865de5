"""S3 bucket settings, AWS::S3::BucketPolicy and IAM role managed policies through moto's CloudFormation."""

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
OTHER = "222222222222"
DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
CONFIG_POLICY = "arn:aws:iam::aws:policy/service-role/AWS_ConfigRole"
ORG_POLICY = "arn:aws:iam::aws:policy/service-role/AWSConfigRoleForOrganizations"


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
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    reset_state()


def client(endpoint: str, service: str, account: str = MEMBER, region: str = "us-east-1") -> Any:
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **DUMMY)
    got = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="s3-iam-test"
    )["Credentials"]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=got["AccessKeyId"],
        aws_secret_access_key=got["SecretAccessKey"],
        aws_session_token=got["SessionToken"],
    )


def body(resources: dict[str, Any]) -> str:
    return json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources})


def stack_status(cfn: Any, name: str) -> str:
    return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


def failed_reason(cfn: Any, name: str, logical_id: str) -> str:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return next(
        str(e["ResourceStatusReason"])
        for e in events
        if e["LogicalResourceId"] == logical_id and e["ResourceStatus"] == "CREATE_FAILED"
    )


def bucket(name: str, **properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": name, **properties}}


def policy(bucket_ref: Any, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {"Bucket": bucket_ref, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}},
    }


DENY_HTTP = {
    "Sid": "DenyInsecureTransport",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
PUBLIC_READ = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": "true",
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def test_bucket_settings_follow_the_template_on_update(endpoint: str) -> None:
    cfn, s3 = client(endpoint, "cloudformation"), client(endpoint, "s3")
    settings = {
        "PublicAccessBlockConfiguration": BLOCK_ALL,
        "VersioningConfiguration": {"Status": "Enabled"},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {
                    "BucketKeyEnabled": True,
                    "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/config"},
                }
            ]
        },
    }
    cfn.create_stack(StackName="b", TemplateBody=body({"Bucket": bucket("settings-bucket", **settings)}))
    [rule] = s3.get_bucket_encryption(Bucket="settings-bucket")["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "alias/config"},
        "BucketKeyEnabled": True,
    }
    assert all(s3.get_public_access_block(Bucket="settings-bucket")["PublicAccessBlockConfiguration"].values())

    # Properties left out of the new template are removed; versioning can only be suspended.
    cfn.update_stack(StackName="b", TemplateBody=body({"Bucket": bucket("settings-bucket")}))
    assert stack_status(cfn, "b") == "UPDATE_COMPLETE"
    assert s3.get_bucket_versioning(Bucket="settings-bucket")["Status"] == "Suspended"
    for read, code in (
        (s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration"),
        (s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError"),
        (s3.get_bucket_ownership_controls, "OwnershipControlsNotFoundError"),
    ):
        with pytest.raises(ClientError) as missing:
            read(Bucket="settings-bucket")
        assert missing.value.response["Error"]["Code"] == code


def test_bucket_policy_is_put_moved_and_deleted_with_the_stack(endpoint: str) -> None:
    cfn, s3 = client(endpoint, "cloudformation"), client(endpoint, "s3")
    resources = {"First": bucket("first-bucket"), "Second": bucket("second-bucket")}
    cfn.create_stack(StackName="p", TemplateBody=body({**resources, "Policy": policy({"Ref": "First"}, [DENY_HTTP])}))
    assert json.loads(s3.get_bucket_policy(Bucket="first-bucket")["Policy"])["Statement"] == [DENY_HTTP]
    resource = cfn.describe_stack_resource(StackName="p", LogicalResourceId="Policy")["StackResourceDetail"]
    assert resource["PhysicalResourceId"] == "first-bucket"

    cfn.update_stack(StackName="p", TemplateBody=body({**resources, "Policy": policy({"Ref": "Second"}, [DENY_HTTP])}))
    assert stack_status(cfn, "p") == "UPDATE_COMPLETE"
    assert json.loads(s3.get_bucket_policy(Bucket="second-bucket")["Policy"])["Statement"] == [DENY_HTTP]
    with pytest.raises(ClientError):
        s3.get_bucket_policy(Bucket="first-bucket")

    retained = {name: {**spec, "DeletionPolicy": "Retain"} for name, spec in resources.items()}
    cfn.update_stack(StackName="p", TemplateBody=body({**retained, "Policy": policy({"Ref": "Second"}, [DENY_HTTP])}))
    cfn.delete_stack(StackName="p")
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_policy(Bucket="second-bucket")
    assert gone.value.response["Error"]["Code"] == "NoSuchBucketPolicy"


@pytest.mark.parametrize(
    ("setup", "statements", "code"),
    [
        ("other-account", [DENY_HTTP], "AccessDenied"),
        ("missing", [DENY_HTTP], "NoSuchBucket"),
        ("blocked", [PUBLIC_READ], "AccessDenied"),
    ],
)
def test_bucket_policy_fails_the_stack_like_s3_would(
    endpoint: str, setup: str, statements: list[dict[str, Any]], code: str
) -> None:
    cfn = client(endpoint, "cloudformation")
    if setup == "other-account":
        client(endpoint, "s3", OTHER).create_bucket(Bucket="someone-elses")
        resources = {"Policy": policy("someone-elses", statements)}
    elif setup == "missing":
        resources = {"Policy": policy("no-such-bucket", statements)}
    else:
        blocked = bucket("blocked-bucket", PublicAccessBlockConfiguration=BLOCK_ALL)
        resources = {"Bucket": blocked, "Policy": policy({"Ref": "Bucket"}, statements)}
    cfn.create_stack(StackName="f", TemplateBody=body(resources))
    assert stack_status(cfn, "f") == "ROLLBACK_COMPLETE"
    assert f"Error Code: {code}" in failed_reason(cfn, "f", "Policy")


def role(*arns: str) -> dict[str, Any]:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {"RoleName": "config-role", "AssumeRolePolicyDocument": trust, "ManagedPolicyArns": list(arns)},
    }


def attached(iam: Any) -> list[str]:
    return sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="config-role")["AttachedPolicies"])


def test_role_managed_policy_arns_are_attached_updated_and_detached(endpoint: str) -> None:
    cfn, iam = client(endpoint, "cloudformation"), client(endpoint, "iam")
    cfn.create_stack(
        StackName="r", TemplateBody=body({"Role": role(ORG_POLICY)}), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    assert stack_status(cfn, "r") == "CREATE_COMPLETE"
    assert attached(iam) == [ORG_POLICY]
    assert iam.get_policy(PolicyArn=ORG_POLICY)["Policy"]["PolicyName"] == "AWSConfigRoleForOrganizations"

    cfn.update_stack(
        StackName="r", TemplateBody=body({"Role": role(CONFIG_POLICY)}), Capabilities=["CAPABILITY_NAMED_IAM"]
    )
    assert attached(iam) == [CONFIG_POLICY]

    cfn.delete_stack(StackName="r")
    assert iam.list_roles()["Roles"] == []


def test_unknown_managed_policy_fails_the_role_and_leaves_nothing_behind(endpoint: str) -> None:
    cfn, iam = client(endpoint, "cloudformation"), client(endpoint, "iam")
    missing = "arn:aws:iam::aws:policy/NoSuchPolicyAnywhere"
    cfn.create_stack(StackName="r", TemplateBody=body({"Role": role(missing)}), Capabilities=["CAPABILITY_NAMED_IAM"])
    assert stack_status(cfn, "r") == "ROLLBACK_COMPLETE"
    reason = failed_reason(cfn, "r", "Role")
    assert f"Policy {missing} does not exist or is not attachable." in reason
    assert "Error Code: NoSuchEntity" in reason
    assert iam.list_roles()["Roles"] == []


def test_a_bucket_key_from_another_region_fails_the_bucket(endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation", region="eu-west-1")
    key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    encryption = {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
        ]
    }
    template = {"Resources": {"Bucket": bucket("orgdeploy-kms-elsewhere", BucketEncryption=encryption)}}
    cfn.create_stack(StackName="kms", TemplateBody=json.dumps(template))
    stack = cfn.describe_stacks(StackName="kms")["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cfn.describe_stack_events(StackName="kms")["StackEvents"]
    assert any("KMS.NotFoundException" in e.get("ResourceStatusReason", "") for e in events)
    assert "orgdeploy-kms-elsewhere" not in [b["Name"] for b in client(endpoint, "s3").list_buckets()["Buckets"]]
