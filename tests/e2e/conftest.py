"""End-to-end fixtures: a sandbox served in a subprocess, the CLI run as a subprocess, plain-boto3 readers.

Nothing here goes through orgdeploy's own AWS code: the state a test asserts is
read with plain boto3 against the sandbox endpoint, so a bug in orgdeploy's
readers cannot hide a bug in what it deployed.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

REPO = Path(__file__).resolve().parents[2]
HOME = "us-east-1"
REGIONS = ("us-east-1", "eu-west-1")
ROLE_SET = "orgdeploy-config-role"
RECORDER_SET = "orgdeploy-recorder"
RECORDER = "orgdeploy-recorder"
DELIVERY_CHANNEL = "orgdeploy-delivery"
SLR = "AWSServiceRoleForConfig"
ACCESS_ROLE = "OrganizationAccountAccessRole"
PACK = "orgdeploy-baseline"

# The organization `seed_organization(seed=0, accounts=8)` builds (see orgdeploy/sandbox/seed.py).
MANAGEMENT = "123456789012"
FOREIGN = "556184983478"  # dev-2: a foreign recorder "default" in eu-west-1
FOREIGN_REGION = "eu-west-1"
HAS_SLR = "176045229611"  # log-archive: AWSServiceRoleForConfig made before orgdeploy
SUSPENDED = "542738526547"  # suspended-1, in Dev

SERVE_TIMEOUT = 60.0
_SERVING = re.compile(r"Sandbox serving at (\S+);")
# With throttle_rate > 0 the sandbox throttles our reads too: they are retried quickly by _retry_throttling,
# not with botocore's backoff, which would take minutes over a few hundred reads.
_BOTO = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=60)
_THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown"})
_READ_ATTEMPTS = 60


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.e2e)


# -- the sandbox, served in a subprocess ------------------------------------------------------------------------


@dataclass
class ServedSandbox:
    endpoint_url: str
    process: subprocess.Popen[str]
    op_seconds: float
    throttle_rate: float
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack into the log
                time.sleep(1)
                self.process.kill()
                self.process.wait(timeout=10)


def base_env() -> dict[str, str]:
    """The environment for every subprocess: dummy credentials, no profile, no inherited endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORGDEPLOY_"))}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=HOME,
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        PYTHONUNBUFFERED="1",
    )
    return env


def serve(tmp_path: Path, *, op_seconds: float, throttle_rate: float = 0.0) -> ServedSandbox:
    """Start `serve_forever` in a subprocess and wait until it prints its endpoint and answers."""
    code = (
        "import faulthandler, signal; faulthandler.register(signal.SIGUSR1, all_threads=True); "
        "from orgdeploy.sandbox.server import serve_forever; "
        f"serve_forever(port=0, op_seconds={op_seconds!r}, throttle_rate={throttle_rate!r})"
    )
    log = tmp_path / "sandbox.stderr"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=stderr, text=True, env=base_env(), cwd=tmp_path
        )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + SERVE_TIMEOUT
    endpoint = None
    while endpoint is None:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            line = None
        if line is None:
            process.kill()
            raise RuntimeError(f"the sandbox did not start: {log.read_text()[-2000:]}")
        found = _SERVING.search(line)
        endpoint = found.group(1) if found else None
    sandbox = ServedSandbox(endpoint, process, op_seconds, throttle_rate, log)
    try:
        # It printed its endpoint after seeding; make sure it answers (retries absorb throttling).
        client(endpoint, "sts").get_caller_identity()
    except BaseException:
        sandbox.stop()
        raise
    return sandbox


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[Callable[..., ServedSandbox]]:
    """Start sandboxes with chosen knobs; every one is stopped with SIGTERM at teardown."""
    started: list[ServedSandbox] = []

    def start(*, op_seconds: float = 0.5, throttle_rate: float = 0.0) -> ServedSandbox:
        folder = tmp_path / f"sandbox-{len(started)}"
        folder.mkdir()
        sandbox = serve(folder, op_seconds=op_seconds, throttle_rate=throttle_rate)
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()
    for sandbox in started:
        assert sandbox.process.returncode == 0, f"the sandbox did not stop cleanly: {sandbox.log.read_text()[-2000:]}"


@pytest.fixture
def served_sandbox(sandbox_factory: Callable[..., ServedSandbox]) -> str:
    """A fresh seeded organization (op_seconds 0.5, no throttling) served in a subprocess: its endpoint URL."""
    return sandbox_factory().endpoint_url


