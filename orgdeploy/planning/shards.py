"""Quota accounting: split the recorder stack set when it would pass the instance quota (pure).

A stack set holds at most `instances_per_stack_set` instances (accounts x Regions).
Past that, orgdeploy uses several stack sets, `<prefix>-recorder-01`, `-02`, ...
Shards hold whole OUs where they fit; an OU too big for one shard is split into
lists of accounts (an INTERSECTION filter). Accounts already deployed stay in
the shard that holds them, so re-planning a grown organization moves nobody.
"""

from __future__ import annotations

from dataclasses import dataclass

from orgdeploy.config.model import Config
from orgdeploy.errors import OrgDeployError
from orgdeploy.planning.inventory import Inventory, Organization
from orgdeploy.templates import naming


class QuotaExceeded(OrgDeployError):
    exit_code = 1


@dataclass(frozen=True)
class RecorderShard:
    name: str
    unit_ids: tuple[str, ...]
    # None: every account in unit_ids (auto-deployment keeps it whole); otherwise exactly these accounts.
    accounts: tuple[str, ...] | None
    step_prefix: str


@dataclass(frozen=True)
class _Unit:
    """A piece to place in a shard: a whole OU, or a list of accounts under one OU."""

    unit_id: str
    accounts: tuple[str, ...]
    whole: bool


def _direct_members(org: Organization, unit_id: str) -> list[str]:
    return sorted(a.id for a in org.accounts if a.parent_id == unit_id and a.id != org.management_account_id)


def _split(org: Organization, unit_id: str, capacity: int, counts: dict[str, int]) -> list[_Unit]:
    """Whole OUs where they fit; otherwise their children, and their own accounts in chunks."""
    if counts[unit_id] <= capacity:
        members = tuple(a.id for a in org.members_under([unit_id]))
        return [_Unit(unit_id, members, True)] if members else []
    pieces: list[_Unit] = []
    for child in sorted(u.id for u in org.units if u.parent_id == unit_id):
        pieces.extend(_split(org, child, capacity, counts))
    direct = _direct_members(org, unit_id)
    for start in range(0, len(direct), capacity):
        pieces.append(_Unit(unit_id, tuple(direct[start : start + capacity]), False))
    return pieces


def _member_counts(org: Organization) -> dict[str, int]:
    direct: dict[str, int] = {}
    for account in org.accounts:
        if account.id != org.management_account_id:
            direct[account.parent_id] = direct.get(account.parent_id, 0) + 1
    counts: dict[str, int] = {}
    children: dict[str | None, list[str]] = {}
    for unit in org.units:
        children.setdefault(unit.parent_id, []).append(unit.id)

    def total(unit_id: str) -> int:
        if unit_id not in counts:
            counts[unit_id] = direct.get(unit_id, 0) + sum(total(c) for c in children.get(unit_id, []))
        return counts[unit_id]

    for unit in org.units:
        total(unit.id)
    return counts


