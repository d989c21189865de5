"""AWS connection options shared by every AWS-facing command, and the --sandbox switch."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from pathlib import Path

    from orgdeploy.aws.session import AwsContext
    from orgdeploy.config.model import Config

Profile = Annotated[
    str | None, typer.Option("--profile", help="Named AWS profile (as the AWS CLI's --profile).", envvar="AWS_PROFILE")
]
Region = Annotated[
    str | None, typer.Option("--region", help="Region for global calls (default: the config's home_region).")
]
EndpointUrl = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Send every AWS call here (also honours AWS_ENDPOINT_URL, as boto3 does)."),
]
Sandbox = Annotated[
    bool,
    typer.Option(
        "--sandbox", help="Run against an emulated organization started in this process (needs the sandbox extra)."
    ),
]
SandboxOpSeconds = Annotated[
    float, typer.Option("--sandbox-op-seconds", help="With --sandbox: seconds each StackSet operation runs.", min=0)
]
SandboxThrottle = Annotated[
    float,
    typer.Option(
        "--sandbox-throttle-rate", help="With --sandbox: share of calls that get a throttling error.", min=0, max=1
    ),
]
SandboxAccounts = Annotated[
    int, typer.Option("--sandbox-accounts", help="With --sandbox: member accounts to seed.", min=4)
]


@dataclass(frozen=True)
class AwsCliOptions:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    sandbox_op_seconds: float = 1.0
    sandbox_throttle_rate: float = 0.0
    sandbox_accounts: int = 8
    sandbox_clock_offset: float = 0.0  # negative: the sandbox clock starts in the past


@contextlib.contextmanager
def aws_context(options: AwsCliOptions, config: Config) -> Iterator[AwsContext]:
    """An AwsContext for the real credential chain, or for a sandbox that lives as long as the block."""
    from orgdeploy.aws.session import AwsContext, AwsOptions

    role_arns = _role_arns(config)
    if not options.sandbox:
        yield AwsContext(
            AwsOptions(
                options.profile,
                options.region,
                options.endpoint_url,
                member_role=config.census.role_name,
                role_arns=role_arns,
            ),
            default_region=config.home_region,
        )
        return
    sandbox = _start_sandbox(options, config)
    _RUNNING.append(sandbox)
    try:
        typer.echo(f"sandbox: emulated organization at {sandbox.endpoint_url}", err=True)
        typer.echo(sandbox.summary.to_text().rstrip(), err=True)
        yield AwsContext.with_static_keys(
            AwsOptions(
                None, config.home_region, sandbox.endpoint_url, member_role=config.census.role_name, role_arns=role_arns
            ),
            access_key="testing",
            secret_key="testing",
            region=config.home_region,
        )
    finally:
        _RUNNING.remove(sandbox)
        sandbox.stop()


def _role_arns(config: Config) -> tuple[tuple[str, str], ...]:
    management = config.management_account
    if management.role_arn and management.role_account:
        return ((management.role_account, management.role_arn),)
    return ()


_RUNNING: list[Any] = []  # the sandbox aws_context started, while its block runs


def deploy_into_sandbox(ctx: AwsContext, config: Config, *, then_a_day: bool = False) -> None:
    """A fresh sandbox holds nothing of the config: deploy it, as `bootstrap --enable-trusted-access --yes` would.

    then_a_day plays 24 hours of changes to the workloads on the sandbox clock (org/workloads.py), so
    AWS Config has something to report.
    """
    from orgdeploy.errors import OrgDeployError
    from orgdeploy.running.deploy import RunOptions, apply
    from orgdeploy.running.executor import ExecutorSettings
    from orgdeploy.running.progress import SilentReporter

    typer.echo("sandbox: deploying the config into the emulated organization...", err=True)
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
    if then_a_day and _RUNNING:
        from orgdeploy.sandbox.org.workloads import play_a_day

        sandbox = _RUNNING[-1]
        for line in play_a_day(sandbox.summary, home_region=sandbox.home_region):
            typer.echo(f"sandbox: {line}", err=True)


def _start_sandbox(options: AwsCliOptions, config: Config) -> Any:
    from orgdeploy.errors import BadInputError

    try:
        from orgdeploy.sandbox.server import start_sandbox
    except ImportError as exc:
        raise BadInputError(
            f"--sandbox needs the sandbox extra: pip install 'orgdeploy[sandbox]' ({exc.name} is missing)"
        ) from None
    typer.echo("sandbox: starting an emulated organization...", err=True)
    return start_sandbox(
        accounts=options.sandbox_accounts,
        op_seconds=options.sandbox_op_seconds,
        throttle_rate=options.sandbox_throttle_rate,
        home_region=config.home_region,
        clock_offset=options.sandbox_clock_offset,
    )


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def config_for_reading(path: Path, *, aggregator: str | None, region: str | None) -> tuple[Config, bool]:
    """The config at path, or without one (given --aggregator) the shipped example as a stand-in.

    Returns (config, whether it came from the user's file). The stand-in only supplies defaults (the
    census role, the Region to read); with --sandbox it is also what gets deployed, so that there is
    something real to read.
    """
    from orgdeploy.config.model import CONFIG_FILENAME, load_config
    from orgdeploy.errors import BadInputError

    file = path / CONFIG_FILENAME if path.is_dir() else path
    if file.is_file() or aggregator is None:
        return load_config(path), True
    from orgdeploy.templates.jinja import cfn_dir
    from orgdeploy.templates.scaffold import EXAMPLE_CONFIG

    example = load_config(cfn_dir() / EXAMPLE_CONFIG)
    if region is None:
        raise BadInputError(f"{file}: no config here, so give the aggregator's Region with --region (and --aggregator)")
    return example.model_copy(update={"home_region": region}), False
