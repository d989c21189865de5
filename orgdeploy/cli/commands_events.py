"""`orgdeploy events`: the timeline of compliance changes and remediations across the organization."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer

from orgdeploy.cli.aws_options import (
    AwsCliOptions,
    EndpointUrl,
    Profile,
    Region,
    Sandbox,
    SandboxAccounts,
    aws_context,
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
OutputOption = Annotated[
    TimelineOutput, typer.Option("--output", "-o", help="table for people, json for scripts.", show_default=True)
]


def events(
    config: ConfigOption = DEFAULT_CONFIG,
    since: Since = "24h",
    account: AccountFilter = None,
    rule: RuleFilter = None,
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
    AWS Config ran, across the organization, with normalised rule names. With --sandbox the config is
    deployed into a fresh emulated organization first, whose accounts then report a day of activity.

    Exit status: 0, also when nothing happened; 1 the timeline cannot be read; 2 bad input.
    """
    from orgdeploy.aws.events_log import read_timeline
    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.reporting.events import TimelineQuery

    loaded = load_config(config)
    query = TimelineQuery.parse(since=since, account=account, rule=rule)
    if loaded.notifications is None:
        raise BadInputError(
            f"{config}: notifications is not set, so there is no timeline to read; "
            "add a notifications section (see docs/notifications.md)"
        )
    options = AwsCliOptions(
        profile=profile, region=region, endpoint_url=endpoint_url, sandbox=sandbox, sandbox_accounts=sandbox_accounts
    )
    with aws_context(options, loaded) as ctx:
        if sandbox:
            _deploy_into_sandbox(ctx, loaded)
        timeline = read_timeline(ctx, loaded, query)
    typer.echo(json.dumps(timeline.to_dict(), indent=2) if output is TimelineOutput.json else timeline.to_text())


def _deploy_into_sandbox(ctx: Any, config: Any) -> None:
    """A fresh sandbox has no hub: deploy the config first, as `bootstrap --enable-trusted-access --yes` would."""
    from orgdeploy.errors import OrgDeployError
    from orgdeploy.running.deploy import RunOptions, apply
    from orgdeploy.running.executor import ExecutorSettings
    from orgdeploy.running.progress import SilentReporter

    typer.echo("sandbox: deploying the config (with notifications) into the emulated organization...", err=True)
    report = apply(
        ctx,
        config,
        options=RunOptions(enable_trusted_access=True),
        reporter=SilentReporter(),
        settings=ExecutorSettings(),
        confirm=lambda _plan: True,
    )
    if report.failed and report.execution is not None:
        results = report.execution.results
        failed = [f"{r.step.id}: {r.message}" for r in results if r.outcome != "succeeded" or r.failures]
        raise OrgDeployError("deploying the config into the sandbox failed:\n  " + "\n  ".join(failed))


def register(app: typer.Typer) -> None:
    app.command()(events)
