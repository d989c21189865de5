"""What watching one StackSet operation costs: its polls, the results listed at the end, and progress listings
that the operation's time pays for, a page of results per progress_every (docs/orchestration.md)."""

from __future__ import annotations

import io
import math
import types
from typing import Any

import pytest

from orgdeploy.planning.inventory import OperationResult
from orgdeploy.planning.plan import Step
from orgdeploy.running import executor as executor_module
from orgdeploy.running.executor import Executor, ExecutorSettings
from orgdeploy.running.progress import LineReporter, SilentReporter


class ClockedStackSets:
    """An operation of `instances` instances that ends after `checks` status checks, one clock second apart."""

    def __init__(self, instances: int, checks: int) -> None:
        self.instances, self.checks = instances, checks
        self.now, self.status_calls, self.result_pages, self.listed_at = 0.0, 0, 0, []

    def monotonic(self) -> float:
        return self.now

    def start(self, call: str, **args: Any) -> str:
        return str(args["OperationId"])

    def operation_status(self, name: str, operation_id: str) -> dict[str, Any]:
        self.status_calls += 1
        self.now += 1.0
        return {"Status": "SUCCEEDED" if self.status_calls >= self.checks else "RUNNING"}

    def results(self, name: str, operation_id: str) -> list[OperationResult]:
        self.result_pages += max(1, math.ceil(self.instances / 100))
        self.listed_at.append(self.now)
        return [OperationResult(f"{n:012d}", "us-east-1", "SUCCEEDED", "") for n in range(self.instances)]


def _watch(
    monkeypatch: pytest.MonkeyPatch, instances: int, checks: int, expected: int, reporter: Any = None
) -> ClockedStackSets:
    stacksets = ClockedStackSets(instances, checks)
    monkeypatch.setattr(executor_module, "time", types.SimpleNamespace(monotonic=stacksets.monotonic))
    watcher = Executor.__new__(Executor)
    watcher.stacksets = stacksets  # type: ignore[assignment]
    watcher.reporter = reporter or SilentReporter()
    watcher.settings = ExecutorSettings(poll_first=0.001, poll_max=0.001, progress_every=1.0)
    step = Step(
        id="recorders",
        action="create_stack_instances",
        target="orgdeploy-recorder",
        description="recorders",
        operation_id="op-1",
        expected_instances=expected,
    )
    result = watcher.operation(step, "create_stack_instances", StackSetName="orgdeploy-recorder")
    assert result.outcome == "succeeded"
    return stacksets


def test_progress_listings_wait_until_the_operations_time_has_paid_for_their_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 1,000 instances are 10 pages: a listing every 10 s of a 35 s operation, and one at the end.
    watched = _watch(monkeypatch, instances=1000, checks=35, expected=1000)
    assert watched.listed_at == [10.0, 20.0, 30.0, 35.0]
    # Polls, the final listing, and a page per second of the operation: never more.
    assert watched.status_calls + watched.result_pages <= 35 + 10 + 35


def test_an_operation_shorter_than_its_listing_reads_its_results_once(monkeypatch: pytest.MonkeyPatch) -> None:
    watched = _watch(monkeypatch, instances=16000, checks=120, expected=16000)
    assert watched.listed_at == [120.0]
    assert watched.result_pages == 160


def test_a_listing_of_unknown_size_is_first_read_after_one_page_is_paid_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the plan's count, the first listing learns the size, and the next ones wait for their pages.
    watched = _watch(monkeypatch, instances=300, checks=12, expected=0)
    assert watched.listed_at == [1.0, 6.0, 9.0, 12.0]


def test_between_listings_the_log_says_a_minute_at_a_time_that_the_operation_still_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    _watch(monkeypatch, instances=16000, checks=150, expected=16000, reporter=LineReporter(log))
    lines = [line.split(" ", 1)[1] for line in log.getvalue().splitlines()]
    assert lines == [
        "       recorders: RUNNING for 1 min",
        "       recorders: RUNNING for 2 min",
        "       recorders: 16000/16000 instances done",
    ]
