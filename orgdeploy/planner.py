"""plan(config, inventory, rendered) -> Plan. Pure: no boto3, no clock, no randomness.

The same function serves bootstrap, update and add-region: it diffs the desired
state against the inventory and plans only the delta, so a converged
organization plans nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orgdeploy import naming
from orgdeploy.config import Config, ConformancePack
from orgdeploy.errors import OrgDeployError
from orgdeploy.inventory import Account, Inventory, StackInstance, StackSetState
from orgdeploy.plan import Plan, QuotaUsage, Skip, Step, operation_id
from orgdeploy.shards import RecorderShard, check_stack_set_quota, shard_recorder_targets
from orgdeploy.templates import RenderedSet

if TYPE_CHECKING:
    from orgdeploy.planner_notifications import NotificationsOutcome

OU_BATCH = 50  # OUs per CreateStackInstances / UpdateStackInstances call
MAX_EXCLUDED_ACCOUNTS = 1_000


class PlanBlocked(OrgDeployError):
    """The plan cannot go ahead without the user doing something first."""

    exit_code = 1


@dataclass(frozen=True)
class PlanOptions:
    enable_trusted_access: bool = False


@dataclass
class _Builder:
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
    from dataclasses import replace

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


def _params(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


class _Desired:
    """Which member accounts should hold which instances, and what was skipped and why."""

    def __init__(self, config: Config, inventory: Inventory) -> None:
        self.config = config
        self.inventory = inventory
        org = inventory.organization
        excluded = set(config.targets.exclude_accounts)
        self.in_scope = org.members_under(config.targets.organizational_units)
        self.targeted: list[Account] = []
        self.skipped: list[Skip] = []
        for account in self.in_scope:
            if account.id in excluded:
                self.skipped.append(Skip(account.id, None, "account", "excluded by targets.exclude_accounts"))
            elif not account.active:
                self.skipped.append(Skip(account.id, None, "account", f"account is {account.status}"))
            else:
                self.targeted.append(account)
        targeted_ids = {a.id for a in self.targeted}
        self.excluded_in_scope = sorted(a.id for a in self.in_scope if a.id not in targeted_ids)

    def recorder_accounts(self, region: str, skips: list[Skip]) -> list[str]:
        """Targeted accounts that should get an orgdeploy recorder in region."""
        wanted = []
        recorder_name = naming.recorder_name(self.config)
        for account in self.targeted:
            facts = self.inventory.facts_for(account.id)
            if facts is not None and region in facts.disabled_regions:
                skips.append(Skip(account.id, region, "recorder", "Region is not enabled in the account"))
                continue
            recorder = facts.recorder(region) if facts else None
            if recorder is not None and recorder.name != recorder_name:
                skips.append(
                    Skip(
                        account.id,
                        region,
                        "recorder",
                        f"already has recorder {recorder.name!r} (owner: {recorder.owner}, "
                        f"{'recording' if recorder.recording else 'not recording'})",
                        conflict=True,
                    )
                )
                continue
            wanted.append(account.id)
        return wanted

    def role_accounts(self, skips: list[Skip], stack_set: StackSetState | None) -> list[str]:
        wanted = []
        for account in self.targeted:
            facts = self.inventory.facts_for(account.id)
            ours = stack_set is not None and stack_set.instance(account.id, self.config.home_region) is not None
            if facts is not None and facts.has_service_linked_role and not ours:
                skips.append(Skip(account.id, None, "service-linked role", "AWSServiceRoleForConfig already exists"))
                continue
            wanted.append(account.id)
        return wanted


def _pending_changes(
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


def _removal_steps(
    *,
    builder: _Builder,
    config: Config,
    stack_set_name: str,
    existing: StackSetState | None,
    desired: dict[str, list[str]],
    step_prefix: str,
    root_id: str,
    depends_on: tuple[str, ...],
) -> None:
    """Instances that should no longer exist: Regions dropped, accounts excluded or skipped."""
    wanted = {region: set(accounts) for region, accounts in desired.items()}
    removals: dict[str, list[str]] = {}
    if existing:
        for instance in existing.instances:
            if instance.account not in wanted.get(instance.region, ()):
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
                operation_id=operation_id(step_id, {"targets": targets, "regions": regions}),
            )
        )


def _instance_steps(
    *,
    builder: _Builder,
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
) -> dict[str, list[str]]:
    """Create, retry and delete instances so each Region holds exactly desired[region]. Returns Region -> step ids."""
    region_steps: dict[str, list[str]] = {}
    first_steps: list[str] = []
    ordered = [r for r in desired if r == first_region] + [r for r in desired if r != first_region]
    creates, retries = _pending_changes(existing, desired, ordered, target_units, in_scope, exact_accounts)
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
            for batch_no, units in enumerate(_batches(target_units, OU_BATCH)):
                suffix = f"-{batch_no + 1}" if len(target_units) > OU_BATCH else ""
                step_id = f"{step_prefix}-{kind}-{label}{suffix}"
                if kind == "create":
                    targets = {**value, "OrganizationalUnitIds": units}
                    action = "create_stack_instances"
                    what = "create instances"
                else:
                    targets = {"OrganizationalUnitIds": units, "Accounts": value, "AccountFilterType": "INTERSECTION"}
                    action = "update_stack_instances"
                    what = "retry instances that are not CURRENT"
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
                    operation_id=operation_id(step_id, {"targets": targets, "regions": regions, "state": state}),
                )
                sid = builder.add(step)
                for region in regions:
                    region_steps.setdefault(region, []).append(sid)
                if key == "first":
                    first_steps.append(sid)
    _removal_steps(
        builder=builder,
        config=config,
        stack_set_name=stack_set_name,
        existing=existing,
        desired=desired,
        step_prefix=step_prefix,
        root_id=root_id,
        depends_on=depends_on,
    )
    return region_steps


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, max(len(items), 1), size):
        yield items[start : start + size]


def _stack_set_step(
    *,
    builder: _Builder,
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
            operation_id=operation_id(step_id, {"body": template.sha256, "params": parameters, "changed": changed}),
        )
    )


def _stack_step(
    *,
    builder: _Builder,
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
        )
    )


@dataclass
class _Stage:
    """What every planning stage reads, and the builder they all add steps to."""

    config: Config
    inventory: Inventory
    rendered: RenderedSet
    builder: _Builder
    desired: _Desired
    bucket_name: str
    target_units: list[str]

    @property
    def home(self) -> str:
        return self.config.home_region

    def stack(self, **kwargs: Any) -> str | None:
        return _stack_step(builder=self.builder, inventory=self.inventory, rendered=self.rendered, **kwargs)


def _trusted_access(stage: _Stage, options: PlanOptions) -> tuple[str, ...]:
    status = stage.inventory.trusted_access
    if status == "ENABLED":
        return ()
    if status == "DISABLED_PERMANENTLY":
        raise PlanBlocked(
            "trusted access between StackSets and Organizations is DISABLED_PERMANENTLY; it cannot be turned on"
        )
    if not options.enable_trusted_access:
        raise PlanBlocked(
            "trusted access between CloudFormation StackSets and AWS Organizations is off. "
            "Run again with --enable-trusted-access, or run "
            "`aws cloudformation activate-organizations-access` in the management account."
        )
    step = Step(
        id="trusted-access",
        action="enable_trusted_access",
        target="organizations-access",
        description="turn on trusted access for CloudFormation StackSets (ActivateOrganizationsAccess)",
    )
    return (stage.builder.add(step),)


def _role_stage(stage: _Stage, base: tuple[str, ...]) -> tuple[str | None, dict[str, list[str]], int]:
    """The service-linked role stack set, home Region only. Returns (stack set step, Region steps, instances)."""
    name = naming.role_stack_set(stage.config)
    existing = stage.inventory.stack_set(name)
    skips: list[Skip] = []
    accounts = stage.desired.role_accounts(skips, existing)
    stage.builder.skipped.extend(skips)
    set_step = _stack_set_step(
        builder=stage.builder,
        name=name,
        template_key="service-linked-role",
        rendered=stage.rendered,
        existing=existing,
        parameters=(),
        config=stage.config,
        depends_on=base,
        auto_deployment={"Enabled": True, "RetainStacksOnAccountRemoval": True},
    )
    region_steps = _instance_steps(
        builder=stage.builder,
        config=stage.config,
        stack_set_name=name,
        existing=existing,
        desired={stage.home: accounts},
        target_units=stage.target_units,
        in_scope=[a.id for a in stage.desired.in_scope],
        step_prefix="role",
        first_region=stage.home,
        root_id=stage.inventory.organization.root_id,
        depends_on=stage.builder.present(set_step, *base),
    )
    return set_step, region_steps, len(accounts)


def _recorder_stage(
    stage: _Stage,
    *,
    base: tuple[str, ...],
    after: tuple[str, ...],
    role_set: str | None,
    per_region: dict[str, list[str]],
) -> tuple[list[RecorderShard], list[QuotaUsage], dict[str, list[str]]]:
    """Recorder stack set shards: home Region first as its own operation, then the others together."""
    config, inventory = stage.config, stage.inventory
    org = inventory.organization
    role_name = naming.role_stack_set(config)
    shards = shard_recorder_targets(
        config=config, inventory=inventory, target_units=stage.target_units, regions=config.regions
    )
    new_sets = [n for n in (role_name, *(s.name for s in shards)) if inventory.stack_set(n) is None]
    check_stack_set_quota(inventory, new_stack_sets=len(new_sets))
    region_steps: dict[str, list[str]] = {r: [] for r in config.regions}
    usage = []
    in_scope = [a.id for a in stage.desired.in_scope]
    for shard in shards:
        existing = inventory.stack_set(shard.name)
        members = {a.id for a in org.members_under(shard.unit_ids)}
        if shard.accounts is not None:
            members &= set(shard.accounts)
        shard_desired = {r: [a for a in accounts if a in members] for r, accounts in per_region.items()}
        instances = sum(len(v) for v in shard_desired.values())
        usage.append(QuotaUsage(shard.name, instances, inventory.quotas.instances_per_stack_set))
        whole = shard.accounts is None
        set_step = _stack_set_step(
            builder=stage.builder,
            name=shard.name,
            template_key="recorder",
            rendered=stage.rendered,
            existing=existing,
            parameters=_params(DeliveryBucketName=stage.bucket_name),
            config=config,
            depends_on=stage.builder.present(*base, role_set),
            # Account-list shards cannot auto-deploy: every shard targeting that OU would get the new account.
            auto_deployment={"Enabled": True, "RetainStacksOnAccountRemoval": False} if whole else {"Enabled": False},
            depends_on_stack_sets=(role_name,) if whole else (),
        )
        steps = _instance_steps(
            builder=stage.builder,
            config=config,
            stack_set_name=shard.name,
            existing=existing,
            desired=shard_desired,
            target_units=list(shard.unit_ids),
            in_scope=[a for a in in_scope if a in members],
            step_prefix=shard.step_prefix,
            first_region=stage.home,
            root_id=org.root_id,
            depends_on=stage.builder.present(set_step, *after),
            exact_accounts=not whole,
        )
        for region, ids in steps.items():
            region_steps[region].extend(ids)
    return shards, usage, region_steps


def _management_stage(stage: _Stage, bucket: str | None) -> dict[str, str | None]:
    """The management account's own role and recorder stacks: StackSets never reach it."""
    config, inventory = stage.config, stage.inventory
    management = inventory.organization.management_account_id
    role_name = naming.role_stack_set(config)
    if not config.management_account.deploy:
        return {}
    facts = inventory.facts_for(management)
    role = None
    if (
        facts is not None
        and facts.has_service_linked_role
        and inventory.stack(role_name, management, stage.home) is None
    ):
        stage.builder.skipped.append(
            Skip(management, None, "service-linked role", "AWSServiceRoleForConfig already exists")
        )
    else:
        role = stage.stack(
            template_key="service-linked-role",
            stack_name=role_name,
            account=management,
            region=stage.home,
            parameters=(),
            depends_on=(),
            step_id="management-role",
            description="deploy the service-linked role in the management account",
        )
    skips: list[Skip] = []
    region_steps: dict[str, str | None] = {}
    home_step = None
    for region in [stage.home, *config.other_regions]:
        if not _management_wants_recorder(config, inventory, region, skips):
            continue
        after_home = () if region == stage.home else stage.builder.present(home_step)
        step = stage.stack(
            template_key="recorder",
            stack_name=naming.recorder_stack_set(config),
            account=management,
            region=region,
            parameters=_params(DeliveryBucketName=stage.bucket_name),
            depends_on=stage.builder.present(role, bucket) + after_home,
            step_id=f"management-recorder-{region}",
            description=f"deploy the recorder in the management account, {region}",
        )
        region_steps[region] = step
        if region == stage.home:
            home_step = step
    stage.builder.skipped.extend(skips)
    return region_steps


