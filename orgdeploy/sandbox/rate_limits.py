"""Throttling by rate, as AWS throttles: a token bucket per caller account, service and API.

AWS publishes no request rates for the CloudFormation, AWS Config and Organizations APIs (AWS-FACTS:
"No TPS figures are published"); what people report is that describe and list calls throttle at a few
requests a second per account, and that calls which change state throttle sooner. So the buckets:

- reads (Describe*, List*, Get*, BatchGet*, Select*): 10 requests a second, bursts of 20;
- every other call (writes, and operations such as CreateStackInstances): 2 a second, bursts of 5;
- sts:AssumeRole, which fans out per account: 20 a second, bursts of 50;
- account:ListRegions and GetRegionOptStatus: 5 a second, bursts of 5, as the Account Management
  quotas publish them ("Quotas for AWS Account Management").

A bucket holds `burst` tokens, a call takes one, and tokens come back at `rate` a second; a call that
finds the bucket empty gets the service's throttling error (throttle.py renders it). Buckets are per
caller account, as AWS counts them, so orgdeploy's reads through every member account's role do not
share one bucket. Time is the process's monotonic clock.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Select")
READ_RATE = (10.0, 20.0)
WRITE_RATE = (2.0, 5.0)
SPECIAL_RATES: dict[tuple[str, str], tuple[float, float]] = {
    ("sts", "AssumeRole"): (20.0, 50.0),
    ("account", "ListRegions"): (5.0, 5.0),
    ("account", "GetRegionOptStatus"): (5.0, 5.0),
}

# REST services whose request path is the operation's name in lower camel case.
PATH_NAMED_SERVICES = frozenset({"account"})
_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")


def rate_for(service: str, action: str) -> tuple[float, float]:
    """(requests a second, burst) for one API."""
    if (service, action) in SPECIAL_RATES:
        return SPECIAL_RATES[(service, action)]
    return READ_RATE if action.startswith(READ_PREFIXES) else WRITE_RATE


def action_of(headers_target: str, body: bytes, *, service: str = "", path: str = "") -> str:
    """The API a request calls: X-Amz-Target for JSON protocols, Action= for query ones, the path for the
    REST services that name their operations there (the Account API's /listRegions); '' otherwise."""
    if headers_target:
        return headers_target.rsplit(".", 1)[-1]
    found = _ACTION.search(body)
    if found:
        return found.group(1).decode()
    if service in PATH_NAMED_SERVICES:
        name = path.strip("/").split("/", 1)[0]
        return name[:1].upper() + name[1:]
    return ""


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimits:
    """Token buckets keyed by (account, service, action)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, str], _Bucket] = {}
        self.throttled: dict[tuple[str, str], int] = {}

    def take(self, account: str, service: str, action: str) -> bool:
        """Whether the call may go ahead; False is a throttle (counted by service and action)."""
        rate, burst = rate_for(service, action)
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((account, service, action))
            if bucket is None:
                bucket = self._buckets[(account, service, action)] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return True
            self.throttled[(service, action)] = self.throttled.get((service, action), 0) + 1
            return False

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.throttled.clear()
