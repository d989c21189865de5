"""The sandbox's AWS managed rules, one behaviour at a time, on hand-made configuration items.

What each rule checks comes from its page in the AWS Config Developer Guide; docs/sandbox.md lists them.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("moto")

from orgdeploy.sandbox.compliance.evaluations import MemberRule
from orgdeploy.sandbox.compliance.managed_rules import MANAGED_RULES, Place
from orgdeploy.sandbox.compliance.packs import PackRule, Scope, pack_rules
from orgdeploy.sandbox.compliance.recorded import ConfigItem

PLACE = Place("210987654321", "us-east-1", 0.0)


def _bucket(**configuration: Any) -> ConfigItem:
    base = {"name": "b", "policy": None, "acl": [], "versioning": "Off", "logging": {}, "publicAccessBlock": None}
    return ConfigItem("AWS::S3::Bucket", "b", "b", "arn:aws:s3:::b", {**base, **configuration})


def _group(*permissions: tuple[str, int, int, str]) -> ConfigItem:
    rules = [
        {"ipProtocol": protocol, "fromPort": low, "toPort": high, "ipv4Range": cidr if "." in cidr else None,
         "ipv6Range": cidr if ":" in cidr else None, "sourceGroup": None}
        for protocol, low, high, cidr in permissions
    ]  # fmt: skip
    return ConfigItem("AWS::EC2::SecurityGroup", "sg-1", "web", "arn", {"ipPermissions": rules})


def _verdict(identifier: str, item: ConfigItem, **params: str) -> str:
    [verdict] = MANAGED_RULES[identifier].evaluate(PLACE, params, [item])
    return verdict.compliance


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


TLS_DENY = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
PUBLIC_GET = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (None, "NON_COMPLIANT"),
        (_policy(TLS_DENY), "COMPLIANT"),
        (_policy({**TLS_DENY, "Effect": "Allow"}), "NON_COMPLIANT"),
        (_policy({**TLS_DENY, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}), "NON_COMPLIANT"),
        (_policy({**TLS_DENY, "Principal": {"AWS": "111111111111"}}), "NON_COMPLIANT"),
    ],
)
def test_ssl_requests_only_needs_a_deny_of_plain_http_to_everyone(policy: Any, expected: str) -> None:
    assert _verdict("S3_BUCKET_SSL_REQUESTS_ONLY", _bucket(policy=policy)) == expected


def test_public_read_through_the_acl_or_the_policy_and_block_public_access_overrides() -> None:
    public_acl = [{"grantees": [ALL_USERS], "permissions": ["READ"]}]
    assert _verdict("S3_BUCKET_PUBLIC_READ_PROHIBITED", _bucket()) == "COMPLIANT"
    assert _verdict("S3_BUCKET_PUBLIC_READ_PROHIBITED", _bucket(acl=public_acl)) == "NON_COMPLIANT"
    assert _verdict("S3_BUCKET_PUBLIC_READ_PROHIBITED", _bucket(policy=_policy(PUBLIC_GET))) == "NON_COMPLIANT"
    blocked = {"ignorePublicAcls": True, "restrictPublicBuckets": True}
    item = _bucket(acl=public_acl, policy=_policy(PUBLIC_GET), publicAccessBlock=blocked)
    assert _verdict("S3_BUCKET_PUBLIC_READ_PROHIBITED", item) == "COMPLIANT"
    # A condition narrows the statement: it is not public.
    narrowed = {**PUBLIC_GET, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}
    assert _verdict("S3_BUCKET_PUBLIC_READ_PROHIBITED", _bucket(policy=_policy(narrowed))) == "COMPLIANT"
    # Read is not write.
    assert _verdict("S3_BUCKET_PUBLIC_WRITE_PROHIBITED", _bucket(acl=public_acl)) == "COMPLIANT"
    write_acl = [{"grantees": [ALL_USERS], "permissions": ["WRITE"]}]
    assert _verdict("S3_BUCKET_PUBLIC_WRITE_PROHIBITED", _bucket(acl=write_acl)) == "NON_COMPLIANT"


def test_versioning_and_logging_honour_their_parameters() -> None:
    assert _verdict("S3_BUCKET_VERSIONING_ENABLED", _bucket(versioning="Suspended")) == "NON_COMPLIANT"
    assert _verdict("S3_BUCKET_VERSIONING_ENABLED", _bucket(versioning="Enabled")) == "COMPLIANT"
    enabled = _bucket(versioning="Enabled")
    assert _verdict("S3_BUCKET_VERSIONING_ENABLED", enabled, isMfaDeleteEnabled="true") == "NON_COMPLIANT"
    logged = _bucket(logging={"TargetBucket": "logs", "TargetPrefix": "b/"})
    assert _verdict("S3_BUCKET_LOGGING_ENABLED", _bucket()) == "NON_COMPLIANT"
    assert _verdict("S3_BUCKET_LOGGING_ENABLED", logged) == "COMPLIANT"
    assert _verdict("S3_BUCKET_LOGGING_ENABLED", logged, targetBucket="elsewhere") == "NON_COMPLIANT"
    assert _verdict("S3_BUCKET_LOGGING_ENABLED", logged, targetBucket="logs", targetPrefix="b/") == "COMPLIANT"


def test_only_attached_volumes_are_evaluated() -> None:
    def volume(encrypted: bool, attached: bool, key: str | None = None) -> ConfigItem:
        configuration = {"encrypted": encrypted, "kmsKeyId": key, "attachments": [{"instanceId": "i-1"}] * attached}
        return ConfigItem("AWS::EC2::Volume", "vol-1", "vol-1", "arn", configuration)

    assert _verdict("ENCRYPTED_VOLUMES", volume(False, True)) == "NON_COMPLIANT"
    assert _verdict("ENCRYPTED_VOLUMES", volume(True, True)) == "COMPLIANT"
    assert _verdict("ENCRYPTED_VOLUMES", volume(False, False)) == "NOT_APPLICABLE"
    key = "arn:aws:kms:us-east-1:210987654321:key/abc"
    assert _verdict("ENCRYPTED_VOLUMES", volume(True, True, key), kmsId="other") == "NON_COMPLIANT"
    assert _verdict("ENCRYPTED_VOLUMES", volume(True, True, key), kmsId="abc") == "COMPLIANT"


@pytest.mark.parametrize(
    ("permissions", "ssh", "common"),
    [
        ([("tcp", 443, 443, "0.0.0.0/0")], "COMPLIANT", "COMPLIANT"),
        ([("tcp", 22, 22, "0.0.0.0/0")], "NON_COMPLIANT", "COMPLIANT"),
        ([("tcp", 0, 65535, "10.0.0.0/8")], "COMPLIANT", "COMPLIANT"),
        ([("tcp", 20, 25, "0.0.0.0/0")], "NON_COMPLIANT", "NON_COMPLIANT"),
        ([("-1", -1, -1, "0.0.0.0/0")], "NON_COMPLIANT", "NON_COMPLIANT"),
        ([("tcp", 22, 22, "::/0")], "NON_COMPLIANT", "COMPLIANT"),  # restricted-common-ports is IPv4 only
        ([("tcp", 3306, 3306, "0.0.0.0/0")], "COMPLIANT", "NON_COMPLIANT"),
    ],
)
def test_ports_open_to_the_internet(permissions: list[tuple[str, int, int, str]], ssh: str, common: str) -> None:
    assert _verdict("INCOMING_SSH_DISABLED", _group(*permissions)) == ssh
    assert _verdict("RESTRICTED_INCOMING_TRAFFIC", _group(*permissions)) == common


def test_blocked_ports_come_from_the_parameters() -> None:
    item = _group(("tcp", 8080, 8080, "0.0.0.0/0"))
    assert _verdict("RESTRICTED_INCOMING_TRAFFIC", item) == "COMPLIANT"
    assert _verdict("RESTRICTED_INCOMING_TRAFFIC", item, blockedPort1="8080") == "NON_COMPLIANT"


def test_scope_narrows_by_type_id_and_tag() -> None:
    def rule(scope: Scope) -> MemberRule:
        spec = PackRule("p", "r", "AWS", "S3_BUCKET_VERSIONING_ENABLED", scope=scope)
        return MemberRule("210987654321", "us-east-1", "r-conformance-pack-x", "OrgConformsPack-p-x", "a", spec, 0.0)

    assert rule(Scope(("AWS::S3::Bucket",))).in_scope("AWS::S3::Bucket", "b", {})
    assert not rule(Scope(("AWS::EC2::Volume",))).in_scope("AWS::S3::Bucket", "b", {})
    assert not rule(Scope(resource_id="other")).in_scope("AWS::S3::Bucket", "b", {})
    assert rule(Scope(tag_key="env")).in_scope("AWS::S3::Bucket", "b", {"env": "prod"})
    assert not rule(Scope(tag_key="env", tag_value="dev")).in_scope("AWS::S3::Bucket", "b", {"env": "prod"})
    assert not rule(Scope(tag_key="env")).in_scope("AWS::S3::Bucket", "b", {})


def test_pack_parameters_resolve_from_the_pack_then_the_default() -> None:
    body = """
