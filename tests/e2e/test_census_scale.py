"""60 accounts x 4 Regions with AWS-like instance times and rate-based throttling: the bootstrap converges, and the
calls per operation are what docs/orchestration.md ("What a run costs") promises."""

from __future__ import annotations

import json
import math
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from orgdeploy.aws.retry import poll_calls
from tests.e2e.inprocess import cli, member_client, write_config
from tests.helpers import use_sandbox_credentials

pytest.importorskip("moto")

ACCOUNTS, REGIONS = 60, ("us-east-1", "eu-west-1", "us-west-2", "eu-central-1")
INSTANCE_SECONDS, OP_SECONDS, SCALE = 60.0, 30.0, 100.0
TRACKING = ("cloudformation:DescribeStackSetOperation", "cloudformation:ListStackSetOperationResults")


@pytest.fixture
def scaled_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from orgdeploy.sandbox.server import start_sandbox

    use_sandbox_credentials(monkeypatch)
    with start_sandbox(
        accounts=ACCOUNTS,
        workloads=False,
        op_seconds=OP_SECONDS,
        instance_seconds=INSTANCE_SECONDS,
        time_scale=SCALE,
        rate_limited=True,
    ) as running:
        yield running


def _calls(endpoint: str) -> dict[str, Any]:
    """The sandbox's call counts since the last read, and start counting again."""
    request = urllib.request.Request(f"{endpoint}/orgdeploy-sandbox/calls", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.load(answer))


def _made(calls: dict[str, Any], api: str) -> int:
    """Calls of api that AWS answered, not those throttled (the client retries them)."""
    return int(calls["by_api"].get(api, 0) - calls["throttled"].get(api, 0))


def _operations(cfn: Any) -> list[tuple[str, float, int]]:
    found = []
    for summary in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]:
        name = summary["StackSetName"]
        for op in cfn.list_stack_set_operations(StackSetName=name)["Summaries"]:
            seconds = (op["EndTimestamp"] - op["CreationTimestamp"]).total_seconds()
            pages = cfn.get_paginator("list_stack_set_operation_results").paginate(
                StackSetName=name, OperationId=op["OperationId"]
            )
            found.append((name, seconds, len(pages.build_full_result()["Summaries"])))
    return found


def test_sixty_accounts_in_four_regions_converge_at_the_promised_call_counts(
    scaled_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = scaled_sandbox.endpoint_url
    config = write_config(tmp_path, regions=list(REGIONS))
    args = ("-c", str(config), "--endpoint-url", endpoint)
    members = [a.id for a in scaled_sandbox.summary.accounts if a.status == "ACTIVE"]
    foreign = {(q.account_id, q.region) for q in scaled_sandbox.summary.quirks if q.kind == "foreign-recorder"}
    _calls(endpoint)

    code, out, err = cli(capsys, "bootstrap", "--yes", "--enable-trusted-access", *args)
    assert code == 0, out + err
    bootstrap = _calls(endpoint)
    cfn = boto3.client("cloudformation", endpoint_url=endpoint, region_name="us-east-1")
    operations = _operations(cfn)

    # Converged: every instance of the recorder stack set is healthy; none failed.
    instances = cfn.get_paginator("list_stack_instances").paginate(StackSetName="orgdeploy-recorder")
    summaries = instances.build_full_result()["Summaries"]
    states = {(i["Account"], i["Region"]): i["StackInstanceStatus"]["DetailedStatus"] for i in summaries}
    assert set(states.values()) <= {"SUCCEEDED", "SKIPPED_SUSPENDED_ACCOUNT"}, states
    assert len(states) >= (len(members) - 1) * len(REGIONS) - len(foreign)
    # One call starts each operation; the rest of its calls are polls and result pages, bounded by its time.
    assert _made(bootstrap, "cloudformation:CreateStackInstances") == sum(1 for _, _, n in operations if n) - _made(
        bootstrap, "cloudformation:UpdateStackInstances"
    )
    tracking = sum(_made(bootstrap, api) for api in TRACKING)
    bound = sum(poll_calls(d) + math.ceil(n / 100) + int(d // 15) for _, d, n in operations)
    per_instance = sum(n * poll_calls(d) for _, d, n in operations)
    assert tracking <= bound < per_instance / 5, (tracking, bound, per_instance)
    # The census reads each account once per pass (the plan, the read-back) through one assumed role.
    assert _made(bootstrap, "sts:AssumeRole") <= len(members) + 1
    assert _made(bootstrap, "config:DescribeConfigurationRecorders") <= 2 * (len(members) + 1) * len(REGIONS)

    # A converged organization plans with no call in any member account but where orgdeploy has no instance
    # (a recorder made outside orgdeploy, a Region the account has not enabled): those it reads every time.
    unvouched = foreign | {
        (q.account_id, q.region) for q in scaled_sandbox.summary.quirks if q.kind == "opt-in-region-disabled"
    }
    unvouched = {(a, r) for a, r in unvouched if r in REGIONS}
    code, out, err = cli(capsys, "plan", *args)
    assert code == 0 and "No changes" in out, out
    converged = _calls(endpoint)
    assert set(converged["member_accounts"]) == {a for a, _ in unvouched}, converged
    assert _made(converged, "config:DescribeConfigurationRecorders") <= len(unvouched)
    assert _made(converged, "cloudformation:DescribeStackSetOperation") == 0
    listed = len(summaries) + len(members)  # recorder and role instances
    assert _made(converged, "cloudformation:ListStackInstances") <= math.ceil(listed / 100) + 4
    assert f"census: {len({a for a, _ in unvouched})} of {len(members)} accounts to read" in err, err

    # A recorder stopped by hand: the aggregator reports its source OUTDATED, so the plan reads that account
    # and Region too, and plans the repair; update starts the recorder again.
    management = scaled_sandbox.summary.management_account_id
    stopped = next(a for a in members if a != management and all((a, r) not in unvouched for r in REGIONS))
    recorders = member_client(endpoint, "config", stopped, "eu-west-1")
    recorders.stop_configuration_recorder(ConfigurationRecorderName="orgdeploy-recorder")
    code, out, err = cli(capsys, "plan", *args)
    assert code == 0 and f"mend recorder orgdeploy-recorder in {stopped} eu-west-1: start it" in out, out
    grown = _calls(endpoint)
    assert set(grown["member_accounts"]) == {a for a, _ in unvouched} | {stopped}, grown
    code, out, err = cli(capsys, "update", "--yes", *args)
    assert code == 0, out + err
    [status] = recorders.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
