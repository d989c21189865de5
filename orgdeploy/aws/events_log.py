"""Read the notifications timeline: the hub's CloudWatch Logs log group, as the hub account."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from orgdeploy.aws.organizations import account_names
from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import all_pages, call_with_retries, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.config.model import Config
from orgdeploy.errors import AwsError, BadInputError
from orgdeploy.reporting.events import KINDS, Timeline, TimelineQuery, build_timeline
from orgdeploy.reporting.remediation_story import ExecutionDetail, join_remediations
from orgdeploy.reporting.rule_names import normalise_rule_name
from orgdeploy.templates import naming
from orgdeploy.templates.pack_remediation import remediated_rules
from orgdeploy.templates.render import render_all

PERMISSIONS = (
    # From the hub account itself, or through census.role_name in it.
    Need(("logs:FilterLogEvents",), DEPLOYERS | {"hub"}, "orgdeploy events: read the hub's timeline"),
    Need(
        ("ssm:GetAutomationExecution",),
        DEPLOYERS | {"member"},
        "orgdeploy events: the resource each remediation ran on, from its execution's parameters",
    ),
)


class TimelineReader:
    def __init__(self, ctx: AwsContext, *, account: str, region: str) -> None:
        self.client = ctx.client("logs", region, account)

    def read(self, log_group: str, *, start_ms: int, term: str | None = None) -> list[tuple[int, str]]:
        """Every (timestamp ms, message) from start on, all pages; term is a quoted-term filter pattern.

        No end time: an event stamped a little ahead of this machine's clock (skew, or a sandbox
        whose clock was moved forward) still belongs to the timeline.
        """
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": start_ms}
        if term:
            kwargs["filterPattern"] = f'"{term}"'

        events = all_pages(self.client, "filter_log_events", "events", **kwargs)
        return [(int(e["timestamp"]), str(e["message"])) for e in events]


def read_timeline(ctx: AwsContext, config: Config, query: TimelineQuery, *, now: float | None = None) -> Timeline:
    """The hub's timeline over query.since, filtered and newest first."""
    if config.notifications is None:
        raise BadInputError(
            "notifications is not set in the config, so there is no hub timeline to read; "
            "add a notifications section (see docs/notifications.md) and run `orgdeploy update`"
        )
    end = now if now is not None else time.time()
    start = end - query.since.total_seconds()
    hub, region = config.notifications.hub_account, config.home_region
    log_group = naming.notifications_log_group(config)
    try:
        # The account id narrows the read on the server; build_timeline checks the field exactly.
        records = TimelineReader(ctx, account=hub, region=region).read(
            log_group, start_ms=int(start * 1000), term=query.account
        )
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise AwsError(
                f"the timeline {log_group} does not exist in {hub} {region}: notifications are not deployed yet "
                "(run `orgdeploy update`)"
            ) from None
        raise
    latest = max((timestamp / 1000 for timestamp, _ in records), default=end)
    names = account_names(ctx)
    # Every kind first: a remediation is joined to the compliance changes around it, then the kinds asked are kept.
    timeline = build_timeline(
        records,
        replace(query, kinds=KINDS),
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(max(end, latest), UTC),
        log_group=log_group,
        hub=f"{hub} {region}",
        account_names={a: name for a, (name, _) in names.items()},
    )
    joined = _joined(ctx, config, timeline, {a: f"{name} ({path})" for a, (name, path) in names.items()})
    return replace(joined, events=tuple(e for e in joined.events if e.kind in query.kinds))


def _joined(ctx: AwsContext, config: Config, timeline: Timeline, labels: dict[str, str]) -> Timeline:
    """Each remediation with its rule and resource, read from the execution in its account (through the census role)."""
    details = {}
    for event in timeline.events:
        if event.kind != "remediation" or not event.execution_id or event.execution_id in details:
            continue
        try:
            ssm = ctx.client("ssm", event.region, event.account)
            found = call_with_retries(ssm.get_automation_execution, AutomationExecutionId=event.execution_id)
        except Exception as exc:
            if not error_code(exc):
                raise
            continue  # the execution is gone (SSM keeps them 30 days) or unreadable: the event stays as it came
        execution = found["AutomationExecution"]
        details[event.execution_id] = ExecutionDetail(
            document=str(execution.get("DocumentName", "")),
            parameters={k: list(v) for k, v in (execution.get("Parameters") or {}).items()},
            failure=_failure(execution),
        )
    remediated: dict[str, str] = {}
    for body in render_all(config).pack_bodies:
        for rule, document in remediated_rules(body.body).items():
            remediated[normalise_rule_name(rule)] = document
    by_document: dict[str, list[str]] = {}
    for rule, document in remediated.items():
        by_document.setdefault(document, []).append(rule)
    return join_remediations(
        timeline,
        details,
        rules_by_document=by_document,
        remediated=remediated,
        settings=config.remediation,
        labels=labels,
    )


def _failure(execution: dict[str, Any]) -> str:
    """AWS's reason, from the failed step (without SSM's "Step fails when..." preamble)."""
    for step in execution.get("StepExecutions") or []:
        if step.get("FailureMessage"):
            return str(step["FailureMessage"])
    return str(execution.get("FailureMessage") or "")
