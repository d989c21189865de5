"""Read non-compliant resources from a Config aggregator (the shell around orgdeploy.reporting).

Two strategies give the same Evaluations:

- query: one SelectAggregateResourceConfig over AWS::Config::ResourceCompliance lists every
  non-compliant resource with its rule list: about (non-compliant resources / 100) calls.
- rules: DescribeAggregateComplianceByConfigRules with the NON_COMPLIANT filter sent to the server,
  then GetAggregateComplianceDetailsByConfigRule for each non-compliant (rule, account, Region),
  concurrently under a per-API rate limit: at least one call per triple.

Advanced-query limits (AWS Config Developer Guide, "Limitations") and how these expressions keep to them:

- at most 4,096 characters: account and Region filters are IN lists, split over several expressions;
- no FROM, JOIN, DISTINCT or AS: each expression is one flat SELECT ... WHERE;
- at most 100 results a page (Limit); GROUP BY queries leave Limit out, which gives pages of 500;
- a condition on configuration.configRuleList matches across its elements, so a rule-name condition
  would also return resources that only fail some other rule: rule filters and each rule's own
  complianceType are applied here, to the returned list, never in the expression.

Every call is retried on throttling (call_with_retries) and counted, for the benchmark.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError

from orgdeploy.aws.permissions import ADMINS, Need
from orgdeploy.aws.retry import call_with_retries, error_code
from orgdeploy.errors import AwsError, BadInputError
from orgdeploy.reporting.compliance import (
    AccountCount,
    CappedCount,
    ComplianceReport,
    Evaluation,
    RowFilter,
    SourceProblem,
    to_rows,
)
from orgdeploy.reporting.find import MAX_EXPRESSION, RESOURCE_COMPLIANCE
from orgdeploy.reporting.rule_names import PackIndex

Strategy = Literal["query", "rules", "auto"]
# AWS publishes no TPS for these APIs; 10 calls a second per API stays under what accounts usually get.
DEFAULT_RATE = 10.0
DEFAULT_WORKERS = 8
# Errors that mean "this query will not run here", not "this aggregator is broken".
REFUSED_CODES = frozenset({"InvalidExpressionException", "ValidationException", "AccessDeniedException"})
_NONCOMPLIANT_QUERY = (
    "SELECT accountId, awsRegion, configuration.targetResourceType, configuration.targetResourceId, "
    "configuration.configRuleList, configurationItemCaptureTime "
    f"WHERE resourceType = '{RESOURCE_COMPLIANCE}' AND configuration.complianceType = 'NON_COMPLIANT'"
)


PERMISSIONS = (
    Need(
        (
            "config:SelectAggregateResourceConfig",
            "config:DescribeAggregateComplianceByConfigRules",
            "config:GetAggregateComplianceDetailsByConfigRule",
            "config:GetAggregateConfigRuleComplianceSummary",
            "config:DescribeConfigurationAggregatorSourcesStatus",
            "config:GetAggregateDiscoveredResourceCounts",
        ),
        ADMINS,
        "report and cost --from-org: read the aggregator",
    ),
)


class UnknownAggregatorError(BadInputError):
    pass


class RateLimiter:
    """At most `rate` calls a second across threads (None or 0: no limit)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self._interval
        if start > now:
            time.sleep(start - now)


