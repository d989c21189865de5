"""IAM enforcement: the sandbox checks each request against its caller's IAM policies, with moto's evaluator.

moto evaluates identity policies once `INITIAL_NO_AUTH_ACTION_COUNT` requests have been served
(moto's "IAM authentication and authorization"); enforce() sets it to 0. From then on a request
needs the keys of an IAM user or an assumed role that moto knows, and the caller's policies must
allow the action. What the evaluator sees, and so what an enforced run proves:

- the action, for every service;
- the resource, for S3 (bucket and object ARNs), IAM (a role's ARN, its path included) and STS
  (the role to assume); every other service hands moto "*", which any statement's Resource is
  taken to match here (moto would match it against nothing, so no scoped policy could work);
- conditions: only `sts:ExternalId` is known to moto; a condition on any other key is taken as
  met, so `iam:PassedToService`, `aws:ResourceTag/...` and the like are not checked;
- a trust policy naming `arn:aws:iam::<account>:root` admits any principal of that account, as
  AWS does (moto compared the caller's ARN with the root's).

CloudFormation creates a stack's resources inside moto without asking IAM, which is why the
handler permissions are checked against cfn-lint's schemas instead (tests/unit/test_permissions.py).
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterable
from typing import Any

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicyStatement
from moto.iam.models import iam_backends
from moto.organizations.models import organizations_backends

from orgdeploy.sandbox.throttle import StartResponse, WsgiApp, signing_service, throttling_error

ADMIN_USER = "sandbox-admin"
ADMIN_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_PATCHED = threading.Event()


def _patch_evaluator() -> None:
    if _PATCHED.is_set():
        return
    matches = IAMPolicyStatement._check_element_matches
    principal_matches = IAMPolicyStatement._check_principal

    def check_element_matches(self: Any, statement_element: Any, value: str) -> bool:
        if statement_element == "Resource" and value == "*":
            return True  # moto does not know this request's resource
        return bool(matches(self, statement_element, value))

    def check_principal(self: Any, principal: str) -> bool:
        if principal_matches(self, principal):
            return True
        expected = (self._statement.get("Principal") or {}).get("AWS")
        account = principal.split(":")[4] if principal.count(":") >= 5 else ""
        names = expected if isinstance(expected, list) else [expected]
        return any(isinstance(n, str) and n in {f"arn:aws:iam::{account}:root", account} for n in names)

    IAMPolicyStatement._check_element_matches = check_element_matches  # type: ignore[method-assign]
    IAMPolicyStatement._check_principal = check_principal  # type: ignore[method-assign]
    _PATCHED.set()


def prepare_principals(management_account: str) -> tuple[str, str]:
    """An administrator in the management account, and admin rights for each member's access role.

    On AWS, OrganizationAccountAccessRole comes with AdministratorAccess; moto creates it bare.
    Returns the administrator's (access key id, secret access key).
    """
    iam = iam_backends[management_account]["aws"]
    if ADMIN_USER not in iam.users:
        iam.create_user("us-east-1", ADMIN_USER)
        iam.put_user_policy(ADMIN_USER, "administrator", ADMIN_POLICY)
    key = (
        iam.users[ADMIN_USER].access_keys[0] if iam.users[ADMIN_USER].access_keys else iam.create_access_key(ADMIN_USER)
    )
    org = organizations_backends[management_account]["aws"]
    for account in org.accounts:
        roles = iam_backends[account.id]["aws"].roles.values()
        for role in [r for r in roles if r.name == "OrganizationAccountAccessRole"]:
            iam_backends[account.id]["aws"].put_role_policy(role.name, "administrator", ADMIN_POLICY)
    return key.access_key_id, key.secret_access_key


def enforce() -> None:
    """Check every request from now on against its caller's IAM policies."""
    _patch_evaluator()
    ActionAuthenticatorMixin.request_count = 0
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0


def stop_enforcing() -> None:
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")


def enforcing() -> bool:
    return bool(settings.INITIAL_NO_AUTH_ACTION_COUNT == 0)


_MESSAGE = re.compile(rb"<Message>(.*?)</Message>", re.DOTALL)


class DenialsAsAwsSendsThem:
    """moto writes its IAM refusals as query-protocol XML; a JSON-protocol service answers AccessDeniedException.

    Without this, botocore cannot read the refusal of, say, Organizations, and reports a bare "403".
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not enforcing():
            return self.app(environ, start_response)
        captured: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            captured[:] = [status, headers]
            return lambda data: None

        body = b"".join(self.app(environ, keep))
        status, headers = captured
        protocol = throttling_error(signing_service(environ))[3]
        xml = body.lstrip().startswith(b"<")
        if status.startswith("403") and xml and b"AccessDenied" in body and protocol in {"json", "rest-json"}:
            found = _MESSAGE.search(body)
            message = html.unescape(found.group(1).decode()) if found else "Access denied"
            body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
            kind = "application/json" if protocol == "rest-json" else "application/x-amz-json-1.1"
            dropped = {"content-type", "content-length", "x-amzn-errortype"}
            headers = [(k, v) for k, v in headers if k.lower() not in dropped]
            headers += [("Content-Type", kind), ("x-amzn-ErrorType", "AccessDeniedException")]
            headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]