# -- the configuration and the CLI ----------------------------------------------------------------------------


def write_config(folder: Path, **replacements: str) -> Path:
    """`orgdeploy init` into folder (us-east-1 + eu-west-1, one pack); replacements edit the YAML text."""
    from orgdeploy.templates.scaffold import write_example

    folder.mkdir(parents=True, exist_ok=True)
    write_example(folder, force=False)
    path = folder / "orgdeploy.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return write_config(tmp_path / "org")


# Runs the CLI with the retry logger on stderr, to show which errors were retried.
_WITH_RETRY_LOG = (
    "import logging, sys; "
    "logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format='retry-log %(message)s'); "
    "logging.getLogger('orgdeploy.retry').setLevel(logging.INFO); "
    "from orgdeploy.cli import main; main(sys.argv[1:])"
)


def cli_command(*args: str, log_retries: bool = False) -> list[str]:
    if log_retries:
        return [sys.executable, "-c", _WITH_RETRY_LOG, *args]
    return [sys.executable, "-m", "orgdeploy", *args]


def bootstrap_args(config: Path, endpoint_url: str, *extra: str) -> list[str]:
    return ["bootstrap", "-c", str(config), "--endpoint-url", endpoint_url, "--yes", "--enable-trusted-access", *extra]


def run_cli(*args: str, timeout: float = 120, log_retries: bool = False) -> subprocess.CompletedProcess[str]:
    """Run `python -m orgdeploy ARGS` to completion (stdin closed, so not a terminal)."""
    return subprocess.run(
        cli_command(*args, log_retries=log_retries),
        capture_output=True,
        text=True,
        env=base_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )


def run_bootstrap(
    config: Path, endpoint_url: str, *extra: str, log_retries: bool = False
) -> subprocess.CompletedProcess[str]:
    return run_cli(*bootstrap_args(config, endpoint_url, *extra), log_retries=log_retries)


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}"


# -- AWS-side state, read with plain boto3 -----------------------------------------------------------------------


def _retry_throttling(response: Any, attempts: int, **_: Any) -> float | None:
    """A botocore needs-retry hook: retry a throttled call after 20 ms, up to _READ_ATTEMPTS times."""
    if response is None or attempts >= _READ_ATTEMPTS:
        return None
    code = response[1].get("Error", {}).get("Code")
    return 0.02 if code in _THROTTLING else None


def client(endpoint_url: str, service: str, region: str = HOME, credentials: dict[str, str] | None = None) -> Any:
    creds = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    made = boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=_BOTO, **creds)
    made.meta.events.register("needs-retry", _retry_throttling)
    return made


