"""A deterministic organization with the awkward accounts real organizations have.

Everything goes through the public APIs of the moto endpoint (plus moto's own
/moto-api/seed), so the result lives in moto's backends whether the server runs
in this process or another. The one exception is the opt-in Region quirk, which
moto cannot represent: it is recorded in this process's sandbox STATE.

A large organization (BULK accounts or more) served by this process gets its
member accounts put into moto's Organizations backend directly, as moto's
CreateAccount and MoveAccount leave them (an account with its
OrganizationAccountAccessRole, the default policies attached, under its OU).
Through the API every account costs two HTTP round trips and moto scans every
account on each call, so 9,000 accounts took minutes; no stack set exists yet,
so no auto-deployment is missed.
"""

from __future__ import annotations

import random
import time
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

import boto3

from orgdeploy.sandbox.state import STATE

MIN_ACCOUNTS = 4
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_ACCESS_ROLE = "OrganizationAccountAccessRole"
_SLR_NAME = "AWSServiceRoleForConfig"
_FOREIGN_RECORDER = "default"
# (name, parent name); parents come first. The workload OUs take the other accounts in turn.
_OUS = (
    ("Security", "Root"),
    ("Workloads", "Root"),
    ("Sandbox", "Root"),
    ("Prod", "Workloads"),
    ("Dev", "Workloads"),
)
_WORKLOAD_OUS = ("Prod", "Dev", "Sandbox")


@dataclass(frozen=True)
class SeedOU:
    name: str
    id: str
    path: str  # e.g. "Root/Workloads/Prod"
    parent_id: str


@dataclass(frozen=True)
class SeedAccount:
    id: str
    name: str
    email: str
    ou_path: str  # "Root" for the management account
    status: str  # as Organizations reports it: ACTIVE or SUSPENDED


@dataclass(frozen=True)
class SeedQuirk:
    kind: str  # foreign-recorder, service-linked-role, opt-in-region-disabled, suspended
    account_id: str
    account_name: str
    region: str | None
    detail: str


@dataclass(frozen=True)
class SeedSummary:
    management_account_id: str
    organization_id: str
    root_id: str
    ous: tuple[SeedOU, ...]
    accounts: tuple[SeedAccount, ...]  # management first, then members, then the suspended one
    quirks: tuple[SeedQuirk, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("ous", "accounts", "quirks"):
            data[key] = list(data[key])
        return data

    def to_text(self) -> str:
        head = f"Organization {self.organization_id} (management {self.management_account_id}"
        lines = [f"{head}, root {self.root_id})"]
        self._tree("Root", self.root_id, 0, lines)
        lines.append("Quirks:")
        lines.extend(
            f"  {q.kind}: {q.account_name} {q.account_id}{' ' + q.region if q.region else ''} - {q.detail}"
            for q in self.quirks
        )
        return "\n".join(lines)

    def _tree(self, path: str, ou_id: str, depth: int, lines: list[str]) -> None:
        indent = "  " * depth
        lines.append(f"{indent}{path.rsplit('/', 1)[-1]} {ou_id}")
        lines.extend(f"{indent}  - {a.name} {a.id} {a.status}" for a in self.accounts if a.ou_path == path)
        for ou in self.ous:
            if ou.path.rsplit("/", 1)[0] == path:
                self._tree(ou.path, ou.id, depth + 1, lines)


def seed_client(endpoint_url: str, service: str, region: str, credentials: dict[str, str] | None = None) -> Any:
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, **(credentials or _CREDENTIALS))


