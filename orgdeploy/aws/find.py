"""`orgdeploy find` and `orgdeploy inventory`: the aggregator's advanced query and resource counts, with names."""

from __future__ import annotations

from typing import Any

from orgdeploy.aws.compliance import ComplianceReader
from orgdeploy.aws.organizations import account_names
from orgdeploy.aws.session import AwsContext
from orgdeploy.reporting.find import FindQuery, Hit, compliance_expressions, hits_from
from orgdeploy.reporting.rule_names import PackIndex


def find_resources(
    ctx: AwsContext, *, aggregator: str, region: str, query: FindQuery, packs: PackIndex, rate: float | None
) -> list[Hit]:
    reader = ComplianceReader(ctx.client("config", region), aggregator, rate=rate)
    items: list[dict[str, Any]] = []
    for expression in query.expressions():
        items += reader.select(expression)
    keys = sorted({(str(i["resourceType"]), str(i["resourceId"])) for i in items})
    compliance = [c for expression in compliance_expressions(keys) for c in reader.select(expression)]
    return hits_from(items, compliance, names=account_names(ctx), packs=packs)


def resource_counts(
    ctx: AwsContext,
    *,
    aggregator: str,
    region: str,
    group: str | None,
    resource_type: str | None,
    in_region: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    reader = ComplianceReader(ctx.client("config", region), aggregator, rate=None)
    return reader.resource_counts_by(group, resource_type, in_region)
