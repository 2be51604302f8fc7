"""The binding's own glue: type conversions, errors and their classes, host callbacks,
bad input, the GIL, and the asyncio flavour."""

from __future__ import annotations

import ast
import asyncio
import gc
import inspect
import re
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import userpool
import userpool.aio

from .conftest import PASSWORD, REPO, Host, fast_config, signed_in

# ── conversions ─────────────────────────────────────────────────────────────────────────


def test_sign_up_result_is_typed_and_frozen(pool: userpool.UserPool, host: Host) -> None:
    result = pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert isinstance(result, userpool.SignUpResult)
    assert result.next_step is userpool.SignUpStep.CONFIRM_SIGN_UP
    assert result.next_step == "CONFIRM_SIGN_UP" and isinstance(result.next_step, str)
    assert str(result.next_step) == f"{result.next_step}" == "CONFIRM_SIGN_UP", "printed as its value"
    assert repr(result.next_step) == "<SignUpStep.CONFIRM_SIGN_UP: 'CONFIRM_SIGN_UP'>"
    assert result.confirmed is False
    assert re.fullmatch(r"[0-9a-f-]{36}", result.user_sub)
    assert result.code_delivery == result.code_delivery  # eq on the value
    delivery = result.code_delivery
    assert delivery is not None
    assert (delivery.channel, delivery.attribute) == ("EMAIL", "email")
    assert delivery.destination != "alice@example.com" and "***" in delivery.destination
    with pytest.raises(AttributeError):
        result.confirmed = True  # type: ignore[misc]


def test_tokens_claims_and_user(pool: userpool.UserPool, host: Host) -> None:
    tokens = signed_in(pool, host)
    assert isinstance(tokens.expires_in, int) and tokens.expires_in == 3600
    assert tokens.token_type == "Bearer"
    assert tokens.access_token not in repr(tokens) and tokens.refresh_token not in repr(tokens)
    claims = pool.verify_access_token(tokens.access_token)
    assert claims["username"] == "alice" and claims["token_use"] == "access"
    assert pool.verify_access_token(tokens.access_token, claims["client_id"]) == claims
    with pytest.raises(userpool.NotAuthorizedError):
        pool.verify_access_token(tokens.access_token, "another-client")
    assert isinstance(claims["exp"], int) and claims["exp"] - claims["iat"] == 3600
    id_claims = pool.verify_id_token(tokens.id_token)
    assert id_claims["email"] == "alice@example.com"
    assert id_claims["email_verified"] is True
    user = pool.get_user(tokens.access_token)
    assert user.status is userpool.UserStatus.CONFIRMED and user.enabled is True
    assert user.attributes["email"] == "alice@example.com" and user.attributes["sub"] == user.sub
    assert isinstance(user.created_ms, int)
    assert user == pool.admin_get_user("alice")


def test_repr_hides_secrets(pool: userpool.UserPool, host: Host) -> None:
    pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    message = host.messages[-1]
    assert message.code in message.text
    assert message.code not in repr(message)
    assert "alice" not in repr(message), "no address or username in a log line"
    assert (message.channel, message.purpose, message.username) == ("EMAIL", "sign_up", "alice")
    pool.admin_create_user("bob", {"email": "bob@example.com"}, "Temporary pass 1", send_invitation=False)
    result = pool.sign_in("bob", "Temporary pass 1")
    assert result.session and result.session not in repr(result)
    phc = "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
    row = userpool.ImportUser("carol", password_hash=phc)
    assert row.password_hash == phc and phc not in repr(row)
    assert row == userpool.ImportUser("carol", password_hash=phc) != userpool.ImportUser("carol")


def test_admin_and_listing_results(pool: userpool.UserPool, host: Host) -> None:
    created = pool.admin_create_user("bob", {"email": "bob@example.com"}, "Temporary pass 1", send_invitation=True)
    assert created.user.status is userpool.UserStatus.FORCE_CHANGE_PASSWORD
    assert created.code_delivery is not None and host.messages[-1].purpose == "invitation"
    challenge = pool.sign_in("bob", "Temporary pass 1")
    assert challenge.next_step is userpool.SignInStep.CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED
    assert challenge.session and not challenge.is_signed_in
    done = pool.confirm_sign_in(challenge.session, PASSWORD)
    assert done.is_signed_in and done.tokens is not None
    listed = pool.list_users(filter='username = "bob"', limit=10)
    assert [u.username for u in listed.users] == ["bob"] and listed.pagination_token is None
    events = pool.admin_list_user_auth_events("bob")
    assert events and all(isinstance(e, userpool.AuthEvent) for e in events)
    assert any(e.kind == "SignIn" and e.success for e in events)
    assert [e.at_ms for e in events] == sorted((e.at_ms for e in events), reverse=True)


