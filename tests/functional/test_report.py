"""`orgdeploy report` and `orgdeploy cost` against what the sandbox's rules find after a bootstrap.

One sandbox per test process (module scope), bootstrapped once with the example config plus EXTRA_PACK,
which brings the other emulated rules; the CLI reaches it with --endpoint-url, and one test runs
`report --sandbox` in a subprocess, where it starts and deploys its own.
"""

from __future__ import annotations

import csv
import html.parser
import io
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("moto")

import boto3
import typer
from botocore.exceptions import ClientError

from orgdeploy.aws.compliance import MAX_EXPRESSION, noncompliant_expressions, read_report
from orgdeploy.cli.commands_report import register
from orgdeploy.cli.common import run_app
from orgdeploy.errors import AwsError
from orgdeploy.reporting.compliance import COLUMNS, RowFilter
from orgdeploy.reporting.rule_names import normalise_pack_name
from orgdeploy.sandbox.server import RunningSandbox, start_sandbox
from orgdeploy.sandbox.state import STATE
from tests.conftest import REPO_ROOT, CliResult
from tests.helpers import unretried_client

SANDBOX_1 = "183216448298"  # sandbox-1: its workloads fail 14 rules in each Region (docs/sandbox.md, Workloads)
LOG_ARCHIVE = "176045229611"  # 120 log buckets without a TLS-only policy, in the home Region
DEV_2 = "556184983478"  # a foreign recorder, not recording, in eu-west-1
SUSPENDED = "542738526547"
MANAGEMENT = "123456789012"


def _rule(name: str, identifier: str, kind: str | None = None, **parameters: str) -> str:
    scope = f"      Scope:\n        ComplianceResourceTypes: [{kind}]\n" if kind else ""
    inputs = "".join(f"        {key}: '{value}'\n" for key, value in parameters.items())
    return (
        f"  {name.title().replace('-', '')}:\n    Type: AWS::Config::ConfigRule\n    Properties:\n"
        f"      ConfigRuleName: {name}\n{scope}"
        + (f"      InputParameters:\n{inputs}" if inputs else "")
        + f"      Source:\n        Owner: AWS\n        SourceIdentifier: {identifier}\n"
    )


# The emulated rules the baseline pack leaves out, two more that fail on sandbox-1's workloads, and
# one the sandbox does not emulate.
EXTRA_PACK = "Resources:\n" + "".join(
    [
        _rule("s3-bucket-public-write-prohibited", "S3_BUCKET_PUBLIC_WRITE_PROHIBITED", "AWS::S3::Bucket"),
        _rule(
            "s3-bucket-server-side-encryption-enabled", "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", "AWS::S3::Bucket"
        ),
        _rule("s3-bucket-versioning-enabled", "S3_BUCKET_VERSIONING_ENABLED", "AWS::S3::Bucket"),
        _rule("s3-bucket-logging-enabled", "S3_BUCKET_LOGGING_ENABLED", "AWS::S3::Bucket"),
        _rule("restricted-common-ports", "RESTRICTED_INCOMING_TRAFFIC", "AWS::EC2::SecurityGroup"),
        _rule("no-admin-ports", "RESTRICTED_INCOMING_TRAFFIC", "AWS::EC2::SecurityGroup", blockedPort1="22"),
        _rule("no-ssh-from-internet", "INCOMING_SSH_DISABLED", "AWS::EC2::SecurityGroup"),
        _rule("iam-root-access-key-check", "IAM_ROOT_ACCESS_KEY_CHECK"),
        _rule("vpc-flow-logs-enabled", "VPC_FLOW_LOGS_ENABLED"),
        _rule("s3-bucket-replication-enabled", "S3_BUCKET_REPLICATION_ENABLED", "AWS::S3::Bucket"),
    ]
)


@pytest.fixture(scope="module")
def sandbox(config_dir: Path) -> Iterator[RunningSandbox]:
    from orgdeploy.cli import app

    with start_sandbox(op_seconds=0) as running, pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        args = ["bootstrap", "-c", str(config_dir), "--endpoint-url", running.endpoint_url, "--yes"]
        assert run_app(app, [*args, "--enable-trusted-access", "-o", "json"]) == 0
        yield running


