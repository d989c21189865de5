"""What CloudFormation's resource handlers need, for the types orgdeploy deploys as plain stacks.

A plain stack creates its resources with the caller's credentials, so the caller needs every
permission the type's handlers use. Those come from cfn-lint's copy of the CloudFormation resource
schemas (`handlers.{create,read,update,delete}.permissions`), kept in handler_actions.json
(tools/refresh_iam_data.py writes it; a test checks it against the schemas and the templates).
Stack set instances are created by CloudFormation's own execution role instead (see
docs/real-organizations.md).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from orgdeploy.aws.permissions import DEPLOYERS, Need

# Which role's credentials create each type: the deployers' plain stacks (delivery bucket, aggregator,
# the management account's recorder, role and forwarders, the packs), and the notifications hub stack,
# which goes through census.role_name in notifications.hub_account (the `hub` role) unless that is the
# caller's own account.
_HUB = DEPLOYERS | {"hub"}
DEPLOYED_TYPES: dict[str, frozenset[str]] = {
    "AWS::S3::Bucket": DEPLOYERS,
    "AWS::S3::BucketPolicy": DEPLOYERS,
    "AWS::IAM::Role": DEPLOYERS,
    "AWS::IAM::ServiceLinkedRole": DEPLOYERS,
    "AWS::Config::ConfigurationAggregator": DEPLOYERS,
    "AWS::Config::ConfigurationRecorder": DEPLOYERS,
    "AWS::Config::DeliveryChannel": DEPLOYERS,
    "AWS::Config::OrganizationConformancePack": DEPLOYERS,
    "AWS::Events::Rule": _HUB,
    "AWS::Events::EventBus": _HUB,
    "AWS::Events::EventBusPolicy": _HUB,
    "AWS::KMS::Key": _HUB,
    "AWS::Logs::LogGroup": _HUB,
    "AWS::Logs::ResourcePolicy": _HUB,
    "AWS::SNS::Topic": _HUB,
    "AWS::SNS::TopicPolicy": _HUB,
    "AWS::SNS::Subscription": _HUB,
}


@cache
def handler_actions() -> dict[str, tuple[str, ...]]:
    text = resources.files("orgdeploy.aws").joinpath("handler_actions.json").read_text(encoding="utf-8")
    return {kind: tuple(actions) for kind, actions in json.loads(text).items()}


def handler_needs() -> tuple[Need, ...]:
    found = handler_actions()
    return tuple(
        Need(found.get(kind, ()), roles, f"CloudFormation's {kind} handlers, with the caller's credentials")
        for kind, roles in sorted(DEPLOYED_TYPES.items())
    )
