"""Service control policies: the sandbox refuses what Organizations refuses, and applies their Deny statements.

moto stores SCPs and attaches them anywhere. AWS Organizations:
- attaches a policy only of a type enabled on the root (PolicyTypeNotEnabledException);
- keeps an SCP document to 5,120 characters (ConstraintViolationException, POLICY_CONTENT_LIMIT_EXCEEDED);
- allows at most 5 SCPs on one root, OU or account (ConstraintViolationException,
  MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED);
- never applies SCPs to the management account or to service-linked roles.

`explicit_deny()` evaluates the Deny statements of every SCP on an account, its OUs and the root
for one request: Action and Resource with wildcards, and conditions on `aws:PrincipalArn` and
`aws:PrincipalAccount` (Arn*, String* operators, their Not forms). A condition on any other key
counts as met, so such a Deny applies: the sandbox errs towards refusing. Allow statements are not
evaluated (FullAWSAccess allows everything, as on a new organization).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

from moto.organizations.exceptions import ConstraintViolationException, PolicyTypeNotEnabledException
from moto.organizations.models import FakeRoot, OrganizationsBackend, organizations_backends

SCP = "SERVICE_CONTROL_POLICY"
SIZE_LIMIT = 5_120
PER_TARGET = 5
_PATCHED: list[bool] = []


def _enabled(backend: OrganizationsBackend) -> bool:
    root = next((ou for ou in backend.ou if isinstance(ou, FakeRoot)), None)
    return root is not None and any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in root.policy_types)


def _check_size(content: str | None) -> None:
    if content is not None and len(content) > SIZE_LIMIT:
        raise ConstraintViolationException(
            "You have exceeded the maximum size of a policy document (POLICY_CONTENT_LIMIT_EXCEEDED)."
        )


def _target(backend: OrganizationsBackend, target_id: str) -> Any:
    found = [o for o in backend.ou if o.id == target_id] + [a for a in backend.accounts if a.id == target_id]
    return found[0] if found else None


def install_scp_rules() -> None:
    """Patch moto's Organizations backend; calling it again changes nothing."""
    if _PATCHED:
        return
    create: Callable[..., dict[str, Any]] = OrganizationsBackend.create_policy
    update: Callable[..., dict[str, Any]] = OrganizationsBackend.update_policy
    attach: Callable[..., None] = OrganizationsBackend.attach_policy

    def create_policy(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("Type") == SCP:
            _check_size(kwargs.get("Content"))
        return create(self, **kwargs)

    def update_policy(self: OrganizationsBackend, **kwargs: Any) -> dict[str, Any]:
        if self.get_policy_by_id(kwargs["PolicyId"]).type == SCP:
            _check_size(kwargs.get("Content"))
        return update(self, **kwargs)

    def attach_policy(self: OrganizationsBackend, **kwargs: Any) -> None:
        policy = self.get_policy_by_id(kwargs["PolicyId"])
        if policy.type == SCP and not policy.aws_managed:
            if not _enabled(self):
                raise PolicyTypeNotEnabledException
            target = _target(self, kwargs["TargetId"])
            held = [p for p in getattr(target, "attached_policies", []) if p.type == SCP and p is not policy]
            if len(held) >= PER_TARGET:
                raise ConstraintViolationException(
                    "You have attached the maximum number of policies of this type to the target "
                    "(MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED)."
                )
        attach(self, **kwargs)

    OrganizationsBackend.create_policy = create_policy  # type: ignore[method-assign]
    OrganizationsBackend.update_policy = update_policy  # type: ignore[method-assign]
    OrganizationsBackend.attach_policy = attach_policy  # type: ignore[method-assign]
    _PATCHED.append(True)


def _organization_of(account: str) -> OrganizationsBackend | None:
    for by_partition in list(organizations_backends.values()):
        backend = by_partition["aws"]
        if backend.org is not None and any(a.id == account for a in backend.accounts):
            return backend
    return None


def policies_on(account: str) -> list[dict[str, Any]]:
    """The SCP documents that apply to a member account: its own, its OUs' and the root's."""
    backend = _organization_of(account)
    if backend is None or backend.org is None or account == backend.org.master_account_id or not _enabled(backend):
        return []
    member = next(a for a in backend.accounts if a.id == account)
    holders: list[Any] = [member]
    parent: str | None = member.parent_id
    while parent:
        unit = _target(backend, parent)
        if unit is None:
            break
        holders.append(unit)
        parent = None if isinstance(unit, FakeRoot) else getattr(unit, "parent_id", None)
    return [json.loads(p.content) for h in holders for p in h.attached_policies if p.type == SCP]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


_OPERATORS: dict[str, Callable[[str, list[str]], bool]] = {
    "StringEquals": lambda v, ps: v in ps,
    "StringNotEquals": lambda v, ps: v not in ps,
    "StringLike": lambda v, ps: any(fnmatch.fnmatchcase(v, p) for p in ps),
    "StringNotLike": lambda v, ps: not any(fnmatch.fnmatchcase(v, p) for p in ps),
    "ArnEquals": lambda v, ps: v in ps,
    "ArnNotEquals": lambda v, ps: v not in ps,
    "ArnLike": lambda v, ps: any(fnmatch.fnmatchcase(v, p) for p in ps),
    "ArnNotLike": lambda v, ps: not any(fnmatch.fnmatchcase(v, p) for p in ps),
}


def _conditions_hold(condition: dict[str, Any], context: dict[str, str]) -> bool:
    for operator, tests in (condition or {}).items():
        check = _OPERATORS.get(operator)
        for key, patterns in tests.items():
            value = context.get(key.lower())
            if check is None or value is None:
                continue  # unknown operator or key: taken as met
            if not check(value, _listed(patterns)):
                return False
    return True


def explicit_deny(account: str, principal_arn: str, action: str, resource: str) -> dict[str, Any] | None:
    """The first SCP Deny statement that applies to this request, or None."""
    context = {"aws:principalarn": principal_arn, "aws:principalaccount": account}
    for document in policies_on(account):
        for statement in _listed_statements(document):
            if statement.get("Effect") != "Deny":
                continue
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(statement.get("Action"))):
                continue
            if not any(fnmatch.fnmatchcase(resource, r) for r in _listed(statement.get("Resource", "*"))):
                continue
            if _conditions_hold(statement.get("Condition") or {}, context):
                return statement
    return None


def _listed_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document.get("Statement") or []
    return [found] if isinstance(found, dict) else list(found)
