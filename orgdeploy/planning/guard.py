"""The guard: a service control policy that keeps member administrators off what orgdeploy deploys (pure).

It denies the calls that stop or change orgdeploy's recorder and delivery channel, and that change
or delete its organization conformance packs and their rules, to every principal but StackSets'
execution roles, orgdeploy's census role and the configured break-glass roles. AWS Control Tower's
"Disallow changes to AWS Config" control has the same shape (a Deny with `ArnNotLike
aws:PrincipalARN`). SCPs never apply to the management account or to service-linked roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orgdeploy.config.awsdata import AGGREGATOR_CALLS, CHANNEL_CALLS, PACK_CALLS, RECORDER_CALLS, RULE_CALLS
from orgdeploy.config.model import Config
from orgdeploy.errors import PlanBlocked
from orgdeploy.planning.inventory import GuardState, Organization
from orgdeploy.planning.plan import Step
from orgdeploy.planning.steps import Builder
from orgdeploy.templates import naming

# AWS Organizations quotas: an SCP document of at most 5,120 characters, and at most 5 SCPs per root, OU or account.
SCP_SIZE_LIMIT = 5_120
SCPS_PER_TARGET = 5
# The roles StackSets runs as in member accounts: service-managed, then self-managed stack sets.
STACKSETS_EXECUTION_ROLES = ("stacksets-exec-*", "AWSCloudFormationStackSetExecutionRole")
# Rules an organization conformance pack creates are service-linked rules of config-conforms.amazonaws.com
# (their ARNs, as in the managed policy ConfigConformsServiceRolePolicy); a rule's ARN carries its id, not its name.
PACK_RULES = "arn:aws:config:*:*:config-rule/aws-service-rule/config-conforms.amazonaws.com/*"
RECORDER_ACTIONS = tuple(f"config:{c}" for c in RECORDER_CALLS)
CHANNEL_ACTIONS = tuple(f"config:{c}" for c in CHANNEL_CALLS)
PACK_ACTIONS = tuple(f"config:{c}" for c in PACK_CALLS)
RULE_ACTIONS = tuple(f"config:{c}" for c in RULE_CALLS)
AGGREGATOR_ACTIONS = tuple(f"config:{c}" for c in AGGREGATOR_CALLS)


def exempt_roles(config: Config) -> list[str]:
    names = [*STACKSETS_EXECUTION_ROLES, config.census.role_name, *config.guard.break_glass_roles]
    return [f"arn:aws:iam::*:role/{name}" for name in dict.fromkeys(names)]


def guard_document(config: Config, *, aggregator_account: str | None = None) -> dict[str, Any]:
    """The SCP; aggregator_account is a member account that holds the aggregator (a delegated administrator)."""
    unless = {"ArnNotLike": {"aws:PrincipalArn": exempt_roles(config)}}
    packs = [f"arn:aws:config:*:*:conformance-pack/OrgConformsPack-{naming.pack_resource_name(config, p)}-*"
             for p in config.conformance_packs]  # fmt: skip
    statements = [
        ("DenyRecorderChanges", RECORDER_ACTIONS,
         [f"arn:aws:config:*:*:configuration-recorder/{naming.recorder_name(config)}/*"]),
        # Delivery channels have no resource ARN in IAM: the statement covers the account's one channel.
        ("DenyDeliveryChannelChanges", CHANNEL_ACTIONS, ["*"]),
        ("DenyPackChanges", PACK_ACTIONS, packs),
        ("DenyPackRuleChanges", RULE_ACTIONS, [PACK_RULES]),
    ]  # fmt: skip
    if aggregator_account:
        statements.append(
            (
                "DenyAggregatorChanges",
                AGGREGATOR_ACTIONS,
                [f"arn:aws:config:*:{aggregator_account}:config-aggregator/*"],
            )
        )
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": sid, "Effect": "Deny", "Action": list(actions),
             "Resource": resources[0] if len(resources) == 1 else resources, "Condition": unless}
            for sid, actions, resources in statements
            if resources
        ],
    }  # fmt: skip


def guard_content(config: Config, *, aggregator_account: str | None = None) -> str:
    """The policy as sent: compact JSON, so the size counted is the size AWS counts."""
    return json.dumps(guard_document(config, aggregator_account=aggregator_account), separators=(",", ":"))


@dataclass(frozen=True)
class GuardPlan:
    content: str
    targets: tuple[str, ...]


def guard_targets(config: Config, org: Organization) -> tuple[str, ...]:
    units = config.guard.organizational_units or config.targets.organizational_units
    return tuple(dict.fromkeys(org.resolve_target(u) for u in units))


def plan_guard(config: Config, org: Organization, state: GuardState, builder: Builder, *, caller: str) -> list[str]:
    """Steps that create, update, attach, detach or delete the guard SCP; none when it is as configured."""
    name = naming.guard_policy(config)
    if not config.guard.enabled:
        return guard_removal(builder, name, state) if state.policy_id else []
    if not state.scp_enabled:
        raise PlanBlocked(
            "guard.enabled needs service control policies, which are not enabled on the organization root; "
            "`orgdeploy org-setup` enables the SERVICE_CONTROL_POLICY policy type"
        )
    aggregator = caller if caller != org.management_account_id else None
    content = guard_content(config, aggregator_account=aggregator)
    if len(content) > SCP_SIZE_LIMIT:
        raise PlanBlocked(
            f"the guard policy would be {len(content):,} characters, over AWS Organizations' limit of "
            f"{SCP_SIZE_LIMIT:,} for a service control policy; fewer guard.break_glass_roles or conformance "
            "packs make it smaller"
        )
    ids = []
    put = None
    if content != state.content:
        verb = "update" if state.policy_id else "create"
        put = builder.add(
            Step(
                id="guard-policy",
                action="put_guard_policy",
                target=name,
                description=f"{verb} the service control policy {name} ({len(content):,} of {SCP_SIZE_LIMIT:,} "
                f"characters): {_summary(content)}",
                parameters=(("Content", content),),
            )
        )
        ids.append(put)
    targets = guard_targets(config, org)
    for target in targets:
        if target in state.attached_to:
            continue
        attached = dict(state.scp_counts).get(target, 0)
        if attached >= SCPS_PER_TARGET:
            raise PlanBlocked(
                f"{target} already has {attached} service control policies attached, the most AWS Organizations "
                f"allows; detach one, or attach the guard elsewhere with guard.organizational_units"
            )
        ids.append(_attach(builder, name, target, "attach", after=(put,) if put else ()))
    for target in state.attached_to:
        if target not in targets:
            ids.append(_attach(builder, name, target, "detach", after=()))
    return ids


def _summary(content: str) -> str:
    statements = json.loads(content)["Statement"]
    return "; ".join(f"{s['Sid']} denies {', '.join(a.split(':')[1] for a in s['Action'])}" for s in statements)


def _attach(builder: Builder, name: str, target: str, verb: str, *, after: tuple[str, ...]) -> str:
    return builder.add(
        Step(
            id=f"guard-{verb}-{target}",
            action="attach_guard_policy" if verb == "attach" else "detach_guard_policy",
            target=name,
            description=f"{verb} the service control policy {name} {'to' if verb == 'attach' else 'from'} {target}",
            parameters=(("TargetId", target),),
            depends_on=after,
        )
    )


def guard_removal(builder: Builder, name: str, state: GuardState) -> list[str]:
    detached = [_attach(builder, name, target, "detach", after=()) for target in state.attached_to]
    deleted = builder.add(
        Step(
            id="guard-delete",
            action="delete_guard_policy",
            target=name,
            description=f"delete the service control policy {name}",
            depends_on=tuple(detached),
        )
    )
    return [*detached, deleted]
