"""Throttling: the configured share of calls, seeded, with each service's own error."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from orgdeploy.sandbox.server import launch_server
from orgdeploy.sandbox.state import STATE, reset_state

DUMMY = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = launch_server()
    yield server.endpoint_url
    server.stop()


@pytest.fixture(autouse=True)
def fresh(endpoint: str) -> Iterator[None]:
    reset_state()
    yield
    reset_state()


def client(endpoint: str, service: str) -> Any:
    # One attempt, no retry (max_attempts counts retries only): retries would hide the throttling.
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", config=config, **DUMMY)


def throttled_calls(call: Callable[[], Any], count: int) -> list[int]:
    """Indices of the calls that were throttled."""
    hits = []
    for index in range(count):
        try:
            call()
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "Throttling", exc.response
            hits.append(index)
    return hits


def test_rate_is_roughly_the_configured_share_and_repeats_with_the_seed(endpoint: str) -> None:
    sts = client(endpoint, "sts")
    STATE.seed, STATE.throttle_rate = 42, 0.3
    first = throttled_calls(sts.get_caller_identity, 300)
    assert 60 <= len(first) <= 120

    STATE.seed = 43  # a new seed starts a new sequence...
    other = throttled_calls(sts.get_caller_identity, 300)
    STATE.seed = 42  # ...and going back replays the first one.
    again = throttled_calls(sts.get_caller_identity, 300)
    assert again == first
    assert other != first


def test_no_throttling_at_rate_zero(endpoint: str) -> None:
    STATE.throttle_rate = 0.0
    assert throttled_calls(client(endpoint, "sts").get_caller_identity, 50) == []


@pytest.mark.parametrize(
    ("service", "call", "code", "status"),
    [
        ("cloudformation", lambda c: c.list_stacks(), "Throttling", 400),
        ("sts", lambda c: c.get_caller_identity(), "Throttling", 400),
        ("iam", lambda c: c.list_roles(), "Throttling", 400),
        ("config", lambda c: c.describe_configuration_recorders(), "ThrottlingException", 400),
        ("organizations", lambda c: c.describe_organization(), "TooManyRequestsException", 400),
        ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
        ("account", lambda c: c.list_regions(), "TooManyRequestsException", 429),
        ("sns", lambda c: c.list_topics(), "ThrottlingException", 400),
        ("logs", lambda c: c.describe_log_groups(), "ThrottlingException", 400),
    ],
)
def test_each_service_throttles_with_its_own_error(
    endpoint: str, service: str, call: Callable[[Any], Any], code: str, status: int
) -> None:
    STATE.throttle_rate = 1.0
    with pytest.raises(ClientError) as throttled:
        call(client(endpoint, service))
    response = throttled.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)


def test_moto_api_is_never_throttled(endpoint: str) -> None:
    STATE.throttle_rate = 1.0
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
