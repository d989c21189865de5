"""The guard's service control policy in AWS Organizations: read it, put it, attach and detach it, delete it."""

from __future__ import annotations

from orgdeploy.aws.permissions import ADMINS, DEPLOYERS, Need
from orgdeploy.aws.retry import all_pages, call_with_retries, error_code
from orgdeploy.aws.session import AwsContext
from orgdeploy.planning.inventory import GuardState

SCP = "SERVICE_CONTROL_POLICY"

PERMISSIONS = (
    Need(
        (
            "organizations:ListRoots",
            "organizations:ListPolicies",
            "organizations:DescribePolicy",
            "organizations:ListTargetsForPolicy",
            "organizations:ListPoliciesForTarget",
        ),
        DEPLOYERS,
        "plan: read the guard's service control policy and how many SCPs its targets hold",
    ),
    Need(
        (
            "organizations:CreatePolicy",
            "organizations:UpdatePolicy",
            "organizations:AttachPolicy",
            "organizations:DetachPolicy",
            "organizations:DeletePolicy",
        ),
        ADMINS,
        "guard: create, update, attach, detach and delete its service control policy",
    ),
    Need(("organizations:EnablePolicyType",), frozenset({"management"}), "org-setup with guard.enabled"),
)
_REFUSED = frozenset({"AccessDeniedException", "AccessDenied", "AWSOrganizationsNotInUseException"})


class GuardGateway:
    def __init__(self, ctx: AwsContext) -> None:
        self.client = ctx.client("organizations")

    def scp_enabled(self) -> tuple[str, bool]:
        """The root id, and whether service control policies are enabled on it."""
        root = all_pages(self.client, "list_roots", "Roots")[0]
        types = root.get("PolicyTypes") or []
        return root["Id"], any(t["Type"] == SCP and t["Status"] == "ENABLED" for t in types)

    def policy_id(self, name: str) -> str:
        found = all_pages(self.client, "list_policies", "Policies", Filter=SCP)
        return next((p["Id"] for p in found if p["Name"] == name), "")

    def read(self, name: str, targets: tuple[str, ...], *, wanted: bool) -> GuardState:
        """The policy's state; a caller that may not read policies sees none, unless the guard is wanted."""
        try:
            _, enabled = self.scp_enabled()
            policy = self.policy_id(name)
        except Exception as exc:
            if wanted or error_code(exc) not in _REFUSED:
                raise
            return GuardState()
        content, attached = "", ()
        if policy:
            described = call_with_retries(self.client.describe_policy, PolicyId=policy)["Policy"]
            content = str(described["Content"])
            listed = all_pages(self.client, "list_targets_for_policy", "Targets", PolicyId=policy)
            attached = tuple(sorted(t["TargetId"] for t in listed))
        counts = tuple((t, self._attached_count(t)) for t in targets) if wanted and enabled else ()
        return GuardState(enabled, policy, content, attached, counts)

    def _attached_count(self, target: str) -> int:
        return len(all_pages(self.client, "list_policies_for_target", "Policies", TargetId=target, Filter=SCP))

    def put(self, name: str, content: str) -> str:
        policy = self.policy_id(name)
        if policy:
            call_with_retries(self.client.update_policy, PolicyId=policy, Content=content)
            return f"updated {policy}"
        created = call_with_retries(
            self.client.create_policy,
            Name=name,
            Type=SCP,
            Content=content,
            Description="orgdeploy guard: keeps member administrators off orgdeploy's AWS Config resources",
            Tags=[{"Key": "orgdeploy:managed", "Value": "true"}],
        )
        return f"created {created['Policy']['PolicySummary']['Id']}"

    def attach(self, name: str, target: str) -> str:
        return self._call("attach_policy", name, target, tolerated="DuplicatePolicyAttachmentException")

    def detach(self, name: str, target: str) -> str:
        return self._call("detach_policy", name, target, tolerated="PolicyNotAttachedException")

    def _call(self, operation: str, name: str, target: str, *, tolerated: str) -> str:
        policy = self.policy_id(name)
        try:
            call_with_retries(getattr(self.client, operation), PolicyId=policy, TargetId=target)
        except Exception as exc:
            if error_code(exc) != tolerated:
                raise
            return "already so"
        verb, preposition = ("attached", "to") if operation == "attach_policy" else ("detached", "from")
        return f"{verb} {policy} {preposition} {target}"

    def delete(self, name: str) -> str:
        policy = self.policy_id(name)
        if not policy:
            return "already gone"
        for target in all_pages(self.client, "list_targets_for_policy", "Targets", PolicyId=policy):
            self.detach(name, target["TargetId"])
        call_with_retries(self.client.delete_policy, PolicyId=policy)
        return f"deleted {policy}"

    def enable_scps(self) -> bool:
        """Enable service control policies on the root; False when they were on already."""
        root, enabled = self.scp_enabled()
        if enabled:
            return False
        try:
            call_with_retries(self.client.enable_policy_type, RootId=root, PolicyType=SCP)
        except Exception as exc:
            if error_code(exc) != "PolicyTypeAlreadyEnabledException":
                raise
            return False
        return True
