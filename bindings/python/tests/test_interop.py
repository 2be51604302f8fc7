"""Outputs checked by independent libraries: ID and access tokens verified by PyJWT against
the pool's JWKS (every signing algorithm, issuer, audience)."""

from __future__ import annotations

import json

import jwt
import pyotp
import pytest

import userpool

from .conftest import PASSWORD, Host, fast_config, signed_in

# The pool's `tokens.algorithm` and the JWK key type PyJWT should see for it.
ALGORITHMS = [("ES256", "EC"), ("RS256", "RSA"), ("EdDSA", "OKP")]


def key_for(pool: userpool.UserPool, token: str) -> jwt.PyJWK:
    kid = jwt.get_unverified_header(token)["kid"]
    keys = jwt.PyJWKSet.from_json(pool.jwks())
    return next(k for k in keys.keys if k.key_id == kid)


@pytest.mark.parametrize("algorithm", [a for a, _ in ALGORITHMS])
def test_pyjwt_verifies_id_and_access_tokens(host: Host, algorithm: str) -> None:
    # The system clock, so that PyJWT's own expiry check (against the real time) applies.
    pool = userpool.UserPool.open(config=fast_config(tokens={"algorithm": algorithm}), delivery=host.deliver)
    tokens = signed_in(pool, host)
    id_claims = jwt.decode(
        tokens.id_token,
        key_for(pool, tokens.id_token),
        algorithms=[algorithm],
        audience="default",
        issuer=pool.issuer,
    )
    assert id_claims["token_use"] == "id" and id_claims["cognito:username"] == "alice"
    assert id_claims == pool.verify_id_token(tokens.id_token)
    access_claims = jwt.decode(
        tokens.access_token,
        key_for(pool, tokens.access_token),
        algorithms=[algorithm],
        issuer=pool.issuer,
    )
    assert access_claims == pool.verify_access_token(tokens.access_token)
    assert access_claims["client_id"] == "default" and access_claims["token_use"] == "access"


def test_default_algorithm_is_es256(pool: userpool.UserPool) -> None:
    jwks = json.loads(pool.jwks())
    assert jwks["keys"] and all(k["kty"] == "EC" and k["alg"] == "ES256" for k in jwks["keys"])


@pytest.mark.parametrize(("algorithm", "kty"), ALGORITHMS)
def test_jwks_names_the_algorithm_and_rejects_a_forged_token(host: Host, algorithm: str, kty: str) -> None:
    pool = userpool.UserPool.open(
        config=fast_config(tokens={"algorithm": algorithm}), delivery=host.deliver, clock=host.clock
    )
    jwks = json.loads(pool.jwks())
    assert jwks["keys"] and all(k["kty"] == kty and k["alg"] == algorithm for k in jwks["keys"])
    tokens = signed_in(pool, host)
    header, payload, signature = tokens.access_token.split(".")
    forged = ".".join([header, payload, signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key_for(pool, forged), algorithms=[algorithm], options={"verify_exp": False})
    with pytest.raises(userpool.NotAuthorizedError):
        pool.verify_access_token(forged)


def test_pyjwt_sees_a_rotated_key_and_the_old_one(pool: userpool.UserPool, host: Host) -> None:
    old = signed_in(pool, host)
    pool.rotate_signing_keys()
    new = pool.sign_in("alice", "correct horse battery staple").tokens
    assert new is not None
    old_kid = jwt.get_unverified_header(old.access_token)["kid"]
    new_kid = jwt.get_unverified_header(new.access_token)["kid"]
    assert old_kid != new_kid
    kids = {k.key_id for k in jwt.PyJWKSet.from_json(pool.jwks()).keys}
    assert {old_kid, new_kid} <= kids


# ── TOTP: codes from pyotp, the secret and otpauth:// URI the pool hands out ────────────────


def test_pyotp_codes_enable_totp_and_sign_in(host: Host) -> None:
    config = fast_config(mfa={"mode": "optional", "methods": ["totp"]})
    pool = userpool.UserPool.open(config=config, delivery=host.deliver, clock=host.clock)
    tokens = signed_in(pool, host)
    setup = pool.associate_software_token(tokens.access_token)
    assert setup.secret not in repr(setup)
    parsed = pyotp.parse_uri(setup.uri)
    assert isinstance(parsed, pyotp.TOTP) and parsed.secret == setup.secret
    assert parsed.name == "alice" and parsed.issuer
    with pytest.raises(userpool.EnableSoftwareTokenMFAError):
        pool.verify_software_token(tokens.access_token, "000000" if parsed.at(host.now_ms // 1000) != "000000" else "111111")
    pool.verify_software_token(tokens.access_token, parsed.at(host.now_ms // 1000), "phone")
    pool.set_mfa_preference(tokens.access_token, totp="PREFERRED")
    assert pool.get_user(tokens.access_token).preferred_mfa == "TOTP"

    host.advance(30)
    challenge = pool.sign_in("alice", PASSWORD)
    assert challenge.next_step is userpool.SignInStep.CONFIRM_SIGN_IN_WITH_TOTP_CODE
    assert challenge.session is not None and challenge.tokens is None
    code = pyotp.TOTP(setup.secret).at(host.now_ms // 1000)
    done = pool.confirm_sign_in(challenge.session, code)
    assert done.next_step is userpool.SignInStep.DONE and done.tokens is not None

    again = pool.sign_in("alice", PASSWORD)
    assert again.session is not None
    with pytest.raises(userpool.CodeMismatchError):  # a code is accepted once
        pool.confirm_sign_in(again.session, code)


def test_pyotp_answers_the_totp_setup_challenge(host: Host) -> None:
    config = fast_config(mfa={"mode": "required", "methods": ["totp"]})
    pool = userpool.UserPool.open(config=config, delivery=host.deliver, clock=host.clock)
    pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    pool.confirm_sign_up("alice", host.last_code_to("alice@example.com"))
    challenge = pool.sign_in("alice", PASSWORD)
    assert challenge.next_step is userpool.SignInStep.CONTINUE_SIGN_IN_WITH_TOTP_SETUP
    assert challenge.totp_setup is not None and challenge.session is not None
    replaced = pool.associate_software_token_with_session(challenge.session)
    assert replaced.secret != challenge.totp_setup.secret
    totp = pyotp.parse_uri(replaced.uri)
    assert isinstance(totp, pyotp.TOTP)
    done = pool.confirm_sign_in(challenge.session, totp.at(host.now_ms // 1000))
    assert done.tokens is not None
    assert pool.get_user(done.tokens.access_token).mfa_enabled == ["TOTP"]