Parameters:
  MaxAge: {Type: String, Default: "90"}
  Other: {Type: String, Default: "x"}
Resources:
  Keys:
    Type: AWS::Config::ConfigRule
    Properties:
      ConfigRuleName: access-keys-rotated
      InputParameters: {maxAccessKeyAge: !Ref MaxAge, literal: 7}
      Source: {Owner: AWS, SourceIdentifier: ACCESS_KEYS_ROTATED}
      MaximumExecutionFrequency: One_Hour
"""
    [default] = pack_rules("p", body)
    assert default.parameters == {"maxAccessKeyAge": "90", "literal": "7"}
    assert default.frequency == "One_Hour" and default.scope == Scope()
    [given] = pack_rules("p", body, [{"ParameterName": "MaxAge", "ParameterValue": "30"}])
    assert given.parameters["maxAccessKeyAge"] == "30"
    assert pack_rules("p", "not: [a template") == []


def test_every_emulated_rule_is_in_the_documented_table() -> None:
    from tests.conftest import REPO_ROOT

    documented = (REPO_ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
    assert all(f"| `{identifier}` |" in documented for identifier in MANAGED_RULES)
    assert len(MANAGED_RULES) >= 14


@pytest.mark.parametrize(
    ("group", "recorded"),
    [
        ({"allSupported": True, "includeGlobalResourceTypes": True}, {"AWS::IAM::User", "AWS::S3::Bucket"}),
        ({"allSupported": True, "includeGlobalResourceTypes": False}, {"AWS::S3::Bucket"}),
        (
            {"allSupported": False, "resourceTypes": ["AWS::S3::Bucket"],
             "recordingStrategy": {"useOnly": "INCLUSION_BY_RESOURCE_TYPES"}},
            {"AWS::S3::Bucket"},
        ),
        (
            {"allSupported": False, "exclusionByResourceTypes": {"resourceTypes": ["AWS::S3::Bucket"]},
             "recordingStrategy": {"useOnly": "EXCLUSION_BY_RESOURCE_TYPES"}},
            {"AWS::IAM::User"},
        ),
    ],
)  # fmt: skip
def test_recording_follows_the_recorders_group(group: dict[str, Any], recorded: set[str]) -> None:
    from moto.config.models import config_backends

    from orgdeploy.sandbox.compliance.recorded import RESOURCE_COMPLIANCE, recorded_types

    account = "210987654321"
    backend = config_backends[account]["eu-west-1"]
    backend.recorders.clear()
    assert recorded_types(account, "eu-west-1") == frozenset()
    backend.put_configuration_recorder(
        {"name": "r", "roleARN": f"arn:aws:iam::{account}:role/r", "recordingGroup": group}
    )
    assert recorded_types(account, "eu-west-1") == frozenset(), "a recorder records only once started"
    backend.recorders["r"].status.recording = True
    found = recorded_types(account, "eu-west-1")
    assert {kind for kind in found if kind in {"AWS::IAM::User", "AWS::S3::Bucket"}} == recorded
    assert (RESOURCE_COMPLIANCE in found) == (
        group.get("recordingStrategy", {}).get("useOnly") != "INCLUSION_BY_RESOURCE_TYPES"
    )
    backend.recorders.clear()
