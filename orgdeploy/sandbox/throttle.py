"""Throttle the sandbox's calls the way each AWS service throttles: by rate, and a random share.

With STATE.rate_limited, every call takes a token from its caller account's bucket for that API
(rate_limits.py) and is throttled when the bucket is empty.

ThrottleMiddleware wraps moto's WSGI application. For every request it draws
from a random.Random seeded with STATE.seed and, with probability
STATE.throttle_rate, answers with the service's own throttling error in the
service's protocol instead of passing the call on. Draws only happen while the
rate is above zero, so a run with the same seed and the same calls throttles
the same calls. moto's /moto-api/ is never throttled.
"""

from __future__ import annotations

import functools
import io
import json
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError

from orgdeploy.sandbox import state
from orgdeploy.sandbox.call_ledger import CallLedger
from orgdeploy.sandbox.rate_limits import RateLimits, action_of

# AWS's throttling answer per signing name: error code, HTTP status, message.
KNOWN_THROTTLING: dict[str, tuple[str, int, str]] = {
    "cloudformation": ("Throttling", 400, "Rate exceeded"),
    "sts": ("Throttling", 400, "Rate exceeded"),
    "iam": ("Throttling", 400, "Rate exceeded"),
    "config": ("ThrottlingException", 400, "Rate exceeded"),
    "organizations": ("TooManyRequestsException", 400, "AWS Organizations can't complete your request because "
                      "another request is already in progress. Try again later."),
    "s3": ("SlowDown", 503, "Please reduce your request rate."),
    "ec2": ("RequestLimitExceeded", 503, "Request limit exceeded."),
}  # fmt: skip
DEFAULT_THROTTLING = ("ThrottlingException", 400, "Rate exceeded")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {400: "Bad Request", 429: "Too Many Requests", 503: "Service Unavailable"}


def signing_service(environ: dict[str, Any]) -> str:
    """The service a SigV4-signed request is for (its credential scope), or ''."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0]
        return scope.split("/")[3].lower()
    except IndexError:
        return ""


@functools.cache
def _model(service: str) -> Any:
    try:
        return botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return None


def throttling_error(service: str) -> tuple[str, int, str, str]:
    """(code, HTTP status, message, protocol) of the service's throttling answer."""
    model = _model(service) if service else None
    protocol = str(model.metadata.get("protocol", "json")) if model is not None else "json"
    if service in KNOWN_THROTTLING:
        return (*KNOWN_THROTTLING[service], protocol)
    if model is not None:
        for shape_name in model.shape_names:
            shape = model.shape_for(shape_name)
            if shape.metadata.get("retryable", {}).get("throttling"):
                status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
                return shape_name, status, "Rate exceeded", protocol
    code, status, message = DEFAULT_THROTTLING
    return code, 429 if protocol == "rest-json" else status, message, protocol


def render(service: str) -> tuple[int, list[tuple[str, str]], bytes]:
    code, status, message, protocol = throttling_error(service)
    request_id = str(uuid.uuid4())
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "rest-xml":
        body = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        headers.append(("Content-Type", "application/xml"))
    else:
        payload = {"message": message} if protocol == "rest-json" else {"__type": code, "message": message}
        body = json.dumps(payload)
        version = _model(service).metadata.get("jsonVersion", "1.1") if _model(service) is not None else "1.1"
        content_type = "application/json" if protocol == "rest-json" else f"application/x-amz-json-{version}"
        headers += [("Content-Type", content_type), ("x-amzn-ErrorType", code)]
    encoded = body.encode("utf-8")
    headers.append(("Content-Length", str(len(encoded))))
    return status, headers, encoded


def caller_account(environ: dict[str, Any]) -> str:
    """The account of a SigV4-signed request's access key, or ''."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        access_key = auth.split("Credential=", 1)[1].split("/", 1)[0]
    except IndexError:
        return ""
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(access_key))


# Calls throttled by rate, by (service, action), since the sandbox started.
RATE_LIMITS = RateLimits()
# Every call, by API and by caller account (GET /orgdeploy-sandbox/calls).
CALLS = CallLedger()


class ThrottleMiddleware:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._rng: random.Random | None = None
        self._seed: int | None = None

    def _over_rate(self, caller: tuple[str, str, str]) -> bool:
        """Whether the caller's bucket for this API is empty."""
        account, service, action = caller
        if not state.STATE.rate_limited or not action or not service:
            return False
        return not RATE_LIMITS.take(account, service, action)

    def _throttle(self) -> bool:
        rate = state.STATE.throttle_rate
        if rate <= 0:
            return False
        with self._lock:
            if self._rng is None or self._seed != state.STATE.seed:
                self._seed = state.STATE.seed
                self._rng = random.Random(self._seed)
            return self._rng.random() < rate

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith(("/moto-api", "/orgdeploy-sandbox")):
            return self.app(environ, start_response)
        caller = _identify(environ)
        throttled = self._over_rate(caller) or self._throttle()
        CALLS.record(caller[0], caller[1], _label(environ, caller[2]), throttled=throttled)
        if not throttled:
            return self.app(environ, start_response)
        # Read the unused body so a keep-alive connection stays in step.
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:
            environ["wsgi.input"].read(length)
        status, headers, body = render(signing_service(environ))
        start_response(f"{status} {_REASONS.get(status, 'Error')}", headers)
        return [body]


def _identify(environ: dict[str, Any]) -> tuple[str, str, str]:
    """(caller account, service, action) of a request; its body is read and put back for the app."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    service = signing_service(environ)
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    return (
        caller_account(environ),
        service,
        action_of(target, body, service=service, path=str(environ.get("PATH_INFO", ""))),
    )


def _label(environ: dict[str, Any], action: str) -> str:
    """The action, or for REST protocols without one the method and path, e.g. PUT /bucket."""
    if action:
        return action
    return f"{environ.get('REQUEST_METHOD', '')} /{str(environ.get('PATH_INFO', '')).strip('/').split('/')[0]}"
