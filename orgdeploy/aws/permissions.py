"""IAM permissions orgdeploy needs, declared beside the gateway calls that use them, and scoped (pure).

Each gateway module holds a PERMISSIONS tuple of Need values (stack_resources.py adds what
CloudFormation's handlers need for a plain stack); `policy_document(role, needs, scope)` merges
them into one IAM policy. Each action goes on the ARNs of orgdeploy's own resources, built from the
config with the naming code that names them, for every resource type IAM's Service Authorization
Reference lets that action be scoped to (iam_actions.json); an action with no resource type stays
on "*". Conditions narrow what a resource cannot: the service a role may be passed to, the service
a service-linked role may be made for, the managed policy a role may get, the tag on KMS keys.

A test records every AWS call a full run makes and fails if the role's policy does not list it, so
the declarations cannot drift; another runs parliament and cloudsplaining over every policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orgdeploy.config.model import Config

ROLES = ("management", "delegated-admin", "ci", "member", "hub")
# management: everything, from the management account. delegated-admin: the same from a delegated
# administrator (the management account's own stacks go through management_account.role_arn, which
# needs the management policy). ci: `update` only. member: census.role_name in each member account
# (read-only). hub: census.role_name in notifications.hub_account, which also deploys the hub stack.
DEPLOYERS = frozenset({"management", "delegated-admin", "ci"})
EVERYONE_BUT_MEMBER = DEPLOYERS
ADMINS = frozenset({"management", "delegated-admin"})
MANAGED_TAG = ("orgdeploy:managed", "true")  # on every stack orgdeploy creates, and so on its resources

# Service names (botocore) to IAM action prefixes, where they differ.
_PREFIX = {"service-quotas": "servicequotas"}
# Operations whose IAM action is not named like the API call; None: no permission needed.
_ACTION = {
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("sts", "GetCallerIdentity"): None,
}
# The services orgdeploy's roles are handed to, and those whose service-linked roles its resources make.
PASSED_TO = ("config.amazonaws.com", "events.amazonaws.com")
LINKED_SERVICES = ("config.amazonaws.com", "config-conforms.amazonaws.com", "config-multiaccountsetup.amazonaws.com")
ATTACHED_POLICY = "iam::aws:policy/service-role/AWSConfigRoleForOrganizations"  # the aggregator role's
# What org-setup enables and registers in Organizations.
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
CONFIG_PRINCIPAL = "config.amazonaws.com"
CONFIG_MULTI_PRINCIPAL = "config-multiaccountsetup.amazonaws.com"
# Trusted access that organization packs and the aggregator need.
SERVICE_ACCESS = (CONFIG_PRINCIPAL, CONFIG_MULTI_PRINCIPAL)
DELEGATED_PRINCIPALS = (STACKSETS_PRINCIPAL, CONFIG_PRINCIPAL, CONFIG_MULTI_PRINCIPAL)


@dataclass(frozen=True)
class Need:
    actions: tuple[str, ...]
    roles: frozenset[str]
    why: str


@dataclass(frozen=True)
class Scope:
    """The names a policy is scoped to; from_config() takes them from orgdeploy.yaml."""

    prefix: str = "orgdeploy"
    partition: str = "aws"
    census_role: str = "OrganizationAccountAccessRole"
    management_role_arn: str | None = None
    delivery_bucket: str | None = None  # None: the default name, <prefix>-config-<organization id>
    delegated_admin_account: str | None = None
    # existing_recorder: adopt: recorders keep names orgdeploy cannot know ahead, so writes reach any recorder.
    adopts: bool = False
    # EnableAWSServiceAccess and RegisterDelegatedAdministrator: only for these services.
    service_principals: tuple[str, ...] = tuple(sorted({*SERVICE_ACCESS, *DELEGATED_PRINCIPALS}))

    @classmethod
    def from_config(cls, config: Config) -> Scope:
        return cls(
            prefix=config.stacksets.name_prefix,
            census_role=config.census.role_name,
            management_role_arn=config.management_account.role_arn,
            delivery_bucket=config.delivery.bucket_name,
            delegated_admin_account=config.admin.delegated_admin_account,
            adopts=config.recording.existing_recorder == "adopt",
        )

    def buckets(self) -> tuple[str, ...]:
        delivery = self.delivery_bucket or f"{self.prefix}-config-*"
        return (f"arn:{self.partition}:s3:::{delivery}", f"arn:{self.partition}:s3:::awsconfigconforms*")

    def roles(self) -> tuple[str, ...]:
        linked = tuple(f"arn:{self.partition}:iam::*:role/aws-service-role/{s}/*" for s in LINKED_SERVICES)
        return (f"arn:{self.partition}:iam::*:role/{self.prefix}-*", *linked)

    def assumable(self) -> tuple[str, ...]:
        found = [f"arn:{self.partition}:iam::*:role/{self.census_role}"]
        return tuple(found + ([self.management_role_arn] if self.management_role_arn else []))


def _arns(scope: Scope) -> dict[str, tuple[str, ...]]:
    """Service Authorization Reference ARN formats -> the ARNs of orgdeploy's own resources of that type."""
    p, name = scope.partition, f"{scope.prefix}-*"
    base = "arn:${Partition}:"
    region = "${Region}:${Account}:"
    return {
        f"{base}cloudformation:{region}stack/${{StackName}}/${{Id}}": (f"arn:{p}:cloudformation:*:*:stack/{name}/*",),
        f"{base}cloudformation:{region}stackset/${{StackSetName}}:${{Id}}": (
            f"arn:{p}:cloudformation:*:*:stackset/{name}:*",
        ),
        f"{base}cloudformation:{region}stackset-target/${{StackSetTarget}}": (
            f"arn:{p}:cloudformation:*:*:stackset-target/{name}",
        ),
        # The resource types a stack set's template may hold: AWS's own, named AWS::Service::Type.
        f"{base}cloudformation:{region}type/resource/${{Type}}": (f"arn:{p}:cloudformation:*:*:type/resource/AWS-*",),
        # Aggregator and recorder ARNs end in an id AWS makes up; the census reads every recorder.
        f"{base}config:{region}config-aggregator/${{AggregatorId}}": (f"arn:{p}:config:*:*:config-aggregator/*",),
        f"{base}config:{region}configuration-recorder/${{RecorderName}}/${{RecorderId}}": (
            f"arn:{p}:config:*:*:configuration-recorder/*",
        ),
        f"{base}config:{region}organization-conformance-pack/${{OrganizationConformancePackId}}": (
            f"arn:{p}:config:*:*:organization-conformance-pack/{name}",
        ),
        f"{base}events:{region}event-bus/${{EventBusName}}": (f"arn:{p}:events:*:*:event-bus/{name}",),
        f"{base}events:{region}rule/${{EventBusName}}/${{RuleName}}": (f"arn:{p}:events:*:*:rule/{name}/{name}",),
        f"{base}events:{region}rule/${{RuleName}}": (f"arn:{p}:events:*:*:rule/{name}",),
        f"{base}firehose:{region}deliverystream/${{DeliveryStreamName}}": (
            f"arn:{p}:firehose:*:*:deliverystream/{name}",
        ),
        "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}": scope.roles(),
        # Key ids are made up by AWS: keys are scoped by orgdeploy's tag instead (_conditions).
        f"{base}kms:{region}key/${{KeyId}}": (f"arn:{p}:kms:*:*:key/*",),
        f"{base}logs:{region}log-group:${{LogGroupName}}": (
            f"arn:{p}:logs:*:*:log-group:/aws/events/{name}",
            f"arn:{p}:logs:*:*:log-group:/aws/events/{name}:*",
        ),
        # The guard's policy (ids are made up by AWS), and the roots and OUs it is attached to.
        "arn:${Partition}:organizations::${Account}:policy/o-${OrganizationId}/${PolicyType}/p-${PolicyId}": (
            f"arn:{p}:organizations::*:policy/o-*/service_control_policy/p-*",
        ),
        "arn:${Partition}:organizations::${Account}:root/o-${OrganizationId}/r-${RootId}": (
            f"arn:{p}:organizations::*:root/o-*/r-*",
        ),
        "arn:${Partition}:organizations::${Account}:ou/o-${OrganizationId}/ou-${OrganizationalUnitId}": (
            f"arn:{p}:organizations::*:ou/o-*/ou-*",
        ),
        "arn:${Partition}:organizations::${Account}:account/o-${OrganizationId}/${AccountId}": (
            f"arn:{p}:organizations::*:account/o-*/{scope.delegated_admin_account or '*'}",
        ),
        "arn:${Partition}:s3:::${BucketName}": scope.buckets(),
        "arn:${Partition}:s3:::${BucketName}/${ObjectName}": tuple(f"{b}/*" for b in scope.buckets()),
        f"{base}s3tables:{region}bucket/${{TableBucketName}}": (f"arn:{p}:s3tables:*:*:bucket/{name}",),
        f"{base}s3tables:{region}bucket/${{TableBucketName}}/table/${{TableID}}": (
            f"arn:{p}:s3tables:*:*:bucket/{name}/table/*",
        ),
        f"{base}sns:{region}${{TopicName}}": (f"arn:{p}:sns:*:*:{name}",),
        # Remediation runs: their ids are made up by SSM.
        f"{base}ssm:{region}automation-execution/${{AutomationExecutionId}}": (
            f"arn:{p}:ssm:*:*:automation-execution/*",
        ),
        f"{base}servicequotas:{region}${{ServiceCode}}/${{QuotaCode}}": (
            f"arn:{p}:servicequotas:*:*:cloudformation/*",
        ),
    }


