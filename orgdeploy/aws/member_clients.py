"""Clients that call a member account: one botocore client per service and Region, signing as each account.

A botocore client costs an SSL context, a connection pool and a class of generated methods: at 1,000
accounts x 17 Regions, making one per account and Region was most of a census's CPU. Credentials are the
only thing that differs between accounts (the endpoint is the Region's), and botocore reads them when it
signs each request, so one client serves every account: MemberClient names the account for each call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from botocore.credentials import Credentials, ReadOnlyCredentials

# The credentials of the member account the current thread is calling for; set around each call.
_CALLING_AS: ContextVar[Credentials | None] = ContextVar("orgdeploy_member_credentials", default=None)


class CallerCredentials(Credentials):  # type: ignore[misc]
    """The shared clients' credentials: those of the account a MemberClient is calling for."""

    def __init__(self) -> None:
        super().__init__("", "", method="sts-assume-role")

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        current = _CALLING_AS.get()
        if current is None:
            raise RuntimeError("a shared member client was called without a MemberClient naming its account")
        return current.get_frozen_credentials()


class MemberClient:
    """A shared client as one member account: its operations and paginators sign with that account's role."""

    def __init__(self, shared: Any, credentials: Credentials) -> None:
        self._shared = shared
        self._credentials = credentials

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._shared, name)
        if name == "get_paginator":
            return self._paginator
        if name in self._shared.meta.method_to_api_mapping:
            return functools.wraps(found)(functools.partial(self._as_member, found))
        return found

    def _as_member(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        token = _CALLING_AS.set(self._credentials)
        try:
            return call(*args, **kwargs)
        finally:
            _CALLING_AS.reset(token)

    def _paginator(self, operation: str) -> _MemberPaginator:
        return _MemberPaginator(self, self._shared.get_paginator(operation))


class _MemberPaginator:
    """A paginator whose pages are fetched as the member account (each page is signed when it is fetched)."""

    def __init__(self, client: MemberClient, paginator: Any) -> None:
        self._client = client
        self._paginator = paginator

    def __getattr__(self, name: str) -> Any:
        return getattr(self._paginator, name)

    def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        pages = iter(self._paginator.paginate(**kwargs))
        while True:
            try:
                page = self._client._as_member(next, pages)
            except StopIteration:
                return
            yield page
