"""Frozen values of a compliance report: evaluations, rows, capped counts, summaries and the heatmap (pure)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from orgdeploy.reporting.rule_names import PackIndex, normalise_rule_name

GroupBy = Literal["rule", "account", "region"]
# The columns of json and csv output, in order.
COLUMNS = (
    "account", "account_name", "region", "resource_type", "resource_id", "rule", "raw_rule", "pack", "annotation",
    "evaluated_at",
)  # fmt: skip
_GLOB_CHARS = re.compile(r"^[\w.:*?\[\]!-]+$")


@dataclass(frozen=True)
class CappedCount:
    """A count AWS Config caps (25 for rules, 100 for resources): capped means "at least value"."""

    value: int
    capped: bool = False

    @classmethod
    def from_api(cls, data: Mapping[str, Any] | None) -> CappedCount:
        data = data or {}
        return cls(int(data.get("CappedCount") or 0), bool(data.get("CapExceeded")))

    def __add__(self, other: CappedCount) -> CappedCount:
        return CappedCount(self.value + other.value, self.capped or other.capped)

    def __str__(self) -> str:
        return f"≥{self.value}" if self.capped else str(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.value, "capped": self.capped, "display": str(self)}


@dataclass(frozen=True)
class Evaluation:
    """One non-compliant (resource, rule) pair as the aggregator reports it, names untouched."""

    account: str
    region: str
    resource_type: str
    resource_id: str
    raw_rule: str
    evaluated_at: datetime | None = None
    annotation: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.account, self.region, self.resource_type, self.resource_id, self.raw_rule)

    @property
    def triple(self) -> tuple[str, str, str]:
        """(raw rule, account, Region): what GetAggregateComplianceDetailsByConfigRule takes."""
        return (self.raw_rule, self.account, self.region)


@dataclass(frozen=True)
class ComplianceRow:
    account: str
    region: str
    resource_type: str
    resource_id: str
    rule: str
    raw_rule: str
    pack: str | None
    annotation: str | None
    evaluated_at: datetime | None

    @property
    def resource(self) -> tuple[str, str, str, str]:
        return (self.account, self.region, self.resource_type, self.resource_id)

    def to_dict(self, account_name: str | None = None) -> dict[str, str | None]:
        row = {name: getattr(self, name) for name in COLUMNS if name != "account_name"}
        row["evaluated_at"] = iso(self.evaluated_at)
        return {key: (account_name if key == "account_name" else row[key]) for key in COLUMNS}


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_glob(text: str) -> str:
    """A --rule GLOB: rule-name characters and * ? [...] only, brackets closed. Raises ValueError."""
    if not text.strip():
        raise ValueError("empty pattern")
    if not _GLOB_CHARS.match(text):
        bad = next(c for c in text if not _GLOB_CHARS.match(c))
        raise ValueError(f"{bad!r} cannot appear in a rule name; use letters, digits, - _ . : and * ? [...]")
    depth = 0
    for index, char in enumerate(text):
        if char == "[":
            if depth:
                raise ValueError(f"'[' inside [...] at position {index + 1}")
            depth = 1
            if text[index + 1 : index + 2] == "]" or text[index + 1 : index + 3] == "!]":
                raise ValueError(f"empty [...] at position {index + 1}")
        elif char == "]":
            if not depth:
                raise ValueError(f"']' without '[' at position {index + 1}")
            depth = 0
    if depth:
        raise ValueError("'[' is never closed")
    return text


@dataclass(frozen=True)
class RowFilter:
    """--rule (globs on the common or raw name), --account and --region; empty means everything."""

    rules: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_patterns", tuple(re.compile(fnmatch.translate(check_glob(g))) for g in self.rules))

    def rule_matches(self, raw_rule: str) -> bool:
        if not self._patterns:
            return True
        common = normalise_rule_name(raw_rule)
        return any(p.match(common) or p.match(raw_rule) for p in self._patterns)

    def matches(self, evaluation: Evaluation) -> bool:
        return (
            (not self.accounts or evaluation.account in self.accounts)
            and (not self.regions or evaluation.region in self.regions)
            and self.rule_matches(evaluation.raw_rule)
        )


def to_rows(evaluations: Iterable[Evaluation], packs: PackIndex, where: RowFilter) -> tuple[ComplianceRow, ...]:
    """Filtered, de-duplicated rows with common rule names, sorted by account, Region, resource and rule."""
    unique = {e.key: e for e in evaluations if where.matches(e)}
    rows = [
        ComplianceRow(
            account=e.account,
            region=e.region,
            resource_type=e.resource_type,
            resource_id=e.resource_id,
            rule=normalise_rule_name(e.raw_rule),
            raw_rule=e.raw_rule,
            pack=packs.pack_of(e.raw_rule),
            annotation=e.annotation,
            evaluated_at=e.evaluated_at,
        )
        for e in unique.values()
    ]
    return tuple(sorted(rows, key=lambda r: (*r.resource, r.rule, r.raw_rule)))


@dataclass(frozen=True)
class AccountCount:
    """GetAggregateConfigRuleComplianceSummary per account: rules (capped at 25) by compliance."""

    account: str
    non_compliant_rules: CappedCount
    compliant_rules: CappedCount


@dataclass(frozen=True)
class SourceProblem:
    account: str
    region: str
    status: str
    message: str


@dataclass(frozen=True)
class GroupSummary:
    key: str
    resources: int
    rules: int
    accounts: int
    regions: int
    pack: str | None = None


def summarise(rows: Iterable[ComplianceRow], by: GroupBy) -> tuple[GroupSummary, ...]:
    groups: dict[str, list[ComplianceRow]] = {}
    for row in rows:
        key = row.rule if by == "rule" else row.account if by == "account" else row.region
        groups.setdefault(key, []).append(row)
    summaries = [
        GroupSummary(
            key=key,
            resources=len({r.resource for r in members}),
            rules=len({r.rule for r in members}),
            accounts=len({r.account for r in members}),
            regions=len({r.region for r in members}),
            pack=next((r.pack for r in members if r.pack), None) if by == "rule" else None,
        )
        for key, members in groups.items()
    ]
    return tuple(sorted(summaries, key=lambda s: (-s.resources, s.key)))


@dataclass(frozen=True)
class Heatmap:
    """Non-compliant resources per (common rule, account)."""

    rules: tuple[str, ...]
    accounts: tuple[str, ...]
    cells: Mapping[tuple[str, str], int]

    @property
    def maximum(self) -> int:
        return max(self.cells.values(), default=0)


def heatmap(rows: Iterable[ComplianceRow]) -> Heatmap:
    resources: dict[tuple[str, str], set[tuple[str, str, str, str]]] = {}
    for row in rows:
        resources.setdefault((row.rule, row.account), set()).add(row.resource)
    cells = {key: len(found) for key, found in resources.items()}
    by_rule: dict[str, int] = {}
    for (rule, _), count in cells.items():
        by_rule[rule] = by_rule.get(rule, 0) + count
    rules = tuple(sorted(by_rule, key=lambda r: (-by_rule[r], r)))
    return Heatmap(rules, tuple(sorted({a for _, a in cells})), cells)


@dataclass(frozen=True)
class ComplianceReport:
    aggregator: str
    strategy: str  # query, rules, or query+rules
    reason: str  # why auto chose what it chose; empty when asked for explicitly
    rows: tuple[ComplianceRow, ...]
    account_counts: tuple[AccountCount, ...] = ()
    source_problems: tuple[SourceProblem, ...] = ()
    api_calls: tuple[tuple[str, int], ...] = ()
    annotations: bool = False
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # account id -> "name (OU path)", where the caller could read the organization
    account_names: Mapping[str, str] = field(default_factory=dict)

    def who(self, account: str) -> str:
        """The account as a person reads it: "537510074089 prod-1 (Workloads/Prod)", or the bare id."""
        name = self.account_names.get(account)
        return f"{account} {name}" if name else account

    @property
    def total_calls(self) -> int:
        return sum(count for _, count in self.api_calls)
