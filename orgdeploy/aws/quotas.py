"""StackSets quotas from Service Quotas, with the documented defaults as the fallback."""

from __future__ import annotations

from orgdeploy.aws.permissions import DEPLOYERS, Need
from orgdeploy.aws.retry import call_with_retries
from orgdeploy.aws.session import AwsContext
from orgdeploy.planning.inventory import DEFAULT_INSTANCES_PER_STACK_SET_QUOTA, DEFAULT_STACK_SET_QUOTA, Quotas

STACK_SETS_CODE = "L-EC62D81A"
INSTANCES_CODE = "L-C8225BA5"


PERMISSIONS = (Need(("servicequotas:GetServiceQuota",), DEPLOYERS, "StackSets quotas"),)


def read_quotas(ctx: AwsContext, region: str) -> Quotas:
    client = ctx.client("service-quotas", region)
    values = {}
    answered = 0
    for code, default in (
        (STACK_SETS_CODE, DEFAULT_STACK_SET_QUOTA),
        (INSTANCES_CODE, DEFAULT_INSTANCES_PER_STACK_SET_QUOTA),
    ):
        try:
            quota = call_with_retries(client.get_service_quota, ServiceCode="cloudformation", QuotaCode=code)
            values[code] = int(quota["Quota"]["Value"])
            answered += 1
        except Exception:
            values[code] = default
    source = {0: "documented defaults", 1: "Service Quotas and documented defaults"}.get(answered, "Service Quotas")
    return Quotas(values[STACK_SETS_CODE], values[INSTANCES_CODE], source)
