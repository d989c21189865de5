"""orgdeploy.yaml: the validated desired state (pure; no AWS)."""

from __future__ import annotations

import datetime
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orgdeploy.config.awsdata import config_resource_types, known_regions, records_global_types
from orgdeploy.config.runbooks import RUNBOOKS
from orgdeploy.config.yamlpos import KeyPath, line_of, load_yaml_with_positions
from orgdeploy.errors import ConfigError

CONFIG_FILENAME = "orgdeploy.yaml"
CONFORMS_BUCKET_PREFIX = "awsconfigconforms"
# DAILY recording is refused by AWS Config for these types.
CONTINUOUS_ONLY_TYPES = frozenset(
    {"AWS::Config::ResourceCompliance", "AWS::Config::ConformancePackCompliance", "AWS::Config::ConfigurationRecorder"}
)

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_OU_RE = re.compile(r"^(ROOT|r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32})$")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# A key ARN, not an alias: the members' delivery channels use the key from other accounts, and a KMS alias
# cannot be used across accounts.
_KMS_RE = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
KMS_KEY_EXPECTED = "a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID; an alias cannot be used across accounts)"
_SNS_RE = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")


def _account_id(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        text = str(value)
        if len(text) != 12:
            raise ValueError(
                f"expected a 12-digit account id, got {value}; quote account ids in YAML so leading zeros survive"
            )
        return text
    if isinstance(value, str) and not _ACCOUNT_RE.match(value):
        raise ValueError(f"expected a 12-digit account id, got {value!r}")
    return value


def _region(value: Any) -> Any:
    if isinstance(value, str) and value not in known_regions():
        close = difflib.get_close_matches(value, sorted(known_regions()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown Region {value!r}{hint}")
    return value


def _pattern(regex: re.Pattern[str], what: str) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not regex.match(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value

    return BeforeValidator(check)


AccountId = Annotated[str, BeforeValidator(_account_id)]
Region = Annotated[str, BeforeValidator(_region)]
Name = Annotated[str, Field(max_length=128), _pattern(_NAME_RE, "a name of letters, digits and hyphens")]
Percentage = Annotated[int, Field(ge=0, le=100)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class Targets(_Model):
    organizational_units: Annotated[
        list[Annotated[str, _pattern(_OU_RE, "ROOT, a root id (r-...) or an OU id (ou-...)")]], Field(min_length=1)
    ] = ["ROOT"]
    exclude_accounts: list[AccountId] = []


_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class ManagementAccount(_Model):
    deploy: bool = True
    # Assumed for the management account's own stacks when orgdeploy runs from a delegated administrator.
    role_arn: Annotated[str, _pattern(_ROLE_ARN_RE, "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")] | None = None

    @property
    def role_account(self) -> str | None:
        return self.role_arn.split(":")[4] if self.role_arn else None


class Admin(_Model):
    call_as: Literal["SELF", "DELEGATED_ADMIN"] = "SELF"
    delegated_admin_account: AccountId | None = None


class Delivery(_Model):
    bucket_account: AccountId | None = None
    bucket_name: Annotated[str, _pattern(_BUCKET_RE, "an S3 bucket name")] | None = None
    kms_key_arn: Annotated[str, _pattern(_KMS_RE, KMS_KEY_EXPECTED)] | None = None
    # KMS keys are regional: the conformance-pack bucket of each Region needs a key of that Region.
    pack_bucket_kms_keys: dict[Region, Annotated[str, _pattern(_KMS_RE, KMS_KEY_EXPECTED)]] = Field(
        default_factory=dict
    )
    sns_topic_arn: Annotated[str, _pattern(_SNS_RE, "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")] | None = None
    key_prefix: Annotated[
        str, Field(max_length=200), _pattern(re.compile(r"^[A-Za-z0-9!_.*'()/-]*$"), "an S3 key prefix")
    ] = ""
    snapshot_frequency: Literal["One_Hour", "Three_Hours", "Six_Hours", "Twelve_Hours", "TwentyFour_Hours"] = (
        "TwentyFour_Hours"
    )


def _check_resource_types(types: list[str]) -> list[str]:
    known = config_resource_types()
    for name in types:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown AWS Config resource type {name!r}{hint}")
    if len(set(types)) != len(types):
        raise ValueError("resource types are listed more than once")
    return types


class RecordingOverride(_Model):
    resource_types: Annotated[list[str], Field(min_length=1)]
    frequency: Literal["continuous", "daily"]
    description: Annotated[str, Field(max_length=256)] = "orgdeploy override"

    _types = field_validator("resource_types")(classmethod(lambda cls, v: _check_resource_types(v)))

    @model_validator(mode="after")
    def _daily_allowed(self) -> RecordingOverride:
        if self.frequency == "daily":
            refused = sorted(CONTINUOUS_ONLY_TYPES.intersection(self.resource_types))
            if refused:
                raise ValueError(f"AWS Config cannot record {', '.join(refused)} daily")
        return self


class RecordingSettings(_Model):
    """What a recorder records, and how often: the default `recording` block and each profile share it."""

    strategy: Literal["all", "include", "exclude"] = "all"
    resource_types: list[str] = []
    frequency: Literal["continuous", "daily"] = "continuous"
    overrides: Annotated[list[RecordingOverride], Field(max_length=1)] = []

    _types = field_validator("resource_types")(classmethod(lambda cls, v: _check_resource_types(v)))

    @model_validator(mode="after")
    def _strategy_needs_types(self) -> Self:
        if self.strategy == "all" and self.resource_types:
            raise ValueError("resource_types must be empty when strategy is 'all' (use 'include' or 'exclude')")
        if self.strategy != "all" and not self.resource_types:
            raise ValueError(f"strategy {self.strategy!r} needs at least one entry in resource_types")
        return self


DEFAULT_PROFILE = "default"
_PROFILE_RE = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class RecordingProfile(RecordingSettings):
    """Recording for the accounts under some OUs; the first profile that matches an account wins."""

    name: Annotated[str, _pattern(_PROFILE_RE, "a profile name of lowercase letters, digits and hyphens (1-32)")]
    organizational_units: Annotated[
        list[Annotated[str, _pattern(_OU_RE, "ROOT, a root id (r-...) or an OU id (ou-...)")]], Field(min_length=1)
    ]
    exclude_accounts: list[AccountId] = []

    @field_validator("name")
    @classmethod
    def _not_default(cls, value: str) -> str:
        if value == DEFAULT_PROFILE:
            raise ValueError(f"{DEFAULT_PROFILE!r} is the top-level recording block's name; pick another")
        return value


class Recording(RecordingSettings):
    existing_recorder: Literal["skip", "fail", "adopt"] = "skip"
    profiles: Annotated[list[RecordingProfile], Field(max_length=20)] = []

    @field_validator("profiles")
    @classmethod
    def _unique_profiles(cls, value: list[RecordingProfile]) -> list[RecordingProfile]:
        names = [p.name for p in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"profile names must be unique; repeated: {', '.join(repeated)}")
        return value

    def settings(self, profile: str) -> RecordingSettings:
        """The settings of a profile by name; the top-level block for 'default'."""
        if profile == DEFAULT_PROFILE:
            return self
        return next(p for p in self.profiles if p.name == profile)

    @property
    def profile_names(self) -> list[str]:
        return [DEFAULT_PROFILE, *(p.name for p in self.profiles)]


class Aggregator(_Model):
    name: Annotated[str, Field(max_length=256), _pattern(re.compile(r"^[\w-]+$"), "letters, digits, '_' or '-'")] = (
        "orgdeploy"
    )


ParameterValue = Annotated[str, BeforeValidator(lambda v: str(v).lower() if isinstance(v, bool) else v)]


class ConformancePack(_Model):
    name: Annotated[str, Field(max_length=50), _pattern(_NAME_RE, "a pack name of letters, digits and hyphens")]
    template: Path
    parameters: dict[
        Annotated[str, _pattern(re.compile(r"^[A-Za-z0-9]{1,255}$"), "a parameter name")], ParameterValue | int | float
    ] = {}
    regions: Annotated[list[Region], Field(min_length=1)] | None = None
    excluded_accounts: Annotated[list[AccountId], Field(max_length=1000)] = []
    delivery_bucket: Annotated[str, _pattern(_BUCKET_RE, "an S3 bucket name")] | None = None

    @field_validator("delivery_bucket")
    @classmethod
    def _conforms_prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(CONFORMS_BUCKET_PREFIX):
            raise ValueError(f"must start with {CONFORMS_BUCKET_PREFIX!r} (AWS Config requires it), got {value!r}")
        return value

    @field_validator("template")
    @classmethod
    def _template_exists(cls, value: Path, info: ValidationInfo) -> Path:
        base = (info.context or {}).get("base_dir")
        path = value if value.is_absolute() or base is None else Path(base) / value
        if base is not None and not path.is_file():
            raise ValueError(f"pack template file not found: {path}")
        return path


class StackSets(_Model):
    name_prefix: Annotated[
        str, Field(max_length=64), _pattern(_NAME_RE, "letters, digits and hyphens, starting with a letter")
    ] = "orgdeploy"
    managed_execution: bool = True
    region_concurrency: Literal["parallel", "sequential"] = "parallel"
    max_concurrent_percentage: Annotated[int, Field(ge=1, le=100)] = 100
    failure_tolerance_percentage: Percentage = 10
    concurrency_mode: Literal["soft", "strict"] = "soft"


class Census(_Model):
    role_name: Annotated[str, _pattern(re.compile(r"^[\w+=,.@-]{1,64}$"), "an IAM role name")] = (
        "OrganizationAccountAccessRole"
    )


_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")


class Guard(_Model):
    """A service control policy that keeps member administrators off orgdeploy's recorder, channel and packs."""

    enabled: bool = False
    # Where it is attached; default: targets.organizational_units.
    organizational_units: (
        Annotated[
            list[Annotated[str, _pattern(_OU_RE, "ROOT, a root id (r-...) or an OU id (ou-...)")]],
            Field(min_length=1),
        ]
        | None
    ) = None
    # Roles (by name, in every account) the policy does not apply to, for emergencies.
    break_glass_roles: Annotated[
        list[Annotated[str, _pattern(_ROLE_NAME_RE, "an IAM role name")]], Field(max_length=10)
    ] = []


class RemediationRule(_Model):
    """One rule of a deployed pack, remediated with an AWS-owned SSM Automation document."""

    rule: Annotated[str, Field(min_length=1, max_length=128)]  # normalised name, or the pack's ConfigRuleName
    document: str
    version: Annotated[str, _pattern(re.compile(r"^(\$DEFAULT|\$LATEST|[0-9]+)$"), "a version number")] | None = None
    # Document parameters; the value RESOURCE_ID binds the non-compliant resource's id.
    parameters: dict[Annotated[str, Field(min_length=1)], str] = {}
    automatic: bool = True
    maximum_automatic_attempts: Annotated[int, Field(ge=1, le=25)] = 5
    retry_attempt_seconds: Annotated[int, Field(ge=1, le=2_678_000)] = 60
    concurrency_percentage: Annotated[int, Field(ge=1, le=100)] = 10
    error_percentage: Annotated[int, Field(ge=1, le=100)] = 50
    exclude_accounts: list[AccountId] = []
    exclude_regions: list[Region] = []

    @field_validator("document")
    @classmethod
    def _known_document(cls, value: str) -> str:
        if value not in RUNBOOKS:
            raise ValueError(
                f"{value!r} is not a document orgdeploy knows the permissions of; expected one of "
                f"{', '.join(sorted(RUNBOOKS))}"
            )
        return value

    @model_validator(mode="after")
    def _parameters_fit(self) -> RemediationRule:
        runbook = RUNBOOKS[self.document]
        unknown = sorted(set(self.parameters) - set(runbook.parameters))
        if unknown:
            raise ValueError(
                f"{self.document} has no parameter {unknown[0]!r}; expected some of {', '.join(runbook.parameters[1:])}"
            )
        if "AutomationAssumeRole" in self.parameters:
            raise ValueError("AutomationAssumeRole is orgdeploy's remediation role; leave it out")
        missing = [p for p in runbook.required if p not in self.parameters]
        if missing:
            raise ValueError(f"{self.document} needs parameter(s) {', '.join(missing)}")
        return self

    @property
    def bound_parameters(self) -> dict[str, str]:
        """Every parameter but the role: the resource parameter bound to RESOURCE_ID unless given."""
        runbook = RUNBOOKS[self.document]
        return {runbook.resource_parameter: "RESOURCE_ID", **self.parameters}


class RemediationException(_Model):
    """A resource the team accepts as it is: its remediation is refused until the exception expires."""

    rule: Annotated[str, Field(min_length=1, max_length=128)]
    resource_id: Annotated[str, Field(min_length=1, max_length=1024)]
    reason: Annotated[str, Field(min_length=1, max_length=1024)]
    expires: datetime.date


class Remediation(_Model):
    mode: Literal["automatic", "notify"] = "automatic"
    role_name: Annotated[str, _pattern(_ROLE_NAME_RE, "an IAM role name")] | None = None
    rules: list[RemediationRule] = []
    exceptions: list[RemediationException] = []


# SNS email endpoints: a pragmatic shape check (one @, a dotted domain, no spaces); SNS confirms the rest.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+$")
# The only values CloudWatch Logs accepts for RetentionInDays (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip
NotificationEvent = Literal["compliance_change", "remediation", "tamper"]


class Notifications(_Model):
    hub_account: AccountId
    emails: Annotated[
        list[Annotated[str, Field(max_length=254), _pattern(_EMAIL_RE, "an email address (name@example.com)")]],
        Field(max_length=100),
    ] = []
    sns_topic_arn: Annotated[str, _pattern(_SNS_RE, "an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")] | None = None
    events: Annotated[list[NotificationEvent], Field(min_length=1)] = ["compliance_change", "remediation", "tamper"]
    retention_days: int = 90

    @field_validator("emails", "events")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("an entry is listed more than once")
        return value

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
            raise ValueError(f"CloudWatch Logs keeps events for one of {allowed} days, got {value}")
        return value


class Config(_Model):
    home_region: Region
    regions: Annotated[list[Region], Field(min_length=1)]
    targets: Targets = Targets()
    management_account: ManagementAccount = ManagementAccount()
    delivery: Delivery = Delivery()
    recording: Recording = Recording()
    aggregator: Aggregator = Aggregator()
    conformance_packs: list[ConformancePack] = []
    stacksets: StackSets = StackSets()
    census: Census = Census()
    admin: Admin = Admin()
    notifications: Notifications | None = None
    guard: Guard = Guard()
    remediation: Remediation = Remediation()

    @field_validator("regions")
    @classmethod
    def _unique_regions(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a Region is listed more than once")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        if self.home_region not in self.regions:
            raise ValueError(f"home_region {self.home_region!r} must also be listed in regions")
        if not records_global_types(self.home_region):
            raise ValueError(
                f"home_region {self.home_region!r} cannot record the global IAM types (Regions launched after "
                "February 2022 cannot), and the home Region is where orgdeploy records them; choose a home_region "
                "that can, such as us-east-1, and keep this one in regions"
            )
        if self.admin.call_as == "DELEGATED_ADMIN":
            if self.admin.delegated_admin_account is None:
                raise ValueError("admin.call_as DELEGATED_ADMIN needs admin.delegated_admin_account")
            if self.management_account.deploy and self.management_account.role_arn is None:
                raise ValueError(
                    "admin.call_as DELEGATED_ADMIN with management_account.deploy needs management_account.role_arn, "
                    "a role in the management account for its own stacks"
                )
        names = [pack.name for pack in self.conformance_packs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"conformance_packs: duplicate pack name(s) {', '.join(duplicates)}")
        for pack in self.conformance_packs:
            stray = sorted(set(pack.regions or []) - set(self.regions))
            if stray:
                raise ValueError(f"conformance pack {pack.name!r} lists Regions not in regions: {', '.join(stray)}")
        self._check_notification_topic()
        self._check_kms_regions()
        return self

    def _check_kms_regions(self) -> None:
        key = self.delivery.kms_key_arn
        # The central bucket lives in the home Region, and Config needs the channel's key in the bucket's Region.
        if key is not None and key.split(":")[3] != self.home_region:
            raise ValueError(
                f"delivery.kms_key_arn must be a key in home_region {self.home_region}, where the delivery bucket "
                f"is (KMS keys are regional), got {key}"
            )
        for region, pack_key in self.delivery.pack_bucket_kms_keys.items():
            if region not in self.regions:
                raise ValueError(f"delivery.pack_bucket_kms_keys: {region} is not in regions")
            if pack_key.split(":")[3] != region:
                raise ValueError(
                    f"delivery.pack_bucket_kms_keys.{region} must be a key in {region} (KMS keys are regional), "
                    f"got {pack_key}"
                )

    def _check_notification_topic(self) -> None:
        # An EventBridge rule can only target a topic in its own account and Region.
        topic = self.notifications.sns_topic_arn if self.notifications else None
        if self.notifications is None or topic is None:
            return
        region, account = topic.split(":")[3:5]
        if (account, region) != (self.notifications.hub_account, self.home_region):
            raise ValueError(
                f"notifications.sns_topic_arn must be a topic in notifications.hub_account "
                f"{self.notifications.hub_account} and home_region {self.home_region}, got {topic}"
            )

    @property
    def other_regions(self) -> list[str]:
        """Deployment Regions other than the home Region, in config order."""
        return [r for r in self.regions if r != self.home_region]

    def pack_regions(self, pack: ConformancePack) -> list[str]:
        return list(pack.regions) if pack.regions is not None else list(self.regions)


def _field_names(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys allowed at path's parent, for 'did you mean' hints."""
    current: Any = model
    for part in path[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", {})
        if part not in fields:
            return []
        annotation = fields[part].annotation
        current = _first_model(annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _describe(error: Any, path: KeyPath) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _field_names(Config, path)
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown key; {hint}expected one of: {', '.join(allowed)}"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    if kind in {"less_than_equal", "greater_than_equal"}:
        message += f", got {error.get('input')!r}"
    elif kind == "literal_error":
        message = f"expected one of {message.removeprefix('Input should be ')}, got {error.get('input')!r}"
    return message


def _format_path(path: KeyPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_config(data: Any, *, source: str, base_dir: Path, positions: dict[KeyPath, int] | None = None) -> Config:
    """Validate already-parsed YAML data; raise ConfigError naming file, line and key path."""
    if data is None:
        raise ConfigError(f"{source}: the file is empty; expected a mapping with at least home_region and regions")
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level, got a {type(data).__name__}")
    try:
        return Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            path: KeyPath = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
            where = f"{source}:{line_of(positions or {}, path)}" if positions else source
            lines.append(f"{where}: {_format_path(path)}: {_describe(error, path)}")
        raise ConfigError("invalid config\n" + "\n".join(f"  {line}" for line in lines)) from None


def load_config(path: Path) -> Config:
    """Read and validate orgdeploy.yaml. Raises ConfigError (exit 2) on any problem."""
    if path.is_dir():
        path = path / CONFIG_FILENAME
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found (create one with `orgdeploy init`)")
    text = path.read_text(encoding="utf-8")
    data, positions = load_yaml_with_positions(text, source=str(path))
    return parse_config(data, source=str(path), base_dir=path.parent, positions=positions)
