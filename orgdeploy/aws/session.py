"""AwsContext: one boto3 session, the endpoint, and clients per account and Region.

Credentials come from the standard chain (or --profile). Member accounts are
reached by assuming a role in them; the credentials are cached, never logged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import RefreshableCredentials

from orgdeploy.aws.retry import call_with_retries

_CLIENT_CONFIG = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=10, read_timeout=60)


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
        self._clients: dict[tuple[str, str, str | None], Any] = {}
        self._sessions: dict[str, boto3.Session] = {}
        self._caller: str | None = None

    def client(self, service: str, region: str | None = None, account: str | None = None, *, keep: bool = True) -> Any:
        """A client for service in region, as the caller or (account given) as the member role in that account.

        keep=False makes a client that is not kept for later: the census reads each account and Region
        once, and keeping 150,000 clients (about 0.3 MB each) would not fit in memory.
        """
        region = region or self.region
        if account is not None and account == self.caller_account:
            account = None
        key = (service, region, account)
        with self._lock:
            if key in self._clients:
                return self._clients[key]
        session = self.session if account is None else self._member_session(account)
        client = session.client(
            service, region_name=region, endpoint_url=self.options.endpoint_url, config=_CLIENT_CONFIG
        )
        if not keep:
            return client
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

    def _member_session(self, account: str) -> boto3.Session:
        with self._lock:
            if account in self._sessions:
                return self._sessions[account]
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

        core = botocore.session.Session()
        # Share the model loader: parsing service models again for every account costs seconds at scale.
        core.register_component("data_loader", self.session._session.get_component("data_loader"))
        # Runs can outlast the role's session (1 hour by default): botocore assumes the role again before expiry.
        core._credentials = RefreshableCredentials.create_from_metadata(
            metadata=assume(), refresh_using=assume, method="sts-assume-role"
        )
        session = boto3.Session(botocore_session=core, region_name=self.region)
        with self._lock:
            return self._sessions.setdefault(account, session)
