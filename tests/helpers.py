"""Small helpers shared by tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
