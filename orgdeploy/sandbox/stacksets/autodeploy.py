"""Auto-deployment: stack instances follow accounts into and out of targeted OUs.

moto's Organizations backend is patched (create_account, move_account,
remove_account_from_organization) to tell this module where an account now sits.
For every SERVICE_MANAGED stack set of that organization with AutoDeployment
enabled, an account arriving under one of its OUs (from outside them, or from
another of them) gets instances in all of the stack set's Regions where it has
none, whatever account filter its operations used, and an account leaving loses them (the stacks stay when
RetainStacksOnAccountRemoval is set). AutoDeployment.DependsOn orders the
operations between stack sets: dependencies first when deploying, last when
removing.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from moto.cloudformation.models import CloudFormationBackend, StackSet
from moto.organizations.models import OrganizationsBackend

from orgdeploy.sandbox.stacksets import operations
from orgdeploy.sandbox.stacksets.model import Operation, Target, extras, instances, live_stacksets
from orgdeploy.sandbox.stacksets.targets import ou_of_descendants
from orgdeploy.sandbox.state import STATE

_HOOKED = "_orgdeploy_autodeploy"

Entry = tuple[CloudFormationBackend, StackSet, str | None]


def _targeting_ou(stackset: StackSet, org: OrganizationsBackend, parent_id: str | None) -> str | None:
    """The stack set's OU that `parent_id` sits under, when auto-deployment covers it."""
    auto = extras(stackset).auto_deployment
    if parent_id is None or stackset.status != "ACTIVE" or not auto or not auto.get("Enabled"):
        return None
    if stackset.permission_model != "SERVICE_MANAGED":
        return None
    return ou_of_descendants(org, extras(stackset).ou_ids).get(parent_id)


def _dependency_order(entries: list[Entry]) -> list[Entry]:
    """Entries with every DependsOn stack set before the stack sets that depend on it."""
    by_arn = {entry[1].arn: entry for entry in entries}
    ordered: list[Entry] = []
    visiting: set[str] = set()

    def visit(arn: str) -> None:
        entry = by_arn[arn]
        if entry in ordered or arn in visiting:
            return
        visiting.add(arn)
        for dependency in (extras(entry[1]).auto_deployment or {}).get("DependsOn") or []:
            if dependency in by_arn:
                visit(dependency)
        ordered.append(entry)

    for arn in by_arn:
        visit(arn)
    return ordered


def _start_all(entries: list[Entry], account_id: str, *, deploying: bool) -> None:
    ordered = _dependency_order(entries)
    if not deploying:
        ordered.reverse()
    started: dict[str, Operation] = {}
    for backend, stackset, ou in ordered:
        dependencies = set((extras(stackset).auto_deployment or {}).get("DependsOn") or [])
        if deploying:
            waits_for = [op for arn, op in started.items() if arn in dependencies]
        else:
            # Removing: wait for the stack sets that depend on this one.
            waits_for = [
                op
                for arn, op in started.items()
                if stackset.arn in ((extras(op.stackset).auto_deployment or {}).get("DependsOn") or [])
            ]
        op = _start_one(
            backend=backend,
            stackset=stackset,
            ou=ou,
            account_id=account_id,
            deploying=deploying,
            waits_for=waits_for,
        )
        if op is not None:
            started[stackset.arn] = op


def _start_one(
    *,
    backend: CloudFormationBackend,
    stackset: StackSet,
    ou: str | None,
    account_id: str,
    deploying: bool,
    waits_for: list[Operation],
) -> Operation | None:
    present = {i.region_name for i in instances(stackset) if i.account_id == account_id}
    if deploying:
        targets = [Target(account_id, region, ou) for region in extras(stackset).regions if region not in present]
        requested: dict[str, Any] = {"OrganizationalUnitIds": [ou]}
        retain = None
    else:
        targets = [
            Target(account_id, i.region_name, i.organizational_unit_id)
            for i in instances(stackset)
            if i.account_id == account_id
        ]
        requested = {"Accounts": [account_id]}
        retain = bool((extras(stackset).auto_deployment or {}).get("RetainStacksOnAccountRemoval"))
    if not targets:
        return None
    return operations.start(
        backend,
        stackset,
        action="CREATE" if deploying else "DELETE",
        targets=targets,
        operation_id=str(uuid.uuid4()),
        preferences={},
        deployment_targets=requested,
        retain_stacks=retain,
        prerequisites=waits_for,
        automatic=True,
    )


def account_moved(org: OrganizationsBackend, account_id: str, old_parent: str | None, new_parent: str | None) -> None:
    """React to an account that left `old_parent` for `new_parent` (None: outside the organization)."""
    if org.org is None or account_id == org.org.master_account_id:
        return
    with STATE.lock:
        operations.advance_all()
        arriving: list[Entry] = []
        leaving: list[Entry] = []
        for backend, stackset in live_stacksets():
            if backend.account_id != org.account_id:
                continue
            before = _targeting_ou(stackset, org, old_parent)
            after = _targeting_ou(stackset, org, new_parent)
            # Auto-deployment ignores account-level filters: an account that moves into a target OU gets
            # instances even when a DIFFERENCE filter kept it out, from another target OU too.
            if after and after != before:
                arriving.append((backend, stackset, after))
            elif before and not after:
                leaving.append((backend, stackset, before))
        _start_all(leaving, account_id, deploying=False)
        _start_all(arriving, account_id, deploying=True)


def _parent_of(org: OrganizationsBackend, account_id: str) -> str | None:
    return next((str(a.parent_id) for a in org.accounts if a.id == account_id), None)


def _hook(original: Callable[..., Any], after: Callable[..., None]) -> Callable[..., Any]:
    @functools.wraps(original)
    def wrapper(self: OrganizationsBackend, **kwargs: Any) -> Any:
        old_parent = _parent_of(self, kwargs.get("AccountId", ""))
        result = original(self, **kwargs)
        after(self, kwargs, result, old_parent)
        return result

    setattr(wrapper, _HOOKED, True)
    return wrapper


def _after_create(org: OrganizationsBackend, kwargs: dict[str, Any], result: Any, old: str | None) -> None:
    account_id = result["CreateAccountStatus"]["AccountId"]
    account_moved(org, account_id, None, _parent_of(org, account_id))


def _after_move(org: OrganizationsBackend, kwargs: dict[str, Any], result: Any, old: str | None) -> None:
    account_moved(org, kwargs["AccountId"], old, _parent_of(org, kwargs["AccountId"]))


def _after_remove(org: OrganizationsBackend, kwargs: dict[str, Any], result: Any, old: str | None) -> None:
    account_moved(org, kwargs["AccountId"], old, None)


def install_org_hooks() -> None:
    """Patch moto's OrganizationsBackend once; later calls change nothing."""
    hooks = {
        "create_account": _after_create,
        "move_account": _after_move,
        "remove_account_from_organization": _after_remove,
    }
    for name, after in hooks.items():
        original = getattr(OrganizationsBackend, name)
        if not getattr(original, _HOOKED, False):
            setattr(OrganizationsBackend, name, _hook(original, after))
