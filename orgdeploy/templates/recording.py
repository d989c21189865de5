"""The recorder's RecordingGroup and RecordingMode for the home and other Regions (pure)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orgdeploy.config.awsdata import GLOBAL_IAM_RESOURCE_TYPES
from orgdeploy.config.model import Recording, RecordingSettings

_FREQUENCY = {"continuous": "CONTINUOUS", "daily": "DAILY"}


def recording_group(recording: RecordingSettings, *, home: bool) -> dict[str, Any]:
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


def recorded_in_region(recording: RecordingSettings, *, home: bool) -> list[str] | None:
    """Explicit types recorded in a Region, or None when everything supported is."""
    group = recording_group(recording, home=home)
    if "ResourceTypes" in group:
        return list(group["ResourceTypes"])
    return None


def recording_mode(recording: RecordingSettings, *, home: bool) -> dict[str, Any]:
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


def profile_condition(profile: str) -> str:
    """The template's condition for a profile: sandbox-daily -> ProfileSandboxDaily."""
    return "Profile" + "".join(part[:1].upper() + part[1:] for part in profile.split("-"))


def by_profile(recording: Recording, part: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """A recorder property chosen by Fn::If on the RecordingProfile parameter, then on the home Region."""

    def per_region(settings: RecordingSettings) -> dict[str, Any]:
        return {"Fn::If": ["IsHomeRegion", part(settings, home=True), part(settings, home=False)]}

    value = per_region(recording)
    for profile in reversed(recording.profiles):
        value = {"Fn::If": [profile_condition(profile.name), per_region(profile), value]}
    return value


def as_api(value: Any) -> Any:
    """CloudFormation's PascalCase keys as the Config API's camelCase (RecordingGroup -> recordingGroup)."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: as_api(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_api(item) for item in value]
    return value


def _canonical_group(group: dict[str, Any]) -> dict[str, Any]:
    """The recording group with AWS's defaults filled in and lists sorted, so equal groups compare equal."""
    all_supported = bool(group.get("allSupported"))
    types = sorted(group.get("resourceTypes") or [])
    strategy = (group.get("recordingStrategy") or {}).get("useOnly") or (
        "ALL_SUPPORTED_RESOURCE_TYPES" if all_supported else "INCLUSION_BY_RESOURCE_TYPES"
    )
    return {
        "allSupported": all_supported,
        "includeGlobalResourceTypes": bool(group.get("includeGlobalResourceTypes")),
        "resourceTypes": types,
        "exclusionByResourceTypes": sorted((group.get("exclusionByResourceTypes") or {}).get("resourceTypes") or []),
        "recordingStrategy": strategy,
    }


def _canonical_mode(mode: dict[str, Any]) -> dict[str, Any]:
    overrides = sorted(
        (str(o.get("recordingFrequency")), tuple(sorted(o.get("resourceTypes") or [])))
        for o in mode.get("recordingModeOverrides") or []
    )
    return {
        "recordingFrequency": mode.get("recordingFrequency") or "CONTINUOUS",
        "recordingModeOverrides": [f"{types} {frequency}" for frequency, types in overrides],
    }


def recording_differences(
    recording: RecordingSettings, *, home: bool, group: dict[str, Any], mode: dict[str, Any]
) -> list[str]:
    """How a recorder's group and mode (as the Config API describes them) differ from what the config renders.

    Empty when they match; each entry reads "recordingGroup.allSupported is false, expected true".
    """
    pairs = [
        ("recordingGroup", _canonical_group(group), _canonical_group(as_api(recording_group(recording, home=home)))),
        ("recordingMode", _canonical_mode(mode), _canonical_mode(as_api(recording_mode(recording, home=home)))),
    ]
    found = []
    for prefix, actual, wanted in pairs:
        for key, expected in wanted.items():
            if actual[key] != expected:
                found.append(f"{prefix}.{key} is {_show(actual[key])}, expected {_show(expected)}")
    return found


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]" if value else "[]"
    return str(value)