def test_with_client_and_secret_hash(host: Host) -> None:
    clients = [{"id": "web"}, {"id": "server", "secret": "s3cret-s3cret-s3cret"}]
    pool = userpool.UserPool.open(config=fast_config(clients=clients), delivery=host.deliver, clock=host.clock)
    server = pool.with_client("server", "s3cret-s3cret-s3cret")
    server.sign_up("carol", PASSWORD, {"email": "carol@example.com"})
    with pytest.raises(userpool.NotAuthorizedError):
        pool.with_client("server").confirm_sign_up("carol", host.last_code_to("carol@example.com"))
    with pytest.raises(userpool.NotAuthorizedError):
        pool.with_client("server", "wrong")
    with pytest.raises(userpool.ResourceNotFoundError):
        pool.with_client("nope")
    hashed = pool.with_client_secret_hash("server", userpool.secret_hash("s3cret-s3cret-s3cret", "carol", "server"))
    hashed.confirm_sign_up("carol", host.last_code_to("carol@example.com"))
    tokens = hashed.sign_in("carol", PASSWORD).tokens
    assert tokens is not None
    assert pool.verify_id_token(tokens.id_token, "server")["aud"] == "server"
    with pytest.raises(userpool.NotAuthorizedError):
        pool.verify_id_token(tokens.id_token)  # the default client is "web"
    assert pool.with_client("server", "s3cret-s3cret-s3cret").pool_id == "local_pytest"
    # The configuration as text may be printed or logged: the secret is not in it.
    assert "s3cret" not in pool.config() and 'secret = "<redacted>"' in pool.config()


def test_config_as_toml_text_and_dict(host: Host) -> None:
    toml = '\n'.join([
        'pool_id = "local_toml"',
        "[password_hashing]",
        "memory_kib = 256",
        "iterations = 1",
        "dangerous_allow_weak = true",
    ])
    pool = userpool.UserPool.open(config=toml, delivery=host.deliver)
    assert pool.pool_id == "local_toml" and pool.issuer.endswith("/local_toml")
    assert 'pool_id = "local_toml"' in pool.config()
    assert userpool.UserPool.open(config=fast_config(pool_id="local_dict")).pool_id == "local_dict"
    assert userpool.UserPool.open().pool_id == "local_default"


# ── errors ──────────────────────────────────────────────────────────────────────────────


def core_error_codes() -> list[str]:
    """The Cognito names of `ErrorCode::ALL`, read from core/src/error.rs."""
    source = (REPO / "core" / "src" / "error.rs").read_text()
    block = source[source.index("pub const fn as_str") : source.index("pub fn from_name")]
    return re.findall(r'=> "(\w+)"', block)


def test_one_error_class_per_core_error_code() -> None:
    codes = core_error_codes()
    assert len(codes) >= 20
    assert sorted(userpool.ERROR_CODES) == sorted(codes)
    for code in codes:
        name = code[: -len("Exception")] + "Error"
        cls = getattr(userpool, name)
        assert issubclass(cls, userpool.AuthError) and issubclass(cls, Exception)
        assert cls.code == code and cls.__module__ == "userpool" and cls.__doc__
        assert name in userpool.__all__
    stub = ast.parse((REPO / "bindings/python/python/userpool/_native.pyi").read_text())
    stubbed = {n.name for n in stub.body if isinstance(n, ast.ClassDef) and any(
        isinstance(b, ast.Name) and b.id == "AuthError" for b in n.bases)}
    assert stubbed == {c[: -len("Exception")] + "Error" for c in codes}


def test_errors_carry_code_and_message(pool: userpool.UserPool, host: Host) -> None:
    pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    with pytest.raises(userpool.UsernameExistsError) as caught:
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert caught.value.code == "UsernameExistsException"
    assert caught.value.message and str(caught.value) == caught.value.message
    with pytest.raises(userpool.AuthError) as wrong:
        pool.confirm_sign_up("alice", "000000")
    assert isinstance(wrong.value, userpool.CodeMismatchError)
    assert wrong.value.code == "CodeMismatchException"
    assert "000000" not in str(wrong.value)


# ── delivery callback ───────────────────────────────────────────────────────────────────


def test_delivery_exception_is_chained_and_nothing_changes(pool: userpool.UserPool, host: Host) -> None:
    boom = ConnectionError("smtp is down for alice@example.com")
    host.failure = boom
    with pytest.raises(userpool.CodeDeliveryFailureError) as caught:
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert caught.value.__cause__ is boom
    assert caught.value.code == "CodeDeliveryFailureException"
    assert "alice@example.com" not in caught.value.message  # only the exception's type is named
    with pytest.raises(userpool.UserNotFoundError):
        pool.admin_get_user("alice")
    assert pool.list_users().users == []
    host.failure = None
    assert pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"}).user_sub
    code = host.last_code_to("alice@example.com")
    pool.confirm_sign_up("alice", code)
    host.failure = ValueError("queue full")
    with pytest.raises(userpool.CodeDeliveryFailureError) as again:
        pool.forgot_password("alice")
    assert isinstance(again.value.__cause__, ValueError)
    host.failure = None
    with pytest.raises(userpool.ExpiredCodeError):  # no reset code was left behind
        pool.confirm_forgot_password("alice", code, "a whole new passphrase")


def test_a_later_error_does_not_inherit_an_old_delivery_exception(pool: userpool.UserPool, host: Host) -> None:
    host.failure = RuntimeError("down")
    with pytest.raises(userpool.CodeDeliveryFailureError):
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    with pytest.raises(userpool.UserNotFoundError) as caught:
        pool.admin_get_user("alice")
    assert caught.value.__cause__ is None


