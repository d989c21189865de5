"""What the sandbox's CloudFormation models share.

`SandboxModel` is a model's identity: the account, Region and name it was made
with, its template properties, and its CloudFormation type as class attributes.
`BackendModel` adds create, update and delete for a named object in one of
moto's backends: each model says how to find the backend, which collection
holds its objects, and how to put and remove one.

Both are mixins: moto finds models as direct subclasses of CloudFormationModel,
so a concrete model lists the mixin first and CloudFormationModel after it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, Self, TypeVar

from orgdeploy.sandbox.cfn_models.stack_failures import already_exists

Backend = TypeVar("Backend")


def properties_of(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    """The resource's template properties (a copy; none when the template gives none)."""
    return dict(cloudformation_json.get("Properties") or {})


class SandboxModel:
    """A resource made by a stack; its physical id (and Ref) is its name."""

    cfn_type: ClassVar[str]
    # The property CloudFormation takes the name from; "" when CloudFormation generates one.
    name_property: ClassVar[str] = ""
    cfn_attributes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, account_id: str, region_name: str, name: str, properties: dict[str, Any]) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.properties = properties

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def is_created(self) -> bool:
        return True

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.name_property

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.cfn_type

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.cfn_attributes

    @classmethod
    def _create(cls, account_id: str, region_name: str, resource_name: str, properties: dict[str, Any]) -> str:
        """Create what the template describes and return the physical id."""
        raise TypeError("each model says how it is created")

    @classmethod
    def _update(
        cls, original: Self, account_id: str, region_name: str, new_resource_name: str, properties: dict[str, Any]
    ) -> str:
        """Make what `original` created match the template, or replace it; return the physical id."""
        raise TypeError("each model says how it is updated")

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str, **kwargs: Any
    ) -> Self:
        properties = properties_of(cloudformation_json)
        return cls(account_id, region_name, cls._create(account_id, region_name, resource_name, properties), properties)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Self:
        properties = properties_of(cloudformation_json)
        name = cls._update(original_resource, account_id, region_name, new_resource_name, properties)
        return cls(account_id, region_name, name, properties)


class BackendModel(SandboxModel, Generic[Backend]):
    """A named object in one account and Region of a moto backend, created, replaced and deleted with the stack."""

    collection: ClassVar[str]
    # Create handlers never adopt an object of the template's name; off where the name is not the template's.
    refuse_existing: ClassVar[bool] = True
    # Where only one object may exist, the old one must go before the renamed one is put.
    delete_before_rename: ClassVar[bool] = False

    @staticmethod
    def _backend(account_id: str, region_name: str) -> Backend:
        raise TypeError("each model says where its backend is")

    @classmethod
    def _exists(cls, backend: Backend, name: str) -> bool:
        return name in getattr(backend, cls.collection)

    @staticmethod
    def _put(backend: Backend, name: str, properties: dict[str, Any]) -> str:
        """Create or overwrite the object and return its name, which may come from the properties."""
        raise TypeError("each model says how to put its object")

    @staticmethod
    def _remove(backend: Backend, name: str) -> None:
        raise TypeError("each model says how to remove its object")

    @classmethod
    def _create(cls, account_id: str, region_name: str, resource_name: str, properties: dict[str, Any]) -> str:
        backend = cls._backend(account_id, region_name)
        if cls.refuse_existing and cls._exists(backend, resource_name):
            raise already_exists(cls.cfn_type, resource_name)
        return cls._put(backend, resource_name, properties)

    @classmethod
    def _update(
        cls, original: Self, account_id: str, region_name: str, new_resource_name: str, properties: dict[str, Any]
    ) -> str:
        backend = cls._backend(account_id, region_name)
        if cls.delete_before_rename and new_resource_name != original.name:
            cls.delete_from_cloudformation_json(original.name, {}, account_id, region_name)
        name = cls._put(backend, new_resource_name, properties)
        if not cls.delete_before_rename and name != original.name:
            cls.delete_from_cloudformation_json(original.name, {}, account_id, region_name)
        return name

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        backend = cls._backend(account_id, region_name)
        if cls._exists(backend, resource_name):
            cls._remove(backend, resource_name)