def plan(config: Config, inventory: Inventory, rendered: RenderedSet, options: PlanOptions | None = None) -> Plan:
    """Every change needed to reach the desired state, in dependency order."""
    from orgdeploy.planner_notifications import hub_account  # builds on this module's helpers

    org = inventory.organization
    hub_account(config, org)  # bad input is reported before anything else
    builder = _Builder()
    desired = _Desired(config, inventory)
    builder.skipped.extend(desired.skipped)
    stage = _Stage(
        config=config,
        inventory=inventory,
        rendered=rendered,
        builder=builder,
        desired=desired,
        bucket_name=naming.default_delivery_bucket(config, org.id),
        target_units=[org.resolve_target(t) for t in config.targets.organizational_units],
    )
    base = _trusted_access(stage, options or PlanOptions())
    bucket_account = config.delivery.bucket_account or org.management_account_id
    bucket = stage.stack(
        template_key="delivery-bucket",
        stack_name=naming.delivery_bucket_stack(config),
        account=bucket_account,
        region=config.home_region,
        parameters=_params(OrganizationId=org.id, BucketName=stage.bucket_name),
        depends_on=(),
        step_id="delivery-bucket",
        description=f"deploy the central delivery bucket {stage.bucket_name} in {bucket_account}",
    )
    role_set, role_steps, role_instances = _role_stage(stage, base)
    recorder_skips: list[Skip] = []
    per_region = {region: desired.recorder_accounts(region, recorder_skips) for region in config.regions}
    builder.skipped.extend(recorder_skips)
    shards, usage, recorder_steps = _recorder_stage(
        stage,
        base=base,
        after=builder.present(bucket, *(sid for ids in role_steps.values() for sid in ids)),
        role_set=role_set,
        per_region=per_region,
    )
    management_steps = _management_stage(stage, bucket)
    _stop_on_conflicts(config, builder.skipped)
    stage.stack(
        template_key="aggregator",
        stack_name=naming.aggregator_stack(config),
        account=inventory.caller_account,
        region=config.home_region,
        parameters=(),
        depends_on=base,
        step_id="aggregator",
        description=f"deploy the organization aggregator {config.aggregator.name}",
    )
    pack_steps = _pack_steps(
        builder=builder,
        config=config,
        inventory=inventory,
        rendered=rendered,
        per_region=per_region,
        bucket_name=stage.bucket_name,
        after={r: (*recorder_steps[r], management_steps.get(r)) for r in config.regions},
        bucket_step=bucket,
    )
    notifications = _notifications(stage, base, recorder_steps, management_steps, pack_steps, shards)
    changes = list(builder.steps)
    if changes:
        builder.add(
            Step(
                id="verify",
                action="verify",
                target="organization",
                description="read back every stack set instance and stack and report what is not healthy",
                regions=tuple(config.regions),
                depends_on=tuple(s.id for s in changes),
            )
        )
    role_usage = QuotaUsage(naming.role_stack_set(config), role_instances, inventory.quotas.instances_per_stack_set)
    return Plan(
        steps=tuple(builder.steps),
        usage=(role_usage, *usage, *notifications.usage),
        skipped=tuple(builder.skipped),
        notes=tuple(builder.notes),
        desired_stack_sets=(naming.role_stack_set(config), *(s.name for s in shards), *notifications.stack_sets),
    )