def _in_list(values: Sequence[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def noncompliant_expressions(where: RowFilter) -> list[str]:
    """The query strategy's expressions: one, or several when the account list would pass 4,096 characters."""
    head = _NONCOMPLIANT_QUERY + (f" AND awsRegion IN ({_in_list(where.regions)})" if where.regions else "")
    if not where.accounts:
        return [head]
    room = MAX_EXPRESSION - len(head) - len(" AND accountId IN ()")
    chunks: list[list[str]] = [[]]
    for account in where.accounts:
        if chunks[-1] and len(_in_list([*chunks[-1], account])) > room:
            chunks.append([])
        chunks[-1].append(account)
    return [f"{head} AND accountId IN ({_in_list(chunk)})" for chunk in chunks]


def _time(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0)
    return None


class ComplianceReader:
    """One aggregator's compliance APIs: paginated, rate-limited, retried and counted."""

    def __init__(self, client: Any, aggregator: str, *, rate: float | None = DEFAULT_RATE, workers: int = 8) -> None:
        self.client = client
        self.aggregator = aggregator
        self.workers = workers
        self._rate = rate
        self._limiters: dict[str, RateLimiter] = {}
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        api = self.client.meta.method_to_api_mapping.get(operation, operation)
        with self._lock:
            limiter = self._limiters.setdefault(api, RateLimiter(self._rate))
        method = getattr(self.client, operation)

        def attempt() -> dict[str, Any]:
            limiter.acquire()
            with self._lock:
                self._calls[api] += 1
            result: dict[str, Any] = method(ConfigurationAggregatorName=self.aggregator, **kwargs)
            return result

        attempt.__name__ = api
        try:
            return call_with_retries(attempt)
        except ClientError as exc:
            if error_code(exc) == "NoSuchConfigurationAggregatorException":
                raise UnknownAggregatorError(
                    f"aggregator {self.aggregator!r} not found in {self.client.meta.region_name}: "
                    "check --aggregator or aggregator.name in the config, and that bootstrap has run"
                ) from None
            raise

    def _pages(self, operation: str, key: str, **kwargs: Any) -> Iterator[Any]:
        token = None
        while True:
            page = self._call(operation, **kwargs, **({"NextToken": token} if token else {}))
            yield from page.get(key) or []
            token = page.get("NextToken")
            if not token:  # an empty page can still carry a token, so only a missing one ends the loop
                return

    def _pool_map(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        with ThreadPoolExecutor(max_workers=max(1, self.workers)) as pool:
            return list(pool.map(fn, items))

    # -- shared by both strategies ----------------------------------------------------------------

    def account_counts(self, where: RowFilter) -> tuple[AccountCount, ...]:
        filters = {
            **({"AccountId": where.accounts[0]} if len(where.accounts) == 1 else {}),
            **({"AwsRegion": where.regions[0]} if len(where.regions) == 1 else {}),
        }
        groups = self._pages(
            "get_aggregate_config_rule_compliance_summary",
            "AggregateComplianceCounts",
            GroupByKey="ACCOUNT_ID",
            Limit=1000,
            **({"Filters": filters} if filters else {}),
        )
        found = [
            AccountCount(
                str(g.get("GroupName", "")),
                CappedCount.from_api((g.get("ComplianceSummary") or {}).get("NonCompliantResourceCount")),
                CappedCount.from_api((g.get("ComplianceSummary") or {}).get("CompliantResourceCount")),
            )
            for g in groups
        ]
        return tuple(sorted((c for c in found if not where.accounts or c.account in where.accounts), key=str))

    def source_problems(self, where: RowFilter) -> tuple[SourceProblem, ...]:
        statuses = self._pages(
            "describe_configuration_aggregator_sources_status",
            "AggregatedSourceStatusList",
            UpdateStatus=["FAILED", "OUTDATED"],
            Limit=100,
        )
        problems = [
            SourceProblem(
                str(s.get("SourceId", "")),
                str(s.get("AwsRegion", "")),
                str(s.get("LastUpdateStatus", "")),
                ": ".join(str(s[k]) for k in ("LastErrorCode", "LastErrorMessage") if s.get(k)),
            )
            for s in statuses
        ]
        return tuple(p for p in problems if not where.regions or p.region in where.regions)

    def _details(self, triple: tuple[str, str, str]) -> list[Evaluation]:
        rule, account, region = triple
        results = self._pages(
            "get_aggregate_compliance_details_by_config_rule",
            "AggregateEvaluationResults",
            ConfigRuleName=rule,
            AccountId=account,
            AwsRegion=region,
            ComplianceType="NON_COMPLIANT",
            Limit=100,
        )
        found = []
        for result in results:
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            place = (str(result.get("AccountId", account)), str(result.get("AwsRegion", region)))
            resource = (str(qualifier["ResourceType"]), str(qualifier["ResourceId"]))
            when = _time(result.get("ResultRecordedTime"))
            found.append(
                Evaluation(
                    *place, *resource, str(qualifier.get("ConfigRuleName", rule)), when, result.get("Annotation")
                )
            )
        return found

    # -- the query strategy -----------------------------------------------------------------------

    def select(self, expression: str) -> list[dict[str, Any]]:
        """Every result of one advanced query, as dicts."""
        return [json.loads(text) for text in self._pages("select_aggregate_resource_config", "Results",
                                                          Expression=expression, Limit=100)]  # fmt: skip

    def resource_counts_by(
        self, group: str | None, resource_type: str | None, region: str | None = None
    ) -> tuple[int, list[dict[str, Any]]]:
        """GetAggregateDiscoveredResourceCounts: (total, [{GroupName, ResourceCount}]) grouped by group."""
        filters = {"ResourceType": resource_type} if resource_type else {}
        filters |= {"Region": region} if region else {}
        total, groups, token = 0, list[dict[str, Any]](), None
        while True:
            page = self._call(
                "get_aggregate_discovered_resource_counts",
                **({"GroupByKey": group} if group else {}),
                **({"Filters": filters} if filters else {}),
                **({"NextToken": token} if token else {}),
            )
            total = int(page.get("TotalDiscoveredResources", 0))
            groups += page.get("GroupedResourceCounts") or []
            token = page.get("NextToken")
            if not token:
                return total, groups

    def query_evaluations(self, where: RowFilter) -> list[Evaluation]:
        found = []
        for expression in noncompliant_expressions(where):
            for text in self._pages("select_aggregate_resource_config", "Results", Expression=expression, Limit=100):
                item = json.loads(text)
                configuration = item.get("configuration") or {}
                place = (str(item["accountId"]), str(item["awsRegion"]))
                resource = (str(configuration["targetResourceType"]), str(configuration["targetResourceId"]))
                when = _time(item.get("configurationItemCaptureTime"))
                for rule in configuration.get("configRuleList") or []:
                    name = str(rule.get("configRuleName", ""))
                    if rule.get("complianceType") == "NON_COMPLIANT" and where.rule_matches(name):
                        found.append(Evaluation(*place, *resource, name, when))
        return found

    def accounts_recording_compliance(self) -> set[str]:
        expression = f"SELECT accountId, COUNT(*) WHERE resourceType = '{RESOURCE_COMPLIANCE}' GROUP BY accountId"
        return {
            str(json.loads(text)["accountId"])
            for text in self._pages("select_aggregate_resource_config", "Results", Expression=expression)
        }

    def annotate(self, evaluations: list[Evaluation]) -> list[Evaluation]:
        """Annotations come only from the details API: one call per non-compliant (rule, account, Region).

        The details also say when the rule's result was recorded, which replaces the compliance item's
        capture time (the last change of any rule's result on that resource).
        """
        triples = sorted({e.triple for e in evaluations})
        details = {e.key: e for batch in self._pool_map(self._details, triples) for e in batch}
        return [
            replace(e, annotation=found.annotation, evaluated_at=found.evaluated_at or e.evaluated_at)
            if (found := details.get(e.key))
            else replace(e, annotation=None)
            for e in evaluations
        ]

    # -- the rules strategy -----------------------------------------------------------------------

    def noncompliant_triples(self, where: RowFilter) -> list[tuple[str, str, str]]:
        triples: set[tuple[str, str, str]] = set()
        for account in where.accounts or (None,):
            for region in where.regions or (None,):
                filters = {"ComplianceType": "NON_COMPLIANT"}
                filters.update({"AccountId": account} if account else {})
                filters.update({"AwsRegion": region} if region else {})
                for item in self._pages(
                    "describe_aggregate_compliance_by_config_rules",
                    "AggregateComplianceByConfigRules",
                    Filters=filters,
                    Limit=1000,
                ):
                    rule, kind = str(item["ConfigRuleName"]), (item.get("Compliance") or {}).get("ComplianceType")
                    if kind == "NON_COMPLIANT" and where.rule_matches(rule):
                        triples.add((rule, str(item["AccountId"]), str(item["AwsRegion"])))
        return sorted(triples)

    def rules_evaluations(self, where: RowFilter, *, annotations: bool) -> list[Evaluation]:
        batches = self._pool_map(self._details, self.noncompliant_triples(where))
        return [e if annotations else replace(e, annotation=None) for batch in batches for e in batch]

    # -- cost --from-org ----------------------------------------------------------------------------

    def resource_counts(self, regions: Sequence[str]) -> dict[str, int]:
        where = f" WHERE awsRegion IN ({_in_list(regions)})" if regions else ""
        expression = f"SELECT resourceType, COUNT(*){where} GROUP BY resourceType"
        counts: dict[str, int] = {}
        for text in self._pages("select_aggregate_resource_config", "Results", Expression=expression):
            item = json.loads(text)
            counts[str(item["resourceType"])] = int(item["COUNT(*)"])
        return counts


def _refused(exc: ClientError) -> str | None:
    code = error_code(exc)
    return code if code in REFUSED_CODES else None


def _auto(
    reader: ComplianceReader, where: RowFilter, counts: Sequence[AccountCount], records: bool, annotations: bool
) -> tuple[str, str, list[Evaluation]]:
    if not records:
        reason = f"the config's recording leaves out {RESOURCE_COMPLIANCE}, which the query reads"
        return "rules", reason, reader.rules_evaluations(where, annotations=annotations)
    try:
        covered = reader.accounts_recording_compliance()
        if not covered:
            reason = f"no account records {RESOURCE_COMPLIANCE}"
            return "rules", reason, reader.rules_evaluations(where, annotations=annotations)
        found = reader.query_evaluations(where)
    except ClientError as exc:
        code = _refused(exc)
        if code is None:
            raise
        return (
            "rules",
            f"the advanced query was refused ({code})",
            reader.rules_evaluations(where, annotations=annotations),
        )
    if annotations:
        found = reader.annotate(found)
    with_results = {c.account for c in counts if c.compliant_rules.value or c.non_compliant_rules.value}
    missing = tuple(sorted(with_results - covered))
    if not missing:
        return "query", f"{RESOURCE_COMPLIANCE} is recorded in every account with rule results", found
    shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    reason = f"{len(missing)} account(s) with rule results record no {RESOURCE_COMPLIANCE}, read by rules: {shown}"
    rest = reader.rules_evaluations(replace(where, accounts=missing), annotations=annotations)
    return "query+rules", reason, found + rest


def read_report(
    client: Any,
    *,
    aggregator: str,
    strategy: Strategy = "auto",
    where: RowFilter | None = None,
    annotations: bool = False,
    packs: PackIndex | None = None,
    records_resource_compliance: bool = True,
    rate: float | None = DEFAULT_RATE,
    workers: int = DEFAULT_WORKERS,
) -> ComplianceReport:
    """Non-compliant resources, rule counts and source problems from one aggregator."""
    where = where or RowFilter()
    reader = ComplianceReader(client, aggregator, rate=rate, workers=workers)
    reason = ""
    try:
        counts = reader.account_counts(where)  # first: an unknown aggregator stops here
        problems = reader.source_problems(where)
        if strategy == "rules":
            used, found = "rules", reader.rules_evaluations(where, annotations=annotations)
        elif strategy == "query":
            used, found = "query", reader.query_evaluations(where)
            found = reader.annotate(found) if annotations else found
        else:
            used, reason, found = _auto(reader, where, counts, records_resource_compliance, annotations)
    except ClientError as exc:
        hint = "; try --strategy rules" if strategy == "query" and _refused(exc) else ""
        raise AwsError(f"reading aggregator {aggregator!r} failed: {exc}{hint}") from None
    return ComplianceReport(
        aggregator=aggregator,
        strategy=used,
        reason=reason,
        rows=to_rows(found, packs or PackIndex(), where),
        account_counts=counts,
        source_problems=problems,
        api_calls=tuple(sorted(reader.calls.items())),
        annotations=annotations,
    )


def read_resource_counts(client: Any, *, aggregator: str, regions: Sequence[str]) -> dict[str, int] | None:
    """Recorded resources by type in these Regions, or None when there is no such aggregator."""
    try:
        return ComplianceReader(client, aggregator).resource_counts(regions)
    except UnknownAggregatorError:
        return None
