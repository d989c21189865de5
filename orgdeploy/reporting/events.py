"""The notifications timeline (pure): hub log events -> readable rows, filters, table and JSON.

The hub's log group holds each forwarded event as EventBridge delivered it: AWS Config's "Config Rules
Compliance Change" events, and the "EC2 Automation Execution Status-change Notification" events of the
SSM Automation runs AWS Config starts to remediate. Rule names are shown normalised
(orgdeploy.reporting.rule_names), so one rule reads the same in every account.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from orgdeploy.errors import BadInputError
from orgdeploy.reporting.rule_names import normalise_rule_name

Kind = Literal["compliance_change", "remediation", "tamper"]
KINDS: tuple[Kind, ...] = ("compliance_change", "remediation", "tamper")
COMPLIANCE_DETAIL_TYPE = "Config Rules Compliance Change"
REMEDIATION_DETAIL_TYPE = "EC2 Automation Execution Status-change Notification"
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
# Roles whose Config calls are orgdeploy's own: StackSets' execution roles (the census role is added per run).
ORGDEPLOY_ROLES = ("stacksets-exec-", "AWSCloudFormationStackSetExecutionRole")

_SINCE = re.compile(r"^(?:\d+[smhdw])+$")
_SINCE_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ACCOUNT = re.compile(r"^\d{12}$")
_REMEDIATION_WORDS = {
    "Success": ("remediated", "succeeded: the resource was fixed"),
    "Failed": ("remediation failed", "FAILED"),
    "TimedOut": ("remediation timed out", "timed out"),
    "Cancelled": ("remediation cancelled", "was cancelled"),
}


@dataclass(frozen=True)
class TimelineEvent:
    time: datetime
    account: str
    region: str
    kind: Kind
    rule: str = ""  # normalised; remediation events do not name their rule
    raw_rule: str = ""
    resource_type: str = ""
    resource_id: str = ""
    old: str = ""  # compliance before ("" on a first evaluation)
    new: str = ""  # compliance after, or the automation's status
    runbook: str = ""
    execution_id: str = ""
    event_id: str = ""
    # tamper: who made which Config call, and AWS's error when it refused it
    principal: str = ""
    call: str = ""
    error: str = ""
    by_orgdeploy: bool = False
    # remediation, joined to its rule and resource (join_remediations): AWS's reason for a failure,
    # the attempts so far, the compliance after, excepted/excluded, and the sentence a person reads
    failure: str = ""
    attempts: int = 0
    after: str = ""
    held_back: str = ""
    would_run: str = ""  # notify mode: the document a NON_COMPLIANT result would have started
    story: str = ""

    @property
    def what(self) -> str:
        """One or two words for the table: drifted, healed, remediated..."""
        if self.kind == "tamper":
            if self.by_orgdeploy:
                return "orgdeploy change"
            return "tamper refused" if self.error else "tampered"
        if self.kind == "remediation":
            if self.held_back:
                return f"remediation {self.held_back}"
            return _REMEDIATION_WORDS.get(self.new, (f"remediation {self.new}", ""))[0]
        if self.new == "NOT_APPLICABLE":
            return "out of scope"
        if self.new == "INSUFFICIENT_DATA":
            return "no data"
        if not self.old:
            return "first evaluated"
        if (self.old, self.new) == ("COMPLIANT", "NON_COMPLIANT"):
            return "drifted"
        if (self.old, self.new) == ("NON_COMPLIANT", "COMPLIANT"):
            return "healed"
        return "changed"

    @property
    def resource(self) -> str:
        if self.resource_type == "AWS::::Account":
            return f"account {self.resource_id}"
        return f"{self.resource_type} {self.resource_id}".strip()

    @property
    def message(self) -> str:
        """The event as a sentence a person understands."""
        if self.story:
            return self.story
        where = f"in account {self.account} ({self.region})"
        if self.kind == "tamper":
            outcome = f"AWS refused it: {self.error}" if self.error else "AWS allowed it"
            return f"{self.principal} called {self.call} {where} at {_short(self.time)} UTC; {outcome}."
        if self.kind == "remediation":
            outcome = _REMEDIATION_WORDS.get(self.new, ("", f"finished with status {self.new}"))[1]
            return f"Remediation runbook {self.runbook} {where} {outcome} (automation execution {self.execution_id})."
        was = f"; it was {self.old}" if self.old else ""
        sentences = {
            "out of scope": f"{self.resource} {where} is no longer in scope of rule {self.rule}{was}.",
            "no data": f"Rule {self.rule} could not evaluate {self.resource} {where} (INSUFFICIENT_DATA{was}).",
            "first evaluated": f"{self.resource} {where} was evaluated for the first time by rule {self.rule}: "
            f"{self.new}.",
            "healed": f"{self.resource} {where} is COMPLIANT again with rule {self.rule}; it was NON_COMPLIANT.",
        }
        return sentences.get(self.what, f"{self.resource} {where} is now {self.new} with rule {self.rule}{was}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "account": self.account,
            "region": self.region,
            "kind": self.kind,
            "what": self.what,
            "rule": self.rule,
            "raw_rule": self.raw_rule,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "old": self.old,
            "new": self.new,
            "runbook": self.runbook,
            "execution_id": self.execution_id,
            "event_id": self.event_id,
            "principal": self.principal,
            "call": self.call,
            "error": self.error,
            "refused": bool(self.error),
            "by_orgdeploy": self.by_orgdeploy,
            "failure": self.failure,
            "attempts": self.attempts,
            "compliance_after": self.after,
            "held_back": self.held_back,
            "would_run": self.would_run,
            "message": self.message,
        }


def _when(event: dict[str, Any], timestamp_ms: int) -> datetime:
    text = event.get("time")
    if isinstance(text, str):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _compliance(raw: Any) -> str:
    return str(raw.get("complianceType") or "") if isinstance(raw, dict) else ""


def parse_event(message: str, timestamp_ms: int) -> TimelineEvent | None:
    """One log event of the hub's timeline; None for anything that is not one of the two shapes."""
    try:
        event = json.loads(message)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
        return None
    detail: dict[str, Any] = event["detail"]
    when = _when(event, timestamp_ms)
    if event.get("detail-type") == COMPLIANCE_DETAIL_TYPE:
        raw_rule = str(detail.get("configRuleName", ""))
        return TimelineEvent(
            time=when,
            account=str(detail.get("awsAccountId") or event.get("account", "")),
            region=str(detail.get("awsRegion") or event.get("region", "")),
            kind="compliance_change",
            rule=normalise_rule_name(raw_rule),
            raw_rule=raw_rule,
            resource_type=str(detail.get("resourceType", "")),
            resource_id=str(detail.get("resourceId", "")),
            old=_compliance(detail.get("oldEvaluationResult")),
            new=_compliance(detail.get("newEvaluationResult")),
            event_id=str(event.get("id", "")),
        )
    if event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE and detail.get("eventSource") == "config.amazonaws.com":
        return _tamper(event, detail, when)
    if event.get("detail-type") == REMEDIATION_DETAIL_TYPE:
        return TimelineEvent(
            time=when,
            account=str(event.get("account", "")),
            region=str(event.get("region", "")),
            kind="remediation",
            new=str(detail.get("Status", "")),
            runbook=str(detail.get("Definition", "")),
            execution_id=str(detail.get("ExecutionId", "")),
            event_id=str(event.get("id", "")),
        )
    return None


