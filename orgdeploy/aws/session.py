"""AwsContext: one boto3 session, the endpoint, and clients per account and Region.

Credentials come from the standard chain (or --profile). Member accounts are
reached by assuming a role in them; the credentials are cached, never logged,
and member calls go through clients shared by every account (member_clients.py).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import RefreshableCredentials

from orgdeploy.aws.member_clients import CallerCredentials, MemberClient
from orgdeploy.aws.retry import call_with_retries

_CLIENT_CONFIG = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=60)
# The caller's STS client assumes a role in every member account from many threads: botocore's adaptive
# mode paces them all with one client-side rate that backs off on throttling, so a census of thousands of
# accounts slows down to STS's rate instead of spending an account's retries on a full bucket.
_PACED_CONFIG = _CLIENT_CONFIG.merge(BotoConfig(retries={"mode": "adaptive", "total_max_attempts": 1}))


@dataclass(frozen=True)
class AwsOptions:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    member_role: str = "OrganizationAccountAccessRole"
    # Full role ARNs for particular accounts (the management account, from a delegated administrator).
    role_arns: tuple[tuple[str, str], ...] = ()


class AwsContext:
    def __init__(self, options: AwsOptions, *, session: boto3.Session | None = None, default_region: str = "us-east-1"):
        self.options = options
        self.session = session or boto3.Session(profile_name=options.profile, region_name=options.region)
        self.region = options.region or self.session.region_name or default_region
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, bool], Any] = {}
        self._member_credentials: dict[str, RefreshableCredentials] = {}
        self._members: boto3.Session | None = None
        self._caller: str | None = None

    def client(self, service: str, region: str | None = None, account: str | None = None) -> Any:
        """A client for service in region, as the caller or (account given) as the member role in that account.

        A member's client is the Region's client shared by every member account, signing as this one, so
        reading 9,000 accounts x 17 Regions makes one client per service and Region, not 150,000.
        """
        region = region or self.region
        if account is not None and account == self.caller_account:
            account = None
        if account is None:
            return self._client(service, region, members=False)
        return MemberClient(self._client(service, region, members=True), self._credentials_in(account))

    def _client(self, service: str, region: str, *, members: bool) -> Any:
        key = (service, region, members)
        with self._lock:
            if key in self._clients:
                return self._clients[key]
        session = self._members_session() if members else self.session
        paced = service == "sts" and not members
        client = session.client(
            service,
            region_name=region,
            endpoint_url=self.options.endpoint_url,
            config=_PACED_CONFIG if paced else _CLIENT_CONFIG,
        )
        with self._lock:
            return self._clients.setdefault(key, client)

    @classmethod
    def with_static_keys(cls, options: AwsOptions, *, access_key: str, secret_key: str, region: str) -> AwsContext:
        """A context whose caller uses fixed keys (the sandbox's), not the credential chain."""
        session = boto3.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region)
        return cls(options, session=session, default_region=region)

    @property
    def caller_account(self) -> str:
        if self._caller is None:
            sts = self.session.client(
                "sts", region_name=self.region, endpoint_url=self.options.endpoint_url, config=_CLIENT_CONFIG
            )
            self._caller = str(call_with_retries(sts.get_caller_identity)["Account"])
        return self._caller

    @property
    def partition(self) -> str:
        return str(self.session.get_partition_for_region(self.region))

    def _members_session(self) -> boto3.Session:
        """The session of the shared member clients: it signs with the credentials a MemberClient names."""
        with self._lock:
            if self._members is None:
                core = botocore.session.Session()
                # Share the model loader: the models are parsed once for both sessions.
                core.register_component("data_loader", self.session._session.get_component("data_loader"))
                core._credentials = CallerCredentials()
                self._members = boto3.Session(botocore_session=core, region_name=self.region)
            return self._members

    def _credentials_in(self, account: str) -> RefreshableCredentials:
        """The member role's credentials in account, assumed once and again before they expire."""
        with self._lock:
            if account in self._member_credentials:
                return self._member_credentials[account]
        sts = self.client("sts")
        arn = (
            dict(self.options.role_arns).get(account)
            or f"arn:{self.partition}:iam::{account}:role/{self.options.member_role}"
        )

        def assume() -> dict[str, str]:
            creds = call_with_retries(sts.assume_role, RoleArn=arn, RoleSessionName="orgdeploy")["Credentials"]
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        # Runs can outlast the role's session (1 hour by default): botocore assumes the role again before expiry.
        credentials = RefreshableCredentials.create_from_metadata(
            metadata=assume(), refresh_using=assume, method="sts-assume-role"
        )
        with self._lock:
            return self._member_credentials.setdefault(account, credentials)
