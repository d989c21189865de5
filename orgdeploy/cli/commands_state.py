"""Commands that read or remove what orgdeploy deployed: status and destroy."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from orgdeploy.cli.aws_options import AwsCliOptions, EndpointUrl, Profile, Region, Sandbox, aws_context, is_interactive
from orgdeploy.cli.commands_deploy import Output, OutputOption, TimeoutOption, YesOption
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption


def status(
    config: ConfigOption = DEFAULT_CONFIG,
    output: OutputOption = Output.text,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Show what orgdeploy has deployed and whether it is healthy.

    Per stack set: instance counts by status, every instance that is not
    CURRENT with its reason, and operations in flight; then the plain stacks.
    Exit status 1 when anything is not healthy.
    """
    from orgdeploy.aws.inventory_reader import read_inventory
    from orgdeploy.config.model import load_config
    from orgdeploy.reporting.status import status_report

    loaded = load_config(config)
    options = AwsCliOptions(profile=profile, region=region, endpoint_url=endpoint_url, sandbox=sandbox)
    with aws_context(options, loaded) as ctx:
        report = status_report(read_inventory(ctx, loaded, census=False))
    typer.echo(json.dumps(report.to_dict(), indent=2) if output is Output.json else report.to_text())
    if not report.healthy:
        raise typer.Exit(1)


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
        inventory = read_inventory(ctx, loaded, census=False)
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
