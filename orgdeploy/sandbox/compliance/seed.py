"""Compliance data the sandbox's aggregator serves: what every account and Region has reported.

The data is built once per sandbox from the seeded organization (seed_compliance) or as a synthetic
large organization for the benchmark (synthetic_store), and installed in this process with
install_store(). compliance_api answers the aggregate compliance APIs and the advanced query from it.

It looks like a real organization's: rules from organization conformance packs carry a random
`-conformance-pack-<9>` suffix that differs per account and Region, organization rules are named
`OrgConfigRule-<rule>-<8>` with a suffix per account, about 5% of resources are non-compliant, and a
few counts pass AWS Config's caps (see seed_compliance). The same seed gives the same data; only the
timestamps move with the day the sandbox starts.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orgdeploy.sandbox.org.seed import SeedSummary

_ALPHABET = string.ascii_lowercase + string.digits
BASELINE_PACK = "orgdeploy-baseline"  # what the default config's pack is called in the organization
SECURITY_PACK = "security-team-cis"  # a pack the organization runs without orgdeploy
OPS_PACK = "ops-best-practices"
NONCOMPLIANT_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class CatalogRule:
    name: str  # the common name
    resource_type: str
    pack: str  # organization conformance pack, or "" for an organization rule
    annotation: str


def _rules(pack: str, rows: Iterable[tuple[str, str, str]]) -> tuple[CatalogRule, ...]:
    return tuple(CatalogRule(name, kind, pack, note) for name, kind, note in rows)


# The seeded organization runs the first 16 rules; the benchmark's runs all 40.
CATALOG = (
    _rules(BASELINE_PACK, [
        ("root-account-mfa-enabled", "AWS::::Account", "The root user has no MFA device."),
        ("access-keys-rotated", "AWS::IAM::User", "An active access key is older than 90 days."),
        ("s3-bucket-public-read-prohibited", "AWS::S3::Bucket", "The bucket policy allows public read."),
        ("s3-bucket-ssl-requests-only", "AWS::S3::Bucket", "The bucket policy allows plain HTTP."),
        ("encrypted-volumes", "AWS::EC2::Volume", "The volume is not encrypted."),
        ("restricted-ssh", "AWS::EC2::SecurityGroup", "Port 22 is open to 0.0.0.0/0."),
        ("cloudtrail-enabled", "AWS::::Account", "No trail logs this Region."),
    ])
    + _rules(SECURITY_PACK, [
        ("iam-password-policy", "AWS::::Account", "The password policy is weaker than required."),
        ("iam-user-mfa-enabled", "AWS::IAM::User", "The user has no MFA device."),
        ("vpc-flow-logs-enabled", "AWS::EC2::VPC", "The VPC has no flow log."),
        ("vpc-default-security-group-closed", "AWS::EC2::SecurityGroup", "The default security group allows traffic."),
        ("ec2-ebs-encryption-by-default", "AWS::::Account", "EBS encryption by default is off."),
        ("rds-storage-encrypted", "AWS::RDS::DBInstance", "The DB instance storage is not encrypted."),
    ])
    + _rules("", [
        ("s3-bucket-versioning-enabled", "AWS::S3::Bucket", "Versioning is not enabled."),
        ("ec2-instance-no-public-ip", "AWS::EC2::Instance", "The instance has a public IP address."),
        ("lambda-function-public-access-prohibited", "AWS::Lambda::Function", "The function policy is public."),
    ])
    + _rules(OPS_PACK, [
        ("ec2-volume-inuse-check", "AWS::EC2::Volume", "The volume is not attached."),
        ("restricted-common-ports", "AWS::EC2::SecurityGroup", "A blocked port is open to 0.0.0.0/0."),
        ("vpc-sg-open-only-to-authorized-ports", "AWS::EC2::SecurityGroup", "An unauthorised port is open."),
        ("s3-bucket-logging-enabled", "AWS::S3::Bucket", "Server access logging is off."),
        ("s3-bucket-server-side-encryption-enabled", "AWS::S3::Bucket", "Default encryption is off."),
        ("s3-bucket-public-write-prohibited", "AWS::S3::Bucket", "The bucket allows public write."),
        ("s3-bucket-level-public-access-prohibited", "AWS::S3::Bucket", "Block Public Access is off."),
        ("rds-instance-public-access-check", "AWS::RDS::DBInstance", "The DB instance is publicly accessible."),
        ("rds-multi-az-support", "AWS::RDS::DBInstance", "The DB instance is single-AZ."),
        ("db-instance-backup-enabled", "AWS::RDS::DBInstance", "Automated backups are off."),
        ("iam-user-no-policies-check", "AWS::IAM::User", "Policies are attached to the user directly."),
        ("iam-user-unused-credentials-check", "AWS::IAM::User", "Credentials unused for 90 days."),
        ("iam-root-access-key-check", "AWS::::Account", "The root user has an access key."),
        ("ec2-instance-managed-by-systems-manager", "AWS::EC2::Instance", "The instance is not managed by SSM."),
        ("ec2-imdsv2-check", "AWS::EC2::Instance", "IMDSv1 is allowed."),
        ("ec2-instance-detailed-monitoring-enabled", "AWS::EC2::Instance", "Detailed monitoring is off."),
        ("lambda-function-settings-check", "AWS::Lambda::Function", "The runtime is not allowed."),
        ("lambda-inside-vpc", "AWS::Lambda::Function", "The function is not in a VPC."),
        ("dynamodb-pitr-enabled", "AWS::DynamoDB::Table", "Point-in-time recovery is off."),
        ("dynamodb-table-encrypted-kms", "AWS::DynamoDB::Table", "The table is not encrypted with KMS."),
        ("cloud-trail-encryption-enabled", "AWS::CloudTrail::Trail", "The trail is not encrypted with KMS."),
        ("cloud-trail-cloud-watch-logs-enabled", "AWS::CloudTrail::Trail", "The trail has no log group."),
        ("guardduty-enabled-centralized", "AWS::::Account", "GuardDuty is not enabled."),
        ("ebs-snapshot-public-restorable-check", "AWS::::Account", "A snapshot is publicly restorable."),
    ])
)  # fmt: skip
SEEDED_RULES = 16
# Resources of each type in one account and Region: (fewest, most); IAM users only in the home Region.
_TYPE_RANGES = {
    "AWS::S3::Bucket": (2, 8), "AWS::EC2::Volume": (2, 10), "AWS::EC2::SecurityGroup": (3, 10),
    "AWS::EC2::VPC": (1, 3), "AWS::RDS::DBInstance": (0, 3), "AWS::EC2::Instance": (2, 10),
    "AWS::Lambda::Function": (0, 8), "AWS::IAM::User": (2, 8), "AWS::DynamoDB::Table": (0, 4),
    "AWS::CloudTrail::Trail": (1, 1), "AWS::EC2::NetworkInterface": (4, 40),
}  # fmt: skip
_ID_PREFIX = {
    "AWS::EC2::Volume": "vol-", "AWS::EC2::SecurityGroup": "sg-", "AWS::EC2::VPC": "vpc-",
    "AWS::EC2::Instance": "i-", "AWS::EC2::NetworkInterface": "eni-",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Resource:
    resource_type: str
    resource_id: str
    failing: tuple[int, ...] = ()  # catalog indices of the rules it does not comply with


@dataclass(frozen=True, slots=True)
class Block:
    """What one account and Region report to the aggregator."""

    account: str
    region: str
    rule_names: tuple[str, ...]  # the rule names in this account and Region, by catalog index
    pack_names: tuple[tuple[str, str], ...]  # (pack, OrgConformsPack-<pack>-<suffix>)
    resources: tuple[Resource, ...]
    evaluated_at: int  # epoch seconds of the latest evaluations


@dataclass(frozen=True, slots=True)
class SourceStatus:
    account: str
    region: str
    status: str  # SUCCEEDED, FAILED or OUTDATED
    updated_at: int
    error_code: str = ""
    error_message: str = ""


@dataclass
class ComplianceStore:
    management_account: str
    home_region: str
    # Names answered in the management account's home Region even before an aggregator of that
    # name exists in moto (docs/report.md explains why).
    aggregator_names: frozenset[str]
    catalog: tuple[CatalogRule, ...]
    blocks: tuple[Block, ...]
    sources: tuple[SourceStatus, ...]
    # Answers computed from the store, by request shape; safe because the store never changes.
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def cached(self, key: Any, build: Any) -> Any:
        with self.lock:
            if key not in self.cache:
                self.cache[key] = build()
            return self.cache[key]

    def rules_by_type(self) -> dict[str, tuple[int, ...]]:
        def build() -> dict[str, tuple[int, ...]]:
            found: dict[str, list[int]] = {}
            for index, rule in enumerate(self.catalog):
                found.setdefault(rule.resource_type, []).append(index)
            return {kind: tuple(indices) for kind, indices in found.items()}

        result: dict[str, tuple[int, ...]] = self.cached("rules_by_type", build)
        return result

    def block(self, account: str, region: str) -> Block | None:
        index: dict[tuple[str, str], Block] = self.cached(
            "blocks", lambda: {(b.account, b.region): b for b in self.blocks}
        )
        return index.get((account, region))


_STORE: list[ComplianceStore] = []
_STORE_LOCK = threading.Lock()


def install_store(store: ComplianceStore | None) -> None:
    """Make store what the sandbox's aggregators serve (None: nothing)."""
    with _STORE_LOCK:
        _STORE[:] = [store] if store is not None else []


