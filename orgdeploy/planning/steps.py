"""Building blocks of a plan (pure): steps for stack sets, their instances and plain stacks, each one
planned only when what is deployed differs from what is wanted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from orgdeploy.config.model import Config
from orgdeploy.planning.inventory import Inventory, StackInstance, StackSetState
from orgdeploy.planning.plan import Skip, Step, operation_id
from orgdeploy.templates.render import RenderedSet

OU_BATCH = 50  # OUs per CreateStackInstances / UpdateStackInstances call


@dataclass
class Builder:
    steps: list[Step] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, step: Step) -> str:
        known = {s.id for s in self.steps}
        step = _with_deps(step, tuple(d for d in step.depends_on if d in known))
        self.steps.append(step)
        return step.id

    def present(self, *ids: str | None) -> tuple[str, ...]:
        known = {s.id for s in self.steps}
        return tuple(i for i in ids if i and i in known)


def _with_deps(step: Step, deps: tuple[str, ...]) -> Step:
    return replace(step, depends_on=deps)


def operation_preferences(config: Config, *, parallel: bool | None = None) -> dict[str, Any]:
    settings = config.stacksets
    concurrency = (
        "PARALLEL"
        if (parallel if parallel is not None else settings.region_concurrency == "parallel")
        else "SEQUENTIAL"
    )
    return {
        "RegionConcurrencyType": concurrency,
        "MaxConcurrentPercentage": settings.max_concurrent_percentage,
        "FailureTolerancePercentage": settings.failure_tolerance_percentage,
        "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"
        if settings.concurrency_mode == "soft"
        else "STRICT_FAILURE_TOLERANCE",
    }


def stack_parameters(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def pending_changes(
    existing: StackSetState | None,
    desired: dict[str, list[str]],
    ordered: list[str],
    target_units: list[str],
    in_scope: list[str],
    exact_accounts: bool,
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """Per Region: the DeploymentTargets that create missing instances, and the accounts to retry."""
    by_region: dict[str, list[StackInstance]] = {}
    for instance in existing.instances if existing else ():
        by_region.setdefault(instance.region, []).append(instance)
    scope = set(in_scope)
    creates: dict[str, dict[str, Any]] = {}
    retries: dict[str, list[str]] = {}
    for region in ordered:
        want = set(desired[region])
        have = {i.account for i in by_region.get(region, [])}
        missing = sorted(want - have)
        if missing:
            if not have and not exact_accounts:
                extra = sorted(scope - want)
                targets: dict[str, Any] = {"OrganizationalUnitIds": target_units}
                if extra:
                    targets.update({"Accounts": extra, "AccountFilterType": "DIFFERENCE"})
            else:
                targets = {
                    "OrganizationalUnitIds": target_units,
                    "Accounts": missing,
                    "AccountFilterType": "INTERSECTION",
                }
            creates[region] = targets
        stale = sorted(
            i.account
            for i in by_region.get(region, [])
            if i.account in want and (i.status != "CURRENT" or i.detailed_status == "FAILED")
        )
        if stale:
            retries[region] = stale
    return creates, retries


def removal_steps(
    *,
    builder: Builder,
    config: Config,
    stack_set_name: str,
    existing: StackSetState | None,
    desired: dict[str, list[str]],
    step_prefix: str,
    root_id: str,
    depends_on: tuple[str, ...],
    leave_alone: frozenset[str] = frozenset(),
) -> None:
    """Instances that should no longer exist: Regions dropped, accounts excluded or skipped.

    Accounts in leave_alone keep theirs: AWS skips a suspended account (SKIPPED_SUSPENDED_ACCOUNT), so a
    delete there would be planned again on every run, and an unreadable account's state is unknown.
    """
    wanted = {region: set(accounts) for region, accounts in desired.items()}
    removals: dict[str, list[str]] = {}
    if existing:
        for instance in existing.instances:
            if instance.account not in wanted.get(instance.region, ()) and instance.account not in leave_alone:
                removals.setdefault(instance.region, []).append(instance.account)
    by_accounts: dict[tuple[str, ...], list[str]] = {}
    for region, accounts in sorted(removals.items()):
        by_accounts.setdefault(tuple(sorted(set(accounts))), []).append(region)
    for gone, regions in by_accounts.items():
        step_id = f"{step_prefix}-delete-{'-'.join(regions)}"
        # The root reaches accounts that have left the targeted OUs too.
        targets = {
            "OrganizationalUnitIds": [root_id],
            "Accounts": list(gone),
            "AccountFilterType": "INTERSECTION",
        }
        builder.add(
            Step(
                id=step_id,
                action="delete_stack_instances",
                target=stack_set_name,
                description=f"{stack_set_name}: delete {len(gone)} unwanted instance(s) in {', '.join(regions)}",
                regions=tuple(regions),
                depends_on=depends_on,
                operation_preferences=operation_preferences(config, parallel=True),
                deployment_targets=targets,
                operation_id=operation_id(
                    step_id, {"targets": targets, "regions": regions}, after=after_operations(existing)
                ),
            )
        )


def instance_steps(
    *,
    builder: Builder,
    config: Config,
    stack_set_name: str,
    existing: StackSetState | None,
    desired: dict[str, list[str]],
    target_units: list[str],
    in_scope: list[str],
    step_prefix: str,
    first_region: str | None,
    depends_on: tuple[str, ...],
    root_id: str,
    exact_accounts: bool = False,
    leave_alone: frozenset[str] = frozenset(),
) -> dict[str, list[str]]:
    """Create, retry and delete instances so each Region holds exactly desired[region]. Returns Region -> step ids.

    INOPERABLE instances are left out of every update, so they are released first (deleted with
    RetainStacks, which leaves their stack in the account) and then created again where they are wanted.
    """
    released = _release_inoperable(builder, config, stack_set_name, existing, step_prefix, root_id, depends_on)
    if released:
        assert existing is not None
        existing = replace(existing, instances=tuple(i for i in existing.instances if i.status != "INOPERABLE"))
        depends_on = (*depends_on, *released)
    region_steps: dict[str, list[str]] = {}
    first_steps: list[str] = []
    ordered = [r for r in desired if r == first_region] + [r for r in desired if r != first_region]
    creates, retries = pending_changes(existing, desired, ordered, target_units, in_scope, exact_accounts)
    # Group Regions that need the same call; the first Region always goes alone and first.
    for kind, per_region in (("create", creates), ("retry", retries)):
        groups: dict[str, tuple[list[str], Any]] = {}
        for region in ordered:
            if region not in per_region:
                continue
            key = "first" if region == first_region else repr(per_region[region])
            groups.setdefault(key, ([], per_region[region]))[0].append(region)
        for key in sorted(groups, key=lambda k: k != "first"):
            regions, value = groups[key]
            label = "home" if key == "first" else "regions-" + "-".join(regions)
            for batch_no, units in enumerate(batches(target_units, OU_BATCH)):
                suffix = f"-{batch_no + 1}" if len(target_units) > OU_BATCH else ""
                step_id = f"{step_prefix}-{kind}-{label}{suffix}"
                if kind == "create":
                    targets = {**value, "OrganizationalUnitIds": units}
                    action = "create_stack_instances"
                    what = "create instances"
                    expected = sum(len(desired[r]) for r in regions)
                else:
                    targets = {"OrganizationalUnitIds": units, "Accounts": value, "AccountFilterType": "INTERSECTION"}
                    action = "update_stack_instances"
                    what = "retry instances that are not CURRENT"
                    expected = len(value) * len(regions)
                state = sorted(
                    (i.account, i.region, i.status, i.detailed_status)
                    for i in (existing.instances if existing else ())
                    if i.region in regions
                )
                step = Step(
                    id=step_id,
                    action=action,  # type: ignore[arg-type]
                    target=stack_set_name,
                    description=f"{stack_set_name}: {what} in {', '.join(regions)}",
                    regions=tuple(regions),
                    # Every batch of the first Region finishes before any other Region starts.
                    depends_on=depends_on if key == "first" else (*depends_on, *first_steps),
                    operation_preferences=operation_preferences(config, parallel=True if key != "first" else None),
                    deployment_targets=targets,
                    expected_instances=expected,
                    operation_id=operation_id(
                        step_id,
                        {"targets": targets, "regions": regions, "state": state},
                        after=after_operations(existing),
                    ),
                )
                sid = builder.add(step)
                for region in regions:
                    region_steps.setdefault(region, []).append(sid)
                if key == "first":
                    first_steps.append(sid)
    removal_steps(
        builder=builder,
        config=config,
        stack_set_name=stack_set_name,
        existing=existing,
        desired=desired,
        step_prefix=step_prefix,
        root_id=root_id,
        depends_on=depends_on,
        leave_alone=leave_alone,
    )
    return region_steps


def _release_inoperable(
    builder: Builder,
    config: Config,
    stack_set_name: str,
    existing: StackSetState | None,
    step_prefix: str,
    root_id: str,
    depends_on: tuple[str, ...],
) -> tuple[str, ...]:
    """One RetainStacks delete per set of accounts, so no healthy instance in the same Regions is touched."""
    per_region: dict[str, list[str]] = {}
    for instance in existing.instances if existing else ():
        if instance.status == "INOPERABLE":
            per_region.setdefault(instance.region, []).append(instance.account)
    by_accounts: dict[tuple[str, ...], list[str]] = {}
    for region, stuck in sorted(per_region.items()):
        by_accounts.setdefault(tuple(sorted(stuck)), []).append(region)
    steps = []
    for accounts, regions in by_accounts.items():
        targets = {"OrganizationalUnitIds": [root_id], "Accounts": list(accounts), "AccountFilterType": "INTERSECTION"}
        step_id = f"{step_prefix}-release-inoperable-{'-'.join(regions)}"
        steps.append(
            builder.add(
                Step(
                    id=step_id,
                    action="delete_stack_instances",
                    target=stack_set_name,
                    description=f"{stack_set_name}: release {len(accounts)} INOPERABLE instance(s) in "
                    f"{', '.join(regions)} (RetainStacks), to create them again",
                    regions=tuple(regions),
                    depends_on=depends_on,
                    operation_preferences=operation_preferences(config, parallel=True),
                    deployment_targets=targets,
                    retain_stacks=True,
                    operation_id=operation_id(
                        step_id, {"targets": targets, "regions": regions}, after=after_operations(existing)
                    ),
                )
            )
        )
    return tuple(steps)


def after_operations(existing: StackSetState | None) -> str:
    return existing.last_finished_operation if existing else ""


def batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, max(len(items), 1), size):
        yield items[start : start + size]


def stack_set_step(
    *,
    builder: Builder,
    name: str,
    template_key: str,
    rendered: RenderedSet,
    existing: StackSetState | None,
    parameters: tuple[tuple[str, str], ...],
    config: Config,
    depends_on: tuple[str, ...],
    auto_deployment: dict[str, Any],
    depends_on_stack_sets: tuple[str, ...] = (),
) -> str | None:
    template = rendered.get(template_key)
    if existing is None:
        return builder.add(
            Step(
                id=f"{name}-create",
                action="create_stack_set",
                target=name,
                description=f"create stack set {name} (service-managed, auto-deployment on)",
                depends_on=depends_on,
                template=template_key,
                parameters=parameters,
                capabilities=template.capabilities,
                auto_deployment={**auto_deployment, "DependsOn": list(depends_on_stack_sets)},
            )
        )
    changed = []
    if existing.template_body != template.body:
        changed.append("template")
    if dict(existing.parameters) != dict(parameters):
        changed.append("parameters")
    if existing.auto_deployment != auto_deployment["Enabled"] or set(existing.depends_on) != set(depends_on_stack_sets):
        changed.append("auto-deployment")
    if existing.managed_execution != config.stacksets.managed_execution:
        changed.append("managed execution")
    if not changed or not existing.instances:
        return None
    step_id = f"{name}-update"
    return builder.add(
        Step(
            id=step_id,
            action="update_stack_set",
            target=name,
            description=f"update stack set {name} ({', '.join(changed)}) and every instance",
            depends_on=depends_on,
            template=template_key,
            parameters=parameters,
            capabilities=template.capabilities,
            operation_preferences=operation_preferences(config),
            auto_deployment={**auto_deployment, "DependsOn": list(depends_on_stack_sets)},
            operation_id=operation_id(
                step_id,
                {"body": template.sha256, "params": parameters, "changed": changed},
                after=existing.last_finished_operation,
            ),
        )
    )


def stack_step(
    *,
    builder: Builder,
    inventory: Inventory,
    rendered: RenderedSet,
    template_key: str,
    stack_name: str,
    account: str,
    region: str,
    parameters: tuple[tuple[str, str], ...],
    depends_on: tuple[str, ...],
    step_id: str,
    description: str,
    exclude_failed_recorders_of: tuple[str, ...] = (),
) -> str | None:
    template = rendered.get(template_key)
    existing = inventory.stack(stack_name, account, region)
    healthy = existing is not None and existing.status.endswith("_COMPLETE") and "ROLLBACK" not in existing.status
    if (
        existing is not None
        and healthy
        and existing.template_body == template.body
        and dict(existing.parameters) == dict(parameters)
    ):
        return None
    return builder.add(
        Step(
            id=step_id,
            action="deploy_stack",
            target=stack_name,
            description=description,
            account=account,
            regions=(region,),
            depends_on=depends_on,
            template=template_key,
            parameters=parameters,
            capabilities=template.capabilities,
            exclude_failed_recorders_of=exclude_failed_recorders_of,
        )
    )