def test_a_delivery_returning_false_has_not_sent_the_message(host: Host) -> None:
    answers: list[Any] = [False]
    pool = userpool.UserPool.open(config=fast_config(), delivery=lambda m: answers[0], clock=host.clock)
    with pytest.raises(userpool.CodeDeliveryFailureError, match="returned False") as failed:
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert failed.value.__cause__ is None
    with pytest.raises(userpool.UserNotFoundError):
        pool.admin_get_user("alice")
    for i, answer in enumerate((None, True, 0, "", "sent")):
        answers[0] = answer
        assert pool.sign_up(f"user{i}", PASSWORD, {"email": "a@example.com"}).next_step == "CONFIRM_SIGN_UP"


def test_an_async_delivery_callback_is_refused_not_left_unrun(host: Host) -> None:
    sent: list[userpool.Message] = []

    async def deliver(message: userpool.Message) -> None:
        sent.append(message)

    pool = userpool.UserPool.open(config=fast_config(), delivery=deliver, clock=host.clock)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(userpool.CodeDeliveryFailureError) as caught:
            pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
        gc.collect()
    assert not [w for w in seen if "never awaited" in str(w.message)], "the coroutine is closed, not dropped"
    assert isinstance(caught.value.__cause__, TypeError)
    assert "async def" in str(caught.value.__cause__)
    assert sent == []
    with pytest.raises(userpool.UserNotFoundError):
        pool.admin_get_user("alice")


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3)])
def test_an_interrupt_in_a_callback_is_raised_as_it_is(host: Host, interrupt: BaseException) -> None:
    pool = userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=host.clock)
    host.failure = interrupt
    with pytest.raises(type(interrupt)) as caught:
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert caught.value is interrupt
    with pytest.raises(userpool.UserNotFoundError):
        pool.admin_get_user("alice")
    # From the clock: the operation ends, then the interrupt is raised, not sent to the hook.
    host.failure = None
    state = {"interrupt": False}

    def clock() -> int:
        if state["interrupt"]:
            raise interrupt
        return host.now_ms

    timed = userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=clock)
    state["interrupt"] = True
    with pytest.raises(type(interrupt)):
        timed.sign_up("bob", PASSWORD, {"email": "bob@example.com"})


def test_an_interrupt_survives_a_delivery_that_calls_the_pool(host: Host) -> None:
    """The clock raises Ctrl-C early in a sign-up; the delivery then calls the pool itself."""
    state = {"armed": False}

    def clock() -> int:
        if state["armed"]:
            state["armed"] = False
            raise KeyboardInterrupt
        return host.now_ms

    def deliver(message: userpool.Message) -> None:
        pool.list_users()
        host.deliver(message)

    pool = userpool.UserPool.open(config=fast_config(), delivery=deliver, clock=clock)
    state["armed"] = True
    with pytest.raises(KeyboardInterrupt):
        pool.sign_up("carol", PASSWORD, {"email": "carol@example.com"})
    assert [m.destination for m in host.messages] == ["carol@example.com"]


def test_no_delivery_refuses_to_send() -> None:
    pool = userpool.UserPool.open(config=fast_config())
    with pytest.raises(userpool.CodeDeliveryFailureError) as caught:
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert caught.value.__cause__ is None


def test_clock_callable_moves_time(pool: userpool.UserPool, host: Host) -> None:
    tokens = signed_in(pool, host)
    pool.verify_access_token(tokens.access_token)
    host.advance(3601)
    with pytest.raises(userpool.NotAuthorizedError):
        pool.verify_access_token(tokens.access_token)


def test_a_failing_clock_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch, host: Host) -> None:
    state = {"fail": False}

    def clock() -> int:
        if state["fail"]:
            raise OSError("clock unplugged")
        return host.now_ms

    pool = userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=clock)
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    state["fail"] = True
    pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert reported and isinstance(reported[0].exc_value, OSError)


def test_a_clock_may_answer_a_float_of_milliseconds(host: Host) -> None:
    pool = userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=lambda: host.now_ms + 0.75)
    created = pool.admin_create_user("hana", {"email": "hana@example.com"}, send_invitation=False)
    assert created.user.created_ms == host.now_ms
    for bad in (float("nan"), float("inf"), 1e300):
        with pytest.raises(ValueError, match="not a finite time in unix milliseconds"):
            userpool.UserPool.open(config=fast_config(), clock=lambda bad=bad: bad)


