"""AWS::S3::BucketPolicy, and the AWS::S3::Bucket properties moto's CloudFormation drops.

moto's FakeBucket model creates the bucket and applies only BucketEncryption
(without BucketKeyEnabled) and Tags. patch_bucket_properties() wraps its
create/update classmethods: moto's own code runs first, then
PublicAccessBlockConfiguration, BucketEncryption, VersioningConfiguration and
OwnershipControls are applied through moto's S3 backend, so GetPublicAccessBlock,
GetBucketEncryption, GetBucketVersioning and GetBucketOwnershipControls read back
what the template says. BucketPolicyModel puts the policy with the backend's
put_bucket_policy and deletes it with the stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.s3.exceptions import MissingBucket, S3AccessDeniedError
from moto.s3.models import FakeBucket, S3Backend, s3_backends
from moto.s3.utils import bucket_policy_is_public
from moto.utilities.utils import get_partition

from orgdeploy.sandbox.cfn_models.base import BackendModel, properties_of

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_PUBLIC_ACCESS_KEYS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def _s3(account_id: str, region_name: str) -> S3Backend:
    backend: S3Backend = s3_backends[account_id][get_partition(region_name)]
    return backend


def _flag(value: Any) -> bool:
    # Template parameters and Fn::If results may carry booleans as "true"/"false".
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _encryption(properties: dict[str, Any]) -> dict[str, Any]:
    """BucketEncryption in the shape moto's PutBucketEncryption handler stores (parsed XML)."""
    rules = properties["ServerSideEncryptionConfiguration"]
    # S3 keeps a single rule; CloudFormation passes the list through and S3 uses the first.
    rule = rules[0] if isinstance(rules, list) else rules
    default = {
        key: value for key, value in (rule.get("ServerSideEncryptionByDefault") or {}).items() if value is not None
    }
    stored: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    if "BucketKeyEnabled" in rule:
        stored["BucketKeyEnabled"] = "true" if _flag(rule["BucketKeyEnabled"]) else "false"
    return {"@xmlns": _XMLNS, "Rule": stored}


def _require_key_in_region(encryption: dict[str, Any], region: str) -> None:
    """SSE-KMS needs a key in the bucket's Region (S3 User Guide, "Specifying server-side encryption with AWS KMS")."""
    key = str(encryption["Rule"]["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") or "")
    if key.startswith("arn:") and key.split(":")[3] != region:
        raise JsonRESTError(
            "KMS.NotFoundException", f"Key '{key}' does not exist in {region}: a bucket's KMS key must be in its Region"
        )


def apply_bucket_properties(backend: S3Backend, bucket_name: str, properties: dict[str, Any], *, update: bool) -> None:
    """Make the bucket's settings match the template; on update, a removed property is removed."""
    bucket = backend.get_bucket(bucket_name)
    block = properties.get("PublicAccessBlockConfiguration")
    if block is not None:
        # Unset flags are false, as with PutPublicAccessBlock.
        backend.put_public_access_block(bucket_name, {key: _flag(block.get(key)) for key in _PUBLIC_ACCESS_KEYS})
    elif update:
        backend.delete_public_access_block(bucket_name)

    if properties.get("BucketEncryption"):
        encryption = _encryption(properties["BucketEncryption"])
        _require_key_in_region(encryption, bucket.region_name)
        backend.put_bucket_encryption(bucket_name, encryption)
    elif update:
        backend.delete_bucket_encryption(bucket_name)

    versioning = (properties.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        backend.put_bucket_versioning(bucket_name, str(versioning))
    elif update and bucket.versioning_status == "Enabled":
        # A bucket that was ever versioned cannot become unversioned again, only suspended.
        backend.put_bucket_versioning(bucket_name, "Suspended")

    rules = (properties.get("OwnershipControls") or {}).get("Rules") or []
    if rules:
        # moto annotates a dict but stores the bare ObjectOwnership string, as its own handler passes it.
        ownership: Any = str(rules[0]["ObjectOwnership"])
        backend.put_bucket_ownership_controls(bucket_name, ownership)
    elif update:
        backend.delete_bucket_ownership_controls(bucket_name)


def patch_bucket_properties() -> None:
    """Wrap FakeBucket's CloudFormation create and update; the caller makes sure this runs once."""
    create: Callable[..., FakeBucket] = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    update: Callable[..., FakeBucket] = FakeBucket.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(
        cls: type[FakeBucket],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> FakeBucket:
        bucket = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = properties_of(cloudformation_json)
        try:
            apply_bucket_properties(_s3(account_id, region_name), bucket.name, properties, update=False)
        except Exception:
            _s3(account_id, region_name).delete_bucket(bucket.name)  # the failed resource's rollback
            raise
        return bucket

    def update_from_cloudformation_json(
        cls: type[FakeBucket],
        /,
        original_resource: FakeBucket,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> FakeBucket:
        bucket = update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        # A replacement went through the wrapped create above and is complete already.
        if bucket is original_resource:
            properties = properties_of(cloudformation_json)
            apply_bucket_properties(_s3(account_id, region_name), bucket.name, properties, update=True)
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]
    FakeBucket.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def _policy_text(document: Any) -> bytes:
    text = document if isinstance(document, str) else json.dumps(document)
    return text.encode("utf-8")


class BucketPolicyModel(BackendModel[S3Backend], CloudFormationModel):
    """A bucket's policy; its physical id (and Ref) is the bucket name, as in CloudFormation.

    Bucket is a replacement property: on an update to another bucket, the old bucket's policy goes.
    """

    cfn_type = "AWS::S3::BucketPolicy"
    # The resource name is generated and names nothing in S3, so there is nothing to refuse.
    refuse_existing = False
    # A bucket deleted before its policy took the policy with it.
    collection = "buckets"
    _backend = staticmethod(_s3)

    @staticmethod
    def _put(backend: S3Backend, resource_name: str, properties: dict[str, Any]) -> str:
        name = str(properties.get("Bucket", ""))  # the generated resource name is not used
        if name not in backend.buckets:
            # Only the bucket owner's account may set its policy.
            if name in s3_backends.bucket_accounts:
                raise S3AccessDeniedError()
            raise MissingBucket(bucket=name)
        policy = _policy_text(properties.get("PolicyDocument") or {})
        block = backend.buckets[name].public_access_block
        if block is not None and block.block_public_policy and bucket_policy_is_public(policy):
            # S3 rejects a public policy while BlockPublicPolicy is on.
            raise S3AccessDeniedError()
        backend.put_bucket_policy(name, policy)
        return name

    @staticmethod
    def _remove(backend: S3Backend, name: str) -> None:
        backend.delete_bucket_policy(name)
