"""CloudFormation resource import (IMPORT change sets), which moto does not know.

CreateChangeSet with ChangeSetType IMPORT is checked as CloudFormation checks it ("Bringing existing
resources into CloudFormation management"): every resource to import is in the template with its
type, the type supports import, its identifier is the type's primary identifier, it carries a
DeletionPolicy, it exists, and no other stack holds it; a new stack's template holds only the
resources being imported. ExecuteChangeSet then makes the stack through moto's own code, while the
sandbox's models take the named objects as they are instead of putting them (an import changes no
resource), and the stack ends IMPORT_COMPLETE.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import yaml
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, cloudformation_backends
from moto.config.models import config_backends

from orgdeploy.templates.pack_remediation import CfnLoader

# The types orgdeploy imports, with the primaryIdentifier of their resource schemas.
IMPORTABLE = {"AWS::Config::ConfigurationRecorder": "Name", "AWS::Config::DeliveryChannel": "Name"}
_COLLECTIONS = {"AWS::Config::ConfigurationRecorder": "recorders", "AWS::Config::DeliveryChannel": "delivery_channels"}
RESOURCES_TO_IMPORT_LIMIT = 200  # botocore ResourcesToImport max

_importing = threading.local()


def is_importing(resource_type: str, name: str) -> bool:
    """Whether a model's create is an import of this object (the model must then leave it as it is)."""
    return (resource_type, name) in getattr(_importing, "objects", frozenset())


@contextlib.contextmanager
def _importing_objects(objects: set[tuple[str, str]]) -> Iterator[None]:
    _importing.objects = frozenset(objects)
    try:
        yield
    finally:
        _importing.objects = frozenset()


# change set id -> {logical id: (type, physical name)}
_IMPORTS: dict[str, dict[str, tuple[str, str]]] = {}


def _refuse(message: str) -> ValidationError:
    return ValidationError(message=message)


def check_import(
    backend: CloudFormationBackend, *, stack_name: str, template: str, resources: list[dict[str, Any]]
) -> dict[str, tuple[str, str]]:
    """What CloudFormation refuses before it makes an IMPORT change set; the imports by logical id."""
    if not resources:
        raise _refuse("ResourcesToImport is required for an IMPORT change set")
    if len(resources) > RESOURCES_TO_IMPORT_LIMIT:
        raise _refuse(f"You can import at most {RESOURCES_TO_IMPORT_LIMIT} resources in one operation")
    body = yaml.load(template, Loader=CfnLoader)
    declared: dict[str, Any] = (body or {}).get("Resources") or {}
    live = [s for s in backend.stacks.values() if s.name == stack_name and s.status != "DELETE_COMPLETE"]
    held = set(live[0].resource_map) if live and live[0].status != "REVIEW_IN_PROGRESS" else set()
    imports: dict[str, tuple[str, str]] = {}
    for resource in resources:
        logical, kind = resource["LogicalResourceId"], resource["ResourceType"]
        identifier = resource.get("ResourceIdentifier") or {}
        spec = declared.get(logical)
        if spec is None or spec.get("Type") != kind:
            raise _refuse(f"Resource {logical} of type {kind} to import is not in the template")
        if kind not in IMPORTABLE:
            raise _refuse(f"ResourceType {kind} does not support resource import")
        if set(identifier) != {IMPORTABLE[kind]}:
            raise _refuse(f"ResourceIdentifier of {logical} must be exactly {{{IMPORTABLE[kind]}}}")
        if "DeletionPolicy" not in spec:
            raise _refuse(f"The following resource(s) must have a DeletionPolicy attribute to be imported: [{logical}]")
        name = str(identifier[IMPORTABLE[kind]])
        if name not in getattr(config_backends[backend.account_id][backend.region_name], _COLLECTIONS[kind]):
            raise _refuse(f"Resource of type '{kind}' with identifier '{name}' does not exist here")
        holder = _stack_holding(backend, kind, name)
        if holder is not None:
            raise _refuse(f"Resource of type '{kind}' with identifier '{name}' already exists in stack {holder}")
        imports[logical] = (kind, name)
    others = set(declared) - set(imports) - held
    if others:
        raise _refuse(
            "An IMPORT change set cannot create or change other resources; the template also declares: "
            + ", ".join(sorted(others))
        )
    return imports


def _stack_holding(backend: CloudFormationBackend, kind: str, name: str) -> str | None:
    for stack in backend.stacks.values():
        if stack.status in {"DELETE_COMPLETE", "REVIEW_IN_PROGRESS"}:
            continue
        for logical in stack.resource_map:
            spec = stack.resource_map._resource_json_map.get(logical, {})
            made = stack.resource_map[logical]
            if spec.get("Type") == kind and getattr(made, "physical_resource_id", None) == name:
                return str(stack.stack_id)
    return None


def remember(change_set_id: str, imports: dict[str, tuple[str, str]]) -> None:
    _IMPORTS[change_set_id] = imports


def is_import(change_set_id: str) -> bool:
    return change_set_id in _IMPORTS


def execute_import(backend: CloudFormationBackend, change_set_id: str) -> None:
    """Make the stack's resources from the objects that are there, and end IMPORT_COMPLETE."""
    change_set = backend.change_sets[change_set_id]
    stack = backend.stacks[change_set.stack_id]
    imports = _IMPORTS.pop(change_set_id)
    stack._add_stack_event("IMPORT_IN_PROGRESS", resource_status_reason="User Initiated")
    with _importing_objects(set(imports.values())):
        change_set.apply()
    for logical, (kind, name) in sorted(imports.items()):
        stack._add_stack_event(
            "IMPORT_COMPLETE", resource_status_reason=f"Resource {kind} {name} imported as {logical}"
        )
    stack._add_stack_event("IMPORT_COMPLETE")
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack.status = "IMPORT_COMPLETE"
    stack.template = change_set.template


def find_stack(stack_id: str) -> Any:
    """A stack by its ARN, in whichever account and Region it lives; None when there is none."""
    parts = stack_id.split(":")
    if len(parts) < 6 or not parts[5].startswith("stack/") or not parts[4].isdigit():
        return None
    stack = cloudformation_backends[parts[4]][parts[3]].stacks.get(stack_id)
    return stack if stack is not None and stack.status != "DELETE_COMPLETE" else None
