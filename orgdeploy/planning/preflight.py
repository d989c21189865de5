"""Checks that orgdeploy runs from the right account, before anything is planned (pure)."""

from __future__ import annotations

from orgdeploy.config.model import Config
from orgdeploy.errors import OrgDeployError


class WrongAccount(OrgDeployError):
    exit_code = 1


def check_caller(config: Config, *, caller: str, management: str) -> None:
    admin = config.admin
    if admin.call_as == "SELF" and caller != management:
        raise WrongAccount(
            f"these credentials are for account {caller}, not the management account {management}. "
            "StackSets service-managed operations with CallAs=SELF run from the management account. "
            "To run from a delegated administrator, set admin.call_as: DELEGATED_ADMIN and "
            "admin.delegated_admin_account, and run `orgdeploy org-setup` once with management-account credentials."
        )
    if admin.call_as == "DELEGATED_ADMIN" and caller != admin.delegated_admin_account:
        raise WrongAccount(
            f"these credentials are for account {caller}, but admin.delegated_admin_account is "
            f"{admin.delegated_admin_account}. Use credentials for the delegated administrator account."
        )