def current_store() -> ComplianceStore | None:
    with _STORE_LOCK:
        return _STORE[0] if _STORE else None


def _suffix(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(_ALPHABET, k=length))


def _names(rng: random.Random, catalog: Sequence[CatalogRule], org_suffixes: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        f"{rule.name}-conformance-pack-{_suffix(rng, 9)}"
        if rule.pack
        else f"OrgConfigRule-{rule.name}-{org_suffixes[i]}"
        for i, rule in enumerate(catalog)
    )


def _resource_id(rng: random.Random, kind: str, account_name: str, number: int) -> str:
    if kind in _ID_PREFIX:
        return f"{_ID_PREFIX[kind]}{rng.getrandbits(68):017x}"
    if kind == "AWS::S3::Bucket":
        return f"{account_name}-data-{number}-{rng.getrandbits(24):06x}"
    return f"{kind.rsplit('::', 1)[-1].lower()}-{account_name}-{number}"


def _block(
    rng: random.Random,
    *,
    account: str,
    account_name: str,
    region: str,
    home: bool,
    catalog: Sequence[CatalogRule],
    org_suffixes: Sequence[str],
    counts: dict[str, int],
    share: float,
    evaluated_at: int,
) -> Block:
    by_type: dict[str, list[int]] = {}
    for index, rule in enumerate(catalog):
        by_type.setdefault(rule.resource_type, []).append(index)
    resources = [Resource("AWS::::Account", account)] if "AWS::::Account" in by_type else []
    for kind, count in counts.items():
        if home or kind != "AWS::IAM::User":
            resources += [Resource(kind, _resource_id(rng, kind, account_name, n)) for n in range(count)]
    # About `share` of the resources that rules evaluate fail one of those rules.
    resources = [
        Resource(r.resource_type, r.resource_id, (rng.choice(by_type[r.resource_type]),))
        if r.resource_type in by_type and rng.random() < share
        else r
        for r in resources
    ]
    packs = tuple(
        (pack, f"OrgConformsPack-{pack}-{_suffix(rng, 8)}") for pack in dict.fromkeys(r.pack for r in catalog) if pack
    )
    return Block(account, region, _names(rng, catalog, org_suffixes), packs, tuple(resources), evaluated_at)


