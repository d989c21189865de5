"""What orgdeploy has deployed, summarised from an Inventory (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orgdeploy.planning.inventory import Inventory
from orgdeploy.reporting.coverage import Coverage
from orgdeploy.reporting.drift import DriftReport


@dataclass(frozen=True)
class StatusReport:
    stack_sets: tuple[dict[str, Any], ...]
    stacks: tuple[dict[str, Any], ...]
    trusted_access: str
    account_names: dict[str, str] = field(default_factory=dict)  # id -> "name (OU path)"
    coverage: Coverage | None = None  # None: not read (status --no-coverage)
    drift: DriftReport | None = None  # None: not detected (status without --drift)

    def who(self, account: str) -> str:
        name = self.account_names.get(account)
        return f"{account} {name}" if name else account

    @property
    def healthy(self) -> bool:
        covered = self.coverage is None or self.coverage.complete
        return self.deployed_healthy and covered and (self.drift is None or self.drift.clean)

    @property
    def deployed_healthy(self) -> bool:
        return not any(s["not_current"] or s["operations_in_flight"] for s in self.stack_sets) and all(
            s["status"].endswith("_COMPLETE") and "ROLLBACK" not in s["status"] for s in self.stacks
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "deployed_healthy": self.deployed_healthy,
            "trusted_access": self.trusted_access,
            "stack_sets": list(self.stack_sets),
            "stacks": list(self.stacks),
            "drift": None if self.drift is None else self.drift.to_dict(),
            "coverage": None
            if self.coverage is None
            else {
                "complete": self.coverage.complete,
                "counts": self.coverage.counts(),
                "places": [
                    {**p.to_dict(), "account_name": self.account_names.get(p.account)} for p in self.coverage.places
                ],
            },
        }

    def to_text(self) -> str:
        lines = [f"Trusted access for StackSets: {self.trusted_access}"]
        if not self.stack_sets and not self.stacks:
            lines.append("Nothing deployed by orgdeploy was found.")
        for stack_set in self.stack_sets:
            counts = ", ".join(f"{n} {status}" for status, n in sorted(stack_set["counts"].items())) or "no instances"
            lines.append(f"stack set {stack_set['name']}: {stack_set['instances']} instances ({counts})")
            for operation in stack_set["operations_in_flight"]:
                lines.append(f"  operation {operation['id']} {operation['action']} is {operation['status']}")
            for instance in stack_set["not_current"]:
                lines.append(
                    f"  {self.who(instance['account'])} {instance['region']} "
                    f"{instance['status']}/{instance['detailed_status']}: "
                    f"{instance['reason'] or 'no reason given'}"
                )
        for stack in self.stacks:
            lines.append(f"stack {stack['name']} [{self.who(stack['account'])} {stack['region']}]: {stack['status']}")
        lines.extend(self._coverage_lines())
        if self.drift is not None:
            lines.extend(self.drift.lines(self.who))
        lines.append("healthy" if self.healthy else "NOT healthy: see the lines above")
        return "\n".join(lines)

    def _coverage_lines(self) -> list[str]:
        if self.coverage is None:
            return []
        counts = self.coverage.counts()
        total = sum(counts.values())
        lines = [""]
        if total <= TABLE_LIMIT:
            lines += self._coverage_table()
        else:
            lines.append(f"({total} pairs: the lines below list those not covered; --output json lists every pair)")
        lines.append(
            f"coverage: {counts['covered']} of {total} account x Region pairs recording as configured, "
            f"{counts['not covered']} not covered, {counts['not applicable']} not applicable"
        )
        if self.coverage.vouched:
            lines.append(
                f"  ({self.coverage.vouched} of the covered pairs were not read: their orgdeploy stack instances are "
                "healthy and the aggregator reports no failing source; `orgdeploy status` reads every pair)"
            )
        for place in self.coverage.places:
            if place.verdict != "covered":
                label = "NOT COVERED" if place.verdict == "not covered" else "n/a"
                lines.append(f"  {label} {self.who(place.account)} {place.region}: {place.reason}")
        return lines

    def _coverage_table(self) -> list[str]:
        assert self.coverage is not None
        rows = [COVERAGE_HEADER]
        for p in self.coverage.places:
            recording = "" if p.recording is None else ("yes" if p.recording else "NO")
            matches = "" if p.group_matches is None else ("yes" if p.group_matches else "NO")
            rows.append(
                (self.who(p.account), p.region, p.recorder or ("-" if p.read else "(not read)"), p.owner, recording,
                 p.last_status, p.last_delivery or "-", matches)
            )  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]


COVERAGE_HEADER = (
    "ACCOUNT",
    "REGION",
    "RECORDER",
    "OWNER",
    "RECORDING",
    "LAST STATUS",
    "LAST DELIVERY",
    "AS CONFIGURED",
)
# Above this many pairs the text lists only the gaps.
TABLE_LIMIT = 200


def account_labels(inventory: Inventory) -> dict[str, str]:
    """id -> "name (OU path)" for the organization's accounts."""
    org = inventory.organization
    paths = {unit.id: unit.path for unit in org.units}
    return {a.id: f"{a.name} ({paths.get(a.parent_id, 'Root')})" for a in org.accounts if a.name}


def status_report(
    inventory: Inventory, coverage: Coverage | None = None, drift: DriftReport | None = None
) -> StatusReport:
    names = account_labels(inventory)
    stack_sets = []
    for stack_set in inventory.stack_sets:
        counts = Counter(
            f"{i.status}/{i.detailed_status}" if i.detailed_status else i.status for i in stack_set.instances
        )
        not_current = [
            {
                "account": i.account,
                "account_name": names.get(i.account),
                "region": i.region,
                "status": i.status,
                "detailed_status": i.detailed_status,
                "reason": i.reason,
            }
            for i in stack_set.instances
            if not i.healthy
        ]
        stack_sets.append(
            {
                "name": stack_set.name,
                "instances": len(stack_set.instances),
                "counts": dict(counts),
                "not_current": not_current,
                "operations_in_flight": [
                    {"id": o.id, "action": o.action, "status": o.status} for o in stack_set.operations_in_flight
                ],
            }
        )
    stacks = tuple(
        {"name": s.name, "account": s.account, "account_name": names.get(s.account), "region": s.region,
         "status": s.status}
        for s in inventory.stacks
    )  # fmt: skip
    return StatusReport(tuple(stack_sets), stacks, inventory.trusted_access, names, coverage, drift)
