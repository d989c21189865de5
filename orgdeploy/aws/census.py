"""Survey existing Config state per account and Region, through an assumed role, in parallel."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
            "iam:GetRole",
        ),
        DEPLOYERS | {"member", "hub"},
        "census: existing recorders, the service-linked role, enabled Regions",
    ),
)


def disabled_regions(ctx: AwsContext, account: str, regions: list[str], *, management: str) -> tuple[str, ...]:
    """Regions (of those given) not enabled in account, asked of the Account API from the management account."""
    return _disabled_regions(ctx, account, regions, management=management)[0]


def _disabled_regions(
    ctx: AwsContext, account: str, regions: list[str], *, management: str
) -> tuple[tuple[str, ...], bool]:
    """The disabled Regions, and whether they had to be asked of the account itself."""
    in_account = False
    if ctx.caller_account == management and account != management:
        try:
            found = _opt_statuses(ctx.client("account"), AccountId=account)
        except Exception as exc:
            # Asking about another account needs trusted access for account.amazonaws.com.
            if error_code(exc) != "AccessDeniedException":
                raise
            found, in_account = _opt_statuses(ctx.client("account", account=account)), True
    elif ctx.caller_account == management:
        found = _opt_statuses(ctx.client("account"))
    else:
        # Only the management account may ask about others: ask each account about itself.
        found, in_account = _opt_statuses(ctx.client("account", account=account)), True
    off = tuple(r for r in regions if found.get(r, "ENABLED_BY_DEFAULT") not in {"ENABLED", "ENABLED_BY_DEFAULT"})
    return off, in_account and ctx.caller_account == management


def _opt_statuses(client: Any, **kwargs: str) -> dict[str, str]:
    return {r["RegionName"]: r["RegionOptStatus"] for r in all_pages(client, "list_regions", "Regions", **kwargs)}


def survey_account(
    ctx: AwsContext, account: str, regions: list[str], *, management: str, orgdeploy_recorder: str
) -> AccountFacts:
    try:
        off, in_account = _disabled_regions(ctx, account, regions, management=management)
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
            if region in off:
                continue
            config = ctx.client("config", region, account)
            found = call_with_retries(config.describe_configuration_recorders).get("ConfigurationRecorders", [])
            statuses = {
                s["name"]: bool(s.get("recording"))
                for s in call_with_retries(config.describe_configuration_recorder_status).get(
                    "ConfigurationRecordersStatus", []
                )
            }
            channels = call_with_retries(config.describe_delivery_channels).get("DeliveryChannels", [])
            channel = channels[0]["name"] if channels else ""
            for recorder in found:
                name = recorder["name"]
                group = recorder.get("recordingGroup", {})
                fact = RecorderFact(
                    name=name,
                    owner=classify_recorder(name, orgdeploy_name=orgdeploy_recorder),
                    recording=statuses.get(name, False),
                    strategy=group.get("recordingStrategy", {}).get("useOnly", "")
                    or ("ALL_SUPPORTED_RESOURCE_TYPES" if group.get("allSupported") else ""),
                    global_types=bool(group.get("includeGlobalResourceTypes")),
                    delivery_channel=channel,
                )
                recorders.append((region, fact))
        return AccountFacts(account, True, "", has_role, tuple(recorders), off, regions_read_in_account=in_account)
    except Exception as exc:
        code = error_code(exc) or type(exc).__name__
        return AccountFacts(account, False, f"{code}: {exc}")


def survey(
    ctx: AwsContext,
    accounts: list[str],
    regions: list[str],
    *,
    management: str,
    orgdeploy_recorder: str,
    on_done: Callable[[AccountFacts], None] | None = None,
) -> tuple[AccountFacts, ...]:
    def one(account: str) -> AccountFacts:
        facts = survey_account(ctx, account, regions, management=management, orgdeploy_recorder=orgdeploy_recorder)
        if on_done:
            on_done(facts)
        return facts

    with ThreadPoolExecutor(max_workers=CENSUS_WORKERS, thread_name_prefix="census") as pool:
        return tuple(pool.map(one, accounts))
