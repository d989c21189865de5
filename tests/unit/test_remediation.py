"""Remediations in the rendered packs, the role's policy, and the timeline's join (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from orgdeploy.errors import ConfigError, TemplateError
from orgdeploy.reporting.events import TimelineQuery, build_timeline
from orgdeploy.reporting.remediation_story import ExecutionDetail, join_remediations
from orgdeploy.templates.pack_remediation import ACCOUNT_MARKER, PARTITION_MARKER, for_fn_sub, remediated_rules
from orgdeploy.templates.remediation_role import permissions_policy
from orgdeploy.templates.render import render_all
from tests.helpers import make_config

RULE = {"rule": "s3-bucket-public-read-prohibited", "document": "AWS-DisableS3BucketPublicReadWrite"}


def _pack(rendered: object) -> dict[str, object]:
    body = next(b for b in rendered.pack_bodies if b.pack == "baseline").body  # type: ignore[attr-defined]
    return yaml.safe_load(body)["Resources"]


def test_a_configured_rule_gets_its_remediation_run_as_orgdeploys_role(tmp_path: Path) -> None:
    config = make_config(
        tmp_path, remediation={"role_name": "secops-fixer", "rules": [{**RULE, "maximum_automatic_attempts": 3}]}
    )
    rendered = render_all(config)
    remediation = next(r for r in _pack(rendered).values() if r["Type"] == "AWS::Config::RemediationConfiguration")
    properties = remediation["Properties"]
    assert properties["ConfigRuleName"] == "s3-bucket-public-read-prohibited"
    assert properties["Parameters"] == {
        "AutomationAssumeRole": {
            "StaticValue": {"Values": [f"arn:{PARTITION_MARKER}:iam::{ACCOUNT_MARKER}:role/secops-fixer"]}
        },
        "S3BucketName": {"ResourceValue": {"Value": "RESOURCE_ID"}},
    }
    assert (properties["Automatic"], properties["MaximumAutomaticAttempts"], properties["RetryAttemptSeconds"]) == (
        True,
        3,
        60,
    )
    # The pack stack puts its own partition and account in, keeping the body's other ${...} literal.
    stack = rendered.get("pack:baseline").body  # type: ignore[union-attr]
    assert "TemplateBody: !Sub " in stack and "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/secops-fixer" in stack
    assert for_fn_sub("${Keep} x") == "${!Keep} x"
    role = rendered.get("remediation-role")
    assert role.placements[0].name == "orgdeploy-remediation-role"
    assert remediated_rules(next(b.body for b in rendered.pack_bodies)) == {
        "s3-bucket-public-read-prohibited": RULE["document"]
    }


def test_notify_mode_makes_every_remediation_manual(tmp_path: Path) -> None:
    config = make_config(tmp_path, remediation={"mode": "notify", "rules": [RULE]})
    remediation = next(
        r for r in _pack(render_all(config)).values() if r["Type"] == "AWS::Config::RemediationConfiguration"
    )
    assert remediation["Properties"]["Automatic"] is False


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([{**RULE, "rule": "no-such-rule"}], "no conformance pack orgdeploy deploys has a rule 'no-such-rule'"),
    ],
)
def test_a_rule_no_pack_holds_is_refused(tmp_path: Path, rules: list[dict[str, object]], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        render_all(make_config(tmp_path, remediation={"rules": rules}))


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({**RULE, "document": "AWS-DoSomething"}, "not a document orgdeploy knows the permissions of"),
        ({**RULE, "parameters": {"BucketName": "RESOURCE_ID"}}, "has no parameter 'BucketName'"),
        ({**RULE, "parameters": {"AutomationAssumeRole": "x"}}, "has no parameter|leave it out"),
        ({**RULE, "document": "AWS-ConfigureS3BucketLogging"}, "needs parameter"),
        ({**RULE, "maximum_automatic_attempts": 26}, "less than or equal to 25"),
    ],
)
def test_bad_remediation_settings_name_the_key(tmp_path: Path, rule: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make_config(tmp_path, remediation={"rules": [rule]})


def test_exceptions_and_excluded_regions_are_denies_in_the_role(tmp_path: Path) -> None:
    config = make_config(
        tmp_path,
        remediation={
            "rules": [{**RULE, "exclude_regions": ["eu-west-1"]}],
            "exceptions": [
                {"rule": RULE["rule"], "resource_id": "website", "reason": "public on purpose", "expires": "2027-06-30"}
            ],
        },
    )
    statements = {s["Sid"]: s for s in permissions_policy(config, (RULE["document"],))["Statement"]}
    assert statements["Run1"]["Action"] == ["s3:PutBucketPublicAccessBlock"]
    assert statements["ExcludedRegions1"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": ["eu-west-1"]}}
    exception = statements["Exception1"]
    assert exception["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:s3:::website"}]
    assert exception["Condition"] == {"DateLessThan": {"aws:CurrentTime": "2027-06-30T00:00:00Z"}}


def test_a_remediation_is_joined_to_its_rule_resource_and_outcome() -> None:
    def event(when: int, body: dict[str, object]) -> tuple[int, str]:
        moment = datetime.fromtimestamp(when, UTC).isoformat()
        envelope = {"time": moment, "account": "300000000001", "region": "eu-west-1", "id": f"e{when}"}
        return when * 1000, json.dumps({**envelope, **body})

    def change(when: int, rule: str, old: str, new: str) -> tuple[int, str]:
        detail = {"configRuleName": f"{rule}-conformance-pack-abcdefghi", "resourceType": "AWS::S3::Bucket",
                  "resourceId": "app-logs-x", "awsAccountId": "300000000001", "awsRegion": "eu-west-1",
                  "newEvaluationResult": {"complianceType": new}}  # fmt: skip
        if old:
            detail["oldEvaluationResult"] = {"complianceType": old}
        return event(when, {"detail-type": "Config Rules Compliance Change", "detail": detail})

    automation = {"ExecutionId": "x-1", "Definition": RULE["document"], "Status": "Success"}
    ran = event(
        1_764_672_120, {"detail-type": "EC2 Automation Execution Status-change Notification", "detail": automation}
    )
    records = [
        change(1_764_672_000, "s3-bucket-ssl-requests-only", "", "NON_COMPLIANT"),
        change(1_764_672_060, RULE["rule"], "", "NON_COMPLIANT"),
        ran,
        change(1_764_672_300, RULE["rule"], "NON_COMPLIANT", "COMPLIANT"),
    ]
    timeline = build_timeline(records, TimelineQuery(), start=datetime(2025, 1, 1, tzinfo=UTC),
                              end=datetime(2026, 12, 31, tzinfo=UTC), log_group="g", hub="h")  # fmt: skip
    detail = ExecutionDetail(RULE["document"], {"S3BucketName": ["app-logs-x"], "AutomationAssumeRole": ["arn"]})
    from orgdeploy.config.model import Remediation

    joined = join_remediations(
        timeline,
        {"x-1": detail},
        rules_by_document={RULE["document"]: [RULE["rule"]]},
        remediated={RULE["rule"]: RULE["document"]},
        settings=Remediation(),
        labels={"300000000001": "prod-1 (Workloads/Prod)"},
    )
    [fixed] = [e for e in joined.events if e.kind == "remediation"]
    assert (fixed.rule, fixed.resource_id, fixed.after) == (RULE["rule"], "app-logs-x", "COMPLIANT")
    assert fixed.message == (
        "prod-1 (Workloads/Prod), eu-west-1: bucket `app-logs-x` was NON_COMPLIANT with "
        "s3-bucket-public-read-prohibited; AWS-DisableS3BucketPublicReadWrite ran at 10:42 and succeeded; "
        "now COMPLIANT."
    )
