"""DetectStackSetDrift on orgdeploy's stack sets, then each drifted instance's changed properties."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import poll
from orgdeploy.aws.stacksets import FINISHED, StackSetsGateway
from orgdeploy.reporting.drift import DriftedResource, DriftReport, PropertyChange

PERMISSIONS = (
    Need(
        ("cloudformation:DetectStackSetDrift", "cloudformation:ListStackInstanceResourceDrifts"),
        DEPLOYERS,
        "status --drift",
    ),
)


def detect_drift(
    gateway: StackSetsGateway,
    names: list[str],
    *,
    preferences: dict[str, object],
    timeout: float,
    say: Callable[[str], None] = lambda _m: None,
) -> DriftReport:
    """One drift detection per stack set, started together and then waited for."""
    started = {}
    for name in names:
        started[name] = gateway.start("detect_stack_set_drift", StackSetName=name, OperationPreferences=preferences)
        say(f"detecting drift on {name} (operation {started[name]})")
    drifted: list[DriftedResource] = []
    failed: list[str] = []
    checked = 0
    for name, operation_id in started.items():
        status = _wait(gateway, name, operation_id, timeout)
        if status["Status"] != "SUCCEEDED":
            failed.append(
                f"{name}: operation {operation_id} {status['Status']} {status.get('StatusReason', '')}".rstrip()
            )
        instances = gateway.instances(name)
        checked += len(instances)
        for instance in gateway.drifted_instances(name):
            for resource in gateway.resource_drifts(name, operation_id, instance.account, instance.region):
                drifted.append(
                    DriftedResource(
                        stack_set=name,
                        account=instance.account,
                        region=instance.region,
                        logical_id=resource["LogicalResourceId"],
                        resource_type=resource["ResourceType"],
                        status=resource["StackResourceDriftStatus"],
                        changes=tuple(
                            PropertyChange(p["PropertyPath"], p["ExpectedValue"], p["ActualValue"], p["DifferenceType"])
                            for p in resource.get("PropertyDifferences") or []
                        ),
                    )
                )
    return DriftReport(tuple(names), checked, tuple(drifted), tuple(failed))


def _wait(gateway: StackSetsGateway, name: str, operation_id: str, timeout: float) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status = gateway.operation_status(name, operation_id)
        return status if status["Status"] in FINISHED else None

    return poll(finished, timeout=timeout)
