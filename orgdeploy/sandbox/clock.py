"""The sandbox's clock: real time plus an offset that only moves forward.

AWS Config runs periodic rules on a schedule and change-triggered rules some time after a change;
a test or a user moves this clock forward (`orgdeploy sandbox clock --advance 6h`) instead of
waiting, and the evaluations due in between run at once.
"""

from __future__ import annotations

import time

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
