"""Small corrections to moto where it answers differently from AWS in ways orgdeploy reads."""

from __future__ import annotations

from typing import Any

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
        return params

    Stack.parameter_list = property(parameter_list)  # type: ignore[method-assign,assignment]
    _INSTALLED.add("parameter_list")
