"""Notifications end to end: the wiring bootstrap builds, events reaching the hub, `orgdeploy events`, turning it
off, destroy, and the permissions it needs. Driven through the CLI against the sandbox, asserted with plain boto3."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.inprocess import CallRecorder, cli, member_client, write_config
from tests.helpers import use_sandbox_credentials

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e

MANAGEMENT = "123456789012"
AUDIT = "407522758688"  # the hub
PROD_1 = "537510074089"
DEV_2 = "556184983478"
SUSPENDED = "542738526547"
OUTSIDER = "111111111111"  # an account that is not in the organization
HOME, OTHER = "us-east-1", "eu-west-1"
HUB_BUS = f"arn:aws:events:{HOME}:{AUDIT}:event-bus/orgdeploy-notifications"
TIMELINE = "/aws/events/orgdeploy-notifications"
REMEDIATED_PACK = """\
Resources:
  RestrictedSsh:
    Type: AWS::Config::ConfigRule
    Properties:
      ConfigRuleName: restricted-ssh
      Scope:
        ComplianceResourceTypes:
          - AWS::EC2::SecurityGroup
      Source:
        Owner: AWS
        SourceIdentifier: INCOMING_SSH_DISABLED
  RestrictedSshRemediation:
    Type: AWS::Config::RemediationConfiguration
    Properties:
      ConfigRuleName: restricted-ssh
      TargetType: SSM_DOCUMENT
      TargetId: AWS-DisableIncomingSSHOnPort22
      Automatic: true
      MaximumAutomaticAttempts: 3
      RetryAttemptSeconds: 60
      Parameters:
        SecurityGroupIds:
          ResourceValue:
            Value: RESOURCE_ID
