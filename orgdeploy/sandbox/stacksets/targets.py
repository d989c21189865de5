"""Which (account, Region) pairs a StackSet request reaches, and in what order.

Accounts and OUs are read from moto's Organizations backend, so the sandbox's
organization is the only source of truth.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import StackSet
from moto.organizations.models import OrganizationsBackend, organizations_backends
from moto.utilities.utils import get_partition

from orgdeploy.sandbox.stacksets.model import StackInstanceNotFoundException, Target, find_instance

FILTER_TYPES = ("NONE", "INTERSECTION", "DIFFERENCE", "UNION")


def org_backend(account_id: str, region: str) -> OrganizationsBackend | None:
    """The Organizations backend holding the organization that `account_id` belongs to."""
    partition = get_partition(region)
    own = organizations_backends[account_id][partition]
    if own.org is not None:
        return own
    master = organizations_backends.master_accounts.get(account_id)
    if master is None:
        return None
    backend = organizations_backends[master[0]][master[1]]
    return backend if backend.org is not None else None


def ou_of_descendants(org: OrganizationsBackend, ou_ids: list[str]) -> dict[str, str]:
    """Each requested OU and every OU below it, mapped to the requested OU it sits under."""
    parents = {ou.id: ou.parent_id for ou in org.ou}
    owner: dict[str, str] = {}
    for ou_id in parents:
        node: str | None = ou_id
        while node is not None:
            if node in ou_ids:
                owner[ou_id] = node
                break
            node = parents.get(node)
    return owner


def accounts_under(org: OrganizationsBackend, ou_ids: list[str]) -> list[tuple[str, str]]:
    """(account, requested OU) for the accounts below `ou_ids`, never the management account."""
    owner = ou_of_descendants(org, ou_ids)
    management = org.org.master_account_id if org.org else None
    return [
        (account.id, owner[account.parent_id])
        for account in org.accounts
        if account.parent_id in owner and account.id != management
    ]


def account_status(org: OrganizationsBackend | None, account_id: str) -> str:
    if org is None:
        return "ACTIVE"
    account = _accounts_by_id(org).get(account_id)
    return str(account.status) if account is not None else "ACTIVE"


# (organization backend, its account count, its accounts by id): one organization backend is live at a time.
_ACCOUNT_INDEX: list[Any] = [None, -1, {}]


def _accounts_by_id(org: OrganizationsBackend) -> dict[str, Any]:
    """org's accounts by id, built again when an account joins or leaves (a status change is read live)."""
    if _ACCOUNT_INDEX[0] is not org or _ACCOUNT_INDEX[1] != len(org.accounts):
        _ACCOUNT_INDEX[:] = [org, len(org.accounts), {a.id: a for a in org.accounts}]
    found: dict[str, Any] = _ACCOUNT_INDEX[2]
    return found


def _filter_type(targets: dict[str, Any], action: str) -> str:
    ous = targets.get("OrganizationalUnitIds") or []
    accounts = targets.get("Accounts") or []
    filter_type = targets.get("AccountFilterType")
    if filter_type is None:
        if ous and accounts and action == "CREATE":
            raise ValidationError(
                message="AccountFilterType must be specified when both OrganizationalUnitIds and Accounts are"
                " specified for a create operation"
            )
        filter_type = "UNION" if accounts else "NONE"
    if filter_type not in FILTER_TYPES:
        raise ValidationError(message=f"Invalid AccountFilterType {filter_type}")
    if filter_type == "UNION" and action == "CREATE":
        raise ValidationError(message="AccountFilterType UNION is not supported for CreateStackInstances")
    if filter_type in ("INTERSECTION", "DIFFERENCE") and not accounts:
        raise ValidationError(message=f"Accounts must be specified when AccountFilterType is {filter_type}")
    return str(filter_type)


def service_managed_accounts(
    org: OrganizationsBackend | None, targets: dict[str, Any] | None, action: str
) -> list[tuple[str, str | None]]:
    """(account, OU) pairs a SERVICE_MANAGED request reaches through DeploymentTargets."""
    if not targets or not (targets.get("OrganizationalUnitIds") or targets.get("Accounts")):
        raise ValidationError(
            message="StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
        )
    if targets.get("AccountsUrl"):
        raise ValidationError(message="DeploymentTargets.AccountsUrl is not supported by the sandbox")
    ous: list[str] = list(targets.get("OrganizationalUnitIds") or [])
    if action == "CREATE" and not ous:
        raise ValidationError(message="OrganizationalUnitIds are required")
    accounts: list[str] = list(targets.get("Accounts") or [])
    filter_type = _filter_type(targets, action)
    in_ous: list[tuple[str, str | None]] = list(accounts_under(org, ous)) if org else []
    management = org.org.master_account_id if org and org.org else None
    listed_accounts = set(accounts)
    if filter_type == "INTERSECTION":
        chosen = [pair for pair in in_ous if pair[0] in listed_accounts]
    elif filter_type == "DIFFERENCE":
        chosen = [pair for pair in in_ous if pair[0] not in listed_accounts]
    elif filter_type == "UNION":
        listed = {account for account, _ in in_ous}
        chosen = in_ous + [(a, None) for a in accounts if a not in listed and a != management]
    else:
        chosen = in_ous
    return chosen


