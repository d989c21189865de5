"""An in-process sandbox for end-to-end tests that drive the CLI through run_app, and plain-boto3 helpers.

(conftest.py serves the sandbox in a subprocess instead, for tests that kill the CLI.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from orgdeploy.cli import app
from orgdeploy.cli.common import run_app

MANAGEMENT = "123456789012"


def write_config(tmp_path: Path, **overrides: Any) -> Path:
    from orgdeploy.templates.scaffold import write_example

    write_example(tmp_path, force=True)
    path = tmp_path / "orgdeploy.yaml"
    data = yaml.safe_load(path.read_text())
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_app(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def member_client(endpoint: str, service: str, account: str | None = None, region: str = "us-east-1") -> Any:
    creds: dict[str, str] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account and account != MANAGEMENT:
        sts = boto3.client("sts", endpoint_url=endpoint, region_name=region, **creds)
        c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="t1")
        c = c["Credentials"]
        creds = {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **creds)


class CallRecorder:
    """Every botocore call made while active: (service, operation, params, access key)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from botocore.client import BaseClient

        self.calls: list[tuple[str, str, dict[str, Any], str]] = []
        original = BaseClient._make_api_call
        recorder = self

        def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
            creds = client._request_signer._credentials
            key = creds.access_key if creds else ""
            recorder.calls.append((client.meta.service_model.service_name, operation, params, key))
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", record)
