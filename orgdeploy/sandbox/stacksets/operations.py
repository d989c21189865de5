"""StackSet operations that take time, queue, and fail per account and Region.

An operation is QUEUED until nothing before it on its stack set (and none of its
auto-deployment prerequisites) is still going, RUNNING for STATE.op_seconds plus the time its
instances take (STATE.instance_seconds each, targets.operation_seconds), and
only then deploys every target through stackset_deploy. Time only moves on
reads: advance_all() is called at the start of every CloudFormation request, so
the sandbox needs no background thread. Callers hold STATE.lock.
"""

from __future__ import annotations

import itertools
from typing import Any

from moto.cloudformation.models import CloudFormationBackend, StackSet, cloudformation_backends

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.stacksets.deploy import deploy, describe_error, remove
from orgdeploy.sandbox.stacksets.drift import resource_drifts
from orgdeploy.sandbox.stacksets.model import (
    InvalidOperationException,
    Operation,
    OperationIdAlreadyExistsException,
    OperationInProgressException,
    OperationNotFoundException,
    Result,
    SandboxStackInstance,
    Target,
    add_instance,
    drop_instance,
    extras,
    find_instance,
    instances,
    live_stacksets,
    timestamp,
)
from orgdeploy.sandbox.stacksets.targets import (
    account_status,
    failure_tolerance,
    max_concurrent,
    operation_seconds,
    org_backend,
    region_order,
)
from orgdeploy.sandbox.state import STATE

_SEQUENCE = itertools.count(1)

CANCELLED_BY_TOLERANCE = "Cancelled since failure tolerance has exceeded"
CANCELLED_BY_STOP = "Cancelled since the operation was stopped"
CANCELLED_BY_DEPENDENCY = "Cancelled since an operation of a StackSet this StackSet depends on did not succeed"


def find_operation(stackset: StackSet, operation_id: str) -> Operation:
    for op in extras(stackset).operations:
        if op.operation_id == operation_id:
            return op
    raise OperationNotFoundException(operation_id)


def ensure_can_start(stackset: StackSet, operation_id: str | None, *, automatic: bool = False) -> None:
    """Raise what AWS raises before a new operation on `stackset` is accepted."""
    ops = extras(stackset).operations
    if operation_id and any(op.operation_id == operation_id for op in ops):
        raise OperationIdAlreadyExistsException(operation_id)
    busy = any(not op.done for op in ops)
    # Managed execution queues; auto-deployment always waits its turn.
    if busy and not (automatic or extras(stackset).managed_execution):
        raise OperationInProgressException(stackset.arn)


def _status(stackset: StackSet, target: Target) -> str | None:
    instance = find_instance(stackset, target.account, target.region)
    return instance.status if instance is not None else None


def start(
    backend: CloudFormationBackend,
    stackset: StackSet,
    *,
    action: str,
    targets: list[Target],
    operation_id: str,
    preferences: dict[str, Any],
    deployment_targets: dict[str, Any] | None = None,
    retain_stacks: bool | None = None,
    overrides: list[dict[str, Any]] | None = None,
    prerequisites: list[Operation] | None = None,
    automatic: bool = False,
    imported: dict[tuple[str, str], str] | None = None,
) -> Operation:
    ensure_can_start(stackset, operation_id, automatic=automatic)
    if action == "UPDATE":
        # INOPERABLE instances (a failed delete left their stack unstable) are left out of every update.
        targets = [t for t in targets if _status(stackset, t) != "INOPERABLE"]
    now = clock.aws_now()
    op = Operation(
        operation_id=operation_id,
        action=action,
        backend=backend,
        stackset=stackset,
        targets=targets,
        preferences=dict(preferences),
        template=stackset.template,
        parameters=dict(stackset.parameters or {}),
        duration=max(0.0, float(STATE.op_seconds))
        + operation_seconds(targets, preferences, float(STATE.instance_seconds)),
        created_at=now,
        deployment_targets=deployment_targets,
        retain_stacks=retain_stacks,
        prerequisites=list(prerequisites or []),
        automatic=automatic,
        seq=next(_SEQUENCE),
        imported=dict(imported or {}),
    )
    for target in targets if action != "DETECT_DRIFT" else []:  # drift detection leaves instances as they are
        instance = find_instance(stackset, target.account, target.region)
        if instance is None:
            instance = SandboxStackInstance(target.account, target.region, target.ou)
            add_instance(stackset, instance)
        if overrides is not None:
            instance.parameter_overrides = _merge_overrides(instance.parameter_overrides, overrides)
        if action != "DELETE":
            instance.status = "OUTDATED"
        instance.detailed_status = "PENDING"
        instance.status_reason = None
        instance.last_operation_id = operation_id
    if action == "CREATE" and not automatic:
        _record_created_targets(stackset, targets, deployment_targets)
    extras(stackset).operations.append(op)
    advance_all(now)
    return op


