"""Recorder stack set sharding by the instances-per-stack-set quota (pure; hand-built inventories).

The 9,000-account cases call shard_recorder_targets directly; the cases that
need a whole plan use the same shapes scaled down with a smaller quota
(17 Regions x 100 accounts = 1,700 instances per shard), so they stay fast.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from orgdeploy.config.model import Config
from orgdeploy.planning.inventory import Account, Inventory, Organization, OrgUnit, Quotas, StackInstance, StackSetState
from orgdeploy.planning.planner import plan
from orgdeploy.planning.shards import QuotaExceeded, RecorderShard, shard_recorder_targets
from orgdeploy.templates.render import render_all
from tests.helpers import make_config

MGMT = "100000000000"
ROOT = "r-ab12"
REGIONS = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
]
QUOTA = 100_000
CAPACITY = QUOTA // len(REGIONS)  # 5,882 accounts per shard
BASE = "orgdeploy-recorder"


def ou(n: int) -> str:
    return f"ou-ab12-{n:08d}"


def organization(sizes: Sequence[int], *, seed: int = 0, extra: Iterable[Account] = ()) -> Organization:
    """OUs ou(0), ou(1)... under the root holding sizes[i] accounts each, with random 12-digit ids."""
    rng = random.Random(seed)
    units = [OrgUnit(ROOT, "Root", None, "Root")]
    accounts = [Account(MGMT, "management", "ACTIVE", ROOT)]
    used = {MGMT}
    for index, size in enumerate(sizes):
        units.append(OrgUnit(ou(index), f"unit-{index}", ROOT, f"Root/unit-{index}"))
        for _ in range(size):
            accounts.append(Account(fresh_id(rng, used), "member", "ACTIVE", ou(index)))
    accounts.extend(extra)
    return Organization("o-abcdef1234", MGMT, ROOT, tuple(units), tuple(sorted(accounts, key=lambda a: a.id)))


def fresh_id(rng: random.Random, used: set[str]) -> str:
    while True:
        candidate = f"{rng.randrange(10**11, 10**12):012d}"
        if candidate not in used:
            used.add(candidate)
            return candidate


def grow(org: Organization, additions: dict[str, int], *, seed: int) -> Organization:
    """The same organization plus new accounts (random ids, so they sort among the old ones) and any new OUs."""
    rng = random.Random(seed)
    used = {a.id for a in org.accounts}
    known = {u.id for u in org.units}
    units = list(org.units) + [OrgUnit(u, u, ROOT, f"Root/{u}") for u in additions if u not in known]
    accounts = list(org.accounts)
    for unit_id, count in additions.items():
        accounts += [Account(fresh_id(rng, used), "new", "ACTIVE", unit_id) for _ in range(count)]
    return replace(org, units=tuple(units), accounts=tuple(sorted(accounts, key=lambda a: a.id)))


def inventory(org: Organization, *, quota: int = QUOTA, shards: Sequence[RecorderShard] = ()) -> Inventory:
    """Trusted access on; `shards` already deployed: each holds its accounts in every Region."""
    sets = []
    for shard in shards:
        members = members_of(org, shard)
        sets.append(
            StackSetState(
                name=shard.name,
                arn=f"arn:aws:cloudformation:us-east-1:{MGMT}:stackset/{shard.name}:1",
                template_body="",
                parameters=(),
                auto_deployment=shard.accounts is None,
                depends_on=(),
                managed_execution=True,
                instances=tuple(StackInstance(a, r, "CURRENT", "SUCCEEDED") for a in sorted(members) for r in REGIONS),
            )
        )
    return Inventory(
        caller_account=MGMT,
        organization=org,
        trusted_access="ENABLED",
        stack_sets=tuple(sets),
        quotas=Quotas(instances_per_stack_set=quota),
        stack_set_count=len(sets),
    )


def members_of(org: Organization, shard: RecorderShard) -> set[str]:
    members = {a.id for a in org.members_under(shard.unit_ids)}
    return members & set(shard.accounts) if shard.accounts is not None else members


def placement(org: Organization, shards: Sequence[RecorderShard]) -> dict[str, str]:
    """account -> shard name, asserting that no account is in two shards and every member is in one."""
    where: dict[str, str] = {}
    for shard in shards:
        for account in members_of(org, shard):
            assert account not in where, (account, where[account], shard.name)
            where[account] = shard.name
    assert set(where) == {a.id for a in org.members_under([ROOT])}
    return where


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, regions=REGIONS)


def shard(config: Config, inv: Inventory) -> list[RecorderShard]:
    return shard_recorder_targets(config=config, inventory=inv, target_units=[ROOT], regions=REGIONS)


# -- 9,000 accounts x 17 Regions, quota 100,000 ----------------------------------------------------------------


def test_9000_accounts_in_several_ous_make_ou_shards(config: Config) -> None:
    org = organization([2000, 2000, 2000, 1500, 1500])

    shards = shard(config, inventory(org))

    assert [s.name for s in shards] == [f"{BASE}-01", f"{BASE}-02"]
    assert all(s.accounts is None for s in shards), "whole OUs fit: no account lists"
    where = placement(org, shards)
    sizes = {s.name: sum(1 for v in where.values() if v == s.name) for s in shards}
    assert sum(sizes.values()) == 9000
    assert all(n * len(REGIONS) <= QUOTA for n in sizes.values()), sizes
    assert sorted(u for s in shards for u in s.unit_ids) == [ou(i) for i in range(5)]


def test_an_ou_bigger_than_a_shard_is_split_into_account_lists(config: Config) -> None:
    org = organization([7000, 2000])

    shards = shard(config, inventory(org))

    assert len(shards) >= 2
    assert [s.name for s in shards] == [f"{BASE}-{n:02d}" for n in range(1, len(shards) + 1)]
    big = [s for s in shards if ou(0) in s.unit_ids]
    assert len(big) >= 2 and all(s.accounts is not None and s.unit_ids == (ou(0),) for s in big)
    small = [s for s in shards if ou(1) in s.unit_ids]
    assert len(small) == 1 and small[0].accounts is None
    where = placement(org, shards)
    for s in shards:
        assert sum(1 for v in where.values() if v == s.name) <= CAPACITY, s.name


def test_a_small_organization_keeps_the_single_recorder_stack_set(config: Config) -> None:
    org = organization([3000, CAPACITY - 3000])  # exactly at capacity

    assert shard(config, inventory(org)) == [RecorderShard(BASE, (ROOT,), None, "recorder")]


@pytest.mark.parametrize(
    ("sizes", "additions"),
    [
        ([2000, 2000, 2000, 1500, 1500], {ou(0): 250, "ou-ab12-new00000": 250}),
        ([2000, 2000, 2000, 1500, 1500], {"ou-ab12-new00000": 500}),
        ([7000, 2000], {"ou-ab12-new00000": 500}),
        ([7000, 2000], {ou(0): 500}),
    ],
    ids=["ou-shards+existing-and-new-ou", "ou-shards+new-ou", "account-lists+new-ou", "account-lists+same-ou"],
)
def test_adding_500_accounts_moves_no_account(config: Config, sizes: list[int], additions: dict[str, int]) -> None:
    before = organization(sizes)
    first = shard(config, inventory(before))
    after = grow(before, additions, seed=1)

    second = shard(config, inventory(after, shards=first))

    old = placement(before, first)
    new = placement(after, second)
    moved = {a: (old[a], new[a]) for a in old if new[a] != old[a]}
    assert not moved, f"{len(moved)} account(s) changed shard, e.g. {sorted(moved.items())[:3]}"
    assert len(new) == len(old) + 500
    counts = {name: sum(1 for v in new.values() if v == name) for name in set(new.values())}
    assert all(n <= CAPACITY for n in counts.values()), counts


# -- whole plans, scaled down: 17 Regions x 100 accounts per shard ---------------------------------------------

SMALL_QUOTA = 1_700  # 100 accounts per shard


def test_plan_deploys_each_shard_to_its_own_accounts(config: Config) -> None:
    org = organization([40, 40, 40, 30, 30, 150], seed=3)  # the last OU needs account lists
    inv = inventory(org, quota=SMALL_QUOTA)

    the_plan = plan(config, inv, render_all(config))

    shards = shard(config, inv)
    names = [s.name for s in shards]
    assert the_plan.desired_stack_sets[1:] == tuple(names)
    assert len(names) >= 3
    usage = {u.name: u for u in the_plan.usage}
    assert set(names) <= set(usage)
    for s in shards:
        members = members_of(org, s)
        assert usage[s.name].used == len(members) * len(REGIONS) <= SMALL_QUOTA
        creates = [st for st in the_plan.steps if st.action == "create_stack_instances" and st.target == s.name]
        assert sorted(r for st in creates for r in st.regions) == sorted(REGIONS)
        assert creates[0].regions == ("us-east-1",)
        [create_set] = [st for st in the_plan.steps if st.action == "create_stack_set" and st.target == s.name]
        assert create_set.auto_deployment is not None
        for st in creates:
            targets = st.deployment_targets or {}
            assert targets["OrganizationalUnitIds"] == list(s.unit_ids)
            if s.accounts is None:
                assert targets.get("AccountFilterType") in (None, "DIFFERENCE")
                assert create_set.auto_deployment["Enabled"] is True
            else:
                assert targets["AccountFilterType"] == "INTERSECTION"
                assert sorted(targets["Accounts"]) == sorted(members)
                assert create_set.auto_deployment["Enabled"] is False


def test_a_shard_that_outgrows_the_quota_is_not_planned_past_it(config: Config) -> None:
    before = organization([40, 40, 40, 30, 30], seed=4)
    first = shard(config, inventory(before, quota=SMALL_QUOTA))
    fullest = max(first, key=lambda s: len(members_of(before, s)))
    grown_unit = fullest.unit_ids[-1]
    room = 100 - len(members_of(before, fullest))
    after = grow(before, {grown_unit: room + 10}, seed=5)
    inv = inventory(after, quota=SMALL_QUOTA, shards=first)

    try:
        the_plan = plan(config, inv, render_all(config))
    except QuotaExceeded as refused:
        assert "quota" in str(refused)
        return  # refusing before any change is acceptable
    over = [u for u in the_plan.usage if u.used > u.limit]
    assert not over, [u.line() for u in over]


def test_more_stack_sets_than_the_quota_are_refused(config: Config) -> None:
    org = organization([40, 40, 40, 30, 30], seed=6)  # two recorder shards, plus the role stack set
    crowded = replace(
        inventory(org, quota=SMALL_QUOTA), quotas=Quotas(stack_sets=4, instances_per_stack_set=SMALL_QUOTA)
    )

    with pytest.raises(QuotaExceeded, match="stack sets"):
        plan(config, replace(crowded, stack_set_count=2), render_all(config))
    # One fewer stack set of someone else's, and the three new ones fit exactly.
    fits = plan(config, replace(crowded, stack_set_count=1), render_all(config))
    assert len([s for s in fits.steps if s.action == "create_stack_set"]) == 3
