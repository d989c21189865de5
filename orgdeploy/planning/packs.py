"""Organization conformance pack steps, and which accounts each pack must exclude (pure)."""

from __future__ import annotations

from orgdeploy.config.model import Config, ConformancePack
from orgdeploy.errors import PlanBlocked
from orgdeploy.planning.inventory import Inventory
from orgdeploy.planning.plan import Skip, Step
from orgdeploy.planning.steps import Builder, stack_parameters, stack_step
from orgdeploy.templates import naming
from orgdeploy.templates.render import RenderedSet

MAX_EXCLUDED_ACCOUNTS = 1_000


def pack_excluded_accounts(
    inventory: Inventory,
    pack: ConformancePack,
    region: str,
    recorder_accounts: list[str],
    *,
    management_records: bool,
) -> dict[str, str]:
    """Accounts the pack must skip in region, with why: every org account without a working recorder there.

    management_records: orgdeploy deploys the management account's recorder in region (not skipped for a
    foreign recorder, nor for a disabled Region).
    """
    org = inventory.organization
    excluded = {a: "excluded by conformance_packs[].excluded_accounts" for a in pack.excluded_accounts}
    will_record = set(recorder_accounts)
    if management_records:
        will_record.add(org.management_account_id)
    for account in org.accounts:
        if account.id in will_record or account.id in excluded:
            continue
        facts = inventory.facts_for(account.id)
        recorder = facts.recorder(region) if facts else None
        if recorder is not None and recorder.recording and account.active and recorder.owner != "orgdeploy":
            continue  # A foreign recorder that records counts as working; orgdeploy's own, unwanted, goes.
        if not account.active:
            excluded[account.id] = f"account is {account.status}"
        elif recorder is not None and recorder.owner == "orgdeploy":
            excluded[account.id] = "orgdeploy's recorder there is being removed"
        elif recorder is not None:
            excluded[account.id] = f"its recorder {recorder.name!r} is not recording"
        else:
            excluded[account.id] = "no recorder in this Region"
    return dict(sorted(excluded.items()))


def _pack_removals(builder: Builder, config: Config, inventory: Inventory) -> list[str]:
    """Pack stacks where no pack is wanted: a Region dropped from a pack, or a pack gone from the config."""
    wanted = {(naming.pack_stack(config, p), r) for p in config.conformance_packs for r in config.pack_regions(p)}
    prefix = naming.pack_stack_prefix(config)
    steps = []
    for stack in inventory.stacks:
        if not stack.name.startswith(prefix) or stack.account != inventory.caller_account:
            continue
        if (stack.name, stack.region) in wanted:
            continue
        steps.append(
            builder.add(
                Step(
                    id=f"{stack.name}-{stack.region}-delete",
                    action="delete_stack",
                    target=stack.name,
                    description=f"remove conformance pack stack {stack.name} in {stack.region} (no longer configured)",
                    account=stack.account,
                    regions=(stack.region,),
                )
            )
        )
    return steps


def plan_pack_steps(
    *,
    builder: Builder,
    config: Config,
    inventory: Inventory,
    rendered: RenderedSet,
    per_region: dict[str, list[str]],
    bucket_name: str,
    after: dict[str, tuple[str | None, ...]],
    bucket_step: str | None,
    management_regions: frozenset[str],
    recorder_sets: tuple[str, ...],
) -> list[str]:
    org = inventory.organization
    steps = []
    own_buckets = [p for p in config.conformance_packs if p.delivery_bucket is None]
    plain = sorted({r for p in own_buckets for r in config.pack_regions(p)} - set(config.delivery.pack_bucket_kms_keys))
    if config.delivery.kms_key_arn and plain:
        builder.notes.append(
            f"conformance-pack buckets in {', '.join(plain)} use SSE-S3: KMS keys are regional, and "
            "delivery.pack_bucket_kms_keys names no key for those Regions"
        )
    steps += _pack_removals(builder, config, inventory)
    for pack in config.conformance_packs:
        body = next(b for b in rendered.pack_bodies if b.pack == pack.name)
        upload = None
        if body.s3_key:
            upload = builder.add(
                Step(
                    id=f"pack-{pack.name}-upload",
                    action="upload_artifact",
                    target=f"s3://{bucket_name}/{body.s3_key}",
                    description=f"upload pack body {pack.name} ({len(body.body.encode()):,} bytes) to the bucket",
                    account=config.delivery.bucket_account or org.management_account_id,
                    regions=(config.home_region,),
                    depends_on=builder.present(bucket_step),
                    template=f"pack-body:{pack.name}",
                )
            )
        for region in config.pack_regions(pack):
            excluded = pack_excluded_accounts(
                inventory, pack, region, per_region.get(region, []), management_records=region in management_regions
            )
            builder.skipped.extend(Skip(a, region, f"conformance pack {pack.name}", why) for a, why in excluded.items())
            if len(excluded) > MAX_EXCLUDED_ACCOUNTS:
                raise PlanBlocked(
                    f"conformance pack {pack.name!r} in {region} would exclude {len(excluded):,} accounts; "
                    f"AWS Config accepts at most {MAX_EXCLUDED_ACCOUNTS:,}"
                )
            params = {"OrganizationId": org.id, "ExcludedAccounts": ",".join(excluded)}
            if body.s3_key:
                params["ArtifactBucketName"] = bucket_name
            if pack.delivery_bucket is None:
                params["PackBucketKmsKeyArn"] = config.delivery.pack_bucket_kms_keys.get(region, "")
            sid = stack_step(
                builder=builder,
                inventory=inventory,
                rendered=rendered,
                template_key=f"pack:{pack.name}",
                stack_name=naming.pack_stack(config, pack),
                account=inventory.caller_account,
                region=region,
                parameters=stack_parameters(**params),
                depends_on=builder.present(*after.get(region, ()), upload),
                step_id=f"pack-{pack.name}-{region}",
                description=f"deploy organization conformance pack {pack.name} in {region}"
                + (f" (excluding {len(excluded)} account(s))" if excluded else ""),
                exclude_failed_recorders_of=recorder_sets,
            )
            if sid:
                steps.append(sid)
    return steps
