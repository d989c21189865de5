"""Bad input exits 2 with a message naming the file, the key path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

BASE = """\
home_region: us-east-1
regions: [us-east-1, eu-west-1]
conformance_packs:
  - name: baseline
    template: packs/baseline.yaml
"""

CASES = {
    "unknown key": (
        BASE + "regoins: [us-east-1]\n",
        ["orgdeploy.yaml:6", "regoins", "unknown key", "did you mean 'regions'"],
    ),
    "home not in regions": (
        BASE.replace("regions: [us-east-1, eu-west-1]", "regions: [eu-west-1]"),
        ["home_region 'us-east-1' must also be listed in regions"],
    ),
    "unknown region": (
        BASE.replace("eu-west-1]", "eu-west-9]"),
        ["orgdeploy.yaml:2", "regions[1]", "unknown Region 'eu-west-9'"],
    ),
    "account id not 12 digits": (
        BASE + "targets:\n  exclude_accounts: ['12345']\n",
        ["orgdeploy.yaml:7", "targets.exclude_accounts[0]", "12-digit account id", "'12345'"],
    ),
    "pack bucket prefix": (
        BASE + "    delivery_bucket: my-pack-results\n",
        ["conformance_packs[0].delivery_bucket", "must start with 'awsconfigconforms'"],
    ),
    "percentage out of range": (
        BASE + "stacksets:\n  failure_tolerance_percentage: 101\n",
        ["orgdeploy.yaml:7", "stacksets.failure_tolerance_percentage", "less than or equal to 100", "101"],
    ),
    "unknown resource type": (
        BASE + "recording:\n  strategy: include\n  resource_types: [AWS::EC2::Instanse]\n",
        ["recording.resource_types", "unknown AWS Config resource type 'AWS::EC2::Instanse'", "AWS::EC2::Instance"],
    ),
    "missing pack template": (
        BASE.replace("packs/baseline.yaml", "packs/missing.yaml"),
        ["conformance_packs[0].template", "pack template file not found", "missing.yaml"],
    ),
    "duplicate pack names": (
        BASE + "  - name: baseline\n    template: packs/baseline.yaml\n",
        ["duplicate pack name(s) baseline"],
    ),
    "regions empty": (
        BASE.replace("regions: [us-east-1, eu-west-1]", "regions: []"),
        ["orgdeploy.yaml:2", "regions", "at least 1 item"],
    ),
    "empty file": ("", ["the file is empty", "home_region"]),
    "not a mapping": ("- us-east-1\n- eu-west-1\n", ["expected a mapping", "list"]),
    "bad enum": (
        BASE + "recording:\n  frequency: hourly\n",
        ["orgdeploy.yaml:7", "recording.frequency", "'continuous' or 'daily'", "'hourly'"],
    ),
    "yaml syntax": (BASE + "stacksets: {name_prefix: [x\n", ["orgdeploy.yaml:7", "YAML syntax error"]),
    "duplicate key": (BASE + "home_region: eu-west-1\n", ["orgdeploy.yaml:6", "'home_region' appears twice"]),
    "include without types": (
        BASE + "recording:\n  strategy: include\n",
        ["recording", "needs at least one entry in resource_types"],
    ),
    "daily override of a continuous-only type": (
        BASE
        + "recording:\n  overrides:\n    - {resource_types: [AWS::Config::ResourceCompliance], frequency: daily}\n",
        ["recording.overrides[0]", "cannot record AWS::Config::ResourceCompliance daily"],
    ),
    "two overrides": (
        BASE
        + "recording:\n  overrides:\n"
        + "    - {resource_types: [AWS::EC2::Instance], frequency: daily}\n"
        + "    - {resource_types: [AWS::S3::Bucket], frequency: daily}\n",
        ["recording.overrides", "at most 1 item"],
    ),
    "delegated admin without its account": (
        BASE + "admin:\n  call_as: DELEGATED_ADMIN\n",
        ["admin.call_as DELEGATED_ADMIN needs admin.delegated_admin_account"],
    ),
    "delegated admin without a management role": (
        BASE + "admin:\n  call_as: DELEGATED_ADMIN\n  delegated_admin_account: '111122223333'\n",
        ["needs management_account.role_arn"],
    ),
    "bad role arn": (
        BASE + "management_account:\n  role_arn: not-an-arn\n",
        ["management_account.role_arn", "expected an IAM role ARN", "'not-an-arn'"],
    ),
    "account id as short integer": (
        BASE + "targets:\n  exclude_accounts: [12345]\n",
        ["targets.exclude_accounts[0]", "quote account ids"],
    ),
    "kms alias": (
        BASE + "delivery:\n  kms_key_arn: arn:aws:kms:us-east-1:111122223333:alias/config\n",
        ["delivery.kms_key_arn", "an alias cannot be used across accounts"],
    ),
    "kms key in another region": (
        BASE
        + "delivery:\n  kms_key_arn: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
        ["delivery.kms_key_arn must be a key in home_region us-east-1", "KMS keys are regional"],
    ),
    "pack bucket key in another region": (
        BASE
        + "delivery:\n  pack_bucket_kms_keys:\n"
        + "    eu-west-1: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab\n",
        ["delivery.pack_bucket_kms_keys.eu-west-1 must be a key in eu-west-1"],
    ),
    "home region that cannot record the global types": (
        BASE.replace("home_region: us-east-1", "home_region: ap-southeast-5").replace(
            "[us-east-1, eu-west-1]", "[ap-southeast-5, eu-west-1]"
        ),
        ["home_region 'ap-southeast-5' cannot record the global IAM types", "such as us-east-1"],
    ),
}


@pytest.mark.parametrize("command", ["lint", "render"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_config_exits_2_with_precise_message(cli, example_dir: Path, case: str, command: str) -> None:
    text, expected = CASES[case]
    config = example_dir / "orgdeploy.yaml"
    config.write_text(text, encoding="utf-8")
    out_dir = example_dir / "out"
    args = [command, "--config", str(config)] + (["--out", str(out_dir)] if command == "render" else [])
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert str(config) in result.stderr or "orgdeploy.yaml" in result.stderr
    for fragment in expected:
        assert fragment in result.stderr, f"{fragment!r} not in {result.stderr!r}"
    assert "Traceback" not in result.stderr
    assert not out_dir.exists(), "nothing may be written for an invalid config"


def test_missing_config_file(cli, tmp_path: Path) -> None:
    result = cli("lint", "--config", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "nope.yaml: config file not found" in result.stderr


def test_bad_cli_argument_exits_2(cli, example_dir: Path) -> None:
    result = cli("lint", "--config", str(example_dir / "orgdeploy.yaml"), "--format", "xml")
    assert result.exit_code == 2
    assert "--format" in result.stderr and "xml" in result.stderr


def test_debug_shows_traceback(cli, tmp_path: Path) -> None:
    config = tmp_path / "orgdeploy.yaml"
    config.write_text("regions: [us-east-1]\n", encoding="utf-8")
    result = cli("--debug", "lint", "--config", str(config))
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "home_region: required key is missing" in result.stderr


def test_example_config_is_valid(example_dir: Path) -> None:
    from orgdeploy.config.model import load_config

    config = load_config(example_dir / "orgdeploy.yaml")
    assert config.home_region == "us-east-1"
    assert config.conformance_packs[0].template == example_dir / "packs" / "baseline.yaml"
