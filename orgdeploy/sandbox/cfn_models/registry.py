"""Teach moto's CloudFormation the resource types orgdeploy's templates use.

`register_resource_models()` defines the models (config, iam,
s3), clears the parser's cached model map so they are found even after
a stack was parsed, and applies the small patches below and in those modules
(S3 bucket properties, IAM role managed policies, service-linked roles, stack
failures). Everything is process-wide, like moto's backends, so it must run in
the process that serves the moto endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_registered = threading.Event()

_FREQUENCIES = ("DAILY", "CONTINUOUS")


def register_resource_models() -> None:
    """Register the sandbox's CloudFormation models and moto fixes (idempotent, thread-safe)."""
    with _lock:
        if _registered.is_set():
            return
        from moto.cloudformation import parsing

        # Defining the classes is what registers them (moto lists CloudFormationModel subclasses).
        from orgdeploy.sandbox.cfn_models import config, iam, s3  # noqa: F401
        from orgdeploy.sandbox.cfn_models.events import install_notification_support
        from orgdeploy.sandbox.cfn_models.stack_failures import patch_stack_failures
        from orgdeploy.sandbox.compliance.evaluations import install_evaluation_triggers
        from orgdeploy.sandbox.compliance.org_packs import install_org_pack_statuses

        _patch_config_backend()
        install_org_pack_statuses()
        iam.patch_service_linked_roles()
        iam.patch_role_managed_policies()
        s3.patch_bucket_properties()
        patch_stack_failures()
        install_notification_support()
        install_evaluation_triggers()  # last: it wraps the pack calls the two above wrap
        parsing.get_model_list.cache_clear()
        parsing.get_model_map.cache_clear()
        parsing.get_name_type_map.cache_clear()
        _registered.set()


def _check_frequency(value: Any, where: str) -> None:
    from moto.config.exceptions import ValidationException

    if value not in _FREQUENCIES:
        raise ValidationException(
            f"1 validation error detected: Value '{value}' at 'configurationRecorder.recordingMode.{where}' "
            f"failed to satisfy constraint: Member must satisfy enum value set: [{', '.join(_FREQUENCIES)}]"
        )


def _check_global_types(group: dict[str, Any], region: str) -> None:
    """Regions launched after February 2022 cannot record the global IAM types at all."""
    from moto.config.exceptions import InvalidRecordingGroupException

    from orgdeploy.config.awsdata import GLOBAL_IAM_RESOURCE_TYPES, records_global_types

    asked = bool(group.get("includeGlobalResourceTypes")) or bool(
        set(group.get("resourceTypes") or []) & set(GLOBAL_IAM_RESOURCE_TYPES)
    )
    if asked and not records_global_types(region):
        raise InvalidRecordingGroupException()


def _patch_config_backend() -> None:
    from moto.config.models import ConfigBackend

    put_recorder: Callable[..., None] = ConfigBackend.put_configuration_recorder
    put_pack: Callable[..., dict[str, Any]] = ConfigBackend.put_organization_conformance_pack
    describe_packs: Callable[..., dict[str, Any]] = ConfigBackend.describe_organization_conformance_packs

    def put_configuration_recorder(self: Any, config_recorder: dict[str, Any]) -> None:
        # moto drops recordingMode; AWS stores it and describes it (CONTINUOUS when not given).
        mode = config_recorder.get("recordingMode") or {"recordingFrequency": "CONTINUOUS"}
        _check_frequency(mode.get("recordingFrequency"), "recordingFrequency")
        for override in mode.get("recordingModeOverrides") or []:
            _check_frequency(override.get("recordingFrequency"), "recordingModeOverrides.recordingFrequency")
        _check_global_types(config_recorder.get("recordingGroup") or {}, self.region_name)
        put_recorder(self, config_recorder)
        self.recorders[config_recorder["name"]].recording_mode = mode

    def put_organization_conformance_pack(
        self: Any, name: str, template_s3_uri: str | None, template_body: str | None, **kwargs: Any
    ) -> dict[str, Any]:
        # moto matches template_s3_uri against s3://.* even when only a body is given and
        # fails with TypeError on None; it stores neither, so a bare scheme passes the check.
        if template_body and not template_s3_uri:
            template_s3_uri = "s3://"
        return put_pack(self, name, template_s3_uri, template_body, **kwargs)

    def describe_organization_conformance_packs(self: Any, names: list[str] | None) -> dict[str, Any]:
        # moto iterates the names and crashes (HTTP 500) when there are none; AWS lists every pack.
        if names:
            return describe_packs(self, names)
        packs = sorted(self.organization_conformance_packs.items())
        return {"OrganizationConformancePacks": [pack.to_dict() for _, pack in packs]}

    ConfigBackend.put_configuration_recorder = put_configuration_recorder  # type: ignore[method-assign]
    ConfigBackend.put_organization_conformance_pack = put_organization_conformance_pack  # type: ignore[method-assign,assignment]
    ConfigBackend.describe_organization_conformance_packs = describe_organization_conformance_packs  # type: ignore[method-assign]
