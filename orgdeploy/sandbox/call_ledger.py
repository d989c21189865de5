"""Every call the sandbox answered, counted by API and by caller account, for tests and benchmarks.

GET /orgdeploy-sandbox/calls reads the counts, POST resets them (control.py). A call answered with a
throttling error counts too, as AWS bills and rate-limits it.
"""

from __future__ import annotations

import threading
from typing import Any


class CallLedger:
    def __init__(self) -> None:
        self.management = ""  # calls by any other account are calls in member accounts
        self._lock = threading.Lock()
        self.by_api: dict[tuple[str, str], int] = {}
        self.by_account: dict[str, int] = {}
        self.throttled: dict[tuple[str, str], int] = {}

    def record(self, account: str, service: str, action: str, *, throttled: bool = False) -> None:
        key = (service or "?", action or "?")
        with self._lock:
            self.by_api[key] = self.by_api.get(key, 0) + 1
            self.by_account[account] = self.by_account.get(account, 0) + 1
            if throttled:
                self.throttled[key] = self.throttled.get(key, 0) + 1

    def reset(self) -> None:
        with self._lock:
            self.by_api.clear()
            self.by_account.clear()
            self.throttled.clear()

    def snapshot(self) -> dict[str, Any]:
        """{"total", "by_api": {"service:Action": n}, "throttled": {...}, "accounts_called", "member_calls",
        "member_accounts"}."""
        with self._lock:
            by_api = {f"{s}:{a}": n for (s, a), n in sorted(self.by_api.items())}
            throttled = {f"{s}:{a}": n for (s, a), n in sorted(self.throttled.items())}
            members = {a: n for a, n in self.by_account.items() if a and a != self.management}
        return {
            "total": sum(by_api.values()),
            "by_api": by_api,
            "throttled": throttled,
            "accounts_called": len(members),
            "member_calls": sum(members.values()),
            "member_accounts": sorted(members),
        }
