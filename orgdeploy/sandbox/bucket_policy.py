"""S3 bucket policies evaluated as AWS evaluates the statements orgdeploy's buckets carry.

moto's own check (FakeBucket.get_permission) ignores principals and treats any condition it cannot
read as a Deny, so a TLS-only bucket refuses every object call and a grant to one account is a grant
to all. Here a statement applies only when its principal, action, resource and conditions all match;
a condition on a key this module does not know makes the statement not apply. The sandbox endpoint
stands for AWS's HTTPS endpoint, so every request counts as aws:SecureTransport "true".
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any, Literal

from moto.s3.models import FakeBucket, s3_backends

Verdict = Literal["allow", "deny", "neutral"]
_OPERATORS = {"StringEquals", "Bool", "StringLike", "ArnLike", "ArnEquals"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names(principal: Any, account: str | None) -> bool:
    if principal == "*":
        return True
    given = as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
    if "*" in given:
        return True
    return account is not None and bool({account, f"arn:aws:iam::{account}:root"} & set(given))


def covers(statement: dict[str, Any], action: str, *resources: str) -> bool:
    """The statement's Action matches action and its Resource matches one of the resource's forms."""
    actions = [a.lower() for a in as_list(statement.get("Action", []))]
    patterns = as_list(statement.get("Resource", []))
    return any(fnmatch.fnmatchcase(action.lower(), a) for a in actions) and any(
        fnmatch.fnmatchcase(resource, r) for resource in resources for r in patterns
    )


def conditions_hold(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    """Every condition holds in context; a key the context lacks, or an operator not known here, fails."""
    for operator, tests in conditions.items():
        for key, values in tests.items():
            actual = context.get(key.lower())
            if actual is None or operator not in _OPERATORS:
                return False
            patterns = [str(v) for v in as_list(values)]
            like = operator.endswith("Like") or operator.startswith("Arn")  # ARN operators take wildcards
            if not any(fnmatch.fnmatchcase(actual, p) if like else actual.lower() == p.lower() for p in patterns):
                return False
    return True


def evaluate(
    policy: str | bytes | None,
    *,
    action: str,
    resource: str,
    account: str | None = None,
    organization_id: str | None = None,
) -> Verdict:
    """A request by `account` (None: an unnamed caller) for action on resource, as the policy judges it."""
    if not policy:
        return "neutral"
    statements = json.loads(policy).get("Statement", [])
    context = {"aws:securetransport": "true"}
    if account is not None:
        context["aws:principalaccount"] = account
    if organization_id is not None:
        context["aws:principalorgid"] = organization_id
    verdict: Verdict = "neutral"
    for statement in as_list(statements):
        if not (_names(statement.get("Principal"), account) and covers(statement, action, resource)):
            continue
        if not conditions_hold(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return "deny"
        verdict = "allow"
    return verdict


def account_may_read(bucket: str, key: str, account: str, *, organization_id: str | None) -> bool:
    """Whether `account` may GetObject bucket/key: it owns the bucket, or the bucket policy allows it."""
    owner = s3_backends.bucket_accounts.get(bucket)
    if owner is None:
        return False
    if owner[1] == account:
        return True
    found = s3_backends[owner[1]][owner[0]].buckets.get(bucket)
    if found is None:
        return False
    arn = f"arn:{owner[0]}:s3:::{bucket}/{key}"
    verdict = evaluate(
        found.policy, action="s3:GetObject", resource=arn, account=account, organization_id=organization_id
    )
    return verdict == "allow"


def patch_bucket_permission() -> None:
    """moto's object-call check, with statements evaluated as above (the caller is not known there)."""
    from moto.iam.access_control import PermissionResult

    results = {
        "allow": PermissionResult.PERMITTED,
        "deny": PermissionResult.DENIED,
        "neutral": PermissionResult.NEUTRAL,
    }

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        return results[evaluate(self.policy, action=action, resource=resource)]

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
