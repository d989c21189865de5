"""status_report: what counts as healthy, and what a person is told about the rest."""

from __future__ import annotations

from orgdeploy.planning.inventory import (
    Account,
    Inventory,
    Operation,
    Organization,
    OrgUnit,
    StackInstance,
    StackSetState,
)
from orgdeploy.reporting.status import status_report

ORG = Organization(
    "o-abcdefghij",
    "111111111111",
    "r-ab12",
    (OrgUnit("r-ab12", "Root", None, "Root"),),
    (Account("111111111111", "management", "ACTIVE", "r-ab12"),),
)


def _inventory(*instances: StackInstance, operations: tuple[Operation, ...] = ()) -> Inventory:
    stack_set = StackSetState("orgdeploy-recorder", "arn", "", (), True, (), True, instances, operations)
    return Inventory("111111111111", ORG, "ENABLED", stack_sets=(stack_set,))


def test_current_and_suspended_instances_are_healthy() -> None:
    report = status_report(
        _inventory(
            StackInstance("222222222222", "us-east-1", "CURRENT", "SUCCEEDED"),
            StackInstance("333333333333", "us-east-1", "CURRENT", "SKIPPED_SUSPENDED_ACCOUNT"),
        )
    )
    assert report.healthy
    assert "2 instances" in report.to_text() and report.to_text().endswith("healthy")


def test_failed_instances_and_operations_in_flight_are_reported() -> None:
    reason = "ResourceStatusReason:MaxNumberOfConfigurationRecordersExceededException"
    report = status_report(
        _inventory(
            StackInstance("222222222222", "eu-west-1", "OUTDATED", "FAILED", reason),
            operations=(Operation("op-1", "CREATE", "RUNNING"),),
        )
    )
    assert not report.healthy
    text = report.to_text()
    assert f"222222222222 eu-west-1 OUTDATED/FAILED: {reason}" in text
    assert "operation op-1 CREATE is RUNNING" in text
    assert report.to_dict()["stack_sets"][0]["not_current"][0]["reason"] == reason
