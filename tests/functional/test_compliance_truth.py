"""One truth: the report, the rules engine, the aggregator's per-rule details, the AWS CLI and the timeline agree.

Driven as a user would: bootstrap with notifications, add a second pack with `update` (so its first
evaluations reach the timeline), fix a bucket with plain boto3, move the sandbox clock, remove a pack.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("moto")

from tests.e2e.inprocess import cli, member_client, write_config

AUDIT = "407522758688"
PROD_1 = "537510074089"
HOME = "us-east-1"
TLS_PACK = """\
Resources:
  TlsOnly:
    Type: AWS::Config::ConfigRule
    Properties:
      ConfigRuleName: buckets-tls-only
      Scope:
        ComplianceResourceTypes: [AWS::S3::Bucket]
      Source:
        Owner: AWS
        SourceIdentifier: S3_BUCKET_SSL_REQUESTS_ONLY
  Versioned:
    Type: AWS::Config::ConfigRule
    Properties:
      ConfigRuleName: buckets-versioned
      Scope:
        ComplianceResourceTypes: [AWS::S3::Bucket]
      Source:
        Owner: AWS
        SourceIdentifier: S3_BUCKET_VERSIONING_ENABLED
"""

Row = tuple[str, str, str, str, str]  # account, Region, resource type, resource id, raw rule name


def _report(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str, strategy: str) -> set[Row]:
    code, out, err = cli(capsys, "report", "-c", str(config), "--endpoint-url", endpoint, "--strategy", strategy,
                         "-o", "json")  # fmt: skip
    assert code == 0, err
    rows = json.loads(out)["rows"]
    return {(r["account"], r["region"], r["resource_type"], r["resource_id"], r["raw_rule"]) for r in rows}


def _engine() -> set[Row]:
    from orgdeploy.sandbox.compliance.evaluations import current

    return {
        (rule.account, rule.region, result.resource_type, result.resource_id, rule.name)
        for rule, results in current().snapshot()[1]
        for result in results
        if result.compliance == "NON_COMPLIANT"
    }


def _details(endpoint: str) -> set[Row]:
    """Every rule the aggregator lists, asked one by one for its non-compliant resources."""
    config = member_client(endpoint, "config")
    rules = [
        r
        for page in config.get_paginator("describe_aggregate_compliance_by_config_rules").paginate(
            ConfigurationAggregatorName="orgdeploy"
        )
        for r in page["AggregateComplianceByConfigRules"]
    ]
    found = set()
    for rule in rules:
        pages = config.get_paginator("get_aggregate_compliance_details_by_config_rule").paginate(
            ConfigurationAggregatorName="orgdeploy", ConfigRuleName=rule["ConfigRuleName"],
            AccountId=rule["AccountId"], AwsRegion=rule["AwsRegion"], ComplianceType="NON_COMPLIANT",
        )  # fmt: skip
        for page in pages:
            for result in page["AggregateEvaluationResults"]:
                qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
                found.add((result["AccountId"], result["AwsRegion"], qualifier["ResourceType"],
                           qualifier["ResourceId"], qualifier["ConfigRuleName"]))  # fmt: skip
    return found


def _timeline_states(endpoint: str) -> dict[Row, str]:
    """The last compliance the hub's timeline holds for every (resource, rule) it heard of."""
    logs = member_client(endpoint, "logs", AUDIT, HOME)
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName="/aws/events/orgdeploy-notifications")
    events = [json.loads(e["message"]) for page in pages for e in page["events"]]
    last: dict[Row, tuple[str, str]] = {}
    for event in events:
        detail = event["detail"]
        key = (detail["awsAccountId"], detail["awsRegion"], detail["resourceType"], detail["resourceId"],
               detail["configRuleName"])  # fmt: skip
        moment = detail["newEvaluationResult"]["resultRecordedTime"]
        if key not in last or last[key][0] <= moment:
            last[key] = (moment, detail["newEvaluationResult"]["complianceType"])
    return {key: state for key, (_, state) in last.items()}


