"""plan(config, inventory, rendered) -> Plan. Pure: no boto3, no clock, no randomness.

The same function serves bootstrap, update and add-region: it diffs the desired
state against the inventory and plans only the delta, so a converged
organization plans nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from orgdeploy.config.model import DEFAULT_PROFILE, Config
from orgdeploy.errors import PlanBlocked
from orgdeploy.planning.adopt_steps import adopt_step
from orgdeploy.planning.adoption import Adoption
from orgdeploy.planning.guard import plan_guard
from orgdeploy.planning.inventory import Inventory
from orgdeploy.planning.notifications import NotificationsOutcome, hub_account, notifications_stage
from orgdeploy.planning.packs import plan_pack_steps
from orgdeploy.planning.plan import Plan, QuotaUsage, Skip, Step, one_operation_at_a_time
from orgdeploy.planning.profiles import describe_settings, profile_steps, unit_profiles
from orgdeploy.planning.recording_warnings import recording_warnings
from orgdeploy.planning.remediation import remediation_role_stage
from orgdeploy.planning.repairs import repair_steps
from orgdeploy.planning.shards import RecorderShard, check_stack_set_quota, shard_recorder_targets
from orgdeploy.planning.stage import Desired, Stage
from orgdeploy.planning.steps import Builder, instance_steps, stack_parameters, stack_set_step
from orgdeploy.templates import naming
from orgdeploy.templates.render import RenderedSet


@dataclass(frozen=True)
class PlanOptions:
    enable_trusted_access: bool = False
    # Plan around accounts the census could not read, leaving them as they are, instead of refusing.
    skip_unreadable: bool = False


def _trusted_access(stage: Stage, options: PlanOptions) -> tuple[str, ...]:
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


def _role_stage(stage: Stage, base: tuple[str, ...]) -> tuple[str | None, dict[str, list[str]], int]:
    """The service-linked role stack set, home Region only. Returns (stack set step, Region steps, instances)."""
    name = naming.role_stack_set(stage.config)
    existing = stage.inventory.stack_set(name)
    skips: list[Skip] = []
    accounts = stage.desired.role_accounts(skips, existing)
    stage.builder.skipped.extend(skips)
    set_step = stack_set_step(
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
    region_steps = instance_steps(
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
        leave_alone=stage.desired.leave_alone,
    )
    return set_step, region_steps, len(accounts)


def _recorder_stage(
    stage: Stage,
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
        adopted = stage.desired.adopted_pairs()
        # Adopted recorders get their instances from the adopt step, with their names as overrides.
        created = {r: [a for a in accounts if (a, r) not in adopted] for r, accounts in shard_desired.items()}
        instances = sum(len(v) for v in shard_desired.values())
        usage.append(QuotaUsage(shard.name, instances, inventory.quotas.instances_per_stack_set))
        whole = shard.accounts is None
        set_step = stack_set_step(
            builder=stage.builder,
            name=shard.name,
            template_key="recorder",
            rendered=stage.rendered,
            existing=existing,
            parameters=stack_parameters(DeliveryBucketName=stage.bucket_name),
            config=config,
            depends_on=stage.builder.present(*base, role_set),
            # Account-list shards cannot auto-deploy: every shard targeting that OU would get the new account.
            auto_deployment={"Enabled": True, "RetainStacksOnAccountRemoval": False} if whole else {"Enabled": False},
            depends_on_stack_sets=(role_name,) if whole else (),
        )
        steps = instance_steps(
            builder=stage.builder,
            config=config,
            stack_set_name=shard.name,
            existing=existing,
            desired=created,
            target_units=list(shard.unit_ids),
            in_scope=[a for a in in_scope if a in members],
            step_prefix=shard.step_prefix,
            first_region=stage.home,
            root_id=org.root_id,
            depends_on=stage.builder.present(set_step, *after),
            leave_alone=stage.desired.leave_alone,
            exact_accounts=not whole,
        )
        shard_steps = stage.builder.present(set_step, *(i for ids in steps.values() for i in ids))
        adopt = adopt_step(
            stage,
            stack_set=shard.name,
            adoptions=[a for found in stage.desired.adoptions.values() for a in found if a.account in members],
            depends_on=shard_steps,
            target_units=list(shard.unit_ids),
        )
        profiled = profile_steps(
            builder=stage.builder,
            config=config,
            inventory=inventory,
            stack_set_name=shard.name,
            existing=existing,
            desired=created,
            profiles=stage.desired.profiles,
            depends_on=stage.builder.present(*shard_steps, adopt),
            target_units=list(shard.unit_ids),
        )
        for region in config.regions:
            region_steps[region].extend(
                [*steps.get(region, []), *stage.builder.present(adopt), *profiled.get(region, [])]
            )
    return shards, usage, region_steps


def _management_stage(stage: Stage, bucket: str | None) -> dict[str, str | None]:
    """The management account's own role and recorder stacks: StackSets never reach it."""
    config, inventory = stage.config, stage.inventory
    management = inventory.organization.management_account_id
    role_name = naming.role_stack_set(config)
    if not config.management_account.deploy:
        return {}
    facts = inventory.facts_for(management)
    role = None
    if facts is not None and facts.role_exists and inventory.stack(role_name, management, stage.home) is None:
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
    adoptions = []
    for region in [stage.home, *config.other_regions]:
        wanted = _management_wants_recorder(stage, region, skips)
        if wanted is False:
            continue
        if wanted is not True:
            adoptions.append(wanted)
    adopt = adopt_step(
        stage,
        stack_set=None,
        adoptions=adoptions,
        depends_on=stage.builder.present(role, bucket),
        stack_parameters={
            a.region: dict(_management_recorder_parameters(stage, a.region, adoptions)) for a in adoptions
        },
    )
    for region in [stage.home, *config.other_regions]:
        if any(s.account == management and s.region == region and s.what == "recorder" for s in skips):
            continue
        after_home = () if region == stage.home else stage.builder.present(home_step)
        step = stage.stack(
            template_key="recorder",
            stack_name=naming.recorder_stack_set(config),
            account=management,
            region=region,
            parameters=_management_recorder_parameters(stage, region, adoptions),
            depends_on=stage.builder.present(role, bucket, adopt) + after_home,
            step_id=f"management-recorder-{region}",
            description=f"deploy the recorder in the management account, {region}",
        )
        region_steps[region] = step or adopt
        if region == stage.home:
            home_step = step
    stage.builder.skipped.extend(skips)
    return region_steps


