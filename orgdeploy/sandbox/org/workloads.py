"""The workloads in the seeded organization's member accounts: real resources, good and bad.

Seeded straight into moto's backends (the server runs in this process; 600 API calls would cost
seconds on every start), in the home Region and one more (the Regions of the example config), after
the organization exists and in a fixed order, so the same seed gives the same ids every run. What
every active member gets, and what each resource is for, is the table in docs/sandbox.md
("Workloads").

Root MFA (AWS only lets the root user turn it on, in the console) and a root access key have no
API, so they are set on moto's IAM account summary; an access key's age is moved back on moto's key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from moto.cloudtrail.models import cloudtrail_backends
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.s3.models import get_canned_acl, s3_backends

if TYPE_CHECKING:
    from orgdeploy.sandbox.org.seed import SeedAccount, SeedSummary

LOG_BUCKETS = 120
OLD_KEY_DAYS = 200


def _tls_only(bucket: str, *, log_target: bool = False) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyPlainHttp",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
    if log_target:  # S3 server access logging writes with this service principal
        statements.append(
            {
                "Sid": "AccessLogs",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _public_read(bucket: str) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _kind(account: SeedAccount) -> str:
    """prod, dev, sandbox or security, from the account's OU."""
    leaf = account.ou_path.rsplit("/", 1)[-1].lower()
    return leaf if leaf in {"prod", "dev", "sandbox", "security"} else "other"


def _s3(account: SeedAccount, region: str, kind: str) -> None:
    s3 = s3_backends[account.id]["aws"]
    logs, data, uploads = (f"{account.name}-{use}-{region}" for use in ("logs", "data", "uploads"))
    s3.create_bucket(logs, region)
    s3.put_bucket_policy(logs, _tls_only(logs, log_target=True).encode())
    s3.create_bucket(data, region)
    s3.put_bucket_policy(data, _tls_only(data).encode())
    s3.put_bucket_versioning(data, "Enabled")
    s3.put_bucket_logging(data, {"TargetBucket": logs, "TargetPrefix": f"{data}/"})
    s3.create_bucket(uploads, region)
    if kind in {"dev", "sandbox"}:
        site = f"{account.name}-site-{region}"
        s3.create_bucket(site, region)
        off = dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), "false"
        )
        s3.put_public_access_block(site, off)
        s3.put_bucket_acl(site, get_canned_acl("public-read"))
        s3.put_bucket_policy(site, _public_read(site).encode())


def _ec2(account: SeedAccount, region: str, kind: str, *, home: bool) -> None:
    ec2 = ec2_backends[account.id][region]
    zone = f"{region}a"
    image = ec2.register_image(name="workload-base", description="the workloads' base image")
    launched = ec2.run_instances(
        image.id, 1, None, [], placement=zone, region_name=region, is_instance_type_default=True
    )
    [instance] = launched.instances
    # An encrypted volume makes moto create the aws/ebs key, 60 ms of RSA: one per account, in the home Region.
    for device, encrypted in (("/dev/sdf", home), ("/dev/sdg", False)):
        volume = ec2.create_volume(size=8, zone_name=zone, encrypted=encrypted)
        ec2.attach_volume(volume.id, instance.id, device)
    ec2.create_volume(size=8, zone_name=zone, encrypted=False)
    vpc = ec2.create_vpc("10.20.0.0/16").id
    ec2.create_tags([vpc], {"Name": "workload"})
    logs_backends[account.id][region].create_log_group(f"/vpc/{vpc}", {})
    role = f"arn:aws:iam::{account.id}:role/flow-logs"
    ec2.create_flow_logs("VPC", [vpc], "ALL", role, "cloud-watch-logs", None, f"/vpc/{vpc}", None, 600)  # type: ignore[arg-type]
    groups = [("web", 443)] + [("admin-ssh", 22)] * (kind in {"dev", "sandbox"}) + [("db", 3306)] * (kind == "sandbox")
    for name, port in groups:
        group = ec2.create_security_group(name, f"{name} access", vpc_id=vpc)
        ec2.authorize_security_group_ingress(group.id, "tcp", str(port), str(port), [{"CidrIp": "0.0.0.0/0"}])


def _trail(account: SeedAccount, region: str) -> None:
    bucket = f"{account.name}-trail-{region}"
    s3_backends[account.id]["aws"].create_bucket(bucket, region)
    s3_backends[account.id]["aws"].put_bucket_policy(bucket, _tls_only(bucket).encode())
    trails = cloudtrail_backends[account.id][region]
    trails.create_trail("organization-trail", bucket, "", "", True, True, True, False, "", "", "", [])
    trails.start_logging("organization-trail")


