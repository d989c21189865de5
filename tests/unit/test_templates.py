"""Rendered templates: structure per Region, security properties, and injection safety."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orgdeploy.config.awsdata import GLOBAL_IAM_RESOURCE_TYPES
from orgdeploy.templates.recording import recording_group, recording_mode
from orgdeploy.templates.render import TEMPLATE_BODY_LIMIT_BYTES, render_all
from tests.helpers import decode_template, make_config


def _branches(value: dict[str, Any]) -> tuple[Any, Any]:
    """The (home, other) branches of an Fn::If on IsHomeRegion."""
    condition, home, other = value["Fn::If"]
    assert condition == "IsHomeRegion"
    return home, other


def test_service_linked_role_goes_to_home_region_only(tmp_path: Path) -> None:
    config = make_config(tmp_path, regions=["us-east-1", "eu-west-1", "ap-southeast-2"])
    role = render_all(config).get("service-linked-role")
    assert {p.regions for p in role.placements} == {("us-east-1",)}
    resources = decode_template(role.body)["Resources"]
    assert [r["Type"] for r in resources.values()] == ["AWS::IAM::ServiceLinkedRole"]
    recorder = render_all(config).get("recorder")
    assert "AWS::IAM::ServiceLinkedRole" not in recorder.body


@pytest.mark.parametrize("strategy", ["all", "include", "exclude"])
def test_global_types_are_recorded_in_home_region_only(tmp_path: Path, strategy: str) -> None:
    types = [] if strategy == "all" else ["AWS::EC2::Instance", "AWS::IAM::Role"]
    config = make_config(tmp_path, recording={"strategy": strategy, "resource_types": types})
    template = decode_template(render_all(config).get("recorder").body)
    assert template["Conditions"]["IsHomeRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    home, other = _branches(template["Resources"]["ConfigurationRecorder"]["Properties"]["RecordingGroup"])
    if strategy == "all":
        assert home["IncludeGlobalResourceTypes"] is True
        assert other["IncludeGlobalResourceTypes"] is False
    elif strategy == "include":
        assert "AWS::IAM::Role" in home["ResourceTypes"]
        assert other["ResourceTypes"] == ["AWS::EC2::Instance"]
    else:
        assert home["ExclusionByResourceTypes"]["ResourceTypes"] == types
        excluded_elsewhere = other["ExclusionByResourceTypes"]["ResourceTypes"]
        assert set(GLOBAL_IAM_RESOURCE_TYPES) <= set(excluded_elsewhere)
        assert "AWS::EC2::Instance" in excluded_elsewhere


def test_override_drops_global_types_outside_home(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        recording={
            "frequency": "daily",
            "overrides": [{"resource_types": ["AWS::IAM::Role"], "frequency": "continuous"}],
        },
    )
    home = recording_mode(config.recording, home=True)
    other = recording_mode(config.recording, home=False)
    assert home["RecordingFrequency"] == "DAILY"
    assert home["RecordingModeOverrides"][0]["ResourceTypes"] == ["AWS::IAM::Role"]
    assert "RecordingModeOverrides" not in other


def test_include_strategy_group_shape(tmp_path: Path) -> None:
    config = make_config(tmp_path, recording={"strategy": "include", "resource_types": ["AWS::S3::Bucket"]})
    group = recording_group(config.recording, home=False)
    assert group["RecordingStrategy"] == {"UseOnly": "INCLUSION_BY_RESOURCE_TYPES"}
    assert group["AllSupported"] is False


def test_delivery_bucket_is_encrypted_private_and_tls_only(tmp_path: Path) -> None:
    kms = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    for delivery, algorithm in (({}, "AES256"), ({"kms_key_arn": kms}, "aws:kms")):
        config = make_config(tmp_path, delivery=delivery)
        resources = decode_template(render_all(config).get("delivery-bucket").body)["Resources"]
        bucket = resources["DeliveryBucket"]["Properties"]
        rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == algorithm
        assert all(bucket["PublicAccessBlockConfiguration"].values())
        statements = resources["DeliveryBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        deny = [s for s in statements if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for allow in (s for s in statements if s["Effect"] == "Allow"):
            if allow["Sid"] == "PackBodiesReadByTheirDeployer":
                # Only the pack deployer's account, only GetObject, only under the pack prefix.
                assert allow["Principal"] == {
                    "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${PackReaderAccountId}:root"}
                }
                assert allow["Action"] == "s3:GetObject"
                assert allow["Resource"] == {"Fn::Sub": "${DeliveryBucket.Arn}/orgdeploy/conformance-packs/*"}
                continue
            assert allow["Principal"] == {"Service": "config.amazonaws.com"}
            assert allow["Condition"]["StringEquals"]["aws:SourceOrgID"] == {"Ref": "OrganizationId"}


def test_conformance_pack_bucket_has_required_prefix_and_policy(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    template = decode_template(render_all(config).get("pack:baseline").body)
    bucket = template["Resources"]["ConformsBucket"]["Properties"]
    assert bucket["BucketName"]["Fn::Sub"].startswith("awsconfigconforms-")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    pack = template["Resources"]["OrganizationConformancePack"]["Properties"]
    assert pack["DeliveryS3Bucket"] == {"Ref": "ConformsBucket"}
    assert "Resources" in pack["TemplateBody"]


def test_configured_pack_bucket_is_used_instead_of_a_new_one(tmp_path: Path) -> None:
    packs = [{"name": "baseline", "template": "packs/baseline.yaml", "delivery_bucket": "awsconfigconforms-shared"}]
    template = decode_template(render_all(make_config(tmp_path, conformance_packs=packs)).get("pack:baseline").body)
    assert "ConformsBucket" not in template["Resources"]
    props = template["Resources"]["OrganizationConformancePack"]["Properties"]
    assert props["DeliveryS3Bucket"] == "awsconfigconforms-shared"


def test_large_pack_goes_by_s3(tmp_path: Path) -> None:
    make_config(tmp_path)
    big = tmp_path / "packs" / "big.yaml"
    base = (tmp_path / "packs" / "baseline.yaml").read_text(encoding="utf-8")
    big.write_text(base + "#" + "x" * TEMPLATE_BODY_LIMIT_BYTES + "\n", encoding="utf-8")
    small = tmp_path / "packs" / "small.yaml"
    small.write_text(base, encoding="utf-8")
    packs = [{"name": "big", "template": "packs/big.yaml"}, {"name": "small", "template": "packs/small.yaml"}]
    rendered = render_all(make_config(tmp_path, conformance_packs=packs))
    big_props = decode_template(rendered.get("pack:big").body)["Resources"]["OrganizationConformancePack"]["Properties"]
    assert "TemplateBody" not in big_props
    assert big_props["TemplateS3Uri"]["Fn::Sub"].startswith(
        "s3://${ArtifactBucketName}/orgdeploy/conformance-packs/big-"
    )
    small_props = decode_template(rendered.get("pack:small").body)["Resources"]["OrganizationConformancePack"]
    assert "TemplateBody" in small_props["Properties"]
    manifest = {b["pack"]: b for b in rendered.manifest()["conformance_pack_bodies"]}
    assert manifest["big"]["delivery"] == "s3" and manifest["small"]["delivery"] == "inline"


def test_the_limit_applies_to_the_stack_template_as_sent_not_to_the_pack_body(tmp_path: Path) -> None:
    # A 47 KB pack fits inline by itself; escaped into the stack template it is over 51,200 bytes.
    make_config(tmp_path)
    base = (tmp_path / "packs" / "baseline.yaml").read_text(encoding="utf-8")
    lines = "".join(f'# "note" {n:05d}\n' for n in range(4_000))
    body = (base + lines)[:47_000]
    (tmp_path / "packs" / "near.yaml").write_text(body, encoding="utf-8")
    assert len(body.encode()) < TEMPLATE_BODY_LIMIT_BYTES
    packs = [{"name": "near", "template": "packs/near.yaml"}]
    rendered = render_all(make_config(tmp_path, conformance_packs=packs))

    props = decode_template(rendered.get("pack:near").body)["Resources"]["OrganizationConformancePack"]["Properties"]
    assert "TemplateBody" not in props and "TemplateS3Uri" in props
    assert all(t.size <= TEMPLATE_BODY_LIMIT_BYTES for t in rendered.templates)


HOSTILE = [
    'x"\nResources: {Evil: {Type: "AWS::IAM::User"}}',
    "!Ref AWS::AccountId",
    "{{ 7 * 7 }}",
    "a'b\"c\\d",
    "line1\r\nline2\u2028line3",
    "${AWS::AccountId}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_cannot_change_template_structure(tmp_path: Path, value: str) -> None:
    """Values reach templates as quoted scalars only; the structure stays what we wrote."""
    pack_file = tmp_path / "packs" / "baseline.yaml"
    make_config(tmp_path)
    config = make_config(
        tmp_path,
        conformance_packs=[
            {"name": "baseline", "template": "packs/baseline.yaml", "parameters": {"MaxAccessKeyAgeDays": value}}
        ],
    )
    pack_file.write_text(pack_file.read_text(encoding="utf-8") + f"# {json.dumps(value)}\n", encoding="utf-8")
    rendered = render_all(config)
    template = decode_template(rendered.get("pack:baseline").body)
    assert set(template["Resources"]) == {"ConformsBucket", "ConformsBucketPolicy", "OrganizationConformancePack"}
    props = template["Resources"]["OrganizationConformancePack"]["Properties"]
    assert props["ConformancePackInputParameters"] == [
        {"ParameterName": "MaxAccessKeyAgeDays", "ParameterValue": value}
    ]
    assert props["TemplateBody"] == pack_file.read_text(encoding="utf-8")


def test_hostile_values_in_jinja_pack_body(tmp_path: Path) -> None:
    make_config(tmp_path)
    pack = tmp_path / "packs" / "custom.yaml.j2"
    pack.write_text(
        "Resources:\n  Rule:\n    Type: AWS::Config::ConfigRule\n    Properties:\n"
        "      ConfigRuleName: {{ parameters.RuleName }}\n"
        "      Source: {Owner: AWS, SourceIdentifier: S3_BUCKET_VERSIONING_ENABLED}\n",
        encoding="utf-8",
    )
    hostile = 'x"\n  Evil: {Type: "AWS::IAM::User"}'
    config = make_config(
        tmp_path, conformance_packs=[{"name": "custom", "template": str(pack), "parameters": {"RuleName": hostile}}]
    )
    body = render_all(config).pack_bodies[0].body
    template = decode_template(body)
    assert list(template["Resources"]) == ["Rule"]
    assert template["Resources"]["Rule"]["Properties"]["ConfigRuleName"] == hostile


def test_jinja_pack_with_undefined_variable_names_the_template(tmp_path: Path) -> None:
    from orgdeploy.errors import TemplateError

    make_config(tmp_path)
    pack = tmp_path / "packs" / "broken.yaml.j2"
    pack.write_text("Resources: {{ nope }}\n", encoding="utf-8")
    config = make_config(tmp_path, conformance_packs=[{"name": "broken", "template": str(pack)}])
    with pytest.raises(TemplateError, match=r"broken.yaml.j2.*'nope' is undefined"):
        render_all(config)


def test_manifest_names_every_template_and_hash(tmp_path: Path) -> None:
    import hashlib

    rendered = render_all(make_config(tmp_path))
    manifest = rendered.manifest()
    files = [t["file"] for t in manifest["templates"]]
    assert files == [
        "delivery-bucket.yaml",
        "service-linked-role.yaml",
        "recorder.yaml",
        "aggregator.yaml",
        "conformance-pack-baseline.yaml",
    ]
    for entry, template in zip(manifest["templates"], rendered.templates, strict=True):
        assert entry["sha256"] == hashlib.sha256(template.body.encode()).hexdigest()
    recorder = manifest["templates"][2]["deploy_as"]
    assert {
        "kind": "stack_set",
        "name": "orgdeploy-recorder",
        "accounts": "members",
        "regions": ["us-east-1", "eu-west-1"],
    } in recorder
    assert any(p["kind"] == "stack" and p["accounts"] == "management" for p in recorder)


def test_management_account_can_be_left_out(tmp_path: Path) -> None:
    rendered = render_all(make_config(tmp_path, management_account={"deploy": False}))
    for key in ("recorder", "service-linked-role"):
        assert [p.accounts for p in rendered.get(key).placements] == ["members"]
