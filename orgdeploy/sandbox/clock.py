"""The sandbox's clocks: Config's (real time plus an offset that only moves forward) and StackSets'.

AWS Config runs periodic rules on a schedule and change-triggered rules some time after a change;
a test or a user moves this clock forward (`orgdeploy sandbox clock --advance 6h`) instead of
waiting, and the evaluations due in between run at once.

StackSets' clock (aws_now) is real time, except that while any StackSet operation is in flight it
runs STATE.time_scale times faster. Instances can then take as long as they do on AWS (minutes)
while a run waits seconds, and every StackSets timestamp is on that clock: the time between
operations (orgdeploy's own work) counts at its real length, the time operations take at AWS's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from orgdeploy.sandbox.state import STATE


def now() -> float:
    """Epoch seconds on the sandbox's clock."""
    return time.time() + STATE.clock_offset


def move_forward(seconds: float) -> float:
    """Move the clock forward; returns the new time. Nothing else runs here (see evaluations.advance_clock)."""
    if seconds < 0:
        raise ValueError(f"the sandbox's clock only moves forward, not by {seconds} s")
    with STATE.lock:
        STATE.clock_offset += seconds
    return now()


def aws_now() -> float:
    """Epoch seconds on StackSets' clock."""
    with STATE.lock:
        real = time.time()
        if STATE.aws_anchor is None:
            return real
        anchor_real, anchor_aws = STATE.aws_anchor
        if not STATE.aws_busy:
            return anchor_aws + (real - anchor_real)
        fast = anchor_aws + (real - anchor_real) * STATE.time_scale
        event = STATE.aws_next_event
        if event is None or fast <= event:
            return fast
        # Fast only up to the moment the next operation ends; the time after it, until a request
        # notices, passes at its real length (so a slow request does not stretch AWS's time).
        return event + (real - anchor_real - (event - anchor_aws) / STATE.time_scale)


def set_aws_busy(busy: bool, next_event: float | None = None) -> None:
    """Called after every advance of the operations: StackSets' clock runs fast only while one is in flight."""
    with STATE.lock:
        now = aws_now()
        if busy == STATE.aws_busy and next_event == STATE.aws_next_event:
            return
        if STATE.aws_busy and STATE.aws_anchor is not None:
            STATE.aws_busy_total += now - STATE.aws_anchor[1]
        STATE.aws_anchor = (time.time(), now)
        STATE.aws_busy = busy
        STATE.aws_next_event = next_event if busy else None


def aws_busy_seconds() -> float:
    """Emulated seconds during which at least one StackSet operation was in flight, so far."""
    with STATE.lock:
        running = aws_now() - STATE.aws_anchor[1] if STATE.aws_busy and STATE.aws_anchor is not None else 0.0
        return STATE.aws_busy_total + running


@contextlib.contextmanager
def sandbox_work() -> Iterator[None]:
    """The sandbox deploying an operation's instances: on AWS that is inside the instances' time, so with a
    scaled clock, StackSets' clock stands still meanwhile (every reader waits on STATE.lock, so it never
    goes backwards)."""
    with STATE.lock:
        started = time.time()
        try:
            yield
        finally:
            if STATE.time_scale != 1.0:
                real, emulated = STATE.aws_anchor or (started, started)
                STATE.aws_anchor = (real + time.time() - started, emulated)