def _notifications(
    stage: _Stage,
    base: tuple[str, ...],
    recorder_steps: dict[str, list[str]],
    management_steps: dict[str, str | None],
    pack_steps: list[str],
    shards: list[RecorderShard],
) -> NotificationsOutcome:
    """The notifications stage, after every recorder and pack step; its stack set counts against the quota."""
    # Imported here: planner_notifications builds on this module's helpers.
    from orgdeploy.planner_notifications import notifications_stage

    after = (*(s for steps in recorder_steps.values() for s in steps), *management_steps.values(), *pack_steps)
    outcome = notifications_stage(stage, base=base, after=stage.builder.present(*after))
    desired = (naming.role_stack_set(stage.config), *(s.name for s in shards), *outcome.stack_sets)
    new = [name for name in desired if stage.inventory.stack_set(name) is None]
    if outcome.stack_sets and stage.inventory.stack_set(outcome.stack_sets[0]) is None:
        check_stack_set_quota(stage.inventory, new_stack_sets=len(new))
    return outcome


def _stop_on_conflicts(config: Config, skipped: list[Skip]) -> None:
    conflicts = [s for s in skipped if s.conflict]
    if conflicts and config.recording.existing_recorder == "fail":
        pairs = "\n".join(f"  {s.account} {s.region}: {s.reason}" for s in conflicts)
        raise PlanBlocked(
            f"recording.existing_recorder is 'fail' and {len(conflicts)} account/Region pair(s) already have "
            f"a recorder orgdeploy did not make; nothing was changed:\n{pairs}\n"
            "Remove those recorders, or set recording.existing_recorder: skip to leave them alone."
        )


