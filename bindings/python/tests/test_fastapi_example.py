"""The FastAPI example, driven through FastAPI's test client."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi.testclient import TestClient

import userpool

from .conftest import PASSWORD, fast_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import fastapi_app  # noqa: E402


def test_sign_up_confirm_sign_in_and_protected_route() -> None:
    messages: list[userpool.Message] = []
    client = TestClient(fastapi_app.create_app(config=fast_config(), delivery=messages.append))

    assert client.get("/me").status_code in (401, 403)  # no bearer token
    response = client.post("/sign-up", json={"username": "alice", "password": PASSWORD, "email": "alice@example.com"})
    assert response.status_code == 200 and response.json()["next_step"] == "CONFIRM_SIGN_UP"
    duplicate = client.post("/sign-up", json={"username": "alice", "password": PASSWORD, "email": "a@example.com"})
    assert duplicate.status_code == 409 and duplicate.json()["detail"]["code"] == "UsernameExistsException"

    early = client.post("/sign-in", json={"username": "alice", "password": PASSWORD})
    assert early.json()["next_step"] == "CONFIRM_SIGN_UP"
    wrong = client.post("/confirm", json={"username": "alice", "code": "000000"})
    assert wrong.status_code == 400 and wrong.json()["detail"]["code"] == "CodeMismatchException"
    assert client.post("/confirm", json={"username": "alice", "code": messages[-1].code}).status_code == 200

    signed_in = client.post("/sign-in", json={"username": "alice", "password": PASSWORD}).json()
    assert signed_in["next_step"] == "DONE"
    me = client.get("/me", headers={"Authorization": f"Bearer {signed_in['access_token']}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"

    forged = client.get("/me", headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401 and forged.json()["detail"]["code"] == "NotAuthorizedException"
    bad_password = client.post("/sign-in", json={"username": "alice", "password": "wrong password"})
    assert bad_password.status_code == 401
    assert client.get("/.well-known/jwks.json").json()["keys"]


def test_text_with_a_lone_surrogate_is_a_400_not_a_500() -> None:
    client = TestClient(fastapi_app.create_app(config=fast_config(), delivery=lambda _m: None))
    for path, body in [
        ("/sign-in", '{"username": "alice", "password": "\\ud800"}'),
        ("/sign-up", '{"username": "\\ud800", "password": "x", "email": "a@example.com"}'),
    ]:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["detail"]["code"] == "InvalidParameterException"
