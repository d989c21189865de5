"""Remediations joined to the rule and resource they fixed, so the timeline tells the whole story (pure).

An SSM Automation event names its document, account, Region and outcome, not the rule or the
resource. The resource comes from the execution's own parameters (GetAutomationExecution), read
for each remediation event; the rule is the one whose NON_COMPLIANT result for that resource came
last before the run (or, failing that, the one rule of the packs that runs that document); the
compliance after comes from the next result for the same rule and resource.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from orgdeploy.config.model import Remediation
from orgdeploy.config.runbooks import RUNBOOKS
from orgdeploy.reporting.events import Timeline, TimelineEvent

_NOUN = {"AWS::S3::Bucket": "bucket", "AWS::EC2::SecurityGroup": "security group", "AWS::IAM::User": "IAM user"}
ASSUME_FAILED = "The defined assume role is unable to be assumed."


@dataclass(frozen=True)
class ExecutionDetail:
    """What GetAutomationExecution tells of one run."""

    document: str
    parameters: dict[str, list[str]]
    failure: str = ""


def _resource(detail: ExecutionDetail) -> tuple[str, str]:
    runbook = RUNBOOKS.get(detail.document)
    if runbook is None:
        return "", ""
    values = detail.parameters.get(runbook.resource_parameter) or [""]
    return runbook.resource_type, values[0]


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def _same_resource(event: TimelineEvent, remediation: TimelineEvent) -> bool:
    return event.kind == "compliance_change" and (
        event.account,
        event.region,
        event.resource_type,
        event.resource_id,
    ) == (remediation.account, remediation.region, remediation.resource_type, remediation.resource_id)


def join_remediations(
    timeline: Timeline,
    details: dict[str, ExecutionDetail],
    *,
    rules_by_document: dict[str, list[str]],
    remediated: dict[str, str],
    settings: Remediation,
    labels: dict[str, str],
) -> Timeline:
    """The timeline with each remediation joined; in notify mode, NON_COMPLIANT results say what would have run.

    details: execution id -> what ran; rules_by_document: document -> the normalised rules that run it;
    remediated: normalised rule -> its document; labels: account id -> "name (OU path)".
    """
    ordered = sorted(timeline.events, key=lambda e: (e.time, e.event_id))
    joined: list[TimelineEvent] = []
    failures: dict[tuple[str, str, str, str], int] = {}
    for original in ordered:
        event = original
        if event.kind == "compliance_change" and settings.mode == "notify" and event.new == "NON_COMPLIANT":
            document = remediated.get(event.rule, "")
            if document:
                event = replace(event, would_run=document, story=_would_run(event, document, labels))
        if event.kind == "remediation" and event.execution_id in details:
            event = _joined(event, details[event.execution_id], ordered, rules_by_document, settings, labels, failures)
        joined.append(event)
    joined.sort(key=lambda e: (e.time, e.event_id), reverse=True)
    return replace(timeline, events=tuple(joined))


def _who(account: str, labels: dict[str, str]) -> str:
    return labels.get(account, account)


def _would_run(event: TimelineEvent, document: str, labels: dict[str, str]) -> str:
    noun = _NOUN.get(event.resource_type, event.resource_type)
    return (
        f"{_who(event.account, labels)}, {event.region}: {noun} `{event.resource_id}` is NON_COMPLIANT with "
        f"{event.rule}; notify mode: {document} would have run, and nothing was changed."
    )


def _joined(
    event: TimelineEvent,
    detail: ExecutionDetail,
    ordered: list[TimelineEvent],
    rules_by_document: dict[str, list[str]],
    settings: Remediation,
    labels: dict[str, str],
    failures: dict[tuple[str, str, str, str], int],
) -> TimelineEvent:
    kind, resource_id = _resource(detail)
    event = replace(event, resource_type=kind, resource_id=resource_id, runbook=detail.document or event.runbook)
    candidates = rules_by_document.get(detail.document, [])
    before = [
        e
        for e in ordered
        if _same_resource(e, event) and e.time <= event.time and e.new == "NON_COMPLIANT" and e.rule in candidates
    ]
    rule = before[-1].rule if before else (candidates[0] if len(candidates) == 1 else "")
    later = [e for e in ordered if _same_resource(e, event) and e.time >= event.time and (not rule or e.rule == rule)]
    after = later[0].new if later else ""
    key = (event.account, event.region, kind, resource_id)
    if event.new != "Success":
        failures[key] = failures.get(key, 0) + 1
    held = _held_back(event, rule, detail, settings)
    event = replace(
        event, rule=rule, failure=detail.failure, attempts=failures.get(key, 0), after=after, held_back=held
    )
    return replace(event, story=_story(event, labels))


def _held_back(event: TimelineEvent, rule: str, detail: ExecutionDetail, settings: Remediation) -> str:
    """'excepted' or 'excluded' when the config held this remediation back (its role refused the run)."""
    if event.new == "Success":
        return ""
    for exception in settings.exceptions:
        if exception.rule == rule and exception.resource_id == event.resource_id and "explicit deny" in detail.failure:
            return "excepted"
    for configured in settings.rules:
        if configured.rule != rule:
            continue
        if event.account in configured.exclude_accounts and detail.failure == ASSUME_FAILED:
            return "excluded"
        if event.region in configured.exclude_regions and "explicit deny" in detail.failure:
            return "excluded"
    return ""


def _story(event: TimelineEvent, labels: dict[str, str]) -> str:
    noun = _NOUN.get(event.resource_type, event.resource_type or "resource")
    what = f"{_who(event.account, labels)}, {event.region}: {noun} `{event.resource_id}`"
    was = f" was NON_COMPLIANT with {event.rule}" if event.rule else ""
    ran = f"{event.runbook} ran at {_hhmm(event.time)}"
    if event.held_back == "excepted":
        return f"{what}{was}; {ran} and was refused: it is excepted (remediation.exceptions), so it is left alone."
    if event.held_back == "excluded":
        return f"{what}{was}; {ran} and was refused: remediation.rules leaves this account or Region out."
    if event.new == "Success":
        now = f"; now {event.after}" if event.after else ""
        return f"{what}{was}; {ran} and succeeded{now}."
    return f"{what}{was}; {ran} and failed after {event.attempts} attempt(s): {event.failure or event.new}."