def _fail_every_rule(rng: random.Random, block: Block, catalog: Sequence[CatalogRule]) -> Block:
    """A neglected account: every rule has a non-compliant resource here."""
    resources = list(block.resources)
    for index, rule in enumerate(catalog):
        candidates = [i for i, r in enumerate(resources) if r.resource_type == rule.resource_type]
        if candidates:
            pick = rng.choice(candidates)
            old = resources[pick]
            resources[pick] = Resource(old.resource_type, old.resource_id, tuple(sorted({*old.failing, index})))
    return Block(block.account, block.region, block.rule_names, block.pack_names, tuple(resources), block.evaluated_at)


def _log_buckets(rng: random.Random, block: Block, catalog: Sequence[CatalogRule], count: int) -> Block:
    """The log-archive account's many log buckets; 5% fail ssl-requests-only, which passes the count cap of 100."""
    ssl = next(i for i, r in enumerate(catalog) if r.name == "s3-bucket-ssl-requests-only")
    buckets = tuple(
        Resource("AWS::S3::Bucket", f"aws-logs-{block.account}-{n:04d}", (ssl,) if n % 20 == 0 else ())
        for n in range(count)
    )
    return Block(
        block.account, block.region, block.rule_names, block.pack_names, block.resources + buckets, block.evaluated_at
    )


def _day_start() -> int:
    now = datetime.now(UTC)
    return int(datetime(now.year, now.month, now.day, tzinfo=UTC).timestamp())


