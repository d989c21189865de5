"""The notifications timeline: the message for each event shape, the table, filters and bad input (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orgdeploy.errors import BadInputError
from orgdeploy.reporting.events import TimelineQuery, build_timeline, parse_event, parse_since

PROD = "537510074089"
DEV = "029061126486"
T0 = datetime(2025, 11, 27, 9, 12, tzinfo=UTC)


def compliance(
    old: str | None,
    new: str,
    *,
    account: str = PROD,
    rule: str = "s3-bucket-ssl-requests-only-conformance-pack-k2j4h5g6f",
    resource: tuple[str, str] = ("AWS::S3::Bucket", "logs-1"),
    at: datetime = T0,
) -> str:
    detail: dict[str, Any] = {
        "resourceId": resource[1],
        "awsRegion": "eu-west-1",
        "awsAccountId": account,
        "configRuleName": rule,
        "messageType": "ComplianceChangeNotification",
        "newEvaluationResult": {"complianceType": new},
        "resourceType": resource[0],
    }
    if old is not None:
        detail["oldEvaluationResult"] = {"complianceType": old}
    event = {
        "version": "0",
        "id": f"id-{at.timestamp()}-{resource[1]}",
        "detail-type": "Config Rules Compliance Change",
        "source": "aws.config",
        "account": account,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }
    return json.dumps(event)


def remediation(status: str, *, account: str = DEV, at: datetime = T0) -> str:
    return json.dumps(
        {
            "id": f"ssm-{status}",
            "detail-type": "EC2 Automation Execution Status-change Notification",
            "source": "aws.ssm",
            "account": account,
            "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "detail": {"ExecutionId": "4f1d-77", "Definition": "AWS-DisableIncomingSSHOnPort22", "Status": status},
        }
    )


WHERE = f"in account {PROD} (eu-west-1)"
MESSAGES = [
    (
        compliance("COMPLIANT", "NON_COMPLIANT"),
        "drifted",
        f"AWS::S3::Bucket logs-1 {WHERE} is now NON_COMPLIANT with rule s3-bucket-ssl-requests-only; it was COMPLIANT.",
    ),
    (
        compliance("NON_COMPLIANT", "COMPLIANT"),
        "healed",
        f"AWS::S3::Bucket logs-1 {WHERE} is COMPLIANT again with rule s3-bucket-ssl-requests-only; "
        "it was NON_COMPLIANT.",
    ),
    (
        compliance(None, "NON_COMPLIANT"),
        "first evaluated",
        f"AWS::S3::Bucket logs-1 {WHERE} was evaluated for the first time by rule s3-bucket-ssl-requests-only: "
        "NON_COMPLIANT.",
    ),
    (
        compliance("NON_COMPLIANT", "NOT_APPLICABLE"),
        "out of scope",
        f"AWS::S3::Bucket logs-1 {WHERE} is no longer in scope of rule s3-bucket-ssl-requests-only; "
        "it was NON_COMPLIANT.",
    ),
    (
        compliance("COMPLIANT", "INSUFFICIENT_DATA"),
        "no data",
        f"Rule s3-bucket-ssl-requests-only could not evaluate AWS::S3::Bucket logs-1 {WHERE} "
        "(INSUFFICIENT_DATA; it was COMPLIANT).",
    ),
    (
        compliance("COMPLIANT", "NON_COMPLIANT", rule="OrgConfigRule-iam-password-policy-ab12cd34",
                   resource=("AWS::::Account", PROD)),
        "drifted",
        f"account {PROD} {WHERE} is now NON_COMPLIANT with rule iam-password-policy; it was COMPLIANT.",
    ),
    (
        compliance("COMPLIANT", "NON_COMPLIANT", rule="AWSControlTower_AWS-GR_ENCRYPTED_VOLUMES"),
        "drifted",
        f"AWS::S3::Bucket logs-1 {WHERE} is now NON_COMPLIANT with rule AWSControlTower_AWS-GR_ENCRYPTED_VOLUMES; "
        "it was COMPLIANT.",
    ),
    (
        remediation("Success"),
        "remediated",
        f"Remediation runbook AWS-DisableIncomingSSHOnPort22 in account {DEV} (us-east-1) succeeded: the resource "
        "was fixed (automation execution 4f1d-77).",
    ),
    (
        remediation("Failed"),
        "remediation failed",
        f"Remediation runbook AWS-DisableIncomingSSHOnPort22 in account {DEV} (us-east-1) FAILED "
        "(automation execution 4f1d-77).",
    ),
    (
        remediation("TimedOut"),
        "remediation timed out",
        f"Remediation runbook AWS-DisableIncomingSSHOnPort22 in account {DEV} (us-east-1) timed out "
        "(automation execution 4f1d-77).",
    ),
    (
        remediation("Cancelled"),
        "remediation cancelled",
        f"Remediation runbook AWS-DisableIncomingSSHOnPort22 in account {DEV} (us-east-1) was cancelled "
        "(automation execution 4f1d-77).",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("message", "what", "sentence"), MESSAGES)
def test_each_event_shape_reads_as_a_sentence(message: str, what: str, sentence: str) -> None:
    event = parse_event(message, 0)
    assert event is not None
    assert event.what == what
    assert event.message == sentence


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        json.dumps({"detail-type": "Config Rules Compliance Change"}),
        json.dumps({"detail-type": "Config Configuration Item Change", "detail": {}}),
    ],
)
def test_other_log_lines_are_not_events(message: str) -> None:
    assert parse_event(message, 0) is None


def test_the_time_comes_from_the_event_and_falls_back_to_the_log_timestamp() -> None:
    event = parse_event(compliance("COMPLIANT", "NON_COMPLIANT"), 0)
    assert event is not None and event.time == T0
    raw = json.loads(compliance("COMPLIANT", "NON_COMPLIANT"))
    del raw["time"]
    stamped = parse_event(json.dumps(raw), int(T0.timestamp() * 1000) + 5000)
    assert stamped is not None and stamped.time == T0 + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("24h", 86400), ("30m", 1800), ("7d", 604800), ("2w", 1209600), ("1h30m", 5400), (" 90S ", 90)],
)
def test_since_durations(text: str, seconds: int) -> None:
    assert parse_since(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "24", "h", "yesterday", "-1h", "1.5h", "0h", "24 h"])
def test_bad_since_is_bad_input(text: str) -> None:
    with pytest.raises(BadInputError, match="--since"):
        parse_since(text)


@pytest.mark.parametrize(
    ("since", "account", "rule", "message"),
    [
        ("24h", "12345", None, "--account '12345': expected a 12-digit account id"),
        ("24h", None, "", "--rule ''"),
        ("24h", None, "s3 *", "--rule 's3 *'"),
        ("24h", None, "s3-[ab", "unbalanced [ ]"),
        ("soon", None, None, "--since 'soon'"),
    ],
)
def test_bad_query_is_bad_input(since: str, account: str | None, rule: str | None, message: str) -> None:
    with pytest.raises(BadInputError, match=message.replace("[", r"\[").replace("*", r"\*")):
        TimelineQuery.parse(since=since, account=account, rule=rule)


def _records() -> list[tuple[int, str]]:
    messages = [
        compliance("COMPLIANT", "NON_COMPLIANT", at=T0),
        compliance("NON_COMPLIANT", "COMPLIANT", at=T0 + timedelta(hours=3)),
        compliance("COMPLIANT", "NON_COMPLIANT", account=DEV, rule="restricted-ssh-conformance-pack-a1b2c3d4e",
                   resource=("AWS::EC2::SecurityGroup", "sg-0abc"), at=T0 + timedelta(hours=1)),
        remediation("Success", at=T0 + timedelta(hours=1, minutes=2)),
        "an unrelated line",
    ]  # fmt: skip
    return [(int(T0.timestamp() * 1000), m) for m in messages]


def _timeline(query: TimelineQuery) -> Any:
    return build_timeline(
        _records(),
        query,
        start=T0 - timedelta(hours=1),
        end=T0 + timedelta(hours=4),
        log_group="/aws/events/orgdeploy-notifications",
        hub="407522758688 us-east-1",
        account_names={PROD: "prod-1", DEV: "dev-1"},
    )


def test_the_timeline_is_newest_first_with_a_table_a_person_reads_at_a_glance() -> None:
    timeline = _timeline(TimelineQuery())
    assert [e.what for e in timeline.events] == ["healed", "remediated", "drifted", "drifted"]
    assert timeline.unreadable == 1
    assert timeline.to_text().splitlines() == [
        "TIME (UTC)        ACCOUNT              REGION     WHAT        RULE / RUNBOOK                  RESOURCE",
        "2025-11-27 12:12  prod-1 537510074089  eu-west-1  healed      s3-bucket-ssl-requests-only     "
        "AWS::S3::Bucket logs-1",
        "2025-11-27 10:14  dev-1 029061126486   us-east-1  remediated  AWS-DisableIncomingSSHOnPort22  "
        "execution 4f1d-77",
        "2025-11-27 10:12  dev-1 029061126486   eu-west-1  drifted     restricted-ssh                  "
        "AWS::EC2::SecurityGroup sg-0abc",
        "2025-11-27 09:12  prod-1 537510074089  eu-west-1  drifted     s3-bucket-ssl-requests-only     "
        "AWS::S3::Bucket logs-1",
        "",
        "4 event(s) in 2 account(s) since 2025-11-27 08:12 UTC: 2 drifted, 1 healed, 1 remediated",
    ]  # fmt: skip


def test_the_json_carries_every_field_and_the_sentence() -> None:
    data = _timeline(TimelineQuery()).to_dict()
    assert (data["count"], data["skipped_log_events"], data["hub"]) == (4, 1, "407522758688 us-east-1")
    first = data["events"][0]
    assert first["time"] == "2025-11-27T12:12:00Z"
    assert (first["account"], first["account_name"], first["rule"]) == (PROD, "prod-1", "s3-bucket-ssl-requests-only")
    assert first["raw_rule"] == "s3-bucket-ssl-requests-only-conformance-pack-k2j4h5g6f"
    assert first["message"].startswith("AWS::S3::Bucket logs-1 in account")


@pytest.mark.parametrize(
    ("account", "rule", "expected"),
    [
        (PROD, None, ["healed", "drifted"]),
        (DEV, None, ["remediated", "drifted"]),
        (None, "restricted-*", ["drifted"]),
        (None, "s3-bucket-ssl-requests-only", ["healed", "drifted"]),
        (None, "*-conformance-pack-k2j4h5g6f", ["healed", "drifted"]),  # the raw name matches too
        (None, "s3-[a-z]*", ["healed", "drifted"]),
        (DEV, "s3-*", []),
    ],
)
def test_filters(account: str | None, rule: str | None, expected: list[str]) -> None:
    timeline = _timeline(TimelineQuery.parse(since="24h", account=account, rule=rule))
    assert [e.what for e in timeline.events] == expected


def test_an_empty_timeline_says_where_it_looked() -> None:
    timeline = build_timeline(
        [], TimelineQuery(), start=T0, end=T0, log_group="/aws/events/x-notifications", hub="407522758688 us-east-1"
    )
    assert timeline.to_text() == (
        "No compliance changes, remediations or tamper attempts since 2025-11-27 09:12 UTC "
        "(timeline /aws/events/x-notifications in 407522758688 us-east-1)."
    )


def _call(call: str, role: str, **detail: Any) -> str:
    return json.dumps(
        {
            "id": f"e-{call}-{role}",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.config",
            "account": "300000000001",
            "time": "2025-11-27T10:00:00Z",
            "detail": {
                "eventSource": "config.amazonaws.com",
                "eventName": call,
                "awsRegion": "eu-west-1",
                "recipientAccountId": "300000000001",
                "userIdentity": {
                    "type": "AssumedRole",
                    "arn": f"arn:aws:sts::300000000001:assumed-role/{role}/alice",
                    "sessionContext": {"sessionIssuer": {"userName": role}},
                },
                "requestParameters": {"ConfigurationRecorderName": "orgdeploy-recorder"},
                **detail,
            },
        }
    )


def test_tamper_events_say_who_called_what_and_whether_aws_refused() -> None:
    refused = _call(
        "StopConfigurationRecorder", "Admin", errorCode="AccessDeniedException", errorMessage="explicit deny"
    )
    records = [
        (0, refused),
        (1, _call("DeleteDeliveryChannel", "Admin")),
        (2, _call("PutConfigurationRecorder", "stacksets-exec-1a2b")),
        (3, _call("StopConfigurationRecorder", "OrganizationAccountAccessRole")),
    ]
    query = TimelineQuery.parse(
        since="7d", account=None, rule=None, kinds=("tamper",), own_roles=("OrganizationAccountAccessRole",)
    )
    timeline = build_timeline(
        records,
        query,
        start=datetime(2025, 11, 20, tzinfo=UTC),
        end=datetime(2025, 11, 28, tzinfo=UTC),
        log_group="g",
        hub="h",
    )
    by_call = {(e.call, e.principal.split("/")[1]): e for e in timeline.events}
    stop = by_call[("StopConfigurationRecorder", "Admin")]
    assert (stop.what, stop.error, stop.resource_id) == (
        "tamper refused",
        "AccessDeniedException: explicit deny",
        "orgdeploy-recorder",
    )
    assert stop.message == (
        "arn:aws:sts::300000000001:assumed-role/Admin/alice called StopConfigurationRecorder in account 300000000001 "
        "(eu-west-1) at 2025-11-27 10:00 UTC; AWS refused it: AccessDeniedException: explicit deny."
    )
    assert by_call[("DeleteDeliveryChannel", "Admin")].what == "tampered"
    assert by_call[("PutConfigurationRecorder", "stacksets-exec-1a2b")].what == "orgdeploy change"
    assert by_call[("StopConfigurationRecorder", "OrganizationAccountAccessRole")].by_orgdeploy
    assert "tamper refused" in timeline.to_text() and "(AccessDeniedException)" in timeline.to_text()
    only_changes = TimelineQuery.parse(since="7d", account=None, rule=None, kinds=("compliance_change",))
    assert (
        build_timeline(
            records,
            only_changes,
            start=datetime(2025, 11, 20, tzinfo=UTC),
            end=datetime(2025, 11, 28, tzinfo=UTC),
            log_group="g",
            hub="h",
        ).events
        == ()
    )
    with pytest.raises(
        BadInputError, match="--kind 'tampering': expected one of compliance_change, remediation, tamper"
    ):
        TimelineQuery.parse(since="7d", account=None, rule=None, kinds=("tampering",))
