"""`orgdeploy sandbox`: serve the emulated organization for the AWS CLI, SDKs and orgdeploy itself."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from orgdeploy.sandbox.server import RunningSandbox

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on; keep loopback unless you mean it.")]
PortOption = Annotated[int, typer.Option("--port", help="TCP port to listen on (0 picks a free one).", min=0)]
AccountsOption = Annotated[
    int, typer.Option("--accounts", help="Active member accounts to seed (one suspended account is added).", min=4)
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed for account ids, quirk placement and throttling.")]
OpSecondsOption = Annotated[
    float, typer.Option("--op-seconds", help="Seconds each StackSet operation stays RUNNING.", min=0)
]
InstanceSecondsOption = Annotated[
    float,
    typer.Option(
        "--instance-seconds",
        help="Seconds each stack instance takes on top of --op-seconds: an operation runs MaxConcurrent instances "
        "at a time in each Region, its Regions in turn or in parallel as its preferences ask.",
        min=0,
    ),
]
TimeScaleOption = Annotated[
    float,
    typer.Option(
        "--time-scale",
        help="Run StackSets' clock this many times faster while an operation is in flight, so AWS-like "
        "--instance-seconds (minutes) pass in seconds; its timestamps show the emulated time.",
        min=1,
    ),
]
WorkloadsOption = Annotated[
    bool,
    typer.Option(
        "--workloads/--no-workloads",
        help="Seed the member accounts' workload resources (buckets, security groups, keys) that the rules "
        "evaluate; leave them out to seed thousands of accounts fast.",
    ),
]
ThrottleOption = Annotated[
    float,
    typer.Option("--throttle-rate", help="Share of calls (0 to 1) answered with the service's throttling error.",
                 min=0, max=1),
]  # fmt: skip
RateLimitsOption = Annotated[
    bool,
    typer.Option(
        "--rate-limits",
        help="Throttle by rate too: a token bucket per caller account and API (10 reads a second, 2 writes; "
        "docs/sandbox.md#throttling).",
    ),
]
EnforceIamOption = Annotated[
    bool,
    typer.Option(
        "--enforce-iam",
        help="Check every request against its caller's IAM policies (moto's evaluator); the export lines then "
        "carry an administrator's keys. See docs/sandbox.md for what moto checks.",
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print one line of JSON (summary, endpoint, export lines) instead of text."),
]


def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 5005,
    accounts: AccountsOption = 8,
    seed: SeedOption = 0,
    op_seconds: OpSecondsOption = 3.0,
    instance_seconds: InstanceSecondsOption = 0.0,
    time_scale: TimeScaleOption = 1.0,
    throttle_rate: ThrottleOption = 0.0,
    rate_limits: RateLimitsOption = False,
    enforce_iam: EnforceIamOption = False,
    workloads: WorkloadsOption = True,
    as_json: JsonOption = False,
) -> None:
    """Serve an emulated AWS Organization on one local endpoint until Ctrl-C.

    Starts a moto server, then seeds it through the AWS APIs with an organization:
    OUs Security, Workloads (Prod, Dev) and Sandbox, the log-archive and audit
    accounts, workload accounts, a suspended account and the quirks real
    organizations have (a recorder made outside orgdeploy, an existing Config
    service-linked role, an opt-in Region left disabled). It prints the
    organization and `export` lines: paste them into another shell and the AWS
    CLI, boto3 and orgdeploy all talk to the sandbox, e.g.
    `aws organizations list-accounts` or `orgdeploy plan`. The same seed gives
    the same account ids every time.

    Ctrl-C (SIGINT) or SIGTERM stops the server and exits 0. Everything lives in
    memory; nothing is kept between runs.
    """
    import importlib.util

    from orgdeploy.errors import BadInputError

    def missing_extra(name: str | None) -> BadInputError:
        return BadInputError(
            f"the sandbox needs the sandbox extra: pip install 'orgdeploy[sandbox]' ({name} is missing)"
        )

    # Both checks come before the slow moto import, so a mistake is reported at once.
    if importlib.util.find_spec("moto") is None:
        raise missing_extra("moto")
    _check_port_free(host, port)
    try:
        from orgdeploy.sandbox import server
    except ImportError as exc:
        raise missing_extra(exc.name) from None
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "accounts": accounts,
        "seed": seed,
        "op_seconds": op_seconds,
        "instance_seconds": instance_seconds,
        "time_scale": time_scale,
        "workloads": workloads,
        "throttle_rate": throttle_rate,
        "rate_limited": rate_limits,
        "enforce_iam": enforce_iam,
    }
    try:
        if as_json:
            _serve_json(options)
        else:
            server.serve_forever(**options)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    except SystemExit as exc:
        # werkzeug exits from inside the server thread when the bind fails (e.g. a race for the port).
        raise BadInputError(f"cannot listen on {host}:{port} (the server could not bind)") from exc


def _check_port_free(host: str, port: int) -> None:
    """Fail with the port's name before moto is reset, instead of werkzeug's exit from the server thread."""
    from orgdeploy.errors import BadInputError

    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise BadInputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        # The server sets SO_REUSEADDR too, so a port in TIME_WAIT is not reported as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise BadInputError(
                    f"port {port} on {host} is already in use; stop what holds it or pick another with --port"
                ) from None
            raise BadInputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@contextmanager
def _stop_signals() -> Iterator[int]:
    """A pipe's read end that becomes readable on SIGINT or SIGTERM (the same wake-up serve_forever uses)."""
    wake_read, wake_write = os.pipe()

    def on_signal(signum: int, frame: object) -> None:
        os.write(wake_write, b"x")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield wake_read
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_read)
        os.close(wake_write)


