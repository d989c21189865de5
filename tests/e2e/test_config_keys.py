"""Every key of docs/config.md, changed one at a time on a bootstrapped sandbox: `update` changes what is
deployed (read back with plain boto3), and a second `plan` is then empty.

Keys that do not shape what is deployed (how operations run, how the census reads) must leave the state
alone; keys that `update` cannot change are listed with the reason and the test that covers them. A key
added to docs/config.md without a row here fails the test.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.inprocess import cli, member_client

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs" / "config.md"
MANAGEMENT, LOG, AUDIT, DEV1, PROD2 = "123456789012", "176045229611", "407522758688", "029061126486", "312502394918"
KEY = "arn:aws:kms:{}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
Mutation = Callable[[dict[str, Any], "World"], None]


@dataclass
class World:
    """What a mutation may need to know about the sandbox."""

    endpoint: str
    folder: Path
    ous: dict[str, str]


@dataclass(frozen=True)
class Row:
    key: str
    change: Mutation | None = None
    expect: str = "changes"  # changes | unchanged | refused
    why: str = ""


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any], _: World) -> None:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[last] = value

    return mutate


def _pack(field: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any], _: World) -> None:
        data["conformance_packs"][0][field] = value

    return mutate


def _ous(data: dict[str, Any], world: World) -> None:
    data["targets"]["organizational_units"] = [world.ous["Security"], world.ous["Workloads"]]


def _second_template(data: dict[str, Any], world: World) -> None:
    body = (world.folder / "packs" / "baseline.yaml").read_text(encoding="utf-8")
    (world.folder / "packs" / "second.yaml").write_text(body.replace("MaxAccessKeyAgeDays", "MaxKeyAge"), "utf-8")
    data["conformance_packs"][0]["template"] = "packs/second.yaml"
    data["conformance_packs"][0]["parameters"] = {"MaxKeyAge": "90"}


def _topic(account: str, name: str) -> str:
    return f"arn:aws:sns:us-east-1:{account}:{name}"


def _make_topic(world: World, account: str, name: str) -> None:
    member_client(world.endpoint, "sns", account).create_topic(Name=name)


def _notifications(data: dict[str, Any], _: World) -> None:
    data["notifications"] = {"hub_account": AUDIT, "emails": ["secops@example.com"]}


def _notification_topic(data: dict[str, Any], world: World) -> None:
    _make_topic(world, AUDIT, "team-alerts")
    data["notifications"]["sns_topic_arn"] = _topic(AUDIT, "team-alerts")


def _notify(field: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any], _: World) -> None:
        data["notifications"][field] = value

    return mutate


def _delivery_topic(data: dict[str, Any], world: World) -> None:
    data["delivery"]["sns_topic_arn"] = _topic(MANAGEMENT, "config-stream")


ROWS = [
    Row("regions", _set("regions", ["us-east-1", "eu-west-1", "ap-southeast-2"])),
    Row("targets.organizational_units", _ous),
    Row("targets.exclude_accounts", _set("targets.exclude_accounts", [PROD2])),
    Row("delivery.bucket_name", _set("delivery.bucket_name", "orgdeploy-config-renamed")),
    Row(
        "delivery.bucket_account",
        lambda d, w: (
            _set("delivery.bucket_account", LOG)(d, w),
            _set("delivery.bucket_name", "org-logs-central")(d, w),
        ),
        why="with a new bucket_name: S3 names are global and the old bucket is retained",
    ),
    Row("delivery.key_prefix", _set("delivery.key_prefix", "config")),
    Row("delivery.kms_key_arn", _set("delivery.kms_key_arn", KEY.format("us-east-1"))),
    Row("delivery.pack_bucket_kms_keys", _set("delivery.pack_bucket_kms_keys", {"eu-west-1": KEY.format("eu-west-1")})),
    Row("delivery.sns_topic_arn", _delivery_topic),
    Row("delivery.snapshot_frequency", _set("delivery.snapshot_frequency", "Six_Hours")),
    Row("recording.frequency", _set("recording.frequency", "daily")),
    Row(
        "recording.overrides",
        _set("recording.overrides", [{"resource_types": ["AWS::EC2::Instance"], "frequency": "continuous"}]),
    ),
    Row(
        "recording.strategy",
        lambda d, w: d["recording"].update(strategy="exclude", resource_types=["AWS::EC2::NetworkInterface"]),
        why="exclude needs resource_types",
    ),
    Row("recording.resource_types", _set("recording.resource_types", ["AWS::EC2::NetworkInterface", "AWS::EC2::VPC"])),
    Row("recording.existing_recorder", _set("recording.existing_recorder", "fail"), expect="refused"),
    Row(
        "recording.profiles",
        lambda d, w: d["recording"].update(
            profiles=[{"name": "workloads", "organizational_units": [w.ous["Workloads"]], "frequency": "continuous"}]
        ),
        why="dev-1 is under Workloads: its recorders go back to continuous, everything recorded",
    ),
    Row("aggregator.name", _set("aggregator.name", "security-view")),
    Row("conformance_packs[].parameters", _pack("parameters", {"MaxAccessKeyAgeDays": "45"})),
    Row("conformance_packs[].template", _second_template),
    Row("conformance_packs[].regions", _pack("regions", ["us-east-1"])),
    Row("conformance_packs[].excluded_accounts", _pack("excluded_accounts", [DEV1])),
    Row("conformance_packs[].delivery_bucket", _pack("delivery_bucket", "awsconfigconforms-shared-results")),
    Row("conformance_packs[].name", _pack("name", "renamed")),
    Row("stacksets.managed_execution", _set("stacksets.managed_execution", False)),
    Row("stacksets.region_concurrency", _set("stacksets.region_concurrency", "sequential"), expect="unchanged"),
    Row("stacksets.max_concurrent_percentage", _set("stacksets.max_concurrent_percentage", 50), expect="unchanged"),
    Row(
        "stacksets.failure_tolerance_percentage", _set("stacksets.failure_tolerance_percentage", 20), expect="unchanged"
    ),
    Row("stacksets.concurrency_mode", _set("stacksets.concurrency_mode", "strict"), expect="unchanged"),
    Row("census.role_name", _set("census.role_name", "OrganizationAccountAccessRole"), expect="unchanged"),
    Row("notifications", _notifications),
    Row("notifications.emails", _notify("emails", ["secops@example.com", "oncall@example.com"])),
    Row("notifications.events", _notify("events", ["compliance_change"])),
    Row("notifications.retention_days", _notify("retention_days", 365)),
    Row("notifications.sns_topic_arn", _notification_topic),
    Row(
        "notifications.hub_account",
        lambda d, w: d["notifications"].update(hub_account=LOG, sns_topic_arn=None),
        why="a topic of the old hub account cannot stay",
    ),
    Row("management_account.deploy", _set("management_account.deploy", False)),
    Row(
        "remediation.rules",
        _set(
            "remediation.rules",
            [{"rule": "s3-bucket-public-read-prohibited", "document": "AWS-DisableS3BucketPublicReadWrite"}],
        ),
    ),
]
NOT_BY_UPDATE = {
    "home_region": "moving the home Region moves the service-linked role and the global types: destroy, then bootstrap",
    "stacksets.name_prefix": "a new prefix names a new deployment, beside the old one: destroy, then bootstrap",
    "management_account.role_arn": "used only from a delegated administrator; test_delegated_administrator_flow",
    "admin.call_as": "changes who runs orgdeploy, not what it deploys; test_delegated_administrator_flow",
    "admin.delegated_admin_account": "changes who runs orgdeploy; test_delegated_administrator_flow",
    # The guard lives in Organizations, not in stacks: test_guard.py turns it on (after org-setup) and off.
    "guard.enabled": "needs org-setup (service control policies) first; tests/e2e/test_guard.py",
    "guard.organizational_units": "where the guard is attached; tests/unit/test_guard.py",
    "guard.break_glass_roles": "who the guard exempts; tests/e2e/test_guard.py",
    # These shape remediations, and the example config's pack has none until remediation.rules adds one.
    "remediation.mode": "with remediation.rules set; tests/e2e/test_remediation.py (notify mode)",
    "remediation.role_name": "with remediation.rules set; tests/unit/test_remediation.py",
    "remediation.exceptions": "with remediation.rules set; tests/e2e/test_remediation.py",
}


def documented_keys() -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", DOCS.read_text(encoding="utf-8"), flags=re.MULTILINE)


def test_every_documented_key_has_a_row() -> None:
    covered = {row.key for row in ROWS} | set(NOT_BY_UPDATE)
    assert sorted(set(documented_keys()) - covered) == []
    assert sorted(covered - set(documented_keys())) == []


@functools.cache
def _client(endpoint: str, service: str, account: str | None = None, region: str = "us-east-1") -> Any:
    return member_client(endpoint, service, account, region)


def _deployed(endpoint: str) -> dict[str, Any]:
    """What is deployed, read with plain boto3: stack sets, stacks where orgdeploy puts them, dev-1's recorders."""
    state: dict[str, Any] = {}
    cfn = _client(endpoint, "cloudformation")
    for summary in cfn.list_stack_sets(Status="ACTIVE")["Summaries"]:
        name = summary["StackSetName"]
        detail = cfn.describe_stack_set(StackSetName=name)["StackSet"]
        instances = cfn.list_stack_instances(StackSetName=name)["Summaries"]
        state[f"stack-set {name}"] = (
            detail["TemplateBody"],
            sorted((p["ParameterKey"], p.get("ParameterValue")) for p in detail.get("Parameters", [])),
            detail.get("ManagedExecution"),
            sorted((i["Account"], i["Region"], i["Status"]) for i in instances),
        )
    for account in (MANAGEMENT, LOG, AUDIT):
        for region in ("us-east-1", "eu-west-1", "ap-southeast-2"):
            stacks = _client(endpoint, "cloudformation", account, region)
            for stack in stacks.describe_stacks()["Stacks"]:
                if stack["StackName"].startswith("StackSet-"):
                    continue
                body = stacks.get_template(StackName=stack["StackName"])["TemplateBody"]
                params = sorted((p["ParameterKey"], p.get("ParameterValue")) for p in stack.get("Parameters", []))
                state[f"stack {account} {region} {stack['StackName']}"] = (json.dumps(body, sort_keys=True), params)
    for region in ("us-east-1", "eu-west-1"):
        config = _client(endpoint, "config", DEV1, region)
        state[f"recorders {region}"] = config.describe_configuration_recorders()["ConfigurationRecorders"]
        state[f"channels {region}"] = config.describe_delivery_channels()["DeliveryChannels"]
    return state


