"""Small corrections to moto where it answers differently from AWS in ways orgdeploy reads."""

from __future__ import annotations

import json
from typing import Any

from orgdeploy.sandbox.bucket_policy import patch_bucket_permission
from orgdeploy.sandbox.state import STATE

_INSTALLED: set[str] = set()


def install_moto_fixes() -> None:
    """Idempotent; call before the server answers its first request."""
    if "parameter_list" in _INSTALLED:
        return
    from moto.cloudformation.models import Stack

    original = Stack.parameter_list

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        # moto resolves CommaDelimitedList parameters to Python lists and echoes their repr;
        # DescribeStacks on AWS returns the comma-joined string that was passed in.
        params: list[dict[str, Any]] = original.fget(self)  # type: ignore[attr-defined]
        for param in params:
            if isinstance(param["ParameterValue"], list):
                param["ParameterValue"] = ",".join(str(v) for v in param["ParameterValue"])
        # moto keeps a parameter the updated template no longer declares; AWS lists the declared ones.
        declared = (getattr(self, "template_dict", None) or {}).get("Parameters") or {}
        return [p for p in params if p["ParameterKey"] in declared]

    Stack.parameter_list = property(parameter_list)  # type: ignore[method-assign,assignment]
    _install_assume_role_denials()
    _answer_unknown_operations()
    _serve_account_state_only()
    patch_bucket_permission()
    _add_delegated_admin_services()
    _route_delegated_admin_reads()
    _update_on_changed_conditions()
    _cache_per_request_work()
    _index_access_key_owners()
    _look_up_accounts_directly()
    _INSTALLED.add("parameter_list")


def _answer_unknown_operations() -> None:
    """An operation moto lacks gets a well-formed AWS error (no 500 page), which clients parse and do not retry."""
    from moto.core.responses import BaseResponse

    call_action = BaseResponse.call_action

    def answered(self: Any) -> Any:
        try:
            return call_action(self)
        except NotImplementedError:
            action = self._get_action() or "this operation"
            message = f"The sandbox does not emulate {action}."
            content_type = str(self.headers.get("Content-Type", "")) if self.headers else ""
            if "json" in content_type:
                body = json.dumps({"__type": "UnknownOperationException", "message": message})
                return 400, {"Content-Type": content_type}, body
            body = (
                "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code>"
                f"<Message>{message}</Message></Error><RequestId>sandbox</RequestId></ErrorResponse>"
            )
            return 400, {"Content-Type": "text/xml"}, body

    BaseResponse.call_action = answered  # type: ignore[method-assign]


def _serve_account_state_only() -> None:
    """Organizations retires Account.Status on 2026-09-09; the sandbox answers with State alone."""
    from moto.organizations.models import FakeAccount

    describe = FakeAccount.describe

    def without_status(self: Any) -> dict[str, Any]:
        found: dict[str, Any] = describe(self)
        found.pop("Status", None)
        return found

    FakeAccount.describe = without_status  # type: ignore[method-assign]


def _add_delegated_admin_services() -> None:
    from moto.organizations.models import FakeDelegatedAdministrator

    # AWS lets StackSets and Config (aggregators) have delegated administrators; moto's list lacks them.
    for principal in ("member.org.stacksets.cloudformation.amazonaws.com", "config.amazonaws.com"):
        if principal not in FakeDelegatedAdministrator.SUPPORTED_SERVICES:
            FakeDelegatedAdministrator.SUPPORTED_SERVICES.append(principal)


def deny_assume_role(account_id: str, role_name: str) -> None:
    """Make STS refuse role_name in account_id, as for an invited account that lacks the role."""
    with STATE.lock:
        STATE.unassumable_roles.add((account_id, role_name))


def _install_assume_role_denials() -> None:
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role

    def assume_role(
        self: Any, region_name: str, role_session_name: str, role_arn: str, *args: Any, **kwargs: Any
    ) -> Any:
        # arn:aws:iam::ACCOUNT:role/NAME
        account_id = role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
        role_name = role_arn.rsplit("/", 1)[-1]
        with STATE.lock:
            denied = (account_id, role_name) in STATE.unassumable_roles
        if denied:
            raise STSClientError(
                "AccessDenied",
                f"User: arn:aws:iam::{self.account_id}:root is not authorized to perform: sts:AssumeRole "
                f"on resource: {role_arn}",
            )
        return original(self, region_name, role_session_name, role_arn, *args, **kwargs)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]


def _route_delegated_admin_reads() -> None:
    """A delegated administrator may read the organization (List*/Describe*); moto keeps the org in the
    management account's backend, so answer such reads from there, and refuse them to other members."""
    from moto.core.exceptions import JsonRESTError
    from moto.organizations.models import organizations_backends
    from moto.organizations.responses import OrganizationsResponse

    original = OrganizationsResponse.organizations_backend

    def organizations_backend(self: Any) -> Any:
        backend = original.fget(self)  # type: ignore[attr-defined]
        action = str(getattr(self, "_get_action", lambda: "")() or "")
        if backend.org is not None or not action.startswith(("List", "Describe")):
            return backend
        master = organizations_backends.master_accounts.get(self.current_account)
        if master is None:
            return backend
        management = organizations_backends[master[0]][master[1]]
        if any(admin.account.id == self.current_account for admin in management.admins):
            return management
        if action != "DescribeOrganization":
            # Any member may describe its organization; only the management account and delegated
            # administrators may list it.
            raise JsonRESTError("AccessDeniedException", "You don't have permissions to access this resource.")
        return backend

    OrganizationsResponse.organizations_backend = property(organizations_backend)  # type: ignore[method-assign,assignment]


