"""Adopt recorders made outside orgdeploy, and give them back (planning/adoption.py says how and why).

Through census.role_name in each account and Region: take_over() deletes the recorder and its channel
so that the stack set can make them again under the same names; restore() puts back what they were
(from the settings the plan read); give_back() takes a stack out of CloudFormation's hands, keeping
its recorder and channel, and restores them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import call_with_retries
from orgdeploy.aws.session import AwsContext
from orgdeploy.aws.stacks import StackFailed, StacksGateway

PERMISSIONS = (
    Need(
        ("cloudformation:DescribeStacks", "cloudformation:GetTemplate", "cloudformation:UpdateStack",
         "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents"),
        DEPLOYERS | {"member"},
        "existing_recorder: adopt: destroy keeps an adopted recorder's stack resources, then deletes the stack",
    ),
    Need(
        (
            "config:DescribeConfigurationRecorders",
            "config:DescribeDeliveryChannels",
            "config:StopConfigurationRecorder",
            "config:DeleteDeliveryChannel",
            "config:DeleteConfigurationRecorder",
            "config:PutConfigurationRecorder",
            "config:PutDeliveryChannel",
            "config:StartConfigurationRecorder",
            "iam:PassRole",
        ),
        DEPLOYERS | {"member"},
        "existing_recorder: adopt: remove a recorder for the stack set to make again; put its settings back",
    ),
)  # fmt: skip


class AdoptionGateway:
    """One account and Region's recorder: handed to a stack, and given back again."""

    def __init__(self, ctx: AwsContext, *, account: str, region: str, timeout: float) -> None:
        self.account = account
        self.region = region
        self.timeout = timeout
        self.config = ctx.client("config", region, account)
        self.stacks = StacksGateway(ctx, account=account, region=region)

    def channel_names(self) -> list[str]:
        found = call_with_retries(self.config.describe_delivery_channels).get("DeliveryChannels", [])
        return [str(c["name"]) for c in found]

    def take_over(self, recorder: str) -> None:
        """Remove the recorder and its channel, so that a stack can make them again with the same names."""
        call_with_retries(self.config.stop_configuration_recorder, ConfigurationRecorderName=recorder)
        for channel in self.channel_names():
            call_with_retries(self.config.delete_delivery_channel, DeliveryChannelName=channel)
        call_with_retries(self.config.delete_configuration_recorder, ConfigurationRecorderName=recorder)

    def give_back(self, stack_name: str, retained_body: str, *, say: Callable[[str], None]) -> None:
        """Delete the stack but keep its recorder and channel, then put back what they were before adoption."""
        state = self.stacks.read(stack_name)
        if state is None:
            return
        settings = dict(state.outputs).get("AdoptedSettings")
        if not settings:
            raise StackFailed(stack_name, state.status, "the stack holds no AdoptedSettings output to give back")
        # Keep the resources: the same template with DeletionPolicy Retain, then delete the stack.
        self.stacks.deploy(stack_name, retained_body, dict(state.parameters), [], timeout=self.timeout)
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
