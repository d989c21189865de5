"""`orgdeploy sandbox serve` as users run it: its own process, read by boto3 and the AWS CLI, stopped by a signal."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from botocore.config import Config

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def orgdeploy(*args: str) -> list[str]:
    return [sys.executable, "-m", "orgdeploy", *args]


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@dataclass
class Served:
    process: subprocess.Popen[str]
    document: dict[str, Any]
    port: int


def read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            break
    stderr = process.stderr.read() if process.stderr and process.poll() is not None else ""
    raise AssertionError(f"no JSON line from the sandbox (exit {process.poll()}): {stderr}")


@pytest.fixture
def served() -> Iterator[Served]:
    port = free_port()
    process = subprocess.Popen(
        orgdeploy("sandbox", "serve", "--port", str(port), "--json", "--accounts", "4", "--op-seconds", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(),
        cwd=REPO,
        # Its own process group, so the test can prove nothing of it is left over.
        start_new_session=True,
    )
    try:
        document = json.loads(read_line(process, START_TIMEOUT))
        yield Served(process, document, port)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_answers_boto3_and_the_environment_then_stops_on_a_signal(served: Served, signum: int) -> None:
    doc = served.document
    endpoint = f"http://127.0.0.1:{served.port}"
    assert doc["endpoint_url"] == endpoint
    assert doc["environment"]["AWS_ENDPOINT_URL"] == endpoint
    assert doc["export_lines"] == [f"export {key}={value}" for key, value in doc["environment"].items()]
    summary = doc["summary"]
    assert {q["kind"] for q in summary["quirks"]} == {
        "foreign-recorder",
        "service-linked-role",
        "opt-in-region-disabled",
        "suspended",
    }

    # boto3 with the endpoint given explicitly.
    accounts = client(endpoint, "organizations").list_accounts()["Accounts"]
    assert sorted(a["Id"] for a in accounts) == sorted(a["id"] for a in summary["accounts"])

    # A fresh process configured only through the exported environment, as a pasted shell would be.
    env = {**base_env(), **doc["environment"]}
    script = "import boto3; print(boto3.client('sts').get_caller_identity()['Account'])"
    identity = subprocess.run(
        [sys.executable, "-c", script], env=env, check=False, capture_output=True, text=True, timeout=60
    )
    assert identity.stdout.strip() == summary["management_account_id"], identity.stderr

    pgid = os.getpgid(served.process.pid)
    served.process.send_signal(signum)
    assert served.process.wait(timeout=30) == 0
    assert served.process.stderr is not None
    stderr = served.process.stderr.read()
    assert "Sandbox stopped." in stderr
    assert "Traceback" not in stderr
    assert group_is_gone(pgid)
    assert port_is_closed(served.port)


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_the_aws_cli_lists_the_sandbox_accounts(served: Served) -> None:
    env = {**base_env(), **served.document["environment"]}
    listed = subprocess.run(
        ["aws", "organizations", "list-accounts", "--output", "json"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    ids = sorted(a["Id"] for a in json.loads(listed.stdout)["Accounts"])
    assert ids == sorted(a["id"] for a in served.document["summary"]["accounts"])


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run(
            orgdeploy("sandbox", "serve", "--port", str(port)),
            env=base_env(),
            cwd=tmp_path,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert f"port {port}" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_help_does_not_import_the_sandbox() -> None:
    script = (
        "import sys\n"
        "from orgdeploy.cli import app\n"
        "from orgdeploy.cli.common import run_app\n"
        "code = run_app(app, ['sandbox', 'serve', '--help'])\n"
        "print('heavy:', sorted(m for m in ('moto', 'boto3') if m in sys.modules), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=base_env(), check=False, capture_output=True, text=True, timeout=60
    )
    assert "--throttle-rate" in result.stdout
    assert "Ctrl-C" in result.stdout
    assert "heavy: []" in result.stderr


def test_without_the_sandbox_extra_the_error_says_what_to_install() -> None:
    script = (
        "import sys\n"
        "sys.modules['moto'] = None  # as if moto were not installed\n"
        "from orgdeploy.cli import app\n"
        "from orgdeploy.cli.common import run_app\n"
        "sys.exit(run_app(app, ['sandbox', 'serve']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, env=base_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'orgdeploy[sandbox]'" in result.stderr
    assert "Traceback" not in result.stderr


def _clock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        orgdeploy("sandbox", "clock", *args), env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_clock_moves_forward_on_the_served_sandbox_and_says_what_it_evaluates(served: Served) -> None:
    env = {**base_env(), **served.document["environment"]}
    assert "INCOMING_SSH_DISABLED" in served.document["emulated_rules"]
    shown = _clock(env, "--json")
    assert shown.returncode == 0, shown.stderr
    before = json.loads(shown.stdout)
    moved = _clock(env, "--advance", "1h30m")
    assert moved.returncode == 0, moved.stderr
    assert "(5400 s ahead of real time)" in moved.stdout
    after = json.loads(_clock(env, "--json").stdout)
    assert after["offset_seconds"] == before["offset_seconds"] + 5400
    assert after["now"] > before["now"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--advance", "soon"], 2, "--advance 'soon': expected a duration"),
        (["--advance", "0m"], 2, "longer than zero"),
        (["--endpoint-url", "http://127.0.0.1:9"], 1, "cannot reach the sandbox"),
    ],
)
def test_clock_errors_name_what_is_wrong(args: list[str], code: int, message: str) -> None:
    done = _clock({**base_env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert _clock(base_env()).returncode == 2  # no endpoint at all
