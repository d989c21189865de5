"""What one configuration aggregator sees: its source accounts and Regions, and their Config data.

An organization aggregator reads every account of the caller's organization; an account aggregator
reads the accounts it lists. Either reads all Regions or the ones it names. The data is the
evaluations' results and the recorded items of those accounts and Regions, nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from moto.config.exceptions import NoSuchConfigurationAggregatorException
from moto.config.models import config_backends
from moto.organizations.models import organizations_backends
from moto.utilities.utils import get_partition

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.compliance.evaluations import MemberRule, Result, current
from orgdeploy.sandbox.compliance.managed_rules import COMPLIANT, NON_COMPLIANT, iso
from orgdeploy.sandbox.compliance.recorded import RESOURCE_COMPLIANCE, ConfigItem, recorded, recorded_types

INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
_RULES_CACHE: dict[tuple[str, str, str, int], list[tuple[MemberRule, list[Result]]]] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Source:
    account: str
    region: str
    status: str  # SUCCEEDED, OUTDATED or FAILED
    error_code: str = ""
    error_message: str = ""


def _held_regions(account: str) -> dict[str, Any]:
    """The account's Config backends by Region, read without making moto backends that do not exist."""
    accounts: Any = config_backends
    return dict.get(accounts, account) or {}


def _records(account: str, region: str) -> bool:
    """Whether a recorder records in account and Region."""
    backend = dict.get(_held_regions(account), region)
    return backend is not None and any(r.status.recording for r in list(backend.recorders.values()))


def rule_compliance(results: list[Result]) -> str:
    if any(r.compliance == NON_COMPLIANT for r in results):
        return NON_COMPLIANT
    return COMPLIANT if results else INSUFFICIENT_DATA


