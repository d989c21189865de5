"""Notifications: config checks, the rendered hub and forwarder templates, and the planner's notifications stage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from orgdeploy.config.model import Config
from orgdeploy.errors import BadInputError, ConfigError
from orgdeploy.planning.inventory import Account, Inventory, StackState
from orgdeploy.planning.plan import Plan
from orgdeploy.planning.planner import PlanOptions, plan
from orgdeploy.templates.render import RenderedSet, render_all
from tests.helpers import decode_template, make_config
from tests.unit.test_planner import AUDIT, GONE, HOME, MGMT, OTHER, PROD1, _apply, ancestors, inventory, with_facts

SET, HUB = "orgdeploy-notifications", "orgdeploy-notifications-hub"
TOPIC = f"arn:aws:sns:{HOME}:{AUDIT}:existing-alerts"


def notified(tmp_path: Path, management_account: dict[str, Any] | None = None, **settings: Any) -> Config:
    extra = {"management_account": management_account} if management_account else {}
    settings = {"hub_account": AUDIT, "emails": ["secops@example.com"], **settings}
    return make_config(tmp_path, notifications=settings, **extra)


def resources(rendered: RenderedSet, key: str) -> dict[str, Any]:
    template: dict[str, Any] = decode_template(rendered.get(key).body)
    return dict(template["Resources"])


# -- config --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"emails": ["secops@example.com", "not-an-email"]}, "notifications.emails[1]: expected an email address"),
        ({"emails": ["a@b.co\nEvil: x"]}, "notifications.emails[0]: expected an email address"),
        ({"hub_account": "40752275868"}, "notifications.hub_account: expected a 12-digit account id"),
        ({"events": []}, "notifications.events: List should have at least 1 item"),
        ({"events": ["compliance_change", "drift"]}, "notifications.events[1]: expected one of"),
        ({"retention_days": 45}, "notifications.retention_days: CloudWatch Logs keeps events for one of 1, 3, 5"),
        ({"sns_topic_arn": f"arn:aws:sns:{OTHER}:{AUDIT}:alerts"}, "must be a topic in notifications.hub_account"),
        ({"surprise": 1}, "notifications.surprise: unknown key"),
    ],
)
def test_bad_notification_settings_name_the_key(tmp_path: Path, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        notified(tmp_path, **settings)
    assert caught.value.exit_code == 2


def test_a_malformed_email_exits_2_from_the_cli(cli: Any, example_dir: Path) -> None:
    config = example_dir / "orgdeploy.yaml"
    config.write_text(config.read_text() + "notifications:\n  hub_account: '407522758688'\n  emails: [ops@example]\n")
    result = cli("render", "-c", str(config), "--out", str(example_dir / "out"))
    assert result.exit_code == 2
    assert "notifications.emails[0]: expected an email address" in result.stderr


def test_notifications_absent_means_off(tmp_path: Path) -> None:
    rendered = render_all(make_config(tmp_path))
    assert not [t for t in rendered.templates if t.key.startswith("notifications")]


# -- templates -----------------------------------------------------------------------------------------------


def test_placements_parameters_and_capabilities(tmp_path: Path) -> None:
    rendered = render_all(notified(tmp_path))
    hub, forwarder = rendered.get("notifications-hub"), rendered.get("notifications-forwarder")
    assert [p.to_dict() for p in hub.placements] == [
        {"kind": "stack", "name": HUB, "accounts": "hub_account", "regions": [HOME]}
    ]
    assert [(p.kind, p.name, p.accounts, p.regions) for p in forwarder.placements] == [
        ("stack_set", SET, "members", (HOME, OTHER)),
        ("stack", SET, "management", (HOME, OTHER)),
    ]
    assert (hub.parameters, forwarder.parameters) == (("OrganizationId",), ("HubAccountId", "HubRegion"))
    assert forwarder.capabilities == ("CAPABILITY_NAMED_IAM",)
    names = [t["file"] for t in rendered.manifest()["templates"]]
    assert names[-2:] == ["notifications-hub.yaml", "notifications-forwarder.yaml"]


def test_forwarder_role_lives_in_the_home_region_and_may_only_put_events_on_the_hub_bus(tmp_path: Path) -> None:
    template = decode_template(render_all(notified(tmp_path)).get("notifications-forwarder").body)
    assert template["Conditions"]["IsHomeRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, HOME]}
    role = template["Resources"]["ForwarderRole"]
    assert role["Condition"] == "IsHomeRegion"
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    [policy] = role["Properties"]["Policies"]
    [allow] = policy["PolicyDocument"]["Statement"]
    bus = "arn:${AWS::Partition}:events:${HubRegion}:${HubAccountId}:event-bus/orgdeploy-notifications"
    assert (allow["Action"], allow["Resource"]) == ("events:PutEvents", {"Fn::Sub": bus})
    for name in ("ComplianceChangeForwardRule", "RemediationForwardRule"):
        [target] = template["Resources"][name]["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::Sub": bus}
        home, other = target["RoleArn"]["Fn::If"][1:]
        assert home == {"Fn::GetAtt": ["ForwarderRole", "Arn"]}
        role_arn = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/orgdeploy-notifications-forwarder"
        assert other == {"Fn::Sub": role_arn}


def test_forwarders_match_configs_compliance_changes_and_its_remediation_runs(tmp_path: Path) -> None:
    rules = resources(render_all(notified(tmp_path)), "notifications-forwarder")
    compliance = rules["ComplianceChangeForwardRule"]["Properties"]["EventPattern"]
    assert compliance == {"source": ["aws.config"], "detail-type": ["Config Rules Compliance Change"]}
    remediation = rules["RemediationForwardRule"]["Properties"]["EventPattern"]
    assert remediation["source"] == ["aws.ssm"]
    assert remediation["detail-type"] == ["EC2 Automation Execution Status-change Notification"]
    assert remediation["detail"]["ExecutedBy"] == [{"wildcard": "*AWSServiceRoleForConfigRemediation*"}]


def test_hub_is_open_to_the_organization_only_and_encrypts_its_topic(tmp_path: Path) -> None:
    hub = resources(render_all(notified(tmp_path, retention_days=365)), "notifications-hub")
    statement = hub["HubBusPolicy"]["Properties"]["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}}
    assert statement["Action"] == "events:PutEvents"
    assert hub["Topic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    assert hub["TopicKey"]["Properties"]["EnableKeyRotation"] is True
    publish, deny = hub["TopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (publish["Principal"], publish["Action"]) == ({"Service": "events.amazonaws.com"}, "sns:Publish")
    assert publish["Condition"]["ArnEquals"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["ComplianceChangeRule", "Arn"]},
        {"Fn::GetAtt": ["RemediationRule", "Arn"]},
        {"Fn::GetAtt": ["TamperRule", "Arn"]},
    ]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    timeline = hub["Timeline"]["Properties"]
    assert timeline == {"LogGroupName": "/aws/events/orgdeploy-notifications", "RetentionInDays": 365}
    streams, writes = json.loads(hub["TimelineWritePolicy"]["Properties"]["PolicyDocument"]["Fn::Sub"])["Statement"]
    # Logs evaluates aws:SourceArn on PutLogEvents only: CreateLogStream stands alone, or no stream is ever made.
    assert (streams["Action"], "Condition" in streams) == ("logs:CreateLogStream", False)
    assert writes["Action"] == "logs:PutLogEvents"
    assert writes["Resource"] == streams["Resource"] == "${Timeline.Arn}"
    rules = writes["Condition"]["ArnEquals"]["aws:SourceArn"]
    assert rules == ["${ComplianceChangeRule.Arn}", "${RemediationRule.Arn}", "${TamperRule.Arn}"]
    assert hub["EmailSubscription1"]["Properties"] == {
        "TopicArn": {"Ref": "Topic"},
        "Protocol": "email",
        "Endpoint": "secops@example.com",
    }


def test_the_email_is_a_sentence_with_the_rule_and_both_compliance_states(tmp_path: Path) -> None:
    hub = resources(render_all(notified(tmp_path)), "notifications-hub")
    [email, timeline] = hub["ComplianceChangeRule"]["Properties"]["Targets"]
    transformer = email["InputTransformer"]
    assert transformer["InputPathsMap"]["rule"] == "$.detail.configRuleName"
    assert transformer["InputTemplate"] == (
        '"AWS Config: <resourceType> <resourceId> in account <account> (<region>) is now <new> for rule <rule>; '
        'it was <old>."'
    )
    assert "InputTransformer" not in timeline, "the timeline keeps the whole event"
    [_, remediation_email] = hub["RemediationRule"]["Properties"]["Targets"][::-1]
    assert "<status>" in remediation_email["InputTransformer"]["InputTemplate"]


def test_an_existing_topic_is_used_as_is_and_events_can_be_narrowed(tmp_path: Path) -> None:
    rendered = render_all(notified(tmp_path, sns_topic_arn=TOPIC, events=["remediation"], emails=[]))
    hub = resources(rendered, "notifications-hub")
    assert {"Topic", "TopicKey", "TopicPolicy", "ComplianceChangeRule", "EmailSubscription1"}.isdisjoint(hub)
    [email, _] = hub["RemediationRule"]["Properties"]["Targets"]
    assert email["Arn"] == TOPIC
    policy = json.loads(hub["TimelineWritePolicy"]["Properties"]["PolicyDocument"]["Fn::Sub"])
    assert policy["Statement"][1]["Condition"]["ArnEquals"]["aws:SourceArn"] == ["${RemediationRule.Arn}"]
    assert set(resources(rendered, "notifications-forwarder")) == {"ForwarderRole", "RemediationForwardRule"}


# -- planning ------------------------------------------------------------------------------------------------


def converged(config: Config, inv: Inventory) -> tuple[Inventory, Plan]:
    rendered = render_all(config)
    first = plan(config, inv, rendered, PlanOptions(enable_trusted_access=True))
    done = _applied(first, inv, rendered)
    assert not plan(config, done, rendered).changes, "the model did not converge"
    return done, first


def _applied(the_plan: Plan, inv: Inventory, rendered: RenderedSet) -> Inventory:
    """test_planner's model of AWS, plus the deletions it does not model."""
    gone_stacks = {(s.target, s.account, s.regions[0]) for s in the_plan.steps if s.action == "delete_stack"}
    gone_sets = {s.target for s in the_plan.steps if s.action == "delete_stack_set"}
    done = _apply(the_plan, inv, rendered)
    return replace(
        done,
        stacks=tuple(s for s in done.stacks if (s.name, s.account, s.region) not in gone_stacks),
        stack_sets=tuple(s for s in done.stack_sets if s.name not in gone_sets),
    )


