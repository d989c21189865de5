"""AWS::IAM::ServiceLinkedRole on moto's IAM backend, and the IAM fixes the templates need.

* patch_service_linked_roles(): AWS's role names and error for service-linked roles.
* patch_role_managed_policies(): moto's AWS::IAM::Role model ignores
  ManagedPolicyArns; the wrapper attaches them through moto's IAM backend on
  create, reconciles them on update and detaches them before deletion (moto's
  DeleteRole refuses a role with attached policies, as IAM does).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, Self

from moto.core.common_models import CloudFormationModel
from moto.iam import models as iam_models
from moto.iam.exceptions import EntityAlreadyExists, InvalidInput, NotFoundException
from moto.utilities.utils import get_partition

from orgdeploy.sandbox.cfn_models.base import BackendModel, properties_of

_AWS_POLICY_ARN = re.compile(r"^arn:[^:]+:iam::aws:policy(/(?:[^/]+/)*)([^/]+)$")

# AWS spells these role names in CamelCase; moto would give AWSServiceRoleForconfig.
_SERVICE_ROLE_SUFFIXES = {
    "config": "Config",
    "config-conforms": "ConfigConforms",
    "config-multiaccountsetup": "ConfigMultiAccountSetup",
}


def _iam(account_id: str, region_name: str) -> Any:
    # IAM is global: moto keys its backends by partition ("aws"), not by Region.
    return iam_models.iam_backends[account_id][get_partition(region_name)]


def patch_service_linked_roles() -> None:
    """Give service-linked roles AWS's names and AWS's error when the name is taken."""
    iam_models.SERVICE_NAME_CONVERSION.update(_SERVICE_ROLE_SUFFIXES)
    create: Callable[..., Any] = iam_models.IAMBackend.create_service_linked_role

    def create_service_linked_role(self: Any, service_name: str, description: str, suffix: str) -> Any:
        try:
            return create(self, service_name, description, suffix)
        except EntityAlreadyExists as exc:
            # moto reports a plain role-name clash; IAM says the service role name is taken.
            match = re.search(r"Role with name (\S+) already exists", str(exc))
            name = match.group(1) if match else "for this service"
            raise InvalidInput(
                f"Service role name {name} has been taken in this account, please try a different suffix."
            ) from exc

    iam_models.IAMBackend.create_service_linked_role = create_service_linked_role  # type: ignore[method-assign]


@functools.cache
def _aws_managed_policy_data() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


def _managed_policy(iam: Any, arn: str) -> Any:
    """The managed policy `arn` in this account's IAM backend, or None when IAM does not know it.

    moto copies AWS's ~1,500 managed policies into every account only when
    MOTO_IAM_LOAD_MANAGED_POLICIES=true; otherwise an AWS-managed ARN is loaded
    on first use from moto's bundled copy of those policies.
    """
    policy = iam.managed_policies.get(arn)
    match = _AWS_POLICY_ARN.match(arn)
    if policy is None and match is not None:
        path, name = match.groups()
        data = _aws_managed_policy_data().get(name)
        if data is not None and data.get("Path", "/") == path:
            policy = iam_models.AWSManagedPolicy.from_data(name, iam.account_id, iam.region_name, data)
            iam.aws_managed_policies.append(policy)
            iam.managed_policies[policy.arn] = policy
    return policy


def _attached(role: Any) -> set[str]:
    return set(role.managed_policies)


def _sync_managed_policies(iam: Any, role_name: str, wanted: list[str]) -> None:
    role = iam.get_role(role_name)
    for arn in sorted(_attached(role) - set(wanted)):
        iam.detach_role_policy(arn, role_name)
    for arn in dict.fromkeys(wanted):
        if arn in _attached(role):
            continue
        if _managed_policy(iam, arn) is None:
            # IAM's own answer to AttachRolePolicy with an unknown ARN.
            raise NotFoundException(f"Policy {arn} does not exist or is not attachable.")
        iam.attach_role_policy(arn, role_name)


def patch_role_managed_policies() -> None:
    """Wrap moto's Role CloudFormation create, update and delete; the caller makes sure this runs once."""
    role_class = iam_models.Role
    create: Callable[..., Any] = role_class.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    update: Callable[..., Any] = role_class.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    delete: Callable[..., None] = role_class.delete_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def wanted(cloudformation_json: dict[str, Any]) -> list[str]:
        return [str(arn) for arn in properties_of(cloudformation_json).get("ManagedPolicyArns") or []]

    def create_from_cloudformation_json(
        cls: type[Any],
        /,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        role = create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        try:
            _sync_managed_policies(_iam(account_id, region_name), role.name, wanted(cloudformation_json))
        except Exception:
            # The stack never learns of a resource whose create failed, so its rollback cannot remove it.
            delete_from_cloudformation_json(cls, role.name, cloudformation_json, account_id, region_name)
            raise
        return role

    def update_from_cloudformation_json(
        cls: type[Any],
        /,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        role = update(cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        _sync_managed_policies(_iam(account_id, region_name), role.name, wanted(cloudformation_json))
        return role

    def delete_from_cloudformation_json(
        cls: type[Any], /, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        iam = _iam(account_id, region_name)
        role = next((r for r in iam.roles.values() if r.name == resource_name), None)
        if role is not None:
            for arn in sorted(_attached(role)):
                iam.detach_role_policy(arn, resource_name)
        delete(cls, resource_name, cloudformation_json, account_id, region_name)

    role_class.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[method-assign,assignment]
    role_class.update_from_cloudformation_json = classmethod(update_from_cloudformation_json)  # type: ignore[method-assign,assignment]
    role_class.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)  # type: ignore[method-assign,assignment]


def _service_and_suffix(properties: dict[str, Any]) -> tuple[str, str]:
    return str(properties.get("AWSServiceName", "")), str(properties.get("CustomSuffix", ""))


class ServiceLinkedRoleModel(BackendModel[iam_models.IAMBackend], CloudFormationModel):
    cfn_type = "AWS::IAM::ServiceLinkedRole"
    # No name property: the name follows from AWSServiceName and CustomSuffix, and IAM refuses a taken one.
    refuse_existing = False
    _backend = staticmethod(_iam)

    @classmethod
    def _exists(cls, backend: iam_models.IAMBackend, name: str) -> bool:
        # moto keys roles by id, not by name.
        return any(role.name == name for role in backend.roles.values())

    @staticmethod
    def _put(backend: iam_models.IAMBackend, resource_name: str, properties: dict[str, Any]) -> str:
        role = backend.create_service_linked_role(
            str(properties.get("AWSServiceName", "")),
            properties.get("Description", ""),
            properties.get("CustomSuffix", ""),
        )
        return str(role.name)

    @staticmethod
    def _remove(backend: iam_models.IAMBackend, name: str) -> None:
        backend.delete_service_linked_role(name)

    @classmethod
    def _update(
        cls, original: Self, account_id: str, region_name: str, new_resource_name: str, properties: dict[str, Any]
    ) -> str:
        if _service_and_suffix(properties) != _service_and_suffix(original.properties):
            # Another service or suffix is another role: it is created, then the old one deleted.
            return super()._update(original, account_id, region_name, new_resource_name, properties)
        # Only the description can change in place.
        _iam(account_id, region_name).update_role_description(original.name, properties.get("Description", ""))
        return original.name
