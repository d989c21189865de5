"""`orgdeploy find`: one resource across the organization, by id, ARN or name (pure).

The advanced query has no OR across different properties that AWS documents as reliable, so the
lookup is one expression per property (resourceId, resourceName, arn), each narrowed by the type,
account and Region given. A hit's rule compliance comes from its AWS::Config::ResourceCompliance
item, asked for in batches that stay under the 4,096-character expression limit.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orgdeploy.errors import BadInputError
from orgdeploy.reporting.rule_names import PackIndex, normalise_rule_name

MAX_EXPRESSION = 4096
RESOURCE_COMPLIANCE = "AWS::Config::ResourceCompliance"
_FIELDS = "accountId, awsRegion, resourceType, resourceId, resourceName, arn, tags, configurationItemCaptureTime"
MATCHED_ON = ("resourceId", "resourceName", "arn")


def quoted(value: str) -> str:
    """A string literal of the query language: single quotes, doubled inside."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class FindQuery:
    text: str
    prefix: bool = False
    resource_type: str | None = None
    account: str | None = None
    region: str | None = None

    def narrowing(self) -> str:
        parts = [
            f" AND resourceType = {quoted(self.resource_type)}" if self.resource_type else "",
            f" AND accountId = {quoted(self.account)}" if self.account else "",
            f" AND awsRegion = {quoted(self.region)}" if self.region else "",
        ]
        return "".join(parts)

    def expressions(self) -> list[str]:
        """One expression per property matched on."""
        test = f"LIKE {quoted(self.text.replace('%', '') + '%')}" if self.prefix else f"= {quoted(self.text)}"
        found = [f"SELECT {_FIELDS} WHERE {name} {test}{self.narrowing()}" for name in MATCHED_ON]
        if any(len(e) > MAX_EXPRESSION for e in found):
            raise BadInputError(f"QUERY is {len(self.text)} characters: too long for the advanced query's 4,096")
        return found


def compliance_expressions(keys: Sequence[tuple[str, str]]) -> list[str]:
    """ResourceCompliance items of (type, id) pairs, in as few expressions as the length limit allows."""
    head = (
        "SELECT accountId, awsRegion, configuration.targetResourceType, configuration.targetResourceId, "
        f"configuration.configRuleList WHERE resourceType = {quoted(RESOURCE_COMPLIANCE)} AND resourceId IN "
    )
    chunks: list[list[str]] = [[]]
    for kind, rid in keys:
        item = quoted(f"{kind}/{rid}")
        if chunks[-1] and len(head) + len(", ".join([*chunks[-1], item])) + 2 > MAX_EXPRESSION:
            chunks.append([])
        chunks[-1].append(item)
    return [f"{head}({', '.join(chunk)})" for chunk in chunks if chunk]


@dataclass(frozen=True)
class RuleResult:
    rule: str  # normalised
    raw_rule: str
    compliance: str
    pack: str | None


@dataclass(frozen=True)
class Hit:
    account: str
    account_name: str
    ou_path: str
    region: str
    resource_type: str
    resource_id: str
    resource_name: str
    arn: str
    tags: dict[str, str]
    captured_at: str
    rules: tuple[RuleResult, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account, self.region, self.resource_type, self.resource_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "account_name": self.account_name,
            "ou_path": self.ou_path,
            "region": self.region,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "resource_name": self.resource_name,
            "arn": self.arn,
            "tags": dict(sorted(self.tags.items())),
            "captured_at": self.captured_at,
            "rules": [
                {"rule": r.rule, "raw_rule": r.raw_rule, "compliance": r.compliance, "pack": r.pack} for r in self.rules
            ],
        }


def hits_from(
    items: Iterable[dict[str, Any]],
    compliance: Iterable[dict[str, Any]],
    *,
    names: dict[str, tuple[str, str]],
    packs: PackIndex,
) -> list[Hit]:
    """Query results -> hits, deduplicated, with their rules; names: account -> (name, OU path)."""
    rules: dict[tuple[str, str, str, str], list[RuleResult]] = {}
    for item in compliance:
        configuration = item.get("configuration") or {}
        key = (
            str(item.get("accountId")),
            str(item.get("awsRegion")),
            str(configuration.get("targetResourceType")),
            str(configuration.get("targetResourceId")),
        )
        for entry in configuration.get("configRuleList") or []:
            raw = str(entry.get("configRuleName", ""))
            common = normalise_rule_name(raw)
            result = RuleResult(common, raw, str(entry.get("complianceType", "")), packs.pack_of(raw))
            rules.setdefault(key, []).append(result)
    found: dict[tuple[str, str, str, str], Hit] = {}
    for item in items:
        if item.get("resourceType") == RESOURCE_COMPLIANCE:
            continue  # a prefix can match a compliance item's id, which names its resource
        account = str(item["accountId"])
        name, path = names.get(account, ("", ""))
        tags = {str(t.get("key")): str(t.get("value")) for t in item.get("tags") or []}
        hit = Hit(
            account=account,
            account_name=name,
            ou_path=path,
            region=str(item["awsRegion"]),
            resource_type=str(item["resourceType"]),
            resource_id=str(item["resourceId"]),
            resource_name=str(item.get("resourceName") or ""),
            arn=str(item.get("arn") or ""),
            tags=tags,
            captured_at=str(item.get("configurationItemCaptureTime") or ""),
        )
        found.setdefault(hit.key, hit)
    return [
        Hit(**{**h.__dict__, "rules": tuple(sorted(rules.get(k, []), key=lambda r: r.rule))})
        for k, h in sorted(found.items())
    ]


def render_find(hits: Sequence[Hit], output: str, query: FindQuery) -> str:
    if output == "json":
        return json.dumps({"query": query.text, "prefix": query.prefix, "hits": [h.to_dict() for h in hits]}, indent=2)
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["account", "account_name", "ou_path", "region", "resource_type", "resource_id", "arn",
                         "rule", "pack", "compliance"])  # fmt: skip
        for h in hits:
            for r in h.rules or (RuleResult("", "", "", None),):
                writer.writerow([h.account, h.account_name, h.ou_path, h.region, h.resource_type, h.resource_id,
                                 h.arn, r.rule, r.pack or "", r.compliance])  # fmt: skip
        return buffer.getvalue().rstrip("\n")
    if not hits:
        return f"Nothing matches {query.text!r}" + (" as a prefix." if query.prefix else ".")
    lines = []
    for h in hits:
        who = f"{h.account} {h.account_name} ({h.ou_path})" if h.account_name else h.account
        lines += [f"{h.resource_type} {h.resource_id}", f"  account   {who}", f"  region    {h.region}"]
        lines += [f"  arn       {h.arn}", f"  captured  {h.captured_at}"]
        if h.tags:
            lines.append("  tags      " + ", ".join(f"{k}={v}" for k, v in sorted(h.tags.items())))
        for r in h.rules:
            lines.append(f"  {r.compliance:<14} {r.rule}" + (f"  [{r.pack}]" if r.pack else ""))
        if not h.rules:
            lines.append("  no rule evaluates it")
        lines.append("")
    lines.append(f"{len(hits)} hit(s) for {query.text!r}.")
    return "\n".join(lines)
