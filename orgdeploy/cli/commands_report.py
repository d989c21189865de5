"""Commands that read what AWS Config found and what it costs: report and cost."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from orgdeploy.cli.aws_options import (
    AwsCliOptions,
    EndpointUrl,
    Profile,
    Sandbox,
    SandboxAccounts,
    SandboxThrottle,
    aws_context,
    config_for_reading,
    deploy_into_sandbox,
)
from orgdeploy.cli.common import DEFAULT_CONFIG, ConfigOption

if TYPE_CHECKING:
    from orgdeploy.config.model import Config
    from orgdeploy.reporting.compliance import RowFilter
    from orgdeploy.reporting.cost import PackSize
    from orgdeploy.reporting.rule_names import PackIndex


class Strategy(StrEnum):
    query = "query"
    rules = "rules"
    auto = "auto"


class GroupBy(StrEnum):
    rule = "rule"
    account = "account"
    region = "region"


class ReportOutput(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    html = "html"


class CostOutput(StrEnum):
    table = "table"
    json = "json"


_SUFFIXES = {
    ".json": ReportOutput.json,
    ".csv": ReportOutput.csv,
    ".html": ReportOutput.html,
    ".htm": ReportOutput.html,
}
AGGREGATOR_NAME = re.compile(r"^[\w-]{1,256}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")


def _where(rules: list[str], accounts: list[str], regions: list[str]) -> RowFilter:
    from orgdeploy.config.awsdata import known_regions
    from orgdeploy.errors import BadInputError
    from orgdeploy.reporting.compliance import RowFilter, check_glob

    for glob in rules:
        try:
            check_glob(glob)
        except ValueError as exc:
            raise BadInputError(f"--rule {glob!r}: not a valid GLOB: {exc}") from None
    for account in accounts:
        if not ACCOUNT_ID.match(account):
            raise BadInputError(f"--account {account!r}: expected a 12-digit account id")
    unknown = [r for r in regions if r not in known_regions()]
    if unknown:
        raise BadInputError(f"--region {', '.join(unknown)}: unknown Region; expected names like eu-west-1")
    return RowFilter(tuple(rules), tuple(dict.fromkeys(accounts)), tuple(dict.fromkeys(regions)))


def _report_format(output: ReportOutput | None, out: Path | None) -> ReportOutput:
    """The format asked for, or the one --out's suffix names; refuse combinations that cannot be meant."""
    from orgdeploy.errors import BadInputError

    implied = _SUFFIXES.get(out.suffix.lower()) if out else None
    chosen = output or implied or ReportOutput.table
    if out is not None and out.is_dir():
        raise BadInputError(f"--out {out}: is a folder; give a file name")
    if output is not None and implied is not None and implied is not output:
        raise BadInputError(f"--out {out} names a {implied.value} file but --output is {output.value}")
    if chosen is ReportOutput.html and out is None:
        raise BadInputError("--output html writes one self-contained page: give --out FILE (e.g. --out report.html)")
    return chosen


def pack_index_of(config: Config) -> PackIndex:
    from orgdeploy.reporting.rule_names import pack_index
    from orgdeploy.templates.naming import pack_resource_name
    from orgdeploy.templates.render import render_pack_body

    return pack_index(
        (pack_resource_name(config, pack), render_pack_body(config, pack).body) for pack in config.conformance_packs
    )


def _records_resource_compliance(config: Config) -> bool:
    kind, types = config.recording.strategy, set(config.recording.resource_types)
    name = "AWS::Config::ResourceCompliance"
    return not ((kind == "include" and name not in types) or (kind == "exclude" and name in types))


