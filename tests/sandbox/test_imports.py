"""The sandbox answers resource import as AWS does for the Config types, and ImportStacksToStackSet's checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("moto")

from botocore.exceptions import ClientError

from tests.e2e.inprocess import member_client

TOPIC = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}})


def _foreign(sandbox: Any) -> tuple[str, str]:
    quirk = next(q for q in sandbox.summary.quirks if q.kind == "foreign-recorder")
    return quirk.account_id, quirk.region


def test_an_import_of_the_config_recorder_is_refused_as_aws_refuses_a_type_it_cannot_import(
    inprocess_sandbox: Any,
) -> None:
    account, region = _foreign(inprocess_sandbox)
    cfn = member_client(inprocess_sandbox.endpoint_url, "cloudformation", account, region)
    recorder = {
        "Type": "AWS::Config::ConfigurationRecorder",
        "DeletionPolicy": "Retain",
        "Properties": {"Name": "default"},
    }
    with pytest.raises(ClientError, match="does not support resource import"):
        cfn.create_change_set(
            StackName="adopt-test",
            ChangeSetName="adopt-test-import",
            ChangeSetType="IMPORT",
            TemplateBody=json.dumps({"Resources": {"Recorder": recorder}}),
            ResourcesToImport=[
                {
                    "ResourceType": "AWS::Config::ConfigurationRecorder",
                    "LogicalResourceId": "Recorder",
                    "ResourceIdentifier": {"Id": "default"},
                }
            ],
        )
    assert not [s for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "adopt-test"]


def test_import_stacks_to_stack_set_checks_the_limit_the_ous_the_template_and_an_existing_instance(
    inprocess_sandbox: Any,
) -> None:
    account, region = _foreign(inprocess_sandbox)
    endpoint = inprocess_sandbox.endpoint_url
    stack_id = member_client(endpoint, "cloudformation", account, region).create_stack(
        StackName="topic", TemplateBody=TOPIC
    )["StackId"]
    admin = member_client(endpoint, "cloudformation")
    admin.activate_organizations_access()
    for name, body in (("imports", TOPIC), ("other-template", json.dumps({"Resources": {}, "Outputs": {}}))):
        admin.create_stack_set(
            StackSetName=name, TemplateBody=body, PermissionModel="SERVICE_MANAGED", AutoDeployment={"Enabled": False}
        )
    root = inprocess_sandbox.summary.root_id
    security = next(ou.id for ou in inprocess_sandbox.summary.ous if ou.name == "Security")

    def attempt(stack_set: str, ids: list[str], units: list[str]) -> str:
        response = admin.import_stacks_to_stack_set(StackSetName=stack_set, StackIds=ids, OrganizationalUnitIds=units)
        return str(response["OperationId"])

    with pytest.raises(ClientError, match="is not in OrganizationalUnitIds"):
        attempt("imports", [stack_id], [security])
    with pytest.raises(ClientError, match="LimitExceededException"):
        attempt("imports", [stack_id] * 11, [root])
    with pytest.raises(ClientError, match="differs from the StackSet's template"):
        attempt("other-template", [stack_id], [root])
    with pytest.raises(ClientError, match="StackNotFoundException"):
        attempt("imports", [stack_id.replace(":stack/topic/", ":stack/gone/")], [root])
    operation = attempt("imports", [stack_id], [root])
    status = admin.describe_stack_set_operation(StackSetName="imports", OperationId=operation)["StackSetOperation"]
    assert status["Action"] == "CREATE"
    with pytest.raises(ClientError, match="InvalidOperationException"):
        attempt("imports", [stack_id], [root])
