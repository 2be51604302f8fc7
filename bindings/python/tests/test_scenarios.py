"""Replays every fixtures/scenarios/*.json through the Python API.

The runner lives here, not in the library: it turns the binding's result objects into the
canonical JSON shapes of core/src/scenario.rs (`result_json`) and checks the expectations.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import pyotp
import pytest

import userpool

from .conftest import SCENARIOS, Host

FILES = sorted(SCENARIOS.glob("*.json"))


def test_every_scenario_is_collected() -> None:
    assert len(FILES) >= 35


def canonical(value: Any) -> Any:
    """The result as core's `scenario::result_json` shapes it."""
    if value is None or isinstance(value, (str, int, bool, float)):
        return value
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, userpool.CodeDelivery):
        return {"channel": value.channel, "destination": value.destination, "attribute": value.attribute}
    if isinstance(value, userpool.Tokens):
        return {
            "id_token": value.id_token,
            "access_token": value.access_token,
            "refresh_token": value.refresh_token,
            "expires_in": value.expires_in,
            "token_type": value.token_type,
        }
    if isinstance(value, userpool.SignUpResult):
        return {
            "user_sub": value.user_sub,
            "confirmed": value.confirmed,
            "next_step": value.next_step.value,
            "code_delivery": canonical(value.code_delivery),
        }
    if isinstance(value, userpool.SignInResult):
        return {
            "next_step": value.next_step.value,
            "tokens": canonical(value.tokens),
            "session": value.session,
            "missing_attributes": list(value.missing_attributes),
            "code_delivery": canonical(value.code_delivery),
            "allowed_mfa_types": list(value.allowed_mfa_types),
            "totp_setup": canonical(value.totp_setup),
        }
    if isinstance(value, userpool.TotpSetup):
        return {"secret": value.secret, "uri": value.uri}
    if isinstance(value, userpool.Group):
        return {"name": value.name, "description": value.description, "precedence": value.precedence}
    if isinstance(value, userpool.User):
        return {
            "username": value.username,
            "sub": value.sub,
            "status": value.status.value,
            "enabled": value.enabled,
            "attributes": dict(value.attributes),
            "mfa_enabled": list(value.mfa_enabled),
            "preferred_mfa": value.preferred_mfa,
            "groups": list(value.groups),
            "username_attribute": value.username_attribute,
        }
    if isinstance(value, userpool.UserList):
        return {"users": [canonical(u) for u in value.users], "pagination_token": value.pagination_token}
    if isinstance(value, userpool.GroupList):
        return {"groups": [canonical(g) for g in value.groups], "pagination_token": value.pagination_token}
    if isinstance(value, userpool.CreatedUser):
        return {"user": canonical(value.user), "code_delivery": canonical(value.code_delivery)}
    if isinstance(value, userpool.AttributeUpdate):
        return {
            "attribute": value.attribute,
            "needs_code": value.needs_code,
            "code_delivery": canonical(value.code_delivery),
        }
    if isinstance(value, userpool.AuthEvent):
        return {"kind": value.kind, "success": value.success, "detail": value.detail}
    raise TypeError(f"no canonical shape for {type(value).__name__}")


REFERENCE = re.compile(r"^\$\{(.*)\}$")


def resolve(value: Any, saved: dict[str, Any], host: Host) -> Any:
    if isinstance(value, str):
        match = REFERENCE.match(value)
        if not match:
            return value
        reference = match.group(1)
        if reference.startswith("code:"):
            # DEST#N: the code N messages before the newest to DEST.
            destination, _, back = reference[len("code:") :].partition("#")
            codes = [m.code for m in host.messages if m.destination == destination]
            assert len(codes) > int(back or 0), f"no code #{back or 0} was delivered to {destination}"
            return codes[-1 - int(back or 0)]
        name, _, path = reference.partition(".")
        found = lookup(saved[name], path)
        assert found is not MISSING, f"{reference} is not in the saved result"
        return found
    if isinstance(value, dict):
        return {k: resolve(v, saved, host) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, saved, host) for v in value]
    return value


MISSING = object()


def lookup(value: Any, path: str) -> Any:
    if not path:
        return value
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
    return value


