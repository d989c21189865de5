"""Rate-based throttling: a token bucket per caller account and API, at the documented rates."""

from __future__ import annotations

import pytest

pytest.importorskip("moto")

from orgdeploy.sandbox.rate_limits import RateLimits, action_of, rate_for
from tests.helpers import unretried_client


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_its_rate_per_account_and_api() -> None:
    clock = Clock()
    limits = RateLimits(clock)
    allowed = [limits.take("111111111111", "cloudformation", "DescribeStackSetOperation") for _ in range(25)]
    assert allowed == [True] * 20 + [False] * 5  # the burst of a read
    # Another account and another API have buckets of their own.
    assert limits.take("222222222222", "cloudformation", "DescribeStackSetOperation")
    assert limits.take("111111111111", "cloudformation", "ListStackInstances")
    clock.now += 0.5  # five tokens come back at 10 a second
    assert [limits.take("111111111111", "cloudformation", "DescribeStackSetOperation") for _ in range(6)] == [
        True
    ] * 5 + [False]
    assert limits.throttled[("cloudformation", "DescribeStackSetOperation")] == 6


def test_writes_are_slower_than_reads_and_assume_role_has_its_own_rate() -> None:
    assert rate_for("cloudformation", "CreateStackInstances") == (2.0, 5.0)
    assert rate_for("config", "DescribeConfigurationRecorders") == (10.0, 20.0)
    assert rate_for("sts", "AssumeRole") == (20.0, 50.0)


def test_the_action_comes_from_the_target_header_or_the_query_body() -> None:
    assert action_of("StarlingDoveService.DescribeConfigurationRecorders", b"") == "DescribeConfigurationRecorders"
    assert action_of("", b"Action=ListStackInstances&Version=2010-05-15") == "ListStackInstances"
    assert action_of("", b"Version=2010-05-15&Action=DescribeStackSetOperation") == "DescribeStackSetOperation"
    assert action_of("", b"") == ""
    # The Account API is REST: its operation is the path, /listRegions.
    assert action_of("", b"{}", service="account", path="/listRegions") == "ListRegions"
    assert action_of("", b"", service="s3", path="/bucket") == ""


def test_the_account_api_keeps_to_its_published_five_a_second() -> None:
    """Account Management quotas: ListRegions and GetRegionOptStatus, 5 a second with bursts of 5, per account."""
    assert rate_for("account", "ListRegions") == (5.0, 5.0)
    assert rate_for("account", "GetRegionOptStatus") == (5.0, 5.0)
    clock = [0.0]
    limits = RateLimits(clock=lambda: clock[0])
    assert [limits.take("111111111111", "account", "ListRegions") for _ in range(6)] == [True] * 5 + [False]
    assert limits.take("222222222222", "account", "ListRegions"), "each account has a bucket of its own"
    clock[0] += 0.2
    assert limits.take("111111111111", "account", "ListRegions")


def test_the_served_sandbox_throttles_a_burst_of_reads_with_the_services_error() -> None:
    from botocore.exceptions import ClientError

    from orgdeploy.sandbox.server import start_sandbox

    with start_sandbox(accounts=4, op_seconds=0, rate_limited=True, workloads=False) as sandbox:
        cfn = unretried_client("cloudformation", sandbox.endpoint_url)
        codes = []
        for _ in range(30):
            try:
                cfn.list_stack_sets()
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
        assert codes.count("ok") >= 20 and "Throttling" in codes


def test_the_served_sandbox_throttles_a_burst_of_list_regions_as_the_account_api_does() -> None:
    from botocore.exceptions import ClientError

    from orgdeploy.sandbox.server import start_sandbox

    with start_sandbox(accounts=4, op_seconds=0, rate_limited=True, workloads=False) as sandbox:
        account = unretried_client("account", sandbox.endpoint_url)
        codes = []
        for _ in range(12):
            try:
                account.list_regions()
                codes.append("ok")
            except ClientError as exc:
                codes.append(exc.response["Error"]["Code"])
        assert 5 <= codes.count("ok") <= 7 and "TooManyRequestsException" in codes, codes
