"""The guard's service control policy: its content, the limits AWS Organizations sets, and its lifecycle (pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from orgdeploy.errors import PlanBlocked
from orgdeploy.planning.guard import SCP_SIZE_LIMIT, guard_content, guard_document
from orgdeploy.planning.inventory import GuardState
from orgdeploy.planning.planner import plan
from orgdeploy.planning.teardown import plan_destroy
from orgdeploy.templates.render import render_all
from tests.helpers import make_config
from tests.unit.test_planner import DEV, MGMT, PROD, ROOT, inventory

ON = GuardState(scp_enabled=True)


def _guard_steps(config: object, state: GuardState) -> list[tuple[str, str]]:
    the_plan = plan(config, replace(inventory(), guard=state), render_all(config))  # type: ignore[arg-type]
    return [(s.action, dict(s.parameters).get("TargetId", "")) for s in the_plan.steps if "guard" in s.action]


def test_the_policy_denies_changes_to_orgdeploys_resources_to_all_but_the_exempt_roles(tmp_path: Path) -> None:
    config = make_config(tmp_path, guard={"enabled": True, "break_glass_roles": ["BreakGlass"]})
    document = guard_document(config)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert set(by_sid) == {
        "DenyRecorderChanges",
        "DenyDeliveryChannelChanges",
        "DenyPackChanges",
        "DenyPackRuleChanges",
    }
    assert all(s["Effect"] == "Deny" for s in by_sid.values())
    recorder = by_sid["DenyRecorderChanges"]
    assert set(recorder["Action"]) == {
        "config:StopConfigurationRecorder",
        "config:DeleteConfigurationRecorder",
        "config:PutConfigurationRecorder",
    }
    assert recorder["Resource"] == "arn:aws:config:*:*:configuration-recorder/orgdeploy-recorder/*"
    assert (
        by_sid["DenyPackChanges"]["Resource"]
        == "arn:aws:config:*:*:conformance-pack/OrgConformsPack-orgdeploy-baseline-*"
    )
    assert recorder["Condition"] == {
        "ArnNotLike": {
            "aws:PrincipalArn": [
                "arn:aws:iam::*:role/stacksets-exec-*",
                "arn:aws:iam::*:role/AWSCloudFormationStackSetExecutionRole",
                "arn:aws:iam::*:role/OrganizationAccountAccessRole",
                "arn:aws:iam::*:role/BreakGlass",
            ]
        }
    }
    # From a delegated administrator, the aggregator in its account is guarded too.
    delegated = guard_document(config, aggregator_account="222222222222")["Statement"][-1]
    assert delegated["Resource"] == "arn:aws:config:*:222222222222:config-aggregator/*"
    assert len(guard_content(config)) == len(json.dumps(document, separators=(",", ":")))


def test_the_guard_is_created_and_attached_to_the_targets_then_left_alone(tmp_path: Path) -> None:
    config = make_config(tmp_path, guard={"enabled": True}, targets={"organizational_units": [PROD, DEV]})
    assert _guard_steps(config, ON) == [
        ("put_guard_policy", ""),
        ("attach_guard_policy", PROD),
        ("attach_guard_policy", DEV),
    ]
    converged = GuardState(True, "p-guard", guard_content(config), (DEV, PROD), ())
    assert _guard_steps(config, converged) == []
    # Its own targets, and the content changed: updated, attached to the new target, detached from the old.
    moved = make_config(tmp_path, guard={"enabled": True, "organizational_units": ["ROOT"], "break_glass_roles": ["X"]})
    assert _guard_steps(moved, converged) == [
        ("put_guard_policy", ""),
        ("attach_guard_policy", ROOT),
        ("detach_guard_policy", DEV),
        ("detach_guard_policy", PROD),
    ]


def test_the_guard_needs_scps_on_the_root_and_a_free_slot_on_each_target(tmp_path: Path) -> None:
    config = make_config(tmp_path, guard={"enabled": True})
    with pytest.raises(PlanBlocked, match="org-setup"):
        _guard_steps(config, GuardState(scp_enabled=False))
    with pytest.raises(PlanBlocked, match=f"{ROOT} already has 5 service control policies attached"):
        _guard_steps(config, GuardState(scp_enabled=True, scp_counts=((ROOT, 5),)))
    assert _guard_steps(config, GuardState(scp_enabled=True, scp_counts=((ROOT, 4),)))[-1] == (
        "attach_guard_policy",
        ROOT,
    )


def test_a_policy_over_5120_characters_is_refused_before_any_change(tmp_path: Path) -> None:
    roles = [f"break-glass-{n:02d}-" + "x" * 49 for n in range(10)]  # ten names of 64 characters, the most IAM allows
    config = make_config(tmp_path, guard={"enabled": True, "break_glass_roles": roles})
    assert len(guard_content(config)) > SCP_SIZE_LIMIT
    with pytest.raises(PlanBlocked, match=r"over AWS Organizations' limit of 5,120"):
        _guard_steps(config, ON)


def test_guard_off_and_destroy_detach_and_delete_the_policy(tmp_path: Path) -> None:
    state = GuardState(True, "p-guard", "{}", (ROOT,), ())
    config = make_config(tmp_path)
    assert _guard_steps(config, state) == [("detach_guard_policy", ROOT), ("delete_guard_policy", "")]
    steps = plan_destroy(config, replace(inventory(), guard=state), retain=True).steps
    assert [s.action for s in steps][:2] == ["detach_guard_policy", "delete_guard_policy"]
    assert MGMT not in [s.account for s in steps if "guard" in s.action]
