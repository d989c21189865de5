"""Recording profiles and adoption in the pure planner: which account gets what, and which steps."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from orgdeploy.config.model import ConfigError
from orgdeploy.planning.adoption import SETTINGS_LIMIT, claim_adopted, original_settings, why_not_adoptable
from orgdeploy.planning.inventory import AccountFacts, RecorderFact, StackInstance
from orgdeploy.planning.planner import plan
from orgdeploy.planning.profiles import profile_map, unit_profiles
from orgdeploy.planning.teardown import plan_destroy
from orgdeploy.templates.recording import as_api, recording_group, recording_mode
from orgdeploy.templates.render import render_all
from tests.helpers import make_config
from tests.unit.test_planner import (
    DEV,
    DEV1,
    DEV2,
    GONE,
    HOME,
    LOG,
    MGMT,
    OTHER,
    PROD,
    PROD1,
    RECORDER_SET,
    _apply,
    assert_well_formed,
    inventory,
    organization,
    with_facts,
)

SANDBOXED = {
    "name": "dev-daily",
    "organizational_units": [DEV],
    "strategy": "exclude",
    "resource_types": ["AWS::EC2::Instance"],
    "frequency": "daily",
}


def test_the_first_matching_profile_wins_and_excluded_accounts_fall_through(tmp_path: Path) -> None:
    second = {**SANDBOXED, "name": "everything-daily", "organizational_units": ["ROOT"], "strategy": "all"}
    second.pop("resource_types")
    config = make_config(tmp_path, recording={"profiles": [{**SANDBOXED, "exclude_accounts": [DEV2]}, second]})
    profiles = profile_map(config, organization())
    assert profiles[DEV1] == "dev-daily"
    assert profiles[DEV2] == "everything-daily"  # excluded from the first, matched by the second
    assert profiles[PROD1] == "everything-daily"
    assert profiles[MGMT] == "everything-daily"  # directly under the root
    assert ("Root/Dev", "dev-daily") in unit_profiles(config, organization())


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ([{**SANDBOXED, "name": "default"}], "'default' is the top-level"),
        ([SANDBOXED, SANDBOXED], "repeated: dev-daily"),
        ([{**SANDBOXED, "name": "Dev Daily"}], "a profile name of lowercase"),
        ([{**SANDBOXED, "organizational_units": []}], "organizational_units"),
        ([{**SANDBOXED, "resource_types": ["AWS::EC2::Instanc"]}], "did you mean 'AWS::EC2::Instance'"),
    ],
)
def test_bad_profiles_are_refused_naming_the_key(
    tmp_path: Path, profiles: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=r"recording\.profiles") as caught:
        make_config(tmp_path, recording={"profiles": profiles})
    assert message in str(caught.value)


def test_profile_accounts_get_the_override_after_creation_and_the_model_converges(tmp_path: Path) -> None:
    config = make_config(tmp_path, recording={"profiles": [SANDBOXED]})
    rendered = render_all(config)
    first = plan(config, inventory(), rendered)
    assert_well_formed(first)
    [step] = [s for s in first.steps if s.id.startswith("profile-")]
    assert step.action == "update_stack_instances" and step.target == RECORDER_SET
    assert step.deployment_targets is not None and step.deployment_targets["Accounts"] == [DEV1, DEV2]
    assert dict(step.parameters)["RecordingProfile"] == "dev-daily"
    assert set(step.regions) == {HOME, OTHER}
    assert step.expected_instances == 4  # two accounts in two Regions
    packs = [s for s in first.steps if s.id.startswith("pack-baseline-")]
    assert all(step.id in s.depends_on for s in packs)
    assert any("Root/Dev -> dev-daily" in note for note in first.notes)


def _recording(config: object, profile: str, region: str) -> RecorderFact:
    settings = config.recording.settings(profile)  # type: ignore[attr-defined]
    home = region == HOME
    return RecorderFact(
        "orgdeploy-recorder",
        "orgdeploy",
        True,
        recording_group=json.dumps(as_api(recording_group(settings, home=home))),
        recording_mode=json.dumps(as_api(recording_mode(settings, home=home))),
    )


def test_an_account_that_moved_out_of_the_profile_gets_the_default_back(tmp_path: Path) -> None:
    config = make_config(tmp_path, recording={"profiles": [SANDBOXED]})
    rendered = render_all(config)
    done = _apply(plan(config, inventory(), rendered), inventory(), rendered)
    # Converged: every recorder reads back as its profile says, and nothing is planned.
    org = organization()
    facts = []
    for account in org.accounts:
        profile = profile_map(config, org)[account.id]
        recorders = tuple((r, _recording(config, profile, r)) for r in (HOME, OTHER))
        facts.append(AccountFacts(account.id, True, "", False, recorders if account.active else ()))
    converged = replace(done, facts=tuple(facts))
    assert not plan(config, converged, rendered).changes
    # DEV1 moves to Prod: its recorders still record daily, as dev-daily.
    moved_org = replace(org, accounts=tuple(replace(a, parent_id=PROD) if a.id == DEV1 else a for a in org.accounts))
    moved = replace(converged, organization=moved_org)
    again = plan(config, moved, rendered)
    [step] = [s for s in again.steps if s.id.startswith("profile-")]
    assert step.deployment_targets is not None and step.deployment_targets["Accounts"] == [DEV1]
    assert dict(step.parameters)["RecordingProfile"] == "default"
    assert not any(s.action in {"create_stack_instances", "delete_stack_instances"} for s in again.steps)


def test_adopt_plans_an_import_and_keeps_the_pair_out_of_create_but_in_the_packs(tmp_path: Path) -> None:
    config = make_config(tmp_path, recording={"existing_recorder": "adopt"})
    foreign = RecorderFact("default", "unknown", False, recording_group='{"allSupported": false}')
    inv = with_facts(inventory(), DEV2, recorders=((OTHER, foreign),))
    the_plan = plan(config, inv, render_all(config))
    assert_well_formed(the_plan)
    adopt = the_plan.step("adopt-orgdeploy-recorder")
    [entry] = json.loads(dict(adopt.parameters)["Adoptions"])
    assert (entry["account"], entry["region"], entry["recorder"], entry["channel"], entry["ou"]) == (
        DEV2,
        OTHER,
        "default",
        "",
        "r-ab12",
    )
    assert "recordingGroup.allSupported is false, expected true" in entry["differences"]
    assert json.loads(entry["settings"])["recorder"]["name"] == "default"
    create = the_plan.step("recorder-create-regions-eu-west-1").deployment_targets
    assert create is not None and DEV2 in create["Accounts"] and create["AccountFilterType"] == "DIFFERENCE"
    excluded = dict(the_plan.step(f"pack-baseline-{OTHER}").parameters)["ExcludedAccounts"].split(",")
    assert excluded == [GONE]
    assert adopt.id in the_plan.step(f"pack-baseline-{OTHER}").depends_on
    assert not [s for s in the_plan.skipped if s.what == "recorder"]


@pytest.mark.parametrize(
    ("recorder", "reason"),
    [
        (RecorderFact("aws-controltower-BaselineConfigRecorder", "control-tower", True), "AWS Control Tower"),
        (RecorderFact("AWSConfigurationRecorderForSecurityHub", "service-linked", True), "service-linked"),
    ],
)
def test_adopt_leaves_control_tower_and_service_linked_recorders_alone_and_says_why(
    tmp_path: Path, recorder: RecorderFact, reason: str
) -> None:
    config = make_config(tmp_path, recording={"existing_recorder": "adopt"})
    inv = with_facts(inventory(), DEV2, recorders=((OTHER, recorder),))
    the_plan = plan(config, inv, render_all(config))
    assert not [s for s in the_plan.steps if s.action == "adopt_recorders"]
    [skip] = [s for s in the_plan.skipped if s.what == "recorder"]
    assert reason in skip.reason and "adopt leaves it alone" in skip.reason


def test_settings_too_long_to_give_back_are_not_adopted() -> None:
    group = json.dumps({"resourceTypes": [f"AWS::Custom::Type{i:04d}" for i in range(300)]})
    recorder = RecorderFact("default", "unknown", True, recording_group=group)
    assert len(original_settings(recorder)) > SETTINGS_LIMIT
    assert "4,096" in (why_not_adoptable(recorder) or "")


def test_a_current_instance_claims_the_recorder_there_a_failed_one_does_not(tmp_path: Path) -> None:
    config = make_config(tmp_path, recording={"existing_recorder": "adopt"})
    rendered = render_all(config)
    done = _apply(plan(config, inventory(), rendered), inventory(), rendered)
    recorder_set = done.stack_set(RECORDER_SET)
    assert recorder_set is not None
    others = tuple(i for i in recorder_set.instances if (i.account, i.region) != (LOG, OTHER))
    failed = replace(recorder_set, instances=(StackInstance(LOG, OTHER, "OUTDATED", "FAILED"), *others))
    facts = (
        AccountFacts(DEV2, True, "", False, ((OTHER, RecorderFact("default", "unknown", True)),)),
        AccountFacts(LOG, True, "", False, ((OTHER, RecorderFact("legacy", "unknown", True)),)),
    )
    claimed = claim_adopted(facts, recorder_sets=(failed,), management_stacks=(), management=MGMT)
    owners = {f.account: f.recorder(OTHER).owner for f in claimed}  # type: ignore[union-attr]
    assert owners == {DEV2: "orgdeploy", LOG: "unknown"}


def test_destroy_gives_adopted_recorders_back_before_the_instances_go(tmp_path: Path) -> None:
    config = make_config(tmp_path, recording={"existing_recorder": "adopt"})
    rendered = render_all(config)
    done = _apply(plan(config, inventory(), rendered), inventory(), rendered)
    recorder_set = done.stack_set(RECORDER_SET)
    assert recorder_set is not None
    adopted = StackInstance(
        DEV2,
        OTHER,
        "CURRENT",
        "SUCCEEDED",
        stack_id=f"arn:aws:cloudformation:{OTHER}:{DEV2}:stack/StackSet-orgdeploy-recorder-1/1",
    )
    inv = replace(
        done,
        stack_sets=tuple(
            replace(s, instances=(*s.instances, adopted)) if s.name == RECORDER_SET else s for s in done.stack_sets
        ),
    )
    # The census finds the recorder there under its own name: orgdeploy's since adoption, so given back.
    mine = RecorderFact("orgdeploy-recorder", "orgdeploy", True)
    inv = with_facts(inv, DEV2, recorders=((HOME, mine), (OTHER, RecorderFact("default", "orgdeploy", True))))
    for retain in (False, True):
        the_plan = plan_destroy(config, inv, retain=retain)
        release = the_plan.step(f"release-{RECORDER_SET}")
        assert json.loads(dict(release.parameters)["Adopted"]) == [
            {"account": DEV2, "region": OTHER, "stack": adopted.stack_id}
        ]
        assert release.id in the_plan.step(f"delete-instances-{RECORDER_SET}").depends_on


def test_warnings_name_what_security_hub_and_firewall_manager_would_miss(tmp_path: Path) -> None:
    from orgdeploy.planning.recording_warnings import recording_warnings

    assert recording_warnings(make_config(tmp_path)) == []
    no_iam = {
        "name": "no-iam",
        "organizational_units": [DEV],
        "strategy": "exclude",
        "resource_types": ["AWS::IAM::User", "AWS::IAM::Group", "AWS::IAM::Role", "AWS::IAM::Policy"],
    }
    warnings = recording_warnings(make_config(tmp_path, recording={"profiles": [SANDBOXED, no_iam]}))
    text = "\n".join(warnings)
    assert "recording profile 'dev-daily' does not record AWS::EC2::Instance: Security Hub" in text
    assert "recording profile 'dev-daily' records AWS::ApiGateway::Stage" in text and "Firewall Manager" in text
    assert "'no-iam' records none of the global IAM types" in text
    assert all(w.startswith("warning: ") for w in warnings)
    the_plan = plan(
        make_config(tmp_path, recording={"profiles": [SANDBOXED]}),
        inventory(),
        render_all(make_config(tmp_path, recording={"profiles": [SANDBOXED]})),
    )
    assert any(n.startswith("warning: ") for n in the_plan.notes)  # warnings, not refusals


def test_cost_prices_each_profile_on_its_share_of_the_accounts() -> None:
    from decimal import Decimal

    from orgdeploy.reporting.cost import CostInputs, RecordingShare, cost_dict, cost_report, load_prices

    prices = load_prices()
    counts = {"AWS::EC2::Instance": 400, "AWS::S3::Bucket": 100}
    shares = (
        RecordingShare("default", 6, "continuous; all supported types"),
        RecordingShare(
            "sandbox", 4, "daily; all types but AWS::EC2::Instance", daily=True, exclude=("AWS::EC2::Instance",)
        ),
    )
    inputs = CostInputs(accounts=10, regions=2, resource_counts=counts, profiles=shares)
    report = cost_report(inputs, prices)
    by_name = {p.share.name: p for p in report.profiles}
    # The sandbox share: 40% of the resources, EC2 instances not recorded, buckets daily.
    assert by_name["sandbox"].items == Decimal(40) * 2  # 40 buckets x 2 changes, one daily item each
    assert by_name["sandbox"].cost == Decimal(40) * 2 * prices.daily
    assert by_name["sandbox"].continuous_all == (Decimal(160) + 40) * 2 * prices.continuous
    assert by_name["default"].cost == by_name["default"].continuous_all
    assert report.profile_saving == by_name["sandbox"].continuous_all - by_name["sandbox"].cost
    lines = [line.item for line in report.estimate.lines]
    assert "Configuration items (daily), profile sandbox" in lines
    assert "Configuration items (continuous), profile default" in lines
    assert cost_dict(report)["profiles"][1]["accounts"] == 4
