"""Which accounts and Regions the census must read, and which the deployed state vouches for (pure).

A healthy instance of orgdeploy's recorder stack set (CURRENT, SUCCEEDED) is a recorder orgdeploy made
and StackSets reports in place, so a plan learns nothing new by reading that account and Region through
its role. The census reads only the rest: accounts that are new, Regions without a healthy instance,
and sources the organization aggregator reports as FAILED or OUTDATED. `--census full` reads everything;
it is what finds a recorder stopped or changed by hand behind a healthy instance, and `status` always
reads everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from orgdeploy.planning.inventory import StackSetState, StackState

CENSUS_MODES = ("changed", "full")


@dataclass(frozen=True)
class CensusScope:
    """account -> Regions the census reads; account -> Regions the deployed state stands for."""

    reads: dict[str, tuple[str, ...]]
    vouched: dict[str, tuple[str, ...]]

    @property
    def accounts_read(self) -> list[str]:
        return [a for a, regions in self.reads.items() if regions]

    def describe(self) -> str:
        """'read 12 of 9001 accounts (34 account x Region pairs); the stack sets vouch for 152983 pairs'."""
        pairs = sum(len(r) for r in self.reads.values())
        vouched = sum(len(r) for r in self.vouched.values())
        total = len({*self.reads, *self.vouched})
        return (
            f"{len(self.accounts_read)} of {total} accounts to read ({pairs} account x Region pairs); "
            f"healthy stack instances vouch for the other {vouched} pairs"
        )


def census_scope(
    *,
    accounts: Iterable[str],
    regions: tuple[str, ...],
    management: str,
    recorder_sets: tuple[StackSetState, ...],
    management_stacks: tuple[StackState, ...],
    role_set: StackSetState | None,
    source_problems: frozenset[tuple[str, str]] = frozenset(),
    full: bool = False,
) -> CensusScope:
    """What to read of each account; reading any Region of it reads its account-wide facts too (role, Regions)."""
    healthy = {(i.account, i.region) for s in recorder_sets for i in s.instances if i.healthy}
    healthy |= {(management, s.region) for s in management_stacks if s.status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}}
    healthy -= source_problems
    broken_roles = {i.account for i in role_set.instances if not i.healthy} if role_set else set()
    reads: dict[str, tuple[str, ...]] = {}
    vouched: dict[str, tuple[str, ...]] = {}
    for account in accounts:
        trusted = () if full or account in broken_roles else tuple(r for r in regions if (account, r) in healthy)
        reads[account] = tuple(r for r in regions if r not in trusted)
        vouched[account] = trusted
    return CensusScope(reads, vouched)


def problem_pairs(statuses: Iterable[tuple[str, str, str]]) -> frozenset[tuple[str, str]]:
    """(account, Region) of every aggregator source whose last update FAILED or is OUTDATED."""
    return frozenset((account, region) for account, region, status in statuses if status in {"FAILED", "OUTDATED"})
