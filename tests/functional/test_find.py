"""`orgdeploy find` and `inventory` against a bootstrapped sandbox, and reading an aggregator without a config."""

from __future__ import annotations

import html.parser
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("moto")

from orgdeploy.reporting.compliance_render import shade
from orgdeploy.reporting.find import MAX_EXPRESSION, FindQuery, compliance_expressions
from tests.conftest import REPO_ROOT
from tests.e2e.inprocess import cli, write_config

SANDBOX_1 = "183216448298"
SITE = "sandbox-1-site-us-east-1"  # public-read and without a TLS-only policy (docs/sandbox.md, Workloads)
AWS = Path(sys.executable).parent / "aws"


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    from orgdeploy.cli import app
    from orgdeploy.cli.common import run_app
    from orgdeploy.sandbox.server import start_sandbox

    folder = tmp_path_factory.mktemp("org")
    config = write_config(folder)
    with start_sandbox(op_seconds=0) as running, pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        args = ["bootstrap", "-c", str(config), "--endpoint-url", running.endpoint_url, "--yes", "-o", "json"]
        assert run_app(app, [*args, "--enable-trusted-access"]) == 0
        yield running.endpoint_url, config


def _aws(endpoint: str, *args: str) -> Any:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint,
           "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run([str(AWS), *args, "--output", "json"], capture_output=True, text=True, env=env, timeout=60,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_find_a_bucket_by_name(
    bootstrapped: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, config = bootstrapped
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code, out, err = cli(capsys, "find", SITE, "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    assert code == 0, err
    [hit] = json.loads(out)["hits"]
    assert (hit["account"], hit["account_name"], hit["ou_path"], hit["region"]) == (
        SANDBOX_1, "sandbox-1", "Root/Sandbox", "us-east-1"
    )  # fmt: skip
    failing = {(r["rule"], r["pack"]) for r in hit["rules"] if r["compliance"] == "NON_COMPLIANT"}
    assert failing == {
        ("s3-bucket-public-read-prohibited", "orgdeploy-baseline"),
        ("s3-bucket-ssl-requests-only", "orgdeploy-baseline"),
    }
    # The same resource as the AWS CLI sees it through the aggregator.
    selected = _aws(
        endpoint,
        "configservice",
        "select-aggregate-resource-config",
        "--configuration-aggregator-name",
        "orgdeploy",
        "--expression",
        f"SELECT accountId, awsRegion, arn WHERE resourceId = '{SITE}'",
    )
    [row] = [json.loads(r) for r in selected["Results"]]
    assert (row["accountId"], row["awsRegion"], row["arn"]) == (hit["account"], hit["region"], hit["arn"])
    item = _aws(
        endpoint,
        "configservice",
        "get-aggregate-resource-config",
        "--configuration-aggregator-name",
        "orgdeploy",
        "--resource-identifier",
        f"SourceAccountId={SANDBOX_1},SourceRegion=us-east-1,ResourceId={SITE},ResourceType=AWS::S3::Bucket",
    )
    assert (item["ConfigurationItem"]["arn"], item["ConfigurationItem"]["resourceName"]) == (hit["arn"], SITE)
    assert json.loads(item["ConfigurationItem"]["configuration"])["acl"]  # the public-read grant is in the item


def test_find_by_prefix_and_by_id_and_nothing(
    bootstrapped: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, config = bootstrapped
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    args = ("-c", str(config), "--endpoint-url", endpoint)
    code, out, _ = cli(capsys, "find", "sandbox-1-", "--prefix", "--type", "AWS::S3::Bucket", *args, "-o", "json")
    hits = json.loads(out)["hits"]
    assert code == 0 and {h["resource_id"] for h in hits} >= {SITE, "sandbox-1-data-eu-west-1"}
    assert {h["resource_type"] for h in hits} == {"AWS::S3::Bucket"}
    code, out, _ = cli(capsys, "find", "sandbox-1-", "--prefix", "--region", "eu-west-1", *args, "-o", "csv")
    assert code == 0 and out.splitlines()[0].startswith("account,account_name,ou_path,region")
    assert {line.split(",")[3] for line in out.splitlines()[1:]} == {"eu-west-1"}
    code, out, _ = cli(capsys, "find", "no-such-thing", *args)
    assert code == 1 and "Nothing matches 'no-such-thing'" in out
    code, _, err = cli(capsys, "find", "x", "--type", "S3 bucket", *args)
    assert code == 2 and "--type 'S3 bucket'" in err


def test_inventory_counts_what_is_recorded(
    bootstrapped: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, config = bootstrapped
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    args = ("-c", str(config), "--endpoint-url", endpoint)
    code, out, _ = cli(capsys, "inventory", *args, "-o", "json")
    by_type = {g["group"]: g["count"] for g in json.loads(out)["groups"]}
    assert code == 0 and by_type["AWS::S3::Bucket"] > 120 and sum(by_type.values()) == json.loads(out)["total"]
    code, out, _ = cli(capsys, "inventory", "--group-by", "account", "--type", "AWS::EC2::Volume", *args)
    assert code == 0 and "sandbox-1 (Root/Sandbox)" in out and "AWS::EC2::Volume" in out.splitlines()[-1]
    code, out, _ = cli(capsys, "inventory", "--group-by", "region", *args, "-o", "csv")
    assert out.splitlines()[0] == "region,name,count" and {line.split(",")[0] for line in out.splitlines()[1:]} == {
        "us-east-1", "eu-west-1"
    }  # fmt: skip


def test_report_names_its_accounts(
    bootstrapped: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, config = bootstrapped
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code, out, _ = cli(capsys, "report", "-c", str(config), "--endpoint-url", endpoint, "-o", "csv")
    assert code == 0 and out.splitlines()[0].startswith("account,account_name,region")
    assert f"{SANDBOX_1},sandbox-1 (Root/Sandbox)," in out
    code, out, _ = cli(capsys, "report", "-c", str(config), "--endpoint-url", endpoint)
    assert f"{SANDBOX_1} sandbox-1 (Root/Sandbox)" in out


def test_reading_an_aggregator_without_a_config(tmp_path: Path) -> None:
    """report, find and inventory in a folder with no orgdeploy.yaml (each run apart: a process holds one sandbox)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    base = ["--sandbox", "--sandbox-accounts", "4", "--aggregator", "orgdeploy", "--region", "us-east-1"]
    for command in (["report"], ["find", "prod-1-uploads-us-east-1"], ["inventory", "--group-by", "account"]):
        done = subprocess.run([sys.executable, "-m", "orgdeploy", *command, *base], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, (command, done.stderr[-2000:])
        assert "prod-1" in done.stdout, command
    assert not (tmp_path / "orgdeploy.yaml").exists()


class _Cells(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.colours: dict[str, str] = {}
        self._style: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style = dict(attrs).get("style") if tag == "td" else None

    def handle_data(self, data: str) -> None:
        if self._style and data.strip().isdigit():
            self.colours.setdefault(data.strip(), self._style)


def test_the_heatmap_tells_1_from_5_from_120() -> None:
    from datetime import UTC, datetime

    from orgdeploy.reporting.compliance import ComplianceReport, ComplianceRow
    from orgdeploy.reporting.compliance_render import render_html

    def rows(rule: str, account: str, count: int) -> list[ComplianceRow]:
        return [
            ComplianceRow(account, "us-east-1", "AWS::S3::Bucket", f"{rule}-{n}", rule, f"{rule}-raw", None, None,
                          datetime(2026, 1, 1, tzinfo=UTC))
            for n in range(count)
        ]  # fmt: skip

    report = ComplianceReport(
        "org", "query", "", (*rows("a", "1" * 12, 1), *rows("b", "2" * 12, 5), *rows("c", "3" * 12, 120))
    )
    parser = _Cells()
    parser.feed(render_html(report))
    alphas = {n: float(re.search(r"rgba\(200,40,40,([\d.]+)\)", parser.colours[n]).group(1)) for n in ("1", "5", "120")}  # type: ignore[union-attr]
    assert alphas["1"] < alphas["5"] < alphas["120"]
    assert alphas["5"] - alphas["1"] > 0.15 and alphas["120"] - alphas["5"] > 0.15  # apart enough to see
    assert "log scale" in render_html(report)
    assert shade(0, 120) == 0.0 and shade(120, 120) == pytest.approx(1.0)


def test_expressions_stay_under_the_limit() -> None:
    with pytest.raises(Exception, match="too long"):
        FindQuery("x" * 5000).expressions()
    assert FindQuery("it's").expressions()[0].endswith("resourceId = 'it''s'")
    keys = [("AWS::S3::Bucket", f"bucket-{n:04d}-" + "y" * 40) for n in range(300)]
    expressions = compliance_expressions(keys)
    assert len(expressions) > 1 and all(len(e) <= MAX_EXPRESSION for e in expressions)
    assert sum(e.count("'AWS::S3::Bucket/") for e in expressions) == 300
