"""EventBridge, SNS and CloudWatch Logs as the notifications wiring needs them.

CloudFormation types moto skips, modelled on its backends: AWS::Events::EventBusPolicy,
AWS::SNS::Subscription and AWS::SNS::TopicPolicy.

Event delivery (patch_event_delivery), where moto's EventBridge differs from AWS's:

* an event bus of another account or Region as a target: moto puts a new event there, so the hub sees its
  own account, Region, id and the current time. EventBridge delivers the event itself, and only when the
  target bus's policy lets the sending account put events (Principal and aws:PrincipalOrgID /
  aws:PrincipalAccount conditions are evaluated here; other condition keys deny);
* an SNS topic as a target: moto refuses it as not implemented. Here the message (after the input
  transformer) is published through moto's SNS backend;
* a CloudWatch Logs log group as a target: moto writes its own reduced event (without `account`),
  stamped with the current time. EventBridge writes the whole event, stamped with the event's time;
* a disabled rule still delivers in moto; not here;
* Ref of an event bus gives moto's Python object instead of the bus name.

A failed delivery is dropped, as EventBridge drops it (it only counts a FailedInvocation).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Self

from moto.core.common_models import CloudFormationModel
from moto.events.models import EventBus, EventBusPolicyStatement, Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.logs.models import logs_backends
from moto.sns.models import sns_backends
from moto.utilities.arns import parse_arn

from orgdeploy.sandbox.bucket_policy import as_list, conditions_hold, covers
from orgdeploy.sandbox.cfn_models.base import SandboxModel
from orgdeploy.sandbox.stacksets.targets import org_backend

LOG = logging.getLogger("orgdeploy.sandbox.events")
Deliver = Callable[[Rule, dict[str, Any], Any, dict[str, Any]], None]


class _ReplacedModel(SandboxModel):
    """A model every update replaces: the original goes first, then the new one is created."""

    def delete(self, account_id: str, region_name: str) -> None:
        # Not TypeError: moto takes a TypeError from delete to mean "no delete" and goes on silently.
        raise RuntimeError(f"{type(self).__name__} does not say how it is deleted")

    @classmethod
    def _update(
        cls, original: Self, account_id: str, region_name: str, new_resource_name: str, properties: dict[str, Any]
    ) -> str:
        original.delete(account_id, region_name)
        return cls._create(account_id, region_name, new_resource_name, properties)


def _bus_name(properties: dict[str, Any]) -> str:
    return str(properties.get("EventBusName") or "default").split("/")[-1]


class EventBusPolicyModel(_ReplacedModel, CloudFormationModel):
    """One statement of an event bus's resource policy (the Statement form of AWS::Events::EventBusPolicy)."""

    cfn_type = "AWS::Events::EventBusPolicy"

    @property
    def bus_name(self) -> str:
        return _bus_name(self.properties)

    @classmethod
    def _create(cls, account_id: str, region_name: str, resource_name: str, properties: dict[str, Any]) -> str:
        sid = str(properties["StatementId"])
        statement = dict(properties.get("Statement") or {})
        if not statement:  # the older form: Action, Principal and Condition as properties
            principal = {"AWS": properties.get("Principal")}
            statement = {"Effect": "Allow", "Action": properties.get("Action"), "Principal": principal}
            if properties.get("Condition"):
                condition = properties["Condition"]
                statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
        bus = events_backends[account_id][region_name].describe_event_bus(_bus_name(properties))
        statement.setdefault("Resource", bus.arn)
        bus._statements[sid] = EventBusPolicyStatement.from_dict({**statement, "Sid": sid})
        return sid

    def delete(self, account_id: str, region_name: str) -> None:
        bus = events_backends[account_id][region_name].event_buses.get(self.bus_name)
        if bus is not None:
            bus.remove_statement(self.name)


