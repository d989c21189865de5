"""AWS managed Config rules, evaluated against the sandbox's recorded items and moto's state.

Each rule follows its page in the AWS Config Developer Guide ("List of AWS Config Managed Rules"):
the resource type it reports on, its trigger (a configuration change, a schedule, or both) and its
parameters with their defaults. A change-triggered rule evaluates the recorded items of its type;
a periodic one reads the service, as AWS's periodic rules do, and a rule without a resource type
reports on the account (AWS::::Account). A SourceIdentifier not in MANAGED_RULES is not emulated:
the engine gives it no result at all, never a made-up one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from moto.cloudtrail.models import cloudtrail_backends
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.s3control.models import s3control_backends
from moto.utilities.utils import get_partition

from orgdeploy.sandbox.compliance.recorded import ConfigItem, existing

COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE = "COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE"
ACCOUNT = "AWS::::Account"
_PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}


@dataclass(frozen=True)
class Verdict:
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str = ""


@dataclass(frozen=True)
class Place:
    account: str
    region: str
    now: float


ItemCheck = Callable[[ConfigItem, dict[str, str], Place], tuple[str, str]]
PeriodicCheck = Callable[[Place, dict[str, str]], Iterable[Verdict]]


@dataclass(frozen=True)
class ManagedRule:
    identifier: str
    resource_type: str
    triggers: frozenset[str]  # "change" and/or "periodic"
    check_item: ItemCheck | None = None  # per recorded item (change-triggered rules)
    check_periodic: PeriodicCheck | None = None  # reads the service (periodic-only rules)

    def evaluate(self, place: Place, params: dict[str, str], items: list[ConfigItem]) -> list[Verdict]:
        if self.check_periodic is not None:
            return list(self.check_periodic(place, params))
        assert self.check_item is not None
        found = []
        for item in items:
            compliance, note = self.check_item(item, params, place)
            found.append(Verdict(item.resource_type, item.resource_id, compliance, note))
        return found


# -- S3 ---------------------------------------------------------------------------------------------


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _statements(policy: Any) -> list[dict[str, Any]]:
    return [s for s in _listed((policy or {}).get("Statement")) if isinstance(s, dict)]


def _public(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _listed(principal.get("AWS"))


def _covers(actions: Any, wanted: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(w.lower(), str(a).lower()) for a in _listed(actions) for w in wanted)


def _blocks(item: ConfigItem, place: Place) -> dict[str, bool]:
    """The effective Block Public Access settings: the account's and the bucket's, either one blocking."""
    bucket = item.configuration.get("publicAccessBlock") or {}
    account = s3control_backends[place.account][get_partition(place.region)].public_access_block
    account_cfg = account.to_config_dict() if account is not None else {}
    return {
        key: bool(bucket.get(key)) or bool(account_cfg.get(key))
        for key in ("ignorePublicAcls", "restrictPublicBuckets")
    }


def _public_access(permission: str, actions: tuple[str, ...]) -> ItemCheck:
    def check(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
        blocks = _blocks(item, place)
        if not blocks["ignorePublicAcls"]:
            for grant in item.configuration.get("acl") or []:
                if _PUBLIC_GRANTEES & set(grant["grantees"]) and {permission, "FULL_CONTROL"} & set(
                    grant["permissions"]
                ):
                    return NON_COMPLIANT, f"The bucket ACL grants public {permission.lower()} access."
        if not blocks["restrictPublicBuckets"]:
            for statement in _statements(item.configuration.get("policy")):
                if (
                    statement.get("Effect") == "Allow"
                    and _public(statement.get("Principal"))
                    and not statement.get("Condition")
                    and _covers(statement.get("Action"), actions)
                ):
                    return NON_COMPLIANT, f"The bucket policy allows public {permission.lower()} access."
        return COMPLIANT, ""

    return check


def _ssl_only(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    for statement in _statements(item.configuration.get("policy")):
        condition = (statement.get("Condition") or {}).get("Bool") or {}
        if (
            statement.get("Effect") == "Deny"
            and _public(statement.get("Principal"))
            and _covers(statement.get("Action"), ("s3:GetObject", "s3:PutObject"))
            and str(condition.get("aws:SecureTransport", "")).lower() == "false"
        ):
            return COMPLIANT, ""
    return NON_COMPLIANT, "The bucket policy does not deny requests that are not made over TLS."


def _encrypted_at_rest(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    # Since January 2023 S3 encrypts every bucket with SSE-S3 at least; moto's "no configuration" is that default.
    return COMPLIANT, ""


def _versioning(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    if item.configuration.get("versioning") != "Enabled":
        return NON_COMPLIANT, "Versioning is not enabled."
    if params.get("isMfaDeleteEnabled", "").lower() == "true":
        return NON_COMPLIANT, "MFA delete is not enabled."
    return COMPLIANT, ""


def _logging(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    logging = item.configuration.get("logging") or {}
    target = logging.get("TargetBucket")
    if not target:
        return NON_COMPLIANT, "Server access logging is not enabled."
    if params.get("targetBucket") and params["targetBucket"] != target:
        return NON_COMPLIANT, f"Access logs go to {target}, not {params['targetBucket']}."
    if params.get("targetPrefix") and params["targetPrefix"] != logging.get("TargetPrefix"):
        return NON_COMPLIANT, f"Access logs do not use the prefix {params['targetPrefix']}."
    return COMPLIANT, ""


# -- EC2 --------------------------------------------------------------------------------------------


def _volume_encrypted(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    if not item.configuration["attachments"]:
        return NOT_APPLICABLE, ""  # the rule looks at attached volumes only
    if not item.configuration["encrypted"]:
        return NON_COMPLIANT, "The attached volume is not encrypted."
    wanted = params.get("kmsId")
    if wanted and wanted not in str(item.configuration.get("kmsKeyId") or ""):
        return NON_COMPLIANT, f"The volume is not encrypted with {wanted}."
    return COMPLIANT, ""


def _open_to_world(item: ConfigItem, ports: Iterable[int], *, ipv6: bool) -> int | None:
    """The first of the ports that an ingress permission opens to the whole internet, or None."""
    for permission in item.configuration["ipPermissions"]:
        anywhere = permission["ipv4Range"] == "0.0.0.0/0" or (ipv6 and permission["ipv6Range"] == "::/0")
        if not anywhere or permission["ipProtocol"] not in ("-1", "tcp", "6"):
            continue
        for port in ports:
            if permission["ipProtocol"] == "-1" or permission["fromPort"] <= port <= permission["toPort"]:
                return port
    return None


def _ssh(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    if _open_to_world(item, (22,), ipv6=True) is not None:
        return NON_COMPLIANT, "Port 22 is open to the internet."
    return COMPLIANT, ""


_COMMON_PORTS = {
    "blockedPort1": "20",
    "blockedPort2": "21",
    "blockedPort3": "3389",
    "blockedPort4": "3306",
    "blockedPort5": "4333",
}


def _common_ports(item: ConfigItem, params: dict[str, str], place: Place) -> tuple[str, str]:
    ports = [int(params.get(key, default)) for key, default in _COMMON_PORTS.items() if params.get(key, default)]
    port = _open_to_world(item, ports, ipv6=False)
    if port is not None:
        return NON_COMPLIANT, f"Port {port} is open to 0.0.0.0/0."
    return COMPLIANT, ""


def _flow_logs(place: Place, params: dict[str, str]) -> Iterator[Verdict]:
    backend = ec2_backends[place.account][place.region]
    logs = list(backend.flow_logs.values())
    wanted = params.get("trafficType", "").upper()
    for item in existing(place.account, place.region, "AWS::EC2::VPC"):
        mine = [log for log in logs if log.resource_id == item.resource_id]
        if not mine:
            yield Verdict(item.resource_type, item.resource_id, NON_COMPLIANT, "The VPC has no flow log.")
        elif wanted and not any(log.traffic_type == wanted for log in mine):
            yield Verdict(
                item.resource_type, item.resource_id, NON_COMPLIANT, f"No flow log captures {wanted} traffic."
            )
        else:
            yield Verdict(item.resource_type, item.resource_id, COMPLIANT)


# -- IAM and the account -----------------------------------------------------------------------------


def _iam(place: Place) -> Any:
    return iam_backends[place.account][get_partition(place.region)]


def _keys_rotated(place: Place, params: dict[str, str]) -> Iterator[Verdict]:
    days = int(params.get("maxAccessKeyAge") or 90)
    for user in list(_iam(place).users.values()):
        old = [
            key.access_key_id
            for key in user.access_keys
            if key.status == "Active" and (place.now - key.create_date.replace(tzinfo=UTC).timestamp()) > days * 86400
        ]
        if old:
            yield Verdict("AWS::IAM::User", user.id, NON_COMPLIANT, f"An active access key is older than {days} days.")
        else:
            yield Verdict("AWS::IAM::User", user.id, COMPLIANT)


def _root_mfa(place: Place, params: dict[str, str]) -> Iterator[Verdict]:
    enabled = _iam(place).get_account_summary().summary_map["AccountMFAEnabled"]
    yield Verdict(
        ACCOUNT, place.account, *((COMPLIANT, "") if enabled else (NON_COMPLIANT, "The root user has no MFA device."))
    )


def _root_keys(place: Place, params: dict[str, str]) -> Iterator[Verdict]:
    present = _iam(place).get_account_summary().summary_map["AccountAccessKeysPresent"]
    yield Verdict(
        ACCOUNT, place.account, *((NON_COMPLIANT, "The root user has an access key.") if present else (COMPLIANT, ""))
    )


def _trail_enabled(place: Place, params: dict[str, str]) -> Iterator[Verdict]:
    trails = []
    for region, backend in list(cloudtrail_backends[place.account].items()):
        trails += [t for t in list(backend.trails.values()) if region == place.region or t.is_multi_region]
    wanted = {"bucket_name": params.get("s3BucketName"), "cw_log_group_arn": params.get("cloudWatchLogsLogGroupArn")}
    topic = params.get("snsTopicArn")
    for trail in trails:
        if not trail.status.is_logging:
            continue
        if any(value and getattr(trail, attr) != value for attr, value in wanted.items()):
            continue
        if topic and trail.topic_arn != topic:
            continue
        yield Verdict(ACCOUNT, place.account, COMPLIANT)
        return
    yield Verdict(ACCOUNT, place.account, NON_COMPLIANT, "No logging trail covers this Region.")


_CHANGE, _PERIODIC = frozenset({"change"}), frozenset({"periodic"})
_BOTH = _CHANGE | _PERIODIC
_S3 = "AWS::S3::Bucket"
MANAGED_RULES: dict[str, ManagedRule] = {
    rule.identifier: rule
    for rule in (
        ManagedRule("S3_BUCKET_SSL_REQUESTS_ONLY", _S3, _CHANGE, _ssl_only),
        ManagedRule(
            "S3_BUCKET_PUBLIC_READ_PROHIBITED", _S3, _BOTH, _public_access("READ", ("s3:GetObject", "s3:ListBucket"))
        ),
        ManagedRule(
            "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
            _S3,
            _BOTH,
            _public_access("WRITE", ("s3:PutObject", "s3:DeleteObject")),
        ),
        ManagedRule("S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED", _S3, _CHANGE, _encrypted_at_rest),
        ManagedRule("S3_BUCKET_VERSIONING_ENABLED", _S3, _CHANGE, _versioning),
        ManagedRule("S3_BUCKET_LOGGING_ENABLED", _S3, _CHANGE, _logging),
        ManagedRule("ENCRYPTED_VOLUMES", "AWS::EC2::Volume", _CHANGE, _volume_encrypted),
        ManagedRule("INCOMING_SSH_DISABLED", "AWS::EC2::SecurityGroup", _CHANGE, _ssh),
        ManagedRule("RESTRICTED_INCOMING_TRAFFIC", "AWS::EC2::SecurityGroup", _CHANGE, _common_ports),
        ManagedRule("VPC_FLOW_LOGS_ENABLED", "AWS::EC2::VPC", _PERIODIC, check_periodic=_flow_logs),
        ManagedRule("ACCESS_KEYS_ROTATED", "AWS::IAM::User", _PERIODIC, check_periodic=_keys_rotated),
        ManagedRule("ROOT_ACCOUNT_MFA_ENABLED", ACCOUNT, _PERIODIC, check_periodic=_root_mfa),
        ManagedRule("IAM_ROOT_ACCESS_KEY_CHECK", ACCOUNT, _PERIODIC, check_periodic=_root_keys),
        ManagedRule("CLOUD_TRAIL_ENABLED", ACCOUNT, _PERIODIC, check_periodic=_trail_enabled),
    )
}
FREQUENCIES = {
    "One_Hour": 3600,
    "Three_Hours": 3 * 3600,
    "Six_Hours": 6 * 3600,
    "Twelve_Hours": 12 * 3600,
    "TwentyFour_Hours": 86400,
}
DEFAULT_FREQUENCY = "TwentyFour_Hours"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
