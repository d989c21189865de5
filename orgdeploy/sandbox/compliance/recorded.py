"""What AWS Config records in one account and Region: configuration items read from moto's state.

An item exists only where a recorder is recording, and only for the types its recording group
covers (allSupported with or without the global IAM types, an inclusion list, or an exclusion
list). Each item carries the configuration the managed rules read; `fingerprint` changes exactly
when that configuration or the tags change, which is what makes a change-triggered rule run.

The types are the ones the sandbox's rules evaluate (TYPES); any other type is not recorded here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.cloudtrail.models import cloudtrail_backends
from moto.config.models import config_backends
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.utilities.utils import get_partition

GLOBAL_TYPES = frozenset({"AWS::IAM::User"})
RESOURCE_COMPLIANCE = "AWS::Config::ResourceCompliance"  # recorded when the group covers it, like any type


@dataclass(frozen=True)
class ConfigItem:
    resource_type: str
    resource_id: str
    resource_name: str
    arn: str
    configuration: dict[str, Any] = field(hash=False)
    tags: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def fingerprint(self) -> str:
        return json.dumps([self.configuration, self.tags], sort_keys=True, default=str)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _policy(raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError):
        return None


def _buckets(account: str, region: str) -> Iterator[ConfigItem]:
    for name, bucket in list(s3_backends[account][get_partition(region)].buckets.items()):
        if bucket.region_name != region:
            continue
        block = bucket.public_access_block
        grants = [
            {"grantees": sorted(g.uri or g.id for g in grant.grantees), "permissions": sorted(grant.permissions)}
            for grant in (bucket.acl.grants if bucket.acl else [])
        ]
        configuration = {
            "name": name,
            "creationDate": _iso(bucket.creation_date),
            "policy": _policy(bucket.policy),
            "acl": grants,
            "versioning": bucket.versioning_status or "Off",
            "logging": dict(bucket.logging or {}),
            "encryption": bucket.encryption,
            "publicAccessBlock": block.to_config_dict() if block else None,
        }
        tags = s3_backends[account][get_partition(region)].tagger.get_tag_dict_for_resource(bucket.arn)
        yield ConfigItem("AWS::S3::Bucket", name, name, bucket.arn, configuration, dict(tags))


def _ec2_tags(resource: Any) -> dict[str, str]:
    return {t["key"]: t["value"] for t in resource.get_tags()}


def _volumes(account: str, region: str) -> Iterator[ConfigItem]:
    for volume in list(ec2_backends[account][region].volumes.values()):
        attached = volume.attachment.instance.id if volume.attachment else None
        configuration = {
            "volumeId": volume.id,
            "encrypted": bool(volume.encrypted),
            "kmsKeyId": volume.kms_key_id,
            "state": "in-use" if attached else "available",
            "attachments": [{"instanceId": attached}] if attached else [],
        }
        arn = f"arn:{get_partition(region)}:ec2:{region}:{account}:volume/{volume.id}"
        yield ConfigItem("AWS::EC2::Volume", volume.id, volume.id, arn, configuration, _ec2_tags(volume))


def _permission(rule: Any) -> dict[str, Any]:
    return {
        "ipProtocol": rule.ip_protocol,
        "fromPort": rule.from_port,
        "toPort": rule.to_port,
        "ipv4Range": rule.ip_range.get("CidrIp"),
        "ipv6Range": rule.ip_range.get("CidrIpv6"),
        "sourceGroup": (rule.source_group or {}).get("GroupId"),
    }


def _security_groups(account: str, region: str) -> Iterator[ConfigItem]:
    for groups in list(ec2_backends[account][region].groups.values()):
        for group in list(groups.values()):
            configuration = {
                "groupId": group.id,
                "groupName": group.name,
                "vpcId": group.vpc_id,
                "ipPermissions": [_permission(r) for r in group.ingress_rules],
                "ipPermissionsEgress": [_permission(r) for r in group.egress_rules],
            }
            yield ConfigItem(
                "AWS::EC2::SecurityGroup", group.id, group.name, group.arn, configuration, _ec2_tags(group)
            )


def _vpcs(account: str, region: str) -> Iterator[ConfigItem]:
    for vpc in list(ec2_backends[account][region].vpcs.values()):
        configuration = {"vpcId": vpc.id, "cidrBlock": vpc.cidr_block, "isDefault": bool(vpc.is_default)}
        arn = f"arn:{get_partition(region)}:ec2:{region}:{account}:vpc/{vpc.id}"
        yield ConfigItem("AWS::EC2::VPC", vpc.id, vpc.id, arn, configuration, _ec2_tags(vpc))


def _instances(account: str, region: str) -> Iterator[ConfigItem]:
    for reservation in list(ec2_backends[account][region].reservations.values()):
        for instance in reservation.instances:
            configuration = {"instanceId": instance.id, "state": {"name": instance.state}}
            arn = f"arn:{get_partition(region)}:ec2:{region}:{account}:instance/{instance.id}"
            yield ConfigItem("AWS::EC2::Instance", instance.id, instance.id, arn, configuration, _ec2_tags(instance))


def _users(account: str, region: str) -> Iterator[ConfigItem]:
    backend = iam_backends[account][get_partition(region)]
    for user in list(backend.users.values()):
        configuration = {"userName": user.name, "userId": user.id, "path": user.path}
        tags = backend.tagger.get_tag_dict_for_resource(user.arn)
        yield ConfigItem("AWS::IAM::User", user.id, user.name, user.arn, configuration, tags)


def _trails(account: str, region: str) -> Iterator[ConfigItem]:
    for trail in list(cloudtrail_backends[account][region].trails.values()):
        configuration = {
            "name": trail.trail_name,
            "s3BucketName": trail.bucket_name,
            "isMultiRegionTrail": bool(trail.is_multi_region),
            "isLogging": bool(trail.status.is_logging),
            "cloudWatchLogsLogGroupArn": trail.cw_log_group_arn,
            "snsTopicName": trail.sns_topic_name,
        }
        yield ConfigItem("AWS::CloudTrail::Trail", trail.trail_name, trail.trail_name, trail.arn, configuration)


LISTINGS: dict[str, Callable[[str, str], Iterator[ConfigItem]]] = {
    "AWS::S3::Bucket": _buckets,
    "AWS::EC2::Volume": _volumes,
    "AWS::EC2::SecurityGroup": _security_groups,
    "AWS::EC2::VPC": _vpcs,
    "AWS::EC2::Instance": _instances,
    "AWS::IAM::User": _users,
    "AWS::CloudTrail::Trail": _trails,
}
TYPES = frozenset(LISTINGS)
_RECORDABLE = TYPES | {RESOURCE_COMPLIANCE}


def recorded_types(account: str, region: str) -> frozenset[str]:
    """The types a recording recorder in account and Region records (empty: nothing records there)."""
    backend = dict.get(config_backends[account], region)
    if backend is None:
        return frozenset()
    recorders = [r for r in list(backend.recorders.values()) if r.status.recording]
    found: set[str] = set()
    for recorder in recorders:
        group = recorder.recording_group
        strategy = (group.recording_strategy or {}).get("useOnly", "")
        if strategy == "EXCLUSION_BY_RESOURCE_TYPES":
            found |= _RECORDABLE - set((group.exclusion_by_resource_types or {}).get("resourceTypes") or [])
        elif group.all_supported and strategy != "INCLUSION_BY_RESOURCE_TYPES":
            found |= _RECORDABLE if group.include_global_resource_types else _RECORDABLE - GLOBAL_TYPES
        else:
            found |= _RECORDABLE & set(group.resource_types or [])
    return frozenset(found)


def existing(account: str, region: str, resource_type: str) -> list[ConfigItem]:
    """Every resource of the type in account and Region, recorded or not (periodic rules read these)."""
    listing = LISTINGS.get(resource_type)
    return list(listing(account, region)) if listing else []


def recorded(account: str, region: str) -> list[ConfigItem]:
    """The configuration items Config holds for account and Region now."""
    kinds = recorded_types(account, region) & TYPES
    return [item for kind in sorted(kinds) for item in existing(account, region, kind)]
