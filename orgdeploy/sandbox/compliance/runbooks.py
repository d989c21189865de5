"""The AWS-owned SSM Automation documents the sandbox runs, each step checked against the assumed role first.

A step is authorised as IAM authorises a call: an explicit Deny in the role's policies refuses it,
else an Allow must match the action, the resource and its conditions. Conditions known here:
String*/Arn* on aws:RequestedRegion, aws:SourceAccount and aws:PrincipalAccount, Date* on
aws:CurrentTime; an unknown one makes an Allow not apply and a Deny apply, so the sandbox errs
towards refusing. A refused step fails the automation with the message SSM gives for an
AccessDenied answer; otherwise the step changes the resource in moto's backends.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends

Authorize = Callable[[str, str, str], None]  # (API name, IAM action, resource ARN); raises StepFailed


class StepFailed(Exception):
    """An automation step's failure, with SSM's FailureMessage."""


def _listed(value: Any) -> list[Any]:
    return [value] if isinstance(value, (str, dict)) else list(value or [])


def _date(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _condition(operator: str, actual: str | None, wanted: list[str]) -> bool | None:
    """Whether the condition holds; None when the sandbox cannot tell."""
    if actual is None:
        return None
    base = operator.replace("IfExists", "")
    if base.startswith("Date"):
        now, limits = _date(actual), [_date(w) for w in wanted]
        if now is None or None in limits:
            return None
        checks: dict[str, Callable[[datetime], bool]] = {
            "DateLessThan": lambda limit: now < limit,
            "DateGreaterThan": lambda limit: now > limit,
            "DateLessThanEquals": lambda limit: now <= limit,
            "DateGreaterThanEquals": lambda limit: now >= limit,
        }
        check = checks.get(base)
        return None if check is None else any(check(limit) for limit in limits if limit is not None)
    matchers = {
        "StringEquals": lambda: actual in wanted, "StringNotEquals": lambda: actual not in wanted,
        "StringLike": lambda: any(fnmatch.fnmatchcase(actual, w) for w in wanted),
        "StringNotLike": lambda: not any(fnmatch.fnmatchcase(actual, w) for w in wanted),
        "ArnEquals": lambda: actual in wanted, "ArnLike": lambda: any(fnmatch.fnmatchcase(actual, w) for w in wanted),
        "ArnNotLike": lambda: not any(fnmatch.fnmatchcase(actual, w) for w in wanted),
    }  # fmt: skip
    found = matchers.get(base)
    return None if found is None else bool(found())


def _applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, str], *, deny: bool) -> bool:
    if not any(fnmatch.fnmatchcase(action.lower(), str(a).lower()) for a in _listed(statement.get("Action"))):
        return False
    if not any(fnmatch.fnmatchcase(resource, str(r)) for r in _listed(statement.get("Resource", "*"))):
        return False
    for operator, tests in (statement.get("Condition") or {}).items():
        for key, wanted in tests.items():
            holds = _condition(operator, context.get(key.lower()), [str(w) for w in _listed(wanted)])
            if holds is None:
                return deny  # unknown: a Deny applies, an Allow does not
            if not holds:
                return False
    return True


def role_documents(account: str, role_name: str) -> list[dict[str, Any]] | None:
    """The role's inline and attached policy documents; None when the role does not exist."""
    iam = iam_backends[account]["aws"]
    role = next((r for r in iam.roles.values() if r.name == role_name), None)
    if role is None:
        return None
    found = [json.loads(unquote(doc)) if isinstance(doc, str) else doc for doc in role.policies.values()]
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        if version is not None:
            document = version.document
            found.append(json.loads(unquote(document)) if isinstance(document, str) else document)
    return found


def trusts_ssm(account: str, role_name: str) -> bool:
    iam = iam_backends[account]["aws"]
    role = next((r for r in iam.roles.values() if r.name == role_name), None)
    if role is None:
        return False
    document = json.loads(unquote(role.assume_role_policy_document))
    return any(
        s.get("Effect") == "Allow" and "ssm.amazonaws.com" in _listed((s.get("Principal") or {}).get("Service"))
        for s in _listed(document.get("Statement"))
    )


