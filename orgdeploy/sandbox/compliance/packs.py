"""The rules an organization conformance pack carries, read from the body it was put with.

moto keeps no template body on an organization pack; record_pack_bodies() keeps it (reading a
TemplateS3Uri from moto's S3), and pack_rules() reads each AWS::Config::ConfigRule with its Source,
Scope, MaximumExecutionFrequency and InputParameters. A `!Ref` in InputParameters is resolved as
AWS Config resolves it: the pack's ConformancePackInputParameters first, then the parameter's Default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from moto.config.models import ConfigBackend
from moto.s3.models import s3_backends

from orgdeploy.templates.pack_remediation import CfnLoader

_BODY = "orgdeploy_template_body"  # set on moto's OrganizationConformancePack


@dataclass(frozen=True)
class Scope:
    resource_types: tuple[str, ...] = ()
    resource_id: str = ""
    tag_key: str = ""
    tag_value: str = ""


@dataclass(frozen=True)
class PackRule:
    pack: str  # the organization pack's name
    name: str  # ConfigRuleName as written in the pack
    owner: str  # AWS for a managed rule
    identifier: str  # SourceIdentifier
    parameters: dict[str, str] = field(default_factory=dict, hash=False)
    scope: Scope = Scope()
    frequency: str = ""  # MaximumExecutionFrequency, "" when not set
    remediation: RemediationSpec | None = None


@dataclass(frozen=True)
class RemediationSpec:
    """A rule's AWS::Config::RemediationConfiguration, as AWS Config runs it."""

    document: str
    version: str
    resource_type: str
    # parameter -> the resource's id (None) or its static values
    parameters: tuple[tuple[str, tuple[str, ...] | None], ...]
    automatic: bool
    maximum_attempts: int = 5
    retry_seconds: int = 60
    concurrency_percentage: int = 10
    error_percentage: int = 50

    def parameters_for(self, resource_id: str) -> dict[str, list[str]]:
        return {name: [resource_id] if values is None else list(values) for name, values in self.parameters}


def _resolve(value: Any, inputs: dict[str, str], defaults: dict[str, str]) -> str:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = str(value["Ref"])
        return inputs.get(name, defaults.get(name, ""))
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def pack_rules(pack: str, body: str, input_parameters: list[dict[str, Any]] | None = None) -> list[PackRule]:
    """The pack's rules, in template order; [] when the body is not a readable template."""
    try:
        template = yaml.load(body, Loader=CfnLoader)  # CfnLoader derives from SafeLoader
    except yaml.YAMLError:
        return []
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return []
    declared = template.get("Parameters") if isinstance(template.get("Parameters"), dict) else {}
    defaults = {str(k): str(v.get("Default", "")) for k, v in declared.items() if isinstance(v, dict)}
    inputs = {str(p.get("ParameterName")): str(p.get("ParameterValue")) for p in input_parameters or []}
    items = [r for r in resources.values() if isinstance(r, dict)]
    remediations = {
        str(props.get("ConfigRuleName")): _remediation(props, inputs, defaults)
        for r in items
        if r.get("Type") == "AWS::Config::RemediationConfiguration" and (props := r.get("Properties") or {})
    }
    rules = []
    for r in items:
        props = r.get("Properties") or {}
        name = props.get("ConfigRuleName")
        if r.get("Type") != "AWS::Config::ConfigRule" or not isinstance(name, str):
            continue
        source, scope = props.get("Source") or {}, props.get("Scope") or {}
        raw = props.get("InputParameters") or {}
        parameters = {str(k): _resolve(v, inputs, defaults) for k, v in raw.items()} if isinstance(raw, dict) else {}
        rules.append(
            PackRule(
                pack=pack,
                name=name,
                owner=str(source.get("Owner", "")),
                identifier=str(source.get("SourceIdentifier", "")),
                parameters={k: v for k, v in parameters.items() if v != ""},
                scope=Scope(
                    tuple(str(t) for t in scope.get("ComplianceResourceTypes") or ()),
                    str(scope.get("ComplianceResourceId") or ""),
                    str(scope.get("TagKey") or ""),
                    str(scope.get("TagValue") or ""),
                ),
                frequency=str(props.get("MaximumExecutionFrequency") or ""),
                remediation=remediations.get(name),
            )
        )
    return rules


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _remediation(props: dict[str, Any], inputs: dict[str, str], defaults: dict[str, str]) -> RemediationSpec:
    parameters: list[tuple[str, tuple[str, ...] | None]] = []
    for name, value in (props.get("Parameters") or {}).items():
        if not isinstance(value, dict):
            continue
        if "ResourceValue" in value:
            parameters.append((str(name), None))
        else:
            values = (value.get("StaticValue") or {}).get("Values") or []
            parameters.append((str(name), tuple(_resolve(v, inputs, defaults) for v in values)))
    controls = (props.get("ExecutionControls") or {}).get("SsmControls") or {}
    return RemediationSpec(
        document=str(props.get("TargetId", "")),
        version=str(props.get("TargetVersion") or "1"),
        resource_type=str(props.get("ResourceType", "")),
        parameters=tuple(parameters),
        automatic=_truthy(props.get("Automatic")),
        maximum_attempts=int(props.get("MaximumAutomaticAttempts") or 5),
        retry_seconds=int(props.get("RetryAttemptSeconds") or 60),
        concurrency_percentage=int(controls.get("ConcurrentExecutionRatePercentage") or 10),
        error_percentage=int(controls.get("ErrorPercentage") or 50),
    )


def record_pack_bodies() -> None:
    """Keep each organization conformance pack's body on moto's pack (moto drops it), read from S3 if need be."""
    put: Callable[..., dict[str, Any]] = ConfigBackend.put_organization_conformance_pack

    def put_organization_conformance_pack(
        self: Any, name: str, template_s3_uri: str | None, template_body: str | None, **kwargs: Any
    ) -> dict[str, Any]:
        result = put(self, name, template_s3_uri, template_body, **kwargs)
        body = template_body or _read_s3(template_s3_uri or "")
        setattr(self.organization_conformance_packs[name], _BODY, body)
        return result

    ConfigBackend.put_organization_conformance_pack = put_organization_conformance_pack  # type: ignore[method-assign,assignment]


def pack_body(pack: Any) -> str:
    """The body record_pack_bodies kept on moto's organization pack ("" when none was kept)."""
    return str(getattr(pack, _BODY, "") or "")


def rules_of(pack: Any) -> list[PackRule]:
    """The rules of one of moto's organization packs, with its input parameters applied."""
    return pack_rules(pack.organization_conformance_pack_name, pack_body(pack), pack.conformance_pack_input_parameters)


def _read_s3(uri: str) -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    owner = s3_backends.bucket_accounts.get(bucket)  # (partition, account)
    found = s3_backends[owner[1]][owner[0]].get_object(bucket, key) if key and owner else None
    return bytes(found.value).decode("utf-8") if found is not None else ""