def test_a_clock_reading_at_or_before_1970_is_a_failed_one(monkeypatch: pytest.MonkeyPatch, host: Host) -> None:
    for epoch in (0, -5, 0.5):
        with pytest.raises(ValueError, match="at or before 1970"):
            userpool.UserPool.open(config=fast_config(), clock=lambda epoch=epoch: epoch)
    # Seconds (a bare time.time()) and nanoseconds are not unix milliseconds.
    for other_unit in (host.now_ms / 1000, host.now_ms * 1_000_000):
        with pytest.raises(ValueError, match="between the years 2000 and 3000"):
            userpool.UserPool.open(config=fast_config(), clock=lambda other_unit=other_unit: other_unit)
    state = {"now": host.now_ms}
    pool = userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=lambda: state["now"])
    reported: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", reported.append)
    state["now"] = 0
    created = pool.admin_create_user("ivan", {"email": "ivan@example.com"}, send_invitation=False)
    assert host.now_ms <= created.user.created_ms < host.now_ms + 60_000, "dated by the last good reading"
    assert reported and isinstance(reported[0].exc_value, ValueError)


# ── bad input ───────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda p: p.sign_up(None, PASSWORD), TypeError),
        (lambda p: p.sign_up(42, PASSWORD), TypeError),
        (lambda p: p.sign_up("alice", b"bytes password"), TypeError),
        (lambda p: p.sign_up("alice", PASSWORD, {1: "x"}), TypeError),
        (lambda p: p.sign_up("alice", PASSWORD, {"email": 5}), TypeError),
        (lambda p: p.sign_up("alice", PASSWORD, ["email"]), TypeError),
        (lambda p: p.sign_up("al\ud800ice", PASSWORD), ValueError),
        (lambda p: p.sign_up("alice", PASSWORD, {"email": "a\udfff@example.com"}), ValueError),
        (lambda p: p.sign_up("a" * 10_000_000, PASSWORD), userpool.InvalidParameterError),
        (lambda p: p.sign_up("alice", "p" * 10_000_000), userpool.InvalidParameterError),
        (lambda p: p.sign_in("alice", "p" * 10_000_000), userpool.InvalidParameterError),
        (lambda p: p.verify_access_token("x" * 10_000_000), userpool.NotAuthorizedError),
        (lambda p: p.confirm_sign_up("alice", "1" * 1_000_000), userpool.InvalidParameterError),
        (lambda p: p.list_users(limit=-1), ValueError),
        (lambda p: p.list_users(limit=2**80), ValueError),
        (lambda p: p.list_users(limit=2**200), ValueError),
        (lambda p: p.list_users(limit="5"), TypeError),
        (lambda p: p.list_users(limit=True), TypeError),
        (lambda p: p.list_users(limit=0), userpool.InvalidParameterError),
        (lambda p: p.admin_delete_user_attributes("alice", "email"), TypeError),
        (lambda p: p.admin_create_user("bob", send_invitation="yes"), TypeError),
        (lambda p: p.admin_create_user("bob"), TypeError),
        (lambda p: p.refresh(None), TypeError),
    ],
)
def test_bad_input_is_a_python_error_never_a_crash(
    pool: userpool.UserPool, call: Any, error: type[BaseException]
) -> None:
    with pytest.raises(error):
        call(pool)
    assert pool.list_users().users == []


def test_a_lone_surrogate_in_a_secret_is_refused_without_the_secret(pool: userpool.UserPool) -> None:
    secret = "hunter2-correct-horse\ud800"
    calls = [
        lambda: pool.sign_up("alice", secret),
        lambda: pool.sign_in("alice", secret),
        lambda: pool.refresh(secret),
        lambda: pool.confirm_sign_up("alice", secret),
        lambda: pool.admin_set_user_password("alice", secret, permanent=True),
        lambda: userpool.ImportUser("alice", password_hash=secret),
    ]
    for call in calls:
        with pytest.raises(UnicodeEncodeError) as caught:
            call()
        shown = repr(caught.value) + str(caught.value) + repr(caught.value.args) + repr(caught.value.__cause__)
        assert "hunter2" not in shown and "hunter2" not in caught.value.object, shown
    assert pool.list_users().users == []


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"config": 5}, TypeError),
        ({"config": ["pool_id"]}, TypeError),
        ({"config": "pool_id = "}, userpool.InvalidUserPoolConfigurationError),
        ({"config": {"no_such_key": 1}}, userpool.InvalidUserPoolConfigurationError),
        ({"config": {"pool_id": float("nan")}}, ValueError),
        ({"config": {"pool_id": object()}}, TypeError),
        ({"config": {"pool_id": "bad id!"}}, userpool.InvalidUserPoolConfigurationError),
        ({"delivery": "not callable"}, TypeError),
        ({"clock": 17}, TypeError),
        ({"clock": lambda: "noon"}, TypeError),
        ({"clock": lambda: float("nan")}, ValueError),
        ({"clock": lambda: True}, TypeError),
        ({"encryption_key": "a str"}, TypeError),
        ({"encryption_key": memoryview(bytes(32))}, TypeError),
        ({"encryption_key": [0] * 32}, TypeError),
        ({"encryption_key": b"short"}, userpool.AuthError),
        ({"existing_only": "yes"}, TypeError),
    ],
)
def test_bad_open_arguments(kwargs: dict[str, Any], error: type[BaseException]) -> None:
    with pytest.raises(error):
        userpool.UserPool.open(**kwargs)


# ── the GIL ─────────────────────────────────────────────────────────────────────────────


