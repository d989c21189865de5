"""Drift detection for a stack instance: each resource's template properties against what its backend holds.

CloudFormation compares the properties the template sets with the resource's current ones and
reports each difference with its property path ("Detect unmanaged configuration changes to stacks
and resources"). The sandbox does so for the Config recorder and delivery channel, the resources
orgdeploy's recorder stacks hold; every other type is reported NOT_CHECKED, as AWS reports the
types drift detection does not support.
"""

from __future__ import annotations

import json
from typing import Any

from moto.cloudformation.models import Stack
from moto.config.models import config_backends

from orgdeploy.sandbox.cfn_models.config import camel

CHECKED = ("AWS::Config::ConfigurationRecorder", "AWS::Config::DeliveryChannel")


def _pascal(key: str) -> str:
    return key[:1].upper() + key[1:]


def _recorder_now(account: str, region: str, name: str) -> dict[str, Any] | None:
    recorder = config_backends[account][region].recorders.get(name)
    if recorder is None:
        return None
    described = recorder.to_dict()
    return {
        "roleARN": described.get("roleARN"),
        "recordingGroup": described.get("recordingGroup") or {},
        "recordingMode": getattr(recorder, "recording_mode", None) or {"recordingFrequency": "CONTINUOUS"},
    }


def _channel_now(account: str, region: str, name: str) -> dict[str, Any] | None:
    channel = config_backends[account][region].delivery_channels.get(name)
    return None if channel is None else channel.to_dict()


def _differences(path: str, expected: Any, actual: Any) -> list[dict[str, str]]:
    """Leaf differences of what the template sets; keys the template leaves out are not compared."""
    if isinstance(expected, dict):
        actual = actual if isinstance(actual, dict) else {}
        found = []
        for key, value in expected.items():
            found += _differences(f"{path}/{_pascal(key)}", value, actual.get(key))
        return found
    if isinstance(expected, list):
        if sorted(map(json.dumps, expected)) == sorted(map(json.dumps, actual or [])):
            return []
    elif expected == actual or (actual is None and expected in (False, [], "")):
        return []
    kind = "ADD" if actual is None else "NOT_EQUAL"
    return [
        {"PropertyPath": path, "ExpectedValue": json.dumps(expected), "ActualValue": json.dumps(actual),
         "DifferenceType": kind}
    ]  # fmt: skip


def _expected(resource: Any) -> dict[str, Any]:
    properties = {k: v for k, v in resource.properties.items() if k != "Name"}
    return dict(camel(properties))


def resource_drifts(stack: Stack, account: str, region: str, now: Any) -> list[dict[str, Any]]:
    """StackInstanceResourceDriftsSummary entries for every resource of the stack."""
    found = []
    for logical_id, resource in stack.resource_map._parsed_resources.items():
        if not hasattr(resource, "cfn_type"):
            continue  # parameters and pseudo-parameters share the map
        entry: dict[str, Any] = {
            "StackId": stack.stack_id,
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": resource.physical_resource_id,
            "ResourceType": resource.cfn_type,
            "Timestamp": now,
        }
        if resource.cfn_type not in CHECKED:
            found.append({**entry, "StackResourceDriftStatus": "NOT_CHECKED"})
            continue
        read = _recorder_now if resource.cfn_type == CHECKED[0] else _channel_now
        actual = read(account, region, resource.name)
        if actual is None:
            found.append({**entry, "StackResourceDriftStatus": "DELETED"})
            continue
        expected = _expected(resource)
        if resource.cfn_type == CHECKED[0]:
            expected = {"roleARN": expected.get("roleARN"), **expected}
        differences = _differences("", expected, actual)
        status = "MODIFIED" if differences else "IN_SYNC"
        found.append({**entry, "StackResourceDriftStatus": status, "PropertyDifferences": differences})
    return found
