"""bootstrap under throttling, after SIGKILL at awkward moments, and without managed execution.

Each test ends by reading the organization with plain boto3 and comparing it
with the end state of an uninterrupted, unthrottled run (reference_state).
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    RECORDER_SET,
    REPO,
    ROLE_SET,
    OrgBoto,
    ServedSandbox,
    assert_converged,
    assert_no_duplicates,
    base_env,
    bootstrap_args,
    cli_command,
    explain,
    run_bootstrap,
    write_config,
)

pytestmark = pytest.mark.e2e


class RunningCli:
    """The CLI in a subprocess whose stderr lines can be waited for while it runs."""

    def __init__(self, args: list[str]) -> None:
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=base_env(),
            cwd=REPO,
        )
        self.stderr: list[str] = []
        self.stdout = ""
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        self.stdout = self.process.stdout.read()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line matching {pattern!r}:\n{''.join(self.stderr)[-4000:]}")
            if re.search(pattern, line):
                return line

    def wait(self, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        code = self.process.wait(timeout=timeout)
        self._out.join(10)
        self._err.join(10)
        return subprocess.CompletedProcess(self.process.args, code, self.stdout, "".join(self.stderr))

    def kill(self) -> float:
        """SIGKILL; returns the seconds it had run."""
        self.process.kill()
        self.wait(timeout=30)
        return time.monotonic() - self.started


def test_throttling_on_every_call_still_converges(
    tmp_path: Path, sandbox_factory: Callable[..., ServedSandbox], reference_state: dict[str, Any]
) -> None:
    sandbox = sandbox_factory(op_seconds=0.2, throttle_rate=0.3)
    config = write_config(tmp_path / "org")

    result = run_bootstrap(config, sandbox.endpoint_url, log_retries=True)

    assert result.returncode == 0, explain(result)
    # The run was throttled, and orgdeploy retried rather than failing.
    retried = [line for line in result.stderr.splitlines() if line.startswith("retry-log retrying")]
    assert len(retried) > 10, explain(result)
    assert any("Throttling" in line for line in retried), retried[:20]
    org = OrgBoto(sandbox.endpoint_url)
    assert_no_duplicates(org)
    assert org.snapshot() == reference_state  # which assert_converged checked


# Where to SIGKILL the first run: after so many seconds, or as soon as a `start <step>` line shows.
KILL_POINTS = [
    pytest.param("seconds", 2.5, id="after-2.5s"),
    pytest.param("seconds", 4.0, id="after-4s"),
    pytest.param("line", r"start\s+orgdeploy-recorder-create:", id="creating-recorder-stack-set"),
    pytest.param("line", r"start\s+recorder-create-home:", id="home-region-recorders"),
    pytest.param("line", r"start\s+recorder-create-regions-", id="other-region-recorders"),
]


@pytest.mark.parametrize(("kind", "when"), KILL_POINTS)
def test_rerun_after_sigkill_converges(
    kind: str,
    when: float | str,
    tmp_path: Path,
    sandbox_factory: Callable[..., ServedSandbox],
    reference_state: dict[str, Any],
) -> None:
    sandbox = sandbox_factory(op_seconds=1.5)
    config = write_config(tmp_path / "org")
    first = RunningCli(cli_command(*bootstrap_args(config, sandbox.endpoint_url)))
    if kind == "seconds":
        assert isinstance(when, float)
        time.sleep(when)
    else:
        first.wait_for_line(str(when))
    assert first.process.poll() is None, "the first run ended before it could be killed"
    first.kill()
    org = OrgBoto(sandbox.endpoint_url)

    again = run_bootstrap(config, sandbox.endpoint_url)

    assert again.returncode == 0, explain(again)
    assert_no_duplicates(org)
    assert org.snapshot() == reference_state  # which assert_converged checked
    for name in (ROLE_SET, RECORDER_SET):
        failed = [o for o in org.operations(name) if o["Status"] not in {"SUCCEEDED"}]
        assert not failed, (name, failed)


def test_without_managed_execution_operation_in_progress_is_waited_out(
    tmp_path: Path, sandbox_factory: Callable[..., ServedSandbox]
) -> None:
    """A new account's auto-deployment occupies the recorder stack set just as bootstrap wants it next."""
    op_seconds = 2.5
    sandbox = sandbox_factory(op_seconds=op_seconds)
    config = write_config(tmp_path / "org", **{"managed_execution: true": "managed_execution: false"})
    org = OrgBoto(sandbox.endpoint_url)
    run = RunningCli(cli_command(*bootstrap_args(config, sandbox.endpoint_url), log_retries=True))
    run.wait_for_line(r"start\s+recorder-create-home:")
    deadline = time.monotonic() + 20
    while not any(o["Status"] in {"RUNNING", "QUEUED"} for o in _operations(org, RECORDER_SET)):
        assert time.monotonic() < deadline, "the home-Region recorder operation never started"
        time.sleep(0.05)
    # Now the recorder stack set targets the root: a new account there is auto-deployed to it, and that
    # operation holds the stack set past the moment bootstrap starts the other Regions.
    organizations = org.client("organizations")
    status = organizations.create_account(AccountName="late-2", Email="late-2@example.com")["CreateAccountStatus"]
    account = status["AccountId"]

    result = run.wait()

    assert result.returncode == 0, explain(result)
    busy = [line for line in result.stderr.splitlines() if "after OperationInProgressException" in line]
    assert busy, explain(result)
    for name in (ROLE_SET, RECORDER_SET):
        assert org.client("cloudformation").describe_stack_set(StackSetName=name)["StackSet"]["ManagedExecution"] == {
            "Active": False
        }
    org.wait_for_operations([ROLE_SET, RECORDER_SET])
    assert account in org.active_members()
    assert_converged(org)
    assert_no_duplicates(org)


def _operations(org: OrgBoto, name: str) -> list[dict[str, Any]]:
    try:
        return org.operations(name)
    except org.client("cloudformation").exceptions.StackSetNotFoundException:
        return []
