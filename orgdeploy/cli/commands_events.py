"""`orgdeploy events`: the timeline of compliance changes, remediations and tamper attempts across the organization."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from orgdeploy.cli.aws_options import (
    AwsCliOptions,
    EndpointUrl,
    Profile,
    Region,
    Sandbox,
    SandboxAccounts,
    aws_context,
    deploy_into_sandbox,
)
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption


class TimelineOutput(StrEnum):
    table = "table"
    json = "json"


Since = Annotated[
    str, typer.Option("--since", help="How far back to look: a duration such as 30m, 24h, 7d or 2w.", show_default=True)
]
AccountFilter = Annotated[str | None, typer.Option("--account", help="Only events from this 12-digit account id.")]
RuleFilter = Annotated[
    str | None,
    typer.Option("--rule", help="Only compliance changes of rules whose normalised name matches this glob, e.g. s3-*."),
]
KindFilter = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        help="Only events of this kind: compliance_change, remediation or tamper (repeat for several).",
    ),
]
OutputOption = Annotated[
    TimelineOutput, typer.Option("--output", "-o", help="table for people, json for scripts.", show_default=True)
]


def events(
    config: ConfigOption = DEFAULT_CONFIG,
    since: Since = "24h",
    account: AccountFilter = None,
    rule: RuleFilter = None,
    kind: KindFilter = None,
    output: OutputOption = TimelineOutput.table,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
) -> None:
    """What changed or healed itself while you were away: the notifications timeline, newest first.

    Reads the hub's log group (notifications.hub_account, home Region; through census.role_name when
    you run from another account) and prints every AWS Config compliance change and every remediation
    AWS Config ran, and every call that stopped or changed AWS Config (tamper: who, what, where, and
    whether AWS refused it), across the organization, with normalised rule names. With --sandbox the config is
    deployed into a fresh emulated organization first, and a day of changes to its workloads follows
    on the sandbox clock, which AWS Config evaluates and reports.

    Exit status: 0, also when nothing happened; 1 the timeline cannot be read; 2 bad input.
    """
    from orgdeploy.aws.events_log import read_timeline
    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.reporting.events import TimelineQuery

    loaded = load_config(config)
    query = TimelineQuery.parse(
        since=since, account=account, rule=rule, kinds=tuple(kind or ()), own_roles=(loaded.census.role_name,)
    )
    if loaded.notifications is None:
        raise BadInputError(
            f"{config}: notifications is not set, so there is no timeline to read; "
            "add a notifications section (see docs/notifications.md)"
        )
    options = AwsCliOptions(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        sandbox_accounts=sandbox_accounts,
        # The played day ends about now: CloudWatch Logs refuses events stamped over 2 hours ahead.
        sandbox_clock_offset=-86400.0 if sandbox else 0.0,
    )
    with aws_context(options, loaded) as ctx:
        if sandbox:
            deploy_into_sandbox(ctx, loaded, then_a_day=True)
        timeline = read_timeline(ctx, loaded, query)
    typer.echo(json.dumps(timeline.to_dict(), indent=2) if output is TimelineOutput.json else timeline.to_text())


def register(app: typer.Typer) -> None:
    app.command()(events)
