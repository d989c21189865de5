"""Survey existing Config state per account and Region, through an assumed role, in parallel."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import all_pages, call_with_retries, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.planning.inventory import AccountFacts, RecorderFact, classify_recorder

SERVICE_LINKED_ROLE = "AWSServiceRoleForConfig"
CENSUS_WORKERS = 8


PERMISSIONS = (
    Need(("sts:AssumeRole",), DEPLOYERS, "reach member accounts through census.role_name"),
    Need(
        (
            "account:ListRegions",
            "config:DescribeConfigurationRecorders",
            "config:DescribeConfigurationRecorderStatus",
            "config:DescribeDeliveryChannels",
            "config:DescribeDeliveryChannelStatus",
            "iam:GetRole",
        ),
        DEPLOYERS | {"member", "hub"},
        "census and status: existing recorders and their status, delivery, the service-linked role, enabled Regions",
    ),
    Need(
        ("config:DescribeConfigurationAggregatorSourcesStatus",),
        DEPLOYERS,
        "plan: the aggregator's failing sources, so the census reads those accounts again",
    ),
)


def disabled_regions(ctx: AwsContext, account: str, regions: list[str]) -> tuple[str, ...]:
    """Regions (of those given) not enabled in account, asked of the account itself.

    A member answers through the role the census assumes in it anyway. ListRegions is five a second per
    account, so asking the management account about every member would queue a census of thousands of
    accounts behind one bucket (and would need trusted access for account.amazonaws.com besides).
    """
    client = ctx.client("account") if account == ctx.caller_account else ctx.client("account", account=account)
    found = _opt_statuses(client)
    return tuple(r for r in regions if found.get(r, "ENABLED_BY_DEFAULT") not in {"ENABLED", "ENABLED_BY_DEFAULT"})


def _opt_statuses(client: Any, **kwargs: str) -> dict[str, str]:
    return {r["RegionName"]: r["RegionOptStatus"] for r in all_pages(client, "list_regions", "Regions", **kwargs)}


def survey_account(
    ctx: AwsContext,
    account: str,
    regions: list[str],
    *,
    orgdeploy_recorder: str,
    detail: bool = False,
    vouched: tuple[str, ...] = (),
) -> AccountFacts:
    """What one account holds; with detail also each channel's last delivery (one more call per Region).

    Regions in vouched are not read: a healthy orgdeploy recorder instance stands for them. When that is
    every Region, nothing is read at all.
    """
    if vouched and set(regions) <= set(vouched):
        return AccountFacts(account, True, vouched_regions=tuple(regions))
    regions = [r for r in regions if r not in vouched]
    try:
        off = disabled_regions(ctx, account, regions)
        iam = ctx.client("iam", account=account)
        try:
            call_with_retries(iam.get_role, RoleName=SERVICE_LINKED_ROLE)
            has_role = True
        except Exception as exc:
            if error_code(exc) != "NoSuchEntity":
                raise
            has_role = False
        recorders = []
        for region in regions:
            if region not in off:
                config = ctx.client("config", region, account)
                recorders += [(region, fact) for fact in _recorders(config, orgdeploy_recorder, detail=detail)]
        return AccountFacts(
            account,
            True,
            "",
            has_role,
            tuple(recorders),
            off,
            vouched_regions=tuple(vouched),
        )
    except Exception as exc:
        code = error_code(exc) or type(exc).__name__
        return AccountFacts(account, False, f"{code}: {exc}")


def _recorders(config: Any, orgdeploy_recorder: str, *, detail: bool) -> list[RecorderFact]:
    found = call_with_retries(config.describe_configuration_recorders).get("ConfigurationRecorders", [])
    if not found:
        return []  # what the other calls read belongs to a recorder: one call is enough for an empty Region
    statuses = {
        s["name"]: s
        for s in call_with_retries(config.describe_configuration_recorder_status).get(
            "ConfigurationRecordersStatus", []
        )
    }
    channels = call_with_retries(config.describe_delivery_channels).get("DeliveryChannels", [])
    channel = channels[0]["name"] if channels else ""
    delivery = _last_delivery(config) if detail and channel else ""
    facts = []
    for recorder in found:
        name = recorder["name"]
        group = recorder.get("recordingGroup", {})
        status = statuses.get(name, {})
        error = " ".join(str(status.get(k) or "") for k in ("lastErrorCode", "lastErrorMessage")).strip()
        stopped = status.get("lastStopTime")
        facts.append(
            RecorderFact(
                name=name,
                owner=classify_recorder(name, orgdeploy_name=orgdeploy_recorder),
                recording=bool(status.get("recording")),
                strategy=group.get("recordingStrategy", {}).get("useOnly", "")
                or ("ALL_SUPPORTED_RESOURCE_TYPES" if group.get("allSupported") else ""),
                global_types=bool(group.get("includeGlobalResourceTypes")),
                delivery_channel=channel,
                last_status=str(status.get("lastStatus") or ""),
                last_error=error,
                last_stop_time=_iso(stopped) if stopped else "",
                recording_group=json.dumps(group, sort_keys=True),
                recording_mode=json.dumps(recorder.get("recordingMode") or {}, sort_keys=True),
                last_delivery=delivery,
                role_arn=str(recorder.get("roleARN") or ""),
                delivery_channel_settings=json.dumps(channels[0], sort_keys=True, default=str) if channels else "",
            )
        )
    return facts


def _last_delivery(config: Any) -> str:
    """The newest delivery attempt of the channel, as "history SUCCESS at 2026-12-02T06:00:00Z", or ""."""
    found = call_with_retries(config.describe_delivery_channel_status).get("DeliveryChannelsStatus", [])
    newest: tuple[str, str, str] | None = None
    for status in found[:1]:
        for kind in ("configHistoryDeliveryInfo", "configSnapshotDeliveryInfo"):
            info = status.get(kind) or {}
            when = info.get("lastAttemptTime")
            if when is not None and (newest is None or _iso(when) > newest[2]):
                newest = (kind.removeprefix("config").removesuffix("DeliveryInfo").lower(), info.get("lastStatus", ""),
                          _iso(when))  # fmt: skip
    return f"{newest[0]} {newest[1]} at {newest[2]}" if newest else ""


def _iso(moment: Any) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(moment)


def survey(
    ctx: AwsContext,
    accounts: list[str],
    regions: list[str],
    *,
    orgdeploy_recorder: str,
    on_done: Callable[[AccountFacts], None] | None = None,
    detail: bool = False,
    vouched: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[AccountFacts, ...]:
    """Every account's facts, read in parallel; vouched: account -> Regions left unread (see survey_account)."""
    vouched = vouched or {}

    def one(account: str) -> AccountFacts:
        facts = survey_account(
            ctx,
            account,
            regions,
            orgdeploy_recorder=orgdeploy_recorder,
            detail=detail,
            vouched=vouched.get(account, ()),
        )
        if on_done:
            on_done(facts)
        return facts

    with ThreadPoolExecutor(max_workers=CENSUS_WORKERS, thread_name_prefix="census") as pool:
        return tuple(pool.map(one, accounts))


def aggregator_source_statuses(ctx: AwsContext, region: str, aggregator: str) -> list[tuple[str, str, str]] | None:
    """(account, Region, status) of the aggregator's FAILED and OUTDATED sources; None when it does not answer."""
    config = ctx.client("config", region)
    try:
        found = all_pages(
            config,
            "describe_configuration_aggregator_sources_status",
            "AggregatedSourceStatusList",
            ConfigurationAggregatorName=aggregator,
            UpdateStatus=["FAILED", "OUTDATED"],
            Limit=100,
        )
    except Exception as exc:
        if error_code(exc) in {"NoSuchConfigurationAggregatorException", "AccessDeniedException"}:
            return None
        raise
    return [
        (str(s.get("SourceId", "")), str(s.get("AwsRegion", "")), str(s.get("LastUpdateStatus", ""))) for s in found
    ]
