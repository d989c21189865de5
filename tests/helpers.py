"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orgdeploy.config.model import Config, parse_config


def make_config(base_dir: Path, **overrides: Any) -> Config:
    """A valid config with the default pack in base_dir, updated with overrides (top-level keys)."""
    pack = base_dir / "packs" / "baseline.yaml"
    if not pack.exists():
        from orgdeploy.templates.jinja import cfn_dir

        pack.parent.mkdir(parents=True, exist_ok=True)
        pack.write_text((cfn_dir() / "packs" / "baseline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    data: dict[str, Any] = {
        "home_region": "us-east-1",
        "regions": ["us-east-1", "eu-west-1"],
        "conformance_packs": [{"name": "baseline", "template": "packs/baseline.yaml"}],
    }
    data.update(overrides)
    return parse_config(data, source="test", base_dir=base_dir)


def decode_template(body: str) -> dict[str, Any]:
    """Parse CloudFormation YAML (with its short tags) the way cfn-lint does."""
    from cfnlint.decode.decode import decode_str

    template, errors = decode_str(body)
    assert not errors, errors
    assert isinstance(template, dict)
    return template


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def use_sandbox_credentials(monkeypatch: pytest.MonkeyPatch, region: str = "us-east-1") -> None:
    """Dummy keys and no profile, session token or endpoint from the caller's environment: an in-process sandbox's."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)


def unretried_client(service: str, endpoint_url: str, region: str = "us-east-1") -> Any:
    """A client with the sandbox's dummy keys whose botocore retries nothing, as orgdeploy's own clients do,
    so every throttle reaches the caller."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
