"""The notifications stage of the plan (pure): the hub stack, the forwarders, or the removal of exactly those.

Desired: the hub stack in notifications.hub_account (home Region); the forwarder stack set in every targeted
account and Region (home Region first); forwarder stacks in the management account. Off: every hub stack,
the forwarder stack set and the management account's forwarder stacks that the inventory found are removed,
and nothing else. Hub stacks are found where the config puts the hub and where the forwarders point
(their HubAccountId / HubRegion parameters), so moving the hub or turning notifications off leaves no orphan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orgdeploy.config.model import Config
from orgdeploy.errors import BadInputError
from orgdeploy.planning.inventory import Organization
from orgdeploy.planning.plan import QuotaUsage, Skip, Step, operation_id
from orgdeploy.planning.stage import Stage
from orgdeploy.planning.steps import instance_steps, operation_preferences, stack_parameters, stack_set_step
from orgdeploy.templates import naming

HUB_PARAMETERS = ("HubAccountId", "HubRegion")


@dataclass(frozen=True)
class NotificationsOutcome:
    stack_sets: tuple[str, ...] = ()  # the forwarder stack set, when notifications are on
    usage: tuple[QuotaUsage, ...] = ()
    steps: tuple[str, ...] = ()  # the forwarders' steps: the packs wait for them


def hub_locations(parameter_sets: Iterable[tuple[tuple[str, str], ...]]) -> set[tuple[str, str]]:
    """(account, Region) of every hub that deployed forwarders point at, from their parameters."""
    found = set()
    for parameters in map(dict, parameter_sets):
        if all(parameters.get(key) for key in HUB_PARAMETERS):
            found.add((parameters["HubAccountId"], parameters["HubRegion"]))
    return found


def hub_account(config: Config, organization: Organization) -> str | None:
    """notifications.hub_account, checked against the organization (None when notifications are off)."""
    if config.notifications is None:
        return None
    account = organization.account(config.notifications.hub_account)
    if account is None:
        raise BadInputError(
            f"notifications.hub_account {config.notifications.hub_account} is not an account of organization "
            f"{organization.id}; use the id of an active account in it (usually the audit account)"
        )
    if not account.active:
        raise BadInputError(f"notifications.hub_account {account.id} ({account.name}) is {account.status}")
    return account.id


def notifications_stage(stage: Stage, *, base: tuple[str, ...], after: tuple[str, ...]) -> NotificationsOutcome:
    """Plan the wiring after `after` (the recorders), or its removal when notifications are off.

    The packs come after it: their first evaluations find the most, and only forwarders already in
    place send those on.
    """
    if stage.config.notifications is None:
        _remove_everything(stage)
        return NotificationsOutcome()
    hub = hub_account(stage.config, stage.inventory.organization)
    assert hub is not None
    home = stage.home
    after = _latest(stage, (*base, *after))
    hub_step = stage.stack(
        template_key="notifications-hub",
        stack_name=naming.notifications_hub_stack(stage.config),
        account=hub,
        region=home,
        parameters=stack_parameters(OrganizationId=stage.inventory.organization.id),
        depends_on=after,
        step_id="notifications-hub",
        description=f"deploy the notifications hub (event bus, topic, timeline) in {hub} {home}",
    )
    _remove_hubs(stage, keep=(hub, home))
    params = stack_parameters(HubAccountId=hub, HubRegion=home)
    after = _latest(stage, (*after, *stage.builder.present(hub_step)))
    usage, forwarders = _forwarder_stack_set(stage, base=base, after=after, params=params)
    forwarders += _management_forwarders(stage, params=params, after=after)
    return NotificationsOutcome((naming.notifications_stack_set(stage.config),), (usage,), tuple(forwarders))


def _latest(stage: Stage, ids: tuple[str, ...]) -> tuple[str, ...]:
    """The planned steps among ids that no other one of them waits for: the same order, a shorter list."""
    parents = {s.id: s.depends_on for s in stage.builder.steps}
    earlier: set[str] = set()
    todo = [d for i in ids for d in parents.get(i, ())]
    while todo:
        current = todo.pop()
        if current not in earlier:
            earlier.add(current)
            todo += parents.get(current, ())
    return tuple(dict.fromkeys(i for i in stage.builder.present(*ids) if i not in earlier))


def _desired_instances(stage: Stage) -> dict[str, list[str]]:
    """Every targeted account in every Region it has enabled; the others are listed as skipped."""
    desired: dict[str, list[str]] = {region: [] for region in stage.config.regions}
    for account in stage.desired.targeted:
        facts = stage.inventory.facts_for(account.id)
        for region in stage.config.regions:
            if facts is not None and region in facts.disabled_regions:
                stage.builder.skipped.append(
                    Skip(account.id, region, "notifications", "Region is not enabled in the account")
                )
            else:
                desired[region].append(account.id)
    return desired


def _forwarder_stack_set(
    stage: Stage, *, base: tuple[str, ...], after: tuple[str, ...], params: tuple[tuple[str, str], ...]
) -> tuple[QuotaUsage, list[str]]:
    config, inventory = stage.config, stage.inventory
    name = naming.notifications_stack_set(config)
    existing = inventory.stack_set(name)
    set_step = stack_set_step(
        builder=stage.builder,
        name=name,
        template_key="notifications-forwarder",
        rendered=stage.rendered,
        existing=existing,
        parameters=params,
        config=config,
        depends_on=stage.builder.present(*base, *after),
        auto_deployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    desired = _desired_instances(stage)
    steps = instance_steps(
        builder=stage.builder,
        config=config,
        stack_set_name=name,
        existing=existing,
        desired=desired,
        target_units=stage.target_units,
        in_scope=[a.id for a in stage.desired.in_scope],
        step_prefix="notifications",
        first_region=stage.home,
        root_id=inventory.organization.root_id,
        depends_on=stage.builder.present(set_step, *base, *after),
        leave_alone=stage.desired.leave_alone,
    )
    usage = QuotaUsage(name, sum(len(v) for v in desired.values()), inventory.quotas.instances_per_stack_set)
    return usage, [*stage.builder.present(set_step), *(i for ids in steps.values() for i in ids)]


def _management_forwarders(stage: Stage, *, params: tuple[tuple[str, str], ...], after: tuple[str, ...]) -> list[str]:
    """StackSets never reach the management account: plain stacks, home Region first."""
    config = stage.config
    management = stage.inventory.organization.management_account_id
    name = naming.notifications_stack_set(config)
    if not config.management_account.deploy:
        _remove_management_forwarders(stage)
        return []
    home_step = None
    made: list[str] = []
    for region in [stage.home, *config.other_regions]:
        step = stage.stack(
            template_key="notifications-forwarder",
            stack_name=name,
            account=management,
            region=region,
            parameters=params,
            depends_on=stage.builder.present(*after, home_step if region != stage.home else None),
            step_id=f"management-notifications-{region}",
            description=f"deploy the notification forwarder in the management account, {region}",
        )
        made += [step] if step else []
        if region == stage.home:
            home_step = step
    return made


def _delete_stack(stage: Stage, *, stack_name: str, account: str, region: str, step_id: str, what: str) -> str:
    return stage.builder.add(
        Step(
            id=step_id,
            action="delete_stack",
            target=stack_name,
            description=f"remove {what} in {account} {region}",
            account=account,
            regions=(region,),
        )
    )


def _remove_hubs(stage: Stage, *, keep: tuple[str, str] | None) -> list[str]:
    name = naming.notifications_hub_stack(stage.config)
    return [
        _delete_stack(
            stage,
            stack_name=name,
            account=s.account,
            region=s.region,
            step_id=f"notifications-hub-remove-{s.account}-{s.region}",
            what="the notifications hub",
        )
        for s in stage.inventory.stacks
        if s.name == name and (s.account, s.region) != keep
    ]


def _remove_management_forwarders(stage: Stage) -> None:
    management = stage.inventory.organization.management_account_id
    name = naming.notifications_stack_set(stage.config)
    for s in stage.inventory.stacks:
        if s.name == name and s.account == management:
            _delete_stack(
                stage,
                stack_name=name,
                account=s.account,
                region=s.region,
                step_id=f"management-notifications-remove-{s.region}",
                what="the notification forwarder",
            )


def _remove_everything(stage: Stage) -> None:
    """Notifications are off: remove the hub, the forwarders and nothing else."""
    hubs = _remove_hubs(stage, keep=None)
    _remove_management_forwarders(stage)
    existing = stage.inventory.stack_set(naming.notifications_stack_set(stage.config))
    if existing is None:
        return
    instance_step: tuple[str, ...] = ()
    if existing.instances:
        regions = sorted({i.region for i in existing.instances})
        targets = {
            "OrganizationalUnitIds": [stage.inventory.organization.root_id],
            "Accounts": sorted({i.account for i in existing.instances}),
            "AccountFilterType": "INTERSECTION",
        }
        step_id = "notifications-remove-instances"
        instance_step = (
            stage.builder.add(
                Step(
                    id=step_id,
                    action="delete_stack_instances",
                    target=existing.name,
                    description=f"{existing.name}: remove all {len(existing.instances)} forwarder instance(s)",
                    regions=tuple(regions),
                    operation_preferences=operation_preferences(stage.config, parallel=True),
                    deployment_targets=targets,
                    operation_id=operation_id(
                        step_id, {"targets": targets, "regions": regions}, after=existing.last_finished_operation
                    ),
                )
            ),
        )
    # The stack set goes last: its parameters are where a re-run would find a hub left behind by a crash.
    stage.builder.add(
        Step(
            id="notifications-remove-stack-set",
            action="delete_stack_set",
            target=existing.name,
            description=f"delete stack set {existing.name}",
            depends_on=(*instance_step, *hubs),
        )
    )
