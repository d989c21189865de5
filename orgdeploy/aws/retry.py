"""Retry policies, in one place: named error codes and transient failures, with capped jittered backoff.

botocore's own retries are turned off (max_attempts=1) because its standard mode
also retries LimitExceededException, which would hide a real quota failure
behind minutes of backoff. So this module owns what standard mode would have
retried (botocore/retries/standard.py): throttling, transient 5xx answers,
RequestTimeout, and connection errors. Pagination resumes from the page that
failed instead of starting again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import tenacity
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

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
# What botocore's standard mode treats as transient besides throttling.
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"}
)
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """A failure botocore's standard mode retries that is not throttling: 5xx, RequestTimeout, no connection."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(exc) in TRANSIENT_CODES or status in TRANSIENT_STATUS
    return False


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
    """Call fn, retrying the given error codes and transient failures."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(lambda e: error_code(e) in codes or is_transient(e)),
        wait=tenacity.wait_random_exponential(multiplier=0.3, max=10),
        stop=tenacity.stop_after_attempt(attempts),
        before_sleep=_log_retry,
        reraise=True,
    )
    return retrying(fn, *args, **kwargs)


def all_pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every item under key across the pages, each page retried on its own, so a retry resumes from its token.

    The tokens come from the operation's paginator model; PaginationConfig's PageSize maps to its limit key.
    """
    paginator = client.get_paginator(operation)
    page_size = (kwargs.pop("PaginationConfig", None) or {}).get("PageSize")
    if page_size is not None and paginator._limit_key:
        kwargs[paginator._limit_key] = page_size
    call = getattr(client, operation)
    items: list[Any] = []
    while True:
        page = call_with_retries(call, **kwargs)
        items.extend(page.get(key, []))
        tokens = [expression.search(page) for expression in paginator._output_token]
        if not any(tokens):
            return items
        kwargs.update({name: token for name, token in zip(paginator._input_token, tokens, strict=False) if token})


def poll_calls(seconds: float, *, first: float = 0.5, maximum: float = 10.0) -> int:
    """How many times poll() calls check while waiting that many seconds (the cost model's polls)."""
    calls, waited, wait = 1, 0.0, first
    while waited < seconds:
        waited += wait
        wait = min(wait * 2, maximum)
        calls += 1
    return calls


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