def _tamper(event: dict[str, Any], detail: dict[str, Any], when: datetime) -> TimelineEvent:
    identity: dict[str, Any] = detail["userIdentity"] if isinstance(detail.get("userIdentity"), dict) else {}
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    role = str(issuer.get("userName") or "")
    code, message = str(detail.get("errorCode") or ""), str(detail.get("errorMessage") or "")
    params: dict[str, Any] = detail["requestParameters"] if isinstance(detail.get("requestParameters"), dict) else {}
    return TimelineEvent(
        time=when,
        account=str(detail.get("recipientAccountId") or event.get("account", "")),
        region=str(detail.get("awsRegion") or event.get("region", "")),
        kind="tamper",
        resource_type="AWS::Config::" + _resource_kind(str(detail.get("eventName", ""))),
        resource_id=_resource_name(params),
        principal=str(identity.get("arn") or ""),
        call=str(detail.get("eventName", "")),
        error=f"{code}: {message}" if message else code,
        by_orgdeploy=role.startswith(ORGDEPLOY_ROLES),
        event_id=str(event.get("id", "")),
    )


def _resource_kind(call: str) -> str:
    for kind in (
        "ConfigurationRecorder",
        "DeliveryChannel",
        "ConformancePack",
        "ConfigRule",
        "ConfigurationAggregator",
    ):
        if kind in call:
            return kind
    return "EvaluationResults" if "EvaluationResults" in call else ""


def _resource_name(params: dict[str, Any]) -> str:
    for key in ("ConfigurationRecorderName", "DeliveryChannelName", "ConformancePackName", "ConfigRuleName",
                "ConfigurationAggregatorName"):  # fmt: skip
        if params.get(key):
            return str(params[key])
    for key, inner in (
        ("ConfigurationRecorder", "name"),
        ("DeliveryChannel", "name"),
        ("ConfigRule", "ConfigRuleName"),
    ):
        if isinstance(params.get(key), dict) and params[key].get(inner):
            return str(params[key][inner])
    return ""


def parse_duration(text: str, option: str) -> timedelta:
    """'24h', '90m', '7d', '2w', '1h30m' -> timedelta; BadInputError naming the option otherwise."""
    value = text.strip().lower()
    if not _SINCE.match(value):
        raise BadInputError(f"{option} {text!r}: expected a duration such as 30m, 24h, 7d or 2w")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in _SINCE_PART.findall(value))
    if seconds <= 0:
        raise BadInputError(f"{option} {text!r}: the duration must be longer than zero")
    return timedelta(seconds=seconds)