class SubscriptionModel(_ReplacedModel, CloudFormationModel):
    """A topic's subscription; its physical id (and Ref) is the subscription's ARN."""

    cfn_type = "AWS::SNS::Subscription"
    cfn_attributes = frozenset({"Arn"})

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.name

    @classmethod
    def _create(cls, account_id: str, region_name: str, resource_name: str, properties: dict[str, Any]) -> str:
        # The topic's own account and Region hold the subscription.
        topic = parse_arn(str(properties["TopicArn"]))
        backend = sns_backends[topic.account][topic.region]
        endpoint, protocol = str(properties["Endpoint"]), str(properties["Protocol"])
        return str(backend.subscribe(str(properties["TopicArn"]), endpoint, protocol).arn)

    def delete(self, account_id: str, region_name: str) -> None:
        arn = parse_arn(self.name)
        sns_backends[arn.account][arn.region].unsubscribe(self.name)


def _topics(properties: dict[str, Any]) -> list[str]:
    return [str(t) for t in properties.get("Topics", [])]


class TopicPolicyModel(_ReplacedModel, CloudFormationModel):
    """Sets each topic's policy; deleting it puts back SNS's default policy, as AWS does."""

    cfn_type = "AWS::SNS::TopicPolicy"

    @property
    def topics(self) -> list[str]:
        return _topics(self.properties)

    @classmethod
    def _create(cls, account_id: str, region_name: str, resource_name: str, properties: dict[str, Any]) -> str:
        topics = _topics(properties)
        for arn in topics:
            parsed = parse_arn(arn)
            topic = sns_backends[parsed.account][parsed.region].get_topic(arn)
            topic.policy = json.dumps(properties["PolicyDocument"])
        return ",".join(topics)

    def delete(self, account_id: str, region_name: str) -> None:
        for arn in self.topics:
            parsed = parse_arn(arn)
            topic = sns_backends[parsed.account][parsed.region].topics.get(arn)
            if topic is not None:
                topic._policy_json = topic._create_default_topic_policy(parsed.region, parsed.account, topic.name)


# Delivery ---------------------------------------------------------------------------------------------------


def _event_time(event: dict[str, Any]) -> datetime:
    value = event.get("time")
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return datetime.fromtimestamp(float(value or 0), UTC)


def _as_aws_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as EventBridge delivers it: ISO time, no moto bookkeeping."""
    delivered = {k: v for k, v in event.items() if k != "ingestion-time"}
    delivered["time"] = _event_time(event).strftime("%Y-%m-%dT%H:%M:%SZ")
    return delivered


def _condition_holds(operator: str, key: str, wanted: Any, sender: str, region: str) -> bool:
    values = wanted if isinstance(wanted, list) else [wanted]
    if operator != "StringEquals":
        return False
    if key.lower() == "aws:principalaccount":
        return sender in values
    if key.lower() == "aws:principalorgid":
        org = org_backend(sender, region)
        return org is not None and org.org is not None and org.org.id in values
    return False


def bus_allows(bus: EventBus, sender: str) -> bool:
    """Whether the bus's policy lets `sender` put events on it (its own account always may)."""
    if sender == bus.account_id:
        return True
    for statement in json.loads(bus.policy or '{"Statement": []}')["Statement"]:
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        principals = aws if isinstance(aws, list) else [aws]
        if statement.get("Effect") != "Allow" or not {"events:PutEvents", "events:*"} & set(actions):
            continue
        if not any(p in ("*", sender) or str(p).startswith(f"arn:aws:iam::{sender}:") for p in principals):
            continue
        conditions = statement.get("Condition") or {}
        pairs = [(op, key, value) for op, keys in conditions.items() for key, value in keys.items()]
        if all(_condition_holds(op, key, value, sender, bus.region) for op, key, value in pairs):
            return True
    return False


def _to_bus(rule: Rule, target: dict[str, Any], arn: Any, event: dict[str, Any]) -> None:
    bus = events_backends[arn.account][arn.region].event_buses.get(arn.resource_id)
    if bus is None or not bus_allows(bus, rule.account_id):
        LOG.debug("event %s from %s not delivered to %s", event.get("id"), rule.arn, target["Arn"])
        return
    delivered: Any = copy.deepcopy(event)  # moto types events as a TypedDict
    for hub_rule in list(bus.rules.values()):
        hub_rule.send_to_targets(copy.deepcopy(delivered))


