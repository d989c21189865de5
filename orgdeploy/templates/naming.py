"""Names of everything orgdeploy creates, derived from the config (pure)."""

from __future__ import annotations

import hashlib

from orgdeploy.config.model import Config, ConformancePack


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def role_stack_set(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-config-role"


def recorder_stack_set(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-recorder"


def delivery_bucket_stack(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-delivery-bucket"


def aggregator_stack(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-aggregator"


def pack_stack_prefix(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-pack-"


def pack_stack(config: Config, pack: ConformancePack) -> str:
    return f"{pack_stack_prefix(config)}{pack.name}"


def pack_resource_name(config: Config, pack: ConformancePack) -> str:
    """The OrganizationConformancePack name (at most 128 characters, starts with a letter)."""
    return f"{config.stacksets.name_prefix}-{pack.name}"[:128]


def recorder_name(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-recorder"


def delivery_channel_name(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-delivery"


def default_delivery_bucket(config: Config, organization_id: str) -> str:
    """Bucket names are global; the organization id makes this one unique to the org."""
    if config.delivery.bucket_name:
        return config.delivery.bucket_name
    return f"{config.stacksets.name_prefix}-config-{organization_id}".lower()[:63]


def notifications_stack_set(config: Config) -> str:
    """The forwarder stack set, and the management account's forwarder stacks."""
    return f"{config.stacksets.name_prefix}-notifications"


def notifications_hub_stack(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-notifications-hub"


def notifications_bus(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-notifications"


def notifications_log_group(config: Config) -> str:
    # EventBridge writes only to log groups whose names start with /aws/events/.
    return f"/aws/events/{config.stacksets.name_prefix}-notifications"


def notifications_forwarder_role(config: Config) -> str:
    return f"{config.stacksets.name_prefix}-notifications-forwarder"


def guard_policy(config: Config) -> str:
    """The service control policy `guard:` attaches."""
    return f"{config.stacksets.name_prefix}-config-guard"


def remediation_role(config: Config) -> str:
    """The role SSM Automation assumes for orgdeploy's remediations, the same name in every account."""
    return config.remediation.role_name or f"{config.stacksets.name_prefix}-remediation"


def remediation_role_stack_set(config: Config) -> str:
    """The stack set (and the management account's stack) that deploys that role, home Region only."""
    return f"{config.stacksets.name_prefix}-remediation-role"