def _management_wants_recorder(config: Config, inventory: Inventory, region: str, skips: list[Skip]) -> bool:
    management = inventory.organization.management_account_id
    facts = inventory.facts_for(management)
    recorder = facts.recorder(region) if facts else None
    if recorder is not None and recorder.name != naming.recorder_name(config):
        skips.append(
            Skip(
                management,
                region,
                "recorder",
                f"already has recorder {recorder.name!r} (owner: {recorder.owner})",
                conflict=True,
            )
        )
        return False
    return True


def pack_excluded_accounts(
    config: Config, inventory: Inventory, pack: ConformancePack, region: str, recorder_accounts: list[str]
) -> dict[str, str]:
    """Accounts the pack must skip in region, with why: every org account without a working recorder there."""
    org = inventory.organization
    excluded = {a: "excluded by conformance_packs[].excluded_accounts" for a in pack.excluded_accounts}
    will_record = set(recorder_accounts)
    if config.management_account.deploy:
        will_record.add(org.management_account_id)
    for account in org.accounts:
        if account.id in will_record or account.id in excluded:
            continue
        facts = inventory.facts_for(account.id)
        recorder = facts.recorder(region) if facts else None
        if recorder is not None and recorder.recording and account.active:
            continue  # A foreign recorder that records counts as working.
        if not account.active:
            excluded[account.id] = f"account is {account.status}"
        elif recorder is not None:
            excluded[account.id] = f"its recorder {recorder.name!r} is not recording"
        else:
            excluded[account.id] = "no recorder in this Region"
    return dict(sorted(excluded.items()))


