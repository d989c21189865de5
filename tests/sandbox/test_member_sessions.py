"""Member-account sessions assume the role again before its credentials expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("moto")

from orgdeploy.aws.session import AwsContext, AwsOptions

PROD_2 = "312502394918"


def test_member_credentials_refresh_before_expiry(inprocess_sandbox: Any) -> None:
    ctx = AwsContext(AwsOptions(endpoint_url=inprocess_sandbox.endpoint_url, region="us-east-1"))
    sts = ctx.client("sts", account=PROD_2)
    assert sts.get_caller_identity()["Account"] == PROD_2
    credentials = ctx._member_session(PROD_2)._session.get_credentials()
    first = credentials.get_frozen_credentials().access_key
    # Pretend the role's session is about to run out: the next call must assume the role again.
    credentials._expiry_time = datetime.now(UTC) + timedelta(seconds=30)
    assert sts.get_caller_identity()["Account"] == PROD_2
    assert credentials.get_frozen_credentials().access_key != first