def shard_recorder_targets(
    *, config: Config, inventory: Inventory, target_units: list[str], regions: list[str]
) -> list[RecorderShard]:
    org = inventory.organization
    base = naming.recorder_stack_set(config)
    quota = inventory.quotas.instances_per_stack_set
    capacity = max(quota // max(len(regions), 1), 1)  # accounts per shard
    counts = _member_counts(org)
    total_accounts = len(org.members_under(target_units))
    existing_shards = sorted(s.name for s in inventory.stack_sets if s.name.startswith(f"{base}-"))
    if not existing_shards and total_accounts <= capacity:
        return [RecorderShard(base, tuple(target_units), None, "recorder")]

    units: list[_Unit] = []
    for unit_id in target_units:
        units.extend(_split(org, unit_id, capacity, counts))

    # Where each account lives today, so nothing moves between shards.
    home_of: dict[str, str] = {}
    for name in existing_shards:
        state = inventory.stack_set(name)
        for instance in state.instances if state else ():
            home_of.setdefault(instance.account, name)
    if inventory.stack_set(base) is not None:
        for instance in inventory.stack_set(base).instances:  # type: ignore[union-attr]
            home_of.setdefault(instance.account, base)

    pieces: list[tuple[str, tuple[str, ...], str, str | None]] = []
    for unit in (u for u in units if u.whole):
        homes = sorted({home_of[a] for a in unit.accounts if a in home_of})
        pieces.append((unit.unit_id, unit.accounts, "whole", homes[0] if homes else None))
    # An OU too big for one shard goes account by account, so new accounts never shift old ones.
    for unit in (u for u in units if not u.whole):
        pieces += [(unit.unit_id, (a,), f"accounts:{unit.unit_id}", home_of.get(a)) for a in unit.accounts]
    placer = _Placer(base=base, capacity=capacity, existing=existing_shards)
    # Everything already deployed first, so newcomers only take the room that is really left.
    for unit_id, accounts, kind, home in sorted(pieces, key=lambda p: p[3] is None):
        placer.place(unit_id, accounts, kind=kind, home=home)
    placer.check(len(regions), quota)
    return placer.shards()


class _Placer:
    """Puts OUs and accounts into shards: where they already are if possible, else the first with room."""

    def __init__(self, *, base: str, capacity: int, existing: list[str]) -> None:
        self.base = base
        self.capacity = capacity
        self.names = list(existing)
        self.kind: dict[str, str] = {}
        self.units: dict[str, set[str]] = {n: set() for n in existing}
        self.accounts: dict[str, list[str]] = {n: [] for n in existing}

    def place(self, unit_id: str, accounts: tuple[str, ...], *, kind: str, home: str | None) -> None:
        if home in self.units and self.kind.get(home, kind) == kind:
            target = home
        else:
            target = (
                next(
                    (
                        n
                        for n in self.names
                        if self.kind.get(n, kind) == kind and len(self.accounts[n]) + len(accounts) <= self.capacity
                    ),
                    None,
                )
                or self._new()
            )
        self.kind[target] = kind
        self.units[target].add(unit_id)
        self.accounts[target].extend(accounts)

    def _new(self) -> str:
        name = f"{self.base}-{len(self.names) + 1:02d}"
        while name in self.units:
            name = f"{self.base}-{int(name.rsplit('-', 1)[-1]) + 1:02d}"
        self.names.append(name)
        self.units[name] = set()
        self.accounts[name] = []
        return name

    def check(self, regions: int, quota: int) -> None:
        for name in self.names:
            if len(self.accounts[name]) > self.capacity:
                raise QuotaExceeded(
                    f"stack set {name} would hold {len(self.accounts[name]) * regions:,} instances, over the quota of "
                    f"{quota:,} per stack set: the OUs in it grew, and moving accounts to another shard would "
                    "redeploy them. Ask for a larger quota (then pass it with --quota instances=N)."
                )

    def shards(self) -> list[RecorderShard]:
        result = []
        for name in sorted(self.names):
            if not self.accounts[name]:
                continue
            whole = self.kind[name] == "whole"
            accounts = None if whole else tuple(sorted(self.accounts[name]))
            result.append(
                RecorderShard(name, tuple(sorted(self.units[name])), accounts, f"recorder-{name.rsplit('-', 1)[-1]}")
            )
        return result


def check_stack_set_quota(inventory: Inventory, *, new_stack_sets: int) -> None:
    wanted = inventory.stack_set_count + new_stack_sets
    if wanted > inventory.quotas.stack_sets:
        raise QuotaExceeded(
            f"this deployment needs {new_stack_sets} stack set(s) on top of the {inventory.stack_set_count} that "
            f"exist, more than the quota of {inventory.quotas.stack_sets:,} stack sets per administrator account "
            f"({inventory.quotas.source}); ask for a quota increase or use a larger quota with --quota"
        )
