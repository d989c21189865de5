"""Retry policies, in one place: only named error codes are retried, with capped jittered backoff.

botocore's own retries are turned off (max_attempts=1) because its standard mode
also retries LimitExceededException, which would hide a real quota failure
behind minutes of backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity
from botocore.exceptions import ClientError

LOG = logging.getLogger("orgdeploy.retry")
T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "ConcurrentModificationException",
    }
)
# StackSets: another operation ran or runs; retrying later with the same OperationId is safe.
BUSY_CODES = frozenset({"OperationInProgressException", "StaleRequestException"})


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _log_retry(state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    LOG.info(
        "retrying %s after %s (attempt %d, waiting %.1fs)",
        _name(state),
        error_code(exc) if exc else "?",
        state.attempt_number,
        wait,
    )


def _name(state: tenacity.RetryCallState) -> str:
    fn = state.fn
    return getattr(fn, "__name__", "call") if fn else "call"


def call_with_retries(
    fn: Callable[..., T], *args: Any, codes: frozenset[str] = THROTTLING_CODES, attempts: int = 10, **kwargs: Any
) -> T:
    """Call fn, retrying only the given error codes."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: error_code(e) in codes),
        wait=tenacity.wait_random_exponential(multiplier=0.3, max=10),
        stop=tenacity.stop_after_attempt(attempts),
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(fn, *args, **kwargs)


def poll(check: Callable[[], T | None], *, timeout: float, first: float = 0.5, maximum: float = 10.0) -> T:
    """Call check until it returns a value; back off between calls; raise TimeoutError at timeout."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda value: value is None),
        wait=tenacity.wait_exponential(multiplier=first, min=first, max=maximum),
        stop=tenacity.stop_after_delay(timeout),
        retry_error_callback=lambda state: None,
    )
    result = retrying(check)
    if result is None:
        raise TimeoutError(f"still waiting after {timeout:.0f}s")
    return result