def _message(target: dict[str, Any], event: dict[str, Any]) -> str:
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(_as_aws_event(event))
    timed: Any = {**event, "time": _as_aws_event(event)["time"]}
    shaped = EventTemplateParser.parse(
        input_template=transformer.get("InputTemplate"),
        input_paths_map=transformer.get("InputPathsMap", {}),
        event=timed,
    )
    return shaped if isinstance(shaped, str) else json.dumps(shaped)


def _to_topic(rule: Rule, target: dict[str, Any], arn: Any, event: dict[str, Any]) -> None:
    sns_backends[arn.account][arn.region].publish(message=_message(target, event), arn=target["Arn"])


def logs_policy_allows(backend: Any, action: str, group_arn: str, *, source_arn: str | None) -> bool:
    """Whether the account's Logs resource policies let EventBridge do `action` on the group.

    CloudWatch Logs evaluates aws:SourceArn on PutLogEvents only: on CreateLogStream the key is absent,
    so a statement that puts both actions under one SourceArn condition never lets the stream be made.
    """
    context = {"aws:sourcearn": source_arn} if source_arn and action == "logs:PutLogEvents" else {}
    for policy in backend.resource_policies.values():
        for statement in as_list(json.loads(policy.policy_document).get("Statement", [])):
            services = as_list((statement.get("Principal") or {}).get("Service", []))
            if statement.get("Effect") != "Allow" or "events.amazonaws.com" not in services:
                continue
            if covers(statement, action, group_arn, f"{group_arn}:*") and conditions_hold(
                statement.get("Condition") or {}, context
            ):
                return True
    return False


def _to_log_group(rule: Rule, target: dict[str, Any], arn: Any, event: dict[str, Any]) -> None:
    backend = logs_backends[arn.account][arn.region]
    group_arn = f"arn:aws:logs:{arn.region}:{arn.account}:log-group:{arn.resource_id}"
    stream = str(event.get("id"))
    # EventBridge writes as itself, so the log group's resource policy decides; AWS drops what it refuses.
    if stream not in backend.groups[arn.resource_id].streams:
        if not logs_policy_allows(backend, "logs:CreateLogStream", group_arn, source_arn=None):
            LOG.debug("no stream for %s: the log group's resource policy refuses CreateLogStream", rule.arn)
            return
        backend.create_log_stream(arn.resource_id, stream)
    if not logs_policy_allows(backend, "logs:PutLogEvents", group_arn, source_arn=rule.arn):
        LOG.debug("%s not written: the log group's resource policy refuses PutLogEvents", rule.arn)
        return
    stamp = int(_event_time(event).timestamp() * 1000)
    backend.put_log_events(arn.resource_id, stream, [{"timestamp": stamp, "message": _message(target, event)}])


_DELIVERIES: dict[tuple[str, str | None], Deliver] = {
    ("events", "event-bus"): _to_bus,
    ("sns", None): _to_topic,
    ("logs", "log-group"): _to_log_group,
}


def patch_event_delivery() -> None:
    """Deliver to event buses, topics and log groups as EventBridge does (the caller makes sure this runs once)."""
    send: Callable[..., None] = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return
        others = []
        for target in self.targets:
            arn = parse_arn(target["Arn"])
            deliver = _DELIVERIES.get((arn.service, arn.resource_type))
            if deliver is None:
                others.append(target)
                continue
            try:
                deliver(self, target, arn, original_event)
            except Exception as exc:
                LOG.debug("delivery of %s to %s failed: %s", original_event.get("id"), target["Arn"], exc)
        if others:
            rest = copy.copy(self)
            rest.targets = others
            send(rest, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


def install_notification_support() -> None:
    """The models above and the delivery fixes (once, from register_resource_models)."""
    from orgdeploy.sandbox.compliance.packs import record_pack_bodies

    # Ref of an AWS::Events::EventBus is its name; moto's model has no physical id, so Ref gave the object.
    EventBus.physical_resource_id = property(lambda bus: bus.name)  # type: ignore[attr-defined]
    patch_event_delivery()
    record_pack_bodies()
