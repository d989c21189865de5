"""Rule and pack names as member accounts show them, and the common names to group on (pure).

Organization deployments rename what they create in every account:

- a rule from an organization conformance pack: `<rule>-conformance-pack-<9 random chars>`;
- an organization rule: `OrgConfigRule-<rule>-<8 random chars>`;
- an organization conformance pack: `OrgConformsPack-<pack>-<8 random chars>`.

The suffixes differ per account, so grouping on raw names splits one rule into as many rules as accounts.
Only names of exactly these shapes are changed; anything else (Control Tower's `AWSControlTower_...`,
rules made by hand) is already its own common name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

_PACK_RULE = re.compile(r"^(?P<name>.+)-conformance-pack-[a-z0-9]{9}$")
_ORG_RULE = re.compile(r"^OrgConfigRule-(?P<name>.+)-[a-z0-9]{8}$")
_ORG_PACK = re.compile(r"^OrgConformsPack-(?P<name>.+)-[a-z0-9]{8}$")

Origin = Literal["conformance-pack", "organization-rule", "account"]


@dataclass(frozen=True)
class RuleName:
    raw: str
    common: str
    origin: Origin


def parse_rule_name(raw: str) -> RuleName:
    found = _PACK_RULE.match(raw)
    if found:
        return RuleName(raw, found["name"], "conformance-pack")
    found = _ORG_RULE.match(raw)
    if found:
        return RuleName(raw, found["name"], "organization-rule")
    return RuleName(raw, raw, "account")


def normalise_rule_name(raw: str) -> str:
    """The rule's common name: the same in every account."""
    return parse_rule_name(raw).common


def normalise_pack_name(raw: str) -> str:
    """`OrgConformsPack-<pack>-<suffix>` -> `<pack>`, the organization conformance pack's own name."""
    found = _ORG_PACK.match(raw)
    return found["name"] if found else raw


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation's short tags (!Ref, !Sub...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _any_tag)


def rules_in_pack_body(body: str) -> tuple[str, ...]:
    """The ConfigRuleName of every AWS::Config::ConfigRule in a pack template (YAML or JSON), in order.

    Names built at deploy time (a !Sub with ${...}, an intrinsic function) cannot be known here and are skipped.
    """
    try:
        template = yaml.load(body, Loader=_CfnLoader)  # _CfnLoader derives from SafeLoader
    except yaml.YAMLError:
        return ()
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return ()
    names: list[str] = []
    for resource in resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Config::ConfigRule":
            continue
        name = (resource.get("Properties") or {}).get("ConfigRuleName")
        if isinstance(name, str) and "${" not in name:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True)
class PackIndex:
    """Which organization conformance pack deploys each rule (by common name), where a pack body says so."""

    packs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def pack_of(self, raw_rule: str) -> str | None:
        parsed = parse_rule_name(raw_rule)
        if parsed.origin != "conformance-pack":
            return None
        owners = self.packs.get(parsed.common)
        return ", ".join(owners) if owners else None


def pack_index(bodies: Iterable[tuple[str, str]]) -> PackIndex:
    """(organization pack name, template body) pairs -> PackIndex; a rule in two packs names both."""
    owners: dict[str, list[str]] = {}
    for pack, body in bodies:
        for rule in rules_in_pack_body(body):
            if pack not in owners.setdefault(rule, []):
                owners[rule].append(pack)
    return PackIndex({rule: tuple(sorted(packs)) for rule, packs in owners.items()})