def report(
    config: ConfigOption = DEFAULT_CONFIG,
    aggregator: Annotated[
        str | None, typer.Option("--aggregator", metavar="NAME", help="Aggregator to read (default: aggregator.name).")
    ] = None,
    strategy: Annotated[
        Strategy,
        typer.Option("--strategy", help="query: one advanced query; rules: per-rule calls; auto: query if it can."),
    ] = Strategy.auto,
    annotations: Annotated[
        bool, typer.Option("--annotations", help="Fetch each non-compliant evaluation's annotation (more calls).")
    ] = False,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", metavar="GLOB", help="Only rules whose common or raw name matches (repeatable)."),
    ] = None,
    account: Annotated[list[str] | None, typer.Option("--account", metavar="ID", help="Only this account.")] = None,
    region: Annotated[list[str] | None, typer.Option("--region", metavar="R", help="Only this Region.")] = None,
    group_by: Annotated[GroupBy, typer.Option("--group-by", help="What the summary counts by.")] = GroupBy.rule,
    output: Annotated[
        ReportOutput | None,
        typer.Option("--output", "-o", help="table, json, csv or html (default: from --out's suffix, else table)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help="Write to FILE instead of stdout.")] = None,
    fail_on_noncompliant: Annotated[
        bool, typer.Option("--fail-on-noncompliant", help="Exit 1 when anything is non-compliant (for CI).")
    ] = False,
    aggregator_region: Annotated[
        str | None,
        typer.Option(
            "--aggregator-region",
            metavar="R",
            help="The aggregator's Region (default: the config's home_region; without a config, the first --region).",
        ),
    ] = None,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
    sandbox_throttle_rate: SandboxThrottle = 0.0,
) -> None:
    """List every non-compliant resource across the organization, grouped on the rules' common names.

    Reads the aggregator in the config's home_region. Rule names lose their per-account suffixes
    (`-conformance-pack-xxxxxxxxx`, `OrgConfigRule-...-xxxxxxxx`) and are mapped to the config's
    packs. --account, --region and --rule may be repeated. Capped counts print as "≥25".
    With --sandbox the config is deployed into a fresh emulated organization first, and the report
    is what AWS Config's rules find in its workloads. Without an orgdeploy.yaml, any aggregator can
    be read: give --aggregator NAME and its Region (--aggregator-region, or --region); rule names
    then carry no pack. Accounts are named from Organizations when the caller may read it.
    Exit status: 0, or 1 with --fail-on-noncompliant when anything is non-compliant; 2 for bad input.
    """
    from dataclasses import replace

    from orgdeploy.aws.compliance import read_report
    from orgdeploy.aws.organizations import account_names
    from orgdeploy.errors import BadInputError
    from orgdeploy.reporting.compliance_render import render
    from orgdeploy.reporting.rule_names import PackIndex

    first_region = region[0] if region else None
    loaded, from_file = config_for_reading(config, aggregator=aggregator, region=aggregator_region or first_region)
    name = aggregator or loaded.aggregator.name
    if not AGGREGATOR_NAME.match(name):
        raise BadInputError(f"--aggregator {name!r}: 1 to 256 letters, digits, '_' or '-'")
    where = _where(rule or [], account or [], region or [])
    chosen = _report_format(output, out)
    # Without a config of the user's, the example's packs say nothing about this aggregator's rules.
    packs = pack_index_of(loaded) if from_file or sandbox else PackIndex()
    options = AwsCliOptions(
        profile=profile,
        region=aggregator_region,
        endpoint_url=endpoint_url,
        sandbox=sandbox,
        sandbox_accounts=sandbox_accounts,
        sandbox_throttle_rate=sandbox_throttle_rate,
    )
    with aws_context(options, loaded) as ctx:
        if sandbox:
            deploy_into_sandbox(ctx, loaded)
        result = read_report(
            ctx.client("config", aggregator_region or loaded.home_region),
            aggregator=name,
            strategy=strategy.value,
            where=where,
            annotations=annotations,
            packs=packs,
            records_resource_compliance=_records_resource_compliance(loaded),
        )
        labels = {a: f"{n} ({path})" for a, (n, path) in account_names(ctx).items()}
        result = replace(result, account_names=labels)
    text = render(result, chosen.value, group_by.value)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
    if out is not None or chosen is not ReportOutput.table:
        reason = f": {result.reason}" if result.reason else ""
        where_to = f"; wrote {out}" if out else ""
        typer.echo(f"report: {len(result.rows)} rows by strategy {result.strategy}{reason}{where_to}", err=True)
    if fail_on_noncompliant and result.rows:
        raise typer.Exit(1)


def _pack_sizes(config: Config, regions: int | None) -> tuple[PackSize, ...]:
    from orgdeploy.reporting.cost import PackSize
    from orgdeploy.reporting.rule_names import rules_in_pack_body
    from orgdeploy.templates.naming import pack_resource_name
    from orgdeploy.templates.render import render_pack_body

    sizes = []
    for pack in config.conformance_packs:
        # --regions N prices N Regions for packs that go everywhere; a pack's own Region list caps it.
        deployed = len(pack.regions) if pack.regions is not None else regions or len(config.regions)
        rules = len(rules_in_pack_body(render_pack_body(config, pack).body))
        sizes.append(PackSize(pack_resource_name(config, pack), rules, min(deployed, regions or deployed)))
    return tuple(sizes)


def _excluded_types(values: list[str]) -> tuple[str, ...]:
    import difflib

    from orgdeploy.config.awsdata import config_resource_types
    from orgdeploy.errors import BadInputError

    types = [t.strip() for value in values for t in value.split(",") if t.strip()]
    for name in types:
        if name not in config_resource_types():
            close = difflib.get_close_matches(name, sorted(config_resource_types()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise BadInputError(f"--exclude {name!r}: not an AWS Config resource type{hint}")
    return tuple(dict.fromkeys(types))


def _from_org(options: AwsCliOptions, config: Config) -> tuple[int, dict[str, int] | None, str, dict[str, int]]:
    """(accounts Config would cover, resources by type or None, where the sizes came from, accounts per profile)."""
    from orgdeploy.aws.compliance import read_resource_counts
    from orgdeploy.aws.organizations import read_organization
    from orgdeploy.planning.profiles import profile_map

    with aws_context(options, config) as ctx:
        org = read_organization(ctx)
        excluded = set(config.targets.exclude_accounts)
        members = [a.id for a in org.members_under(config.targets.organizational_units) if a.active]
        covered = [a for a in members if a not in excluded]
        covered += [org.management_account_id] if config.management_account.deploy else []
        counts = read_resource_counts(ctx.client("config"), aggregator=config.aggregator.name, regions=config.regions)
    profiles = profile_map(config, org)
    per_profile = {name: sum(1 for a in covered if profiles.get(a) == name) for name in config.recording.profile_names}
    if counts:
        where = f"the organization and aggregator {config.aggregator.name}'s advanced query"
        return len(covered), counts, where, per_profile
    missing = "is empty" if counts is not None else "was not found"
    where = f"the organization; aggregator {config.aggregator.name} {missing}, so resources are guessed"
    return len(covered), None, where, per_profile


def _shares(config: Config, per_profile: dict[str, int]) -> tuple[Any, ...]:
    """Each recording profile's share of the accounts, as the cost model takes it."""
    from orgdeploy.planning.profiles import describe_settings
    from orgdeploy.reporting.cost import RecordingShare

    shares = []
    for name in config.recording.profile_names:
        settings = config.recording.settings(name)
        shares.append(
            RecordingShare(
                name=name,
                accounts=per_profile.get(name, 0),
                description=describe_settings(settings),
                daily=settings.frequency == "daily",
                daily_types=tuple(t for o in settings.overrides if o.frequency == "daily" for t in o.resource_types),
                exclude=tuple(settings.resource_types) if settings.strategy == "exclude" else (),
                include=tuple(settings.resource_types) if settings.strategy == "include" else None,
            )
        )
    return tuple(shares)


def cost(
    config: ConfigOption = DEFAULT_CONFIG,
    accounts: Annotated[int | None, typer.Option("--accounts", metavar="N", min=1, help="Accounts to price.")] = None,
    regions: Annotated[
        int | None, typer.Option("--regions", metavar="N", min=1, help="Regions (default: the config's).")
    ] = None,
    from_org: Annotated[
        bool,
        typer.Option("--from-org", help="Count accounts in the organization and resources with the aggregator."),
    ] = False,
    resources_per_account: Annotated[
        int, typer.Option("--resources-per-account", metavar="N", min=0, help="Resources per account per Region.")
    ] = 100,
    changes_per_resource_per_month: Annotated[
        float, typer.Option("--changes-per-resource-per-month", metavar="N", min=0, help="Recorded changes.")
    ] = 2.0,
    rules: Annotated[
        int,
        typer.Option("--rules", metavar="N", min=0, help="Config rules outside conformance packs, in every account."),
    ] = 0,
    daily: Annotated[bool, typer.Option("--daily", help="Price daily recording instead of continuous.")] = False,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", metavar="TYPE", help="Resource type not recorded (repeatable).")
    ] = None,
    price_file: Annotated[
        Path | None, typer.Option("--price-file", metavar="F", help="Prices JSON (default: the shipped one).")
    ] = None,
    remediations_per_month: Annotated[
        int,
        typer.Option(
            "--remediations-per-month",
            metavar="N",
            min=0,
            help="SSM Automation runs a month across the organization, when the packs remediate.",
        ),
    ] = 100,
    output: Annotated[CostOutput, typer.Option("--output", "-o", help="table or json.")] = CostOutput.table,
    profile: Profile = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
    sandbox_accounts: SandboxAccounts = 8,
) -> None:
    """Estimate the monthly AWS Config bill, itemised, with its assumptions and what-ifs.

    Prices configuration items (continuous or daily), rule evaluations and conformance pack
    evaluations (tiered, the organization's total per Region), with rules counted from the config's
    packs. --from-org counts the accounts the config targets and, where the aggregator exists,
    recorded resources by type; otherwise --resources-per-account is used.

    Without a config file, give the sizes: `orgdeploy cost --accounts 9 --regions 16 --rules 39`.
    """
    from decimal import Decimal

    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.reporting.cost import CostInputs, cost_dict, cost_report, load_prices, render_cost_table

    path = config / "orgdeploy.yaml" if config.is_dir() else config
    loaded = load_config(config) if from_org or path.exists() or config != DEFAULT_CONFIG else None
    prices = load_prices(price_file)
    excluded = _excluded_types(exclude or [])
    if accounts is None and not from_org:
        raise BadInputError("give --accounts N, or --from-org to count the organization's accounts")
    if loaded is None and regions is None:
        raise BadInputError("--regions N is needed when there is no orgdeploy.yaml to read the Regions from")
    counts: dict[str, int] | None = None
    per_profile: dict[str, int] = {}
    sizes_from = "the options given"
    if from_org and loaded is not None:
        options = AwsCliOptions(
            profile=profile, endpoint_url=endpoint_url, sandbox=sandbox, sandbox_accounts=sandbox_accounts
        )
        org_accounts, counts, sizes_from, per_profile = _from_org(options, loaded)
        if accounts is not None and counts and org_accounts:
            # Scale the organization's resources to the account count asked about.
            counts = {t: round(n * accounts / org_accounts) for t, n in counts.items()}
            sizes_from += f", scaled from {org_accounts} to {accounts} accounts"
        accounts = accounts or org_accounts
    from orgdeploy.config.model import Recording

    recording = loaded.recording if loaded else Recording()
    if recording.strategy == "include" and counts:
        counts = {t: n for t, n in counts.items() if t in recording.resource_types}
    inputs = CostInputs(
        accounts=accounts or 0,
        regions=regions or (len(loaded.regions) if loaded else 0),
        packs=_pack_sizes(loaded, regions) if loaded else (),
        rules=rules,
        resources_per_account=resources_per_account,
        resource_counts=counts or {},
        changes_per_resource=Decimal(str(changes_per_resource_per_month)),
        daily=daily or recording.frequency == "daily",
        daily_types=tuple(t for o in recording.overrides if o.frequency == "daily" for t in o.resource_types),
        exclude=tuple(
            dict.fromkeys([*(recording.resource_types if recording.strategy == "exclude" else []), *excluded])
        ),
        sizes_from=sizes_from,
        remediation_runs=remediations_per_month if loaded and _remediates(loaded) else 0,
        remediation_steps=_remediation_steps(loaded) if loaded else 1,
        profiles=_shares(loaded, per_profile) if loaded and loaded.recording.profiles and per_profile else (),
    )
    if loaded and loaded.recording.profiles and not per_profile:
        typer.echo(
            "note: recording.profiles are priced one by one with --from-org, which counts their accounts", err=True
        )
    result = cost_report(inputs, prices)
    typer.echo(json.dumps(cost_dict(result), indent=2) if output is CostOutput.json else render_cost_table(result))


def _remediates(config: Any) -> bool:
    from orgdeploy.templates.render import render_all

    return any(b.documents for b in render_all(config).pack_bodies)


def _remediation_steps(config: Any) -> int:
    """The most steps any document the packs run takes per run (each of the six takes one)."""
    from orgdeploy.config.runbooks import RUNBOOKS
    from orgdeploy.templates.render import render_all

    documents = {d for b in render_all(config).pack_bodies for d in b.documents}
    return max((RUNBOOKS[d].steps for d in documents), default=1)


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(cost)