def _iam(account: SeedAccount, kind: str) -> None:
    backend = iam_backends[account.id]["aws"]
    for user in ("deploy-bot", "alice"):
        backend.create_user("us-east-1", user)
        backend.create_access_key(user)
    old = datetime.now(UTC) - timedelta(days=OLD_KEY_DAYS)
    for key in backend.users["deploy-bot"].access_keys:
        key.create_date = old.replace(tzinfo=None)
    summary = backend.account_summary
    summary._account_mfa_enabled = int(kind in {"prod", "security"})
    summary._account_access_keys_present = int(kind == "sandbox")


def seed_workloads(summary: SeedSummary, *, home_region: str) -> None:
    """Create the table's resources in every active member account."""
    other = "eu-west-1" if home_region != "eu-west-1" else "us-east-1"
    for account in summary.accounts:
        if account.status != "ACTIVE" or account.id == summary.management_account_id:
            continue
        kind = _kind(account)
        _iam(account, kind)
        for region in (home_region, other):
            _s3(account, region, kind)
            _ec2(account, region, kind, home=region == home_region)
            if kind in {"prod", "security"} and region == home_region:
                _trail(account, region)
        if account.name == "log-archive":
            for number in range(LOG_BUCKETS):
                s3_backends[account.id]["aws"].create_bucket(f"aws-logs-{account.id}-{number:04d}", home_region)


def _group(account: str, region: str, name: str) -> Any:
    ec2 = ec2_backends[account][region]
    return next(g for groups in ec2.groups.values() for g in groups.values() if g.name == name)


def _close_ssh(ec2: Any, group_id: str, anywhere: Any) -> None:
    # An automatic remediation may have closed it already: the cloud healed itself first.
    group = ec2.get_security_group_from_id(group_id)
    if any(r.from_port == 22 and (r.ip_range or {}).get("CidrIp") == "0.0.0.0/0" for r in group.ingress_rules):
        ec2.revoke_security_group_ingress(group_id, "tcp", "22", "22", anywhere)


def play_a_day(summary: SeedSummary, *, home_region: str) -> list[str]:
    """Twenty-four hours of people changing things, on the sandbox clock; returns what happened, in order.

    Each change is a real change to a workload resource, made at its hour; AWS Config's evaluations then
    follow from it (a change-triggered rule runs a minute later, periodic rules when they fall due), and
    so do the compliance-change events on the accounts' default buses.
    """
    from orgdeploy.sandbox.compliance.evaluations import CHANGE_DELAY, advance_clock

    by_name = {a.name: a.id for a in summary.accounts if a.status == "ACTIVE"}
    story: list[str] = []
    elapsed = 0.0

    def at(hour: float, what: str, change: Any) -> None:
        nonlocal elapsed
        advance_clock(hour * 3600 - elapsed)
        change()
        advance_clock(CHANGE_DELAY + 1)
        elapsed = hour * 3600 + CHANGE_DELAY + 1
        story.append(what)

    prod, dev, play = by_name.get("prod-1"), by_name.get("dev-1"), by_name.get("sandbox-1")
    anywhere = [{"CidrIp": "0.0.0.0/0"}]
    if prod:
        ec2, web = ec2_backends[prod][home_region], _group(prod, home_region, "web").id
        opened = f"prod-1 {home_region}: port 22 opened to the internet on security group web"
        at(2, opened, lambda: ec2.authorize_security_group_ingress(web, "tcp", "22", "22", anywhere))
        closed = f"prod-1 {home_region}: port 22 closed again on security group web"
        at(5, closed, lambda: _close_ssh(ec2, web, anywhere))
    if dev:
        uploads, s3_dev = f"dev-1-uploads-{home_region}", s3_backends[dev]["aws"]
        policy = _tls_only(uploads).encode()
        at(9, f"dev-1: {uploads} now refuses plain HTTP", lambda: s3_dev.put_bucket_policy(uploads, policy))
    if play:
        data, s3_play = f"sandbox-1-data-{home_region}", s3_backends[play]["aws"]
        at(14, f"sandbox-1: the policy of {data} was deleted", lambda: s3_play.delete_bucket_policy(data))
    advance_clock(max(0.0, 24 * 3600 - elapsed))
    return story
