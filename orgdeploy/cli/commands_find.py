"""Commands that look things up in an aggregator: find (one resource) and inventory (resource counts)."""

from __future__ import annotations

import csv
import io
import json
import re
from enum import StrEnum
from typing import Annotated

import typer

from orgdeploy.cli.aws_options import (
    AwsCliOptions,
    EndpointUrl,
    Profile,
    Sandbox,
    SandboxAccounts,
    aws_context,
    config_for_reading,
    deploy_into_sandbox,
)
from orgdeploy.cli.commands_report import ACCOUNT_ID, AGGREGATOR_NAME
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption

_TYPE = re.compile(r"^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$")

AggregatorOption = Annotated[
    str | None,
    typer.Option(
        "--aggregator", metavar="NAME", help="Aggregator to read (default: aggregator.name); any one will do."
    ),
]
AggregatorRegion = Annotated[
    str | None,
    typer.Option(
        "--aggregator-region",
        metavar="R",
        help="The aggregator's Region (default: the config's home_region; without a config, --region).",
    ),
]


class FindOutput(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class InventoryGroup(StrEnum):
    type = "type"
    account = "account"
    region = "region"


def _check(aggregator: str | None, resource_type: str | None, account: str | None) -> None:
    from orgdeploy.errors import BadInputError

    if aggregator is not None and not AGGREGATOR_NAME.match(aggregator):
        raise BadInputError(f"--aggregator {aggregator!r}: 1 to 256 letters, digits, '_' or '-'")
    if resource_type is not None and not _TYPE.match(resource_type):
        raise BadInputError(f"--type {resource_type!r}: expected a resource type such as AWS::S3::Bucket")
    if account is not None and not ACCOUNT_ID.match(account):
        raise BadInputError(f"--account {account!r}: expected a 12-digit account id")


def find(
    query: Annotated[str, typer.Argument(help="A resource id, ARN or name (a bucket name, sg-..., arn:aws:...).")],
    prefix: Annotated[bool, typer.Option("--prefix", help="Match ids, names and ARNs that start with QUERY.")] = False,
    resource_type: Annotated[
        str | None, typer.Option("--type", metavar="T", help="Only this type, e.g. AWS::S3::Bucket.")
    ] = None,
    account: Annotated[str | None, typer.Option("--account", metavar="ID", help="Only this account.")] = None,
    region: Annotated[str | None, typer.Option("--region", metavar="R", help="Only resources in this Region.")] = None,
    output: Annotated[FindOutput, typer.Option("--output", "-o", help="table, json or csv.")] = FindOutput.table,
    config: ConfigOption = DEFAULT_CONFIG,
    aggregator: AggregatorOption = None,
    aggregator_region: AggregatorRegion = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
) -> None:
    """Is this my bucket? Find a resource across the organization, with its account, OU and rule compliance.

    One advanced query per property (resourceId, resourceName, arn) through the aggregator, then the
    hits' AWS::Config::ResourceCompliance items: each rule's compliance, with its common name and
    pack. Accounts are named from Organizations when the caller may read it. Without an
    orgdeploy.yaml, give --aggregator NAME and its Region (--aggregator-region, or --region).
    With --sandbox the config (or the shipped example) is deployed into a fresh emulated
    organization first.

    Exit status: 0 found; 1 nothing found; 2 bad input.
    """
    from orgdeploy.aws.find import find_resources
    from orgdeploy.errors import BadInputError
    from orgdeploy.reporting.find import FindQuery, render_find

    _check(aggregator, resource_type, account)
    if not query.strip():
        raise BadInputError("QUERY is empty: give a resource id, ARN or name")
    loaded, from_file = config_for_reading(config, aggregator=aggregator, region=aggregator_region or region)
    wanted = FindQuery(query.strip(), prefix, resource_type, account, region)
    wanted.expressions()  # refuses a query too long for the language before any call
    where = aggregator_region or loaded.home_region
    options = AwsCliOptions(
        profile=profile, region=where, endpoint_url=endpoint_url, sandbox=sandbox, sandbox_accounts=sandbox_accounts
    )
    from orgdeploy.cli.commands_report import pack_index_of
    from orgdeploy.reporting.rule_names import PackIndex

    # Without a config of the user's, the example's packs say nothing about this aggregator's rules.
    packs = pack_index_of(loaded) if from_file or sandbox else PackIndex()
    with aws_context(options, loaded) as ctx:
        if sandbox:
            deploy_into_sandbox(ctx, loaded)
        hits = find_resources(
            ctx,
            aggregator=aggregator or loaded.aggregator.name,
            region=where,
            query=wanted,
            packs=packs,
            rate=None,
        )
    typer.echo(render_find(hits, output.value, wanted))
    if not hits:
        raise typer.Exit(1)


def inventory(
    group_by: Annotated[InventoryGroup, typer.Option("--group-by", help="What to count by.")] = InventoryGroup.type,
    resource_type: Annotated[
        str | None, typer.Option("--type", metavar="T", help="Count only this type, e.g. AWS::EC2::Volume.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", metavar="R", help="Count only this Region.")] = None,
    output: Annotated[FindOutput, typer.Option("--output", "-o", help="table, json or csv.")] = FindOutput.table,
    config: ConfigOption = DEFAULT_CONFIG,
    aggregator: AggregatorOption = None,
    aggregator_region: AggregatorRegion = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
) -> None:
    """Count the resources AWS Config records across the organization, by type, account or Region.

    Reads GetAggregateDiscoveredResourceCounts from the aggregator; accounts are named from
    Organizations when the caller may read it. Without an orgdeploy.yaml, give --aggregator NAME
    and its Region (--aggregator-region, or --region).

    Exit status: 0; 2 bad input.
    """
    from orgdeploy.aws.find import resource_counts
    from orgdeploy.aws.organizations import account_names

    _check(aggregator, resource_type, None)
    loaded, _ = config_for_reading(config, aggregator=aggregator, region=aggregator_region or region)
    where = aggregator_region or loaded.home_region
    options = AwsCliOptions(
        profile=profile, region=where, endpoint_url=endpoint_url, sandbox=sandbox, sandbox_accounts=sandbox_accounts
    )
    key = {"type": "RESOURCE_TYPE", "account": "ACCOUNT_ID", "region": "AWS_REGION"}[group_by.value]
    with aws_context(options, loaded) as ctx:
        if sandbox:
            deploy_into_sandbox(ctx, loaded)
        total, groups = resource_counts(
            ctx,
            aggregator=aggregator or loaded.aggregator.name,
            region=where,
            group=key,
            resource_type=resource_type,
            in_region=region,
        )
        names = account_names(ctx) if group_by is InventoryGroup.account else {}
    rows = sorted(((g["GroupName"], int(g["ResourceCount"])) for g in groups), key=lambda r: (-r[1], r[0]))
    if output is FindOutput.json:
        listed = [{"group": n, "name": names.get(n, ("", ""))[0], "count": c} for n, c in rows]
        typer.echo(json.dumps({"group_by": group_by.value, "total": total, "groups": listed}, indent=2))
        return
    if output is FindOutput.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([group_by.value, "name", "count"])
        writer.writerows([n, names.get(n, ("", ""))[0], c] for n, c in rows)
        typer.echo(buffer.getvalue().rstrip("\n"))
        return
    width = max([len(group_by.value), *(len(_label(n, names)) for n, _ in rows)])
    lines = [f"{group_by.value.upper():<{width}}  RESOURCES"]
    lines += [f"{_label(n, names):<{width}}  {c}" for n, c in rows]
    lines.append(f"{total} resource(s) recorded" + (f" of type {resource_type}" if resource_type else "") + ".")
    typer.echo("\n".join(lines))


def _label(group: str, names: dict[str, tuple[str, str]]) -> str:
    name, path = names.get(group, ("", ""))
    return f"{group} {name} ({path})" if name else group


def register(app: typer.Typer) -> None:
    app.command()(find)
    app.command()(inventory)
