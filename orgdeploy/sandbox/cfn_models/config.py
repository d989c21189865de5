"""CloudFormation models for the AWS Config resource types moto's CloudFormation skips.

Each model calls moto's real Config backend, so what a stack creates is what the
Config API reads back. moto finds the models as direct subclasses of
CloudFormationModel, so each class names it as a direct base.
"""

from __future__ import annotations

import json
from typing import Any

from moto.config.exceptions import NoAvailableDeliveryChannelException, ValidationException
from moto.config.models import ConfigBackend, config_backends
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.organizations.models import organizations_backends
from moto.s3.models import s3_backends

from orgdeploy.sandbox.bucket_policy import account_may_read
from orgdeploy.sandbox.cfn_models.base import BackendModel
from orgdeploy.sandbox.cfn_models.stack_failures import HandlerError, depends_on, template_resources
from orgdeploy.sandbox.compliance.org_packs import failed_members

_BOOLEAN_KEYS = {"AllSupported", "IncludeGlobalResourceTypes", "AllAwsRegions"}


def _truth(value: Any) -> Any:
    # Template parameters and Fn::If results may carry booleans as "true"/"false".
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"
    return value


def camel(value: Any) -> Any:
    """CloudFormation's PascalCase property keys as the Config API's camelCase ones."""
    if isinstance(value, dict):
        return {
            key[:1].lower() + key[1:]: camel(_truth(item) if key in _BOOLEAN_KEYS else item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [camel(item) for item in value]
    return value


def _start_recorders(backend: ConfigBackend) -> None:
    # CloudFormation starts the recorder as soon as a delivery channel exists.
    if backend.delivery_channels:
        for name in list(backend.recorders):
            backend.start_configuration_recorder(name)


def _channel_will_come(recorder_logical_id: str) -> bool:
    """Whether the recorder handler's wait for a channel can end: the stack creates one that does not wait for it.

    The create handler calls StartConfigurationRecorder and waits for a delivery channel. A channel
    with DependsOn (or a Ref) on the recorder is never created, so the handler fails.
    """
    resources = template_resources()
    return any(
        spec.get("Type") == DeliveryChannelModel.cfn_type and not depends_on(resources, logical_id, recorder_logical_id)
        for logical_id, spec in resources.items()
    )


def _require_bucket(name: str, partition: str) -> None:
    """The delivery bucket must exist, in any account of the partition.

    moto's PutDeliveryChannel only rejects an empty name. AWS rejects a missing bucket,
    while the bucket normally lives in another account (the central log-archive
    bucket), so look it up in moto's global bucket-name registry instead of this
    account's S3 backend.
    """
    if not name:
        return  # moto's own NoSuchBucketException covers the empty name
    owner = s3_backends.bucket_accounts.get(name)
    if owner is None or owner[0] != partition:
        raise JsonRESTError("NoSuchBucketException", f"Cannot find a S3 bucket with name '{name}'.")


# PutOrganizationConformancePack's TemplateBody limit (botocore TemplateBody max) and its S3 one.
PACK_BODY_LIMIT = 51_200
PACK_S3_LIMIT = 300 * 1024


def _require_readable(uri: str, caller: str) -> None:
    """AWS Config reads TemplateS3Uri as the caller: the object must exist and the caller may read it."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    owner = s3_backends.bucket_accounts.get(bucket)
    org = organizations_backends[caller]["aws"].org
    if owner is None or not account_may_read(bucket, key, caller, organization_id=org.id if org else None):
        raise JsonRESTError("AccessDeniedException", f"Unable to read the template at {uri}: Access Denied")
    found = s3_backends[owner[1]][owner[0]].buckets[bucket].keys.get(key)
    if found is None:
        raise ValidationException(f"Unable to read the template at {uri}: The specified key does not exist.")
    if found.size > PACK_S3_LIMIT:
        raise ValidationException(f"The template at {uri} is larger than {PACK_S3_LIMIT} bytes")


def _require_key_in_bucket_region(key: str, bucket: str) -> None:
    """Config's delivery channel KMS key must be in the delivery bucket's Region ("Permissions for the KMS Key")."""
    if not key:
        return
    partition, owner = s3_backends.bucket_accounts[bucket]
    region = s3_backends[owner][partition].buckets[bucket].region_name
    if key.split(":")[3] != region:
        raise JsonRESTError(
            "InvalidS3KmsKeyArnException",
            f"The KMS key {key} is not in {region}, the Region of the delivery bucket {bucket}.",
        )


class _ConfigModel(BackendModel[ConfigBackend]):
    """A Config object in moto's Config backend; subclasses name its collection and how to put and remove one."""

    @staticmethod
    def _backend(account_id: str, region_name: str) -> ConfigBackend:
        return config_backends[account_id][region_name]


class ConfigurationRecorderModel(_ConfigModel, CloudFormationModel):
    cfn_type = "AWS::Config::ConfigurationRecorder"
    name_property = "Name"
    collection = "recorders"
    delete_before_rename = True

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        made = super().create_from_cloudformation_json(resource_name, cloudformation_json, account_id, region_name)
        backend = cls._backend(account_id, region_name)
        if not backend.delivery_channels and not _channel_will_come(str(kwargs.get("LogicalId", ""))):
            # What the handler put goes with the failed resource, as its rollback would remove it.
            cls._remove(backend, resource_name)
            raise NoAvailableDeliveryChannelException()
        return made

    @staticmethod
    def _put(backend: ConfigBackend, name: str, properties: dict[str, Any]) -> str:
        request: dict[str, Any] = {"name": name, "roleARN": properties.get("RoleARN")}
        for key in ("RecordingGroup", "RecordingMode"):
            if key in properties:
                request[key[:1].lower() + key[1:]] = camel(properties[key])
        backend.put_configuration_recorder(request)
        _start_recorders(backend)
        return name

    @staticmethod
    def _remove(backend: ConfigBackend, name: str) -> None:
        backend.stop_configuration_recorder(name)
        backend.delete_configuration_recorder(name)


class DeliveryChannelModel(_ConfigModel, CloudFormationModel):
    cfn_type = "AWS::Config::DeliveryChannel"
    name_property = "Name"
    collection = "delivery_channels"
    delete_before_rename = True

    @staticmethod
    def _put(backend: ConfigBackend, name: str, properties: dict[str, Any]) -> str:
        _require_bucket(str(properties.get("S3BucketName") or ""), backend.partition)
        _require_key_in_bucket_region(str(properties.get("S3KmsKeyArn") or ""), str(properties["S3BucketName"]))
        request = camel({key: value for key, value in properties.items() if key != "Name"})
        request["name"] = name
        backend.put_delivery_channel(request)
        _start_recorders(backend)
        return name

    @staticmethod
    def _remove(backend: ConfigBackend, name: str) -> None:
        # Config refuses to delete the last channel while a recorder records; the handler stops it.
        for recorder in list(backend.recorders):
            backend.stop_configuration_recorder(recorder)
        backend.delete_delivery_channel(name)


class ConfigurationAggregatorModel(_ConfigModel, CloudFormationModel):
    cfn_type = "AWS::Config::ConfigurationAggregator"
    name_property = "ConfigurationAggregatorName"
    cfn_attributes = frozenset({"ConfigurationAggregatorArn"})
    collection = "config_aggregators"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        aggregator = self._backend(self.account_id, self.region_name).config_aggregators[self.name]
        return str(aggregator.configuration_aggregator_arn)

    @staticmethod
    def _put(backend: ConfigBackend, name: str, properties: dict[str, Any]) -> str:
        request: dict[str, Any] = {"ConfigurationAggregatorName": name, "Tags": properties.get("Tags", [])}
        if "OrganizationAggregationSource" in properties:
            source = dict(properties["OrganizationAggregationSource"])
            source["AllAwsRegions"] = _truth(source.get("AllAwsRegions"))
            request["OrganizationAggregationSource"] = source
        if "AccountAggregationSources" in properties:
            request["AccountAggregationSources"] = [
                {**source, "AllAwsRegions": _truth(source.get("AllAwsRegions"))}
                for source in properties["AccountAggregationSources"]
            ]
        backend.put_configuration_aggregator(request)
        return name

    @staticmethod
    def _remove(backend: ConfigBackend, name: str) -> None:
        backend.delete_configuration_aggregator(name)


class OrganizationConformancePackModel(_ConfigModel, CloudFormationModel):
    cfn_type = "AWS::Config::OrganizationConformancePack"
    name_property = "OrganizationConformancePackName"
    collection = "organization_conformance_packs"

    @staticmethod
    def _put(backend: ConfigBackend, name: str, properties: dict[str, Any]) -> str:
        body = properties.get("TemplateBody")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        if body is not None and len(body.encode("utf-8")) > PACK_BODY_LIMIT:
            raise ValidationException(
                "1 validation error detected: Value at 'templateBody' failed to satisfy constraint: "
                f"Member must have length less than or equal to {PACK_BODY_LIMIT}"
            )
        uri = properties.get("TemplateS3Uri")
        if uri:
            _require_readable(str(uri), backend.account_id)
        # moto annotates the optional properties as str; it handles None.
        request: dict[str, Any] = {
            "name": name,
            "template_s3_uri": properties.get("TemplateS3Uri"),
            "template_body": body,
            "delivery_s3_bucket": properties.get("DeliveryS3Bucket"),
            "delivery_s3_key_prefix": properties.get("DeliveryS3KeyPrefix"),
            "input_parameters": properties.get("ConformancePackInputParameters", []),
            "excluded_accounts": [str(account) for account in properties.get("ExcludedAccounts", [])],
        }
        backend.put_organization_conformance_pack(**request)
        failed = failed_members(backend.organization_conformance_packs[name])
        if failed:
            # The handler waits for the organization pack to deploy, and fails with it.
            backend.delete_organization_conformance_pack(name)
            accounts = ", ".join(f"{s['AccountId']} ({s['ErrorCode']})" for s in failed)
            raise HandlerError(
                "GeneralServiceException",
                f"Organization conformance pack {name} failed to deploy in {len(failed)} account(s): {accounts}",
            )
        return name

    @staticmethod
    def _remove(backend: ConfigBackend, name: str) -> None:
        backend.delete_organization_conformance_pack(name)