def parse_since(text: str) -> timedelta:
    return parse_duration(text, "--since")


@dataclass(frozen=True)
class TimelineQuery:
    since: timedelta = timedelta(hours=24)
    account: str | None = None
    rule: str | None = None  # a glob over normalised (and raw) rule names
    kinds: tuple[Kind, ...] = KINDS
    # Roles whose Config calls are orgdeploy's (census.role_name): shown as orgdeploy changes, not tamper.
    own_roles: tuple[str, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        since: str,
        account: str | None,
        rule: str | None,
        kinds: tuple[str, ...] = (),
        own_roles: tuple[str, ...] = (),
    ) -> TimelineQuery:
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise BadInputError(f"--kind {unknown[0]!r}: expected one of {', '.join(KINDS)}")
        if account is not None and not _ACCOUNT.match(account):
            raise BadInputError(f"--account {account!r}: expected a 12-digit account id")
        if rule is not None and (not rule.strip() or any(c.isspace() for c in rule)):
            raise BadInputError(f"--rule {rule!r}: expected a rule-name glob without spaces, e.g. 's3-*'")
        if rule is not None and rule.count("[") != rule.count("]"):
            raise BadInputError(f"--rule {rule!r}: unbalanced [ ] in the glob")
        chosen = tuple(k for k in KINDS if k in kinds) or KINDS
        return cls(parse_since(since), account, rule, chosen, own_roles)

    def keeps(self, event: TimelineEvent) -> bool:
        if event.kind not in self.kinds:
            return False
        if self.account is not None and event.account != self.account:
            return False
        if self.rule is not None:
            # Remediation events carry no rule name, so a rule filter leaves them out.
            return event.kind == "compliance_change" and (
                fnmatch.fnmatchcase(event.rule, self.rule) or fnmatch.fnmatchcase(event.raw_rule, self.rule)
            )
        return True


@dataclass(frozen=True)
class Timeline:
    events: tuple[TimelineEvent, ...]
    start: datetime
    end: datetime
    log_group: str
    hub: str  # "account Region"
    account_names: dict[str, str] = field(default_factory=dict)
    unreadable: int = 0  # log events of another shape

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "hub": self.hub,
            "log_group": self.log_group,
            "count": len(self.events),
            "skipped_log_events": self.unreadable,
            "events": [{**e.to_dict(), "account_name": self.account_names.get(e.account, "")} for e in self.events],
        }

    def summary(self) -> str:
        counts = Counter(e.what for e in self.events)
        parts = ", ".join(f"{n} {what}" for what, n in counts.most_common())
        accounts = len({e.account for e in self.events})
        return f"{len(self.events)} event(s) in {accounts} account(s) since {_short(self.start)} UTC: {parts}"

    def to_text(self) -> str:
        if not self.events:
            return (
                f"No compliance changes, remediations or tamper attempts since {_short(self.start)} UTC "
                f"(timeline {self.log_group} in {self.hub})."
            )
        rows = [("TIME (UTC)", "ACCOUNT", "REGION", "WHAT", "RULE / RUNBOOK", "RESOURCE")]
        for e in self.events:
            name = self.account_names.get(e.account)
            rows.append(
                (
                    _short(e.time),
                    f"{name} {e.account}" if name else e.account,
                    e.region,
                    e.what,
                    f"{e.rule} / {e.runbook}" if e.rule and e.runbook else e.rule or e.runbook or e.call,
                    _what_resource(e),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
        return "\n".join([*lines, "", self.summary()])


def _what_resource(event: TimelineEvent) -> str:
    if event.kind == "tamper":
        return f"{event.resource} by {event.principal}" + (f" ({event.error.split(':')[0]})" if event.error else "")
    if event.kind == "remediation" and event.resource_id:
        return f"{event.resource} (execution {event.execution_id[:8]})"
    return event.resource or f"execution {event.execution_id}"


def _role_of(principal: str) -> str:
    """arn:aws:sts::111:assumed-role/ROLE/session -> ROLE"""
    parts = principal.split(":assumed-role/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else ""


def _short(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def build_timeline(
    records: list[tuple[int, str]],
    query: TimelineQuery,
    *,
    start: datetime,
    end: datetime,
    log_group: str,
    hub: str,
    account_names: dict[str, str] | None = None,
) -> Timeline:
    """(timestamp ms, message) log records -> the filtered timeline, newest first."""
    parsed = [parse_event(message, timestamp) for timestamp, message in records]
    parsed = [
        replace(e, by_orgdeploy=True) if e and e.kind == "tamper" and _role_of(e.principal) in query.own_roles else e
        for e in parsed
    ]
    events = [e for e in parsed if e is not None and query.keeps(e)]
    events.sort(key=lambda e: (e.time, e.event_id), reverse=True)
    return Timeline(
        events=tuple(events),
        start=start,
        end=end,
        log_group=log_group,
        hub=hub,
        account_names=dict(account_names or {}),
        unreadable=sum(1 for e in parsed if e is None),
    )
