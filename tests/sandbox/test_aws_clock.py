"""StackSets' clock runs STATE.time_scale times faster only while an operation is in flight."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("moto")

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.call_ledger import CallLedger
from orgdeploy.sandbox.state import STATE, reset_state


@pytest.fixture(autouse=True)
def _fresh_state() -> object:
    reset_state()
    yield
    reset_state()


def test_the_clock_is_real_time_until_an_operation_runs_then_fast_then_real_again() -> None:
    STATE.time_scale = 100.0
    start = clock.aws_now()
    assert abs(start - time.time()) < 0.5

    clock.set_aws_busy(True)
    time.sleep(0.2)
    busy = clock.aws_now() - start
    clock.set_aws_busy(False)
    after = clock.aws_now()
    time.sleep(0.2)
    idle = clock.aws_now() - after

    assert 15 <= busy <= 40  # 0.2 s of waiting is about 20 s of AWS time
    assert 0.15 <= idle <= 0.5  # and time between operations passes at its real length
    assert clock.aws_now() >= after  # never backwards
    assert abs(clock.aws_busy_seconds() - busy) < 1  # the in-flight time, counted once


def test_a_scale_of_one_leaves_the_clock_alone() -> None:
    clock.set_aws_busy(True)
    time.sleep(0.05)
    assert abs(clock.aws_now() - time.time()) < 0.05
    assert abs(clock.aws_busy_seconds() - 0.05) < 0.05


def test_the_ledger_counts_calls_by_api_and_member_account() -> None:
    ledger = CallLedger()
    ledger.management = "111111111111"
    ledger.record("111111111111", "cloudformation", "ListStackInstances")
    ledger.record("222222222222", "config", "DescribeConfigurationRecorders")
    ledger.record("222222222222", "config", "DescribeConfigurationRecorders", throttled=True)

    found = ledger.snapshot()

    assert found["total"] == 3
    assert found["by_api"] == {"cloudformation:ListStackInstances": 1, "config:DescribeConfigurationRecorders": 2}
    assert found["throttled"] == {"config:DescribeConfigurationRecorders": 1}
    assert (found["accounts_called"], found["member_calls"], found["member_accounts"]) == (1, 2, ["222222222222"])
    ledger.reset()
    assert ledger.snapshot()["total"] == 0


def test_the_clock_runs_fast_only_up_to_the_end_of_the_operation_in_flight() -> None:
    STATE.time_scale = 100.0
    start = clock.aws_now()
    clock.set_aws_busy(True, start + 5)  # an operation ends 5 emulated seconds from now
    time.sleep(0.3)  # 30 s at full speed, but no request noticed the end
    late = clock.aws_now() - start

    assert 5 <= late <= 6  # 5 s fast, then the 0.25 s after the end at its real length


def test_the_sandboxs_own_work_is_not_aws_time_on_a_scaled_clock() -> None:
    STATE.time_scale = 100.0
    clock.set_aws_busy(False)
    before = clock.aws_now()
    with clock.sandbox_work():
        time.sleep(0.2)  # deploying instances, which AWS does within the instances' own time
    assert clock.aws_now() - before < 0.1
