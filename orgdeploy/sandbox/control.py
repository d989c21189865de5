"""The sandbox's own endpoint, beside moto's: read and move the clock, read what Config evaluates.

GET  /orgdeploy-sandbox/clock                  -> {"now": ..., "offset_seconds": ..., ...}
POST /orgdeploy-sandbox/clock {"advance": 3600} -> the same, after the evaluations that fell due ran
GET  /orgdeploy-sandbox/calls                  -> the calls answered since the last reset (call_ledger.py)
POST /orgdeploy-sandbox/calls                  -> the same, then the counts start again from zero

SandboxControl wraps moto's WSGI application and answers only these paths; everything else passes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.compliance.evaluations import advance_clock, current
from orgdeploy.sandbox.compliance.managed_rules import MANAGED_RULES, iso
from orgdeploy.sandbox.state import STATE
from orgdeploy.sandbox.throttle import CALLS, StartResponse, WsgiApp

PATH = "/orgdeploy-sandbox/clock"
CALLS_PATH = "/orgdeploy-sandbox/calls"
MAX_ADVANCE = 366 * 86400.0


def clock_status() -> dict[str, Any]:
    store = current()
    return {
        "now": iso(clock.now()),
        "offset_seconds": STATE.clock_offset,
        "member_rules": len(store.all_rules()),
        "compliance_events_put": store.events_put,
        "emulated_rules": sorted(MANAGED_RULES),
        "not_emulated_rules_deployed": sorted(store.not_emulated),
    }


def _answer(start_response: StartResponse, status: str, body: dict[str, Any]) -> Iterable[bytes]:
    encoded = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(encoded)))])
    return [encoded]


class SandboxControl:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == CALLS_PATH:
            found = {
                **CALLS.snapshot(),
                "aws_now": clock.aws_now(),
                "aws_busy_seconds": clock.aws_busy_seconds(),
                "time_scale": STATE.time_scale,
            }
            if environ.get("REQUEST_METHOD") == "POST":
                CALLS.reset()
            return _answer(start_response, "200 OK", found)
        if environ.get("PATH_INFO") != PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                seconds = float(json.loads(environ["wsgi.input"].read(length) or b"{}").get("advance", 0))
            except (ValueError, TypeError, AttributeError):
                return _answer(start_response, "400 Bad Request", {"error": 'expected {"advance": <seconds>}'})
            if not 0 <= seconds <= MAX_ADVANCE:
                return _answer(
                    start_response, "400 Bad Request", {"error": f"advance must be 0 to {MAX_ADVANCE:.0f} seconds"}
                )
            advance_clock(seconds)
        else:
            current().sync(force=True)
        return _answer(start_response, "200 OK", clock_status())
