"""The recorder's RecordingGroup and RecordingMode for the home and other Regions (pure)."""

from __future__ import annotations

from typing import Any

from orgdeploy.config.awsdata import GLOBAL_IAM_RESOURCE_TYPES
from orgdeploy.config.model import Recording

_FREQUENCY = {"continuous": "CONTINUOUS", "daily": "DAILY"}


def recording_group(recording: Recording, *, home: bool) -> dict[str, Any]:
    """CloudFormation RecordingGroup; global IAM types are recorded in the home Region only."""
    if recording.strategy == "all":
        return {"AllSupported": True, "IncludeGlobalResourceTypes": home}
    if recording.strategy == "include":
        types = list(recording.resource_types)
        if not home:
            types = [t for t in types if t not in GLOBAL_IAM_RESOURCE_TYPES]
        return {
            "AllSupported": False,
            "IncludeGlobalResourceTypes": False,
            "ResourceTypes": types,
            "RecordingStrategy": {"UseOnly": "INCLUSION_BY_RESOURCE_TYPES"},
        }
    excluded = list(recording.resource_types)
    if not home:
        # allSupported is off under exclusion, so the IAM types must be excluded by name.
        excluded += [t for t in GLOBAL_IAM_RESOURCE_TYPES if t not in excluded]
    return {
        "AllSupported": False,
        "IncludeGlobalResourceTypes": False,
        "ExclusionByResourceTypes": {"ResourceTypes": excluded},
        "RecordingStrategy": {"UseOnly": "EXCLUSION_BY_RESOURCE_TYPES"},
    }


def recorded_in_region(recording: Recording, *, home: bool) -> list[str] | None:
    """Explicit types recorded in a Region, or None when everything supported is."""
    group = recording_group(recording, home=home)
    if "ResourceTypes" in group:
        return list(group["ResourceTypes"])
    return None


def recording_mode(recording: Recording, *, home: bool) -> dict[str, Any]:
    mode: dict[str, Any] = {"RecordingFrequency": _FREQUENCY[recording.frequency]}
    overrides = []
    for override in recording.overrides:
        types = list(override.resource_types)
        if not home:
            types = [t for t in types if t not in GLOBAL_IAM_RESOURCE_TYPES]
        if recording.strategy == "include":
            recorded = set(recorded_in_region(recording, home=home) or [])
            types = [t for t in types if t in recorded]
        if types:
            overrides.append(
                {
                    "Description": override.description,
                    "RecordingFrequency": _FREQUENCY[override.frequency],
                    "ResourceTypes": types,
                }
            )
    if overrides:
        mode["RecordingModeOverrides"] = overrides
    return mode