Condition = dict[str, dict[str, Any]]
_KMS_TAG = {"StringEquals": {f"aws:ResourceTag/{MANAGED_TAG[0]}": MANAGED_TAG[1]}}
_KMS_REQUEST_TAG = {"StringEquals": {f"aws:RequestTag/{MANAGED_TAG[0]}": MANAGED_TAG[1]}}


def _conditions(action: str, scope: Scope) -> Condition:
    """The conditions an action gets on top of its resources."""
    fixed: dict[str, Callable[[], Condition]] = {
        "iam:PassRole": lambda: {"StringEquals": {"iam:PassedToService": list(PASSED_TO)}},
        "iam:CreateServiceLinkedRole": lambda: {"StringEquals": {"iam:AWSServiceName": list(LINKED_SERVICES)}},
        "iam:AttachRolePolicy": lambda: {"ArnEquals": {"iam:PolicyARN": f"arn:{scope.partition}:{ATTACHED_POLICY}"}},
        "iam:DetachRolePolicy": lambda: {"ArnEquals": {"iam:PolicyARN": f"arn:{scope.partition}:{ATTACHED_POLICY}"}},
        "kms:CreateKey": lambda: _KMS_REQUEST_TAG,
    }
    if action in fixed:
        return fixed[action]()
    if action.startswith("kms:"):
        return _KMS_TAG
    if action in {"organizations:EnableAWSServiceAccess", "organizations:RegisterDelegatedAdministrator"}:
        return {"StringEquals": {"organizations:ServicePrincipal": list(scope.service_principals)}}
    return {}


