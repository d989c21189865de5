"""plan_destroy(config, inventory) -> Plan: remove everything orgdeploy made, in reverse order (pure)."""

from __future__ import annotations

import json

from orgdeploy.config.model import Config
from orgdeploy.planning.guard import guard_removal
from orgdeploy.planning.inventory import Inventory, StackSetState, StackState
from orgdeploy.planning.plan import Plan, Step, operation_id
from orgdeploy.planning.steps import Builder, operation_preferences
from orgdeploy.templates import naming


def stack_removal(stack_name: str, account: str, region: str, depends_on: tuple[str, ...]) -> Step:
    return Step(
        id=f"delete-{stack_name}-{account}-{region}",
        action="delete_stack",
        target=stack_name,
        description=f"delete stack {stack_name} in {account} {region}",
        account=account,
        regions=(region,),
        depends_on=depends_on,
    )


def stack_set_removal(
    config: Config, inventory: Inventory, state: StackSetState, *, retain: bool, depends_on: tuple[str, ...]
) -> list[Step]:
    steps: list[Step] = []
    regions = sorted({i.region for i in state.instances})
    if regions:
        accounts = sorted({i.account for i in state.instances})
        targets = {
            "OrganizationalUnitIds": [inventory.organization.root_id],
            "Accounts": accounts,
            "AccountFilterType": "INTERSECTION",
        }
        step_id = f"delete-instances-{state.name}"
        steps.append(
            Step(
                id=step_id,
                action="delete_stack_instances",
                target=state.name,
                description=f"delete {len(state.instances)} instance(s) of {state.name}"
                + (" (keeping their stacks and resources)" if retain else ""),
                regions=tuple(regions),
                depends_on=depends_on,
                operation_preferences=operation_preferences(config, parallel=True),
                deployment_targets=targets,
                retain_stacks=retain,
                operation_id=operation_id(
                    step_id,
                    {"targets": targets, "regions": regions, "retain": retain},
                    after=state.last_finished_operation,
                ),
            )
        )
    steps.append(
        Step(
            id=f"delete-stack-set-{state.name}",
            action="delete_stack_set",
            target=state.name,
            description=f"delete stack set {state.name}",
            depends_on=(*depends_on, *(s.id for s in steps)),
        )
    )
    return steps


def release_step(
    config: Config, inventory: Inventory, state: StackSetState, *, depends_on: tuple[str, ...]
) -> list[Step]:
    """Adopted recorders go back to how they were, whatever --retain-resources says: they were never orgdeploy's.

    An adopted recorder is orgdeploy's (its pair is a current instance) under a name of its own; the census says so.
    """
    own = naming.recorder_name(config)

    def adopted_here(account: str, region: str) -> bool:
        facts = inventory.facts_for(account)
        recorder = facts.recorder(region) if facts else None
        return recorder is not None and recorder.owner == "orgdeploy" and recorder.name != own

    adopted = [i for i in state.instances if i.stack_id and adopted_here(i.account, i.region)]
    if not adopted:
        return []
    entries = [{"account": i.account, "region": i.region, "stack": i.stack_id} for i in adopted]
    return [
        Step(
            id=f"release-{state.name}",
            action="release_recorders",
            target=state.name,
            description=(
                f"give back {len(adopted)} adopted recorder(s): out of {state.name} (stacks kept), then each stack "
                "deleted with its recorder and channel retained, and their settings before adoption put back"
            ),
            regions=tuple(sorted({i.region for i in adopted})),
            depends_on=depends_on,
            parameters=(("Adopted", json.dumps(entries)), ("RootId", inventory.organization.root_id)),
        )
    ]


def management_release_step(
    config: Config, inventory: Inventory, stacks: list[StackState], *, depends_on: tuple[str, ...]
) -> list[Step]:
    if not stacks:
        return []
    entries = [{"account": s.account, "region": s.region, "stack": s.name} for s in stacks]
    return [
        Step(
            id="release-management",
            action="release_recorders",
            target=naming.recorder_stack_set(config),
            description=f"give back the management account's adopted recorder(s) in {len(stacks)} Region(s)",
            account=inventory.organization.management_account_id,
            regions=tuple(sorted(s.region for s in stacks)),
            depends_on=depends_on,
            parameters=(("Adopted", json.dumps(entries)), ("RootId", inventory.organization.root_id)),
        )
    ]


def plan_destroy(config: Config, inventory: Inventory, *, retain: bool) -> Plan:
    """With retain, stack set instances are detached (RetainStacks) and plain stacks are kept whole."""
    plan = _plan_destroy(config, inventory, retain=retain)
    if not retain:
        return plan
    kept = tuple(s for s in plan.steps if s.action != "delete_stack")
    ids = {s.id for s in kept}
    from dataclasses import replace

    return replace(plan, steps=tuple(replace(s, depends_on=tuple(d for d in s.depends_on if d in ids)) for s in kept))


