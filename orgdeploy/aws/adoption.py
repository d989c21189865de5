"""Adopt recorders made outside orgdeploy, and give them back (planning/adoption.py says how and why).

Adopting one account and Region, through census.role_name there:
- a recorder without a channel first gets orgdeploy's channel (an import cannot create resources, and the
  template holds both);
- an IMPORT change set puts the recorder and channel, by name, into stack <prefix>-recorder-adopted made
  from the recorder template; CloudFormation checks that they exist and are in no other stack;
- then, from the administrator, ImportStacksToStackSet makes the stack an instance of the recorder
  stack set, ten stacks per call as AWS allows.
An import does not change a resource, so the recorder and channel are then set to what the template
says, as `update` mends a recorder changed by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import call_with_retries, poll
from orgdeploy.aws.session import AwsContext
from orgdeploy.aws.stacks import StackFailed, StacksGateway

PERMISSIONS = (
    Need(
        (
            "cloudformation:CreateChangeSet",
            "cloudformation:DescribeChangeSet",
            "cloudformation:ExecuteChangeSet",
            "cloudformation:DescribeStacks",
            "cloudformation:GetTemplate",
            "cloudformation:UpdateStack",
            "cloudformation:DeleteStack",
            "cloudformation:DescribeStackEvents",
        ),
        DEPLOYERS | {"member"},
        "existing_recorder: adopt: import a recorder and its channel into a stack in its account; destroy: give back",
    ),
    Need(
        (
            "config:DescribeConfigurationRecorders",
            "config:DescribeDeliveryChannels",
            "config:PutDeliveryChannel",
            "config:DeleteDeliveryChannel",
            "config:PutConfigurationRecorder",
            "config:StartConfigurationRecorder",
            "config:StopConfigurationRecorder",
        ),
        DEPLOYERS | {"member"},
        "existing_recorder: adopt: read the recorder, set it as the template says; destroy: put its settings back",
    ),
    Need(("cloudformation:ImportStacksToStackSet",), DEPLOYERS, "existing_recorder: adopt: join the stacks to the set"),
)

T = TypeVar("T")
RECORDER_TYPE = "AWS::Config::ConfigurationRecorder"
CHANNEL_TYPE = "AWS::Config::DeliveryChannel"
# The logical ids of cfn/recorder.yaml.j2.
RECORDER_ID = "ConfigurationRecorder"
CHANNEL_ID = "DeliveryChannel"


@dataclass(frozen=True)
class Channel:
    """The delivery channel the template describes, as PutDeliveryChannel takes it."""

    name: str
    bucket: str
    key_prefix: str
    kms_key_arn: str | None
    sns_topic_arn: str | None
    frequency: str

    def request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "name": self.name,
            "s3BucketName": self.bucket,
            "configSnapshotDeliveryProperties": {"deliveryFrequency": self.frequency},
        }
        optional = {"s3KeyPrefix": self.key_prefix, "s3KmsKeyArn": self.kms_key_arn, "snsTopicARN": self.sns_topic_arn}
        request.update({k: v for k, v in optional.items() if v})
        return request


class AdoptionGateway:
    """One account and Region's recorder: into a stack, and out of it again."""

    def __init__(self, ctx: AwsContext, *, account: str, region: str, timeout: float) -> None:
        self.account = account
        self.region = region
        self.timeout = timeout
        self.cloudformation = ctx.client("cloudformation", region, account)
        self.config = ctx.client("config", region, account)
        self.stacks = StacksGateway(ctx, account=account, region=region)

    def channel_names(self) -> list[str]:
        found = call_with_retries(self.config.describe_delivery_channels).get("DeliveryChannels", [])
        return [str(c["name"]) for c in found]

    def put_channel(self, channel: Channel) -> None:
        call_with_retries(self.config.put_delivery_channel, DeliveryChannel=channel.request())

    def import_into_stack(
        self, stack_name: str, body: str, parameters: dict[str, str], *, recorder: str, channel: str
    ) -> str:
        """Import the recorder and channel into a new stack; its id. A stack already made by an earlier run is kept."""
        existing = self.stacks.read(stack_name)
        if existing is not None and existing.status == "IMPORT_COMPLETE":
            return self._stack_id(stack_name)
        if existing is not None:
            raise StackFailed(stack_name, existing.status, "a stack of this name is in the way of the import")
        name = f"{stack_name}-import"
        response = call_with_retries(
            self.cloudformation.create_change_set,
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType="IMPORT",
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
            ResourcesToImport=[
                {
                    "ResourceType": RECORDER_TYPE,
                    "LogicalResourceId": RECORDER_ID,
                    "ResourceIdentifier": {"Name": recorder},
                },
                {
                    "ResourceType": CHANNEL_TYPE,
                    "LogicalResourceId": CHANNEL_ID,
                    "ResourceIdentifier": {"Name": channel},
                },
            ],
        )
        change_set = str(response["Id"])
        self._wait_change_set(change_set)
        call_with_retries(self.cloudformation.execute_change_set, ChangeSetName=change_set)
        state = self._wait_stack(stack_name)
        if state != "IMPORT_COMPLETE":
            raise StackFailed(stack_name, state, self.stacks.failure_reason(stack_name))
        return self._stack_id(stack_name)

    def _stack_id(self, name: str) -> str:
        return str(call_with_retries(self.cloudformation.describe_stacks, StackName=name)["Stacks"][0]["StackId"])

    def _wait_change_set(self, change_set: str) -> None:
        def ready() -> bool | None:
            found = call_with_retries(self.cloudformation.describe_change_set, ChangeSetName=change_set)
            if found["Status"] == "FAILED":
                raise StackFailed(change_set, "FAILED", str(found.get("StatusReason") or ""))
            return True if found["Status"] == "CREATE_COMPLETE" else None

        poll(ready, timeout=self.timeout)

    def _wait_stack(self, name: str) -> str:
        def settled() -> str | None:
            status = str(
                call_with_retries(self.cloudformation.describe_stacks, StackName=name)["Stacks"][0]["StackStatus"]
            )
            return None if status.endswith("_IN_PROGRESS") else status

        return poll(settled, timeout=self.timeout)

    def give_back(self, stack_name: str, retained_body: str, *, say: Callable[[str], None]) -> None:
        """Delete the stack but keep its recorder and channel, then put back what they were before adoption."""
        state = self.stacks.read(stack_name)
        if state is None:
            return
        settings = dict(state.outputs).get("AdoptedSettings")
        if not settings:
            raise StackFailed(stack_name, state.status, "the stack holds no AdoptedSettings output to give back")
        # Keep the resources: the same template with DeletionPolicy Retain, then delete the stack.
        self.stacks.deploy(stack_name, retained_body, dict(state.parameters), ["CAPABILITY_IAM"], timeout=self.timeout)
        self.stacks.delete(stack_name, timeout=self.timeout)
        self.restore(json.loads(settings))
        say(f"{self.account} {self.region}: recorder {json.loads(settings)['recorder']['name']!r} given back")

    def restore(self, settings: dict[str, Any]) -> None:
        """Put the recorder and channel back as the Config API described them before adoption."""
        recorder = settings["recorder"]
        name = recorder["name"]
        request = {k: recorder[k] for k in ("name", "roleARN", "recordingGroup", "recordingMode") if recorder.get(k)}
        call_with_retries(self.config.put_configuration_recorder, ConfigurationRecorder=request)
        channel = settings.get("channel")
        if channel:
            call_with_retries(self.config.put_delivery_channel, DeliveryChannel=channel)
        else:
            # It had none: the channel is orgdeploy's, and Config refuses to delete it under a running recorder.
            call_with_retries(self.config.stop_configuration_recorder, ConfigurationRecorderName=name)
            for found in self.channel_names():
                call_with_retries(self.config.delete_delivery_channel, DeliveryChannelName=found)
        if recorder.get("recording") and channel:
            call_with_retries(self.config.start_configuration_recorder, ConfigurationRecorderName=name)
        elif channel:
            call_with_retries(self.config.stop_configuration_recorder, ConfigurationRecorderName=name)


def import_batches(items: list[T], size: int) -> list[list[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
