"""Render every template a deployment of a config uses, and say where each goes (pure)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from orgdeploy.config.awsdata import TAMPER_CALLS
from orgdeploy.config.model import DEFAULT_PROFILE, Config, ConformancePack
from orgdeploy.errors import TemplateError
from orgdeploy.templates import naming
from orgdeploy.templates.jinja import render_file, render_shipped, sub_escape
from orgdeploy.templates.pack_remediation import for_fn_sub, remediated_rules, wire_remediations
from orgdeploy.templates.recording import by_profile, profile_condition, recording_group, recording_mode
from orgdeploy.templates.remediation_role import permissions_policy, trust_policy

# CloudFormation (and AWS Config) refuse a TemplateBody above this many bytes, as sent.
TEMPLATE_BODY_LIMIT_BYTES = 51_200
# AWS Config's limit for a pack template read from S3 (TemplateS3Uri).
PACK_S3_LIMIT_BYTES = 300 * 1024
PACK_ARTIFACT_PREFIX = "orgdeploy/conformance-packs"

Accounts = Literal["members", "management", "bucket_account", "administrator", "hub_account"]


@dataclass(frozen=True)
class Placement:
    """One place a template is deployed: a stack set over member accounts, or plain stacks."""

    kind: Literal["stack_set", "stack"]
    name: str
    accounts: Accounts
    regions: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "accounts": self.accounts, "regions": list(self.regions)}


@dataclass(frozen=True)
class RenderedTemplate:
    key: str
    filename: str
    body: str
    placements: tuple[Placement, ...]
    parameters: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    pack: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body.encode("utf-8")).hexdigest()

    @property
    def size(self) -> int:
        """Bytes as sent in a TemplateBody."""
        return len(self.body.encode("utf-8"))


@dataclass(frozen=True)
class PackBody:
    """A conformance pack's own template, linted as a template and embedded in the pack stack."""

    pack: str
    filename: str
    body: str
    source: str
    s3_key: str | None
    documents: tuple[str, ...] = ()  # SSM documents its remediations run (as orgdeploy's role)
    remediated_rules: tuple[str, ...] = ()  # the config's remediation rules it holds

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RenderedSet:
    templates: tuple[RenderedTemplate, ...]
    pack_bodies: tuple[PackBody, ...] = field(default=())

    def get(self, key: str) -> RenderedTemplate:
        for template in self.templates:
            if template.key == key:
                return template
        raise KeyError(key)

    def manifest(self) -> dict[str, Any]:
        return {
            "templates": [
                {
                    "file": t.filename,
                    "sha256": t.sha256,
                    "deploy_as": [p.to_dict() for p in t.placements],
                    "parameters": list(t.parameters),
                    "capabilities": list(t.capabilities),
                }
                for t in self.templates
            ],
            "conformance_pack_bodies": [
                {
                    "file": b.filename,
                    "pack": b.pack,
                    "source": b.source,
                    "sha256": b.sha256,
                    "bytes": len(b.body.encode("utf-8")),
                    "delivery": "s3" if b.s3_key else "inline",
                    "s3_key": b.s3_key,
                }
                for b in self.pack_bodies
            ],
        }


def _common(config: Config) -> dict[str, Any]:
    return {"name_prefix": config.stacksets.name_prefix, "description_prefix": f"[{config.stacksets.name_prefix}]"}


def _object_prefix(config: Config) -> str:
    prefix = config.delivery.key_prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def _recorder_context(config: Config) -> dict[str, Any]:
    return {
        **_common(config),
        "home_region": config.home_region,
        "recorder_name": naming.recorder_name(config),
        "delivery_channel_name": naming.delivery_channel_name(config),
        "recording_group": by_profile(config.recording, recording_group),
        "recording_mode": by_profile(config.recording, recording_mode),
        "default_profile": DEFAULT_PROFILE,
        "profile_names": config.recording.profile_names,
        "profile_conditions": [(profile_condition(p.name), p.name) for p in config.recording.profiles],
        "deletion_policy": "Delete",
        "key_prefix": config.delivery.key_prefix.strip("/"),
        "kms_key_arn": config.delivery.kms_key_arn,
        "sns_topic_arn": config.delivery.sns_topic_arn,
        "snapshot_frequency": config.delivery.snapshot_frequency,
    }


