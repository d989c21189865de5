"""Warnings, not errors, for recording that other AWS services cannot work with (pure).

Sources (docs/config.md cites them too):
- Security Hub: "You must also turn on resource recording for the types of resources that enabled
  controls evaluate" (Security Hub User Guide, "Enabling and configuring AWS Config for Security
  Hub CSPM"); control Config.1 checks that AWS Config records them ("Security Hub CSPM controls for
  AWS Config"). The IAM controls evaluate AWS::IAM::* types, which AWS Config records in one Region.
- Firewall Manager: "AWS Firewall Manager depends on continuous recording to monitor your
  resources. If you are using Firewall Manager, it is recommended that you set the recording
  frequency to Continuous." (AWS Config API Reference, RecordingMode). Its policies cover the
  resource types the FMS Policy API lists for ResourceType.
"""

from __future__ import annotations

from orgdeploy.config.awsdata import GLOBAL_IAM_RESOURCE_TYPES
from orgdeploy.config.model import Config, RecordingSettings

# FMS API Reference, Policy.ResourceType: the types each Firewall Manager policy type covers.
FIREWALL_MANAGER_TYPES = (
    "AWS::ApiGateway::Stage",
    "AWS::CloudFront::Distribution",
    "AWS::EC2::EIP",
    "AWS::EC2::Instance",
    "AWS::EC2::NetworkInterface",
    "AWS::EC2::SecurityGroup",
    "AWS::EC2::Subnet",
    "AWS::EC2::VPC",
    "AWS::ElasticLoadBalancing::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
)


def _recorded(settings: RecordingSettings, resource_type: str) -> bool:
    if settings.strategy == "include":
        return resource_type in settings.resource_types
    if settings.strategy == "exclude":
        return resource_type not in settings.resource_types
    return True


def _daily(settings: RecordingSettings, resource_type: str) -> bool:
    for override in settings.overrides:
        if resource_type in override.resource_types:
            return override.frequency == "daily"
    return settings.frequency == "daily"


def settings_warnings(name: str, settings: RecordingSettings) -> list[str]:
    """What this profile's recording breaks for Security Hub and Firewall Manager."""
    found = []
    where = f"recording profile {name!r}" if name != "default" else "the default recording"
    if settings.strategy != "all":
        unrecorded = (
            f"records only {', '.join(settings.resource_types)}"
            if settings.strategy == "include"
            else f"does not record {', '.join(settings.resource_types)}"
        )
        found.append(
            f"warning: {where} {unrecorded}: Security Hub's controls for the types left out get no findings, and "
            "its Config.1 control expects AWS Config to record every type an enabled control evaluates"
        )
    if not any(_recorded(settings, t) for t in GLOBAL_IAM_RESOURCE_TYPES):
        found.append(
            f"warning: {where} records none of the global IAM types ({', '.join(GLOBAL_IAM_RESOURCE_TYPES)}), even in "
            "the home Region: no Region records them, so Security Hub's IAM controls have nothing to evaluate"
        )
    daily = [t for t in FIREWALL_MANAGER_TYPES if _recorded(settings, t) and _daily(settings, t)]
    if daily:
        found.append(
            f"warning: {where} records {', '.join(daily)} daily: AWS Firewall Manager depends on continuous "
            "recording of the resources its policies cover; if Firewall Manager is in use, record these "
            "continuously (an override)"
        )
    skipped = [t for t in FIREWALL_MANAGER_TYPES if not _recorded(settings, t)]
    if skipped and settings.strategy == "exclude":
        found.append(
            f"warning: {where} does not record {', '.join(skipped)}, which AWS Firewall Manager policies cover"
        )
    return found


def recording_warnings(config: Config) -> list[str]:
    found = []
    for name in config.recording.profile_names:
        found += settings_warnings(name, config.recording.settings(name))
    return found
