"""`add-region`: edits orgdeploy.yaml in place (comments kept) and deploys only the new Region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.inprocess import MANAGEMENT, cli, member_client

pytest.importorskip("moto")
pytestmark = pytest.mark.e2e

PROD_2 = "312502394918"
CONFIG = """\
# Our organization's Config rollout.
home_region: us-east-1   # IAM types recorded here
regions: [us-east-1, eu-west-1]  # grow with `orgdeploy add-region`
conformance_packs:
  - name: baseline
    template: packs/baseline.yaml   # the default pack
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    from orgdeploy.templates.jinja import cfn_dir

    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "baseline.yaml").write_text((cfn_dir() / "packs" / "baseline.yaml").read_text())
    path = tmp_path / "orgdeploy.yaml"
    path.write_text(CONFIG)
    return path


def test_add_region_touches_only_the_new_region_and_keeps_comments(
    inprocess_sandbox: Any, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = inprocess_sandbox.endpoint_url
    code, _, err = cli(
        capsys, "bootstrap", "-c", str(config), "--endpoint-url", endpoint, "--yes", "--enable-trusted-access"
    )
    assert code == 0, err
    cfn = member_client(endpoint, "cloudformation")
    role_instances = cfn.list_stack_instances(StackSetName="orgdeploy-config-role")["Summaries"]

    code, out, err = cli(
        capsys, "add-region", "ap-southeast-2", "-c", str(config), "--endpoint-url", endpoint, "--yes", "-o", "json"
    )
    assert code == 0, err
    assert config.read_text() == CONFIG.replace(
        "regions: [us-east-1, eu-west-1]  #", "regions: [us-east-1, eu-west-1, ap-southeast-2]  #"
    )
    steps = json.loads(out)["plan"]["steps"]
    changes = [s for s in steps if s["action"] != "verify"]
    assert {s["id"] for s in changes} == {
        "recorder-create-regions-ap-southeast-2",
        "management-recorder-ap-southeast-2",
        "pack-baseline-ap-southeast-2",
    }
    assert all(s["regions"] == ["ap-southeast-2"] for s in changes)
    # The service-linked role is never re-created; the aggregator already covers every Region.
    assert cfn.list_stack_instances(StackSetName="orgdeploy-config-role")["Summaries"] == role_instances
    for account in (PROD_2, MANAGEMENT):
        recorders = member_client(endpoint, "config", account, "ap-southeast-2").describe_configuration_recorders()
        assert [r["name"] for r in recorders["ConfigurationRecorders"]] == ["orgdeploy-recorder"]
        assert recorders["ConfigurationRecorders"][0]["recordingGroup"]["includeGlobalResourceTypes"] is False

    code, out, _ = cli(capsys, "add-region", "ap-southeast-2", "-c", str(config), "--endpoint-url", endpoint, "--yes")
    assert code == 0 and "No changes" in out
    assert config.read_text().count("ap-southeast-2") == 1


def test_add_region_refuses_unknown_and_disabled_regions(
    inprocess_sandbox: Any, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from orgdeploy.sandbox.state import STATE

    endpoint = inprocess_sandbox.endpoint_url
    code, _, err = cli(capsys, "add-region", "ap-sotheast-2", "-c", str(config), "--endpoint-url", endpoint, "--yes")
    assert code == 2 and "unknown Region(s) ap-sotheast-2" in err
    STATE.disabled_regions.add((MANAGEMENT, "me-south-1"))
    code, _, err = cli(capsys, "add-region", "me-south-1", "-c", str(config), "--endpoint-url", endpoint, "--yes")
    assert code == 2 and f"me-south-1 not enabled for the management account {MANAGEMENT}" in err
    assert config.read_text() == CONFIG
    assert member_client(endpoint, "cloudformation").list_stack_sets(Status="ACTIVE")["Summaries"] == []
