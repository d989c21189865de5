"""Recording profiles: which accounts record what, and the steps that move an account to its profile (pure).

One recorder stack set serves every profile: the template chooses the recording group and mode by
its RecordingProfile parameter, and each account's instances carry that parameter as an override.
An account that moves to another OU stays an instance of the same stack set (no recorder is deleted
and made again); `update` sees that its recorder records as another profile and sets the override.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from orgdeploy.config.model import DEFAULT_PROFILE, Config, RecordingSettings
from orgdeploy.planning.inventory import Inventory, Organization, StackSetState
from orgdeploy.planning.plan import USE_PREVIOUS_VALUE, Step, operation_id
from orgdeploy.planning.steps import Builder, after_operations, operation_preferences
from orgdeploy.templates.recording import recording_differences

# Parameters an instance may carry as overrides besides the profile; a profile change keeps them.
KEPT_OVERRIDES = ("RecorderName", "DeliveryChannelName", "AdoptedSettings")


def profile_map(config: Config, org: Organization) -> dict[str, str]:
    """Every account of the organization (the management account too) -> the name of its profile."""
    units = []
    for profile in config.recording.profiles:
        scope: set[str] = set()
        for unit in profile.organizational_units:
            scope |= org.descendants(org.resolve_target(unit))
        units.append((profile.name, scope, set(profile.exclude_accounts)))
    found = {}
    for account in org.accounts:
        found[account.id] = next(
            (name for name, scope, excluded in units if account.parent_id in scope and account.id not in excluded),
            DEFAULT_PROFILE,
        )
    return found


def unit_profiles(config: Config, org: Organization) -> list[tuple[str, str]]:
    """(OU path, profile) for every OU, in path order: what an account placed there follows."""
    rows = []
    for unit in [*(u for u in org.units), None]:
        unit_id = org.root_id if unit is None else unit.id
        path = "Root" if unit is None else unit.path
        name = next(
            (
                p.name
                for p in config.recording.profiles
                if any(unit_id in org.descendants(org.resolve_target(u)) for u in p.organizational_units)
            ),
            DEFAULT_PROFILE,
        )
        rows.append((path, name))
    return sorted(set(rows))


def describe_settings(settings: RecordingSettings) -> str:
    """'daily; all types but AWS::EC2::Instance, AWS::EC2::Volume' and the like, for plans and cost."""
    if settings.strategy == "all":
        what = "all supported types"
    elif settings.strategy == "include":
        what = f"only {', '.join(settings.resource_types)}"
    else:
        what = f"all types but {', '.join(settings.resource_types)}"
    extra = "".join(f"; {', '.join(o.resource_types)} {o.frequency}" for o in settings.overrides)
    return f"{settings.frequency}; {what}{extra}"


def records_as(config: Config, profile: str, *, home: bool, group_json: str, mode_json: str) -> bool:
    """Whether a recorder's group and mode (Config API JSON) are what the profile renders."""
    return not recording_differences(
        config.recording.settings(profile),
        home=home,
        group=json.loads(group_json or "{}"),
        mode=json.loads(mode_json or "{}"),
    )


def profile_steps(
    *,
    builder: Builder,
    config: Config,
    inventory: Inventory,
    stack_set_name: str,
    existing: StackSetState | None,
    desired: dict[str, list[str]],
    profiles: dict[str, str],
    depends_on: tuple[str, ...],
    target_units: list[str],
) -> dict[str, list[str]]:
    """UpdateStackInstances with the RecordingProfile override where an instance records as another profile.

    A new instance is created with the stack set's values (the default profile), so instances made by
    this plan for accounts of another profile get the override right after. Returns Region -> step ids.
    """
    moves: dict[str, dict[str, list[str]]] = {}  # profile -> Region -> accounts
    for region, accounts in desired.items():
        home = region == config.home_region
        for account in accounts:
            profile = profiles.get(account, DEFAULT_PROFILE)
            if not _needs_override(config, inventory, existing, account, region, profile, home=home):
                continue
            moves.setdefault(profile, {}).setdefault(region, []).append(account)
    region_steps: dict[str, list[str]] = {}
    for profile, per_region in sorted(moves.items()):
        for group, regions in _group_regions(per_region):
            step_id = f"profile-{stack_set_name}-{profile}-{'-'.join(regions)}"
            targets = {
                "OrganizationalUnitIds": target_units,
                "Accounts": list(group),
                "AccountFilterType": "INTERSECTION",
            }
            overrides = (("RecordingProfile", profile), *((key, USE_PREVIOUS_VALUE) for key in KEPT_OVERRIDES))
            step = Step(
                id=step_id,
                action="update_stack_instances",
                target=stack_set_name,
                description=(
                    f"{stack_set_name}: record {len(group)} account(s) as profile {profile!r} "
                    f"({describe_settings(config.recording.settings(profile))}) in {', '.join(regions)}"
                ),
                regions=regions,
                depends_on=depends_on,
                operation_preferences=operation_preferences(config, parallel=True),
                deployment_targets=targets,
                expected_instances=len(group) * len(regions),
                # An adopted recorder keeps its name: the other overrides stay as they are.
                parameters=overrides,
                operation_id=operation_id(
                    step_id,
                    {"targets": targets, "regions": regions, "profile": profile},
                    after=after_operations(existing),
                ),
            )
            sid = builder.add(step)
            for region in regions:
                region_steps.setdefault(region, []).append(sid)
    return region_steps


def _needs_override(
    config: Config,
    inventory: Inventory,
    existing: StackSetState | None,
    account: str,
    region: str,
    profile: str,
    *,
    home: bool,
) -> bool:
    instance = existing.instance(account, region) if existing else None
    if instance is None:
        return profile != DEFAULT_PROFILE  # created by this plan with the default profile
    facts = inventory.facts_for(account)
    recorder = facts.recorder(region) if facts else None
    if recorder is None or recorder.owner != "orgdeploy":
        return False  # nothing of orgdeploy's to read back; the instance steps deal with it
    if records_as(config, profile, home=home, group_json=recorder.recording_group, mode_json=recorder.recording_mode):
        return False
    # It records as another profile (a moved account), or was changed by hand: the repair mends that.
    return any(
        records_as(config, other, home=home, group_json=recorder.recording_group, mode_json=recorder.recording_mode)
        for other in config.recording.profile_names
        if other != profile
    )


def _group_regions(per_region: dict[str, list[str]]) -> Iterable[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(accounts, Regions) groups: Regions that need the same accounts share one operation."""
    grouped: dict[tuple[str, ...], list[str]] = {}
    for region, accounts in per_region.items():
        grouped.setdefault(tuple(sorted(set(accounts))), []).append(region)
    return [(accounts, tuple(regions)) for accounts, regions in sorted(grouped.items())]
