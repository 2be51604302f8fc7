"""Shared fixtures: a fast pool (weak hashing, allowed for tests only) with a recording
delivery and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

import userpool

REPO = Path(__file__).resolve().parents[3]
SCENARIOS = REPO / "fixtures" / "scenarios"

FAST_HASHING = {"memory_kib": 256, "iterations": 1, "dangerous_allow_weak": True}
PASSWORD = "correct horse battery staple"


def fast_config(**extra: Any) -> dict[str, Any]:
    """A pool config whose password hashing is cheap (test only)."""
    return {"pool_id": "local_pytest", "password_hashing": dict(FAST_HASHING), **extra}


@dataclass
class Host:
    """What a host gives the pool: a delivery that records (or raises) and a manual clock."""

    now_ms: int = 1_700_000_000_000
    messages: list[userpool.Message] = field(default_factory=list)
    failure: Optional[BaseException] = None

    def deliver(self, message: userpool.Message) -> None:
        if self.failure is not None:
            raise self.failure
        self.messages.append(message)

    def clock(self) -> int:
        return self.now_ms

    def advance(self, secs: int) -> None:
        self.now_ms += secs * 1000

    def last_code_to(self, destination: str) -> str:
        for message in reversed(self.messages):
            if message.destination == destination:
                return message.code
        raise AssertionError(f"no code was delivered to {destination}")


@pytest.fixture
def host() -> Host:
    return Host()


@pytest.fixture
def pool(host: Host) -> Iterator[userpool.UserPool]:
    yield userpool.UserPool.open(config=fast_config(), delivery=host.deliver, clock=host.clock)


def signed_in(pool: userpool.UserPool, host: Host, username: str = "alice") -> userpool.Tokens:
    """Signs up, confirms and signs in `username`; returns the tokens."""
    email = f"{username}@example.com"
    pool.sign_up(username, PASSWORD, {"email": email})
    pool.confirm_sign_up(username, host.last_code_to(email))
    result = pool.sign_in(username, PASSWORD)
    assert result.tokens is not None
    return result.tokens
