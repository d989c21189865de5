"""CloudFormation StackSets: read state, start operations, poll them, read their results."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orgdeploy.aws.permissions import ADMINS, DEPLOYERS, Need
from orgdeploy.aws.retry import BUSY_CODES, THROTTLING_CODES, all_pages, call_with_retries, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.errors import AwsError
from orgdeploy.planning.inventory import Operation, OperationResult, StackInstance, StackSetState

# Calls whose botocore model has no CallAs member.
_NO_CALL_AS = frozenset({"activate_organizations_access", "deactivate_organizations_access"})
_NOT_ADMIN_CODES = frozenset({"ValidationError", "AccessDenied", "AccessDeniedException"})
IN_FLIGHT = frozenset({"RUNNING", "QUEUED", "STOPPING"})
FINISHED = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})


PERMISSIONS = (
    Need(
        (
            "cloudformation:DescribeOrganizationsAccess",
            "cloudformation:ListStackSets",
            "cloudformation:DescribeStackSet",
            "cloudformation:ListStackInstances",
            "cloudformation:ListStackSetOperations",
            "cloudformation:ListStackSetOperationResults",
            "cloudformation:DescribeStackSetOperation",
            "cloudformation:CreateStackSet",
            "cloudformation:UpdateStackSet",
            "cloudformation:CreateStackInstances",
            "cloudformation:UpdateStackInstances",
            "cloudformation:DeleteStackInstances",
        ),
        DEPLOYERS,
        "read and run the service-managed stack sets",
    ),
    Need(("cloudformation:ActivateOrganizationsAccess",), frozenset({"management"}), "--enable-trusted-access"),
    Need(("cloudformation:DeleteStackSet",), ADMINS, "destroy"),
    # AWS checks the caller's registration when CallAs=DELEGATED_ADMIN.
    Need(("organizations:ListDelegatedAdministrators",), frozenset({"delegated-admin"}), "CallAs=DELEGATED_ADMIN"),
)


def stack_set_name_from_arn(arn: str) -> str:
    """arn:aws:cloudformation:REGION:ACCOUNT:stackset/NAME:UUID -> NAME"""
    return arn.split(":stackset/", 1)[-1].split(":", 1)[0]


class StackSetsGateway:
    def __init__(self, ctx: AwsContext, *, region: str, call_as: str = "SELF") -> None:
        self.client = ctx.client("cloudformation", region)
        self.call_as = call_as

    def _call(self, operation: str, **kwargs: Any) -> Any:
        if operation not in _NO_CALL_AS:
            kwargs.setdefault("CallAs", self.call_as)
        return call_with_retries(getattr(self.client, operation), **kwargs)

    def _pages(self, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        kwargs.setdefault("CallAs", self.call_as)
        return all_pages(self.client, operation, key, **kwargs)

    # Trusted access ---------------------------------------------------------
    def organizations_access(self) -> str:
        try:
            return str(self._call("describe_organizations_access")["Status"])
        except Exception as exc:
            if self.call_as == "DELEGATED_ADMIN" and error_code(exc) in _NOT_ADMIN_CODES:
                raise AwsError(
                    "this account is not a registered delegated administrator for CloudFormation StackSets "
                    f"({error_code(exc)}: {exc}). Run `orgdeploy org-setup` once with management-account credentials."
                ) from exc
            raise

    def activate_organizations_access(self) -> None:
        self._call("activate_organizations_access")

    # Reading ----------------------------------------------------------------
    def count_stack_sets(self) -> int:
        return len(self._pages("list_stack_sets", "Summaries", Status="ACTIVE"))

    def names(self, *, prefix: str) -> list[str]:
        summaries = self._pages("list_stack_sets", "Summaries", Status="ACTIVE")
        return sorted(s["StackSetName"] for s in summaries if s["StackSetName"].startswith(prefix))

    def read(self, names: list[str], prefix: str, progress: Callable[[str], None] | None = None) -> list[StackSetState]:
        """Every ACTIVE stack set named in names or starting with prefix, with instances and in-flight operations."""
        summaries = self._pages("list_stack_sets", "Summaries", Status="ACTIVE")
        wanted = sorted(
            s["StackSetName"] for s in summaries if s["StackSetName"] in names or s["StackSetName"].startswith(prefix)
        )
        found = []
        for name in wanted:
            found.append(self.read_one(name))
            if progress:
                progress(f"read stack set {name}: {len(found[-1].instances):,} instances")
        return found

    def instances(self, name: str, *, region: str | None = None) -> tuple[StackInstance, ...]:
        """The stack set's instances, in one Region when given."""
        where = {"StackInstanceRegion": region} if region else {}
        return tuple(
            StackInstance(
                account=i["Account"],
                region=i["Region"],
                status=i.get("Status", ""),
                detailed_status=i.get("StackInstanceStatus", {}).get("DetailedStatus", ""),
                reason=i.get("StatusReason", ""),
                stack_id=i.get("StackId", ""),
            )
            for i in self._pages("list_stack_instances", "Summaries", StackSetName=name, MaxResults=100, **where)
        )

    def read_one(self, name: str) -> StackSetState:
        detail = self._call("describe_stack_set", StackSetName=name)["StackSet"]
        instances = self.instances(name)
        summaries = self._pages("list_stack_set_operations", "Summaries", StackSetName=name)
        operations = tuple(
            Operation(o["OperationId"], o.get("Action", ""), o["Status"]) for o in summaries if o["Status"] in IN_FLIGHT
        )
        ended = [o for o in summaries if o["Status"] in FINISHED]
        last = max(ended, key=lambda o: (str(o.get("CreationTimestamp", "")), o["OperationId"]), default=None)
        auto = detail.get("AutoDeployment", {})
        return StackSetState(
            name=name,
            arn=detail.get("StackSetARN", ""),
            template_body=detail.get("TemplateBody", ""),
            parameters=tuple(
                sorted((p["ParameterKey"], p.get("ParameterValue", "")) for p in detail.get("Parameters", []))
            ),
            auto_deployment=bool(auto.get("Enabled", False)),
            depends_on=tuple(sorted(stack_set_name_from_arn(a) for a in auto.get("DependsOn", []) or [])),
            managed_execution=bool(detail.get("ManagedExecution", {}).get("Active", False)),
            instances=instances,
            operations_in_flight=operations,
            last_finished_operation=last["OperationId"] if last else "",
        )

    def arn(self, name: str) -> str:
        return str(self._call("describe_stack_set", StackSetName=name)["StackSet"]["StackSetARN"])

    # Writing ----------------------------------------------------------------
    def create_stack_set(self, **kwargs: Any) -> None:
        try:
            self._call("create_stack_set", PermissionModel="SERVICE_MANAGED", **kwargs)
        except Exception as exc:
            # A crash after the call reached AWS leaves the stack set behind: adopt it.
            if error_code(exc) != "NameAlreadyExistsException":
                raise

    def start(self, operation: str, **kwargs: Any) -> str:
        """Start an instance operation; an OperationId already used means adopt that operation."""
        try:
            response = call_with_retries(
                getattr(self.client, operation),
                codes=THROTTLING_CODES | BUSY_CODES,
                attempts=40,
                CallAs=self.call_as,
                **kwargs,
            )
            return str(response["OperationId"])
        except Exception as exc:
            if error_code(exc) == "OperationIdAlreadyExistsException":
                return str(kwargs["OperationId"])
            raise

    def operation_status(self, name: str, operation_id: str) -> dict[str, Any]:
        return dict(
            self._call("describe_stack_set_operation", StackSetName=name, OperationId=operation_id)["StackSetOperation"]
        )

    def in_flight(self, name: str) -> list[str]:
        return [
            o["OperationId"]
            for o in self._pages("list_stack_set_operations", "Summaries", StackSetName=name)
            if o["Status"] in IN_FLIGHT
        ]

    def results(self, name: str, operation_id: str) -> list[OperationResult]:
        return [
            OperationResult(r["Account"], r["Region"], r["Status"], r.get("StatusReason", ""))
            for r in self._pages(
                "list_stack_set_operation_results",
                "Summaries",
                StackSetName=name,
                OperationId=operation_id,
                MaxResults=100,
            )
        ]

    def drifted_instances(self, name: str) -> tuple[StackInstance, ...]:
        """Instances the newest drift detection found DRIFTED."""
        found = self._pages(
            "list_stack_instances",
            "Summaries",
            StackSetName=name,
            Filters=[{"Name": "DRIFT_STATUS", "Values": "DRIFTED"}],
        )
        return tuple(StackInstance(i["Account"], i["Region"], i["Status"], "") for i in found)

    def resource_drifts(self, name: str, operation_id: str, account: str, region: str) -> list[dict[str, Any]]:
        """The instance's MODIFIED and DELETED resources (botocore has no paginator for this call)."""
        found: list[dict[str, Any]] = []
        token: dict[str, str] = {}
        while True:
            page = self._call(
                "list_stack_instance_resource_drifts",
                StackSetName=name,
                OperationId=operation_id,
                StackInstanceAccount=account,
                StackInstanceRegion=region,
                StackInstanceResourceDriftStatuses=["MODIFIED", "DELETED"],
                **token,
            )
            found += page.get("Summaries", [])
            if not page.get("NextToken"):
                return found
            token = {"NextToken": page["NextToken"]}

    def delete_stack_set(self, name: str) -> None:
        try:
            self._call("delete_stack_set", StackSetName=name)
        except Exception as exc:
            if error_code(exc) != "StackSetNotFoundException":
                raise
