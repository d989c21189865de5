"""One-time organization setup with management-account credentials: trusted access and delegated admins."""

from __future__ import annotations

from dataclasses import dataclass

from orgdeploy.aws.guard import GuardGateway
from orgdeploy.aws.permissions import (
    DELEGATED_PRINCIPALS,
    SERVICE_ACCESS,
    Need,
)
from orgdeploy.aws.retry import call_with_retries, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.aws.stacksets import StackSetsGateway

PERMISSIONS = (
    Need(
        (
            "cloudformation:DescribeOrganizationsAccess",
            "cloudformation:ActivateOrganizationsAccess",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:EnableAWSServiceAccess",
            "organizations:ListDelegatedAdministrators",
            "organizations:RegisterDelegatedAdministrator",
        ),
        frozenset({"management"}),
        "org-setup",
    ),
)


@dataclass(frozen=True)
class SetupItem:
    what: str
    changed: bool

    def to_dict(self) -> dict[str, object]:
        return {"what": self.what, "changed": self.changed}


def org_setup(
    ctx: AwsContext, *, home_region: str, delegated_admin: str | None, guard: bool = False
) -> list[SetupItem]:
    """Idempotent: each item says whether it was changed now or already in place."""
    items = []
    if guard:
        changed = GuardGateway(ctx).enable_scps()
        items.append(SetupItem("service control policies enabled on the root (for guard)", changed))
    stacksets = StackSetsGateway(ctx, region=home_region, call_as="SELF")
    if stacksets.organizations_access() == "ENABLED":
        items.append(SetupItem("StackSets trusted access with Organizations", False))
    else:
        stacksets.activate_organizations_access()
        items.append(SetupItem("StackSets trusted access with Organizations", True))

    org = ctx.client("organizations")
    enabled = {
        p["ServicePrincipal"]
        for page in call_with_retries(
            lambda: list(org.get_paginator("list_aws_service_access_for_organization").paginate())
        )
        for p in page.get("EnabledServicePrincipals", [])
    }
    for principal in SERVICE_ACCESS:
        if principal not in enabled:
            call_with_retries(org.enable_aws_service_access, ServicePrincipal=principal)
        items.append(SetupItem(f"service access for {principal}", principal not in enabled))

    if delegated_admin is None:
        return items
    for principal in DELEGATED_PRINCIPALS:
        registered = {
            a["Id"]
            for page in call_with_retries(
                lambda p=principal: list(
                    org.get_paginator("list_delegated_administrators").paginate(ServicePrincipal=p)
                )
            )
            for a in page.get("DelegatedAdministrators", [])
        }
        changed = delegated_admin not in registered
        if changed:
            try:
                call_with_retries(
                    org.register_delegated_administrator, AccountId=delegated_admin, ServicePrincipal=principal
                )
            except Exception as exc:
                if error_code(exc) != "AccountAlreadyRegisteredException":
                    raise
                changed = False
        items.append(SetupItem(f"{delegated_admin} delegated administrator for {principal}", changed))
    return items