def _notification_steps(config: Config, inventory: Inventory, *, retain: bool) -> list[Step]:
    """The notifications wiring goes first (it was deployed last); nothing else waits for it."""
    hub = naming.notifications_hub_stack(config)
    forwarder = naming.notifications_stack_set(config)
    management = inventory.organization.management_account_id
    steps = [stack_removal(s.name, s.account, s.region, ()) for s in inventory.stacks if s.name == hub]
    steps += [
        stack_removal(s.name, s.account, s.region, ())
        for s in inventory.stacks
        if s.name == forwarder and s.account == management
    ]
    stack_set = inventory.stack_set(forwarder)
    if stack_set is not None:
        steps += stack_set_removal(config, inventory, stack_set, retain=retain, depends_on=())
    return steps


def _plan_destroy(config: Config, inventory: Inventory, *, retain: bool) -> Plan:
    steps: list[Step] = _notification_steps(config, inventory, retain=retain)
    if inventory.guard.policy_id:
        # The guard goes first, whatever is kept: nothing is left that it would protect.
        guard = Builder()
        guard_removal(guard, naming.guard_policy(config), inventory.guard)
        steps += guard.steps
    pack_names = {naming.pack_stack(config, p) for p in config.conformance_packs}
    packs = [s for s in inventory.stacks if s.name in pack_names]
    steps += [stack_removal(s.name, s.account, s.region, ()) for s in packs]
    aggregator = [s for s in inventory.stacks if s.name == naming.aggregator_stack(config)]
    steps += [stack_removal(s.name, s.account, s.region, ()) for s in aggregator]
    after_packs = tuple(s.id for s in steps)

    remediation_role = naming.remediation_role_stack_set(config)
    role_state = inventory.stack_set(remediation_role)
    if role_state is not None:
        steps += stack_set_removal(config, inventory, role_state, retain=retain, depends_on=after_packs)
    steps += [
        stack_removal(s.name, s.account, s.region, after_packs) for s in inventory.stacks if s.name == remediation_role
    ]
    role_name = naming.role_stack_set(config)
    not_recorders = {role_name, naming.notifications_stack_set(config), remediation_role}
    recorder_sets = [s for s in inventory.stack_sets if s.name not in not_recorders]
    recorder_steps: list[Step] = []
    for state in recorder_sets:
        released = release_step(config, inventory, state, depends_on=after_packs)
        recorder_steps += released
        recorder_steps += stack_set_removal(
            config, inventory, state, retain=retain, depends_on=after_packs + tuple(s.id for s in released)
        )
    management = inventory.organization.management_account_id
    mgmt_recorders = [
        s for s in inventory.stacks if s.name == naming.recorder_stack_set(config) and s.account == management
    ]
    adopted = [s for s in mgmt_recorders if dict(s.parameters).get("AdoptedSettings")]
    recorder_steps += management_release_step(config, inventory, adopted, depends_on=after_packs)
    recorder_steps += [
        stack_removal(s.name, s.account, s.region, after_packs) for s in mgmt_recorders if s not in adopted
    ]
    steps += recorder_steps
    after_recorders = after_packs + tuple(s.id for s in recorder_steps)

    role_set = inventory.stack_set(role_name)
    if role_set is not None:
        steps += stack_set_removal(config, inventory, role_set, retain=retain, depends_on=after_recorders)
    steps += [
        stack_removal(s.name, s.account, s.region, after_recorders)
        for s in inventory.stacks
        if s.name == role_name and s.account == management
    ]
    bucket = [s for s in inventory.stacks if s.name == naming.delivery_bucket_stack(config)]
    steps += [stack_removal(s.name, s.account, s.region, after_recorders) for s in bucket]
    if not retain:
        # Buckets are kept by their DeletionPolicy (audit evidence); destroy removes them explicitly.
        for stack in bucket + packs:
            for key, value in stack.outputs:
                if key in {"BucketName", "ConformsBucketName"}:
                    steps.append(
                        Step(
                            id=f"delete-bucket-{value}",
                            action="delete_bucket",
                            target=value,
                            description=f"empty and delete bucket {value}",
                            account=stack.account,
                            regions=(stack.region,),
                            depends_on=tuple(s.id for s in steps if s.target == stack.name),
                        )
                    )
    notes = ("--retain-resources: every stack and resource stays; only orgdeploy's stack sets go",) if retain else ()
    return Plan(steps=tuple(steps), notes=notes)
