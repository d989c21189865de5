"""The Account Management API's ListRegions and GetRegionOptStatus, which moto lacks.

moto has an `account` service (alternate contacts only). install_account_api()
adds the two routes to moto's account URL table, served by a subclass of moto's
AccountResponse, so the server answers them in the service's rest-json protocol
with errors shaped by botocore's model. The answers come from botocore's list of
the partition's Regions and STATE.disabled_regions.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.loaders
from moto.account import urls as account_urls
from moto.account.responses import AccountResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.organizations.models import organizations_backends

from orgdeploy.sandbox.state import STATE

# Regions launched before 20 March 2019 are on in every account; every later one is opt-in.
DEFAULT_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
        "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-south-1",
        "cn-north-1", "cn-northwest-1", "us-gov-west-1", "us-gov-east-1",
    }
)  # fmt: skip
OPT_STATUSES = ("ENABLED", "ENABLING", "DISABLING", "DISABLED", "ENABLED_BY_DEFAULT")


class ValidationException(ServiceException):
    code = "ValidationException"


class AccessDeniedException(ServiceException):
    code = "AccessDeniedException"


@functools.cache
def partition_regions(partition: str) -> tuple[str, ...]:
    """The partition's Regions as the installed botocore knows them."""
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    for entry in endpoints["partitions"]:
        if entry["partition"] == partition:
            return tuple(sorted(entry["regions"]))
    return ()


def region_opt_status(account_id: str, region: str) -> str:
    if region in DEFAULT_REGIONS:
        return "ENABLED_BY_DEFAULT"
    return "ENABLED" if STATE.region_enabled(account_id, region) else "DISABLED"


class SandboxAccountResponse(AccountResponse):
    def __init__(self) -> None:
        super().__init__()
        self.automated_parameter_parsing = True

    def _target_account(self) -> str:
        """The account asked about: AccountId only works from the organization's management account."""
        caller = self.current_account
        asked = self._get_param("AccountId")
        if not asked or asked == caller:
            if asked and _is_management(caller, self.partition):
                raise ValidationException(
                    "The management account can't specify its own AccountId. It must call the operation in "
                    "standalone context by not including the AccountId parameter."
                )
            return caller
        owner = organizations_backends.master_accounts.get(asked)
        if owner is not None and owner[0] == caller and not _account_access_enabled(caller, self.partition):
            raise AccessDeniedException(
                "The request failed because your organization does not have trusted access enabled for the "
                "Account Management service (account.amazonaws.com). Enable it with "
                "EnableAWSServiceAccess, or call the operation in the account itself."
            )
        if owner is None or owner[0] != caller:
            raise AccessDeniedException(
                f"User: arn:{self.partition}:iam::{caller}:root is not authorized to perform: "
                f"account:{self._get_action()} on resource: arn:{self.partition}:account::{caller}:account/{asked}"
            )
        return str(asked)

    def list_regions(self) -> ActionResult:
        account_id = self._target_account()
        wanted = self._get_param("RegionOptStatusContains") or []
        unknown = [status for status in wanted if status not in OPT_STATUSES]
        if unknown:
            raise ValidationException(f"Invalid value for RegionOptStatusContains: {', '.join(unknown)}")
        regions = [
            {"RegionName": region, "RegionOptStatus": region_opt_status(account_id, region)}
            for region in partition_regions(self.partition)
        ]
        regions = [r for r in regions if not wanted or r["RegionOptStatus"] in wanted]
        size = int(self._get_param("MaxResults") or 50)
        if not 1 <= size <= 50:
            raise ValidationException("MaxResults must be between 1 and 50")
        token = self._get_param("NextToken")
        if token is not None and not str(token).isdigit():
            raise ValidationException("The NextToken is invalid")
        first = int(token or 0)
        result: dict[str, Any] = {"Regions": regions[first : first + size]}
        if first + size < len(regions):
            result["NextToken"] = str(first + size)
        return ActionResult(result)

    def get_region_opt_status(self) -> ActionResult:
        account_id = self._target_account()
        region = self._get_param("RegionName")
        if region not in partition_regions(self.partition):
            raise ValidationException(f"Invalid region name: {region}")
        return ActionResult({"RegionName": region, "RegionOptStatus": region_opt_status(account_id, region)})


ACCOUNT_PRINCIPAL = "account.amazonaws.com"


def _account_access_enabled(management: str, partition: str) -> bool:
    services = organizations_backends[management][partition].services
    return any(s.get("ServicePrincipal") == ACCOUNT_PRINCIPAL for s in services)


def _is_management(account_id: str, partition: str) -> bool:
    org = organizations_backends[account_id][partition].org
    return org is not None and org.master_account_id == account_id


def install_account_api() -> None:
    """Route the two operations to SandboxAccountResponse; calling it again changes nothing."""
    with STATE.lock:
        account_urls.url_paths["{0}/listRegions$"] = SandboxAccountResponse.dispatch
        account_urls.url_paths["{0}/getRegionOptStatus$"] = SandboxAccountResponse.dispatch