def _record_created_targets(stackset: StackSet, targets: list[Target], requested: dict[str, Any] | None) -> None:
    """Remember the OUs and Regions: DescribeStackSet shows them and auto-deployment uses them."""
    ex = extras(stackset)
    ex.regions += [r for r in dict.fromkeys(t.region for t in targets) if r not in ex.regions]
    ous = (requested or {}).get("OrganizationalUnitIds") or []
    ex.ou_ids += [ou for ou in dict.fromkeys(ous) if ou not in ex.ou_ids]


def _merge_overrides(current: list[dict[str, Any]], given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    previous = {p["ParameterKey"]: p for p in current}
    merged = []
    for param in given:
        if param.get("UsePreviousValue") and param["ParameterKey"] in previous:
            merged.append(previous[param["ParameterKey"]])
        elif "ParameterValue" in param:
            merged.append({"ParameterKey": param["ParameterKey"], "ParameterValue": param["ParameterValue"]})
    return merged


def stop(stackset: StackSet, operation_id: str) -> None:
    op = find_operation(stackset, operation_id)
    if op.done:
        raise InvalidOperationException(f"Operation {operation_id} is already {op.status} and cannot be stopped")
    now = clock.aws_now()
    op.results = [_cancel(op, target, CANCELLED_BY_STOP) for target in op.targets]
    op.status, op.ended_at = "STOPPED", now
    advance_all(now)


def advance_all(now: float | None = None) -> None:
    """Start and finish every operation whose time has come, in creation order."""
    now = clock.aws_now() if now is None else now
    progressed = True
    while progressed:
        progressed = False
        pending = sorted(
            (op for _, stackset in live_stacksets() for op in extras(stackset).operations if not op.done),
            key=lambda op: op.seq,
        )
        for op in pending:
            if op.status == "QUEUED":
                start_at = _ready_at(op)
                if start_at is not None and start_at <= now:
                    _begin(op, start_at)
                    progressed = True
            if op.status == "RUNNING" and op.started_at is not None and op.started_at + op.duration <= now:
                with clock.sandbox_work():
                    _finish(op, op.started_at + op.duration)
                progressed = True
    in_flight = [op for _, stackset in live_stacksets() for op in extras(stackset).operations if not op.done]
    ends = [op.started_at + op.duration for op in in_flight if op.status == "RUNNING" and op.started_at is not None]
    clock.set_aws_busy(bool(in_flight), min(ends) if ends else None)


def _ready_at(op: Operation) -> float | None:
    """When `op` may start, or None while something it waits for is still going."""
    ops = extras(op.stackset).operations
    blockers = ops[: ops.index(op)] + op.prerequisites
    if any(not blocker.done for blocker in blockers):
        return None
    return max([op.created_at] + [b.ended_at for b in blockers if b.ended_at is not None])


def _begin(op: Operation, at: float) -> None:
    op.status, op.started_at = "RUNNING", at
    for target in op.targets if op.action != "DETECT_DRIFT" else []:
        instance = find_instance(op.stackset, target.account, target.region)
        if instance is not None:
            instance.detailed_status = "RUNNING"


def _finish(op: Operation, at: float) -> None:
    if any(p.status != "SUCCEEDED" for p in op.prerequisites):
        op.results = [_cancel(op, target, CANCELLED_BY_DEPENDENCY) for target in op.targets]
        op.status, op.status_reason, op.ended_at = "FAILED", CANCELLED_BY_DEPENDENCY, at
        return
    sequential = op.preferences.get("RegionConcurrencyType", "SEQUENTIAL") != "PARALLEL"
    results: list[Result] = []
    failed_regions: list[str] = []
    for region in region_order(op.targets, op.preferences):
        targets = [t for t in op.targets if t.region == region]
        if failed_regions and sequential:
            results += [_cancel(op, target, CANCELLED_BY_TOLERANCE) for target in targets]
            continue
        region_results = _run_region(op, targets)
        results += region_results
        if any(r.status == "CANCELLED" for r in region_results) or _too_many_failures(op, region_results):
            failed_regions.append(region)
    op.results = results
    op.status = "FAILED" if failed_regions else "SUCCEEDED"
    op.ended_at = at
    if op.action == "DELETE" and not op.automatic:
        _forget_deleted_targets(op)


def _too_many_failures(op: Operation, results: list[Result]) -> bool:
    failures = sum(1 for r in results if r.status == "FAILED")
    return failures > failure_tolerance(op.preferences, len(results))


def _run_region(op: Operation, targets: list[Target]) -> list[Result]:
    """Deploy one Region in batches of MaxConcurrent, stopping once failures pass the tolerance."""
    tolerance = failure_tolerance(op.preferences, len(targets))
    concurrency = max_concurrent(op.preferences, len(targets))
    strict = op.preferences.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE") == "STRICT_FAILURE_TOLERANCE"
    results: list[Result] = []
    failures, index = 0, 0
    while index < len(targets):
        # STRICT: never more accounts in flight than failures still tolerated plus one (AWS's rule).
        size = max(1, min(concurrency, tolerance - failures + 1)) if strict else concurrency
        batch = targets[index : index + size]
        index += size
        for target in batch:
            result = _apply(op, target)
            failures += result.status == "FAILED"
            results.append(result)
        if failures > tolerance:
            results += [_cancel(op, target, CANCELLED_BY_TOLERANCE) for target in targets[index:]]
            break
    return results


def _cancel(op: Operation, target: Target, reason: str) -> Result:
    instance = find_instance(op.stackset, target.account, target.region)
    if instance is not None:
        if op.action != "DELETE":
            instance.status = "OUTDATED"
        instance.detailed_status, instance.status_reason = "CANCELLED", reason
    return Result(target, "CANCELLED", reason)


def _detect_drift(op: Operation, target: Target, at: float) -> Result:
    instance = find_instance(op.stackset, target.account, target.region)
    backend = cloudformation_backends[target.account][target.region]
    stack = backend.stacks.get(instance.stack_id) if instance is not None and instance.stack_id else None
    if instance is None or stack is None:
        return Result(target, "FAILED", "The stack instance has no stack to check")
    drifts = resource_drifts(stack, target.account, target.region, timestamp(at))
    op.drifts[(target.account, target.region)] = drifts
    modified = any(d["StackResourceDriftStatus"] in {"MODIFIED", "DELETED"} for d in drifts)
    instance.drift_status, instance.last_drift_check = ("DRIFTED" if modified else "IN_SYNC"), at
    return Result(target, "SUCCEEDED")


def _apply(op: Operation, target: Target) -> Result:
    if op.action == "DETECT_DRIFT":
        return _detect_drift(op, target, clock.aws_now())
    instance = find_instance(op.stackset, target.account, target.region)
    if instance is None:
        if op.action == "DELETE":
            return Result(target, "SUCCEEDED")
        instance = SandboxStackInstance(target.account, target.region, target.ou)
        add_instance(op.stackset, instance)
    org = org_backend(op.backend.account_id, op.backend.region_name)
    if account_status(org, target.account) == "SUSPENDED":
        # Skipped, not failed: AWS leaves suspended accounts out of the failure tolerance.
        skipped = f"Account {target.account} is suspended; the operation skipped it"
        instance.status, instance.detailed_status = "OUTDATED", "SKIPPED_SUSPENDED_ACCOUNT"
        instance.status_reason = skipped
        return Result(target, "SUCCEEDED", skipped)
    reason = _region_problem(target, instance, op.action)
    imported = op.imported.get((target.account, target.region))
    if reason is None and imported is not None:
        instance.stack_id = imported  # the stack stays as it is: it has the stack set's template already
    elif reason is None:
        try:
            reason = remove(op, instance) if op.action == "DELETE" else deploy(op, instance)
        except Exception as exc:
            reason = describe_error(exc)
    if op.action == "DELETE":
        if reason is None:
            drop_instance(op.stackset, instance)
            return Result(target, "SUCCEEDED")
        instance.status, instance.detailed_status, instance.status_reason = "INOPERABLE", "INOPERABLE", reason
        return Result(target, "FAILED", reason)
    if reason is None:
        instance.status, instance.detailed_status, instance.status_reason = "CURRENT", "SUCCEEDED", None
        return Result(target, "SUCCEEDED")
    instance.status, instance.detailed_status, instance.status_reason = "OUTDATED", "FAILED", reason
    return Result(target, "FAILED", reason)


def _region_problem(target: Target, instance: SandboxStackInstance, action: str) -> str | None:
    # StackSets cannot reach a Region the account has not opted into; the instance fails.
    if action == "DELETE" and not instance.stack_id:
        return None
    if STATE.region_enabled(target.account, target.region):
        return None
    return f"Account {target.account} should have '{target.region}' region enabled"


def _forget_deleted_targets(op: Operation) -> None:
    """A Region or OU the deletion left without instances is no longer targeted."""
    ex = extras(op.stackset)
    left = {i.region_name for i in instances(op.stackset)}
    ex.regions = [r for r in ex.regions if r in left or r not in {t.region for t in op.targets}]
    requested = set((op.deployment_targets or {}).get("OrganizationalUnitIds") or [])
    still_used = {i.organizational_unit_id for i in instances(op.stackset)}
    ex.ou_ids = [ou for ou in ex.ou_ids if ou not in requested or ou in still_used]
