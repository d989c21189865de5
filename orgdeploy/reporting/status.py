"""What orgdeploy has deployed, summarised from an Inventory (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orgdeploy.planning.inventory import Inventory


@dataclass(frozen=True)
class StatusReport:
    stack_sets: tuple[dict[str, Any], ...]
    stacks: tuple[dict[str, Any], ...]
    trusted_access: str
    account_names: dict[str, str] = field(default_factory=dict)  # id -> "name (OU path)"

    def who(self, account: str) -> str:
        name = self.account_names.get(account)
        return f"{account} {name}" if name else account

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
                    f"  {self.who(instance['account'])} {instance['region']} "
                    f"{instance['status']}/{instance['detailed_status']}: "
                    f"{instance['reason'] or 'no reason given'}"
                )
        for stack in self.stacks:
            lines.append(f"stack {stack['name']} [{self.who(stack['account'])} {stack['region']}]: {stack['status']}")
        lines.append("healthy" if self.healthy else "NOT healthy: see the lines above")
        return "\n".join(lines)


def account_labels(inventory: Inventory) -> dict[str, str]:
    """id -> "name (OU path)" for the organization's accounts."""
    org = inventory.organization
    paths = {unit.id: unit.path for unit in org.units}
    return {a.id: f"{a.name} ({paths.get(a.parent_id, 'Root')})" for a in org.accounts if a.name}


def status_report(inventory: Inventory) -> StatusReport:
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
    return StatusReport(tuple(stack_sets), stacks, inventory.trusted_access, names)
