"""The aggregate compliance APIs and the advanced query, which moto lacks, answered from compliance_seed's store.

install_compliance_api() points moto's Config URL table at SandboxConfigResponse, a subclass of
moto's ConfigResponse (the way stacksets.py replaces CloudFormation's): it adds the seven actions
below and leaves every other Config action to moto. Answers are built from the installed
ComplianceStore and cached per request shape, so paging through them is cheap and consistent.
The query language itself lives in compliance_query.

An aggregator name is answered when moto holds an organization aggregator of that name in the
caller's account and Region (bootstrap creates one through CloudFormation), or when the caller is
the store's management account in its home Region and the store was seeded for that name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.config import urls as config_urls
from moto.config.exceptions import (
    InvalidLimitException,
    InvalidNextTokenException,
    NoSuchConfigurationAggregatorException,
)
from moto.config.models import config_backends
from moto.config.responses import ConfigResponse

from orgdeploy.sandbox.compliance.member_reads import MemberConfigReads
from orgdeploy.sandbox.compliance.query import InvalidExpressionException, run_query
from orgdeploy.sandbox.compliance.seed import Block, ComplianceStore, Resource, current_store
from orgdeploy.sandbox.state import STATE

_RULE_CAP, _RESOURCE_CAP = 25, 100  # ComplianceContributorCount caps for rules and for resources
_QUERIES_KEPT = 32  # query results kept for paging


def _capped(count: int, cap: int) -> dict[str, Any]:
    return {"CappedCount": min(count, cap), "CapExceeded": count > cap}


def _page(items: list[Any], token: Any, limit: Any, default: int, maximum: int) -> tuple[list[Any], str | None]:
    if limit and int(limit) > maximum:
        raise InvalidLimitException(limit)
    if token is not None and not str(token).isdigit():
        raise InvalidNextTokenException()
    first, size = int(token or 0), int(limit or default)
    return items[first : first + size], str(first + size) if first + size < len(items) else None


# -- the aggregate compliance APIs ----------------------------------------------------------------------


def _facts(store: ComplianceStore, block: Block) -> tuple[dict[int, list[Resource]], dict[int, int]]:
    """Resources each rule evaluates in the block, and how many fail it."""
    evaluated: dict[int, list[Resource]] = {}
    failing: dict[int, int] = {}
    for resource in block.resources:
        for index in store.rules_by_type().get(resource.resource_type, ()):
            evaluated.setdefault(index, []).append(resource)
        for index in resource.failing:
            failing[index] = failing.get(index, 0) + 1
    return evaluated, failing


def _rule_entries(store: ComplianceStore) -> list[tuple[Block, int, int]]:
    """(block, catalog index, non-compliant resources) for every rule with results."""
    entries = []
    for block in store.blocks:
        evaluated, failing = _facts(store, block)
        entries += [(block, index, failing.get(index, 0)) for index in sorted(evaluated)]
    return entries


def _pack_entries(store: ComplianceStore) -> list[tuple[Block, str, int, int, int]]:
    """(block, OrgConformsPack name, compliant rules, non-compliant rules, rules in the pack)."""
    entries = []
    for block in store.blocks:
        evaluated, failing = _facts(store, block)
        for pack, raw in block.pack_names:
            members = [i for i, rule in enumerate(store.catalog) if rule.pack == pack]
            bad = sum(1 for i in members if failing.get(i))
            entries.append((block, raw, sum(1 for i in members if i in evaluated) - bad, bad, len(members)))
    return entries


def _evaluation(store: ComplianceStore, block: Block, index: int, resource: Resource, kind: str) -> dict[str, Any]:
    qualifier = {
        "ConfigRuleName": block.rule_names[index],
        "ResourceType": resource.resource_type,
        "ResourceId": resource.resource_id,
        "EvaluationMode": "DETECTIVE",
    }
    result = {
        "EvaluationResultIdentifier": {"EvaluationResultQualifier": qualifier, "OrderingTimestamp": block.evaluated_at},
        "ComplianceType": kind,
        "ResultRecordedTime": block.evaluated_at,
        "ConfigRuleInvokedTime": block.evaluated_at - 60,
        "AccountId": block.account,
        "AwsRegion": block.region,
    }
    if kind == "NON_COMPLIANT":
        result["Annotation"] = store.catalog[index].annotation
    return result


def _wanted(filters: dict[str, Any], **actual: str) -> bool:
    return all(filters.get(key, value) == value for key, value in actual.items())


class SandboxConfigResponse(MemberConfigReads, ConfigResponse):
    """moto's Config API plus the aggregate compliance APIs and the advanced query."""

    def _store(self) -> ComplianceStore:
        name, store = self._get_param("ConfigurationAggregatorName"), current_store()
        real = config_backends[self.current_account][self.region].config_aggregators.get(name)
        if store is None:
            raise NoSuchConfigurationAggregatorException()
        seeded = (self.current_account, self.region, name) in {
            (store.management_account, store.home_region, seeded) for seeded in store.aggregator_names
        }
        if not seeded and (real is None or not real.organization_aggregation_source):
            raise NoSuchConfigurationAggregatorException()
        return store

    def _paged(self, key: str, items: list[Any], default: int, maximum: int, **extra: Any) -> str:
        page, token = _page(items, self._get_param("NextToken"), self._get_param("Limit"), default, maximum)
        return json.dumps({key: page, **({"NextToken": token} if token else {}), **extra})

    def _grouped(self, key: str, entries: list[tuple[Block, bool]], make: Callable[[int, int], dict[str, Any]]) -> str:
        """Counts of (compliant, non-compliant) entries by GroupByKey, for the two summary APIs."""
        group, filters = self._get_param("GroupByKey"), dict(self._get_param("Filters") or {})
        tallies: dict[str, list[int]] = {}
        for block, bad in entries:
            if _wanted(filters, AccountId=block.account, AwsRegion=block.region):
                name = {"ACCOUNT_ID": block.account, "AWS_REGION": block.region}.get(group, "")
                tallies.setdefault(name, [0, 0])[int(bad)] += 1
        found = [
            {**({"GroupName": n} if group else {}), "ComplianceSummary": make(*t)} for n, t in sorted(tallies.items())
        ]
        limit = 1000 if key == "AggregateComplianceCounts" else 100
        return self._paged(key, found, limit, limit, **({"GroupByKey": group} if group else {}))

    def describe_aggregate_compliance_by_config_rules(self) -> str:
        store, filters = self._store(), dict(self._get_param("Filters") or {})

        def build() -> list[dict[str, Any]]:
            found = []
            for block, index, failing in store.cached("rules", lambda: _rule_entries(store)):
                name, kind = block.rule_names[index], "NON_COMPLIANT" if failing else "COMPLIANT"
                if _wanted(
                    filters, ConfigRuleName=name, ComplianceType=kind, AccountId=block.account, AwsRegion=block.region
                ):
                    compliance = {
                        "ComplianceType": kind,
                        **({"ComplianceContributorCount": _capped(failing, _RESOURCE_CAP)} if failing else {}),
                    }
                    found.append(
                        {
                            "ConfigRuleName": name,
                            "Compliance": compliance,
                            "AccountId": block.account,
                            "AwsRegion": block.region,
                        }
                    )
            return found

        items = store.cached(("describe", json.dumps(filters, sort_keys=True)), build)
        return self._paged("AggregateComplianceByConfigRules", items, 1000, 1000)

    def get_aggregate_compliance_details_by_config_rule(self) -> str:
        store, name, wanted = self._store(), self._get_param("ConfigRuleName"), self._get_param("ComplianceType")
        block = store.block(self._get_param("AccountId"), self._get_param("AwsRegion"))
        if block is None or name not in block.rule_names:
            return self._paged("AggregateEvaluationResults", [], 50, 100)
        index = block.rule_names.index(name)
        results = []
        for resource in _facts(store, block)[0].get(index, []):
            kind = "NON_COMPLIANT" if index in resource.failing else "COMPLIANT"
            if wanted in (None, kind):
                results.append(_evaluation(store, block, index, resource, kind))
        return self._paged("AggregateEvaluationResults", results, 50, 100)

    def get_aggregate_config_rule_compliance_summary(self) -> str:
        store, now = self._store(), int(datetime.now(UTC).timestamp())
        entries = [(block, bool(failing)) for block, _, failing in store.cached("rules", lambda: _rule_entries(store))]

        def summary(good: int, bad: int) -> dict[str, Any]:
            return {
                "CompliantResourceCount": _capped(good, _RULE_CAP),
                "NonCompliantResourceCount": _capped(bad, _RULE_CAP),
                "ComplianceSummaryTimestamp": now,
            }

        return self._grouped("AggregateComplianceCounts", entries, summary)

    def describe_aggregate_compliance_by_conformance_packs(self) -> str:
        store, filters = self._store(), dict(self._get_param("Filters") or {})
        items = []
        for block, raw, good, bad, total in store.cached("packs", lambda: _pack_entries(store)):
            kind = "NON_COMPLIANT" if bad else "COMPLIANT" if good else "INSUFFICIENT_DATA"
            if _wanted(
                filters, ConformancePackName=raw, ComplianceType=kind, AccountId=block.account, AwsRegion=block.region
            ):
                counts = {
                    "ComplianceType": kind,
                    "CompliantRuleCount": good,
                    "NonCompliantRuleCount": bad,
                    "TotalRuleCount": total,
                }
                items.append(
                    {
                        "ConformancePackName": raw,
                        "Compliance": counts,
                        "AccountId": block.account,
                        "AwsRegion": block.region,
                    }
                )
        return self._paged("AggregateComplianceByConformancePacks", items, 100, 100)

    def get_aggregate_conformance_pack_compliance_summary(self) -> str:
        store = self._store()
        entries = [(block, bool(bad)) for block, _, _, bad, _ in store.cached("packs", lambda: _pack_entries(store))]

        def summary(good: int, bad: int) -> dict[str, Any]:
            return {"CompliantConformancePackCount": good, "NonCompliantConformancePackCount": bad}

        return self._grouped("AggregateConformancePackComplianceSummaries", entries, summary)

    def describe_configuration_aggregator_sources_status(self) -> str:
        store, wanted = self._store(), self._get_param("UpdateStatus") or []
        items = []
        for source in store.sources:
            if not wanted or source.status in wanted:
                error = {"LastErrorCode": source.error_code, "LastErrorMessage": source.error_message}
                items.append(
                    {
                        "SourceId": source.account,
                        "SourceType": "ACCOUNT",
                        "AwsRegion": source.region,
                        "LastUpdateStatus": source.status,
                        "LastUpdateTime": source.updated_at,
                        **(error if source.error_code else {}),
                    }
                )
        return self._paged("AggregatedSourceStatusList", items, 100, 100)

    def select_aggregate_resource_config(self) -> str:
        store, expression = self._store(), str(self._get_param("Expression") or "")
        if not expression.strip() or len(expression) > 4096:
            raise InvalidExpressionException("The expression must be 1 to 4096 characters long")
        with store.lock:
            kept = [key for key in store.cache if key[0] == "query"]
            if ("query", expression) not in store.cache and len(kept) >= _QUERIES_KEPT:
                del store.cache[kept[0]]
        results, fields, aggregate = store.cached(("query", expression), lambda: run_query(store, expression))
        limit = self._get_param("Limit") or self._get_param("MaxResults")
        page, token = _page(results, self._get_param("NextToken"), limit, 500 if aggregate else 25, 100)
        info = {"SelectFields": [{"Name": name} for name in fields]}
        return json.dumps({"Results": page, "QueryInfo": info, **({"NextToken": token} if token else {})})


def install_compliance_api() -> None:
    """Route moto's Config endpoint to SandboxConfigResponse; calling it again changes nothing."""
    with STATE.lock:
        config_urls.url_paths["{0}/$"] = SandboxConfigResponse.dispatch
