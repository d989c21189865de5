"""Run the emulated organization as a moto server on loopback.

The server is moto's ThreadedMotoServer with ThrottleMiddleware around its WSGI
app, and ConfigCallGate (service control policies and CloudTrail events for
Config calls) inside; the StackSet realism layer and the Account API live in
moto's backends and URL tables, so the in-process `--sandbox` mode and `orgdeploy sandbox serve`
both reach them the same way: boto3 -> endpoint_url -> moto server.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, TextIO

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from orgdeploy.sandbox.compliance.api import install_compliance_api
from orgdeploy.sandbox.config_calls import ConfigCallGate
from orgdeploy.sandbox.control import SandboxControl
from orgdeploy.sandbox.iam_enforcement import DenialsAsAwsSendsThem
from orgdeploy.sandbox.moto_fixes import install_moto_fixes
from orgdeploy.sandbox.org.account_api import install_account_api
from orgdeploy.sandbox.org.scp import install_scp_rules
from orgdeploy.sandbox.stacksets.responses import install_stackset_realism
from orgdeploy.sandbox.state import STATE, reset_state
from orgdeploy.sandbox.throttle import CALLS, RATE_LIMITS, ThrottleMiddleware

if TYPE_CHECKING:
    from orgdeploy.sandbox.org.seed import SeedSummary

ACCESS_KEY = "testing"
SECRET_KEY = "testing"

# Ids of the sandboxes started and not yet stopped in this process.
_RUNNING: set[int] = set()


class SandboxServer(ThreadedMotoServer):
    """ThreadedMotoServer behind SandboxControl and ThrottleMiddleware, whose bind errors surface."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(ip_address=host, port=port, verbose=False)
        self._startup_error: BaseException | None = None

    def _server_entry(self) -> None:
        try:
            moto_app = DomainDispatcherApplication(create_backend_app)
            app = SandboxControl(ThrottleMiddleware(DenialsAsAwsSendsThem(ConfigCallGate(moto_app))))
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        except BaseException as exc:  # e.g. the port is taken: moto's start() would wait for ever
            self._startup_error = exc
            self._server_ready_event.set()
            return
        self._server_ready_event.set()
        self._server.serve_forever()

    def start(self) -> None:
        super().start()
        error = self._startup_error
        if isinstance(error, SystemExit):
            # werkzeug reports a taken port by printing and exiting; the caller gets an exception instead.
            raise OSError(f"cannot serve on {self._ip_address}:{self._port}: the address is in use or unavailable")
        if error is not None:
            raise error

    @property
    def endpoint_url(self) -> str:
        host, port = self.get_host_and_port()
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def launch_server(*, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
    """Install the realism layer and the Account API, then serve moto on host:port (0 = a free port).

    Neither resets moto nor seeds anything; start_sandbox() does both.
    """
    install_stackset_realism()
    install_account_api()
    install_compliance_api()
    install_moto_fixes()
    install_scp_rules()
    # One line per request would bury the sandbox's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = SandboxServer(host, port)
    server.start()
    return server


@dataclass
class RunningSandbox:
    endpoint_url: str
    summary: SeedSummary
    home_region: str
    server: SandboxServer = field(repr=False)
    stopped: bool = False
    # With IAM enforced, the management account's administrator; otherwise any keys do.
    access_key: str = ACCESS_KEY
    secret_key: str = field(default=SECRET_KEY, repr=False)
    enforces_iam: bool = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            if self.enforces_iam:
                from orgdeploy.sandbox.iam_enforcement import stop_enforcing

                stop_enforcing()
            self.server.stop()
            _RUNNING.discard(id(self))

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def export_lines(self) -> list[str]:
        return [
            f"export AWS_ENDPOINT_URL={self.endpoint_url}",
            f"export AWS_ACCESS_KEY_ID={self.access_key}",
            f"export AWS_SECRET_ACCESS_KEY={self.secret_key}",
            f"export AWS_DEFAULT_REGION={self.home_region}",
        ]


def start_sandbox(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: int = 8,
    seed: int = 0,
    op_seconds: float = 3.0,
    instance_seconds: float = 0.0,
    throttle_rate: float = 0.0,
    rate_limited: bool = False,
    home_region: str = "us-east-1",
    workloads: bool = True,
    time_scale: float = 1.0,
    clock_offset: float = 0.0,
    enforce_iam: bool = False,
) -> RunningSandbox:
    """A fresh, seeded sandbox organization behind a moto server; stop() it (or use `with`).

    workloads=False leaves out the member accounts' workload resources (org/workloads.py), for
    tests that only deploy. A negative clock_offset starts the sandbox clock that many seconds in
    the past, so a played day (play_a_day) ends about now. enforce_iam checks every request against
    its caller's IAM policies (iam_enforcement.py); the sandbox's access_key and secret_key are then
    those of an administrator in the management account.
    """
    from orgdeploy.sandbox.cfn_models.registry import register_resource_models
    from orgdeploy.sandbox.compliance.evaluations import reset_evaluations
    from orgdeploy.sandbox.org.seed import seed_organization
    from orgdeploy.sandbox.org.workloads import seed_workloads

    if not 0.0 <= throttle_rate <= 1.0:
        raise ValueError(f"throttle_rate must be between 0 and 1, not {throttle_rate}")
    if clock_offset > 0:
        raise ValueError(f"clock_offset must not be positive, not {clock_offset}: move the clock forward instead")
    if op_seconds < 0 or instance_seconds < 0:
        raise ValueError(f"op_seconds and instance_seconds must not be negative, not {op_seconds}, {instance_seconds}")
    if time_scale < 1:
        raise ValueError(f"time_scale must be 1 or more, not {time_scale}")
    if _RUNNING:
        # One sandbox per process: moto's backends and STATE are process-wide, and starting resets them.
        raise RuntimeError("a sandbox is already running in this process; stop it first")
    # moto's catalogue of 1,300 public AMIs costs 0.1 s per account and Region; the workloads register their own.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    from orgdeploy.sandbox.iam_enforcement import enforce, prepare_principals, stop_enforcing

    stop_enforcing()  # seeding goes through the APIs with any keys
    register_resource_models()
    moto_api_backend.reset()
    reset_state()
    reset_evaluations()
    STATE.seed = seed
    STATE.clock_offset = clock_offset
    server = launch_server(host=host, port=port)
    try:
        # Seeding runs unthrottled and with instant StackSet operations.
        summary = seed_organization(
            endpoint_url=server.endpoint_url, accounts=accounts, seed=seed, home_region=home_region
        )
        if workloads:
            seed_workloads(summary, home_region=home_region)
    except BaseException:
        server.stop()
        raise
    STATE.op_seconds = op_seconds
    STATE.instance_seconds = instance_seconds
    STATE.time_scale = time_scale
    CALLS.management = summary.management_account_id
    CALLS.reset()  # count what clients do, not the seeding
    STATE.throttle_rate = throttle_rate
    RATE_LIMITS.reset()
    STATE.rate_limited = rate_limited
    sandbox = RunningSandbox(endpoint_url=server.endpoint_url, summary=summary, home_region=home_region, server=server)
    if enforce_iam:
        sandbox.access_key, sandbox.secret_key = prepare_principals(summary.management_account_id)
        sandbox.enforces_iam = True
        enforce()
    _RUNNING.add(id(sandbox))
    return sandbox


def emulated_rules_text() -> str:
    from orgdeploy.sandbox.compliance.managed_rules import MANAGED_RULES

    names = ", ".join(sorted(MANAGED_RULES))
    return (
        f"AWS Config managed rules evaluated here: {names}.\n"
        "Any other rule a pack deploys is not emulated: it gets no result (INSUFFICIENT_DATA), never a made-up one.\n"
        "Move the clock to run due evaluations: orgdeploy sandbox clock --advance 1h"
    )


def serve_forever(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    accounts: int = 8,
    seed: int = 0,
    op_seconds: float = 3.0,
    instance_seconds: float = 0.0,
    throttle_rate: float = 0.0,
    rate_limited: bool = False,
    home_region: str = "us-east-1",
    enforce_iam: bool = False,
    workloads: bool = True,
    time_scale: float = 1.0,
    out: TextIO | None = None,
) -> None:
    """Serve a sandbox until SIGINT or SIGTERM, then stop it and return."""
    stream = out or sys.stdout
    # The handler only writes to a pipe (safe in a signal handler); the main thread blocks reading it.
    wake_read, wake_write = os.pipe()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        os.write(wake_write, b"x")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with start_sandbox(
            host=host,
            port=port,
            accounts=accounts,
            seed=seed,
            op_seconds=op_seconds,
            instance_seconds=instance_seconds,
            throttle_rate=throttle_rate,
            rate_limited=rate_limited,
            home_region=home_region,
            enforce_iam=enforce_iam,
            workloads=workloads,
            time_scale=time_scale,
        ) as sandbox:
            stream.write(sandbox.summary.to_text().rstrip("\n") + "\n\n")
            stream.write(emulated_rules_text() + "\n\n")
            stream.write("# Paste these lines into your shell to point the AWS CLI and SDKs at the sandbox:\n")
            stream.write("\n".join(sandbox.export_lines()) + "\n\n")
            stream.write(f"Sandbox serving at {sandbox.endpoint_url}; press Ctrl+C to stop it.\n")
            stream.flush()
            os.read(wake_read, 1)
        stream.write("Sandbox stopped.\n")
        stream.flush()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_read)
        os.close(wake_write)