def _update_on_changed_conditions() -> None:
    """A parameter change reaches resources through the conditions that read it, as on CloudFormation.

    moto updates a resource on a parameter change only when the resource itself has a Ref to the
    parameter; CloudFormation resolves the template again, so an Fn::If on a condition that reads
    the parameter changes the resource's properties too.
    """
    from moto.cloudformation import parsing

    original = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other: dict[str, Any], parameters: dict[str, Any] | None = None) -> Any:
        found = original(self, other, parameters)
        changed = {p for p in parameters or {} if self.input_parameters.get(p) != (parameters or {})[p]}
        moved = _conditions_reading(other.get("Conditions") or {}, changed)
        for name, spec in other.get("Resources", {}).items():
            if name in self._resource_json_map and name not in found["Modify"] and _uses_condition(spec, moved):
                found["Modify"].append(name)
        return found

    parsing.ResourceMap.build_resource_diff = build_resource_diff  # type: ignore[method-assign,assignment]


def _conditions_reading(conditions: dict[str, Any], parameters: set[str]) -> set[str]:
    """The conditions whose value can change with these parameters, through other conditions too."""
    from moto.cloudformation.parsing import get_references_from_template

    moved = {n for n, body in conditions.items() if parameters & set(get_references_from_template(body))}
    grew = True
    while grew:
        more = {n for n, body in conditions.items() if n not in moved and _uses_condition(body, moved)}
        moved |= more
        grew = bool(more)
    return moved


def _uses_condition(value: Any, names: set[str]) -> bool:
    if isinstance(value, dict):
        # A policy document's "Condition" is a mapping, not a condition name.
        condition = value.get("Condition")
        if isinstance(condition, str) and condition in names:
            return True
        branch = value.get("Fn::If")
        if isinstance(branch, list) and branch and isinstance(branch[0], str) and branch[0] in names:
            return True
        return any(_uses_condition(v, names) for v in value.values())
    if isinstance(value, list):
        return any(_uses_condition(v, names) for v in value)
    return False


def _cache_per_request_work() -> None:
    """Work moto redoes on every request, done once: what AWS answers stays the same.

    moto's server lists its own package folder for every request, under a lock all requests share, and
    parses a stack's template again for each stack instance; at thousands of instances both dominate.
    """
    import copy
    import functools

    from moto import backends
    from moto.cloudformation.models import Stack

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    parse = Stack.parse_template

    @functools.lru_cache(maxsize=64)
    def parsed(template: str) -> Any:
        return parse(template)

    def parse_template(template: str) -> dict[str, Any]:
        if not isinstance(template, str):
            return parse(template)
        return copy.deepcopy(parsed(template))  # moto edits the dict it gets

    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]


def _index_access_key_owners() -> None:
    """Find an access key's account by lookup, not by a scan of every account's IAM.

    moto answers "whose key is this" for every request by looking through each account's keys, and a key it
    does not know (the management account's) only after looking through all of them: at thousands of accounts
    that scan is most of a request's cost. Keys are indexed where moto writes them, and a hit is checked
    against the backend, so a deleted key or a reset backend is never answered from the index.
    """
    import threading

    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam import models as iam_models

    owners: dict[str, str] = {}
    lock = threading.Lock()
    create_access_key = iam_models.IAMBackend.create_access_key
    create_temp_access_key = iam_models.IAMBackend.create_temp_access_key

    def indexed(backend: Any, key: Any) -> Any:
        with lock:
            owners[key.physical_resource_id] = backend.account_id
        return key

    def create_access_key_indexed(self: Any, *args: Any, **kwargs: Any) -> Any:
        return indexed(self, create_access_key(self, *args, **kwargs))

    def create_temp_access_key_indexed(self: Any) -> Any:
        return indexed(self, create_temp_access_key(self))

    def owner(access_key: str) -> str:
        account = owners.get(access_key)
        if account is None:
            return DEFAULT_ACCOUNT_ID
        backends = dict.get(iam_models.iam_backends, account)
        if backends is not None and any(access_key in backend.access_keys for backend in list(dict.values(backends))):
            return account
        with lock:
            owners.pop(access_key, None)
        return DEFAULT_ACCOUNT_ID

    # Keys made before this install (none in the sandbox's own start-up) are found by one scan now.
    for account, backends in list(dict.items(iam_models.iam_backends)):
        for backend in list(dict.values(backends)):
            for access_key in list(backend.access_keys):
                owners[access_key] = account
    iam_models.IAMBackend.create_access_key = create_access_key_indexed  # type: ignore[method-assign]
    iam_models.IAMBackend.create_temp_access_key = create_temp_access_key_indexed  # type: ignore[method-assign]
    iam_models.get_account_id_from = owner


def _look_up_accounts_directly() -> None:
    """An account's backend found by a dict lookup: moto lists every account's key, under a lock, on each access.

    At 9,000 accounts that list made every call that touches a backend cost thousands of comparisons, and a
    deployment of 150,000 instances most of its time.
    """
    from moto.core.base_backend import AccountSpecificBackend, BackendDict, backend_lock

    def create_unless_present(self: Any, account_id: str) -> None:
        if dict.__contains__(self, account_id):
            return
        with backend_lock:  # what moto does, with a dict lookup where it lists every key
            if not dict.__contains__(self, account_id):
                self[account_id] = AccountSpecificBackend(
                    service_name=self.service_name,
                    account_id=account_id,
                    backend=self.backend,
                    use_boto3_regions=self._use_boto3_regions,
                    additional_regions=self._additional_regions,
                )
            if self not in BackendDict._instances:  # type: ignore[misc]
                BackendDict._instances.append(self)  # type: ignore[misc]

    BackendDict._create_account_specific_backend = create_unless_present  # type: ignore[method-assign]