def sandbox_document(sandbox: RunningSandbox) -> dict[str, Any]:
    """What --json prints: the seed summary, the endpoint and the shell lines that point clients at it."""
    from orgdeploy.sandbox.compliance.managed_rules import MANAGED_RULES

    lines = sandbox.export_lines()
    environment = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    return {
        "emulated_rules": sorted(MANAGED_RULES),
        "endpoint_url": sandbox.endpoint_url,
        "home_region": sandbox.home_region,
        "export_lines": lines,
        "environment": environment,
        "summary": sandbox.summary.to_dict(),
    }


def _serve_json(options: dict[str, Any]) -> None:
    from orgdeploy.sandbox.server import start_sandbox

    # serve_forever writes text; this is its loop with the document on stdout and the chatter on stderr.
    with _stop_signals() as wake, start_sandbox(**options) as sandbox:
        sys.stdout.write(json.dumps(sandbox_document(sandbox)) + "\n")
        sys.stdout.flush()
        typer.echo(f"Sandbox serving at {sandbox.endpoint_url}; press Ctrl+C to stop it.", err=True)
        os.read(wake, 1)
    typer.echo("Sandbox stopped.", err=True)


AdvanceOption = Annotated[
    str | None,
    typer.Option("--advance", help="Move the clock forward by this much (30m, 6h, 7d, 1h30m).", metavar="DURATION"),
]
ClockEndpoint = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url", help="The sandbox's endpoint (default: AWS_ENDPOINT_URL).", envvar="AWS_ENDPOINT_URL"
    ),
]
ClockJson = Annotated[bool, typer.Option("--json", help="Print the clock's state as one line of JSON.")]


def clock(advance: AdvanceOption = None, endpoint_url: ClockEndpoint = None, as_json: ClockJson = False) -> None:
    """Show the running sandbox's clock, or move it forward so AWS Config's evaluations fall due.

    AWS Config evaluates a change-triggered rule shortly after a recorded resource changes (the
    sandbox waits 60 s), and a periodic rule every MaximumExecutionFrequency (24 h unless the pack
    says otherwise). Instead of waiting, move the clock: `orgdeploy sandbox clock --advance 1h`
    runs every evaluation that falls due in that hour, and each changed result goes on the account's
    default event bus as AWS Config's compliance-change event. The clock only moves forward.

    Exit status: 0; 1 the sandbox cannot be reached; 2 bad input.
    """
    import urllib.error
    import urllib.request

    from orgdeploy.errors import BadInputError, OrgDeployError
    from orgdeploy.reporting.events import parse_duration

    if not endpoint_url:
        raise BadInputError("--endpoint-url (or AWS_ENDPOINT_URL) is needed: the URL `orgdeploy sandbox serve` printed")
    seconds = parse_duration(advance, "--advance").total_seconds() if advance is not None else None
    if seconds is not None and seconds > 366 * 86400:
        raise BadInputError(f"--advance {advance!r}: at most 366 days at a time")
    url = endpoint_url.rstrip("/") + "/orgdeploy-sandbox/clock"
    data = json.dumps({"advance": seconds}).encode() if seconds is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            status = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise OrgDeployError(f"{url} answered {exc.code}: {detail} (is this an orgdeploy sandbox?)") from None
    except (urllib.error.URLError, OSError) as exc:
        raise OrgDeployError(f"cannot reach the sandbox at {url}: {exc}") from None
    if as_json:
        typer.echo(json.dumps(status))
        return
    typer.echo(f"sandbox clock: {status['now']} ({status['offset_seconds']:.0f} s ahead of real time)")
    typer.echo(
        f"member rules: {status['member_rules']}; compliance-change events put: {status['compliance_events_put']}"
    )
    if status["not_emulated_rules_deployed"]:
        typer.echo("deployed but not emulated (no results): " + ", ".join(status["not_emulated_rules_deployed"]))


def register(app: typer.Typer) -> None:
    sandbox_app = typer.Typer(
        no_args_is_help=True,
        # Plain help, like the main app: rich formatting slows every call down.
        rich_markup_mode=None,
        help=(
            "Run an emulated AWS Organization (moto) to try orgdeploy, the AWS CLI or SDKs against, "
            "without an AWS account. Needs the sandbox extra: pip install 'orgdeploy[sandbox]'."
        ),
    )
    sandbox_app.command()(serve)
    sandbox_app.command()(clock)
    app.add_typer(sandbox_app, name="sandbox")