def member_credentials(endpoint_url: str, region: str, account_id: str) -> dict[str, str]:
    sts = seed_client(endpoint_url, "sts", region)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{_ACCESS_ROLE}", RoleSessionName="orgdeploy-seed")[
        "Credentials"
    ]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def _seed_moto_random(endpoint_url: str, seed: int) -> None:
    # moto draws every generated id from one seedable Random; seeding it right before
    # the organization is built makes the ids repeat for the same sequence of calls.
    request = urllib.request.Request(f"{endpoint_url.rstrip('/')}/moto-api/seed?a={int(seed)}", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


BULK = 200


def _backend_here(management: str, organization_id: str, region: str) -> Any:
    """moto's Organizations backend holding this organization, when the server runs in this process."""
    from moto.organizations.models import organizations_backends
    from moto.utilities.utils import get_partition

    backend = organizations_backends[management][get_partition(region)]
    return backend if backend.org is not None and backend.org.id == organization_id else None


def _add_account(backend: Any, name: str, parent_id: str) -> str:
    """What CreateAccount then MoveAccount leave in moto's backend, without their scans of every account."""
    from moto.organizations import utils
    from moto.organizations.models import FakeAccount, organizations_backends

    account = FakeAccount(backend.org, AccountName=name, Email=f"{name}@example.com")
    account.parent_id = parent_id
    backend.accounts.append(account)
    for policy in backend.policies:
        if policy.id in (utils.DEFAULT_SCP_POLICY_ID, utils.DEFAULT_RCP_POLICY_ID):
            account.attached_policies.append(policy)
            policy.attachments.append(account)
    organizations_backends.master_accounts[account.id] = (backend.account_id, backend.partition)
    return str(account.id)


def _create_account(org: Any, name: str) -> str:
    status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
    while status["State"] == "IN_PROGRESS":
        time.sleep(0.2)
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"]
    if status["State"] != "SUCCEEDED":
        raise RuntimeError(f"creating account {name} failed: {status.get('FailureReason')}")
    return str(status["AccountId"])


def _member_plan(accounts: int) -> list[tuple[str, str]]:
    """(account name, OU name) for the members, in creation order."""
    plan = [("log-archive", "Security"), ("audit", "Security")]
    counts = dict.fromkeys(_WORKLOAD_OUS, 0)
    for index in range(accounts - 2):
        ou = _WORKLOAD_OUS[index % len(_WORKLOAD_OUS)]
        counts[ou] += 1
        plan.append((f"{ou.lower()}-{counts[ou]}", ou))
    return plan


def seed_organization(
    *,
    endpoint_url: str,
    accounts: int = 8,
    seed: int = 0,
    home_region: str = "us-east-1",
    opt_in_region: str = "eu-south-1",
) -> SeedSummary:
    """Build the organization on a fresh moto endpoint and describe it.

    `accounts` active members are created; the suspended account is one more, so
    every quirk but the suspension lands on an account that deployments target.
    """
    if accounts < MIN_ACCOUNTS:
        raise ValueError(f"accounts must be at least {MIN_ACCOUNTS} (log-archive, audit, two workloads)")
    from orgdeploy.sandbox.cfn_models.registry import register_resource_models

    # Gives AWS's service-linked role name when the server runs in this process.
    register_resource_models()
    _seed_moto_random(endpoint_url, seed)
    org = seed_client(endpoint_url, "organizations", home_region)
    organization = org.create_organization(FeatureSet="ALL")["Organization"]
    root_id = org.list_roots()["Roots"][0]["Id"]

    ous: dict[str, SeedOU] = {}
    for name, parent in _OUS:
        parent_id = ous[parent].id if parent in ous else root_id
        ou_id = org.create_organizational_unit(ParentId=parent_id, Name=name)["OrganizationalUnit"]["Id"]
        ous[name] = SeedOU(name, ou_id, f"{ous[parent].path if parent in ous else 'Root'}/{name}", parent_id)

    rng = random.Random(seed)
    plan = _member_plan(accounts)
    plan.append(("suspended-1", rng.choice(_WORKLOAD_OUS)))
    members: list[tuple[str, str, SeedOU]] = []
    backend = _backend_here(str(organization["MasterAccountId"]), str(organization["Id"]), home_region)
    for name, ou_name in plan:
        if backend is not None and len(plan) >= BULK:
            account_id = _add_account(backend, name, ous[ou_name].id)
        else:
            account_id = _create_account(org, name)
            org.move_account(AccountId=account_id, SourceParentId=root_id, DestinationParentId=ous[ou_name].id)
        members.append((account_id, name, ous[ou_name]))

    *active, (suspended_id, suspended_name, suspended_ou) = members
    foreign, linked, opted_out = rng.sample(active, 3)
    quirks = [
        _foreign_recorder(endpoint_url, home_region, foreign[0], foreign[1]),
        _service_linked_role(endpoint_url, home_region, linked[0], linked[1]),
        _opt_in_disabled(opted_out[0], opted_out[1], opt_in_region),
    ]
    org.close_account(AccountId=suspended_id)
    quirks.append(
        SeedQuirk(
            "suspended",
            suspended_id,
            suspended_name,
            None,
            f"closed through CloseAccount; still in {suspended_ou.path}, not counted in accounts={accounts}",
        )
    )

    described = {a["Id"]: a for a in _list_accounts(org)}
    management_id = str(organization["MasterAccountId"])
    paths = {account_id: ou.path for account_id, _, ou in members}
    ordered = [management_id, *(account_id for account_id, _, _ in members)]
    summary_accounts = tuple(
        SeedAccount(
            id=account_id,
            name=described[account_id]["Name"],
            email=described[account_id]["Email"],
            ou_path=paths.get(account_id, "Root"),
            status=described[account_id]["State"],
        )
        for account_id in ordered
    )
    return SeedSummary(
        management_account_id=management_id,
        organization_id=str(organization["Id"]),
        root_id=str(root_id),
        ous=tuple(ous[name] for name, _ in _OUS),
        accounts=summary_accounts,
        quirks=tuple(quirks),
    )


def _list_accounts(org: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in org.get_paginator("list_accounts").paginate():
        found.extend(page["Accounts"])
    return found


def _foreign_recorder(endpoint_url: str, home_region: str, account_id: str, name: str) -> SeedQuirk:
    region = "eu-west-1" if home_region != "eu-west-1" else "us-east-1"
    config = seed_client(endpoint_url, "config", region, member_credentials(endpoint_url, home_region, account_id))
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": _FOREIGN_RECORDER,
            "roleARN": f"arn:aws:iam::{account_id}:role/legacy-config-recorder",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    detail = f"recorder '{_FOREIGN_RECORDER}' made outside orgdeploy; not started, no delivery channel"
    return SeedQuirk("foreign-recorder", account_id, name, region, detail)


def _service_linked_role(endpoint_url: str, home_region: str, account_id: str, name: str) -> SeedQuirk:
    iam = seed_client(endpoint_url, "iam", home_region, member_credentials(endpoint_url, home_region, account_id))
    role = iam.create_service_linked_role(AWSServiceName="config.amazonaws.com")["Role"]
    if role["RoleName"] != _SLR_NAME:
        raise RuntimeError(
            f"the moto server named the role {role['RoleName']}: run register_resource_models() in the server's process"
        )
    return SeedQuirk("service-linked-role", account_id, name, None, f"{_SLR_NAME} exists already")


def _opt_in_disabled(account_id: str, name: str, region: str) -> SeedQuirk:
    with STATE.lock:
        STATE.disabled_regions.add((account_id, region))
    return SeedQuirk("opt-in-region-disabled", account_id, name, region, f"{region} is not enabled")
