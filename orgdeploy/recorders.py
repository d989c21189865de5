"""Who made a configuration recorder, judged from its name (pure)."""

from __future__ import annotations

from orgdeploy.inventory import RecorderOwner

SERVICE_LINKED_PREFIX = "AWSConfigurationRecorderFor"
CONTROL_TOWER_PREFIXES = ("aws-controltower-", "AWSControlTower")


def classify_recorder(name: str, *, orgdeploy_name: str) -> RecorderOwner:
    if name == orgdeploy_name:
        return "orgdeploy"
    if name.startswith(SERVICE_LINKED_PREFIX):
        return "service-linked"
    if name.startswith(CONTROL_TOWER_PREFIXES):
        return "control-tower"
    return "unknown"