@dataclass
class OrgBoto:
    """Reads the sandbox's AWS-side state as the management account, or as ACCESS_ROLE in a member account."""

    endpoint_url: str
    _credentials: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self, service: str, region: str = HOME, account: str | None = None) -> Any:
        if account is None or account == MANAGEMENT:
            return client(self.endpoint_url, service, region)
        if account not in self._credentials:
            sts = client(self.endpoint_url, "sts")
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ACCESS_ROLE}", RoleSessionName="orgdeploy-e2e"
            )["Credentials"]
            self._credentials[account] = {
                "aws_access_key_id": creds["AccessKeyId"],
                "aws_secret_access_key": creds["SecretAccessKey"],
                "aws_session_token": creds["SessionToken"],
            }
        return client(self.endpoint_url, service, region, self._credentials[account])

    # Organizations
    def accounts(self) -> list[dict[str, Any]]:
        pages = self.client("organizations").get_paginator("list_accounts").paginate()
        return [a for page in pages for a in page["Accounts"]]

    def active_members(self) -> list[str]:
        return sorted(a["Id"] for a in self.accounts() if a["State"] == "ACTIVE" and a["Id"] != MANAGEMENT)

    def root_id(self) -> str:
        return str(self.client("organizations").list_roots()["Roots"][0]["Id"])

    # Config
    def recorders(self, account: str, region: str) -> list[dict[str, Any]]:
        found = self.client("config", region, account).describe_configuration_recorders()
        return list(found.get("ConfigurationRecorders", []))

    def recorder_statuses(self, account: str, region: str) -> list[dict[str, Any]]:
        found = self.client("config", region, account).describe_configuration_recorder_status()
        return list(found.get("ConfigurationRecordersStatus", []))

    def delivery_channels(self, account: str, region: str) -> list[dict[str, Any]]:
        found = self.client("config", region, account).describe_delivery_channels()
        return list(found.get("DeliveryChannels", []))

    def has_role(self, account: str, name: str = SLR) -> bool:
        try:
            self.client("iam", HOME, account).get_role(RoleName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchEntity":
                return False
            raise
        return True

    def aggregators(self) -> list[dict[str, Any]]:
        return list(self.client("config").describe_configuration_aggregators()["ConfigurationAggregators"])

    def organization_conformance_packs(self, region: str) -> list[dict[str, Any]]:
        found = self.client("config", region).describe_organization_conformance_packs()
        return list(found.get("OrganizationConformancePacks", []))

    # CloudFormation
    def stack_sets(self, status: str = "ACTIVE") -> list[dict[str, Any]]:
        cfn = self.client("cloudformation")
        return [s for page in cfn.get_paginator("list_stack_sets").paginate(Status=status) for s in page["Summaries"]]

    def stack_instances(self, name: str) -> list[dict[str, Any]]:
        cfn = self.client("cloudformation")
        pages = cfn.get_paginator("list_stack_instances").paginate(StackSetName=name)
        return [i for page in pages for i in page["Summaries"]]

    def operations(self, name: str) -> list[dict[str, Any]]:
        cfn = self.client("cloudformation")
        pages = cfn.get_paginator("list_stack_set_operations").paginate(StackSetName=name)
        return [o for page in pages for o in page["Summaries"]]

    def stacks(self, account: str, region: str) -> list[dict[str, Any]]:
        """Stacks that are not deleted."""
        cfn = self.client("cloudformation", region, account)
        pages = cfn.get_paginator("list_stacks").paginate()
        return [s for page in pages for s in page["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]

    def wait_for_operations(self, names: list[str], timeout: float = 60) -> None:
        """Every operation on these stack sets finished (each read also moves the sandbox's clock)."""
        deadline = time.monotonic() + timeout
        while True:
            busy = [o for n in names for o in self.operations(n) if o["Status"] in {"RUNNING", "QUEUED", "STOPPING"}]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"operations still running: {busy}")
            time.sleep(0.25)

    # Everything a run leaves behind, in a form two runs can be compared with.
    def snapshot(self, accounts: list[str] | None = None) -> dict[str, Any]:
        accounts = accounts or sorted([*self.active_members(), SUSPENDED, MANAGEMENT])
        state: dict[str, Any] = {"stack_sets": {}, "accounts": {}, "aggregators": [], "packs": {}}
        for summary in sorted(self.stack_sets(), key=lambda s: s["StackSetName"]):
            name = summary["StackSetName"]
            state["stack_sets"].setdefault(name, []).append(
                sorted(
                    (i["Account"], i["Region"], i["Status"], i["StackInstanceStatus"]["DetailedStatus"])
                    for i in self.stack_instances(name)
                )
            )
        for account in accounts:
            regions = {region: self._region_snapshot(account, region) for region in REGIONS}
            state["accounts"][account] = {"slr": self.has_role(account), "regions": regions}
        state["aggregators"] = sorted(
            (a["ConfigurationAggregatorName"], bool(a.get("OrganizationAggregationSource", {}).get("AllAwsRegions")))
            for a in self.aggregators()
        )
        for region in REGIONS:
            state["packs"][region] = sorted(
                (p["OrganizationConformancePackName"], tuple(p.get("ExcludedAccounts") or ()))
                for p in self.organization_conformance_packs(region)
            )
        return state

    def _region_snapshot(self, account: str, region: str) -> dict[str, Any]:
        groups = [(r["name"], r["recordingGroup"]) for r in self.recorders(account, region)]
        return {
            "recorders": sorted(
                (name, group.get("allSupported"), group.get("includeGlobalResourceTypes")) for name, group in groups
            ),
            "recording": sorted((s["name"], s.get("recording")) for s in self.recorder_statuses(account, region)),
            "channels": sorted((c["name"], c.get("s3BucketName")) for c in self.delivery_channels(account, region)),
            "stacks": sorted(
                (_stack_kind(s["StackName"]), _healthy(s["StackStatus"])) for s in self.stacks(account, region)
            ),
        }


def _healthy(status: str) -> bool:
    return status.endswith("_COMPLETE") and "ROLLBACK" not in status


def _stack_kind(name: str) -> str:
    """StackSet-<set>-<uuid> -> StackSet-<set>: the uuid differs from run to run."""
    found = re.match(r"^(StackSet-.+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", name)
    return found.group(1) if found else name


@pytest.fixture
def org_boto(served_sandbox: str) -> OrgBoto:
    return OrgBoto(served_sandbox)


# -- assertions shared by the bootstrap and resilience tests ---------------------------------------------------


def assert_converged(org: OrgBoto) -> None:
    """The end state of a successful bootstrap of the seeded organization with the example config."""
    members = org.active_members()
    assert FOREIGN in members and HAS_SLR in members and SUSPENDED not in members
    for account in [*members, MANAGEMENT]:
        for region in REGIONS:
            recorders = org.recorders(account, region)
            channels = org.delivery_channels(account, region)
            if account == FOREIGN and region == FOREIGN_REGION:
                assert [r["name"] for r in recorders] == ["default"], (account, region, recorders)
                assert channels == [], (account, region, channels)
                continue
            assert [r["name"] for r in recorders] == [RECORDER], (account, region, recorders)
            assert [c["name"] for c in channels] == [DELIVERY_CHANNEL], (account, region, channels)
            group = recorders[0]["recordingGroup"]
            assert group.get("allSupported") is True, (account, region, group)
            assert group.get("includeGlobalResourceTypes") is (region == HOME), (account, region, group)
            statuses = {s["name"]: s.get("recording") for s in org.recorder_statuses(account, region)}
            assert statuses.get(RECORDER) is True, (account, region, statuses)
        assert org.has_role(account), account
    for region in REGIONS:
        assert org.recorders(SUSPENDED, region) == []
        assert org.delivery_channels(SUSPENDED, region) == []

    aggregators = org.aggregators()
    assert len(aggregators) == 1, aggregators
    source = aggregators[0].get("OrganizationAggregationSource") or {}
    assert source.get("AllAwsRegions") is True, aggregators[0]
    assert source.get("RoleArn"), aggregators[0]
    for region in REGIONS:
        names = [p["OrganizationConformancePackName"] for p in org.organization_conformance_packs(region)]
        assert names == [PACK], (region, names)

    active_sets = sorted(s["StackSetName"] for s in org.stack_sets())
    assert active_sets == [ROLE_SET, RECORDER_SET]
    for name in active_sets:
        instances = org.stack_instances(name)
        pairs = [(i["Account"], i["Region"]) for i in instances]
        assert len(pairs) == len(set(pairs)), (name, pairs)
        unhealthy = [i for i in instances if i["Status"] != "CURRENT"]
        assert not unhealthy, (name, unhealthy)
    recorder_pairs = {(i["Account"], i["Region"]) for i in org.stack_instances(RECORDER_SET)}
    expected = {(a, r) for a in members for r in REGIONS} - {(FOREIGN, FOREIGN_REGION)}
    assert recorder_pairs == expected
    role_accounts = {i["Account"] for i in org.stack_instances(ROLE_SET)}
    assert role_accounts == set(members) - {HAS_SLR}


def assert_no_duplicates(org: OrgBoto) -> None:
    """One stack per stack instance and per plain stack name; one recorder per account and Region."""
    sets = [s["StackSetName"] for s in org.stack_sets()]
    assert sorted(sets) == [ROLE_SET, RECORDER_SET], sets
    for account in [*org.active_members(), MANAGEMENT]:
        for region in REGIONS:
            kinds = [_stack_kind(s["StackName"]) for s in org.stacks(account, region)]
            assert len(kinds) == len(set(kinds)), (account, region, kinds)
            assert len(org.recorders(account, region)) == 1, (account, region)
            assert len(org.delivery_channels(account, region)) <= 1, (account, region)


# A reference end state: an uninterrupted, unthrottled bootstrap (checked by assert_converged), once per process.
_REFERENCE: dict[str, Any] = {}


@pytest.fixture
def reference_state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if "state" not in _REFERENCE:
        folder = tmp_path_factory.mktemp("reference")
        sandbox = serve(folder, op_seconds=0.2)
        try:
            result = run_bootstrap(write_config(folder / "org"), sandbox.endpoint_url)
            assert result.returncode == 0, explain(result)
            org = OrgBoto(sandbox.endpoint_url)
            assert_converged(org)
            _REFERENCE["state"] = org.snapshot()
        finally:
            sandbox.stop()
    return dict(_REFERENCE["state"])