def requested_accounts(
    stackset: StackSet,
    org: OrganizationsBackend | None,
    accounts: list[str] | None,
    targets: dict[str, Any] | None,
    action: str,
) -> list[tuple[str, str | None]]:
    """(account, OU) pairs named by a request, before Regions are applied."""
    if stackset.permission_model == "SERVICE_MANAGED":
        if accounts:
            raise ValidationError(
                message="StackSets with SERVICE_MANAGED permission model can only have OrganizationalUnit as target"
            )
        return service_managed_accounts(org, targets, action)
    if targets and targets.get("OrganizationalUnitIds"):
        raise ValidationError(message="StackSets with SELF_MANAGED permission model can only have accounts as target")
    named = list(accounts or []) + list((targets or {}).get("Accounts") or [])
    if not named:
        raise ValidationError(message="Either Accounts or DeploymentTargets must be specified")
    return [(account, None) for account in dict.fromkeys(named)]


def expand(pairs: list[tuple[str, str | None]], regions: list[str]) -> list[Target]:
    return [Target(account, region, ou) for region in dict.fromkeys(regions) for account, ou in pairs]


def existing_targets(stackset: StackSet, wanted: list[Target], strict: bool) -> list[Target]:
    """The wanted targets that have an instance; with `strict` a missing one is an error (self-managed)."""
    found = []
    for target in wanted:
        instance = find_instance(stackset, target.account, target.region)
        if instance is None:
            if strict:
                raise StackInstanceNotFoundException(stackset.name, target.account, target.region)
            continue
        found.append(Target(target.account, target.region, target.ou or instance.organizational_unit_id))
    return found


def validate_preferences(preferences: dict[str, Any]) -> None:
    pairs = (("FailureToleranceCount", "FailureTolerancePercentage"), ("MaxConcurrentCount", "MaxConcurrentPercentage"))
    for first, second in pairs:
        if preferences.get(first) is not None and preferences.get(second) is not None:
            raise ValidationError(message=f"You can specify either {first} or {second}, but not both")
    if preferences.get("RegionConcurrencyType", "SEQUENTIAL") not in ("SEQUENTIAL", "PARALLEL"):
        raise ValidationError(message="RegionConcurrencyType must be SEQUENTIAL or PARALLEL")


def region_order(targets: list[Target], preferences: dict[str, Any]) -> list[str]:
    regions = list(dict.fromkeys(t.region for t in targets))
    first = [r for r in preferences.get("RegionOrder") or [] if r in regions]
    return first + [r for r in regions if r not in first]


def failure_tolerance(preferences: dict[str, Any], accounts: int) -> int:
    if preferences.get("FailureToleranceCount") is not None:
        return int(preferences["FailureToleranceCount"])
    if preferences.get("FailureTolerancePercentage") is not None:
        # AWS rounds the percentage down.
        return int(accounts * int(preferences["FailureTolerancePercentage"]) // 100)
    return 0


def max_concurrent(preferences: dict[str, Any], accounts: int) -> int:
    if preferences.get("MaxConcurrentCount") is not None:
        return max(1, int(preferences["MaxConcurrentCount"]))
    if preferences.get("MaxConcurrentPercentage") is not None:
        # Rounded down, but never below one account at a time.
        return max(1, accounts * int(preferences["MaxConcurrentPercentage"]) // 100)
    return 1


def region_batch(preferences: dict[str, Any], accounts: int) -> int:
    """Instances deployed at once in a Region before any fails: MaxConcurrent, and under
    STRICT_FAILURE_TOLERANCE never more than the failures tolerated plus one (operations._run_region)."""
    concurrency = max_concurrent(preferences, accounts)
    if preferences.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE") == "STRICT_FAILURE_TOLERANCE":
        return max(1, min(concurrency, failure_tolerance(preferences, accounts) + 1))
    return concurrency


def operation_seconds(targets: list[Target], preferences: dict[str, Any], instance_seconds: float) -> float:
    """How long an operation's instances take: waves of region_batch per Region, Regions PARALLEL or in turn."""
    if instance_seconds <= 0 or not targets:
        return 0.0
    per_region: dict[str, int] = {}
    for target in targets:
        per_region[target.region] = per_region.get(target.region, 0) + 1
    waves = [-(-count // region_batch(preferences, count)) for count in per_region.values()]
    parallel = preferences.get("RegionConcurrencyType", "SEQUENTIAL") == "PARALLEL"
    return (max(waves) if parallel else sum(waves)) * instance_seconds