def _aws_cli_details(endpoint: str, row: Row) -> set[str]:
    account, region, _, _, rule = row
    aws = Path(sys.executable).parent / "aws"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_ENDPOINT_URL": endpoint,
           "AWS_DEFAULT_REGION": HOME, "PATH": "/usr/bin:/bin"}  # fmt: skip
    done = subprocess.run(
        [str(aws), "configservice", "get-aggregate-compliance-details-by-config-rule",
         "--configuration-aggregator-name", "orgdeploy", "--config-rule-name", rule, "--account-id", account,
         "--aws-region", region, "--compliance-type", "NON_COMPLIANT", "--output", "json"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["AggregateEvaluationResults"]
    return {r["EvaluationResultIdentifier"]["EvaluationResultQualifier"]["ResourceId"] for r in results}


def _one_truth(capsys: pytest.CaptureFixture[str], config: Path, endpoint: str) -> set[Row]:
    query, rules = _report(capsys, config, endpoint, "query"), _report(capsys, config, endpoint, "rules")
    assert query == rules == _engine() == _details(endpoint)
    states = _timeline_states(endpoint)
    assert states, "the timeline heard nothing"
    for key, state in states.items():
        assert (state == "NON_COMPLIANT") == (key in query), (key, state)
    return query


def test_report_engine_details_cli_and_timeline_are_one_truth(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orgdeploy.sandbox.compliance.evaluations import advance_clock

    endpoint = inprocess_sandbox.endpoint_url
    config = write_config(tmp_path, notifications={"hub_account": AUDIT, "emails": ["secops@example.com"]})
    code, _, err = cli(capsys, "bootstrap", "-c", str(config), "--endpoint-url", endpoint, "--yes",
                       "--enable-trusted-access")  # fmt: skip
    assert code == 0, err

    # A second pack, deployed once the forwarders listen: its first evaluations reach the timeline.
    (tmp_path / "packs" / "tls.yaml").write_text(TLS_PACK, encoding="utf-8")
    data = yaml.safe_load(config.read_text())
    data["conformance_packs"].append({"name": "tls", "template": "packs/tls.yaml"})
    config.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "update", "-c", str(config), "--endpoint-url", endpoint, "--yes")
    assert code == 0, err
    before = _one_truth(capsys, config, endpoint)
    bucket = f"prod-1-uploads-{HOME}"
    failing = {row for row in before if row[0] == PROD_1 and row[3] == bucket}
    assert {row[4].split("-conformance-pack-")[0] for row in failing} >= {"buckets-tls-only", "buckets-versioned"}
    sample = next(row for row in failing if row[4].startswith("buckets-tls-only"))
    assert bucket in _aws_cli_details(endpoint, sample)

    # Fix the bucket as its owner would, then let AWS Config's change-triggered rules run.
    s3 = member_client(endpoint, "s3", PROD_1, HOME)
    statement = {
        "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }  # fmt: skip
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert _engine() == {r for r in before}  # not evaluated yet: AWS Config takes its time
    advance_clock(3600)
    after = _one_truth(capsys, config, endpoint)
    tls_rules = {row[4] for row in failing if "tls-only" in row[4] or "ssl-requests-only" in row[4]}
    assert after == {row for row in before if not (row[3] == bucket and row[4] in tls_rules)}
    assert bucket not in _aws_cli_details(endpoint, sample)
    healed = {k for k, state in _timeline_states(endpoint).items() if k[3] == bucket and state == "COMPLIANT"}
    assert {k[4] for k in healed} >= {sample[4]}

    # Removing the pack removes its rules and their results, everywhere.
    data["conformance_packs"] = [p for p in data["conformance_packs"] if p["name"] != "tls"]
    config.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "update", "-c", str(config), "--endpoint-url", endpoint, "--yes")
    assert code == 0, err
    gone = _report(capsys, config, endpoint, "query")
    assert gone == _engine() == _details(endpoint)
    assert not [row for row in gone if row[4].startswith(("buckets-tls-only", "buckets-versioned"))]
    member = member_client(endpoint, "config", PROD_1, HOME)
    names = [r["ConfigRuleName"] for r in member.describe_config_rules()["ConfigRules"]]
    assert names and not [n for n in names if n.startswith("buckets-")]


SHARED_S3_PACK = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "packs"
    / ("Operational-Best-Practices-for-Amazon-S3-with-Remediation.yaml")
)


@pytest.mark.skipif(not SHARED_S3_PACK.is_file(), reason="../shared/packs is not beside this checkout")
def test_the_s3_sample_pack_reports_exactly_its_rules(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example config plus AWS's S3 sample pack: report shows the rules of exactly those two packs."""
    endpoint = inprocess_sandbox.endpoint_url
    config = write_config(tmp_path)
    (tmp_path / "packs" / "s3.yaml").write_text(SHARED_S3_PACK.read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load(config.read_text())
    data["conformance_packs"].append({"name": "s3", "template": "packs/s3.yaml"})
    config.write_text(yaml.safe_dump(data))
    code, _, err = cli(capsys, "bootstrap", "-c", str(config), "--endpoint-url", endpoint, "--yes",
                       "--enable-trusted-access")  # fmt: skip
    assert code == 0, err
    code, out, err = cli(capsys, "report", "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert {r["pack"] for r in rows} == {"orgdeploy-baseline", "orgdeploy-s3"}
    pack_rules = {
        resource["Properties"]["ConfigRuleName"]
        for resource in yaml.load(SHARED_S3_PACK.read_text(), Loader=_Loader)["Resources"].values()
        if resource["Type"] == "AWS::Config::ConfigRule"
    }
    assert {r["rule"] for r in rows if r["pack"] == "orgdeploy-s3"} <= pack_rules
    assert {r["rule"] for r in rows if r["pack"] == "orgdeploy-s3"} >= {
        "S3BucketSSLRequestsOnly",
        "S3BucketLoggingEnabled",
    }
    assert _engine() == {(r["account"], r["region"], r["resource_type"], r["resource_id"], r["raw_rule"]) for r in rows}


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
