"""The AWS-owned SSM Automation documents orgdeploy can wire as remediations, with what each needs (pure data).

Each entry gives the document's parameters (the one bound to RESOURCE_ID first), the resource type
its rule reports, and the IAM actions its steps call, with the ARN each is scoped to. The actions
come from the AWS Systems Manager Automation runbook reference ("Required IAM permissions") where
it lists them, and from the API each step calls where it does not; docs/remediation.md cites each.
`{account}`, `{region}`, `{resource}` and `{partition}` are filled in per resource.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Runbook:
    name: str
    resource_type: str
    resource_parameter: str  # bound to RESOURCE_ID
    required: tuple[str, ...] = ()  # other parameters without a default
    optional: tuple[str, ...] = ()
    actions: tuple[tuple[str, str], ...] = ()  # (IAM action, ARN pattern)
    source: str = ""
    steps: int = 1  # automation steps per run, for cost

    @property
    def parameters(self) -> tuple[str, ...]:
        return ("AutomationAssumeRole", self.resource_parameter, *self.required, *self.optional)


_BUCKET = "arn:{partition}:s3:::{resource}"
_RUNBOOK_DOCS = "https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/"
RUNBOOKS: dict[str, Runbook] = {
    r.name: r
    for r in (
        Runbook(
            "AWS-DisableS3BucketPublicReadWrite",
            "AWS::S3::Bucket",
            "S3BucketName",
            actions=(("s3:PutBucketPublicAccessBlock", _BUCKET),),
            source=_RUNBOOK_DOCS + "automation-aws-disables3bucketpublicreadwrite.html",
        ),
        Runbook(
            "AWS-EnableS3BucketEncryption",
            "AWS::S3::Bucket",
            "BucketName",
            optional=("SSEAlgorithm",),
            actions=(("s3:PutEncryptionConfiguration", _BUCKET),),
            source=_RUNBOOK_DOCS + "automation-aws-enableS3bucketencryption.html",
        ),
        Runbook(
            "AWSConfigRemediation-RestrictBucketSSLRequestsOnly",
            "AWS::S3::Bucket",
            "BucketName",
            actions=(
                ("s3:GetBucketPolicy", _BUCKET),
                ("s3:PutBucketPolicy", _BUCKET),
                ("s3:DeleteBucketPolicy", _BUCKET),
                ("s3:PutEncryptionConfiguration", _BUCKET),
            ),
            source=_RUNBOOK_DOCS + "automation-aws-s3-deny-http.html",
        ),
        Runbook(
            "AWS-ConfigureS3BucketLogging",
            "AWS::S3::Bucket",
            "BucketName",
            required=("GrantedPermission", "GranteeType", "TargetBucket"),
            optional=("GranteeEmailAddress", "GranteeId", "GranteeUri", "TargetPrefix"),
            actions=(("s3:PutBucketLogging", _BUCKET),),
            source=_RUNBOOK_DOCS + "automation-aws-configures3bucketlogging.html",
        ),
        Runbook(
            "AWS-DisableIncomingSSHOnPort22",
            "AWS::EC2::SecurityGroup",
            "SecurityGroupIds",
            actions=(
                ("ec2:DescribeSecurityGroups", "*"),
                ("ec2:RevokeSecurityGroupIngress", "arn:{partition}:ec2:{region}:{account}:security-group/*"),
            ),
            source="https://docs.aws.amazon.com/systems-manager-automation-runbooks/latest/userguide/disable-incoming-ssh.html",
        ),
        Runbook(
            "AWSConfigRemediation-RevokeUnusedIAMUserCredentials",
            "AWS::IAM::User",
            "IAMResourceId",
            optional=("MaxCredentialUsageAge",),
            actions=(
                ("config:ListDiscoveredResources", "*"),
                ("iam:GetUser", "arn:{partition}:iam::{account}:user/*"),
                ("iam:ListAccessKeys", "arn:{partition}:iam::{account}:user/*"),
                ("iam:GetAccessKeyLastUsed", "arn:{partition}:iam::{account}:user/*"),
                ("iam:UpdateAccessKey", "arn:{partition}:iam::{account}:user/*"),
                ("iam:DeleteAccessKey", "arn:{partition}:iam::{account}:user/*"),
                ("iam:GetLoginProfile", "arn:{partition}:iam::{account}:user/*"),
                ("iam:DeleteLoginProfile", "arn:{partition}:iam::{account}:user/*"),
            ),
            source=_RUNBOOK_DOCS + "automation-aws-revoke-iam-user.html",
        ),
    )
}
