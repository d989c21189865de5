"""Commands that change or read the organization: plan, bootstrap, update, add-region, status, destroy."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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

if TYPE_CHECKING:
    from orgdeploy.config.model import Config


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
SkipUnreadable = Annotated[
    bool,
    typer.Option(
        "--skip-unreadable-accounts",
        help="Plan around accounts the census cannot read (their instances are left as they are) "
        "instead of refusing to plan.",
    ),
]
QuotaOption = Annotated[
    list[str] | None,
    typer.Option(
        "--quota",
        help="Override a StackSets quota, e.g. --quota instances=200000 or --quota stack-sets=2000.",
        metavar="NAME=VALUE",
    ),
]


class CensusMode(StrEnum):
    changed = "changed"
    full = "full"


CensusOption = Annotated[
    CensusMode,
    typer.Option(
        "--census",
        help="changed: read only the accounts and Regions without a healthy orgdeploy recorder instance, or "
        "whose aggregator source FAILED or is OUTDATED (a converged organization costs no call in its member "
        "accounts). full: read every account and Region, which also finds recorders stopped or changed by hand "
        "behind healthy instances.",
    ),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait for one operation or stack.", min=1)]


def _quotas(values: list[str] | None) -> Any:
    from orgdeploy.errors import BadInputError
    from orgdeploy.planning.inventory import Quotas

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
    skip_unreadable_accounts: SkipUnreadable = False,
    census: CensusOption = CensusMode.changed,
    quota: QuotaOption = None,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
) -> None:
    """Show what bootstrap or update would do, without changing anything.

    Reads the organization, the stack sets and stacks orgdeploy owns, the
    StackSets quotas, and the existing Config state of every account and Region
    that has no healthy orgdeploy recorder yet (all of them with --census full),
    then prints the ordered steps. `--output json` prints the documented plan
    contract; progress goes to stderr.
    """
    from orgdeploy.config.model import load_config
    from orgdeploy.reporting.run_text import plan_text
    from orgdeploy.running.deploy import make_plan

    loaded = load_config(config)
    run = _run_options(
        quota, enable_trusted_access=enable_trusted_access, skip_unreadable=skip_unreadable_accounts, census=census
    )
    options = AwsCliOptions(
        profile=profile, region=region, endpoint_url=endpoint_url, sandbox=sandbox, sandbox_accounts=sandbox_accounts
    )
    say = (lambda message: typer.echo(message, err=True)) if output is Output.text else None
    with aws_context(options, loaded) as ctx:
        _, the_plan = make_plan(ctx, loaded, options=run, progress=say)
    if output is Output.json:
        typer.echo(json.dumps(the_plan.to_dict(), indent=2))
    else:
        typer.echo(plan_text(the_plan))


def _run_options(
    quota: list[str] | None,
    *,
    enable_trusted_access: bool = False,
    skip_unreadable: bool,
    census: CensusMode = CensusMode.changed,
) -> Any:
    """RunOptions from the command line (checked before any AWS call)."""
    from orgdeploy.running.deploy import RunOptions

    return RunOptions(
        enable_trusted_access=enable_trusted_access,
        quota_override=_quotas(quota),
        skip_unreadable=skip_unreadable,
        full_census=census is CensusMode.full,
    )


def _run(*, config: Config, output: Output, yes: bool, run: Any, timeout: float, options: AwsCliOptions) -> None:
    _require_yes_or_terminal(yes)
    with aws_context(options, config) as ctx:
        _apply_in(ctx, config, output=output, yes=yes, run=run, timeout=timeout)


def _require_yes_or_terminal(yes: bool) -> None:
    from orgdeploy.errors import BadInputError

    if not yes and not is_interactive():
        raise BadInputError("not on a terminal: pass --yes to apply the plan without a confirmation prompt")


def _apply_in(
    ctx: Any,
    loaded: Any,
    *,
    output: Output,
    yes: bool,
    run: Any,
    timeout: float,
) -> None:
    """Plan, confirm, execute and report, with an open AwsContext. Exit 1 when anything failed."""
    from orgdeploy.reporting.run_text import execution_text, plan_text
    from orgdeploy.running.deploy import apply
    from orgdeploy.running.executor import ExecutorSettings
    from orgdeploy.running.progress import LineReporter, LiveReporter, SilentReporter, SwitchableReporter

    reporter = SwitchableReporter(SilentReporter() if output is Output.json else LineReporter())

    def confirm(the_plan: Any) -> bool:
        if output is Output.text:
            typer.echo(plan_text(the_plan))
        if not yes and not typer.confirm("Apply this plan?", default=False):
            return False
        if output is Output.text and is_interactive():
            reporter.switch_to(LiveReporter(the_plan.steps))
        return True

    summary = ""
    try:
        report = apply(
            ctx,
            loaded,
            options=run,
            reporter=reporter,
            settings=ExecutorSettings(operation_timeout=timeout),
            confirm=confirm,
            progress=reporter.log if output is Output.text else None,
        )
        if output is Output.text and report.execution is not None:
            summary = _summary(ctx, loaded, full_census=run.full_census)
    finally:
        reporter.close()
    if output is Output.json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif report.execution is None:
        typer.echo(plan_text(report.plan))
    else:
        typer.echo(execution_text(report.execution))
        typer.echo("")
        typer.echo(summary)
    if report.failed:
        raise typer.Exit(1)


def _summary(ctx: Any, config: Any, *, full_census: bool = True) -> str:
    """What is deployed and recording now, read back from AWS (not from what the run believes it did).

    Without full_census, pairs whose orgdeploy instances are healthy are vouched for, not read (as the plan).
    """
    from orgdeploy.aws.inventory_reader import read_inventory
    from orgdeploy.reporting.coverage import coverage_of
    from orgdeploy.reporting.status import status_report

    inventory = read_inventory(ctx, config, detail=True, full_census=full_census)
    return status_report(inventory, coverage_of(config, inventory)).to_text()


def bootstrap(
    config: ConfigOption = DEFAULT_CONFIG,
    yes: YesOption = False,
    enable_trusted_access: TrustedAccess = False,
    skip_unreadable_accounts: SkipUnreadable = False,
    census: CensusOption = CensusMode.changed,
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
    from orgdeploy.config.model import load_config

    _run(
        config=load_config(config),
        output=output,
        yes=yes,
        run=_run_options(
            quota, enable_trusted_access=enable_trusted_access, skip_unreadable=skip_unreadable_accounts, census=census
        ),
        timeout=timeout,
        options=AwsCliOptions(
            profile=profile,
            region=region,
            endpoint_url=endpoint_url,
            sandbox=sandbox,
            sandbox_accounts=sandbox_accounts,
            sandbox_op_seconds=sandbox_op_seconds,
            sandbox_throttle_rate=sandbox_throttle_rate,
        ),
    )


def update(
    config: ConfigOption = DEFAULT_CONFIG,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print template diffs and the planned operations; change nothing.")
    ] = False,
    yes: YesOption = False,
    output: OutputOption = Output.text,
    skip_unreadable_accounts: SkipUnreadable = False,
    census: CensusOption = CensusMode.changed,
    quota: QuotaOption = None,
    timeout: TimeoutOption = 3600.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
    sandbox_op_seconds: SandboxOpSeconds = 1.0,
) -> None:
    """The CI job: lint gate, diff, apply.

    Renders and lints every template first (any cfn-lint error stops here with
    exit 2), then plans only the delta against what is deployed and applies it.
    `--dry-run` prints unified diffs of the templates and the planned operations.

    Exit status: 0 success or no change, 1 a step failed, 2 bad input (config,
    arguments, or templates with lint errors).
    """
    loaded = _lint_gate(config)
    options = AwsCliOptions(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        sandbox_accounts=sandbox_accounts,
        sandbox_op_seconds=sandbox_op_seconds,
    )
    run = _run_options(quota, skip_unreadable=skip_unreadable_accounts, census=census)
    if dry_run:
        _dry_run(config=loaded, output=output, run=run, options=options)
        return
    _run(config=loaded, output=output, yes=yes, run=run, timeout=timeout, options=options)


def _lint_gate(config: Path) -> Config:
    """The loaded config, once every rendered template lints without errors (else exit 2)."""
    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.templates.lint import format_result, lint_config

    loaded = load_config(config)
    result = lint_config(loaded)
    if result.count("error"):
        raise BadInputError("cfn-lint found errors; nothing was deployed:\n" + format_result(result, "text"))
    return loaded


def _dry_run(*, config: Config, output: Output, run: Any, options: AwsCliOptions) -> None:
    from orgdeploy.planning.diffs import template_diffs
    from orgdeploy.reporting.run_text import plan_text
    from orgdeploy.running.deploy import make_plan
    from orgdeploy.templates.render import render_all

    rendered = render_all(config)
    say = (lambda message: typer.echo(message, err=True)) if output is Output.text else None
    with aws_context(options, config) as ctx:
        inventory, the_plan = make_plan(ctx, config, options=run, rendered=rendered, progress=say)
    diffs = template_diffs(the_plan, inventory, rendered)
    if output is Output.json:
        typer.echo(json.dumps({"plan": the_plan.to_dict(), "diffs": diffs}, indent=2))
        return
    for diff in diffs:
        typer.echo(diff)
    typer.echo(plan_text(the_plan))


def add_region(
    regions: Annotated[list[str], typer.Argument(help="Regions to add, e.g. ap-southeast-2 sa-east-1.")],
    config: ConfigOption = DEFAULT_CONFIG,
    yes: YesOption = False,
    output: OutputOption = Output.text,
    skip_unreadable_accounts: SkipUnreadable = False,
    census: CensusOption = CensusMode.changed,
    timeout: TimeoutOption = 3600.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
    sandbox_op_seconds: SandboxOpSeconds = 1.0,
) -> None:
    """Add Regions to orgdeploy.yaml (keeping its comments and layout), then deploy only them.

    Only the delta runs: recorder instances, the management account's recorder
    stacks and the conformance packs in the new Regions. The service-linked role
    is never re-created, and the aggregator already covers every Region.
    Regions that are unknown, or not enabled for the management account, are refused.
    """
    from orgdeploy.config.awsdata import known_regions
    from orgdeploy.config.edit import add_regions
    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError

    loaded = load_config(config)
    _require_yes_or_terminal(yes)
    unknown = [r for r in regions if r not in known_regions()]
    if unknown:
        raise BadInputError(f"REGIONS: unknown Region(s) {', '.join(unknown)}; expected names like eu-west-1")
    options = AwsCliOptions(
        profile=profile,
        region=region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        sandbox_accounts=sandbox_accounts,
        sandbox_op_seconds=sandbox_op_seconds,
    )
    new = [r for r in regions if r not in loaded.regions]
    if not new:
        typer.echo(f"{', '.join(regions)} already in regions; nothing to add.", err=True)
    with aws_context(options, loaded) as ctx:
        from orgdeploy.aws.census import disabled_regions

        management = ctx.caller_account
        off = disabled_regions(ctx, management, new)
        if off:
            raise BadInputError(
                f"REGIONS: {', '.join(off)} not enabled for the management account {management}; "
                "enable it first (aws account enable-region)"
            )
        path = config / "orgdeploy.yaml" if config.is_dir() else config
        added = add_regions(path, new)
        if added:
            typer.echo(f"added {', '.join(added)} to {path}", err=True)
        run = _run_options(None, skip_unreadable=skip_unreadable_accounts, census=census)
        _apply_in(ctx, load_config(path), output=output, yes=yes, run=run, timeout=timeout)


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(bootstrap)
    app.command()(update)
    app.command("add-region")(add_region)
