"""Commands that read or remove what orgdeploy deployed: status and destroy."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from orgdeploy.cli.aws_options import (
    AwsCliOptions,
    EndpointUrl,
    Profile,
    Region,
    Sandbox,
    aws_context,
    deploy_into_sandbox,
    is_interactive,
)
from orgdeploy.cli.commands_deploy import Output, OutputOption, TimeoutOption, YesOption
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption

NoCoverage = Annotated[
    bool,
    typer.Option(
        "--no-coverage",
        help="Only orgdeploy's stack sets and stacks: skip reading each account's recorders (no calls in members).",
    ),
]


DriftOption = Annotated[
    bool,
    typer.Option(
        "--drift",
        help="Also run DetectStackSetDrift on orgdeploy's stack sets and list each drifted instance's changed "
        "properties (one StackSets operation per stack set; it takes a while).",
    ),
]


def status(
    config: ConfigOption = DEFAULT_CONFIG,
    output: OutputOption = Output.text,
    no_coverage: NoCoverage = False,
    drift: DriftOption = False,
    timeout: TimeoutOption = 1800.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Is AWS Config recording, as configured, everywhere it should? And is what orgdeploy deployed healthy?

    Coverage: for every targeted account and Region (read through census.role_name, eight
    accounts at a time), the recorder there and whose it is, whether it records, its last
    status and error, its channel's last delivery, and whether its recording group and mode
    match the config. A pair is covered when a customer-managed recorder records there; for
    orgdeploy's recorder also with the configured group and mode. A Region the account has not
    enabled is not applicable. Then, per stack set: instance counts by status, every instance
    that is not CURRENT with its reason, and operations in flight; then the plain stacks.

    With --drift, CloudFormation's drift detection runs on every orgdeploy stack set first, and
    each drifted instance is listed with its changed properties. `orgdeploy update` starts stopped
    orgdeploy recorders and puts changed ones back.

    Exit status: 0 healthy and covered; 1 any pair not covered or anything deployed not healthy;
    2 bad input.
    """
    from orgdeploy.aws.inventory_reader import read_inventory
    from orgdeploy.config.model import load_config
    from orgdeploy.reporting.coverage import coverage_of
    from orgdeploy.reporting.status import status_report

    loaded = load_config(config)
    options = AwsCliOptions(profile=profile, region=region, endpoint_url=endpoint_url, sandbox=sandbox)
    say = (lambda message: typer.echo(message, err=True)) if output is Output.text else None
    with aws_context(options, loaded) as ctx:
        if sandbox:
            deploy_into_sandbox(ctx, loaded)
        inventory = read_inventory(ctx, loaded, census=not no_coverage, detail=True, progress=say)
        drifts = _detect_drift(ctx, loaded, inventory, timeout, say) if drift else None
        report = status_report(inventory, None if no_coverage else coverage_of(loaded, inventory), drifts)
    typer.echo(json.dumps(report.to_dict(), indent=2) if output is Output.json else report.to_text())
    if not report.healthy:
        raise typer.Exit(1)


def _detect_drift(ctx: Any, config: Any, inventory: Any, timeout: float, say: Any) -> Any:
    from orgdeploy.aws.drift import detect_drift
    from orgdeploy.aws.stacksets import StackSetsGateway
    from orgdeploy.planning.steps import operation_preferences

    gateway = StackSetsGateway(ctx, region=config.home_region, call_as=config.admin.call_as)
    names = [s.name for s in inventory.stack_sets if s.instances]
    return detect_drift(
        gateway, names, preferences=operation_preferences(config), timeout=timeout, say=say or (lambda _m: None)
    )


def destroy(
    config: ConfigOption = DEFAULT_CONFIG,
    yes: YesOption = False,
    retain_resources: Annotated[
        bool,
        typer.Option(
            "--retain-resources",
            help="Remove orgdeploy's stack sets but keep every stack and resource in the accounts.",
        ),
    ] = False,
    output: OutputOption = Output.text,
    timeout: TimeoutOption = 3600.0,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Remove everything orgdeploy created, in reverse dependency order.

    Conformance packs and the aggregator go first, then the recorders (stack
    set instances and the management account's stacks), then the service-linked
    role stacks and the delivery bucket. Buckets are emptied and deleted unless
    --retain-resources is given.
    """
    from orgdeploy.aws.inventory_reader import read_inventory
    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.planning.teardown import plan_destroy
    from orgdeploy.reporting.run_text import execution_text, plan_text
    from orgdeploy.running.executor import Executor, ExecutorSettings
    from orgdeploy.running.progress import LineReporter, SilentReporter
    from orgdeploy.templates.render import render_all

    loaded = load_config(config)
    if not yes and not is_interactive():
        raise BadInputError("not on a terminal: pass --yes to destroy without a confirmation prompt")
    options = AwsCliOptions(profile=profile, region=region, endpoint_url=endpoint_url, sandbox=sandbox)
    with aws_context(options, loaded) as ctx:
        # The census finds adopted recorders, which destroy gives back instead of deleting.
        inventory = read_inventory(ctx, loaded, census=True)
        the_plan = plan_destroy(loaded, inventory, retain=retain_resources)
        if output is Output.text:
            typer.echo(plan_text(the_plan) if the_plan.steps else "Nothing deployed by orgdeploy was found.")
        if not the_plan.steps:
            return
        if not yes and not typer.confirm("Destroy all of this?", default=False):
            raise typer.Exit(1)
        reporter = SilentReporter() if output is Output.json else LineReporter()
        executor = Executor(ctx, loaded, render_all(loaded), reporter, ExecutorSettings(operation_timeout=timeout))
        executor.wait_for_in_flight([s.name for s in inventory.stack_sets])
        result = executor.run(the_plan)
    typer.echo(json.dumps(result.to_dict(), indent=2) if output is Output.json else execution_text(result))
    if result.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(destroy)