def test_the_stage_comes_after_every_recorder_and_before_every_pack(tmp_path: Path) -> None:
    config = notified(tmp_path)
    inv, first = converged(config, inventory())
    ids = {s.id for s in first.steps}
    assert {"notifications-hub", f"{SET}-create", "notifications-create-home"} <= ids
    recorders = {s.id for s in first.steps if s.target == "orgdeploy-recorder"}
    for step in ("notifications-hub", "notifications-create-home", "management-notifications-us-east-1"):
        assert recorders <= ancestors(first, step)
    # A pack's first evaluation finds the most: the forwarders are in place before it runs.
    for pack in (s.id for s in first.steps if s.id.startswith("pack-")):
        assert {"notifications-create-home", "management-notifications-eu-west-1"} <= ancestors(first, pack)
    assert "notifications-create-home" in ancestors(first, "notifications-create-regions-eu-west-1")
    assert "management-notifications-us-east-1" in ancestors(first, "management-notifications-eu-west-1")
    hub = first.step("notifications-hub")
    assert (hub.account, hub.regions, dict(hub.parameters)) == (AUDIT, (HOME,), {"OrganizationId": "o-abcdef1234"})
    assert dict(first.step(f"{SET}-create").parameters) == {"HubAccountId": AUDIT, "HubRegion": HOME}
    forwarders = inv.stack_set(SET)
    assert forwarders is not None
    assert {i.account for i in forwarders.instances} == {a.id for a in inv.organization.accounts if a.active} - {MGMT}
    assert SET in first.desired_stack_sets
    assert [u.used for u in first.usage if u.name == SET] == [len(forwarders.instances)]