def render_pack_body(config: Config, pack: ConformancePack) -> PackBody:
    path = Path(pack.template)
    try:
        if path.suffix == ".j2":
            context = {
                "pack_name": pack.name,
                "parameters": dict(pack.parameters),
                "home_region": config.home_region,
                "regions": list(config.pack_regions(pack)),
            }
            body = render_file(path, context)
        else:
            body = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"{path}: cannot read conformance pack template: {exc.strerror}") from None
    wired = wire_remediations(config, pack, body, str(path))
    return PackBody(
        pack=pack.name,
        filename=f"packs/{pack.name}.yaml",
        body=wired.body,
        source=str(path),
        s3_key=None,
        documents=wired.documents,
        remediated_rules=wired.rules,
    )


def by_s3(body: PackBody) -> PackBody:
    """The same pack body, sent by TemplateS3Uri from a content-addressed key."""
    digest = hashlib.sha256(body.body.encode("utf-8")).hexdigest()[:16]
    return dataclasses.replace(body, s3_key=f"{PACK_ARTIFACT_PREFIX}/{body.pack}-{digest}.yaml")


def _pack_template_and_body(config: Config, pack: ConformancePack) -> tuple[RenderedTemplate, PackBody]:
    """Inline when the whole stack template, the pack body escaped into it, fits TemplateBody; else by S3."""
    body = render_pack_body(config, pack)
    template = _pack_template(config, pack, body)
    if template.size > TEMPLATE_BODY_LIMIT_BYTES:
        body = by_s3(body)
        template = _pack_template(config, pack, body)
    return template, body


def _pack_template(config: Config, pack: ConformancePack, body: PackBody) -> RenderedTemplate:
    context = {
        **_common(config),
        "pack_name": pack.name,
        "pack_resource_name": naming.pack_resource_name(config, pack),
        "pack_body": None if body.s3_key else (for_fn_sub(body.body) if body.documents else body.body),
        "pack_body_sub": bool(body.documents),
        "template_s3_key": sub_escape(body.s3_key) if body.s3_key else None,
        "delivery_bucket": pack.delivery_bucket,
        "bucket_suffix": naming.short_hash(f"{config.stacksets.name_prefix}/{pack.name}"),
        "excluded_accounts": list(pack.excluded_accounts),
        "input_parameters": [
            {"ParameterName": name, "ParameterValue": str(value)} for name, value in pack.parameters.items()
        ],
    }
    parameters = ["OrganizationId", "ExcludedAccounts"] + (["ArtifactBucketName"] if body.s3_key else [])
    if pack.delivery_bucket is None:
        parameters.append("PackBucketKmsKeyArn")
    return RenderedTemplate(
        key=f"pack:{pack.name}",
        filename=f"conformance-pack-{pack.name}.yaml",
        body=render_shipped("conformance-pack.yaml.j2", context),
        placements=(
            Placement("stack", naming.pack_stack(config, pack), "administrator", tuple(config.pack_regions(pack))),
        ),
        parameters=tuple(parameters),
        pack=pack.name,
    )


def _notification_rules(config: Config) -> dict[str, bool]:
    assert config.notifications is not None
    return {kind: kind in config.notifications.events for kind in ("compliance_change", "remediation", "tamper")}


