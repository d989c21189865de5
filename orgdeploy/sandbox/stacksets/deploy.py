"""Create, update and delete the stack behind one stack instance.

Everything goes through moto's own CloudFormation code (backend.create_stack,
Stack.update, backend.delete_stack), so the template's resources really land in
the target account's backends. Unlike moto's StackInstance, the stack is a normal
stack of the target account named StackSet-<name>-<uuid>, as AWS names it, and a
failure becomes a result with AWS's reason instead of an exception.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from moto.cloudformation.models import CloudFormationBackend, Stack, cloudformation_backends

from orgdeploy.sandbox.stacksets.model import Operation, SandboxStackInstance

# Stack states after a failed creation; such a stack is replaced on the next deployment.
FAILED_CREATE = frozenset({"CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE"})


def describe_error(exc: Exception) -> str:
    code = getattr(exc, "error_type", None)
    if not isinstance(code, str):
        code = exc.code if isinstance(getattr(exc, "code", None), str) else type(exc).__name__  # type: ignore[attr-defined]
    message = getattr(exc, "message", None)
    return f"{code}: {message if isinstance(message, str) else exc}"


def _failed_resource_reason(stack: Stack) -> str | None:
    for event in reversed(stack.events):
        if event.resource_status.endswith("_FAILED") and event.resource_type != "AWS::CloudFormation::Stack":
            return (
                f"ResourceLogicalId:{event.logical_resource_id}, ResourceType:{event.resource_type}, "
                f"ResourceStatusReason:{event.resource_status_reason}"
            )
    return None


def _parameters(op: Operation, instance: SandboxStackInstance) -> dict[str, Any]:
    merged = dict(op.parameters)
    merged.update({p["ParameterKey"]: p.get("ParameterValue") for p in instance.parameter_overrides})
    return merged


def _backend(instance: SandboxStackInstance) -> CloudFormationBackend:
    backend: CloudFormationBackend = cloudformation_backends[instance.account_id][instance.region_name]
    return backend


def _roll_back(backend: CloudFormationBackend, stack: Stack, reason: str) -> None:
    """What CloudFormation does after a failed create that moto left half-done."""
    # The stack ends ROLLBACK_COMPLETE either way; a resource that will not go simply stays.
    with contextlib.suppress(Exception):
        stack.resource_map.delete()
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            del backend.exports[name]
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE", resource_status_reason=reason)


def _create(op: Operation, instance: SandboxStackInstance, backend: CloudFormationBackend) -> str | None:
    name = f"StackSet-{op.stackset.name}-{uuid.uuid4()}"
    try:
        stack = backend.create_stack(
            name=name, template=op.template, parameters=_parameters(op, instance), tags=dict(op.stackset.tags or {})
        )
    except Exception as exc:
        reason = describe_error(exc)
        leftover = next((s for s in backend.stacks.values() if s.name == name), None)
        if leftover is not None:
            _roll_back(backend, leftover, reason)
            instance.stack_id = leftover.stack_id
        return reason
    instance.stack_id = stack.stack_id
    if stack.status in FAILED_CREATE:
        return _failed_resource_reason(stack) or getattr(stack, "status_reason", None) or stack.status
    return None


def _update(op: Operation, instance: SandboxStackInstance, stack: Stack) -> str | None:
    try:
        stack.update(op.template, parameters=_parameters(op, instance), tags=dict(op.stackset.tags or {}))
    except Exception as exc:
        # moto cannot undo a half-applied update; the stack reports the rollback AWS would do.
        reason = describe_error(exc)
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE", resource_status_reason=reason)
        return reason
    return None


def deploy(op: Operation, instance: SandboxStackInstance) -> str | None:
    """Bring the instance's stack to the operation's template; the failure reason, or None."""
    backend = _backend(instance)
    stack = backend.stacks.get(instance.stack_id) if instance.stack_id else None
    if stack is not None and stack.status in FAILED_CREATE:
        backend.delete_stack(stack.stack_id)
        stack = None
    if stack is None:
        return _create(op, instance, backend)
    return _update(op, instance, stack)


def remove(op: Operation, instance: SandboxStackInstance) -> str | None:
    """Delete the instance's stack (or keep it with RetainStacks); the failure reason, or None."""
    if op.retain_stacks or not instance.stack_id:
        return None
    backend = _backend(instance)
    stack = backend.stacks.get(instance.stack_id)
    if stack is None:
        return None
    try:
        backend.delete_stack(stack.stack_id)
    except Exception as exc:
        # moto drops the stack before deleting its resources; put it back the way AWS leaves it.
        reason = describe_error(exc)
        backend.deleted_stacks.pop(stack.stack_id, None)
        backend.stacks[stack.stack_id] = stack
        stack.status = "DELETE_FAILED"
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)
        return reason
    return None
