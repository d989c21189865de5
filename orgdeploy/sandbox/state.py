"""Sandbox-only knobs and facts that moto's backends have no place for.

Everything else (org, accounts, stacks, recorders) lives in moto's own backends,
which stay the single source of truth.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class SandboxState:
    # Seconds a StackSet operation stays RUNNING before it finishes (0 = at once), on top of its instances.
    op_seconds: float = 0.0
    # Seconds each stack instance takes; an operation runs MaxConcurrent instances at a time per Region,
    # its Regions one after another or in parallel as asked (stacksets/targets.py: operation_seconds).
    instance_seconds: float = 0.0
    # Share of calls answered with the service's throttling error (0 to 1).
    throttle_rate: float = 0.0
    # Throttle by rate as well: token buckets per caller account and API (rate_limits.py).
    rate_limited: bool = False
    # Seed for the throttling and any other random choice, so runs repeat.
    seed: int = 0
    # (account id, Region) pairs whose opt-in Region is not enabled.
    disabled_regions: set[tuple[str, str]] = field(default_factory=set)
    # StackSets trusted access with Organizations: ENABLED, DISABLED or DISABLED_PERMANENTLY.
    organizations_access: str = "DISABLED"
    # (account id, role name) pairs that STS refuses to assume: an account without that role.
    unassumable_roles: set[tuple[str, str]] = field(default_factory=set)
    # Seconds the sandbox's clock runs ahead of real time (orgdeploy.sandbox.clock).
    clock_offset: float = 0.0
    # How many times faster than real time StackSets' clock runs while an operation is in flight
    # (clock.aws_now), so AWS-like instance times take minutes of emulated time, not of waiting.
    time_scale: float = 1.0
    # StackSets' clock: (real, emulated) epoch seconds when its rate last changed, and whether it runs fast.
    aws_anchor: tuple[float, float] | None = None
    aws_busy: bool = False
    # The emulated moment the next in-flight operation ends: the clock runs fast only up to it.
    aws_next_event: float | None = None
    # Emulated seconds during which some operation was in flight (ended spans; clock.aws_busy_seconds).
    aws_busy_total: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def region_enabled(self, account_id: str, region: str) -> bool:
        with self.lock:
            return (account_id, region) not in self.disabled_regions


# One sandbox per process: moto's backends are process-wide too.
STATE = SandboxState()


def reset_state() -> None:
    """Put every knob back to its default (moto's backends are reset separately)."""
    fresh = SandboxState()
    for name in (
        "op_seconds",
        "instance_seconds",
        "throttle_rate",
        "rate_limited",
        "seed",
        "disabled_regions",
        "organizations_access",
        "unassumable_roles",
        "clock_offset",
        "time_scale",
        "aws_anchor",
        "aws_busy",
        "aws_next_event",
        "aws_busy_total",
    ):
        setattr(STATE, name, getattr(fresh, name))
