"""Read the notifications timeline: the hub's CloudWatch Logs log group, as the hub account."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from orgdeploy.aws.organizations import account_names
from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import all_pages, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.config.model import Config
from orgdeploy.errors import AwsError, BadInputError
from orgdeploy.reporting.events import Timeline, TimelineQuery, build_timeline
from orgdeploy.templates import naming

PERMISSIONS = (
    # From the hub account itself, or through census.role_name in it.
    Need(("logs:FilterLogEvents",), DEPLOYERS | {"hub"}, "orgdeploy events: read the hub's timeline"),
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
    return build_timeline(
        records,
        query,
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(max(end, latest), UTC),
        log_group=log_group,
        hub=f"{hub} {region}",
        account_names={a: name for a, (name, _) in account_names(ctx).items()},
    )
