"""The census as a matrix of accounts x Regions, and as rows for JSON and CSV (pure)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from typing import Any

from orgdeploy.planning.inventory import AccountFacts, Organization

LEGEND = {
    "O": "orgdeploy recorder",
    "C": "Control Tower recorder",
    "S": "service-linked recorder (owned by another AWS service)",
    "F": "foreign recorder (made outside orgdeploy)",
    ".": "no recorder",
    "x": "Region not enabled in the account",
    "?": "unknown: the account could not be read",
}
_SYMBOL = {"orgdeploy": "O", "control-tower": "C", "service-linked": "S", "unknown": "F"}
COLUMNS = [
    "account",
    "account_name",
    "account_status",
    "region",
    "region_enabled",
    "recorder",
    "owner",
    "recording",
    "strategy",
    "global_types",
    "delivery_channel",
    "service_linked_role",
    "reachable",
    "reason",
]


@dataclass(frozen=True)
class Census:
    organization: Organization
    regions: tuple[str, ...]
    facts: tuple[AccountFacts, ...]

    def cell(self, facts: AccountFacts, region: str) -> str:
        if not facts.reachable:
            return "?"
        if region in facts.disabled_regions:
            return "x"
        recorder = facts.recorder(region)
        if recorder is None:
            return "."
        symbol = _SYMBOL[recorder.owner]
        # Lower case: the recorder exists but is not recording.
        return symbol if recorder.recording else symbol.lower()

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for facts in self.facts:
            account = self.organization.account(facts.account)
            for region in self.regions:
                recorder = facts.recorder(region) if facts.reachable else None
                rows.append(
                    {
                        "account": facts.account,
                        "account_name": account.name if account else "",
                        "account_status": account.status if account else "",
                        "region": region,
                        "region_enabled": None if not facts.reachable else region not in facts.disabled_regions,
                        "recorder": recorder.name if recorder else None,
                        "owner": recorder.owner if recorder else None,
                        "recording": recorder.recording if recorder else None,
                        "strategy": recorder.strategy if recorder else None,
                        "global_types": recorder.global_types if recorder else None,
                        "delivery_channel": (recorder.delivery_channel or None) if recorder else None,
                        "service_linked_role": facts.has_service_linked_role,
                        "reachable": facts.reachable,
                        "reason": facts.reason or None,
                    }
                )
        return rows

    def totals(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for cell in (self.cell(f, r) for f in self.facts for r in self.regions):
            counts[cell if cell in LEGEND else cell.upper()] += 1
        return {LEGEND[k]: v for k, v in sorted(counts.items())}

    def to_text(self) -> str:
        width = max([len(r) for r in self.regions] + [3])
        paths = {unit.id: unit.path for unit in self.organization.units}
        names = {a.id: f"{a.name} ({paths.get(a.parent_id, 'Root')})" for a in self.organization.accounts}
        name_width = max([len(names.get(f.account, "")) for f in self.facts] + [4])
        header = f"{'account':12}  {'name':{name_width}}  " + "  ".join(f"{r:^{width}}" for r in self.regions) + "  SLR"
        lines = [header]
        for facts in self.facts:
            cells = "  ".join(f"{self.cell(facts, r):^{width}}" for r in self.regions)
            role = "?" if facts.has_service_linked_role is None else ("yes" if facts.has_service_linked_role else "no")
            lines.append(f"{facts.account:12}  {names.get(facts.account, ''):{name_width}}  {cells}  {role}")
        lines.append("")
        lines.append("Legend: " + "; ".join(f"{k} {v}" for k, v in LEGEND.items()) + "; lower case: not recording")
        lines.append("Totals (account x Region): " + ", ".join(f"{v} {k}" for k, v in self.totals().items()))
        unreachable = [f for f in self.facts if not f.reachable]
        for facts in unreachable:
            lines.append(f"unknown {facts.account}: {facts.reason}")
        return "\n".join(lines)

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows():
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return out.getvalue()