"""


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from orgdeploy.sandbox.server import start_sandbox

    use_sandbox_credentials(monkeypatch, HOME)
    with start_sandbox(op_seconds=0.2) as running:
        yield running


def _config(tmp_path: Path, **notifications: Any) -> Path:
    settings = {"hub_account": AUDIT, "emails": ["secops@example.com"], **notifications}
    path = write_config(tmp_path, notifications=settings)
    pack = tmp_path / "packs" / "remediated.yaml"
    pack.write_text(REMEDIATED_PACK)
    data = yaml.safe_load(path.read_text())
    data["conformance_packs"].append({"name": "remediated", "template": "packs/remediated.yaml"})
    path.write_text(yaml.safe_dump(data))
    return path


def _bootstrap(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str) -> None:
    code, _, err = cli(
        capsys, "bootstrap", "-c", str(config), "--endpoint-url", endpoint, "--yes", "--enable-trusted-access"
    )
    assert code == 0, err


def _active_members(endpoint: str) -> list[str]:
    accounts = member_client(endpoint, "organizations").list_accounts()["Accounts"]
    return sorted(a["Id"] for a in accounts if a["State"] == "ACTIVE" and a["Id"] != MANAGEMENT)


def _forward_rules(endpoint: str, account: str, region: str) -> dict[str, list[dict[str, Any]]]:
    events = member_client(endpoint, "events", account, region)
    rules = events.list_rules(NamePrefix="orgdeploy-notifications")["Rules"]
    return {r["Name"]: events.list_targets_by_rule(Rule=r["Name"])["Targets"] for r in rules}


def _timeline(endpoint: str) -> list[dict[str, Any]]:
    logs = member_client(endpoint, "logs", AUDIT, HOME)
    return [json.loads(e["message"]) for e in logs.filter_log_events(logGroupName=TIMELINE)["events"]]


def _compliance_event(account: str, region: str, resource: str) -> dict[str, Any]:
    result = {"complianceType": "NON_COMPLIANT"}
    detail = {
        "resourceId": resource,
        "awsRegion": region,
        "awsAccountId": account,
        "configRuleName": "s3-bucket-ssl-requests-only-conformance-pack-abcdefghi",
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": result,
        "oldEvaluationResult": {"complianceType": "COMPLIANT"},
        "resourceType": "AWS::S3::Bucket",
    }
    return {"Source": "aws.config", "DetailType": "Config Rules Compliance Change", "Detail": json.dumps(detail)}


def _assert_forwarders(endpoint: str, accounts: list[str]) -> None:
    """A forwarder in every account and Region, pointing at the hub bus; its role in the home Region only."""
    for account in accounts:
        for region in (HOME, OTHER):
            rules = _forward_rules(endpoint, account, region)
            assert set(rules) == {
                "orgdeploy-notifications-compliance",
                "orgdeploy-notifications-remediation",
                "orgdeploy-notifications-tamper",
            }
            for targets in rules.values():
                [target] = targets
                assert target["Arn"] == HUB_BUS
                assert target["RoleArn"] == f"arn:aws:iam::{account}:role/orgdeploy-notifications-forwarder"
        role = member_client(endpoint, "iam", account).get_role(RoleName="orgdeploy-notifications-forwarder")
        trust = role["Role"]["AssumeRolePolicyDocument"]
        trust = json.loads(trust) if isinstance(trust, str) else trust
        assert trust["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}


def _assert_hub(endpoint: str) -> str:
    """Bus open to the organization only, rules to the topic and the timeline, encrypted topic, log group."""
    org_id = member_client(endpoint, "organizations").describe_organization()["Organization"]["Id"]
    hub_events = member_client(endpoint, "events", AUDIT, HOME)
    policy = json.loads(hub_events.describe_event_bus(Name="orgdeploy-notifications")["Policy"])
    [statement] = policy["Statement"]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": org_id}}
    hub_rules = {r["Name"] for r in hub_events.list_rules(EventBusName="orgdeploy-notifications")["Rules"]}
    assert hub_rules == {
        "orgdeploy-notifications-compliance",
        "orgdeploy-notifications-remediation",
        "orgdeploy-notifications-tamper",
    }
    sns = member_client(endpoint, "sns", AUDIT, HOME)
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":orgdeploy-notifications")]
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["KmsMasterKeyId"]
    emails = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in emails] == [("email", "secops@example.com")]
    groups = member_client(endpoint, "logs", AUDIT, HOME).describe_log_groups(logGroupNamePrefix=TIMELINE)
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups["logGroups"]] == [(TIMELINE, 90)]
    for rule in hub_rules:
        targets = hub_events.list_targets_by_rule(Rule=rule, EventBusName="orgdeploy-notifications")["Targets"]
        assert {t["Arn"] for t in targets} == {topic, f"arn:aws:logs:{HOME}:{AUDIT}:log-group:{TIMELINE}"}
    return topic


def _open_ssh(endpoint: str, account: str, region: str) -> str:
    """Open port 22 to the internet on the account's `web` security group; returns its id."""
    ec2 = member_client(endpoint, "ec2", account, region)
    [group] = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    return str(group["GroupId"])


def _assert_delivery(endpoint: str, topic: str) -> set[str]:
    """AWS Config's events about real changes reach the hub's timeline and mailbox; an outsider's do not."""
    from orgdeploy.sandbox.compliance.evaluations import advance_clock

    # Two people open SSH in two accounts; a minute later AWS Config's change-triggered rule has run.
    opened = {(PROD_1, OTHER): _open_ssh(endpoint, PROD_1, OTHER), (AUDIT, HOME): _open_ssh(endpoint, AUDIT, HOME)}
    advance_clock(120)
    drifts = {
        (e["account"], e["region"], e["detail"]["resourceId"])
        for e in _timeline(endpoint)
        if e["detail-type"] == "Config Rules Compliance Change"
        and e["detail"]["configRuleName"].startswith("restricted-ssh-conformance-pack-")
        and e["detail"]["newEvaluationResult"]["complianceType"] == "NON_COMPLIANT"
        # The packs' first evaluations reach the timeline too; a drift is a change from COMPLIANT.
        and (e["detail"].get("oldEvaluationResult") or {}).get("complianceType") == "COMPLIANT"
    }
    assert drifts == {(*place, group) for place, group in opened.items()}
    queue = member_client(endpoint, "sqs", AUDIT, HOME).create_queue(QueueName="mailbox")["QueueUrl"]
    sns = member_client(endpoint, "sns", AUDIT, HOME)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=f"arn:aws:sqs:{HOME}:{AUDIT}:mailbox")
    bucket = f"witness-{uuid.uuid4().hex[:8]}"
    member_client(endpoint, "events", PROD_1, OTHER).put_events(Entries=[_compliance_event(PROD_1, OTHER, bucket)])
    [arrived] = [e for e in _timeline(endpoint) if e["detail"].get("resourceId") == bucket]
    assert (arrived["account"], arrived["region"], arrived["source"]) == (PROD_1, OTHER, "aws.config")
    [mail] = member_client(endpoint, "sqs", AUDIT, HOME).receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(mail["Body"])["Message"] == (
        f"AWS Config: AWS::S3::Bucket {bucket} in account {PROD_1} ({OTHER}) is now NON_COMPLIANT for rule "
        "s3-bucket-ssl-requests-only-conformance-pack-abcdefghi; it was COMPLIANT."
    )
    outsider = member_client(endpoint, "events", OUTSIDER, HOME)
    outsider.put_rule(Name="sneak", EventPattern=json.dumps({"source": ["aws.config"]}))
    outsider.put_targets(Rule="sneak", Targets=[{"Id": "hub", "Arn": HUB_BUS}])
    outsider.put_events(Entries=[_compliance_event(OUTSIDER, HOME, "sneaky-bucket")])
    assert not [e for e in _timeline(endpoint) if e["detail"].get("resourceId") == "sneaky-bucket"]
    return {*opened.values(), bucket}