def _ou_ids(endpoint: str) -> dict[str, str]:
    org = member_client(endpoint, "organizations")
    root = org.list_roots()["Roots"][0]["Id"]
    return {u["Name"]: u["Id"] for u in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]}


def test_each_key_changed_by_update_changes_what_is_deployed_and_converges(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orgdeploy.templates.scaffold import write_example

    endpoint = inprocess_sandbox.endpoint_url
    write_example(tmp_path, force=True)
    path = tmp_path / "orgdeploy.yaml"
    world = World(endpoint, tmp_path, _ou_ids(endpoint))
    _make_topic(world, MANAGEMENT, "config-stream")
    args = ["-c", str(path), "--endpoint-url", endpoint]
    code, _, err = cli(capsys, "bootstrap", *args, "--yes", "--enable-trusted-access")
    assert code == 0, err
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    failures = []
    now = _deployed(endpoint)
    for row in ROWS:
        before = now
        trial = json.loads(json.dumps(data))
        assert row.change is not None
        row.change(trial, world)
        path.write_text(yaml.safe_dump(trial), encoding="utf-8")
        code, out, err = cli(capsys, "update", *args, "--yes", "-o", "json")
        now = _deployed(endpoint)
        if row.expect == "refused":
            if code != 1 or now != before:
                failures.append(f"{row.key}: expected a refusal with nothing changed, got exit {code}: {err[-300:]}")
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
            continue
        if code != 0:
            failures.append(f"{row.key}: update exited {code}: {(err or out)[-600:]}")
            path.write_text(yaml.safe_dump(data), encoding="utf-8")
            continue
        changed = now != before
        if changed != (row.expect == "changes"):
            failures.append(
                f"{row.key}: expected {row.expect}, but the deployed state {'did' if changed else 'did not'} change"
            )
        code, out, err = cli(capsys, "plan", *args, "-o", "json")
        left = [s["id"] for s in json.loads(out)["steps"]] if code == 0 else err[-300:]
        if code != 0 or left:
            failures.append(f"{row.key}: the plan after update is not empty: {left}")
        data = trial
    assert not failures, "\n".join(failures)