_OWN_RECORDER_ONLY = frozenset(f"config:{verb}ConfigurationRecorder" for verb in ("Put", "Start", "Stop", "Delete"))


@cache
def action_data() -> dict[str, dict[str, Any]]:
    """iam_actions.json: each action's access level and the resource ARN formats it can be scoped to."""
    text = resources.files("orgdeploy.aws").joinpath("iam_actions.json").read_text(encoding="utf-8")
    found: dict[str, dict[str, Any]] = json.loads(text)
    return found


def resources_for(action: str, scope: Scope) -> tuple[str, ...]:
    """orgdeploy's own ARNs for the action, or ("*",) when IAM offers no resource type orgdeploy has."""
    if action == "sts:AssumeRole":
        return scope.assumable()
    if action == "iam:PassRole" and scope.adopts:
        # Giving an adopted recorder back puts its own role back, whatever that role is called.
        return (f"arn:{scope.partition}:iam::*:role/*",)
    if action in _OWN_RECORDER_ONLY:
        # Every recorder may be read, but orgdeploy writes only its own (and, adopting, the ones it adopts).
        name = "*" if scope.adopts else f"{scope.prefix}-*"
        return (f"arn:{scope.partition}:config:*:*:configuration-recorder/{name}/*",)
    arns = _arns(scope)
    formats = action_data().get(action, {}).get("resources", [])
    found = tuple(dict.fromkeys(arn for f in formats for arn in arns.get(f, ())))
    return found or ("*",)


def iam_action(service: str, operation: str) -> str | None:
    """The IAM action a botocore call needs (ListStackSets on cloudformation -> cloudformation:ListStackSets)."""
    if (service, operation) in _ACTION:
        return _ACTION[(service, operation)]
    return f"{_PREFIX.get(service, service)}:{operation}"


def actions_for(role: str, needs: Iterable[Need]) -> list[str]:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    known = action_data()
    # A schema may list a permission IAM does not have (an API name, say); no policy can grant it.
    return sorted({a for need in needs if role in need.roles for a in need.actions if a in known})


def _sid(service: str, number: int) -> str:
    return f"Orgdeploy{service.title().replace('-', '')}{number}"


def policy_document(role: str, needs: Iterable[Need], scope: Scope | None = None) -> dict[str, Any]:
    """The role's policy: one statement per service and (resources, conditions), actions sorted."""
    scope = scope or Scope()
    groups: dict[tuple[str, tuple[str, ...], str], list[str]] = {}
    for action in actions_for(role, needs):
        key = (action.split(":", 1)[0], resources_for(action, scope), json.dumps(_conditions(action, scope)))
        groups.setdefault(key, []).append(action)
    statements = []
    numbers: dict[str, int] = {}
    for (service, arns, condition), actions in sorted(groups.items()):
        numbers[service] = numbers.get(service, 0) + 1
        statement: dict[str, Any] = {
            "Sid": _sid(service, numbers[service]),
            "Effect": "Allow",
            "Action": actions,
            "Resource": list(arns) if len(arns) > 1 else arns[0],
        }
        if condition != "{}":
            statement["Condition"] = json.loads(condition)
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def policy_json(role: str, needs: Iterable[Need], scope: Scope | None = None) -> str:
    return json.dumps(policy_document(role, needs, scope), indent=2)