def test_the_gil_is_released_while_the_engine_hashes(host: Host) -> None:
    """A ticker thread makes progress while a sign-in hashes on another thread.

    With a switch interval far longer than the test, the ticker only runs when this thread
    lets go of the GIL; it reads the counter before the call and again from the delivery
    callback, which the engine calls after hashing within the same call. No timing is
    asserted: only that the ticker ran inside the call.
    """
    # Real (OWASP-strength) hashing makes the hash long enough to be seen.
    pool = userpool.UserPool.open(config={"pool_id": "local_gil"}, delivery=lambda m: seen.append(count[0]))
    count = [0]
    seen: list[int] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            count[0] += 1
            time.sleep(0)  # lets this thread give the GIL back at once

    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    ticker = threading.Thread(target=tick)
    try:
        ticker.start()
        progressed = False
        for i in range(10):
            before = count[0]
            pool.sign_up(f"user{i}", PASSWORD, {"email": f"user{i}@example.com"})
            if seen[-1] > before:
                progressed = True
                break
    finally:
        stop.set()
        sys.setswitchinterval(old)
        ticker.join()
    assert progressed, "the ticker never ran during a sign-up: the GIL was held"


def test_two_threads_sign_in_at_once(pool: userpool.UserPool, host: Host) -> None:
    signed_in(pool, host, "alice")
    signed_in(pool, host, "bob")
    results: dict[str, str] = {}

    def sign_in(name: str) -> None:
        for _ in range(5):
            tokens = pool.sign_in(name, PASSWORD).tokens
            assert tokens is not None
            results[name] = pool.verify_access_token(tokens.access_token)["username"]

    threads = [threading.Thread(target=sign_in, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"alice": "alice", "bob": "bob"}


# ── asyncio ─────────────────────────────────────────────────────────────────────────────


def test_aio_offers_every_method_as_a_coroutine() -> None:
    sync_methods = {
        name for name, member in inspect.getmembers(userpool.UserPool)
        if not name.startswith("_") and callable(member)
    }
    plain = {"open", "with_client", "with_client_secret_hash", "config", "close"}
    for name in sync_methods - plain:
        assert inspect.iscoroutinefunction(getattr(userpool.aio.UserPool, name)), name
        sync_sig = inspect.signature(getattr(userpool.UserPool, name))
        aio_sig = inspect.signature(getattr(userpool.aio.UserPool, name))
        assert list(sync_sig.parameters)[1:] == list(aio_sig.parameters)[1:], name
    assert inspect.iscoroutinefunction(userpool.aio.UserPool.open)


def test_aio_journey_keeps_the_event_loop_free(host: Host) -> None:
    async def main() -> None:
        pool = await userpool.aio.UserPool.open(config=fast_config(), delivery=host.deliver, clock=host.clock)
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(ticker())
        await pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
        await pool.confirm_sign_up("alice", host.last_code_to("alice@example.com"))
        result = await pool.sign_in("alice", PASSWORD)
        done = True
        await task
        assert ticks > 0
        assert result.tokens is not None
        claims = await pool.verify_access_token(result.tokens.access_token)
        assert claims["username"] == "alice"
        created = await pool.admin_create_user("bob", send_invitation=False)
        assert created.user.username == "bob"
        host.failure = RuntimeError("down")
        with pytest.raises(userpool.CodeDeliveryFailureError) as caught:
            await pool.forgot_password("alice")
        assert isinstance(caught.value.__cause__, RuntimeError)
        assert pool.with_client("default").pool_id == pool.sync.pool_id

    asyncio.run(main())


# ── what core added with MFA, groups, import and the SQLite store ──────────────────────


def test_every_sign_in_step_of_core_is_in_the_enum() -> None:
    source = (REPO / "core" / "src" / "results.rs").read_text()
    block = source[source.index("impl SignInStep") :]
    block = block[: block.index("\n}\n")]
    names = re.findall(r'=> "(\w+)"', block)
    assert len(names) >= 9
    assert sorted(names) == sorted(step.value for step in userpool.SignInStep)


def test_mfa_preference_values_are_checked(host: Host) -> None:
    config = fast_config(mfa={"mode": "optional", "methods": ["totp"]})
    pool = userpool.UserPool.open(config=config, delivery=host.deliver, clock=host.clock)
    tokens = signed_in(pool, host)
    with pytest.raises(ValueError):
        pool.set_mfa_preference(tokens.access_token, totp="sometimes")
    # TOTP is allowed, but no authenticator is verified yet: the engine refuses.
    with pytest.raises(userpool.InvalidParameterError, match="authenticator"):
        pool.set_mfa_preference(tokens.access_token, totp="ENABLED")


def test_groups_reach_the_tokens(pool: userpool.UserPool, host: Host) -> None:
    signed_in(pool, host)
    group = pool.create_group("admins", "people who administer", 1)
    assert (group.name, group.description, group.precedence) == ("admins", "people who administer", 1)
    with pytest.raises(userpool.GroupExistsError):
        pool.create_group("admins")
    with pytest.raises(ValueError):
        pool.create_group("negative", None, -1)
    pool.admin_add_user_to_group("alice", "admins")
    assert [g.name for g in pool.admin_list_groups_for_user("alice")] == ["admins"]
    assert [u.username for u in pool.list_users_in_group("admins").users] == ["alice"]
    tokens = pool.sign_in("alice", PASSWORD).tokens
    assert tokens is not None
    assert pool.verify_access_token(tokens.access_token)["cognito:groups"] == ["admins"]
    assert pool.get_user(tokens.access_token).groups == ["admins"]
    listed = pool.list_groups()
    assert [g.name for g in listed.groups] == ["admins"] and listed.pagination_token is None
    pool.delete_group("admins")
    assert pool.list_groups().groups == []
    with pytest.raises(userpool.ResourceNotFoundError):
        pool.get_group("admins")


def test_import_returns_a_sub_or_an_error_per_user(pool: userpool.UserPool, host: Host) -> None:
    signed_in(pool, host)
    outcomes = pool.admin_import_users([
        userpool.ImportUser("bob", {"email": "bob@example.com", "email_verified": "true"}),
        userpool.ImportUser("alice"),
        userpool.ImportUser(""),
    ])
    assert isinstance(outcomes[0], str) and outcomes[0] == pool.admin_get_user("bob").sub
    assert isinstance(outcomes[1], userpool.UsernameExistsError) and outcomes[1].code == "UsernameExistsException"
    assert isinstance(outcomes[2], userpool.InvalidParameterError)
    assert pool.admin_get_user("bob").status is userpool.UserStatus.RESET_REQUIRED
    assert host.messages[-1].username == "alice"  # import sends nothing
    with pytest.raises(TypeError):
        pool.admin_import_users([{"username": "carol"}])  # type: ignore[list-item]


def test_a_bytearray_key_can_be_wiped_once_the_pool_is_open(tmp_path: Any, host: Host) -> None:
    path = tmp_path / "sealed.db"
    key = bytearray(range(32))
    kept = bytes(key)
    first = userpool.UserPool.open(
        path=path, config=fast_config(), delivery=host.deliver, clock=host.clock, encryption_key=key
    )
    key[:] = bytes(32)  # the caller wipes its copy; the pool keeps its own
    tokens = signed_in(first, host)
    again = userpool.UserPool.open(
        path=path, config=fast_config(), delivery=host.deliver, clock=host.clock, encryption_key=kept
    )
    assert again.verify_access_token(tokens.access_token)["username"] == "alice"
    with pytest.raises(userpool.AuthError):
        userpool.UserPool.open(
            path=path, config=fast_config(), delivery=host.deliver, clock=host.clock, encryption_key=bytes(32)
        )


def test_a_path_opens_a_sqlite_pool_that_survives_reopening(tmp_path: Any, host: Host) -> None:
    path = tmp_path / "users.db"
    first = userpool.UserPool.open(path=path, config=fast_config(), delivery=host.deliver, clock=host.clock)
    tokens = signed_in(first, host)
    assert path.exists()
    second = userpool.UserPool.open(path=str(path), config=fast_config(), delivery=host.deliver, clock=host.clock)
    assert second.admin_get_user("alice").status is userpool.UserStatus.CONFIRMED
    assert second.verify_access_token(tokens.access_token)["username"] == "alice"
    second.global_sign_out(tokens.access_token)
    with pytest.raises(userpool.NotAuthorizedError):
        first.verify_access_token(tokens.access_token)
    with pytest.raises(userpool.InvalidParameterError):
        userpool.UserPool.open(path=tmp_path / "missing-dir" / "users.db", config=fast_config())
    with pytest.raises(TypeError):
        userpool.UserPool.open(path=42)  # type: ignore[arg-type]


def test_a_backup_opens_as_the_pool_it_copied(tmp_path: Path, host: Host) -> None:
    pool = userpool.UserPool.open(
        path=tmp_path / "users.db", config=fast_config(), delivery=host.deliver, clock=host.clock
    )
    tokens = signed_in(pool, host)
    backups = tmp_path / "backups"
    backups.mkdir()
    pool.backup_to(backups / "copy.db")
    signed_in(pool, host, "bob")
    assert [f.name for f in backups.iterdir()] == ["copy.db"]
    assert (backups / "copy.db").stat().st_mode & 0o777 == 0o600
    copy = userpool.UserPool.open(path=backups / "copy.db", config=fast_config(), clock=host.clock, existing_only=True)
    assert copy.verify_access_token(tokens.access_token)["username"] == "alice"
    with pytest.raises(userpool.UserNotFoundError):
        copy.admin_get_user("bob")

    with pytest.raises(userpool.InvalidParameterError, match="exists already; a backup never replaces a file"):
        pool.backup_to(str(backups / "copy.db"))
    with pytest.raises(userpool.InvalidParameterError, match="does not exist"):
        pool.backup_to(tmp_path / "missing-dir" / "copy.db")
    with pytest.raises(TypeError):
        pool.backup_to(42)  # type: ignore[arg-type]
    in_memory = userpool.UserPool.open(config=fast_config())
    with pytest.raises(userpool.InvalidParameterError, match="in memory"):
        in_memory.backup_to(tmp_path / "memory.db")
    copy.close()
    asyncio.run(userpool.aio.UserPool(pool).backup_to(backups / "second.db"))
    pool.close()
    # Without opening the file as a pool.
    userpool.backup_file(tmp_path / "users.db", backups / "offline.db")
    assert sorted(f.name for f in backups.iterdir()) == ["copy.db", "offline.db", "second.db"]
    offline = userpool.UserPool.open(path=backups / "offline.db", config=fast_config(), existing_only=True)
    assert offline.admin_get_user("bob").username == "bob"
    offline.close()
    with pytest.raises(userpool.InvalidParameterError, match="does not exist"):
        userpool.backup_file(tmp_path / "nothing.db", backups / "nothing.db")


def test_a_handle_freed_unclosed_closes_its_file(tmp_path: Any, host: Host) -> None:
    """The last handle's close checkpoints the WAL into the file and removes it; a handle that
    Python frees unclosed gets the same close, as the guide says. (That the GIL is released
    for its sync, as close() releases it, is not something this test can see.)"""
    path = tmp_path / "freed.db"

    def job() -> None:
        pool = userpool.UserPool.open(path=path, config=fast_config(), delivery=host.deliver, clock=host.clock)
        pool.admin_create_user("bob", {"email": "bob@example.com"}, "Temporary pass 1", send_invitation=False)
        assert Path(f"{path}-wal").exists()

    job()
    gc.collect()
    assert not Path(f"{path}-wal").exists(), "closed as the handle was freed"
    reopened = userpool.UserPool.open(path=path, config=fast_config(), existing_only=True)
    assert reopened.admin_get_user("bob").username == "bob"
    reopened.close()


def test_existing_only_opens_what_is_there_and_creates_nothing(tmp_path: Any, host: Host) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(userpool.InvalidParameterError, match="does not exist"):
        userpool.UserPool.open(path=missing, config=fast_config(), existing_only=True)
    assert not missing.exists()
    other_app = tmp_path / "other.db"
    other_app.write_bytes(b"")
    with pytest.raises(userpool.InvalidParameterError, match="holds no userpool pools"):
        userpool.UserPool.open(path=other_app, config=fast_config(), existing_only=True)
    assert other_app.read_bytes() == b""

    path = tmp_path / "users.db"
    signed_in(userpool.UserPool.open(path=path, config=fast_config(), delivery=host.deliver, clock=host.clock), host)
    mistyped = fast_config(pool_id="local_pytset")
    with pytest.raises(userpool.ResourceNotFoundError, match="User pool local_pytset does not exist"):
        userpool.UserPool.open(path=path, config=mistyped, existing_only=True)
    # The mistyped pool was not made: it is refused again, and the real one is all there is.
    with pytest.raises(userpool.ResourceNotFoundError):
        userpool.UserPool.open(path=path, config=mistyped, existing_only=True)
    admin = userpool.UserPool.open(path=path, config=fast_config(), existing_only=True)
    assert [u.username for u in admin.list_users().users] == ["alice"]
    with pytest.raises(userpool.ResourceNotFoundError):
        userpool.UserPool.open(config=fast_config(), existing_only=True)  # memory holds no pool


def test_aio_open_forwards_existing_only(tmp_path: Any) -> None:
    opening = userpool.aio.UserPool.open(path=tmp_path / "none.db", config=fast_config(), existing_only=True)
    with pytest.raises(userpool.InvalidParameterError):
        asyncio.run(opening)
    assert not (tmp_path / "none.db").exists()


def test_delivery_failure_on_sqlite_leaves_nothing(tmp_path: Any, host: Host) -> None:
    pool = userpool.UserPool.open(path=tmp_path / "u.db", config=fast_config(), delivery=host.deliver)
    host.failure = OSError("smtp down")
    with pytest.raises(userpool.CodeDeliveryFailureError) as caught:
        pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    assert caught.value.__cause__ is host.failure
    with pytest.raises(userpool.UserNotFoundError):
        pool.admin_get_user("alice")


def test_the_quick_start_of_the_python_guide_runs(tmp_path: Any) -> None:
    guide = (REPO / "docs" / "bindings" / "python.md").read_text()
    quick_start = re.findall(r"```python\n(.*?)```", guide, re.S)[0]
    assert 'path="users.db"' in quick_start
    code = quick_start.replace('path="users.db"', f"path={str(tmp_path / 'users.db')!r}")
    exec(compile(code, "docs/bindings/python.md", "exec"), {})
    assert (tmp_path / "users.db").exists()


def test_config_text_may_be_json_and_keeps_its_secrets_out_of_errors(tmp_path: Path) -> None:
    import json

    pool = userpool.UserPool.open(config=json.dumps(fast_config(pool_id="from_json")))
    assert pool.pool_id == "from_json"
    toml = '[[clients]]\nid = "srv"\nsecret = "Zx9-kQ7-s3cret-s3cret"\nname = "\ud800"\n'
    with pytest.raises(UnicodeEncodeError) as caught:
        userpool.UserPool.open(config=toml)
    assert "kQ7" not in repr(caught.value.object) and "kQ7" not in str(caught.value)
    with pytest.raises(userpool.InvalidUserPoolConfigurationError) as wrong_type:
        userpool.UserPool.open(config={"clients": [{"id": "srv", "secret": 98765432109876543}]})
    assert "987" not in wrong_type.value.message


def test_an_open_refused_for_its_key_makes_no_file(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with pytest.raises(userpool.InvalidParameterError, match="32 bytes"):
        userpool.UserPool.open(path=path, config=fast_config(), encryption_key=b"short")
    assert not path.exists()


def test_a_sealed_pool_opens_with_its_own_key_only(tmp_path: Path) -> None:
    path = tmp_path / "sealed.sqlite3"
    userpool.UserPool.open(path=path, config=fast_config(), encryption_key=bytes([1]) * 32).close()
    for key in (bytes([2]) * 32, None):
        with pytest.raises(userpool.InvalidUserPoolConfigurationError, match="encryption key"):
            userpool.UserPool.open(path=path, config=fast_config(), encryption_key=key)


def test_every_public_method_of_the_core_pool_is_forwarded() -> None:
    """A method added to core's UserPool must appear here (and in the stub and aio)."""
    core = "".join(p.read_text() for p in sorted((REPO / "core" / "src" / "pool").glob("*.rs")))
    names = set(re.findall(r"^    pub fn (\w+)", core, re.M))
    # UserPool.open's arguments (open_existing is open(existing_only=True)); the CLI's
    # open_existing_as_recorded is for tools without the app's configuration, which a
    # Python host has
    builder = {
        "builder",
        "store",
        "sqlite",
        "delivery",
        "clock",
        "encryption_key",
        "open_existing",
        "open_existing_as_recorded",
    }
    # Forwarded as an optional argument of another method.
    merged = {"verify_access_token_for"}  # verify_access_token(token, client_id)
    assert len(names) > 50
    missing = sorted(n for n in names - builder - merged if not hasattr(userpool.UserPool, n))
    assert missing == []


def test_a_closed_handle_refuses_new_calls_and_closes_twice(host: Host) -> None:
    with userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=host.clock) as pool:
        view = pool.with_client("default")
        pool.admin_create_user("gina", {"email": "gina@example.com"}, send_invitation=False)
    pool.close()
    with pytest.raises(userpool.InvalidParameterError, match="closed"):
        pool.list_users()
    with pytest.raises(userpool.InvalidParameterError):
        pool.with_client("default")
    assert pool.pool_id == view.pool_id, "what the handle was stays readable"
    assert pool.config() == view.config()
    assert [u.username for u in view.list_users().users] == ["gina"], "a view is a handle of its own"


def test_a_closed_pool_lets_a_delivery_that_refers_to_it_be_collected() -> None:
    import weakref

    class Mailer:
        pool: userpool.UserPool | None = None

        def __call__(self, message: userpool.Message) -> None:
            assert self.pool is not None
            self.pool.list_users()

    def open_and_close(close: bool) -> weakref.ref[Mailer]:
        mailer = Mailer()
        mailer.pool = userpool.UserPool.open(config=fast_config(), delivery=mailer)
        mailer.pool.sign_up("carol", PASSWORD, {"email": "carol@example.com"})
        if close:
            mailer.pool.close()
        return weakref.ref(mailer)

    kept = open_and_close(close=False)
    closed = open_and_close(close=True)
    gc.collect()
    assert kept() is not None, "without close() the cycle runs through Rust, where gc cannot see"
    assert closed() is None, "closed, the pool let go of its delivery"


class ClosedWhere:
    """Stands for a pool and records the thread its ``close`` ran on."""

    def __init__(self, pool: userpool.UserPool) -> None:
        self.pool = pool
        self.threads: list[int] = []

    def close(self) -> None:
        self.threads.append(threading.get_ident())
        self.pool.close()


def test_the_asyncio_pool_closes_as_an_async_context_manager(host: Host, tmp_path: Path) -> None:
    async def main() -> None:
        path = tmp_path / "users.sqlite3"
        async with await userpool.aio.UserPool.open(path, fast_config(), delivery=host.deliver) as pool:
            await pool.admin_create_user("gina", {"email": "gina@example.com"}, send_invitation=False)
            other = pool.with_client("default")
        with pytest.raises(userpool.InvalidParameterError, match="closed"):
            await pool.list_users()
        # The last handle's close (the store's checkpoint) runs off the event loop.
        closing = ClosedWhere(other.sync)
        other._pool = closing  # type: ignore[assignment]
        await other.aclose()
        assert closing.threads and closing.threads[0] != threading.get_ident()
        with pytest.raises(userpool.InvalidParameterError, match="closed"):
            closing.pool.list_users()

    asyncio.run(main())


def test_a_delivery_finalizer_that_closes_the_pool_again_does_not_hang() -> None:
    import weakref

    class Mailer:
        def __call__(self, message: userpool.Message) -> None:
            pass

    mailer = Mailer()
    pool = userpool.UserPool.open(config=fast_config(), delivery=mailer)
    finalizer = weakref.finalize(mailer, pool.close)
    del mailer
    # Drops the pool's last reference to the delivery, whose finalizer closes the pool again:
    # with the handle's lock still held, that second close waited for itself.
    pool.close()
    assert not finalizer.alive
