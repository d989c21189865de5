"""Organization-level commands: census (read-only survey), org-setup (one-time), permissions (offline)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from orgdeploy.cli.aws_options import AwsCliOptions, EndpointUrl, Profile, Region, Sandbox, aws_context, is_interactive
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
    from orgdeploy.config.model import load_config
    from orgdeploy.planning.inventory import AccountFacts
    from orgdeploy.reporting.census import Census

    loaded = load_config(config)
    with aws_context(AwsCliOptions(profile, region, endpoint_url, sandbox), loaded) as ctx:
        org = read_organization(ctx)
        active = [a.id for a in org.accounts if a.active]
        typer.echo(f"surveying {len(active)} accounts in {len(loaded.regions)} Regions", err=True)
        facts = survey(
            ctx,
            active,
            list(loaded.regions),
            orgdeploy_recorder=f"{loaded.stacksets.name_prefix}-recorder",
        )
    inactive = tuple(AccountFacts(a.id, False, f"account is {a.status}") for a in org.accounts if not a.active)
    result = Census(org, tuple(loaded.regions), facts + inactive)
    if output is CensusOutput.json:
        document = {"regions": list(loaded.regions), "rows": result.rows()}
        typer.echo(json.dumps(document, indent=2))
    elif output is CensusOutput.csv:
        typer.echo(result.to_csv(), nl=False)
    else:
        typer.echo(result.to_text())


def org_setup(
    config: ConfigOption = DEFAULT_CONFIG,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    output: Annotated[CensusOutput, typer.Option("--output", "-o", help="text or json.")] = CensusOutput.text,
    profile: Profile = None,
    region: Region = None,
    endpoint_url: EndpointUrl = None,
    sandbox: Sandbox = False,
) -> None:
    """Prepare the organization once, with management-account credentials.

    Turns on StackSets trusted access, enables service access for
    config.amazonaws.com and config-multiaccountsetup.amazonaws.com, and (when
    admin.delegated_admin_account is set) registers that account as delegated
    administrator for StackSets, Config and Config multi-account setup. With
    guard.enabled it also enables service control policies on the root.
    Idempotent: it reports what was already in place.
    """
    import json

    from orgdeploy.aws.org_setup import org_setup as run_setup
    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.planning.preflight import WrongAccount

    loaded = load_config(config)
    if output is CensusOutput.csv:
        raise BadInputError("--output: org-setup prints text or json, not csv")
    if not yes and not is_interactive():
        raise BadInputError("not on a terminal: pass --yes to change the organization without a prompt")
    with aws_context(AwsCliOptions(profile, region, endpoint_url, sandbox), loaded) as ctx:
        from orgdeploy.aws.organizations import read_organization

        org = read_organization(ctx)
        if ctx.caller_account != org.management_account_id:
            raise WrongAccount(
                f"org-setup needs management-account credentials; these are for {ctx.caller_account}, "
                f"the management account is {org.management_account_id}"
            )
        if not yes and not typer.confirm("Change the organization's settings?", default=False):
            raise typer.Exit(1)
        items = run_setup(
            ctx,
            home_region=loaded.home_region,
            delegated_admin=loaded.admin.delegated_admin_account,
            guard=loaded.guard.enabled,
        )
    if output is CensusOutput.json:
        typer.echo(json.dumps([i.to_dict() for i in items], indent=2))
        return
    for item in items:
        typer.echo(f"{'changed ' if item.changed else 'in place'}  {item.what}")


class Role(StrEnum):
    management = "management"
    delegated_admin = "delegated-admin"
    ci = "ci"
    member = "member"
    hub = "hub"
    remediation = "remediation"


def permissions(
    role: Annotated[Role, typer.Option("--role", help="Whose policy to print.")] = Role.management,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Scope the policy to this orgdeploy.yaml (or its folder) instead of the defaults."
        ),
    ] = None,
) -> None:
    """Print the least-privilege IAM policy orgdeploy needs for a role, as JSON.

    management: every command, from the management account. delegated-admin: the
    same from a delegated administrator (plus management_account.role_arn, which
    needs the management policy for the management account's own stacks). ci:
    `update` only. member: census.role_name in each member account (read-only).
    hub: census.role_name in notifications.hub_account, which also deploys the
    notifications hub stack there. remediation: the role SSM Automation assumes
    for the packs' remediations (needs --config: it follows the documents the
    packs run, the rules' excluded Regions and the exceptions).

    Every action is scoped to orgdeploy's own resources (stacks, stack sets, roles
    and buckets named after stacksets.name_prefix, the hub's topic, bus and log
    group, KMS keys tagged orgdeploy:managed), with conditions where IAM offers
    them; docs/real-organizations.md explains each "*" that remains. Without
    --config the names are the defaults (prefix orgdeploy, census role
    OrganizationAccountAccessRole). Reads no AWS account.
    """
    from orgdeploy.aws.permissions import Scope, policy_json
    from orgdeploy.aws.policy import all_needs

    if role is Role.remediation:
        typer.echo(_remediation_policy(config))
        return
    scope = Scope()
    if config is not None:
        from orgdeploy.config.model import load_config

        scope = Scope.from_config(load_config(config))
    typer.echo(policy_json(role.value, all_needs(adopts=scope.adopts), scope))


def _remediation_policy(config: Path | None) -> str:
    """The remediation role's policy as its template deploys it, with ${AWS::AccountId} standing for each account."""
    import json

    from orgdeploy.config.model import load_config
    from orgdeploy.errors import BadInputError
    from orgdeploy.templates.remediation_role import permissions_policy, plain_policy
    from orgdeploy.templates.render import render_all

    if config is None:
        raise BadInputError("--role remediation needs --config: the policy follows the documents the packs run")
    loaded = load_config(config)
    documents = tuple(dict.fromkeys(d for b in render_all(loaded).pack_bodies for d in b.documents))
    if not documents:
        raise BadInputError(f"{config}: no conformance pack runs a remediation, so there is no remediation role")
    return json.dumps(plain_policy(permissions_policy(loaded, documents)), indent=2)


def register(app: typer.Typer) -> None:
    app.command()(census)
    app.command("org-setup")(org_setup)
    app.command()(permissions)