def seed_compliance(
    summary: SeedSummary, *, home_region: str, seed: int = 0, aggregator_names: Iterable[str] | None = None
) -> ComplianceStore:
    """The seeded organization's compliance, in the home Region and one more (eu-west-1, or us-east-1).

    Deterministic per seed. Beyond the ~5% background: log-archive keeps 2,400 log buckets of
    which 120 fail s3-bucket-ssl-requests-only (a count past the cap of 100), and sandbox-1 fails
    every rule that has a resource to evaluate in both Regions (about 30 rules, past the cap of 25). The account with a
    foreign recorder reports nothing from that Region, and the suspended account's sources fail.
    Served by default under the config's default aggregator name, before bootstrap creates it.
    """
    if aggregator_names is None:
        from orgdeploy.config.model import Aggregator

        aggregator_names = (Aggregator().name,)
    rng = random.Random(f"compliance/{seed}")
    regions = (home_region, "eu-west-1" if home_region != "eu-west-1" else "us-east-1")
    catalog = CATALOG[:SEEDED_RULES]
    silent = {(q.account_id, q.region) for q in summary.quirks if q.kind == "foreign-recorder"}
    day = _day_start()
    blocks, sources = [], []
    for account in summary.accounts:
        if account.status != "ACTIVE":
            sources += [
                SourceStatus(account.id, r, "FAILED", day, "AccessDeniedException", "The account is suspended.")
                for r in regions
            ]
            continue
        org_suffixes = [_suffix(rng, 8) for _ in catalog]
        for region in regions:
            evaluated_at = day - rng.randrange(3600, 86400)
            sources.append(SourceStatus(account.id, region, "SUCCEEDED", evaluated_at))
            counts = {kind: rng.randint(low, high) for kind, (low, high) in _TYPE_RANGES.items()}
            block = _block(
                rng, account=account.id, account_name=account.name, region=region, home=region == home_region,
                catalog=catalog, org_suffixes=org_suffixes, counts=counts, share=NONCOMPLIANT_SHARE,
                evaluated_at=evaluated_at,
            )  # fmt: skip
            if (account.id, region) in silent:
                continue
            if account.name == "sandbox-1":
                block = _fail_every_rule(rng, block, catalog)
            if account.name == "log-archive" and region == home_region:
                block = _log_buckets(rng, block, catalog, 2400)
            blocks.append(block)
    return ComplianceStore(
        management_account=summary.management_account_id,
        home_region=home_region,
        aggregator_names=frozenset(aggregator_names),
        catalog=catalog,
        blocks=tuple(blocks),
        sources=tuple(sources),
    )


def synthetic_store(
    *,
    accounts: int,
    regions: Sequence[str],
    rules: int = len(CATALOG),
    resources_per_region: int = 20,
    share: float = NONCOMPLIANT_SHARE,
    management_account: str = "123456789012",
    aggregator_names: Iterable[str] = ("orgdeploy",),  # what the benchmark's reads name
    seed: int = 0,
) -> ComplianceStore:
    """A large organization for the benchmark: `resources_per_region` resources in every account and Region."""
    if not 1 <= rules <= len(CATALOG):
        raise ValueError(f"rules must be between 1 and {len(CATALOG)}")
    rng = random.Random(f"synthetic/{seed}")
    catalog = CATALOG[:rules]
    kinds = sorted({r.resource_type for r in catalog} - {"AWS::::Account"})
    ids = [management_account, *(str(n) for n in rng.sample(range(10**11, 10**12), accounts - 1))]
    day = _day_start()
    blocks, sources = [], []
    for number, account in enumerate(ids):
        org_suffixes = [_suffix(rng, 8) for _ in catalog]
        for region in regions:
            evaluated_at = day - rng.randrange(3600, 86400)
            counts: dict[str, int] = {}
            here = kinds if region == regions[0] else [k for k in kinds if k != "AWS::IAM::User"]  # IAM: home only
            for kind in rng.choices(here, k=resources_per_region - 1):  # the account itself is one more
                counts[kind] = counts.get(kind, 0) + 1
            blocks.append(
                _block(
                    rng, account=account, account_name=f"account-{number}", region=region, home=region == regions[0],
                    catalog=catalog, org_suffixes=org_suffixes, counts=counts, share=share, evaluated_at=evaluated_at,
                )
            )  # fmt: skip
            sources.append(SourceStatus(account, region, "SUCCEEDED", evaluated_at))
    return ComplianceStore(
        management_account=management_account,
        home_region=regions[0],
        aggregator_names=frozenset(aggregator_names),
        catalog=catalog,
        blocks=tuple(blocks),
        sources=tuple(sources),
    )
