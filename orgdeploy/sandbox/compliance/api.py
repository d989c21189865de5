"""The aggregate compliance APIs and the advanced query, which moto lacks, answered from the evaluations.

install_compliance_api() points moto's Config URL table at SandboxConfigResponse, a subclass of
moto's ConfigResponse (the way stacksets.py replaces CloudFormation's): it adds the aggregate
actions below and the member reads of member_reads, and leaves every other Config action to moto.
An aggregator is answered only where moto holds it (bootstrap creates orgdeploy's through
CloudFormation), with the data of the accounts and Regions it aggregates (aggregation.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from moto.config import urls as config_urls
from moto.config.responses import ConfigResponse
from moto.core.exceptions import JsonRESTError
from moto.ssm.responses import SimpleSystemManagerResponse

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.compliance.aggregation import AggregatorView, rule_compliance
from orgdeploy.sandbox.compliance.evaluations import Result, current
from orgdeploy.sandbox.compliance.managed_rules import COMPLIANT, NON_COMPLIANT
from orgdeploy.sandbox.compliance.member_reads import MemberConfigReads, capped, evaluation_result, page_of
from orgdeploy.sandbox.compliance.query import InvalidExpressionException, run_query
from orgdeploy.sandbox.state import STATE

_RULE_CAP, _RESOURCE_CAP = 25, 100  # ComplianceContributorCount caps for rules and for resources
_ANSWERS_KEPT = 32  # answers kept for paging through them
_ANSWERS: dict[tuple[Any, ...], Any] = {}
_ANSWERS_LOCK = threading.Lock()


_SOURCE_LISTINGS: dict[tuple[Any, ...], list[Any]] = {}


def _cached(key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """build()'s answer, kept per key; keys carry the evaluations' version, so a kept answer is never stale."""
    with _ANSWERS_LOCK:
        if key in _ANSWERS:
            return _ANSWERS[key]
    found = build()
    with _ANSWERS_LOCK:
        while len(_ANSWERS) >= _ANSWERS_KEPT:
            del _ANSWERS[next(iter(_ANSWERS))]
        _ANSWERS[key] = found
    return found


def _wanted(filters: dict[str, Any], **actual: str) -> bool:
    return all(filters.get(key, value) == value for key, value in actual.items())


def _failing(results: list[Result]) -> int:
    return sum(1 for r in results if r.compliance == NON_COMPLIANT)


class SandboxConfigResponse(MemberConfigReads, ConfigResponse):
    """moto's Config API plus the aggregate compliance APIs and the advanced query."""

    def _view(self, *, sync: bool = True) -> AggregatorView:
        return AggregatorView.of(
            self.current_account, self.region, self._get_param("ConfigurationAggregatorName"), sync=sync
        )

    def _paged(self, key: str, items: list[Any], default: int, maximum: int, **extra: Any) -> str:
        page, token = page_of(items, self._get_param("NextToken"), self._get_param("Limit"), default, maximum)
        return json.dumps({key: page, **({"NextToken": token} if token else {}), **extra})

    def _grouped(
        self, key: str, entries: list[tuple[str, str, bool]], make: Callable[[int, int], dict[str, Any]]
    ) -> str:
        """Counts of (compliant, non-compliant) entries by GroupByKey, for the two summary APIs."""
        group, filters = self._get_param("GroupByKey"), dict(self._get_param("Filters") or {})
        tallies: dict[str, list[int]] = {}
        for account, region, bad in entries:
            if _wanted(filters, AccountId=account, AwsRegion=region):
                name = {"ACCOUNT_ID": account, "AWS_REGION": region}.get(group, "")
                tallies.setdefault(name, [0, 0])[int(bad)] += 1
        found = [
            {**({"GroupName": n} if group else {}), "ComplianceSummary": make(*t)} for n, t in sorted(tallies.items())
        ]
        limit = 1000 if key == "AggregateComplianceCounts" else 100
        return self._paged(key, found, limit, limit, **({"GroupByKey": group} if group else {}))

    def _key(self, view: AggregatorView, *parts: Any) -> tuple[Any, ...]:
        """What an answer depends on: the aggregator, the evaluations' version and the request's filters."""
        filters = json.dumps(self._get_param("Filters") or {}, sort_keys=True)
        return (view.account, view.region, view.name, current().version, filters, *parts)

    def describe_aggregate_compliance_by_config_rules(self) -> str:
        view, filters = self._view(), dict(self._get_param("Filters") or {})

        def build() -> list[dict[str, Any]]:
            found = []
            for rule, results in view.rules():
                kind, failing = rule_compliance(results), _failing(results)
                if _wanted(
                    filters,
                    ConfigRuleName=rule.name,
                    ComplianceType=kind,
                    AccountId=rule.account,
                    AwsRegion=rule.region,
                ):
                    compliance = {
                        "ComplianceType": kind,
                        **({"ComplianceContributorCount": capped(failing, _RESOURCE_CAP)} if failing else {}),
                    }
                    found.append(
                        {
                            "ConfigRuleName": rule.name,
                            "Compliance": compliance,
                            "AccountId": rule.account,
                            "AwsRegion": rule.region,
                        }
                    )
            return found

        found = _cached(self._key(view, "rules"), build)
        return self._paged("AggregateComplianceByConfigRules", found, 1000, 1000)

    def get_aggregate_compliance_details_by_config_rule(self) -> str:
        view, name, wanted = self._view(), self._get_param("ConfigRuleName"), self._get_param("ComplianceType")
        account, region = self._get_param("AccountId"), self._get_param("AwsRegion")
        rule = current().rule(account, region, name) if view.covers(account, region) else None
        results: list[dict[str, Any]] = []
        if rule is not None:
            for result in current().results_of((account, region, name)):
                if wanted in (None, result.compliance):
                    results.append({**evaluation_result(rule, result), "AccountId": account, "AwsRegion": region})
        return self._paged("AggregateEvaluationResults", results, 50, 100)

    def get_aggregate_config_rule_compliance_summary(self) -> str:
        view, now = self._view(), int(clock.now())
        states = _cached(
            self._key(view, "rule states"),
            lambda: [(rule.account, rule.region, rule_compliance(results)) for rule, results in view.rules()],
        )
        entries = [
            (account, region, state == NON_COMPLIANT)
            for account, region, state in states
            if state in (COMPLIANT, NON_COMPLIANT)
        ]

        def summary(good: int, bad: int) -> dict[str, Any]:
            return {
                "CompliantResourceCount": capped(good, _RULE_CAP),
                "NonCompliantResourceCount": capped(bad, _RULE_CAP),
                "ComplianceSummaryTimestamp": now,
            }

        return self._grouped("AggregateComplianceCounts", entries, summary)

    def describe_aggregate_compliance_by_conformance_packs(self) -> str:
        view, filters = self._view(), dict(self._get_param("Filters") or {})
        items = []
        for account, region, pack, good, bad, total in _cached(self._key(view, "packs"), view.packs):
            kind = NON_COMPLIANT if bad else COMPLIANT if good else "INSUFFICIENT_DATA"
            if _wanted(filters, ConformancePackName=pack, ComplianceType=kind, AccountId=account, AwsRegion=region):
                counts = {
                    "ComplianceType": kind,
                    "CompliantRuleCount": good,
                    "NonCompliantRuleCount": bad,
                    "TotalRuleCount": total,
                }
                items.append(
                    {"ConformancePackName": pack, "Compliance": counts, "AccountId": account, "AwsRegion": region}
                )
        return self._paged("AggregateComplianceByConformancePacks", items, 100, 100)

    def get_aggregate_conformance_pack_compliance_summary(self) -> str:
        entries = [
            (account, region, bool(bad)) for account, region, _, good, bad, _ in self._view().packs() if good or bad
        ]

        def summary(good: int, bad: int) -> dict[str, Any]:
            return {"CompliantConformancePackCount": good, "NonCompliantConformancePackCount": bad}

        return self._grouped("AggregateConformancePackComplianceSummaries", entries, summary)

    def describe_configuration_aggregator_sources_status(self) -> str:
        # Source status is derived from recorders, not from evaluations, so it needs no sync.
        view, wanted = self._view(sync=False), self._get_param("UpdateStatus") or []
        updated = int(current().last_sync or clock.now())
        items = []
        # A listing's later pages come from the state its first page saw, as one paginated read.
        listing = (view.account, view.region, view.name, tuple(sorted(wanted)))
        sources = _SOURCE_LISTINGS.get(listing) if self._get_param("NextToken") else None
        if sources is None:
            sources = _SOURCE_LISTINGS[listing] = view.sources()
        for source in sources:
            if not wanted or source.status in wanted:
                error = {"LastErrorCode": source.error_code, "LastErrorMessage": source.error_message}
                items.append(
                    {
                        "SourceId": source.account,
                        "SourceType": "ACCOUNT",
                        "AwsRegion": source.region,
                        "LastUpdateStatus": source.status,
                        "LastUpdateTime": updated,
                        **(error if source.error_code else {}),
                    }
                )
        return self._paged("AggregatedSourceStatusList", items, 100, 100)

    def select_aggregate_resource_config(self) -> str:
        view, expression = self._view(), str(self._get_param("Expression") or "")
        if not expression.strip() or len(expression) > 4096:
            raise InvalidExpressionException("The expression must be 1 to 4096 characters long")
        key = self._key(view, "query", expression, current().last_sync)
        results, fields, aggregate = _cached(key, lambda: run_query(view.items, expression))
        limit = self._get_param("Limit") or self._get_param("MaxResults")
        page, token = page_of(results, self._get_param("NextToken"), limit, 500 if aggregate else 25, 100)
        info = {"SelectFields": [{"Name": name} for name in fields]}
        return json.dumps({"Results": page, "QueryInfo": info, **({"NextToken": token} if token else {})})


def _get_automation_execution(self: Any) -> str:
    """SSM's GetAutomationExecution, for the executions AWS Config's remediations ran in the sandbox."""
    wanted = self._get_param("AutomationExecutionId")
    found = current().remediations.executions.get(wanted)
    if found is None or found.account != self.current_account or found.region != self.region:
        raise JsonRESTError("AutomationExecutionNotFoundException", f"Automation execution {wanted} is not found.")
    return json.dumps({"AutomationExecution": found.to_ssm()}, default=lambda moment: moment.timestamp())


def install_compliance_api() -> None:
    """Route moto's Config endpoint to SandboxConfigResponse, and add SSM's GetAutomationExecution; idempotent."""
    with STATE.lock:
        config_urls.url_paths["{0}/$"] = SandboxConfigResponse.dispatch
        SimpleSystemManagerResponse.get_automation_execution = _get_automation_execution  # type: ignore[attr-defined]
