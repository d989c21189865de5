"""Progress for long runs: a live table on a terminal, timestamped lines otherwise, silence for JSON."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from orgdeploy.planning.plan import Step, StepResult


class LineReporter:
    """Plain timestamped lines, for CI logs."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self._lock = threading.Lock()
        self._last: dict[str, tuple[int, int]] = {}
        self._waited: dict[str, int] = {}

    def log(self, message: str) -> None:
        with self._lock:
            self.stream.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n")
            self.stream.flush()

    def step_started(self, step: Step) -> None:
        self.log(f"start  {step.id}: {step.description}")

    def step_progress(self, step: Step, done: int, total: int) -> None:
        if self._last.get(step.id) != (done, total) and total:
            self._last[step.id] = (done, total)
            self.log(f"       {step.id}: {done}/{total} instances done")

    def step_waiting(self, step: Step, status: str, seconds: float) -> None:
        # A line a minute: a wave of thousands of instances can run for many minutes between listings.
        minutes = int(seconds // 60)
        if minutes > self._waited.get(step.id, 0):
            self._waited[step.id] = minutes
            self.log(f"       {step.id}: {status} for {minutes} min")

    def step_finished(self, result: StepResult) -> None:
        word = {"succeeded": "done  ", "failed": "FAILED", "blocked": "skip  "}[result.outcome]
        self.log(f"{word} {result.step.id} ({result.seconds:.1f}s) {result.message}")
        for failure in result.failures:
            self.log(f"       {failure.account} {failure.region} {failure.status}: {failure.reason}")

    def close(self) -> None:
        return None


class SilentReporter:
    def log(self, message: str) -> None:
        return None

    def step_started(self, step: Step) -> None:
        return None

    def step_progress(self, step: Step, done: int, total: int) -> None:
        return None

    def step_waiting(self, step: Step, status: str, seconds: float) -> None:
        return None

    def step_finished(self, result: StepResult) -> None:
        return None

    def close(self) -> None:
        return None


class LiveReporter:
    """A rich Live table of steps, their status and instances done out of total."""

    def __init__(self, steps: tuple[Step, ...]) -> None:
        from rich.console import Console
        from rich.live import Live

        self._console = Console(stderr=True)
        self._rows: dict[str, list[str]] = {s.id: [s.id, "waiting", "", s.description] for s in steps}
        self._lock = threading.Lock()
        self._live = Live(self._table(), console=self._console, refresh_per_second=4, transient=False)
        self._live.start()

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold")
        for column in ("step", "status", "instances", "what"):
            table.add_column(column)
        for row in self._rows.values():
            word = row[1].split(" ")[0]
            style = {"failed": "red", "done": "green", "blocked": "yellow", "running": "cyan", "queued": "cyan"}.get(
                word, ""
            )
            table.add_row(*row, style=style)
        return table

    def _update(self, step_id: str, status: str | None = None, progress: str | None = None) -> None:
        with self._lock:
            row = self._rows.setdefault(step_id, [step_id, "", "", ""])
            if status is not None:
                row[1] = status
            if progress is not None:
                row[2] = progress
            self._live.update(self._table())

    def log(self, message: str) -> None:
        self._console.log(message)

    def step_started(self, step: Step) -> None:
        self._update(step.id, "running")

    def step_progress(self, step: Step, done: int, total: int) -> None:
        self._update(step.id, progress=f"{done}/{total}" if total else "pending")

    def step_waiting(self, step: Step, status: str, seconds: float) -> None:
        self._update(step.id, f"{status.lower()} {int(seconds // 60)}m{int(seconds % 60):02d}s")

    def step_finished(self, result: StepResult) -> None:
        self._update(result.step.id, {"succeeded": "done", "failed": "failed", "blocked": "blocked"}[result.outcome])

    def close(self) -> None:
        self._live.stop()


class SwitchableReporter:
    """Forwards to one reporter, which can be swapped (plain lines while planning, a live table after "yes")."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def switch_to(self, target: Any) -> None:
        self.target.close()
        self.target = target

    def log(self, message: str) -> None:
        self.target.log(message)

    def step_started(self, step: Step) -> None:
        self.target.step_started(step)

    def step_progress(self, step: Step, done: int, total: int) -> None:
        self.target.step_progress(step, done, total)

    def step_waiting(self, step: Step, status: str, seconds: float) -> None:
        self.target.step_waiting(step, status, seconds)

    def step_finished(self, result: StepResult) -> None:
        self.target.step_finished(result)

    def close(self) -> None:
        self.target.close()
