"""AWS Config calls from member accounts meet their SCPs, and each write is told to EventBridge as CloudTrail tells it.

ConfigCallGate wraps moto's WSGI application. For a Config request (X-Amz-Target
`StarlingDoveService.<Operation>`) it finds the caller from the signed access key (an assumed
role, an IAM user, or the account root), then:

- refuses the call with AccessDeniedException when a service control policy's Deny applies
  (org/scp.py), with the message AWS gives for "an explicit deny in a service control policy";
- puts an "AWS API Call via CloudTrail" event on the caller's default event bus in that Region for
  every call that is not read-only (EventBridge receives no Describe, Get, List or Select calls),
  with `errorCode` and `errorMessage` when the call was refused or failed.

A stack's own resources are made inside moto, not through HTTP, so CloudFormation's calls (the
StackSets execution role's) make no events here; on AWS they would, as that role.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends
from moto.iam import models as iam_models
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends

from orgdeploy.sandbox import clock
from orgdeploy.sandbox.compliance.evaluations import current
from orgdeploy.sandbox.org.scp import explicit_deny
from orgdeploy.sandbox.throttle import StartResponse, WsgiApp

TARGET_PREFIX = "StarlingDoveService."
READ_ONLY = ("Describe", "Get", "List", "Select", "BatchGet")
CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"


def _credential(environ: dict[str, Any]) -> tuple[str, str]:
    """The access key id and Region of a SigV4-signed request."""
    auth = str(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        return scope[0], scope[2]
    except IndexError:
        return "", "us-east-1"


def caller_identity(access_key: str) -> dict[str, Any]:
    """CloudTrail's userIdentity for the key: an assumed role, an IAM user, or the root."""
    account = iam_models.get_account_id_from(access_key)  # through the module: the sandbox indexes it
    for assumed in list(sts_backends[account]["aws"].assumed_roles):
        if assumed.access_key_id == access_key:
            role_name = assumed.role_arn.split("/")[-1]
            role_arn = f"arn:aws:iam::{account}:role/{role_name}"
            return {
                "type": "AssumedRole",
                "principalId": f"AROA{hashlib.sha1(role_arn.encode()).hexdigest()[:17].upper()}:{assumed.session_name}",
                "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{assumed.session_name}",
                "accountId": account,
                "accessKeyId": access_key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn, "accountId": account,
                                                     "userName": role_name}},
            }  # fmt: skip
    for user in list(iam_backends[account]["aws"].users.values()):
        if any(k.access_key_id == access_key for k in user.access_keys):
            return {"type": "IAMUser", "principalId": user.id, "arn": user.arn, "accountId": account,
                    "accessKeyId": access_key, "userName": user.name}  # fmt: skip
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account,
            "accessKeyId": access_key}  # fmt: skip


def principal_arn(identity: dict[str, Any]) -> str:
    """aws:PrincipalArn: for a role session, the role's ARN, not the session's."""
    issuer = identity.get("sessionContext", {}).get("sessionIssuer", {})
    return str(issuer.get("arn") or identity["arn"])


def resource_arn(operation: str, params: dict[str, Any], account: str, region: str) -> str:
    """The ARN IAM evaluates the call against; '*' for calls IAM gives no resource type."""
    base = f"arn:aws:config:{region}:{account}:"
    recorder = params.get("ConfigurationRecorderName") or (params.get("ConfigurationRecorder") or {}).get("name")
    if recorder and "ConfigurationRecorder" in operation:
        return f"{base}configuration-recorder/{recorder}/{_id(account, region, recorder)}"
    pack = params.get("ConformancePackName")
    if pack and "ConformancePack" in operation:
        return f"{base}conformance-pack/{pack}/conformance-pack-{_id(account, region, pack)}"
    rule = params.get("ConfigRuleName") or (params.get("ConfigRule") or {}).get("ConfigRuleName")
    if rule:
        found = [r for r in current().rules_in(account, region) if r.name == rule]
        return found[0].arn if found else f"{base}config-rule/config-rule-{_id(account, region, rule)}"
    return "*"


def _id(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:6]


def _refusal(identity: dict[str, Any], action: str, resource: str) -> dict[str, str]:
    return {
        "__type": "AccessDeniedException",
        "message": f"User: {identity['arn']} is not authorized to perform: {action} on resource: {resource} "
        "with an explicit deny in a service control policy",
    }


def cloudtrail_event(
    identity: dict[str, Any], operation: str, region: str, params: dict[str, Any], error: dict[str, str] | None
) -> dict[str, Any]:
    """The PutEvents entry for one Config call, shaped as CloudTrail's record of it."""
    when = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": when,
        "eventSource": "config.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": "127.0.0.1",
        "userAgent": "sandbox",
        "requestParameters": params,
        "responseElements": None,
        "requestID": hashlib.sha1(f"{when}{operation}{identity['arn']}".encode()).hexdigest(),
        "eventType": "AwsApiCall",
        "readOnly": False,
        "managementEvent": True,
        "recipientAccountId": identity["accountId"],
        "eventCategory": "Management",
    }
    if error:
        detail["errorCode"], detail["errorMessage"] = error.get("__type", ""), error.get("message", "")
    return {"Source": "aws.config", "DetailType": CLOUDTRAIL_DETAIL_TYPE, "Detail": json.dumps(detail),
            "Time": clock.now(), "Resources": []}  # fmt: skip


class ConfigCallGate:
    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if not target.startswith(TARGET_PREFIX):
            return self.app(environ, start_response)
        operation = target.removeprefix(TARGET_PREFIX)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        access_key, region = _credential(environ)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return self.app(environ, start_response)
        identity = caller_identity(access_key)
        account = identity["accountId"]
        action, resource = f"config:{operation}", resource_arn(operation, params, account, region)
        told = not operation.startswith(READ_ONLY)
        if explicit_deny(account, principal_arn(identity), action, resource) is not None:
            refusal = _refusal(identity, action, resource)
            if told:
                self._tell(account, region, cloudtrail_event(identity, operation, region, params, refusal))
            payload = json.dumps(refusal).encode()
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "AccessDeniedException"),
                 ("Content-Length", str(len(payload)))],
            )  # fmt: skip
            return [payload]
        if not told:
            return self.app(environ, start_response)
        captured: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            captured[:] = [status, headers]
            return start_response(status, headers, *rest)

        answer = b"".join(self.app(environ, keep))
        error = None
        if captured and not str(captured[0]).startswith("2"):
            try:
                found = json.loads(answer or b"{}")
                error = {"__type": str(found.get("__type", "")).split("#")[-1], "message": found.get("message", "")}
            except ValueError:
                error = {"__type": str(captured[0]), "message": ""}
        self._tell(account, region, cloudtrail_event(identity, operation, region, params, error))
        return [answer]

    @staticmethod
    def _tell(account: str, region: str, entry: dict[str, Any]) -> None:
        events_backends[account][region].put_events([entry])