def _assert_events_command(capsys: pytest.CaptureFixture[str], config: str, endpoint: str, seen: set[str]) -> None:
    """`orgdeploy events`: newest first, normalised names, filters, bad input."""
    args = ("events", "-c", config, "--endpoint-url", endpoint)
    code, out, err = cli(capsys, *args, "-o", "json")
    assert code == 0, err
    rows = json.loads(out)["events"]
    assert [r["time"] for r in rows] == sorted((r["time"] for r in rows), reverse=True)
    assert not any("-conformance-pack-" in r["rule"] for r in rows)
    assert seen <= {r["resource_id"] for r in rows}
    assert "drifted" in {r["what"] for r in rows if r["rule"] == "restricted-ssh"}
    code, out, _ = cli(capsys, *args, "-o", "json", "--account", PROD_1)
    assert code == 0 and {r["account"] for r in json.loads(out)["events"]} == {PROD_1}
    code, out, _ = cli(capsys, *args, "--rule", "restricted-*")
    assert code == 0 and "restricted-ssh" in out and "s3-bucket-ssl" not in out
    code, _, err = cli(capsys, *args, "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in err


def test_bootstrap_wires_every_account_and_region_to_the_hub(
    sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = sandbox.endpoint_url
    recorder = CallRecorder(monkeypatch)
    config = _config(tmp_path)
    _bootstrap(capsys, config, endpoint)
    orgdeploy_calls = list(recorder.calls)  # the test's own boto3 calls come after
    members = _active_members(endpoint)
    assert SUSPENDED not in members and len(members) == 8
    _assert_forwarders(endpoint, [*members, MANAGEMENT])
    topic = _assert_hub(endpoint)
    seen = _assert_delivery(endpoint, topic)

    mark = len(recorder.calls)
    _assert_events_command(capsys, str(config), endpoint, seen)
    orgdeploy_calls += recorder.calls[mark:]

    # destroy removes the wiring with everything else.
    mark = len(recorder.calls)
    code, _, err = cli(capsys, "destroy", "-c", str(config), "--endpoint-url", endpoint, "--yes")
    assert code == 0, err
    orgdeploy_calls += recorder.calls[mark:]
    assert _forward_rules(endpoint, PROD_1, OTHER) == {} and _forward_rules(endpoint, MANAGEMENT, HOME) == {}
    assert (
        member_client(endpoint, "logs", AUDIT, HOME).describe_log_groups(logGroupNamePrefix=TIMELINE)["logGroups"] == []
    )

    # Every call of bootstrap, events and destroy is in the least-privilege policy of its role.
    _assert_permissions_cover(orgdeploy_calls)


def _assert_permissions_cover(calls: list[tuple[str, str, dict[str, Any], str]]) -> None:
    from orgdeploy.aws.permissions import actions_for, iam_action
    from orgdeploy.aws.policy import all_needs

    management = set(actions_for("management", all_needs()))
    # The census role: read-only in members, and the hub stack in notifications.hub_account.
    member = set(actions_for("member", all_needs())) | set(actions_for("hub", all_needs()))
    missing = set()
    for service, operation, _, key in calls:
        action = iam_action(service, operation)
        allowed = management if key == "testing" else member
        if action is not None and action not in allowed:
            missing.add(action)
    assert {s for s, *_ in calls} >= {"logs", "cloudformation", "organizations"}
    assert missing == set()


def _notification_state(endpoint: str) -> dict[str, Any]:
    cfn = member_client(endpoint, "cloudformation")
    stack_sets = {s["StackSetName"] for s in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]}
    hub_stacks = member_client(endpoint, "cloudformation", AUDIT).list_stacks()["StackSummaries"]
    return {
        "stack set": "orgdeploy-notifications" in stack_sets,
        "hub stack": any(
            s["StackName"] == "orgdeploy-notifications-hub" and s["StackStatus"] != "DELETE_COMPLETE"
            for s in hub_stacks
        ),
        "rules": [bool(_forward_rules(endpoint, a, r)) for a in (PROD_1, DEV_2, MANAGEMENT) for r in (HOME, OTHER)],
        "hub bus": [b["Name"] for b in member_client(endpoint, "events", AUDIT, HOME).list_event_buses()["EventBuses"]],
    }


def _everything_else(endpoint: str) -> dict[str, Any]:
    """What orgdeploy deployed besides notifications: stack sets with instances, stacks, recorders."""
    cfn = member_client(endpoint, "cloudformation")
    sets = {}
    for summary in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]:
        name = summary["StackSetName"]
        if name != "orgdeploy-notifications":
            instances = cfn.list_stack_instances(StackSetName=name)["Summaries"]
            sets[name] = sorted((i["Account"], i["Region"], i["Status"]) for i in instances)
    stacks = sorted(
        (s["StackName"], s["StackStatus"])
        for s in cfn.list_stacks()["StackSummaries"]
        if s["StackStatus"] != "DELETE_COMPLETE" and not s["StackName"].startswith("orgdeploy-notifications")
    )
    recorders = {
        (a, r): [
            x["name"]
            for x in member_client(endpoint, "config", a, r).describe_configuration_recorders()[
                "ConfigurationRecorders"
            ]
        ]
        for a in (PROD_1, DEV_2, AUDIT, MANAGEMENT)
        for r in (HOME, OTHER)
    }
    return {"stack sets": sets, "stacks": stacks, "recorders": recorders}