def _timeline_policy(rules: dict[str, bool]) -> str:
    """The log group's resource policy: only the hub's own rules may write (a JSON string inside Fn::Sub).

    CloudWatch Logs evaluates aws:SourceArn on PutLogEvents only, so CreateLogStream has a statement of its
    own without it; under one condition EventBridge could never create its stream.
    """
    logical = {"compliance_change": "ComplianceChangeRule", "remediation": "RemediationRule", "tamper": "TamperRule"}
    principal = {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]}
    statements = [
        {
            "Sid": "EventBridgeCreatesTimelineStreams",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "logs:CreateLogStream",
            "Resource": "${Timeline.Arn}",
        },
        {
            "Sid": "EventBridgeWritesTheTimeline",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "logs:PutLogEvents",
            "Resource": "${Timeline.Arn}",
            "Condition": {"ArnEquals": {"aws:SourceArn": [f"${{{logical[k]}.Arn}}" for k, on in rules.items() if on]}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))


def _notify_rules(config: Config, bodies: list[PackBody]) -> list[dict[str, str]]:
    """In notify mode, one mail rule per remediated rule: which document would have run."""
    if config.remediation.mode != "notify":
        return []
    found: dict[str, str] = {}
    for body in bodies:
        found.update(remediated_rules(body.body))
    return [
        {"logical": f"NotifyRemediation{n}", "prefix": f"{rule}-conformance-pack-", "rule": rule, "document": doc}
        for n, (rule, doc) in enumerate(sorted(found.items()), 1)
    ]


def _notification_templates(config: Config, notify_rules: list[dict[str, str]]) -> list[RenderedTemplate]:
    """The hub stack (hub account, home Region) and the forwarders (every targeted account and Region)."""
    settings = config.notifications
    assert settings is not None
    prefix = config.stacksets.name_prefix
    rules = _notification_rules(config)
    hub_context = {
        **_common(config),
        **rules,
        "bus_name": naming.notifications_bus(config),
        "log_group": naming.notifications_log_group(config),
        "log_policy_name": f"{prefix}-notifications-timeline",
        "log_policy_document": _timeline_policy(rules),
        "retention_days": settings.retention_days,
        "existing_topic_arn": settings.sns_topic_arn,
        "topic_name": f"{prefix}-notifications",
        "display_name": f"{prefix} AWS Config"[:100],
        "emails": list(settings.emails),
        "rule_prefix": f"{prefix}-notifications",
        "notify_rules": notify_rules,
    }
    role = naming.notifications_forwarder_role(config)
    forwarder_context = {
        **_common(config),
        **rules,
        "home_region": config.home_region,
        "role_name": role,
        "role_arn": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + sub_escape(role),
        "rule_prefix": f"{prefix}-notifications",
        "tamper_calls": list(TAMPER_CALLS),
        "hub_bus_arn": "arn:${AWS::Partition}:events:${HubRegion}:${HubAccountId}:event-bus/"
        + sub_escape(naming.notifications_bus(config)),
    }
    name = naming.notifications_stack_set(config)
    forwarders = [Placement("stack_set", name, "members", tuple(config.regions))]
    if config.management_account.deploy:
        forwarders.append(Placement("stack", name, "management", tuple(config.regions)))
    home = (config.home_region,)
    return [
        RenderedTemplate(
            key="notifications-hub",
            filename="notifications-hub.yaml",
            body=render_shipped("notifications-hub.yaml.j2", hub_context),
            placements=(Placement("stack", naming.notifications_hub_stack(config), "hub_account", home),),
            parameters=("OrganizationId",),
        ),
        RenderedTemplate(
            key="notifications-forwarder",
            filename="notifications-forwarder.yaml",
            body=render_shipped("notifications-forwarder.yaml.j2", forwarder_context),
            placements=tuple(forwarders),
            parameters=("HubAccountId", "HubRegion"),
            capabilities=("CAPABILITY_NAMED_IAM",),
        ),
    ]


def remediation_role_template(config: Config, documents: tuple[str, ...]) -> RenderedTemplate:
    """The role SSM Automation runs the packs' remediations as: every targeted account, home Region (IAM is global)."""
    context = {
        **_common(config),
        "role_name": naming.remediation_role(config),
        "trust_policy": trust_policy(),
        "permissions_policy": permissions_policy(config, documents),
        "documents": list(documents),
    }
    name = naming.remediation_role_stack_set(config)
    home = (config.home_region,)
    placements = [Placement("stack_set", name, "members", home)]
    if config.management_account.deploy:
        placements.append(Placement("stack", name, "management", home))
    return RenderedTemplate(
        key="remediation-role",
        filename="remediation-role.yaml",
        body=render_shipped("remediation-role.yaml.j2", context),
        placements=tuple(placements),
        capabilities=("CAPABILITY_NAMED_IAM",),
    )


def recorder_retained_body(config: Config) -> str:
    """The recorder template with DeletionPolicy Retain: deleting a stack of it keeps the recorder and channel."""
    return render_shipped("recorder.yaml.j2", {**_recorder_context(config), "deletion_policy": "Retain"})


def render_all(config: Config) -> RenderedSet:
    """Every template this config deploys, with placements, in deployment order."""
    home = (config.home_region,)
    regions = tuple(config.regions)
    management = config.management_account.deploy
    role_placements = [Placement("stack_set", naming.role_stack_set(config), "members", home)]
    recorder_placements = [Placement("stack_set", naming.recorder_stack_set(config), "members", regions)]
    if management:
        role_placements.append(Placement("stack", naming.role_stack_set(config), "management", home))
        recorder_placements.append(Placement("stack", naming.recorder_stack_set(config), "management", regions))
    bucket_context = {
        **_common(config),
        "kms_key_arn": config.delivery.kms_key_arn,
        "object_prefix": sub_escape(_object_prefix(config)),
        "pack_artifact_prefix": PACK_ARTIFACT_PREFIX,
    }
    templates = [
        RenderedTemplate(
            key="delivery-bucket",
            filename="delivery-bucket.yaml",
            body=render_shipped("delivery-bucket.yaml.j2", bucket_context),
            placements=(Placement("stack", naming.delivery_bucket_stack(config), "bucket_account", home),),
            parameters=("OrganizationId", "BucketName", "PackReaderAccountId"),
        ),
        RenderedTemplate(
            key="service-linked-role",
            filename="service-linked-role.yaml",
            body=render_shipped("service-linked-role.yaml.j2", _common(config)),
            placements=tuple(role_placements),
        ),
        RenderedTemplate(
            key="recorder",
            filename="recorder.yaml",
            body=render_shipped("recorder.yaml.j2", _recorder_context(config)),
            placements=tuple(recorder_placements),
            parameters=("DeliveryBucketName",),
        ),
        RenderedTemplate(
            key="aggregator",
            filename="aggregator.yaml",
            body=render_shipped("aggregator.yaml.j2", {**_common(config), "aggregator_name": config.aggregator.name}),
            placements=(Placement("stack", naming.aggregator_stack(config), "administrator", home),),
            capabilities=("CAPABILITY_IAM",),
        ),
    ]
    bodies = []
    for pack in config.conformance_packs:
        template, body = _pack_template_and_body(config, pack)
        bodies.append(body)
        templates.append(template)
    if config.notifications is not None:
        templates += _notification_templates(config, _notify_rules(config, bodies))
    documents = tuple(dict.fromkeys(d for b in bodies for d in b.documents))
    held = {r for b in bodies for r in b.remediated_rules}
    stray = [r.rule for r in config.remediation.rules if r.rule not in held]
    if stray:
        raise TemplateError(
            f"remediation.rules: no conformance pack orgdeploy deploys has a rule {stray[0]!r} (by its ConfigRuleName "
            "or its managed rule's name, such as s3-bucket-public-read-prohibited)"
        )
    if documents:
        templates.append(remediation_role_template(config, documents))
    return RenderedSet(templates=tuple(templates), pack_bodies=tuple(bodies))
