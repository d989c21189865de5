"""Read the organization tree: root, OUs with paths, accounts with status and parent."""

from __future__ import annotations

from typing import Any

from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import all_pages, call_with_retries, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.errors import AwsError
from orgdeploy.planning.inventory import Account, Organization, OrgUnit

PERMISSIONS = (
    Need(
        (
            "organizations:DescribeOrganization",
            "organizations:ListRoots",
            "organizations:ListAccountsForParent",
            "organizations:ListOrganizationalUnitsForParent",
        ),
        DEPLOYERS,
        "read the organization tree",
    ),
)


def account_state(item: dict[str, Any]) -> str:
    """State (ACTIVE, SUSPENDED, PENDING_CLOSURE, CLOSED, PENDING_ACTIVATION); Status is retired on 2026-09-09."""
    return str(item.get("State") or item.get("Status") or "ACTIVE")


def read_organization(ctx: AwsContext) -> Organization:
    client = ctx.client("organizations")
    try:
        org = call_with_retries(client.describe_organization)["Organization"]
    except Exception as exc:
        if error_code(exc) == "AWSOrganizationsNotInUseException":
            raise AwsError("this account is not in an AWS Organization") from exc
        raise
    try:
        roots = all_pages(client, "list_roots", "Roots")
    except Exception as exc:
        if error_code(exc) not in {"AccessDeniedException", "AccessDenied"}:
            raise
        raise AwsError(
            f"account {ctx.caller_account} is not the management account or a registered delegated administrator, "
            f"so it may not read organization {org.get('Id', '')} ({error_code(exc)}). Run orgdeploy from the "
            "management account, or register this account with `orgdeploy org-setup` (management credentials)."
        ) from exc
    if not roots:
        raise AwsError("the organization has no root")
    root = roots[0]
    units = [OrgUnit(root["Id"], root.get("Name", "Root"), None, "Root")]
    accounts: list[Account] = []
    queue = [units[0]]
    while queue:
        parent = queue.pop(0)
        for item in all_pages(client, "list_accounts_for_parent", "Accounts", ParentId=parent.id):
            accounts.append(Account(item["Id"], item.get("Name", ""), account_state(item), parent.id))
        for item in all_pages(
            client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent.id
        ):
            unit = OrgUnit(item["Id"], item["Name"], parent.id, f"{parent.path}/{item['Name']}")
            units.append(unit)
            queue.append(unit)
    return Organization(
        id=org["Id"],
        management_account_id=org["MasterAccountId"],
        root_id=root["Id"],
        units=tuple(units),
        accounts=tuple(sorted(accounts, key=lambda a: a.id)),
    )


def account_names(ctx: AwsContext) -> dict[str, tuple[str, str]]:
    """account id -> (name, OU path); empty when the caller may not read the organization (ids are printed then)."""
    try:
        org = read_organization(ctx)
    except AwsError:
        return {}
    except Exception as exc:
        if not error_code(exc):
            raise
        return {}
    paths = {unit.id: unit.path for unit in org.units}
    return {a.id: (a.name, paths.get(a.parent_id, "Root")) for a in org.accounts}
