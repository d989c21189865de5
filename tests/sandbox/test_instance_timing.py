"""An operation takes as long as its instances do: MaxConcurrent at a time per Region, Regions in turn or at once."""

from __future__ import annotations

import pytest

pytest.importorskip("moto")

from orgdeploy.sandbox.stacksets.model import Target
from orgdeploy.sandbox.stacksets.targets import operation_seconds, region_batch


def _targets(accounts: int, regions: list[str]) -> list[Target]:
    return [Target(f"{n:012d}", region) for region in regions for n in range(accounts)]


@pytest.mark.parametrize(
    ("preferences", "expected"),
    [
        ({}, 10 * 3 * 30.0),  # StackSets defaults: one account at a time, Regions in turn
        ({"RegionConcurrencyType": "PARALLEL"}, 10 * 30.0),
        ({"MaxConcurrentPercentage": 100, "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE"}, 3 * 30.0),
        (
            {
                "MaxConcurrentPercentage": 100,
                "RegionConcurrencyType": "PARALLEL",
                "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
            },
            30.0,
        ),
        # STRICT: no more in flight than the failures tolerated plus one: 10% of 10 is 1, so 2 at a time.
        (
            {"MaxConcurrentPercentage": 100, "FailureTolerancePercentage": 10, "RegionConcurrencyType": "PARALLEL"},
            5 * 30.0,
        ),
        ({"MaxConcurrentCount": 4, "FailureToleranceCount": 9, "RegionConcurrencyType": "PARALLEL"}, 3 * 30.0),
    ],
)
def test_operation_time_follows_the_preferences(preferences: dict[str, object], expected: float) -> None:
    assert operation_seconds(_targets(10, ["us-east-1", "eu-west-1", "ap-southeast-2"]), preferences, 30.0) == expected


def test_no_instance_time_and_no_targets_take_nothing() -> None:
    assert operation_seconds(_targets(10, ["us-east-1"]), {}, 0.0) == 0.0
    assert operation_seconds([], {"RegionConcurrencyType": "PARALLEL"}, 30.0) == 0.0
    assert region_batch({"MaxConcurrentPercentage": 1}, 10) == 1  # rounded down, never below one