def authorizer(account: str, region: str, role_name: str, session: str, now: float) -> Authorize:
    documents = role_documents(account, role_name) or []
    context = {
        "aws:requestedregion": region,
        "aws:sourceaccount": account,
        "aws:principalaccount": account,
        "aws:currenttime": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    who = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
    statements = [s for d in documents for s in _listed(d.get("Statement"))]

    def authorize(api: str, action: str, resource: str) -> None:
        denied = any(
            s.get("Effect") == "Deny" and _applies(s, action, resource, context, deny=True) for s in statements
        )
        allowed = any(
            s.get("Effect") == "Allow" and _applies(s, action, resource, context, deny=False) for s in statements
        )
        if denied or not allowed:
            why = (
                "with an explicit deny in an identity-based policy"
                if denied
                else (f"because no identity-based policy allows the {action} action")
            )
            raise StepFailed(
                f"An error occurred (AccessDenied) when calling the {api} operation: User: {who} is not authorized "
                f'to perform: {action} on resource: "{resource}" {why}'
            )

    return authorize


# -- the documents' steps ------------------------------------------------------------------------------


def _bucket(account: str, name: str) -> Any:
    bucket = s3_backends[account]["aws"].buckets.get(name)
    if bucket is None:
        raise StepFailed(f"An error occurred (NoSuchBucket) when calling the operation: The specified bucket {name} "
                         "does not exist")  # fmt: skip
    return bucket


def _one(params: dict[str, list[str]], name: str, default: str = "") -> str:
    values = params.get(name) or [default]
    return values[0]


def disable_public_read_write(account: str, region: str, params: dict[str, list[str]], authorize: Authorize) -> None:
    name = _one(params, "S3BucketName")
    _bucket(account, name)
    authorize("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", f"arn:aws:s3:::{name}")
    block = {k: "true" for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
    s3_backends[account]["aws"].put_public_access_block(name, block)


def enable_encryption(account: str, region: str, params: dict[str, list[str]], authorize: Authorize) -> None:
    name = _one(params, "BucketName")
    _bucket(account, name)
    authorize("PutBucketEncryption", "s3:PutEncryptionConfiguration", f"arn:aws:s3:::{name}")
    algorithm = _one(params, "SSEAlgorithm", "AES256")
    rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}
    s3_backends[account]["aws"].put_bucket_encryption(name, {"Rule": [rule]})


def restrict_ssl_requests_only(account: str, region: str, params: dict[str, list[str]], authorize: Authorize) -> None:
    name = _one(params, "BucketName")
    bucket = _bucket(account, name)
    arn = f"arn:aws:s3:::{name}"
    authorize("GetBucketPolicy", "s3:GetBucketPolicy", arn)
    current = json.loads(bucket.policy) if bucket.policy else {"Version": "2012-10-17", "Statement": []}
    deny = {"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    current["Statement"] = [s for s in _listed(current.get("Statement")) if s.get("Sid") != deny["Sid"]] + [deny]
    authorize("PutBucketPolicy", "s3:PutBucketPolicy", arn)
    s3_backends[account]["aws"].put_bucket_policy(name, json.dumps(current).encode())


def configure_logging(account: str, region: str, params: dict[str, list[str]], authorize: Authorize) -> None:
    name = _one(params, "BucketName")
    _bucket(account, name)
    target = _one(params, "TargetBucket")
    if target not in s3_backends.bucket_accounts:
        raise StepFailed(
            "An error occurred (InvalidTargetBucketForLogging) when calling the PutBucketLogging operation: "
            "The target bucket for logging does not exist"
        )
    authorize("PutBucketLogging", "s3:PutBucketLogging", f"arn:aws:s3:::{name}")
    logging = {"TargetBucket": target, "TargetPrefix": _one(params, "TargetPrefix", "/")}
    s3_backends[account]["aws"].get_bucket(name).logging = logging


def disable_incoming_ssh(account: str, region: str, params: dict[str, list[str]], authorize: Authorize) -> None:
    backend = ec2_backends[account][region]
    for listed in ",".join(params.get("SecurityGroupIds") or []).split(","):
        group_id = listed.strip()
        authorize("DescribeSecurityGroups", "ec2:DescribeSecurityGroups", "*")
        group = next((g for g in backend.describe_security_groups(group_ids=[group_id])), None)
        if group is None:
            raise StepFailed(f"An error occurred (InvalidGroup.NotFound) when calling the DescribeSecurityGroups "
                             f"operation: The security group '{group_id}' does not exist")  # fmt: skip
        authorize("RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress",
                  f"arn:aws:ec2:{region}:{account}:security-group/{group_id}")  # fmt: skip
        group.ingress_rules = [r for r in group.ingress_rules if not _open_ssh(r)]


def _open_ssh(rule: Any) -> bool:
    ports = (int(rule.from_port or 0), int(rule.to_port or 65535))
    ranges = rule.ip_range if isinstance(rule.ip_range, dict) else {}
    world = ranges.get("CidrIp") == "0.0.0.0/0" or ranges.get("CidrIpv6") == "::/0"
    return rule.ip_protocol in {"tcp", "6", "-1"} and ports[0] <= 22 <= ports[1] and world


def revoke_unused_credentials(account: str, region: str, params: dict[str, list[str]], authorize: Authorize) -> None:
    iam = iam_backends[account]["aws"]
    user = next((u for u in iam.users.values() if u.id == _one(params, "IAMResourceId")), None)
    if user is None:
        raise StepFailed("An error occurred (NoSuchEntity) when calling the GetUser operation: The user does not exist")
    arn = f"arn:aws:iam::{account}:user/{user.name}"
    authorize("ListAccessKeys", "iam:ListAccessKeys", arn)
    age = timedelta(days=int(_one(params, "MaxCredentialUsageAge", "90")))
    for key in user.access_keys:
        last = key.last_used.timestamp if key.last_used else key.create_date
        if key.status == "Active" and datetime.now(UTC).replace(tzinfo=None) - last.replace(tzinfo=None) > age:
            authorize("UpdateAccessKey", "iam:UpdateAccessKey", arn)
            key.status = "Inactive"


STEPS: dict[str, tuple[str, Callable[[str, str, dict[str, list[str]], Authorize], None]]] = {
    "AWS-DisableS3BucketPublicReadWrite": ("PutPublicAccessBlock", disable_public_read_write),
    "AWS-EnableS3BucketEncryption": ("PutBucketEncryption", enable_encryption),
    "AWSConfigRemediation-RestrictBucketSSLRequestsOnly": ("RestrictBucketSSLRequestsOnly", restrict_ssl_requests_only),
    "AWS-ConfigureS3BucketLogging": ("PutBucketLogging", configure_logging),
    "AWS-DisableIncomingSSHOnPort22": ("DisableIncomingSSHTemplate", disable_incoming_ssh),
    "AWSConfigRemediation-RevokeUnusedIAMUserCredentials": (
        "RevokeUnusedIAMUserCredentials",
        revoke_unused_credentials,
    ),
}
