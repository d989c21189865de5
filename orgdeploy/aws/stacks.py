"""Plain CloudFormation stacks (management account, bucket, aggregator, packs)."""

from __future__ import annotations

from typing import Any

from orgdeploy.aws.permissions import DEPLOYERS, MANAGED_TAG, Need
from orgdeploy.aws.retry import all_pages, call_with_retries, error_code, poll
from orgdeploy.aws.session import AwsContext
from orgdeploy.planning.inventory import StackPhase, StackState, stack_phase

_STACK_ACTIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:ListStacks",
    "cloudformation:GetTemplate",
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStackEvents",
)
PERMISSIONS = (
    Need(
        _STACK_ACTIONS,
        DEPLOYERS | {"hub"},
        "deploy the plain stacks (bucket, management account, aggregator, packs; the hub in its account)",
    ),
    # What CloudFormation's handlers need for the resources of those stacks: stack_resources.py.
)


class StackFailed(Exception):
    def __init__(self, name: str, status: str, reason: str) -> None:
        super().__init__(f"stack {name} ended {status}: {reason}")
        self.status = status
        self.reason = reason


class StacksGateway:
    def __init__(self, ctx: AwsContext, *, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.client = ctx.client("cloudformation", region, account)

    def names(self, *, prefix: str) -> list[str]:
        """Every stack of the account and Region whose name starts with prefix, deleted ones left out."""
        summaries = all_pages(self.client, "list_stacks", "StackSummaries")
        return sorted(
            s["StackName"]
            for s in summaries
            if s["StackName"].startswith(prefix) and s.get("StackStatus") != "DELETE_COMPLETE"
        )

    def read(self, name: str) -> StackState | None:
        try:
            stacks = call_with_retries(self.client.describe_stacks, StackName=name)["Stacks"]
        except Exception as exc:
            if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
                return None
            raise
        stack = stacks[0]
        if stack["StackStatus"] == "DELETE_COMPLETE":
            return None
        body = call_with_retries(self.client.get_template, StackName=name, TemplateStage="Original")["TemplateBody"]
        return StackState(
            name=name,
            account=self.account,
            region=self.region,
            status=stack["StackStatus"],
            template_body=body if isinstance(body, str) else "",
            parameters=tuple(
                sorted((p["ParameterKey"], p.get("ParameterValue", "")) for p in stack.get("Parameters", []))
            ),
            outputs=tuple(sorted((o["OutputKey"], o.get("OutputValue", "")) for o in stack.get("Outputs", []))),
        )

    def deploy(
        self, name: str, body: str, parameters: dict[str, str], capabilities: list[str], *, timeout: float
    ) -> StackState:
        """Create or update the stack and wait for it to settle. Raises StackFailed."""
        existing = self.read(name)
        if existing is not None and stack_phase(existing.status) is StackPhase.IN_PROGRESS:
            existing = self._wait(name, timeout=timeout, allow_failure=True)
        if existing is not None and existing.status in {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"}:
            # A stack that never got created cannot be updated: remove it first.
            self.delete(name, timeout=timeout)
            existing = None
        args: dict[str, Any] = {
            "StackName": name,
            "TemplateBody": body,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())],
            "Capabilities": capabilities,
            "Tags": [{"Key": MANAGED_TAG[0], "Value": MANAGED_TAG[1]}],
        }
        try:
            if existing is None:
                call_with_retries(self.client.create_stack, **args)
            else:
                call_with_retries(self.client.update_stack, **args)
        except Exception as exc:
            if error_code(exc) == "AlreadyExistsException":
                return self.deploy(name, body, parameters, capabilities, timeout=timeout)
            if error_code(exc) == "ValidationError" and "No updates are to be performed" in str(exc):
                assert existing is not None
                return existing
            raise
        return self._wait(name, timeout=timeout)

    def delete(self, name: str, *, timeout: float) -> None:
        if self.read(name) is None:
            return
        call_with_retries(self.client.delete_stack, StackName=name)

        def gone() -> bool | None:
            state = self.read(name)
            if state is None:
                return True
            if state.status == "DELETE_FAILED":
                raise StackFailed(name, state.status, self.failure_reason(name))
            return None

        poll(gone, timeout=timeout)

    def _wait(self, name: str, *, timeout: float, allow_failure: bool = False) -> StackState:
        def settled() -> StackState | None:
            state = self.read(name)
            if state is None:
                raise StackFailed(name, "DELETED", "the stack disappeared while orgdeploy waited for it")
            return None if stack_phase(state.status) is StackPhase.IN_PROGRESS else state

        state = poll(settled, timeout=timeout)
        if not allow_failure and stack_phase(state.status) is not StackPhase.COMPLETE:
            raise StackFailed(name, state.status, self.failure_reason(name))
        return state

    def failure_reason(self, name: str) -> str:
        """The first resource failure, which says more than the stack's own status reason."""
        events = call_with_retries(self.client.describe_stack_events, StackName=name).get("StackEvents", [])
        for event in reversed(events):
            if event.get("ResourceStatus", "").endswith("_FAILED") and event.get("ResourceStatusReason"):
                return f"{event.get('LogicalResourceId')}: {event['ResourceStatusReason']}"
        return ""
