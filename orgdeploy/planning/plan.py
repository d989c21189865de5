"""The Plan: ordered steps with explicit dependencies (pure data; JSON is a documented contract)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from orgdeploy.planning.inventory import OperationResult

Action = Literal[
    "enable_trusted_access",
    "deploy_stack",
    "delete_stack",
    "create_stack_set",
    "update_stack_set",
    "delete_stack_set",
    "create_stack_instances",
    "update_stack_instances",
    "delete_stack_instances",
    "upload_artifact",
    "delete_bucket",
    "repair_recorder",
    "adopt_recorders",
    "release_recorders",
    "put_guard_policy",
    "attach_guard_policy",
    "detach_guard_policy",
    "delete_guard_policy",
    "verify",
]

# An instance step's parameter override with this value keeps what the instance has (UsePreviousValue).
USE_PREVIOUS_VALUE = "<previous value>"

STACK_SET_OPERATIONS = frozenset(
    {"create_stack_instances", "update_stack_instances", "delete_stack_instances", "update_stack_set"}
)


@dataclass(frozen=True)
class Step:
    id: str
    action: Action
    target: str
    description: str
    account: str | None = None
    regions: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    operation_preferences: dict[str, Any] | None = None
    deployment_targets: dict[str, Any] | None = None
    template: str | None = None  # key of a RenderedTemplate
    parameters: tuple[tuple[str, str], ...] = ()
    capabilities: tuple[str, ...] = ()
    auto_deployment: dict[str, Any] | None = None
    retain_stacks: bool = False
    # Pack stacks: accounts whose instance of these recorder stack sets is not healthy when the step runs
    # are added to ExcludedAccounts, since a pack fails in any member without a recording recorder.
    exclude_failed_recorders_of: tuple[str, ...] = ()
    # Changes with the desired content and the state it acts on, so a retried call
    # is idempotent and a later, different call gets a new id.
    operation_id: str | None = None
    # Instance operations: about how many instances they touch (0 when not known), which tells the
    # executor what a listing of the results costs before it has read one.
    expected_instances: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "action": self.action,
            "target": self.target,
            "description": self.description,
            "account": self.account,
            "regions": list(self.regions),
            "depends_on": list(self.depends_on),
        }
        if self.action in STACK_SET_OPERATIONS or self.action == "create_stack_set":
            data["operation_preferences"] = self.operation_preferences
            data["deployment_targets"] = self.deployment_targets
            data["operation_id"] = self.operation_id
        if self.template:
            data["template"] = self.template
        if self.parameters:
            data["parameters"] = dict(self.parameters)
        if self.auto_deployment is not None:
            data["auto_deployment"] = self.auto_deployment
        if self.exclude_failed_recorders_of:
            data["exclude_failed_recorders_of"] = list(self.exclude_failed_recorders_of)
        return data


@dataclass(frozen=True)
class QuotaUsage:
    name: str
    used: int
    limit: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0

    def line(self) -> str:
        return f"{self.name}: {self.used:,} / {self.limit:,} ({self.percent:.1f}%)"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "used": self.used, "limit": self.limit, "percent": round(self.percent, 2)}


@dataclass(frozen=True)
class Skip:
    """An account and Region (or account) left out on purpose, with why."""

    account: str
    region: str | None
    what: str
    reason: str
    # A recorder someone else made: `existing_recorder: fail` stops on these.
    conflict: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"account": self.account, "region": self.region, "what": self.what, "reason": self.reason}


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    usage: tuple[QuotaUsage, ...] = ()
    skipped: tuple[Skip, ...] = ()
    notes: tuple[str, ...] = ()
    desired_stack_sets: tuple[str, ...] = field(default=())

    @property
    def changes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.action != "verify")

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def waves(self) -> list[list[Step]]:
        """Steps grouped so each wave depends only on earlier waves."""
        done: set[str] = set()
        remaining = list(self.steps)
        waves = []
        while remaining:
            ready = [s for s in remaining if set(s.depends_on) <= done]
            if not ready:
                raise ValueError("plan has a dependency cycle: " + ", ".join(s.id for s in remaining))
            waves.append(ready)
            done |= {s.id for s in ready}
            remaining = [s for s in remaining if s.id not in done]
        return waves

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "changes": len(self.changes),
            "quota_usage": [u.to_dict() for u in self.usage],
            "skipped": [s.to_dict() for s in self.skipped],
            "notes": list(self.notes),
        }


def one_operation_at_a_time(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """Each stack set's operations in plan order, each after the one before it.

    Without managed execution a stack set runs one operation at a time and refuses a second with
    OperationInProgressException; ordering them in the plan beats retrying for the length of an operation.
    """
    last: dict[str, str] = {}
    ordered = []
    for step in steps:
        before = last.get(step.target) if step.action in STACK_SET_OPERATIONS else None
        if step.action in STACK_SET_OPERATIONS:
            last[step.target] = step.id
        if before is not None and before not in step.depends_on:
            ordered.append(replace(step, depends_on=(*step.depends_on, before)))
        else:
            ordered.append(step)
    return tuple(ordered)


_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")


def operation_id(step_id: str, content: Any, *, after: str = "") -> str:
    """Deterministic StackSets OperationId: [a-zA-Z0-9][-a-zA-Z0-9]*, at most 128 characters.

    The id is an idempotency token. `after` is the stack set's newest ended operation: a crash-resume
    plans the same id and adopts the operation in flight, while a re-run after a failure (which ended
    an operation) plans a new id, so the failed step is tried again instead of adopted for ever.
    """
    digest = hashlib.sha256(
        json.dumps({"content": content, "after": after}, sort_keys=True, default=str).encode()
    ).hexdigest()[:20]
    stem = _UNSAFE.sub("-", step_id).strip("-")[:100] or "op"
    return f"{stem}-{digest}"


# What running a Plan produced, for the reports.
Outcome = Literal["succeeded", "failed", "blocked"]


@dataclass(frozen=True)
class StepResult:
    step: Step
    outcome: Outcome
    message: str = ""
    failures: tuple[OperationResult, ...] = ()
    operation_id: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.step.id,
            "action": self.step.action,
            "target": self.step.target,
            "outcome": self.outcome,
            "message": self.message,
            "operation_id": self.operation_id,
            "seconds": round(self.seconds, 2),
            "failures": [
                {"account": f.account, "region": f.region, "status": f.status, "reason": f.reason}
                for f in self.failures
            ],
        }


@dataclass
class ExecutionResult:
    results: list[StepResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.outcome != "succeeded" or r.failures for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"failed": self.failed, "steps": [r.to_dict() for r in self.results]}
