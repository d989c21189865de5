"""Build the Inventory: everything the planner needs to know about AWS, read once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from orgdeploy.aws.census import aggregator_source_statuses, survey
from orgdeploy.aws.guard import GuardGateway
from orgdeploy.aws.organizations import read_organization
from orgdeploy.aws.quotas import read_quotas
from orgdeploy.aws.session import AwsContext
from orgdeploy.aws.stacks import StacksGateway
from orgdeploy.aws.stacksets import StackSetsGateway
from orgdeploy.config.model import Config
from orgdeploy.planning.adoption import claim_adopted
from orgdeploy.planning.census_scope import census_scope, problem_pairs
from orgdeploy.planning.guard import guard_targets
from orgdeploy.planning.inventory import AccountFacts, Inventory, Quotas, StackSetState, StackState
from orgdeploy.planning.notifications import hub_locations
from orgdeploy.planning.preflight import check_caller
from orgdeploy.templates import naming

Progress = Callable[[str], None]


Place = tuple[str, str, str]  # (stack name, account, Region)


def _stack_locations(config: Config, caller: str, management: str, accounts: set[str]) -> list[Place]:
    """(stack name, account, Region) of every plain stack orgdeploy may own."""
    home = config.home_region
    bucket_account = config.delivery.bucket_account or management
    places = [
        (naming.delivery_bucket_stack(config), bucket_account, home),
        (naming.aggregator_stack(config), caller, home),
    ]
    places.append((naming.role_stack_set(config), management, home))
    places.append((naming.remediation_role_stack_set(config), management, home))
    places += [(naming.recorder_stack_set(config), management, r) for r in config.regions]
    for pack in config.conformance_packs:
        places += [(naming.pack_stack(config, pack), caller, r) for r in config.regions]
    # Read whether notifications are on or off, so turning them off can remove them.
    places += [(naming.notifications_stack_set(config), management, r) for r in config.regions]
    if config.notifications is not None and config.notifications.hub_account in accounts:
        # A hub account outside the organization is the planner's to report, as bad input.
        places.append((naming.notifications_hub_stack(config), config.notifications.hub_account, home))
    return places


def _old_hubs(config: Config, stack_sets: tuple[StackSetState, ...], stacks: tuple[StackState, ...]) -> list[Place]:
    """Hub stacks the deployed forwarders point at, where the config no longer puts the hub."""
    name = naming.notifications_hub_stack(config)
    forwarders = [s.parameters for s in stack_sets if s.name == naming.notifications_stack_set(config)]
    forwarders += [s.parameters for s in stacks if s.name == naming.notifications_stack_set(config)]
    known = {(s.account, s.region) for s in stacks if s.name == name}
    if config.notifications is not None:
        known.add((config.notifications.hub_account, config.home_region))  # read already
    return [(name, account, region) for account, region in sorted(hub_locations(forwarders) - known)]


def _other_pack_stacks(ctx: AwsContext, config: Config, caller: str, read: tuple[StackState, ...]) -> list[Place]:
    """Pack stacks of packs the config no longer names, so the plan can remove them."""
    known = {(s.name, s.account, s.region) for s in read}
    places = []
    for region in config.regions:
        for name in StacksGateway(ctx, account=caller, region=region).names(prefix=naming.pack_stack_prefix(config)):
            if (name, caller, region) not in known:
                places.append((name, caller, region))
    return places


def read_stacks(ctx: AwsContext, places: list[Place]) -> tuple[StackState, ...]:
    def one(place: tuple[str, str, str]) -> StackState | None:
        name, account, region = place
        return StacksGateway(ctx, account=account, region=region).read(name)

    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="stacks") as pool:
        return tuple(s for s in pool.map(one, places) if s is not None)


def _every_tenth(say: Progress, total: int) -> Callable[[AccountFacts], None]:
    """A census callback that reports every tenth of the accounts read (thread-safe); vouched ones do not count."""
    lock = threading.Lock()
    done = [0]
    step = max(1, total // 10)
    if total < 50:
        return lambda _facts: None  # a small census ends before a report would help

    def one(facts: AccountFacts) -> None:
        if facts.read_nothing:
            return
        with lock:
            done[0] += 1
            if done[0] % step == 0 and done[0] < total:
                say(f"surveyed {done[0]} of {total} accounts")

    return one


def read_inventory(
    ctx: AwsContext,
    config: Config,
    *,
    quota_override: Quotas | None = None,
    census: bool = True,
    detail: bool = False,
    progress: Progress | None = None,
    full_census: bool = True,
) -> Inventory:
    """Everything the planner needs; census reads each targeted account, detail adds what `status` shows.

    Without full_census, the census reads only the accounts and Regions the deployed state does not vouch
    for (planning/census_scope.py): a converged organization costs no call in any member account.
    """
    say = progress or (lambda _message: None)
    say("reading the organization")
    caller = ctx.caller_account
    org = read_organization(ctx)
    check_caller(config, caller=caller, management=org.management_account_id)
    gateway = StackSetsGateway(ctx, region=config.home_region, call_as=config.admin.call_as)
    say("reading stack sets")
    trusted = gateway.organizations_access()
    names = [
        naming.role_stack_set(config),
        naming.recorder_stack_set(config),
        naming.notifications_stack_set(config),
        naming.remediation_role_stack_set(config),
    ]
    stack_sets = tuple(gateway.read(names, prefix=f"{naming.recorder_stack_set(config)}-", progress=progress))
    say("reading stacks")
    active = {a.id for a in org.accounts if a.active}
    stacks = read_stacks(ctx, _stack_locations(config, caller, org.management_account_id, active))
    stacks += read_stacks(ctx, _old_hubs(config, stack_sets, stacks))
    stacks += read_stacks(ctx, _other_pack_stacks(ctx, config, caller, stacks))
    say("reading the guard policy")
    guard = GuardGateway(ctx).read(naming.guard_policy(config), guard_targets(config, org), wanted=config.guard.enabled)
    quotas = quota_override or read_quotas(ctx, config.home_region)
    inventory = Inventory(
        caller_account=caller,
        organization=org,
        trusted_access=trusted,
        stack_sets=stack_sets,
        stacks=stacks,
        quotas=quotas,
        stack_set_count=gateway.count_stack_sets(),
        guard=guard,
    )
    if not census:
        return inventory
    return replace(inventory, facts=_census(ctx, config, inventory, say, detail=detail, full=full_census))


def _census(
    ctx: AwsContext, config: Config, inventory: Inventory, say: Progress, *, detail: bool, full: bool
) -> tuple[AccountFacts, ...]:
    """The targeted accounts' facts: every account and Region with full, else what the deployed state leaves open."""
    org = inventory.organization
    accounts = [a.id for a in org.members_under(config.targets.organizational_units) if a.active]
    if config.management_account.deploy:
        accounts.append(org.management_account_id)
    prefix = naming.recorder_stack_set(config)
    recorder_sets = tuple(s for s in inventory.stack_sets if s.name == prefix or s.name.startswith(f"{prefix}-"))
    management_stacks = tuple(
        s for s in inventory.stacks if s.name == prefix and s.account == org.management_account_id
    )
    problems: frozenset[tuple[str, str]] = frozenset()
    if not full and _aggregator_deployed(config, inventory.stacks, inventory.caller_account):
        say("reading the aggregator's source status")
        problems = problem_pairs(aggregator_source_statuses(ctx, config.home_region, config.aggregator.name) or ())
    scope = census_scope(
        accounts=accounts,
        regions=tuple(config.regions),
        management=org.management_account_id,
        recorder_sets=recorder_sets,
        management_stacks=management_stacks,
        role_set=inventory.stack_set(naming.role_stack_set(config)),
        source_problems=problems,
        full=full,
    )
    say(
        f"surveying {len(accounts)} accounts in {len(config.regions)} Regions"
        if full
        else f"census: {scope.describe()}"
    )
    facts = survey(
        ctx,
        accounts,
        list(config.regions),
        orgdeploy_recorder=naming.recorder_name(config),
        on_done=_every_tenth(say, len(scope.accounts_read)),
        detail=detail,
        vouched=scope.vouched,
    )
    return claim_adopted(
        facts, recorder_sets=recorder_sets, management_stacks=management_stacks, management=org.management_account_id
    )


def _aggregator_deployed(config: Config, stacks: tuple[StackState, ...], caller: str) -> bool:
    name = naming.aggregator_stack(config)
    return any(s.name == name and s.account == caller and s.status.endswith("_COMPLETE") for s in stacks)
