"""Every gateway's PERMISSIONS, gathered: the IAM policy `orgdeploy permissions` prints."""

from __future__ import annotations

from orgdeploy.aws import (
    adoption,
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


def all_needs(*, adopts: bool = False) -> list[Need]:
    """What every role needs; adopts adds what adopting recorders takes (existing_recorder: adopt)."""
    extra = adoption.PERMISSIONS if adopts else ()
    return [*(need for module in GATEWAYS for need in module.PERMISSIONS), *extra, *handler_needs()]
