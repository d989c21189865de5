"""Rule and pack names as member accounts show them, normalised to the names to group on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orgdeploy.reporting.compliance import RowFilter, check_glob
from orgdeploy.reporting.rule_names import (
    PackIndex,
    normalise_pack_name,
    normalise_rule_name,
    pack_index,
    parse_rule_name,
    rules_in_pack_body,
)
from tests.conftest import REPO_ROOT

RULE_NAMES = [
    # (raw name in a member account, common name, origin)
    ("restricted-ssh-conformance-pack-7w6d8cpan", "restricted-ssh", "conformance-pack"),
    ("s3-bucket-ssl-requests-only-conformance-pack-0jtnksm6a", "s3-bucket-ssl-requests-only", "conformance-pack"),
    ("OrgConfigRule-s3-bucket-versioning-enabled-dbgzf8ba", "s3-bucket-versioning-enabled", "organization-rule"),
    ("OrgConfigRule-ec2-ebs-encryption-by-default-x1y2z3w4", "ec2-ebs-encryption-by-default", "organization-rule"),
    # Names made by hand or by other services are already common names.
    ("restricted-ssh", "restricted-ssh", "account"),
    ("AWSControlTower_AWS-GR_ENCRYPTED_VOLUMES", "AWSControlTower_AWS-GR_ENCRYPTED_VOLUMES", "account"),
    (
        "securityhub-s3-bucket-public-read-prohibited-a1b2c3",
        "securityhub-s3-bucket-public-read-prohibited-a1b2c3",
        "account",
    ),
    # Near misses stay as they are: the suffix has a fixed length and alphabet.
    ("restricted-ssh-conformance-pack-7w6d8cpa", "restricted-ssh-conformance-pack-7w6d8cpa", "account"),
    ("restricted-ssh-conformance-pack-7W6D8CPAN", "restricted-ssh-conformance-pack-7W6D8CPAN", "account"),
    ("conformance-pack-7w6d8cpan", "conformance-pack-7w6d8cpan", "account"),
    ("OrgConfigRule-s3-bucket-versioning-enabled", "OrgConfigRule-s3-bucket-versioning-enabled", "account"),
    (
        "OrgConfigRule-s3-bucket-versioning-enabled-dbgzf8b",
        "OrgConfigRule-s3-bucket-versioning-enabled-dbgzf8b",
        "account",
    ),
    # Only the last suffix goes.
    ("a-conformance-pack-abcdefghi-conformance-pack-7w6d8cpan", "a-conformance-pack-abcdefghi", "conformance-pack"),
]


@pytest.mark.parametrize(("raw", "common", "origin"), RULE_NAMES)
def test_rule_names_normalise_to_their_common_name(raw: str, common: str, origin: str) -> None:
    assert normalise_rule_name(raw) == common
    assert parse_rule_name(raw).origin == origin


@pytest.mark.parametrize(
    ("raw", "pack"),
    [
        ("OrgConformsPack-orgdeploy-baseline-a1b2c3d4", "orgdeploy-baseline"),
        ("OrgConformsPack-Operational-Best-Practices-for-CIS-ab12cd34", "Operational-Best-Practices-for-CIS"),
        ("my-account-pack", "my-account-pack"),
        ("OrgConformsPack-security", "OrgConformsPack-security"),
    ],
)
def test_pack_names_normalise(raw: str, pack: str) -> None:
    assert normalise_pack_name(raw) == pack


def test_the_shipped_pack_lists_its_rules() -> None:
    body = (REPO_ROOT / "cfn" / "packs" / "baseline.yaml").read_text(encoding="utf-8")
    assert rules_in_pack_body(body) == (
        "root-account-mfa-enabled",
        "access-keys-rotated",
        "s3-bucket-public-read-prohibited",
        "s3-bucket-ssl-requests-only",
        "encrypted-volumes",
        "restricted-ssh",
        "cloudtrail-enabled",
    )


def test_pack_bodies_in_json_with_tags_and_broken() -> None:
    json_body = '{"Resources": {"A": {"Type": "AWS::Config::ConfigRule", "Properties": {"ConfigRuleName": "a-rule"}}}}'
    tagged = """
Resources:
  Named: {Type: AWS::Config::ConfigRule, Properties: {ConfigRuleName: !Sub "${Prefix}-rule"}}
  Plain: {Type: AWS::Config::ConfigRule, Properties: {ConfigRuleName: plain-rule, InputParameters: {a: !Ref B}}}
  Remediation: {Type: AWS::Config::RemediationConfiguration, Properties: {ConfigRuleName: plain-rule}}
"""
    assert rules_in_pack_body(json_body) == ("a-rule",)
    assert rules_in_pack_body(tagged) == ("plain-rule",)
    assert rules_in_pack_body("Resources: [unclosed") == ()
    assert rules_in_pack_body("just text") == ()


def test_pack_index_maps_pack_rules_only() -> None:
    index = pack_index([("orgdeploy-baseline", "Resources: {R: {Type: AWS::Config::ConfigRule, Properties: "
                                                "{ConfigRuleName: restricted-ssh}}}"),
                        ("security", "Resources: {R: {Type: AWS::Config::ConfigRule, Properties: "
                                     "{ConfigRuleName: restricted-ssh}}}")])  # fmt: skip
    assert index.pack_of("restricted-ssh-conformance-pack-7w6d8cpan") == "orgdeploy-baseline, security"
    # Same common name, but not deployed by a pack: no pack.
    assert index.pack_of("restricted-ssh") is None
    assert index.pack_of("OrgConfigRule-restricted-ssh-dbgzf8ba") is None
    assert PackIndex().pack_of("restricted-ssh-conformance-pack-7w6d8cpan") is None


def test_every_rule_of_the_real_packs_survives_the_round_trip(shared_packs: list[Path]) -> None:
    names = [name for path in shared_packs for name in rules_in_pack_body(path.read_text(encoding="utf-8"))]
    assert len(names) > 100
    for name in names:
        assert normalise_rule_name(f"{name}-conformance-pack-7w6d8cpan") == name
        assert normalise_rule_name(f"OrgConfigRule-{name}-dbgzf8ba") == name
        assert normalise_rule_name(name) == name


@pytest.mark.parametrize("glob", ["restricted-*", "s3-bucket-?sl*", "*[!a-z]", "OrgConfigRule-*", "iam_[a-c]*"])
def test_good_globs(glob: str) -> None:
    assert check_glob(glob) == glob


@pytest.mark.parametrize(
    ("glob", "why"),
    [
        ("[abc", "never closed"),
        ("abc]", "without '['"),
        ("a[]b", "empty"),
        ("a[[b]]", "inside"),
        ("", "empty pattern"),
        ("rule name", "' '"),
        ("rule'", '"\'"'),
    ],
)
def test_bad_globs(glob: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        check_glob(glob)


def test_a_glob_matches_the_common_or_the_raw_name() -> None:
    where = RowFilter(rules=("restricted-*",))
    assert where.rule_matches("restricted-ssh-conformance-pack-7w6d8cpan")
    assert not where.rule_matches("encrypted-volumes-conformance-pack-7w6d8cpan")
    assert RowFilter(rules=("OrgConfigRule-*",)).rule_matches("OrgConfigRule-s3-bucket-versioning-enabled-dbgzf8ba")
    # The suffix alone is not a rule name: no glob on the common name reaches it.
    assert not RowFilter(rules=("*7w6d8cpan",)).rule_matches("restricted-ssh")
