"""`orgdeploy census`: a read-only survey of existing Config state across the organization."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from orgdeploy.cli.aws_options import AwsCliOptions, EndpointUrl, Profile, Region, Sandbox, aws_context
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption


class CensusOutput(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


def census(
    config: ConfigOption = DEFAULT_CONFIG,
    output: Annotated[
        CensusOutput, typer.Option("--output", "-o", help="text: a matrix; json and csv: every detail.")
    ] = CensusOutput.text,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Survey every account and Region for existing AWS Config, changing nothing.

    For each active account (through census.role_name, assumed in parallel)
    and each configured Region: whether the Region is enabled, the recorder if
    any and who made it (orgdeploy, Control Tower, a service-linked recorder, or
    someone else), its strategy, global types, whether it records, the delivery
    channel, and whether AWSServiceRoleForConfig exists. An account that cannot
    be read is shown as unknown with the reason.
    """
    import json

    from orgdeploy.aws.census import survey
    from orgdeploy.aws.organizations import read_organization
    from orgdeploy.census_report import Census
    from orgdeploy.config import load_config
    from orgdeploy.inventory import AccountFacts

    loaded = load_config(config)
    with aws_context(AwsCliOptions(profile, region, endpoint_url, sandbox), loaded) as ctx:
        org = read_organization(ctx)
        active = [a.id for a in org.accounts if a.active]
        typer.echo(f"surveying {len(active)} accounts in {len(loaded.regions)} Regions", err=True)
        facts = survey(
            ctx,
            active,
            list(loaded.regions),
            management=org.management_account_id,
            orgdeploy_recorder=f"{loaded.stacksets.name_prefix}-recorder",
        )
    inactive = tuple(AccountFacts(a.id, False, f"account is {a.status}") for a in org.accounts if not a.active)
    result = Census(org, tuple(loaded.regions), facts + inactive)
    if output is CensusOutput.json:
        typer.echo(json.dumps({"regions": list(loaded.regions), "rows": result.rows()}, indent=2))
    elif output is CensusOutput.csv:
        typer.echo(result.to_csv(), nl=False)
    else:
        typer.echo(result.to_text())


def register(app: typer.Typer) -> None:
    app.command()(census)
