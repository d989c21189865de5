"""StackSets that behave like AWS's: operations take time, queue, fail and auto-deploy.

install_stackset_realism() changes moto, server-side, in three places:

* moto's CloudFormation URL table is pointed at SandboxCloudFormationResponse, a
  subclass of moto's CloudFormationResponse. It takes over the StackSet actions
  (create/update/delete of stack sets and instances, the operation reads, Stop)
  and adds Activate/Deactivate/DescribeOrganizationsAccess; every other action
  is moto's. Each request first advances due operations (operations.py).
* moto's StackSet class gets properties for what DescribeStackSet and
  ListStackSets report but moto drops: ManagedExecution, AutoDeployment,
  OrganizationalUnitIds and Regions (stackset_model keeps the values).
* moto's OrganizationsBackend is hooked for auto-deployment (stackset_autodeploy).
"""

from __future__ import annotations

import json
import re
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from moto.cloudformation import urls as cfn_urls
from moto.cloudformation.exceptions import CloudFormationError, StackSetNotFoundException, ValidationError
from moto.cloudformation.models import CloudFormationBackend, StackSet, cloudformation_backends
from moto.cloudformation.responses import CloudFormationResponse
from moto.core.responses import ActionResult, EmptyResult
from moto.organizations.models import organizations_backends
from moto.utilities.utils import get_partition

from orgdeploy.sandbox import cfn_imports
from orgdeploy.sandbox.stacksets import operations
from orgdeploy.sandbox.stacksets.autodeploy import install_org_hooks
from orgdeploy.sandbox.stacksets.model import (
    InvalidOperationException,
    NameAlreadyExistsException,
    Operation,
    Result,
    StackInstanceNotFoundException,
    Target,
    extras,
    find_instance,
    instances,
    live_stacksets,
    register,
)
from orgdeploy.sandbox.stacksets.targets import (
    accounts_under,
    existing_targets,
    expand,
    org_backend,
    requested_accounts,
    validate_preferences,
)
from orgdeploy.sandbox.state import STATE

IMPORT_LIMIT = 10  # ImportStacksToStackSet: "You import up to 10 stacks per StackSet at a time"


class LimitExceededException(CloudFormationError):
    code = "LimitExceededException"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class StackNotFoundException(CloudFormationError):
    code = "StackNotFoundException"

    def __init__(self, message: str) -> None:
        super().__init__(message)


STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
_OU_PATTERN = re.compile(r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")


def _check_template_body(body: str | None) -> None:
    if body and len(body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
        raise ValidationError(
            message=f"1 validation error detected: Value '{body[:64]}...' at 'templateBody' failed to satisfy "
            f"constraint: Member must have length less than or equal to {TEMPLATE_BODY_LIMIT}"
        )


def _require_organizations_access() -> None:
    if STATE.organizations_access != "ENABLED":
        raise ValidationError(message="You must enable organizations access to operate a service managed stack set")


# CloudFormation refuses a TemplateBody over this many bytes (larger templates go by TemplateURL).
TEMPLATE_BODY_LIMIT = 51_200


STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


def _administrator_account(caller: str, call_as: str | None) -> str:
    """Where the caller's stack sets live: with CallAs=DELEGATED_ADMIN, in the management account."""
    if call_as != "DELEGATED_ADMIN":
        return caller
    master = organizations_backends.master_accounts.get(caller)  # (management account, partition)
    admins = organizations_backends[master[0]][master[1]].admins if master else []
    if master is None or not any(a.account.id == caller and STACKSETS_PRINCIPAL in a.services for a in admins):
        raise ValidationError(message="Account used is not a delegated administrator")
    return str(master[0])


class SandboxCloudFormationResponse(CloudFormationResponse):
    """moto's CloudFormation API with AWS's StackSet operation semantics."""

    @property
    def cloudformation_backend(self) -> CloudFormationBackend:
        # A delegated administrator's stack sets are the management account's (CallAs=DELEGATED_ADMIN).
        account = _administrator_account(self.current_account, self._get_param("CallAs"))
        return cloudformation_backends[account][self.region]

    def call_action(self) -> Any:
        # One lock for every StackSet change; moving time first makes all reads current.
        with STATE.lock:
            operations.advance_all()
            return super().call_action()

    # -- stacks --------------------------------------------------------------------

    def create_stack(self) -> Any:
        _check_template_body(self._get_param("TemplateBody"))
        return super().create_stack()

    def update_stack(self) -> Any:
        _check_template_body(self._get_param("TemplateBody"))
        return super().update_stack()

    def create_change_set(self) -> Any:
        _check_template_body(self._get_param("TemplateBody"))
        if self._get_param("ChangeSetType") == "IMPORT":
            raise cfn_imports.refuse_import(self._get_param("ResourcesToImport") or [])
        return super().create_change_set()

    # -- helpers -----------------------------------------------------------------

    def _stackset(self) -> StackSet:
        stackset: StackSet = self.cloudformation_backend.describe_stack_set(self._get_param("StackSetName"))
        return stackset

    def _operation_id(self) -> str:
        return str(self._get_param("OperationId") or uuid.uuid4())

    def _preferences(self) -> dict[str, Any]:
        preferences = dict(self._get_param("OperationPreferences") or {})
        validate_preferences(preferences)
        return preferences

    def _deployment_targets(self) -> dict[str, Any] | None:
        targets = self._get_param("DeploymentTargets")
        for ou_id in (targets or {}).get("OrganizationalUnitIds") or []:
            if not _OU_PATTERN.match(ou_id):
                raise ValidationError(
                    message=f"1 validation error detected: Value '[{ou_id}]' at "
                    "'deploymentTargets.organizationalUnitIds' failed to satisfy constraint: Member must satisfy "
                    f"regular expression pattern: {_OU_PATTERN.pattern}"
                )
        return dict(targets) if targets else None

    def _requested_targets(self, stackset: StackSet, action: str) -> list[Target]:
        org = org_backend(self.cloudformation_backend.account_id, self.cloudformation_backend.region_name)
        pairs = requested_accounts(stackset, org, self._get_param("Accounts"), self._deployment_targets(), action)
        return expand(pairs, self._get_param("Regions") or [])

    def _page(self, items: list[Any], key: str, render: Callable[[Any], Any] | None = None) -> ActionResult:
        """One page of items (MaxResults, at most 100); render turns only that page's items into summaries."""
        token = self._get_param("NextToken")
        if token is not None and not str(token).isdigit():
            raise ValidationError(message="Invalid NextToken")
        first = int(token or 0)
        size = min(int(self._get_param("MaxResults") or 100), 100)
        more = first + size < len(items)
        page = items[first : first + size]
        page = [render(item) for item in page] if render else page
        return ActionResult({key: page, "NextToken": str(first + size) if more else None})

    def _validate_auto_deployment(self, auto: dict[str, Any] | None, permission_model: str, own_arn: str) -> None:
        if not auto:
            return
        if permission_model != "SERVICE_MANAGED" and auto.get("Enabled"):
            raise ValidationError(message="AutoDeployment is only supported for SERVICE_MANAGED stack sets")
        known = {stackset.arn for _, stackset in live_stacksets() if stackset.status == "ACTIVE"}
        for arn in auto.get("DependsOn") or []:
            if arn == own_arn or arn not in known:
                raise ValidationError(message=f"StackSet {arn} in AutoDeployment.DependsOn does not exist")

    # -- stack sets --------------------------------------------------------------

    def create_stack_set(self) -> ActionResult:
        _check_template_body(self._get_param("TemplateBody"))
        name = self._get_param("StackSetName")
        permission_model = self._get_param("PermissionModel") or "SELF_MANAGED"
        if permission_model == "SERVICE_MANAGED":
            _require_organizations_access()
        backend = self.cloudformation_backend
        if any(s.name == name and s.status == "ACTIVE" for s in backend.stacksets.values()):
            raise NameAlreadyExistsException(name)
        auto = self._get_param("AutoDeployment")
        self._validate_auto_deployment(auto, permission_model, "")
        result = super().create_stack_set()
        stackset = backend.stacksets[result.result["StackSetId"]]  # type: ignore[index]
        ex = extras(stackset)
        ex.managed_execution = bool((self._get_param("ManagedExecution") or {}).get("Active"))
        if permission_model == "SERVICE_MANAGED":
            ex.auto_deployment = _auto_deployment(auto or {"Enabled": False})
        register(backend, stackset)
        return result

    def update_stack_set(self) -> ActionResult:
        _check_template_body(self._get_param("TemplateBody"))
        stackset = self._stackset()
        operation_id = self._operation_id()
        operations.ensure_can_start(stackset, operation_id)
        preferences = self._preferences()
        auto = self._get_param("AutoDeployment")
        deployment_targets = self._deployment_targets()
        if auto and (deployment_targets or self._get_param("Regions")):
            raise ValidationError(
                message="AutoDeployment cannot be specified together with DeploymentTargets or Regions"
            )
        self._validate_auto_deployment(auto, stackset.permission_model, stackset.arn)
        if self._get_param("Regions"):
            wanted = self._requested_targets(stackset, "UPDATE")
            targets = existing_targets(stackset, wanted, strict=stackset.permission_model == "SELF_MANAGED")
        else:
            targets = [Target(i.account_id, i.region_name, i.organizational_unit_id) for i in instances(stackset)]
        self._apply_stack_set_changes(stackset)
        ex = extras(stackset)
        if auto is not None and stackset.permission_model == "SERVICE_MANAGED":
            ex.auto_deployment = _auto_deployment(auto)
        managed = self._get_param("ManagedExecution")
        if managed is not None:
            ex.managed_execution = bool(managed.get("Active"))
        operations.start(
            self.cloudformation_backend,
            stackset,
            action="UPDATE",
            targets=targets,
            operation_id=operation_id,
            preferences=preferences,
            deployment_targets=deployment_targets,
        )
        return ActionResult({"OperationId": operation_id})

    def _apply_stack_set_changes(self, stackset: StackSet) -> None:
        template = self._get_param("TemplateBody")
        if self._get_param("TemplateURL"):
            template = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
        if template:
            stackset.template = template
            stackset.instances.template = template
        parameters = self._get_param("Parameters") or []
        if parameters:
            stackset.parameters = self.cloudformation_backend._resolve_update_parameters(stackset, parameters)
        description = self._get_param("Description")
        if description is not None:
            stackset.description = description
        tags = self._get_param("Tags")
        if tags:
            stackset.tags = {tag["Key"]: tag["Value"] for tag in tags}
        stackset.administration_role_arn = self._get_param("AdministrationRoleARN") or stackset.administration_role_arn
        stackset.execution_role_name = self._get_param("ExecutionRoleName") or stackset.execution_role_name

    def delete_stack_set(self) -> ActionResult:
        name = self._get_param("StackSetName")
        active = [s for s in self.cloudformation_backend.stacksets.values() if s.status == "ACTIVE"]
        stackset = next((s for s in active if name in (s.id, s.name)), None)
        if stackset is None:
            # moto answers success for an unknown name; AWS does not.
            raise StackSetNotFoundException(name)
        operations.ensure_can_start(stackset, None)
        result: ActionResult = super().delete_stack_set()
        return result

    def list_stack_sets(self) -> ActionResult:
        # moto ignores the Status filter, so deleted stack sets showed up as if ACTIVE were asked for.
        status = self._get_param("Status")
        found = [s for s in self.cloudformation_backend.list_stack_sets() if status in (None, s.status)]
        return self._page(found, "Summaries")

    # -- stack instances ---------------------------------------------------------

    def create_stack_instances(self) -> ActionResult:
        stackset = self._stackset()
        if stackset.permission_model == "SERVICE_MANAGED":
            _require_organizations_access()
        return self._start_instances(
            stackset, "CREATE", lambda wanted: wanted, overrides=self._get_param("ParameterOverrides")
        )

    def update_stack_instances(self) -> ActionResult:
        stackset = self._stackset()
        strict = stackset.permission_model == "SELF_MANAGED"
        return self._start_instances(
            stackset,
            "UPDATE",
            lambda wanted: existing_targets(stackset, wanted, strict=strict),
            overrides=self._get_param("ParameterOverrides"),
        )

    def delete_stack_instances(self) -> ActionResult:
        stackset = self._stackset()
        return self._start_instances(
            stackset,
            "DELETE",
            lambda wanted: existing_targets(stackset, wanted, strict=False),
            retain_stacks=bool(self._get_param("RetainStacks")),
        )

    def _start_instances(
        self, stackset: StackSet, action: str, targets_of: Callable[[Any], Any], **extra: Any
    ) -> ActionResult:
        """One instance operation: checks first, then the targets it reaches, then the queued operation."""
        operation_id = self._operation_id()
        preferences = self._preferences()
        operations.ensure_can_start(stackset, operation_id)
        operations.start(
            self.cloudformation_backend,
            stackset,
            action=action,
            targets=targets_of(self._requested_targets(stackset, action)),
            operation_id=operation_id,
            preferences=preferences,
            deployment_targets=self._deployment_targets(),
            **extra,
        )
        return ActionResult({"OperationId": operation_id})

    def import_stacks_to_stack_set(self) -> ActionResult:
        """Stacks of member accounts become instances, as they are (stacks.py: ImportStacksToStackSet)."""
        stackset = self._stackset()
        if self._get_param("StackIdsUrl"):
            raise ValidationError(message="StackIdsUrl is not supported by the sandbox; give StackIds")
        stack_ids: list[str] = list(self._get_param("StackIds") or [])
        if not stack_ids:
            raise ValidationError(message="Either StackIds or StackIdsUrl must be specified")
        if len(stack_ids) > IMPORT_LIMIT:
            raise LimitExceededException(f"You can import up to {IMPORT_LIMIT} stacks per StackSet at a time")
        units = list(self._get_param("OrganizationalUnitIds") or [])
        if stackset.permission_model == "SERVICE_MANAGED":
            _require_organizations_access()
            if not units:
                raise ValidationError(message="OrganizationalUnitIds are required for a SERVICE_MANAGED StackSet")
        org = org_backend(self.cloudformation_backend.account_id, self.cloudformation_backend.region_name)
        placed = dict(accounts_under(org, units)) if org else {}
        targets, imported = [], {}
        for stack_id in stack_ids:
            stack = cfn_imports.find_stack(stack_id)
            if stack is None:
                raise StackNotFoundException(f"Stack with id {stack_id} does not exist")
            if not stack.status.endswith("_COMPLETE") or "ROLLBACK" in stack.status:
                raise ValidationError(message=f"Stack {stack_id} is in {stack.status} state and cannot be imported")
            account, region = stack.account_id, stack.region_name
            if stackset.permission_model == "SERVICE_MANAGED" and account == self.cloudformation_backend.account_id:
                raise InvalidOperationException(f"Stack {stack_id} is in the management account: it cannot be imported")
            if units and account not in placed:
                raise ValidationError(
                    message=f"Account {account} of stack {stack_id} is not in OrganizationalUnitIds {units}"
                )
            holder = next((s for _, s in live_stacksets() for i in instances(s) if i.stack_id == stack_id), None)
            if holder is not None or find_instance(stackset, account, region) is not None:
                raise InvalidOperationException(
                    f"Stack {stack_id} cannot be imported: {account} {region} already has a stack instance"
                    + (f" of StackSet {holder.name}" if holder is not None else "")
                )
            if _body(stack.template) != _body(stackset.template):
                raise ValidationError(message=f"The template of stack {stack_id} differs from the StackSet's template")
            targets.append(Target(account, region, placed.get(account)))
            imported[(account, region)] = stack_id
        operation_id = self._operation_id()
        operations.ensure_can_start(stackset, operation_id)
        operations.start(
            self.cloudformation_backend,
            stackset,
            action="CREATE",
            targets=targets,
            operation_id=operation_id,
            preferences=self._preferences(),
            deployment_targets={"OrganizationalUnitIds": units} if units else None,
            imported=imported,
        )
        return ActionResult({"OperationId": operation_id})

    def describe_stack_instance(self) -> ActionResult:
        stackset = self._stackset()
        account = self._get_param("StackInstanceAccount")
        region = self._get_param("StackInstanceRegion")
        instance = find_instance(stackset, account, region)
        if instance is None:
            raise StackInstanceNotFoundException(stackset.name, account, region)
        return ActionResult({"StackInstance": instance.describe(stackset.id)})

    def list_stack_instances(self) -> ActionResult:
        stackset = self._stackset()
        account = self._get_param("StackInstanceAccount")
        region = self._get_param("StackInstanceRegion")
        filters = {f["Name"]: f.get("Values") for f in self._get_param("Filters") or []}
        if account is None and region is None and not filters:  # every page a slice of the list, not a scan of it
            return self._page(instances(stackset), "Summaries", lambda i: i.summary(stackset.id))
        chosen = [
            i
            for i in instances(stackset)
            if (account is None or i.account_id == account)
            and (region is None or i.region_name == region)
            and filters.get("DETAILED_STATUS") in (None, i.detailed_status)
            and filters.get("LAST_OPERATION_ID") in (None, i.last_operation_id)
            and filters.get("DRIFT_STATUS") in (None, i.drift_status)
        ]
        return self._page(chosen, "Summaries", lambda i: i.summary(stackset.id))

    # -- operations --------------------------------------------------------------

    def list_stack_set_operations(self) -> ActionResult:
        stackset = self._stackset()
        return self._page([op.summary() for op in extras(stackset).operations], "Summaries")

    def describe_stack_set_operation(self) -> ActionResult:
        op = operations.find_operation(self._stackset(), self._get_param("OperationId"))
        return ActionResult({"StackSetOperation": op.describe()})

    def list_stack_set_operation_results(self) -> ActionResult:
        op = operations.find_operation(self._stackset(), self._get_param("OperationId"))
        wanted = {f["Name"]: f.get("Values") for f in self._get_param("Filters") or []}
        status = wanted.get("OPERATION_RESULT_STATUS")
        return self._page(_results_with(op, status), "Summaries", lambda r: r.to_dict())

    def list_stack_set_auto_deployment_targets(self) -> ActionResult:
        """The OUs auto-deployment follows, with the Regions it deploys there."""
        stackset = self._stackset()
        ex = extras(stackset)
        enabled = bool((ex.auto_deployment or {}).get("Enabled"))
        summaries = [{"OrganizationalUnitId": ou, "Regions": list(ex.regions)} for ou in ex.ou_ids] if enabled else []
        return self._page(summaries, "Summaries")

    def detect_stack_set_drift(self) -> ActionResult:
        """A DETECT_DRIFT operation over every instance; it queues and takes time like any other."""
        stackset = self._stackset()
        targets = [Target(i.account_id, i.region_name, i.organizational_unit_id) for i in instances(stackset)]
        return self._start_operation(stackset, "DETECT_DRIFT", targets)

    def _start_operation(self, stackset: StackSet, action: str, targets: list[Target]) -> ActionResult:
        operation_id = self._operation_id()
        operations.start(
            self.cloudformation_backend,
            stackset,
            action=action,
            targets=targets,
            operation_id=operation_id,
            preferences=self._preferences(),
        )
        return ActionResult({"OperationId": operation_id})

    def list_stack_instance_resource_drifts(self) -> ActionResult:
        # The operation must exist; one that detected no drift (or another kind of operation) lists nothing.
        op = operations.find_operation(self._stackset(), self._get_param("OperationId"))
        account = self._get_param("StackInstanceAccount")
        region = self._get_param("StackInstanceRegion")
        wanted = set(self._get_param("StackInstanceResourceDriftStatuses") or [])
        found = [
            d for d in op.drifts.get((account, region), []) if not wanted or d["StackResourceDriftStatus"] in wanted
        ]
        return self._page(found, "Summaries")

    def stop_stack_set_operation(self) -> ActionResult:
        operations.stop(self._stackset(), self._get_param("OperationId"))
        return EmptyResult()

    # -- trusted access with Organizations ----------------------------------------

    def describe_organizations_access(self) -> ActionResult:
        return ActionResult({"Status": STATE.organizations_access})

    def activate_organizations_access(self) -> ActionResult:
        if STATE.organizations_access == "DISABLED_PERMANENTLY":
            raise InvalidOperationException("Organizations access is permanently disabled for StackSets")
        STATE.organizations_access = "ENABLED"
        self._set_trusted_access(enabled=True)
        return EmptyResult()

    def deactivate_organizations_access(self) -> ActionResult:
        if STATE.organizations_access == "ENABLED":
            STATE.organizations_access = "DISABLED"
        self._set_trusted_access(enabled=False)
        return EmptyResult()

    def _set_trusted_access(self, *, enabled: bool) -> None:
        """Mirror the switch in Organizations' list of trusted services, as AWS does."""
        org = organizations_backends[self.current_account][get_partition(self.region)]
        if org.org is None:
            return
        if enabled:
            org.enable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)
        elif any(s["ServicePrincipal"] == STACKSETS_PRINCIPAL for s in org.services):
            org.disable_aws_service_access(ServicePrincipal=STACKSETS_PRINCIPAL)


def _body(template: Any) -> str:
    return template if isinstance(template, str) else json.dumps(template, sort_keys=True)


def _auto_deployment(given: dict[str, Any]) -> dict[str, Any]:
    auto: dict[str, Any] = {"Enabled": bool(given.get("Enabled"))}
    if auto["Enabled"]:
        auto["RetainStacksOnAccountRemoval"] = bool(given.get("RetainStacksOnAccountRemoval"))
    if given.get("DependsOn"):
        auto["DependsOn"] = list(given["DependsOn"])
    return auto


def _managed_execution(stackset: StackSet) -> dict[str, bool]:
    return {"Active": extras(stackset).managed_execution}


def _auto_deployment_of(stackset: StackSet) -> dict[str, Any] | None:
    return extras(stackset).auto_deployment


def _organizational_unit_ids(stackset: StackSet) -> list[str] | None:
    return list(extras(stackset).ou_ids) if stackset.permission_model == "SERVICE_MANAGED" else None


def _regions(stackset: StackSet) -> list[str]:
    found = list(extras(stackset).regions)
    return found + [r for r in dict.fromkeys(i.region_name for i in instances(stackset)) if r not in found]


def install_stackset_realism() -> None:
    """Apply the changes described in the module docstring; calling it again changes nothing."""
    with STATE.lock:
        StackSet.managed_execution = property(_managed_execution)  # type: ignore[assignment,method-assign]
        StackSet.auto_deployment = property(_auto_deployment_of)  # type: ignore[attr-defined]
        StackSet.organizational_unit_ids = property(_organizational_unit_ids)  # type: ignore[attr-defined]
        StackSet.regions = property(_regions)  # type: ignore[attr-defined]
        cfn_urls.url_paths["{0}/$"] = SandboxCloudFormationResponse.dispatch
        install_org_hooks()


# Per operation: (the results list it was filtered from, its length, the status) and the results with that status.
_FILTERED: weakref.WeakKeyDictionary[Operation, tuple[list[Result], int, str, list[Result]]] = (
    weakref.WeakKeyDictionary()
)


def _results_with(op: Operation, status: str | None) -> list[Result]:
    """op's results with that status, filtered once per list of results, not once for each of 1,500 pages."""
    if status is None:
        return op.results  # each page is a slice of it
    cached = _FILTERED.get(op)
    # The list itself is held, not its id, so a new list at a reused address is never taken for the old one.
    if cached is None or cached[0] is not op.results or cached[1] != len(op.results) or cached[2] != status:
        cached = (op.results, len(op.results), status, [r for r in op.results if r.status == status])
        _FILTERED[op] = cached
    return cached[3]