@dataclass(frozen=True)
class AggregatorView:
    account: str
    region: str
    name: str
    accounts: dict[str, str]  # account id -> status (ACTIVE, SUSPENDED...)
    regions: frozenset[str] | None  # None: all Regions

    @classmethod
    def of(cls, account: str, region: str, name: str, *, sync: bool = True) -> AggregatorView:
        backend = dict.get(config_backends[account], region)
        aggregator = backend.config_aggregators.get(name) if backend is not None else None
        if aggregator is None:
            raise NoSuchConfigurationAggregatorException()
        org_source = aggregator.organization_aggregation_source
        if org_source is not None:
            org = organizations_backends[account][get_partition(region)]
            members = {a.id: a.status for a in org.accounts} if org.org is not None else {}
            members.setdefault(account, "ACTIVE")
            sources = [(org_source.all_aws_regions, org_source.aws_regions)]
        else:
            members, sources = {}, []
            for source in aggregator.account_aggregation_sources or []:
                members.update(dict.fromkeys(source.account_ids, "ACTIVE"))
                sources.append((source.all_aws_regions, source.aws_regions))
        if any(all_regions for all_regions, _ in sources):
            regions: frozenset[str] | None = None
        else:
            regions = frozenset(r for _, listed in sources for r in listed or [])
        if sync:
            current().sync()
        return cls(account, region, name, members, regions)

    def covers(self, account: str, region: str) -> bool:
        return self.accounts.get(account) == "ACTIVE" and (self.regions is None or region in self.regions)

    def sources(self) -> list[Source]:
        """One status per source account and Region, derived from that account's state there.

        A suspended account FAILED; a Region where the account's Config records nothing OUTDATED (its data
        there is not the newest: AWS names Config not enabled in the source as a cause); the rest SUCCEEDED.
        Regions: those the aggregator names, or every Region where Config holds data.
        """
        if self.regions is not None:
            regions = sorted(self.regions)
        else:
            held = {rule.region for rule, _ in current().snapshot()[1]} | {self.region}
            for account in self.accounts:
                held |= set(dict.keys(_held_regions(account)))
            regions = sorted(r for r in held if r != "global")
        found = []
        for account, status in sorted(self.accounts.items()):
            for region in regions:
                if status != "ACTIVE":
                    found.append(
                        Source(account, region, "FAILED", "AccessDeniedException", "The account is suspended.")
                    )
                elif not _records(account, region):
                    found.append(Source(account, region, "OUTDATED"))
                else:
                    found.append(Source(account, region, "SUCCEEDED"))
        return found

    def rules(self) -> list[tuple[MemberRule, list[Result]]]:
        """Every rule of the aggregated accounts and Regions with its results (cached per version)."""
        version, everything = current().snapshot()
        key = (self.account, self.region, self.name, version)
        with _CACHE_LOCK:
            found = _RULES_CACHE.get(key)
        if found is None:
            found = [(rule, results) for rule, results in everything if self.covers(rule.account, rule.region)]
            with _CACHE_LOCK:
                _RULES_CACHE.clear()  # one version is current at a time
                _RULES_CACHE[key] = found
        return found

    def packs(self) -> list[tuple[str, str, str, int, int, int]]:
        """(account, Region, member pack, compliant rules, non-compliant rules, rules in the pack)."""
        tallies: dict[tuple[str, str, str], list[int]] = {}
        for rule, results in self.rules():
            tally = tallies.setdefault((rule.account, rule.region, rule.member_pack), [0, 0, 0])
            state = rule_compliance(results)
            tally[0] += state == COMPLIANT
            tally[1] += state == NON_COMPLIANT
            tally[2] += 1
        return [(*key, good, bad, total) for key, (good, bad, total) in sorted(tallies.items())]

    def places(self, accounts: set[str] | None = None, regions: set[str] | None = None) -> list[tuple[str, str]]:
        """Account and Region pairs the aggregator reads that have a recording recorder (within the sets given)."""
        found = []
        for account in sorted(a for a, status in self.accounts.items() if status == "ACTIVE"):
            if accounts is not None and account not in accounts:
                continue
            for region, _ in sorted(dict.items(config_backends[account])):
                if regions is not None and region not in regions:
                    continue
                if self.covers(account, region) and recorded_types(account, region):
                    found.append((account, region))
        return found

    def items(self, hints: dict[str, set[Any]] | None = None) -> Iterator[dict[str, Any]]:
        """Configuration items for the advanced query: recorded resources and their ResourceCompliance.

        hints (equality conditions every match meets) narrow the accounts, Regions and types read.
        """
        hints = hints or {}
        wanted = hints.get("resourceType")
        by_place: dict[tuple[str, str], list[tuple[MemberRule, list[Result]]]] = {}
        for rule, results in self.rules():
            by_place.setdefault((rule.account, rule.region), []).append((rule, results))
        for account, region in self.places(hints.get("accountId"), hints.get("awsRegion")):
            kinds = recorded_types(account, region)
            if wanted is None or wanted & (kinds - {RESOURCE_COMPLIANCE}):
                captured = iso(current().last_sync or clock.now())
                for item in recorded(account, region):
                    yield _item(account, region, item, captured)
            if RESOURCE_COMPLIANCE in kinds and (wanted is None or RESOURCE_COMPLIANCE in wanted):
                yield from _compliance_items(account, region, by_place.get((account, region), []))


def _item(account: str, region: str, item: ConfigItem, captured: str) -> dict[str, Any]:
    # The sandbox keeps no configuration history: an item is captured when Config last read it.
    return {
        "accountId": account,
        "awsRegion": region,
        "resourceType": item.resource_type,
        "resourceId": item.resource_id,
        "resourceName": item.resource_name,
        "arn": item.arn,
        "configurationItemCaptureTime": captured,
        "tags": [{"key": k, "value": v} for k, v in sorted(item.tags.items())],
        "configuration": item.configuration,
    }


def _compliance_items(
    account: str, region: str, rules: list[tuple[MemberRule, list[Result]]]
) -> Iterator[dict[str, Any]]:
    per_resource: dict[tuple[str, str], list[tuple[MemberRule, Result]]] = {}
    for rule, results in rules:
        for result in results:
            per_resource.setdefault((result.resource_type, result.resource_id), []).append((rule, result))
    for (kind, rid), entries in sorted(per_resource.items()):
        latest = max(result.recorded_at for _, result in entries)
        yield {
            "accountId": account,
            "awsRegion": region,
            "resourceType": RESOURCE_COMPLIANCE,
            "resourceId": f"{kind}/{rid}",
            "configurationItemCaptureTime": iso(latest),
            "configuration": {
                "complianceType": rule_compliance([result for _, result in entries]),
                "configRuleList": [
                    {"configRuleName": rule.name, "complianceType": result.compliance, "configRuleArn": rule.arn}
                    for rule, result in entries
                ],
                "targetResourceId": rid,
                "targetResourceType": kind,
            },
        }
