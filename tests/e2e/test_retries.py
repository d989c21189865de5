"""Retries and polling as AWS expects: transient failures retried, pages resumed, operations polled cheaply.

Faults are injected client-side with botocore's before-call event on real clients against the sandbox:
a handler that returns (response, parsed) short-circuits that one call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.inprocess import CallRecorder, cli, write_config

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e


def _context(endpoint: str) -> Any:
    from orgdeploy.aws.session import AwsContext, AwsOptions

    return AwsContext.with_static_keys(
        AwsOptions(None, "us-east-1", endpoint), access_key="testing", secret_key="testing", region="us-east-1"
    )


def _fail_once(
    client: Any, operation: str, status: int, code: str, when: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Make the first call of operation that `when` accepts fail with status/code; returns every call's params."""
    from botocore.awsrequest import AWSResponse

    seen: list[dict[str, Any]] = []
    failed: list[bool] = []

    def handler(params: dict[str, Any], **_: Any) -> Any:
        body = params.get("body")
        seen.append({"body": body})
        if not failed and when(params):
            failed.append(True)
            error = {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}}
            return AWSResponse("https://injected", status, {}, None), error
        return None

    client.meta.events.register(f"before-call.*.{operation}", handler)
    return seen


@pytest.mark.parametrize(
    ("status", "code"), [(503, "ServiceUnavailable"), (500, "InternalFailure"), (400, "RequestTimeout")]
)
def test_a_transient_failure_is_retried(inprocess_sandbox: Any, status: int, code: str) -> None:
    from orgdeploy.aws.stacksets import StackSetsGateway

    ctx = _context(inprocess_sandbox.endpoint_url)
    gateway = StackSetsGateway(ctx, region="us-east-1", call_as="SELF")
    calls = _fail_once(gateway.client, "ListStackSets", status, code, lambda _: True)
    assert gateway.names(prefix="orgdeploy") == []
    assert len(calls) == 2


def test_a_quota_failure_is_not_retried(inprocess_sandbox: Any) -> None:
    from botocore.exceptions import ClientError

    from orgdeploy.aws.stacksets import StackSetsGateway

    gateway = StackSetsGateway(_context(inprocess_sandbox.endpoint_url), region="us-east-1", call_as="SELF")
    calls = _fail_once(gateway.client, "ListStackSets", 400, "LimitExceededException", lambda _: True)
    with pytest.raises(ClientError):
        gateway.names(prefix="orgdeploy")
    assert len(calls) == 1


def test_a_throttle_in_mid_pagination_resumes_from_its_page(inprocess_sandbox: Any) -> None:
    from orgdeploy.aws.retry import all_pages

    ctx = _context(inprocess_sandbox.endpoint_url)
    org = ctx.client("organizations")
    calls = _fail_once(
        org, "ListAccounts", 400, "TooManyRequestsException", lambda p: "NextToken" in str(p.get("body"))
    )

    accounts = all_pages(org, "list_accounts", "Accounts", PaginationConfig={"PageSize": 3})

    assert len({a["Id"] for a in accounts}) == len(accounts) == 10
    first_pages = [c for c in calls if "NextToken" not in str(c["body"])]
    assert len(first_pages) == 1, "the first page was asked for again"
    # 4 pages of at most 3, plus the one throttled call.
    assert len(calls) == 5


def test_an_operation_is_polled_by_describe_and_its_results_listed_once(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path)
    recorder = CallRecorder(monkeypatch)
    args = ["bootstrap", "-c", str(config), "--endpoint-url", inprocess_sandbox.endpoint_url, "--yes"]
    code, out, err = cli(capsys, *args, "--enable-trusted-access", "-o", "json")
    assert code == 0, err
    report = json.loads(out)
    operations = [s for s in report["execution"]["steps"] if s["operation_id"]]
    count = {
        op: sum(1 for _, o, _, _ in recorder.calls if o == op)
        for op in ("DescribeStackSetOperation", "ListStackSetOperationResults")
    }
    # Each operation is polled with DescribeStackSetOperation until it ends; its results are listed once.
    assert count["ListStackSetOperationResults"] == len(operations)
    assert count["DescribeStackSetOperation"] >= len(operations)
