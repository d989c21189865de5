"""Facts read from the data files botocore ships, without importing botocore.

Config validation needs the Region names and the Config resource types that the
installed SDK knows. Reading the JSON files directly keeps the pure core free of
boto3 and keeps `orgdeploy --help` fast.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

# IAM types that Config records in one Region only (the home Region).
GLOBAL_IAM_RESOURCE_TYPES: tuple[str, ...] = (
    "AWS::IAM::User",
    "AWS::IAM::Group",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
)

# Regions launched after February 2022 cannot record the global IAM types (AWS::IAM::User, Group, Role,
# Policy) at all (Config Developer Guide, "Recording global resource types"). So the list is of the Regions
# that can: every Region launched before then. A Region botocore learns of later is refused, not assumed able.
REGIONS_WITH_GLOBAL_TYPES: frozenset[str] = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1", "ap-south-1",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3", "eu-south-1", "eu-north-1",
        "me-south-1", "sa-east-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1",
    }
)  # fmt: skip


def records_global_types(region: str) -> bool:
    return region in REGIONS_WITH_GLOBAL_TYPES


def _botocore_data_dir() -> Path:
    spec = importlib.util.find_spec("botocore")
    if spec is None or spec.origin is None:  # pragma: no cover - boto3 is a hard dependency
        raise RuntimeError("botocore is not installed")
    return Path(spec.origin).parent / "data"


def _load_json(path: Path) -> Any:
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    gz = path.with_name(path.name + ".gz")
    with gzip.open(gz, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def _service_model(service: str) -> dict[str, Any]:
    service_dir = _botocore_data_dir() / service
    version = sorted(p.name for p in service_dir.iterdir() if p.is_dir())[-1]
    model: dict[str, Any] = _load_json(service_dir / version / "service-2.json")
    return model


@functools.cache
def known_regions() -> frozenset[str]:
    """Every Region of the commercial, China and GovCloud partitions that botocore knows."""
    endpoints = _load_json(_botocore_data_dir() / "endpoints.json")
    names: set[str] = set()
    for partition in endpoints["partitions"]:
        names.update(partition.get("regions", {}))
    return frozenset(names)


@functools.cache
def config_resource_types() -> frozenset[str]:
    """The AWS Config resource types in the installed botocore model (ResourceType enum)."""
    model = _service_model("config")
    return frozenset(model["shapes"]["ResourceType"]["enum"])


# AWS Config calls that stop or change what orgdeploy deploys: the guard denies them, the forwarders report them.
RECORDER_CALLS = ("DeleteConfigurationRecorder", "PutConfigurationRecorder", "StopConfigurationRecorder")
CHANNEL_CALLS = ("DeleteDeliveryChannel", "PutDeliveryChannel")
PACK_CALLS = ("DeleteConformancePack", "PutConformancePack")
RULE_CALLS = ("DeleteConfigRule", "DeleteEvaluationResults", "PutConfigRule")
AGGREGATOR_CALLS = ("DeleteConfigurationAggregator", "PutConfigurationAggregator")
TAMPER_CALLS = (*RECORDER_CALLS, *CHANNEL_CALLS, *PACK_CALLS, *RULE_CALLS, *AGGREGATOR_CALLS)
