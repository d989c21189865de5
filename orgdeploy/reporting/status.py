"""What orgdeploy has deployed, summarised from an Inventory (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from orgdeploy.planning.inventory import Inventory


@dataclass(frozen=True)
class StatusReport:
    stack_sets: tuple[dict[str, Any], ...]
    stacks: tuple[dict[str, Any], ...]
    trusted_access: str

    @property
    def healthy(self) -> bool:
        return not any(s["not_current"] or s["operations_in_flight"] for s in self.stack_sets) and all(
            s["status"].endswith("_COMPLETE") and "ROLLBACK" not in s["status"] for s in self.stacks
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "trusted_access": self.trusted_access,
            "stack_sets": list(self.stack_sets),
            "stacks": list(self.stacks),
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
                    f"  {instance['account']} {instance['region']} {instance['status']}/{instance['detailed_status']}: "
                    f"{instance['reason'] or 'no reason given'}"
                )
        for stack in self.stacks:
            lines.append(f"stack {stack['name']} [{stack['account']} {stack['region']}]: {stack['status']}")
        lines.append("healthy" if self.healthy else "NOT healthy: see the lines above")
        return "\n".join(lines)


def status_report(inventory: Inventory) -> StatusReport:
    stack_sets = []
    for stack_set in inventory.stack_sets:
        counts = Counter(
            f"{i.status}/{i.detailed_status}" if i.detailed_status else i.status for i in stack_set.instances
        )
        not_current = [
            {
                "account": i.account,
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
        {"name": s.name, "account": s.account, "region": s.region, "status": s.status} for s in inventory.stacks
    )
    return StatusReport(tuple(stack_sets), stacks, inventory.trusted_access)
