"""Every gateway's PERMISSIONS, gathered: the IAM policy `orgdeploy permissions` prints."""

from __future__ import annotations

from orgdeploy.aws import (
    buckets,
    census,
    compliance,
    drift,
    events_log,
    guard,
    org_setup,
    organizations,
    quotas,
    recorders,
    stacks,
    stacksets,
)
from orgdeploy.aws.permissions import Need
from orgdeploy.aws.stack_resources import handler_needs

GATEWAYS = (
    organizations, stacksets, stacks, census, recorders, drift, guard, quotas, org_setup, buckets, events_log,
    compliance,
)  # fmt: skip


def all_needs() -> list[Need]:
    return [*(need for module in GATEWAYS for need in module.PERMISSIONS), *handler_needs()]