def test_regions_an_account_has_not_enabled_are_skipped(tmp_path: Path) -> None:
    inv = with_facts(inventory(), PROD1, disabled_regions=(OTHER,))
    the_plan = plan(notified(tmp_path), inv, render_all(notified(tmp_path)), PlanOptions())
    assert ("notifications", PROD1, OTHER) in {(s.what, s.account, s.region) for s in the_plan.skipped}
    create = the_plan.step("notifications-create-regions-eu-west-1")
    assert create.deployment_targets is not None and PROD1 in create.deployment_targets["Accounts"]


@pytest.mark.parametrize(
    ("hub", "message"),
    [
        ("999999999999", "notifications.hub_account 999999999999 is not an account of organization o-abcdef1234"),
        (GONE, f"notifications.hub_account {GONE} (closed) is SUSPENDED"),
    ],
)
def test_a_hub_account_that_cannot_hold_the_hub_is_bad_input(tmp_path: Path, hub: str, message: str) -> None:
    config = notified(tmp_path, hub_account=hub)
    with pytest.raises(BadInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plan(config, replace(inventory(), trusted_access="DISABLED"), render_all(config), PlanOptions())


def test_turning_notifications_off_removes_exactly_that_wiring(tmp_path: Path) -> None:
    inv, _ = converged(notified(tmp_path), inventory())
    off = make_config(tmp_path)
    removal = plan(off, inv, render_all(off))
    targets = {(s.action, s.target, s.account) for s in removal.changes}
    assert targets == {
        ("delete_stack", HUB, AUDIT),
        ("delete_stack", SET, MGMT),
        ("delete_stack_instances", SET, None),
        ("delete_stack_set", SET, None),
    }
    assert set(removal.step("notifications-remove-stack-set").depends_on) == {
        "notifications-remove-instances",
        f"notifications-hub-remove-{AUDIT}-{HOME}",
    }
    after = _applied(removal, inv, render_all(off))
    assert not plan(off, after, render_all(off)).changes


def test_moving_the_hub_removes_the_old_one_and_repoints_the_forwarders(tmp_path: Path) -> None:
    inv, _ = converged(notified(tmp_path), inventory())
    moved = notified(tmp_path, hub_account=PROD1)
    the_plan = plan(moved, inv, render_all(moved))
    actions = {(s.action, s.target, s.account) for s in the_plan.changes}
    assert ("delete_stack", HUB, AUDIT) in actions and ("deploy_stack", HUB, PROD1) in actions
    assert dict(the_plan.step(f"{SET}-update").parameters)["HubAccountId"] == PROD1


def test_without_the_management_account_its_forwarders_go(tmp_path: Path) -> None:
    inv, _ = converged(notified(tmp_path), inventory())
    config = notified(tmp_path, management_account={"deploy": False})
    the_plan = plan(config, inv, render_all(config))
    assert {s.id for s in the_plan.changes if s.target == SET and s.account == MGMT} == {
        f"management-notifications-remove-{HOME}",
        f"management-notifications-remove-{OTHER}",
    }


def test_an_old_hub_stack_found_elsewhere_is_removed(tmp_path: Path) -> None:
    inv, _ = converged(notified(tmp_path), inventory())
    stale = StackState(HUB, PROD1, HOME, "CREATE_COMPLETE", "", ())
    the_plan = plan(notified(tmp_path), replace(inv, stacks=(*inv.stacks, stale)), render_all(notified(tmp_path)))
    assert [(s.action, s.account) for s in the_plan.changes] == [("delete_stack", PROD1)]


def test_a_new_account_gets_forwarders_through_the_stack_set(tmp_path: Path) -> None:
    inv, _ = converged(notified(tmp_path), inventory())
    org = inv.organization
    newcomer = Account("500000000001", "new", "ACTIVE", org.root_id)
    grown = replace(org, accounts=(*org.accounts, newcomer))
    the_plan = plan(notified(tmp_path), replace(inv, organization=grown), render_all(notified(tmp_path)))
    created = [s for s in the_plan.changes if s.target == SET and s.action == "create_stack_instances"]
    assert created and all(s.deployment_targets["Accounts"] == ["500000000001"] for s in created)  # type: ignore[index]


def test_tamper_calls_are_forwarded_and_mailed_with_who_did_what_and_whether_aws_refused(tmp_path: Path) -> None:
    rendered = render_all(notified(tmp_path))
    forward = resources(rendered, "notifications-forwarder")["TamperForwardRule"]["Properties"]
    pattern = forward["EventPattern"]
    assert (pattern["source"], pattern["detail-type"]) == (["aws.config"], ["AWS API Call via CloudTrail"])
    assert pattern["detail"]["eventSource"] == ["config.amazonaws.com"]
    assert {"StopConfigurationRecorder", "DeleteDeliveryChannel", "DeleteConformancePack"} <= set(
        pattern["detail"]["eventName"]
    )
    assert not [n for n in pattern["detail"]["eventName"] if n.startswith(("Describe", "Get", "List", "Start"))]
    [email, timeline] = resources(rendered, "notifications-hub")["TamperRule"]["Properties"]["Targets"]
    paths = email["InputTransformer"]["InputPathsMap"]
    assert (paths["who"], paths["call"], paths["error"]) == (
        "$.detail.userIdentity.arn",
        "$.detail.eventName",
        "$.detail.errorCode",
    )
    assert "InputTransformer" not in timeline