def _management_recorder_parameters(
    stage: Stage, region: str, adoptions: list[Adoption]
) -> tuple[tuple[str, str], ...]:
    """Every parameter of the management account's recorder stack; an adopted recorder keeps its names."""
    config, inventory = stage.config, stage.inventory
    management = inventory.organization.management_account_id
    values = {
        "RecorderName": naming.recorder_name(config),
        "DeliveryChannelName": naming.delivery_channel_name(config),
        "AdoptedSettings": "",
    }
    existing = inventory.stack(naming.recorder_stack_set(config), management, region)
    if existing is not None:
        values.update({k: v for k, v in existing.parameters if k in values})
    adoption = next((a for a in adoptions if a.region == region), None)
    if adoption is not None:
        values.update(
            RecorderName=adoption.recorder,
            DeliveryChannelName=adoption.channel or naming.delivery_channel_name(config),
            AdoptedSettings=adoption.settings,
        )
    return stack_parameters(
        DeliveryBucketName=stage.bucket_name,
        RecordingProfile=stage.desired.profiles.get(management, DEFAULT_PROFILE),
        **values,
    )


def plan(config: Config, inventory: Inventory, rendered: RenderedSet, options: PlanOptions | None = None) -> Plan:
    """Every change needed to reach the desired state, in dependency order."""
    org = inventory.organization
    hub_account(config, org)  # bad input is reported before anything else
    builder = Builder()
    options = options or PlanOptions()
    desired = Desired(config, inventory, skip_unreadable=options.skip_unreadable)
    builder.skipped.extend(desired.skipped)
    stage = Stage(
        config=config,
        inventory=inventory,
        rendered=rendered,
        builder=builder,
        desired=desired,
        bucket_name=naming.default_delivery_bucket(config, org.id),
        target_units=[org.resolve_target(t) for t in config.targets.organizational_units],
    )
    base = _trusted_access(stage, options)
    bucket_account = config.delivery.bucket_account or org.management_account_id
    bucket = stage.stack(
        template_key="delivery-bucket",
        stack_name=naming.delivery_bucket_stack(config),
        account=bucket_account,
        region=config.home_region,
        parameters=stack_parameters(
            OrganizationId=org.id, BucketName=stage.bucket_name, PackReaderAccountId=inventory.caller_account
        ),
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
    if config.recording.profiles:
        builder.notes.append(_profiles_note(config, stage))
    builder.notes.extend(recording_warnings(config))
    builder.notes.extend(_vouched_note(config, inventory))
    _stop_on_conflicts(config, builder.skipped)
    mended = {a.id for a in desired.targeted} | (
        {org.management_account_id} if config.management_account.deploy else set()
    )
    repair_steps(
        stage,
        accounts=mended,
        after={r: builder.present(*recorder_steps[r], management_steps.get(r)) for r in config.regions},
    )
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
    remediation_steps, remediation_usage = remediation_role_stage(stage, base=base)
    notifications = _notifications(stage, base, recorder_steps, management_steps, shards)
    plan_pack_steps(
        builder=builder,
        config=config,
        inventory=inventory,
        rendered=rendered,
        per_region=per_region,
        bucket_name=stage.bucket_name,
        after={
            r: (*recorder_steps[r], management_steps.get(r), *remediation_steps, *notifications.steps)
            for r in config.regions
        },
        bucket_step=bucket,
        management_regions=frozenset(management_steps),
        recorder_sets=tuple(s.name for s in shards),
    )
    plan_guard(config, org, inventory.guard, builder, caller=inventory.caller_account)
    if config.guard.enabled and config.census.role_name == "OrganizationAccountAccessRole":
        builder.notes.append(
            "the guard exempts census.role_name, OrganizationAccountAccessRole, which the organization's "
            "administrators often use too; a census role of orgdeploy's own keeps the guard tight"
        )
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
    steps = tuple(builder.steps)
    return Plan(
        steps=steps if config.stacksets.managed_execution else one_operation_at_a_time(steps),
        usage=(role_usage, *usage, *notifications.usage, *([remediation_usage] if remediation_usage else [])),
        skipped=tuple(builder.skipped),
        notes=tuple(builder.notes),
        desired_stack_sets=(
            naming.role_stack_set(config),
            *(s.name for s in shards),
            *notifications.stack_sets,
            *([naming.remediation_role_stack_set(config)] if remediation_usage else []),
        ),
    )


def _notifications(
    stage: Stage,
    base: tuple[str, ...],
    recorder_steps: dict[str, list[str]],
    management_steps: dict[str, str | None],
    shards: list[RecorderShard],
) -> NotificationsOutcome:
    """The notifications stage, after the recorders and before the packs; its stack set counts against the quota."""
    after = (*(s for steps in recorder_steps.values() for s in steps), *management_steps.values())
    outcome = notifications_stage(stage, base=base, after=stage.builder.present(*after))
    desired = (naming.role_stack_set(stage.config), *(s.name for s in shards), *outcome.stack_sets)
    new = [name for name in desired if stage.inventory.stack_set(name) is None]
    if outcome.stack_sets and stage.inventory.stack_set(outcome.stack_sets[0]) is None:
        check_stack_set_quota(stage.inventory, new_stack_sets=len(new))
    return outcome


def _vouched_note(config: Config, inventory: Inventory) -> list[str]:
    """What a census that read only the changed accounts (the default) cannot see."""
    vouched = sum(len(f.vouched_regions) for f in inventory.facts)
    if not vouched:
        return []
    unseen = "a recorder stopped or changed by hand behind such an instance"
    if config.recording.profiles:
        unseen += ", or an account moved into another profile's OU,"
    return [
        f"census: {vouched} account x Region pair(s) not read, as their healthy recorder instances vouch for "
        f"them; {unseen} is found with --census full"
    ]


def _profiles_note(config: Config, stage: Stage) -> str:
    """Which profile each OU follows, what each records, and the accounts excluded from their OU's profile."""
    org = stage.inventory.organization
    lines = ["recording profiles (first match wins; the top-level recording block is 'default'):"]
    for name in config.recording.profile_names:
        accounts = sum(1 for a in stage.desired.targeted if stage.desired.profiles.get(a.id) == name)
        lines.append(f"  {name}: {describe_settings(config.recording.settings(name))} ({accounts} targeted account(s))")
    lines.append("  by OU:")
    lines += [f"    {path} -> {profile}" for path, profile in unit_profiles(config, org)]
    for profile in config.recording.profiles:
        for account in profile.exclude_accounts:
            follows = stage.desired.profiles.get(account, DEFAULT_PROFILE)
            lines.append(f"    account {account} -> {follows} (excluded from {profile.name})")
    return "\n".join(lines)


def _stop_on_conflicts(config: Config, skipped: list[Skip]) -> None:
    conflicts = [s for s in skipped if s.conflict]
    if conflicts and config.recording.existing_recorder == "fail":
        pairs = "\n".join(f"  {s.account} {s.region}: {s.reason}" for s in conflicts)
        raise PlanBlocked(
            f"recording.existing_recorder is 'fail' and {len(conflicts)} account/Region pair(s) already have "
            f"a recorder orgdeploy did not make; nothing was changed:\n{pairs}\n"
            "Remove those recorders, or set recording.existing_recorder: skip to leave them alone."
        )


def _management_wants_recorder(stage: Stage, region: str, skips: list[Skip]) -> bool | Adoption:
    """True when orgdeploy deploys the management account's recorder in region, an Adoption to adopt it first."""
    inventory = stage.inventory
    management = inventory.organization.management_account_id
    facts = inventory.facts_for(management)
    if facts is not None and region in facts.disabled_regions:
        skips.append(Skip(management, region, "recorder", "Region is not enabled in the account"))
        return False
    recorder = facts.recorder(region) if facts else None
    if recorder is None or recorder.owner == "orgdeploy":
        return True
    adoption = stage.desired.adopt(management, region, recorder, skips)
    return adoption if adoption is not None else False
