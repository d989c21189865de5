"""Commands that change or read the organization: plan, bootstrap, update, add-region, status, destroy."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from orgdeploy.cli.aws_options import (
    AwsCliOptions,
    EndpointUrl,
    Profile,
    Region,
    Sandbox,
    SandboxAccounts,
    SandboxOpSeconds,
    SandboxThrottle,
    aws_context,
    is_interactive,
)
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption


class Output(StrEnum):
    text = "text"
    json = "json"


OutputOption = Annotated[Output, typer.Option("--output", "-o", help="text for people, json for scripts.")]
YesOption = Annotated[
    bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (required without a terminal).")
]
TrustedAccess = Annotated[
    bool,
    typer.Option("--enable-trusted-access", help="Turn on StackSets trusted access with Organizations if it is off."),
]
QuotaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--quota",
        help="Override a StackSets quota, e.g. --quota instances=200000 or --quota stack-sets=2000.",
        metavar="NAME=VALUE",
    ),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for one operation or stack.", min=1)]


def _options(**kwargs: Any) -> AwsCliOptions:
    return AwsCliOptions(**kwargs)


def _quotas(values: list[str] | None) -> Any:
    from orgdeploy.errors import BadInputError
    from orgdeploy.inventory import Quotas

    if not values:
        return None
    quotas = Quotas(source="--quota")
    for item in values:
        name, _, raw = item.partition("=")
        if not raw.isdigit() or int(raw) < 1 or name not in {"instances", "stack-sets"}:
            raise BadInputError(f"--quota {item!r}: expected instances=N or stack-sets=N with N a positive integer")
        if name == "instances":
            quotas = Quotas(quotas.stack_sets, int(raw), "--quota")
        else:
            quotas = Quotas(int(raw), quotas.instances_per_stack_set, "--quota")
    return quotas


def plan(
    config: ConfigOption = DEFAULT_CONFIG,
    output: OutputOption = Output.text,
    enable_trusted_access: TrustedAccess = False,
    quota: QuotaOption = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
) -> None:
    """Show what bootstrap or update would do, without changing anything.

    Reads the organization, the stack sets and stacks orgdeploy owns, the
    StackSets quotas, and every account's existing Config state, then prints
    the ordered steps. `--output json` prints the documented plan contract.
    """
    from orgdeploy.config import load_config
    from orgdeploy.deploy import RunOptions, make_plan
    from orgdeploy.report_text import plan_text

    loaded = load_config(config)
    quotas = _quotas(quota)
    options = _options(
        profile=profile, region=region, endpoint_url=endpoint_url, sandbox=sandbox, sandbox_accounts=sandbox_accounts
    )
    with aws_context(options, loaded) as ctx:
        _, the_plan = make_plan(
            ctx, loaded, options=RunOptions(enable_trusted_access=enable_trusted_access, quota_override=quotas)
        )
    if output is Output.json:
        typer.echo(json.dumps(the_plan.to_dict(), indent=2))
    else:
        typer.echo(plan_text(the_plan))


def _run(
    *,
    config: Path,
    output: Output,
    yes: bool,
    enable_trusted_access: bool,
    quota: list[str] | None,
    timeout: float,
    options: AwsCliOptions,
    dry_run: bool = False,
) -> None:
    from orgdeploy.config import load_config
    from orgdeploy.deploy import RunOptions, apply
    from orgdeploy.errors import BadInputError
    from orgdeploy.executor import ExecutorSettings
    from orgdeploy.progress import LineReporter, LiveReporter, SilentReporter
    from orgdeploy.report_text import execution_text, plan_text

    loaded = load_config(config)
    quotas = _quotas(quota)
    interactive = is_interactive()
    if not yes and not interactive and not dry_run:
        raise BadInputError("not on a terminal: pass --yes to apply the plan without a confirmation prompt")
    reporter: Any = SilentReporter() if output is Output.json else LineReporter()

    def confirm(the_plan: Any) -> bool:
        nonlocal reporter
        if output is Output.text:
            typer.echo(plan_text(the_plan))
        if dry_run:
            return False
        if not yes and not typer.confirm("Apply this plan?", default=False):
            return False
        if output is Output.text and interactive:
            reporter = LiveReporter(the_plan.steps)
            executor_reporter.target = reporter
        return True

    class _Forward:
        target: Any = reporter

        def step_started(self, step: Any) -> None:
            self.target.step_started(step)

        def step_progress(self, step: Any, done: int, total: int) -> None:
            self.target.step_progress(step, done, total)

        def step_finished(self, result: Any) -> None:
            self.target.step_finished(result)

    executor_reporter = _Forward()
    settings = ExecutorSettings(operation_timeout=timeout)
    log = reporter.log if output is Output.text else None
    with aws_context(options, loaded) as ctx:
        try:
            report = apply(
                ctx,
                loaded,
                options=RunOptions(enable_trusted_access=enable_trusted_access, quota_override=quotas),
                reporter=executor_reporter,
                settings=settings,
                confirm=confirm,
                progress=log,
            )
        finally:
            executor_reporter.target.close()
    if output is Output.json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif not report.plan.changes:
        typer.echo(plan_text(report.plan))
    elif report.execution is not None:
        typer.echo(execution_text(report.execution))
    if report.failed:
        raise typer.Exit(1)


def bootstrap(
    config: ConfigOption = DEFAULT_CONFIG,
    yes: YesOption = False,
    enable_trusted_access: TrustedAccess = False,
    output: OutputOption = Output.text,
    quota: QuotaOption = None,
    timeout: TimeoutOption = 3600.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
    sandbox_op_seconds: SandboxOpSeconds = 1.0,
    sandbox_throttle_rate: SandboxThrottle = 0.0,
) -> None:
    """Deploy AWS Config across the whole organization.

    In order: trusted access (with --enable-trusted-access), the central
    delivery bucket, the service-linked role (home Region), the recorders (home
    Region first, then the others in parallel), the management account's own
    stacks, the aggregator, the conformance packs, then a read-back check.
    Re-running converges: only what is missing or different is done again.

    Exit status: 0 success or nothing to do, 1 something failed, 2 bad input.
    """
    _run(
        config=config,
        output=output,
        yes=yes,
        enable_trusted_access=enable_trusted_access,
        quota=quota,
        timeout=timeout,
        options=_options(
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
            sandbox=sandbox,
            sandbox_accounts=sandbox_accounts,
            sandbox_op_seconds=sandbox_op_seconds,
            sandbox_throttle_rate=sandbox_throttle_rate,
        ),
    )


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(bootstrap)
