"""existing_recorder: adopt puts a foreign recorder under the stack set, its name kept; destroy gives it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.inprocess import MANAGEMENT, cli, member_client, write_config

pytest.importorskip("moto")

RECORDER_SET = "orgdeploy-recorder"


def _foreign(inprocess_sandbox: Any) -> tuple[str, str]:
    quirk = next(q for q in inprocess_sandbox.summary.quirks if q.kind == "foreign-recorder")
    return quirk.account_id, quirk.region


def test_adopt_takes_the_foreign_recorder_under_the_stack_set_and_destroy_gives_it_back(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    account, region = _foreign(inprocess_sandbox)
    config = write_config(tmp_path, recording={"existing_recorder": "adopt"})
    member = member_client(endpoint, "config", account, region)
    before = member.describe_configuration_recorders()["ConfigurationRecorders"]
    assert [r["name"] for r in before] == ["default"]

    code, out, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint, "--enable-trusted-access")
    assert code == 0, err
    assert "adopt_recorders orgdeploy-recorder" in out
    assert f"{account} {region}: recorder 'default', channel none" in out
    assert "no delivery channel; orgdeploy adds 'orgdeploy-delivery'" in out

    code, out, err = cli(
        capsys, "bootstrap", "--yes", "--enable-trusted-access", "-c", str(config), "--endpoint-url", endpoint
    )
    assert code == 0, out + err

    # Read back by plain boto3: same name, the config's recording group, recording.
    [recorder] = member.describe_configuration_recorders()["ConfigurationRecorders"]
    assert recorder["name"] == "default"
    assert recorder["recordingGroup"]["allSupported"] is True
    assert recorder["recordingGroup"]["includeGlobalResourceTypes"] is False  # not the home Region
    [status] = member.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
    [channel] = member.describe_delivery_channels()["DeliveryChannels"]
    assert channel["name"] == "orgdeploy-delivery" and "-config-" in channel["s3BucketName"]

    cfn = member_client(endpoint, "cloudformation")
    instance = cfn.describe_stack_instance(
        StackSetName=RECORDER_SET, StackInstanceAccount=account, StackInstanceRegion=region
    )["StackInstance"]
    assert instance["Status"] == "CURRENT"
    overrides = {p["ParameterKey"]: p["ParameterValue"] for p in instance["ParameterOverrides"]}
    assert overrides["RecorderName"] == "default"
    stack = member_client(endpoint, "cloudformation", account, region).describe_stacks(StackName=instance["StackId"])
    assert stack["Stacks"][0]["StackName"].startswith("StackSet-orgdeploy-recorder-")  # made by the stack set

    # The pair is in the packs: no pack excludes it.
    packs = member_client(endpoint, "config", region=region).describe_organization_conformance_packs()
    for pack in packs["OrganizationConformancePacks"]:
        assert account not in pack.get("ExcludedAccounts", [])

    code, out, err = cli(capsys, "status", "-c", str(config), "--endpoint-url", endpoint, "-o", "json")
    document = json.loads(out)
    place = next(p for p in document["coverage"]["places"] if (p["account"], p["region"]) == (account, region))
    assert (place["verdict"], place["owner"], place["recorder"]) == ("covered", "orgdeploy", "default"), place
    assert code == 0, out

    code, out, err = cli(capsys, "plan", "-c", str(config), "--endpoint-url", endpoint)
    assert code == 0 and "No changes" in out, out

    # destroy gives it back: the recorder stays with its old group, no channel, not recording; no stack is left.
    code, out, err = cli(
        capsys, "destroy", "--yes", "--retain-resources", "-c", str(config), "--endpoint-url", endpoint
    )
    assert code == 0, out + err
    [after] = member.describe_configuration_recorders()["ConfigurationRecorders"]
    assert after["name"] == "default"
    assert after["recordingGroup"] == before[0]["recordingGroup"]
    assert member.describe_delivery_channels()["DeliveryChannels"] == []
    [status] = member.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is False  # as it was: no channel, so it could not record
    member_cfn = member_client(endpoint, "cloudformation", account, region)
    names = [
        s["StackName"] for s in member_cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"
    ]
    assert not [n for n in names if n.startswith("StackSet-orgdeploy-recorder-")]
    assert MANAGEMENT  # the management account has no foreign recorder in the seed


def test_a_failed_adoption_gives_the_recorder_back_at_once(
    inprocess_sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orgdeploy.planning.plan import StepResult
    from orgdeploy.running.adopting import Adopter

    endpoint = inprocess_sandbox.endpoint_url
    account, region = _foreign(inprocess_sandbox)
    member = member_client(endpoint, "config", account, region)
    bucket = f"legacy-config-{account}"
    member_client(endpoint, "s3", account, "us-east-1").create_bucket(Bucket=bucket)
    member.put_delivery_channel(DeliveryChannel={"name": "legacy", "s3BucketName": bucket})
    member.start_configuration_recorder(ConfigurationRecorderName="default")
    before = member.describe_configuration_recorders()["ConfigurationRecorders"]
    channels = member.describe_delivery_channels()["DeliveryChannels"]

    def refused(self: Adopter, step: Any, values: Any, entries: Any) -> StepResult:
        # What a failed CreateStackInstances returns; by then the recorder and channel are gone.
        assert member.describe_configuration_recorders()["ConfigurationRecorders"] == []
        return StepResult(step, "failed", "operation adopt FAILED")

    monkeypatch.setattr(Adopter, "_create", refused)
    config = write_config(tmp_path, recording={"existing_recorder": "adopt"})
    code, out, err = cli(
        capsys, "bootstrap", "--yes", "--enable-trusted-access", "-c", str(config), "--endpoint-url", endpoint
    )
    assert code == 1 and "the recorders were given back as they were" in out, out + err
    assert member.describe_configuration_recorders()["ConfigurationRecorders"] == before
    assert member.describe_delivery_channels()["DeliveryChannels"] == channels
    [status] = member.describe_configuration_recorder_status()["ConfigurationRecordersStatus"]
    assert status["recording"] is True
