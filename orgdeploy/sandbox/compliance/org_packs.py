"""Organization conformance packs deployed member by member, as AWS Config does.

moto stores an organization pack and reports it CREATE_SUCCESSFUL, with a detailed status for the
caller's account only. AWS deploys the pack into every account of the organization that is not
excluded, and fails it in each member without a recording configuration recorder in that Region;
the organization pack is then CREATE_FAILED (GetOrganizationConformancePackDetailedStatus names
the accounts). Here every put works out each member's status from the recorders in moto's backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.config.models import ConfigBackend, config_backends
from moto.organizations.models import organizations_backends

NO_RECORDER = "NoAvailableConfigurationRecorderException"


def _recording(account: str, region: str) -> bool:
    backend = config_backends[account][region]
    return any(recorder.status.recording for recorder in backend.recorders.values())


def member_statuses(backend: ConfigBackend, pack: Any, *, updating: bool) -> list[dict[str, Any]]:
    """One detailed status per active account of the caller's organization that the pack does not exclude."""
    org_backend = organizations_backends[backend.account_id][backend.partition]
    org = org_backend.org
    members = [a.id for a in org_backend.accounts if a.status == "ACTIVE"] if org else []
    if org is not None and org.master_account_id not in members:
        members.append(org.master_account_id)
    excluded = set(pack.excluded_accounts or [])
    statuses = []
    ok = "UPDATE_SUCCESSFUL" if updating else "CREATE_SUCCESSFUL"
    for account in sorted(set(members) - excluded) or [backend.account_id]:
        status: dict[str, Any] = {
            "AccountId": account,
            "ConformancePackName": f"OrgConformsPack-{pack._unique_pack_name}",
            "Status": ok,
            "LastUpdateTime": pack.last_update_time,
        }
        if not _recording(account, backend.region_name):
            status.update(
                Status="UPDATE_FAILED" if updating else "CREATE_FAILED",
                ErrorCode=NO_RECORDER,
                ErrorMessage="Failed to put conformance pack because no configuration recorder is available "
                "in the account and Region.",
            )
        statuses.append(status)
    return statuses


def failed_members(pack: Any) -> list[dict[str, Any]]:
    return [s for s in getattr(pack, "member_statuses", []) if s["Status"].endswith("_FAILED")]


def install_org_pack_statuses() -> None:
    """Wrap moto's put and status reads; the caller makes sure this runs once."""
    put_pack: Callable[..., dict[str, Any]] = ConfigBackend.put_organization_conformance_pack

    def put_organization_conformance_pack(self: Any, name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        updating = name in self.organization_conformance_packs
        result = put_pack(self, name, *args, **kwargs)
        pack = self.organization_conformance_packs[name]
        pack.member_statuses = member_statuses(self, pack, updating=updating)
        if failed_members(pack):
            pack._status = "UPDATE_FAILED" if updating else "CREATE_FAILED"
        return result

    def get_organization_conformance_pack_detailed_status(self: Any, name: str) -> dict[str, Any]:
        found: dict[str, Any] = get_detailed(self, name)  # raises moto's NoSuchOrganizationConformancePack
        pack = self.organization_conformance_packs[name]
        if hasattr(pack, "member_statuses"):
            found["OrganizationConformancePackDetailedStatuses"] = pack.member_statuses
        return found

    get_detailed: Callable[..., dict[str, Any]] = ConfigBackend.get_organization_conformance_pack_detailed_status
    ConfigBackend.put_organization_conformance_pack = put_organization_conformance_pack  # type: ignore[method-assign]
    ConfigBackend.get_organization_conformance_pack_detailed_status = (  # type: ignore[method-assign]
        get_organization_conformance_pack_detailed_status
    )