def test_turning_notifications_off_removes_the_wiring_and_nothing_else(
    sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = sandbox.endpoint_url
    config = _config(tmp_path)
    _bootstrap(capsys, config, endpoint)
    assert _notification_state(endpoint) == {
        "stack set": True,
        "hub stack": True,
        "rules": [True] * 6,
        "hub bus": ["default", "orgdeploy-notifications"],
    }
    before = _everything_else(endpoint)
    data = yaml.safe_load(config.read_text())
    del data["notifications"]
    config.write_text(yaml.safe_dump(data))

    code, out, err = cli(capsys, "update", "-c", str(config), "--endpoint-url", endpoint, "--yes", "-o", "json")
    assert code == 0, err
    planned = {step["action"] for step in json.loads(out)["plan"]["steps"]}
    assert planned <= {"delete_stack", "delete_stack_instances", "delete_stack_set", "verify"}
    assert _notification_state(endpoint) == {
        "stack set": False,
        "hub stack": False,
        "rules": [False] * 6,
        "hub bus": ["default"],
    }
    assert _everything_else(endpoint) == before
    code, out, _ = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    assert code == 0 and json.loads(out)["changes"] == 0


def test_a_hub_account_outside_the_organization_is_bad_input(
    sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, hub_account=OUTSIDER)
    code, _, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", sandbox.endpoint_url)
    assert code == 2
    assert f"notifications.hub_account {OUTSIDER} is not an account of organization" in err
    cfn = member_client(sandbox.endpoint_url, "cloudformation")
    assert cfn.list_stack_sets(Status="ACTIVE")["Summaries"] == []


def test_events_sandbox_shows_a_day_of_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each change of the played day shows as AWS Config's evaluation of it, beside the first evaluations of
    what the deployment itself created after the forwarders were listening."""
    started = time.time()
    config = _config(tmp_path)
    code, out, err = cli(capsys, "events", "-c", str(config), "--sandbox", "--sandbox-accounts", "4", "-o", "json")
    assert code == 0, err
    assert "port 22 opened to the internet" in err
    rows = json.loads(out)["events"]
    ordered = sorted(rows, key=lambda r: (r["time"], r["raw_rule"]))
    # What the deployment itself found (first evaluations, and the extra pack's remediation of dev-1's open
    # admin-ssh group) comes at the very start of the 24 hours read, some of it just outside them; the
    # played day is the story, and nothing is evaluated for the first time during it.
    day = min(r["time"] for r in ordered if r["what"] == "drifted")
    assert all(r["time"] < day for r in ordered if r["what"] == "first evaluated")
    story = [(r["what"], r["rule"], r["account_name"]) for r in ordered if r["time"] >= day]
    assert story == [
        # prod-1 opens port 22 on web; both packs carry restricted-ssh
        ("drifted", "restricted-ssh", "prod-1"),
        ("drifted", "restricted-ssh", "prod-1"),
        # the remediation closes it at once (the person's own close, three hours later, finds it closed)
        ("remediated", "restricted-ssh", "prod-1"),
        ("healed", "restricted-ssh", "prod-1"),
        ("healed", "restricted-ssh", "prod-1"),
        # dev-1's uploads bucket gets a TLS-only policy (there is no sandbox-1 among 4 accounts)
        ("healed", "s3-bucket-ssl-requests-only", "dev-1"),
    ]
    # The day ends about now, so the timeline's CloudWatch Logs took every event.
    assert max(r["time"] for r in rows) < datetime.now(UTC).isoformat()
    assert time.time() - started < 300


def test_every_notification_resource_type_has_a_sandbox_model(tmp_path: Path) -> None:
    from moto.cloudformation import parsing

    from orgdeploy.sandbox.cfn_models.registry import register_resource_models
    from orgdeploy.templates.render import render_all
    from tests.helpers import decode_template, make_config

    register_resource_models()
    config = make_config(tmp_path, notifications={"hub_account": AUDIT, "emails": ["secops@example.com"]})
    types = {
        str(resource["Type"])
        for template in render_all(config).templates
        if template.key.startswith("notifications")
        for resource in decode_template(template.body)["Resources"].values()
    }
    assert {"AWS::Events::EventBusPolicy", "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy"} <= types
    assert types - set(parsing.get_model_map()) == set()


def test_eventbridge_writes_the_timeline_only_where_the_logs_policy_lets_it_create_its_stream() -> None:
    from moto.logs.models import logs_backends

    from orgdeploy.sandbox.cfn_models.events import logs_policy_allows

    group = "arn:aws:logs:us-east-1:111111111111:log-group:/aws/events/timeline"
    rule = "arn:aws:events:us-east-1:111111111111:rule/hub"
    backend = logs_backends["111111111111"]["us-east-1"]
    principal = {"Service": "events.amazonaws.com"}
    combined = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"{group}:*",
        "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
    }
    backend.put_resource_policy("timeline", json.dumps({"Statement": [combined]}))
    assert logs_policy_allows(backend, "logs:PutLogEvents", group, source_arn=rule)
    assert not logs_policy_allows(backend, "logs:CreateLogStream", group, source_arn=None)
    streams = {"Effect": "Allow", "Principal": principal, "Action": "logs:CreateLogStream", "Resource": f"{group}:*"}
    backend.put_resource_policy("timeline", json.dumps({"Statement": [streams, combined]}))
    assert logs_policy_allows(backend, "logs:CreateLogStream", group, source_arn=None)
    assert not logs_policy_allows(backend, "logs:PutLogEvents", group, source_arn=rule.replace("hub", "other"))