def same_json(a: Any, b: Any) -> bool:
    """JSON equality (so `true` never equals `1`)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def check(value: Any, expect: dict[str, Any]) -> None:
    for path, expected in expect.items():
        if path == "length" or path.endswith(".length"):
            listed = lookup(value, path[: -len("length")].rstrip("."))
            actual: Any = len(listed) if isinstance(listed, list) else None
        else:
            actual = lookup(value, path)
            actual = None if actual is MISSING else actual
        assert same_json(actual, expected), f"{path}: expected {expected!r}, got {actual!r}"


def call(pool: userpool.UserPool, op: str, args: dict[str, Any]) -> Any:
    if op == "admin_create_user":
        args = {"send_invitation": True, **args}  # the scenario format's default
    if op == "associate_software_token" and "session" in args:
        return canonical(pool.associate_software_token_with_session(**args))
    if op == "admin_set_user_password":
        args = {"permanent": False, **args}  # the scenario format's default
    if op == "admin_import_users":
        outcomes = pool.admin_import_users([userpool.ImportUser(**row) for row in args["users"]])
        return [
            {"sub": o, "code": None} if isinstance(o, str) else {"sub": None, "code": o.code} for o in outcomes
        ]
    result = getattr(pool, op)(**args)
    if op == "jwks":
        return json.loads(result)
    return canonical(result)


# The fields of the format (core/src/scenario.rs): any other is a typo that would turn a check
# off, and is refused.
SCENARIO_FIELDS = {"name", "description", "config", "start_ms", "steps"}
STEP_FIELDS = {"op", "args", "secs", "expect", "expect_error", "save", "expect_messages", "note"}


def run(path: Path, store: Optional[Path]) -> None:
    scenario = json.loads(path.read_text())
    assert set(scenario) <= SCENARIO_FIELDS, f"unknown scenario fields: {set(scenario) - SCENARIO_FIELDS}"
    assert isinstance(scenario.get("steps"), list), "a scenario needs steps"
    for i, step in enumerate(scenario["steps"]):
        assert set(step) <= STEP_FIELDS, f"step {i + 1}: unknown step fields: {set(step) - STEP_FIELDS}"
    host = Host(now_ms=scenario.get("start_ms", 1_700_000_000_000))
    failing = False

    def deliver(message: userpool.Message) -> None:
        if failing:
            raise ConnectionError("the scenario made delivery fail")
        host.messages.append(message)

    pool = userpool.UserPool.open(
        path=store, config=scenario.get("config") or {}, delivery=deliver, clock=host.clock
    )
    saved: dict[str, Any] = {}
    for i, step in enumerate(scenario["steps"], start=1):
        at = f"{path.name} step {i} ({step['op']})"
        before = len(host.messages)
        outcome: Any = None
        error: Optional[userpool.AuthError] = None
        if step["op"] == "advance":
            host.advance(step["secs"])
        elif step["op"] == "totp":
            # The authenticator app, played by pyotp (independent of the engine's TOTP).
            args = resolve(step.get("args", {}), saved, host)
            now_secs = host.now_ms // 1000 + args.get("offset_secs", 0)
            outcome = {"code": pyotp.TOTP(args["secret"]).at(now_secs)}
        elif step["op"] == "fail_delivery":
            failing = step.get("args", {}).get("failing", True)
        else:
            args = resolve(step.get("args", {}), saved, host)
            try:
                outcome = call(pool, step["op"], args)
            except userpool.AuthError as e:
                error = e
        delivered = len(host.messages) - before
        if "expect_messages" in step:
            assert delivered == step["expect_messages"], f"{at}: {delivered} messages delivered"
        expected_error = step.get("expect_error")
        if expected_error is None:
            assert error is None, f"{at}: unexpected {error!r} ({error.code if error else ''})"
            try:
                check(outcome, resolve(step.get("expect", {}), saved, host))
            except AssertionError as e:
                raise AssertionError(f"{at}: {e}") from None
            if "save" in step:
                saved[step["save"]] = outcome
        else:
            assert error is not None, f"{at}: expected {expected_error}, got success {outcome!r}"
            assert error.code == expected_error, f"{at}: expected {expected_error}, got {error.code}"
            assert type(error).__name__ == expected_error[: -len("Exception")] + "Error"
            if expected_error == "CodeDeliveryFailureException":
                assert isinstance(error.__cause__, ConnectionError), f"{at}: delivery exception not chained"


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_scenario(path: Path) -> None:
    run(path, None)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_scenario_on_sqlite(path: Path, tmp_path: Path) -> None:
    run(path, tmp_path / "pool.db")
