"""What DetectStackSetDrift found on orgdeploy's stack sets, for `status --drift` (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PropertyChange:
    path: str
    expected: str
    actual: str
    kind: str  # ADD | REMOVE | NOT_EQUAL


@dataclass(frozen=True)
class DriftedResource:
    stack_set: str
    account: str
    region: str
    logical_id: str
    resource_type: str
    status: str  # MODIFIED | DELETED
    changes: tuple[PropertyChange, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack_set": self.stack_set,
            "account": self.account,
            "region": self.region,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "status": self.status,
            "changes": [
                {"path": c.path, "expected": c.expected, "actual": c.actual, "kind": c.kind} for c in self.changes
            ],
        }


@dataclass(frozen=True)
class DriftReport:
    checked: tuple[str, ...]  # stack set names
    instances: int  # instances checked
    drifted: tuple[DriftedResource, ...]
    failed: tuple[str, ...] = ()  # "stack set: why", for a detection that did not finish

    @property
    def clean(self) -> bool:
        return not self.drifted and not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack_sets": list(self.checked),
            "instances_checked": self.instances,
            "drifted": [d.to_dict() for d in self.drifted],
            "failed": list(self.failed),
        }

    def lines(self, who: Any = str) -> list[str]:
        places = len({(d.account, d.region, d.stack_set) for d in self.drifted})
        found = [f"drift: {self.instances} instance(s) of {len(self.checked)} stack set(s) checked, {places} drifted"]
        for d in self.drifted:
            found.append(
                f"  DRIFTED {d.stack_set} {who(d.account)} {d.region} {d.logical_id} ({d.resource_type}): {d.status}"
            )
            found += [f"    {c.path}: {c.actual} (expected {c.expected})" for c in d.changes]
        found += [f"  drift detection did not finish: {f}" for f in self.failed]
        if self.drifted:
            found.append("  `orgdeploy update` puts the recorders back as the stacks describe them")
        return found
