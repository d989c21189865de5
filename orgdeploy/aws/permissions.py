"""IAM permissions orgdeploy needs, declared beside the gateway calls that use them (pure).

Each gateway module holds a PERMISSIONS tuple of Need values; `policy_for(role)`
merges them into one IAM policy. A test records every AWS call a full run makes
and fails if the role's policy does not list it, so the declarations cannot drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ROLES = ("management", "delegated-admin", "ci", "member")
# management: everything, from the management account. delegated-admin: the same from a delegated
# administrator (the management account's own stacks go through management_account.role_arn).
# ci: `update` only. member: census.role_name in each member account (read-only).
DEPLOYERS = frozenset({"management", "delegated-admin", "ci"})
EVERYONE_BUT_MEMBER = DEPLOYERS
ADMINS = frozenset({"management", "delegated-admin"})

# Service names (botocore) to IAM action prefixes, where they differ.
_PREFIX = {"service-quotas": "servicequotas"}
# Operations whose IAM action is not named like the API call; None: no permission needed.
_ACTION = {
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("sts", "GetCallerIdentity"): None,
}


@dataclass(frozen=True)
class Need:
    actions: tuple[str, ...]
    roles: frozenset[str]
    why: str


def iam_action(service: str, operation: str) -> str | None:
    """The IAM action a botocore call needs (ListStackSets on cloudformation -> cloudformation:ListStackSets)."""
    if (service, operation) in _ACTION:
        return _ACTION[(service, operation)]
    return f"{_PREFIX.get(service, service)}:{operation}"


def actions_for(role: str, needs: Iterable[Need]) -> list[str]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    return sorted({action for need in needs if role in need.roles for action in need.actions})


def policy_document(role: str, needs: Iterable[Need]) -> dict[str, Any]:
    needs = list(needs)
    by_service: dict[str, list[str]] = {}
    for action in actions_for(role, needs):
        by_service.setdefault(action.split(":", 1)[0], []).append(action)
    statements = [
        {"Sid": f"Orgdeploy{service.title().replace('-', '')}", "Effect": "Allow", "Action": actions, "Resource": "*"}
        for service, actions in sorted(by_service.items())
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(role: str, needs: Iterable[Need]) -> str:
    return json.dumps(policy_document(role, needs), indent=2)
