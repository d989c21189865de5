"""S3: upload a pack body too large to pass inline, and remove buckets on destroy."""

from __future__ import annotations

from orgdeploy.aws.permissions import ADMINS, DEPLOYERS, Need
from orgdeploy.aws.retry import call_with_retries, error_code
from orgdeploy.aws.session import AwsContext

PERMISSIONS = (
    Need(("s3:PutObject",), DEPLOYERS, "upload pack bodies over 51,200 bytes"),
    Need(("s3:GetObject",), DEPLOYERS, "PutOrganizationConformancePack reads TemplateS3Uri as its caller"),
    Need(("s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteBucket"), ADMINS, "destroy: remove buckets"),
)


class BucketsGateway:
    def __init__(self, ctx: AwsContext, *, account: str, region: str) -> None:
        self.s3 = ctx.client("s3", region, account)

    def upload(self, bucket: str, key: str, body: bytes) -> None:
        call_with_retries(self.s3.put_object, Bucket=bucket, Key=key, Body=body, ServerSideEncryption="AES256")

    def empty_and_delete(self, bucket: str) -> int:
        """Delete every object version, then the bucket. Returns versions removed; a missing bucket is fine."""
        removed = 0
        try:
            for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
                objects = [
                    {"Key": v["Key"], "VersionId": v["VersionId"]}
                    for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                if objects:
                    call_with_retries(self.s3.delete_objects, Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                    removed += len(objects)
            call_with_retries(self.s3.delete_bucket, Bucket=bucket)
        except Exception as exc:
            if error_code(exc) != "NoSuchBucket":
                raise
        return removed