def _pack_steps(
    *,
    builder: _Builder,
    config: Config,
    inventory: Inventory,
    rendered: RenderedSet,
    per_region: dict[str, list[str]],
    bucket_name: str,
    after: dict[str, tuple[str | None, ...]],
    bucket_step: str | None,
) -> list[str]:
    org = inventory.organization
    steps = []
    for pack in config.conformance_packs:
        body = next(b for b in rendered.pack_bodies if b.pack == pack.name)
        upload = None
        if body.s3_key:
            upload = builder.add(
                Step(
                    id=f"pack-{pack.name}-upload",
                    action="upload_artifact",
                    target=f"s3://{bucket_name}/{body.s3_key}",
                    description=f"upload pack body {pack.name} ({len(body.body.encode()):,} bytes) to the bucket",
                    account=config.delivery.bucket_account or org.management_account_id,
                    regions=(config.home_region,),
                    depends_on=builder.present(bucket_step),
                    template=f"pack-body:{pack.name}",
                )
            )
        for region in config.pack_regions(pack):
            excluded = pack_excluded_accounts(config, inventory, pack, region, per_region.get(region, []))
            builder.skipped.extend(Skip(a, region, f"conformance pack {pack.name}", why) for a, why in excluded.items())
            if len(excluded) > MAX_EXCLUDED_ACCOUNTS:
                raise PlanBlocked(
                    f"conformance pack {pack.name!r} in {region} would exclude {len(excluded):,} accounts; "
                    f"AWS Config accepts at most {MAX_EXCLUDED_ACCOUNTS:,}"
                )
            params = {"OrganizationId": org.id, "ExcludedAccounts": ",".join(excluded)}
            if body.s3_key:
                params["ArtifactBucketName"] = bucket_name
            sid = _stack_step(
                builder=builder,
                inventory=inventory,
                rendered=rendered,
                template_key=f"pack:{pack.name}",
                stack_name=naming.pack_stack(config, pack),
                account=inventory.caller_account,
                region=region,
                parameters=_params(**params),
                depends_on=builder.present(*after.get(region, ()), upload),
                step_id=f"pack-{pack.name}-{region}",
                description=f"deploy organization conformance pack {pack.name} in {region}"
                + (f" (excluding {len(excluded)} account(s))" if excluded else ""),
            )
            if sid:
                steps.append(sid)
    return steps