@pytest.fixture
def config_client(sandbox: RunningSandbox) -> Any:
    return boto3.client(
        "config",
        endpoint_url=sandbox.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orgdeploy.templates.scaffold import write_example

    folder = tmp_path_factory.mktemp("org")
    write_example(folder, force=False)
    (folder / "packs" / "extra.yaml").write_text(EXTRA_PACK, encoding="utf-8")
    config = folder / "orgdeploy.yaml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["conformance_packs"].append({"name": "extra", "template": "packs/extra.yaml"})
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    return folder


@pytest.fixture
def cli(
    sandbox: RunningSandbox, config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run report or cost in-process through the CLI's error mapping, against the module's sandbox."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "ORGDEPLOY_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """orgdeploy"""

    register(app)

    def invoke(*args: str, endpoint: bool = True) -> CliResult:
        capsys.readouterr()
        extra = ["--endpoint-url", sandbox.endpoint_url] if endpoint else []
        code = run_app(app, [args[0], "-c", str(config_dir), *extra, *args[1:]])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


def _key(row: Any) -> tuple[str, ...]:
    return (row.account, row.region, row.resource_type, row.resource_id, row.raw_rule)


def _same(*reports: Any) -> bool:
    """The same rows, compared without evaluated_at: the query strategy alone reads the compliance item's capture
    time, the last change of any rule's result on the resource (docs/report.md), not each rule's own time."""
    keyed = [[(_key(r), r.rule, r.pack, r.annotation) for r in report.rows] for report in reports]
    return all(k == keyed[0] for k in keyed)


def test_both_strategies_agree_row_for_row(config_client: Any) -> None:
    query = read_report(config_client, aggregator="orgdeploy", strategy="query", annotations=True, rate=None)
    rules = read_report(config_client, aggregator="orgdeploy", strategy="rules", annotations=True, rate=None)
    assert query.rows == rules.rows
    assert len(query.rows) > 150
    assert all(row.annotation for row in query.rows)
    assert all(row.evaluated_at is not None for row in query.rows)
    # The data is the interesting kind: one common rule, a different raw name in each account and Region.
    raw_names = {row.raw_rule for row in query.rows if row.rule == "encrypted-volumes"}
    assert len(raw_names) > 3
    # The rule the sandbox does not emulate has no result at all, so no row.
    assert not [row for row in query.rows if row.rule == "s3-bucket-replication-enabled"]
    auto = read_report(config_client, aggregator="orgdeploy", rate=None)
    assert (auto.strategy, [_key(r) for r in auto.rows]) == ("query", [_key(r) for r in query.rows])
    assert auto.rows[0].annotation is None
    # Without annotations the query needs far fewer calls; with them, one details call per triple.
    assert auto.total_calls * 5 < rules.total_calls


def test_the_rows_follow_from_the_workloads(config_client: Any) -> None:
    """docs/sandbox.md's Workloads table, read back through the report."""
    rows = read_report(config_client, aggregator="orgdeploy", strategy="query", rate=None).rows
    failing = {(r.account, r.region, r.resource_id, r.rule) for r in rows}
    home = "us-east-1"
    assert (SANDBOX_1, home, f"sandbox-1-uploads-{home}", "s3-bucket-ssl-requests-only") in failing
    assert (SANDBOX_1, home, f"sandbox-1-site-{home}", "s3-bucket-public-read-prohibited") in failing
    assert not {f for f in failing if f[2] == f"sandbox-1-data-{home}"}  # the good bucket passes every rule
    assert (SANDBOX_1, home, SANDBOX_1, "iam-root-access-key-check") in failing
    assert (MANAGEMENT, home, MANAGEMENT, "root-account-mfa-enabled") in failing
    prod_1 = "537510074089"
    assert (prod_1, home, prod_1, "cloudtrail-enabled") not in failing  # prod accounts run a trail
    assert (prod_1, home, prod_1, "root-account-mfa-enabled") not in failing
    ssh = {(r.account, r.region) for r in rows if r.rule == "restricted-ssh"}
    assert (SANDBOX_1, home) in ssh and (prod_1, home) not in ssh  # admin-ssh is in dev and sandbox accounts only
    # No rule runs where no recorder records: dev-2's foreign recorder in eu-west-1 is off.
    assert not [r for r in rows if (r.account, r.region) == (DEV_2, "eu-west-1")]
    assert not [r for r in rows if r.account == SUSPENDED]
    assert not [r for r in rows if r.rule == "s3-bucket-server-side-encryption-enabled"]  # S3 encrypts by default


def test_filters_and_the_rules_strategy_agree(config_client: Any) -> None:
    where = RowFilter(rules=("s3-*",), accounts=(LOG_ARCHIVE, SANDBOX_1), regions=("us-east-1",))
    query = read_report(config_client, aggregator="orgdeploy", strategy="query", where=where, rate=None)
    rules = read_report(config_client, aggregator="orgdeploy", strategy="rules", where=where, rate=None)
    assert _same(query, rules)
    assert {r.account for r in query.rows} == {LOG_ARCHIVE, SANDBOX_1}
    assert {r.region for r in query.rows} == {"us-east-1"}
    assert all(r.rule.startswith("s3-") for r in query.rows)
    # 120 of the log buckets fail one rule: more than one page of details (100 a page).
    ssl = [r for r in query.rows if r.account == LOG_ARCHIVE and r.rule == "s3-bucket-ssl-requests-only"]
    assert len(ssl) >= 120


def test_capped_counts_stay_capped(cli: Callable[..., CliResult], config_client: Any) -> None:
    table = cli("report", "--group-by", "account")
    assert table.exit_code == 0, table.stderr
    line = next(line for line in table.stdout.splitlines() if line.startswith(SANDBOX_1) and "≥" in line)
    assert re.match(rf"{SANDBOX_1} sandbox-1 \(Root/Sandbox\)\s+≥25\s", line), line
    report = json.loads(cli("report", "--output", "json").stdout)
    counts = {a["account"]: a["non_compliant_rules"] for a in report["accounts"]}
    assert counts[SANDBOX_1] == {"count": 25, "capped": True, "display": "≥25"}
    # The API says "at least 100" for the log buckets, which the report lists one by one.
    summary = config_client.describe_aggregate_compliance_by_config_rules(
        ConfigurationAggregatorName="orgdeploy", Filters={"AccountId": LOG_ARCHIVE, "ComplianceType": "NON_COMPLIANT"}
    )["AggregateComplianceByConfigRules"]
    capped = [s for s in summary if s["ConfigRuleName"].startswith("s3-bucket-ssl-requests-only-")]
    assert [s["Compliance"]["ComplianceContributorCount"] for s in capped if s["AwsRegion"] == "us-east-1"] == [
        {"CappedCount": 100, "CapExceeded": True}
    ]


def test_the_report_survives_throttling(sandbox: RunningSandbox) -> None:
    # Every throttle reaches orgdeploy's retries: a default client would absorb most of them in its own five
    # attempts, and the count below would hang on which seeded draws this process had used up before.
    client = unretried_client("config", sandbox.endpoint_url)
    calm = read_report(client, aggregator="orgdeploy", strategy="rules", rate=None)
    STATE.throttle_rate = 0.2  # a call fails only after ten throttles in a row: about 1e-7 a call
    try:
        stormy = {s: read_report(client, aggregator="orgdeploy", strategy=s, rate=None) for s in ("query", "rules")}
    finally:
        STATE.throttle_rate = 0.0
    assert _same(stormy["query"], stormy["rules"], calm) and stormy["rules"].rows == calm.rows
    # Throttled calls were retried, so more calls went out than without throttling.
    assert stormy["rules"].total_calls > calm.total_calls


class _SeesLess:
    """A config client whose advanced query is refused, or sees no ResourceCompliance in some accounts."""

    def __init__(self, client: Any, *, hidden: frozenset[str] = frozenset(), refuse: str = "") -> None:
        self._client, self._hidden, self._refuse = client, hidden, refuse

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def select_aggregate_resource_config(self, **kwargs: Any) -> dict[str, Any]:
        if self._refuse:
            raise ClientError({"Error": {"Code": self._refuse, "Message": "no"}}, "SelectAggregateResourceConfig")
        page: dict[str, Any] = self._client.select_aggregate_resource_config(**kwargs)
        page["Results"] = [r for r in page["Results"] if json.loads(r).get("accountId") not in self._hidden]
        return page


def test_auto_falls_back_to_rules_where_the_query_cannot_see(config_client: Any) -> None:
    everything = read_report(config_client, aggregator="orgdeploy", strategy="rules", rate=None).rows
    partial = read_report(_SeesLess(config_client, hidden=frozenset({SANDBOX_1})), aggregator="orgdeploy", rate=None)
    assert partial.strategy == "query+rules" and SANDBOX_1 in partial.reason
    assert [_key(r) for r in partial.rows] == [_key(r) for r in everything]
    refused = read_report(_SeesLess(config_client, refuse="AccessDeniedException"), aggregator="orgdeploy", rate=None)
    assert (refused.strategy, refused.reason) == ("rules", "the advanced query was refused (AccessDeniedException)")
    assert refused.rows == everything
    unrecorded = read_report(config_client, aggregator="orgdeploy", records_resource_compliance=False, rate=None)
    assert unrecorded.strategy == "rules" and unrecorded.rows == everything
    with pytest.raises(AwsError, match="try --strategy rules"):
        read_report(
            _SeesLess(config_client, refuse="InvalidExpressionException"), aggregator="orgdeploy", strategy="query"
        )


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.references += [value or "" for name, value in attrs if name in {"src", "href", "action", "srcset"}]


def test_html_is_one_well_formed_page_with_no_external_reference(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = cli("report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    root = ET.fromstring(text.split("\n", 1)[1])  # well-formed XML after the doctype line
    links = _Links()
    links.feed(text)
    assert "script" not in links.tags and "link" not in links.tags and "iframe" not in links.tags
    assert all(not re.match(r"^(https?:)?//", ref) for ref in links.references), links.references
    assert "@import" not in text and "url(" not in text
    heat = root.find(".//table[@class='heat']")
    assert heat is not None
    rules_in_heatmap = [th.text for th in heat.findall("./tbody/tr/th")]
    assert "s3-bucket-ssl-requests-only" in rules_in_heatmap
    assert not any(name and "conformance-pack-" in name for name in rules_in_heatmap)
    counts = {tr[0].text: tr[1].text for tr in root.iter("tr") if len(tr) == 3 and tr[0].tag == "td"}
    assert counts[f"{SANDBOX_1} sandbox-1 (Root/Sandbox)"] == "≥25"  # accounts named, from Organizations


def test_json_and_csv_carry_every_column(cli: Callable[..., CliResult]) -> None:
    report = json.loads(cli("report", "--output", "json", "--annotations").stdout)
    assert report["strategy"] == "query" and report["annotations_fetched"] is True
    assert all(list(row) == list(COLUMNS) for row in report["rows"])
    assert all(row["annotation"] and row["evaluated_at"].endswith("Z") for row in report["rows"])
    assert {row["pack"] for row in report["rows"] if row["rule"] == "restricted-ssh"} == {"orgdeploy-baseline"}
    rows = list(csv.DictReader(io.StringIO(cli("report", "--output", "csv").stdout)))
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == len(report["rows"])
    assert {r["raw_rule"] for r in rows} == {r["raw_rule"] for r in report["rows"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--aggregator", "not-there"], "aggregator 'not-there' not found"),
        (["report", "--rule", "restricted-[ssh"], "--rule 'restricted-[ssh': not a valid GLOB"),
        (["report", "--rule", "a b"], "not a valid GLOB"),
        (["report", "--output", "html"], "give --out FILE"),
        (["report", "--output", "json", "--out", "x.csv"], "names a csv file but --output is json"),
        (["report", "--account", "1234"], "12-digit"),
        (["report", "--region", "eu-wst-1"], "unknown Region"),
        (["report", "--strategy", "fast"], "Invalid value"),
        (["cost", "--accounts", "3", "--price-file", "/no/such/prices.json"], "cannot read it"),
        (["cost", "--accounts", "3", "--exclude", "AWS::EC2::NetworkInterfaces"], "did you mean"),
        (["cost", "--accounts", "3", "--output", "html"], "Invalid value"),
        (["cost"], "--from-org"),
    ],
)
def test_bad_input_exits_2(cli: Callable[..., CliResult], args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_fail_on_noncompliant(cli: Callable[..., CliResult]) -> None:
    assert cli("report", "--fail-on-noncompliant").exit_code == 1
    assert cli("report").exit_code == 0
    clean = cli("report", "--fail-on-noncompliant", "--rule", "no-such-rule-*")
    assert clean.exit_code == 0 and "Nothing is non-compliant." in clean.stdout


def test_an_aggregator_created_in_moto_is_served(cli: Callable[..., CliResult], config_client: Any) -> None:
    """What bootstrap's CloudFormation creates is what the sandbox answers for."""
    assert cli("report", "--aggregator", "org-view").exit_code == 2
    config_client.put_configuration_aggregator(
        ConfigurationAggregatorName="org-view",
        OrganizationAggregationSource={"RoleArn": "arn:aws:iam::123456789012:role/config", "AllAwsRegions": True},
    )
    try:
        result = cli("report", "--aggregator", "org-view", "--output", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["rows"]
    finally:
        config_client.delete_configuration_aggregator(ConfigurationAggregatorName="org-view")


def test_conformance_pack_and_source_apis_answer_from_the_data(config_client: Any) -> None:
    packs = config_client.get_paginator("describe_aggregate_compliance_by_conformance_packs")
    found = [
        p
        for page in packs.paginate(ConfigurationAggregatorName="orgdeploy")
        for p in page["AggregateComplianceByConformancePacks"]
    ]
    # Exactly the packs deployed, in every account and Region where a recorder records.
    assert {normalise_pack_name(p["ConformancePackName"]) for p in found} == {"orgdeploy-baseline", "orgdeploy-extra"}
    places = {(p["AccountId"], p["AwsRegion"]) for p in found}
    assert len(places) == 9 * 2 - 1 and (DEV_2, "eu-west-1") not in places
    sizes = {"orgdeploy-baseline": 7, "orgdeploy-extra": EXTRA_PACK.count("Type: AWS::Config::ConfigRule")}
    for pack in found:
        counts = pack["Compliance"]
        assert counts["TotalRuleCount"] == sizes[normalise_pack_name(pack["ConformancePackName"])]
        # The unemulated rule has no result: it is neither compliant nor not.
        assert counts["CompliantRuleCount"] + counts["NonCompliantRuleCount"] <= counts["TotalRuleCount"]
    summary = config_client.get_aggregate_conformance_pack_compliance_summary(
        ConfigurationAggregatorName="orgdeploy", GroupByKey="ACCOUNT_ID"
    )["AggregateConformancePackComplianceSummaries"]
    assert {s["GroupName"]: s["ComplianceSummary"]["NonCompliantConformancePackCount"] for s in summary}[SANDBOX_1] == 4
    failed = config_client.describe_configuration_aggregator_sources_status(
        ConfigurationAggregatorName="orgdeploy", UpdateStatus=["FAILED"]
    )["AggregatedSourceStatusList"]
    assert {s["SourceId"] for s in failed} == {SUSPENDED}


def test_the_query_language(config_client: Any) -> None:
    def select(expression: str) -> list[dict[str, Any]]:
        pages = config_client.get_paginator("select_aggregate_resource_config").paginate(
            ConfigurationAggregatorName="orgdeploy", Expression=expression
        )
        return [json.loads(r) for page in pages for r in page["Results"]]

    by_type = {r["resourceType"]: r["COUNT(*)"] for r in select("SELECT resourceType, COUNT(*) GROUP BY resourceType")}
    buckets = select("SELECT resourceId, accountId WHERE resourceType = 'AWS::S3::Bucket'")
    assert by_type["AWS::S3::Bucket"] == len(buckets) > 120
    logs = select(
        "SELECT resourceId, accountId WHERE resourceType IN ('AWS::S3::Bucket') AND resourceId LIKE 'aws-logs-%'"
    )
    assert len(logs) == 120 and {r["accountId"] for r in logs} == {LOG_ARCHIVE}
    # The buckets bootstrap created are recorded like any other; a Region where nothing records shows nothing.
    assert any(r["accountId"] == MANAGEMENT and r["resourceId"].startswith("orgdeploy-config-") for r in buckets)
    listed = config_client.list_aggregate_discovered_resources(
        ConfigurationAggregatorName="orgdeploy", ResourceType="AWS::S3::Bucket", Filters={"AccountId": MANAGEMENT}
    )["ResourceIdentifiers"]
    assert {r["ResourceId"] for r in listed} == {r["resourceId"] for r in buckets if r["accountId"] == MANAGEMENT}
    assert not select(f"SELECT resourceId WHERE accountId = '{DEV_2}' AND awsRegion = 'eu-west-1'")
    # Conditions on configRuleList match across elements, as AWS documents.
    names = select(
        "SELECT configuration.configRuleList.configRuleName WHERE resourceType = 'AWS::Config::ResourceCompliance' "
        "AND configuration.configRuleList.complianceType = 'NON_COMPLIANT' AND accountId = '183216448298'"
    )
    assert names and all(set(r["configuration"]["configRuleList"][0]) == {"configRuleName"} for r in names)
    for refused in ("SELECT DISTINCT resourceType", "SELECT resourceId FROM x", "SELECT resourceId AS id"):
        with pytest.raises(config_client.exceptions.InvalidExpressionException):
            select(refused)


def test_long_account_lists_are_split_under_the_expression_limit() -> None:
    accounts = tuple(f"{n:012d}" for n in range(1000))
    expressions = noncompliant_expressions(RowFilter(accounts=accounts, regions=("us-east-1", "eu-west-1")))
    assert len(expressions) > 1
    assert all(len(e) <= MAX_EXPRESSION for e in expressions)
    listed = [a for e in expressions for a in re.findall(r"'(\d{12})'", e)]
    assert listed == list(accounts)


def test_cost_from_the_organization_and_the_worked_example(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    from_org = cli("cost", "--from-org", "--output", "json")
    assert from_org.exit_code == 0, from_org.stderr
    data = json.loads(from_org.stdout)
    assert data["assumptions"][0].startswith("9 accounts x 2 Regions (from the organization and aggregator orgdeploy")
    # A 39-rule pack in 16 Regions, 9 accounts, a flat price: the worked example through the CLI.
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "Resources:\n"
        + "".join(
            f"  R{n}:\n    Type: AWS::Config::ConfigRule\n    Properties: {{ConfigRuleName: rule-{n}}}\n"
            for n in range(39)
        ),
        encoding="utf-8",
    )
    regions = ["us-east-1", "eu-west-1"]
    (tmp_path / "orgdeploy.yaml").write_text(
        json.dumps(
            {
                "home_region": "us-east-1",
                "regions": regions,
                "conformance_packs": [{"name": "p", "template": str(pack)}],
            }
        ),
        encoding="utf-8",
    )
    flat = tmp_path / "flat.json"
    prices = json.loads((REPO_ROOT / "orgdeploy" / "reporting" / "prices.json").read_text(encoding="utf-8"))
    prices["conformance_pack_evaluation_tiers"] = [{"up_to": None, "price": "0.0012"}]
    flat.write_text(json.dumps(prices), encoding="utf-8")
    result = cli("cost", "-c", str(tmp_path), "--accounts", "9", "--regions", "16", "--resources-per-account", "0",
                 "--price-file", str(flat), endpoint=False)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert re.search(r"Conformance pack evaluations\s+168,480 evaluations\s+\$202\.18", result.stdout), result.stdout
    assert re.search(r"Total\s+\$202\.18", result.stdout)


def test_report_with_its_own_sandbox(config_dir: Path) -> None:
    """`orgdeploy report --sandbox` deploys the config, then reports (run apart: a process holds one sandbox)."""
    code = (
        "import sys, typer; from orgdeploy.cli.common import run_app; "
        "from orgdeploy.cli.commands_report import register; app = typer.Typer(); app.callback()(lambda: None); "
        "register(app); sys.exit(run_app(app, sys.argv[1:]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-c", code, "report", "-c", str(config_dir), "--sandbox"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Summary by rule" in result.stdout and "orgdeploy-baseline" in result.stdout
    assert re.search(rf"^{SANDBOX_1} sandbox-1 \(Root/Sandbox\)\s+≥25\s", result.stdout, re.MULTILINE)
