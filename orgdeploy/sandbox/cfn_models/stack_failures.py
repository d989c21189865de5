"""Make a resource failure end a moto stack the way it ends a CloudFormation stack.

moto creates a stack's resources inside the CreateStack call, so an error from a
resource escapes as the API's own error and leaves the stack CREATE_IN_PROGRESS
for ever. CloudFormation instead accepts the call, records a CREATE_FAILED event
for the resource, rolls back and ends ROLLBACK_COMPLETE (CREATE_FAILED when
rollback is disabled). The same path serves the hidden stacks behind StackSet
instances, whose failure is then read from `stack.status` / `stack.status_reason`
and the resource's CREATE_FAILED event in `stack.events`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import CloudFormationError
from moto.core.exceptions import JsonRESTError, ServiceException

# Attribute set on an exception to name the resource whose creation raised it.
_FAILED_RESOURCE = "_orgdeploy_failed_resource"

# The template resources of the stack whose resource is being created, innermost last (Ref nests creation).
_creating = threading.local()

# How the legacy resource handlers name a service in their failure messages.
_SERVICE_NAMES = {"Config": "AmazonConfig", "IAM": "AmazonIdentityManagement", "S3": "Amazon S3"}


class HandlerError(JsonRESTError):
    """A failure the CloudFormation resource handler reports itself (no service call failed)."""

    def __init__(self, handler_code: str, message: str) -> None:
        super().__init__(handler_code, message)


def template_resources() -> dict[str, Any]:
    """The Resources section of the template being deployed in this thread ({} outside a stack operation)."""
    stack: list[dict[str, Any]] = getattr(_creating, "resources", [])
    return stack[-1] if stack else {}


def depends_on(resources: dict[str, Any], logical_id: str, other: str) -> bool:
    """Whether logical_id waits for other: DependsOn, Ref, Fn::GetAtt or ${other} in Fn::Sub, transitively."""
    seen: set[str] = set()
    pending = [logical_id]
    while pending:
        current = pending.pop()
        if current in seen or current not in resources:
            continue
        seen.add(current)
        needs = _references(resources[current])
        if other in needs:
            return True
        pending.extend(needs)
    return False


def _references(value: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "DependsOn":
                found.update([item] if isinstance(item, str) else item)
            elif key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found.update(re.findall(r"\$\{([A-Za-z0-9]+)[}.]", str(text)))
                found |= _references(item[1] if isinstance(item, list) and len(item) > 1 else None)
            else:
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def already_exists(resource_type: str, identifier: str) -> HandlerError:
    """Create handlers never adopt a resource that exists already."""
    return HandlerError(
        "AlreadyExists", f"Resource of type '{resource_type}' with identifier '{identifier}' already exists."
    )


def failure_reason(exc: Exception, resource_type: str) -> str | None:
    """The ResourceStatusReason CloudFormation shows for `exc`, or None when it is no resource failure."""
    if isinstance(exc, CloudFormationError):
        return None  # template errors: AWS rejects those in the CreateStack call itself
    message = getattr(exc, "message", None)
    if isinstance(exc, ServiceException):
        code: object = exc.code
    else:
        code = getattr(exc, "error_type", None)
    if not isinstance(code, str) or not isinstance(message, str):
        return None
    if isinstance(exc, HandlerError):
        return message
    service = resource_type.split("::")[1] if resource_type.count("::") == 2 else resource_type
    status = getattr(exc, "code", None)
    if not isinstance(status, int):
        status = 400
    return (
        f"{message} (Service: {_SERVICE_NAMES.get(service, service)}; Status Code: {status}; "
        f"Error Code: {code}; Proxy: null)"
    )


def _resource_event(stack: Any, logical_id: str, resource_type: str, status: str, reason: str) -> None:
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id="",
            resource_type=resource_type,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _fail_stack(stack: Any, exc: Exception) -> bool:
    """Turn `exc` into CREATE_FAILED and a rollback; False when it is not a resource failure."""
    logical_id, resource_type = getattr(exc, _FAILED_RESOURCE, ("", ""))
    reason = failure_reason(exc, resource_type)
    if not logical_id or reason is None:
        return False
    _resource_event(stack, logical_id, resource_type, "CREATE_FAILED", reason)
    summary = f"The following resource(s) failed to create: [{logical_id}]. "
    if stack.disable_rollback:
        stack.status, stack.status_reason = "CREATE_FAILED", summary
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=summary)
        return True
    summary += "Rollback requested by user."
    stack.status, stack.status_reason = "ROLLBACK_IN_PROGRESS", summary
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=summary)
    try:
        stack.resource_map.delete()
    except Exception as rollback_exc:  # AWS keeps the stack and says why the rollback stopped
        stack.status = "ROLLBACK_FAILED"
        stack.status_reason = f"The following resource(s) failed to delete: {rollback_exc}"
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=stack.status_reason)
        return True
    stack.status = "ROLLBACK_COMPLETE"
    stack._add_stack_event("ROLLBACK_COMPLETE")
    return True


def patch_stack_failures() -> None:
    """Install both wrappers; the caller makes sure this runs once."""
    create_resource: Callable[..., Any] = parsing.parse_and_create_resource

    def parse_and_create_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        stack = _creating.__dict__.setdefault("resources", [])
        stack.append(getattr(resources_map, "_resource_json_map", {}))
        try:
            return create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            # The innermost resource is the one that failed (Ref creates dependencies lazily).
            if not hasattr(exc, _FAILED_RESOURCE):
                setattr(exc, _FAILED_RESOURCE, (logical_id, str(resource_json.get("Type", ""))))
            raise
        finally:
            stack.pop()

    create_resources: Callable[[Any], None] = cfn_models.Stack.create_resources

    def stack_create_resources(self: Any) -> None:
        try:
            create_resources(self)
        except Exception as exc:
            if not _fail_stack(self, exc):
                raise

    parsing.parse_and_create_resource = parse_and_create_resource
    cfn_models.Stack.create_resources = stack_create_resources  # type: ignore[method-assign]
