"""Resource import (IMPORT change sets) as AWS answers it for what orgdeploy deploys, and stacks found by ARN.

CloudFormation imports only the resource types its "Resource type support" list marks for import. The
AWS Config recorder and delivery channel are not among them (their schemas are the old kind, without
handlers, and their primary identifier is the read-only Id), and no other type of orgdeploy's templates
is imported by the sandbox, so an IMPORT change set is refused as AWS refuses a type it cannot import.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import cloudformation_backends

RESOURCES_TO_IMPORT_LIMIT = 200  # botocore ResourcesToImport max


def refuse_import(resources: list[dict[str, Any]]) -> ValidationError:
    """The error for an IMPORT change set: nothing the sandbox holds can be imported."""
    if not resources:
        return ValidationError(message="ResourcesToImport is required for an IMPORT change set")
    if len(resources) > RESOURCES_TO_IMPORT_LIMIT:
        return ValidationError(message=f"You can import at most {RESOURCES_TO_IMPORT_LIMIT} resources in one operation")
    kinds = ", ".join(sorted({str(r.get("ResourceType")) for r in resources}))
    return ValidationError(message=f"ResourceType {kinds} does not support resource import")


def find_stack(stack_id: str) -> Any:
    """A stack by its ARN, in whichever account and Region it lives; None when there is none."""
    parts = stack_id.split(":")
    if len(parts) < 6 or not parts[5].startswith("stack/") or not parts[4].isdigit():
        return None
    stack = cloudformation_backends[parts[4]][parts[3]].stacks.get(stack_id)
    return stack if stack is not None and stack.status != "DELETE_COMPLETE" else None
