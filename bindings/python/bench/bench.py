"""Benchmark (not a test): the Python binding against PyJWT and against Rust.

1. ``verify_access_token`` through the binding vs PyJWT verifying the same token (RS256,
   issuer checked, key from ``pool.jwks()``). The engine remembers tokens whose signature it
   has checked (expiry and revocation are still checked per call), so both the repeated-token
   figure and a fresh-token figure are printed.
2. A password sign-in (default OWASP argon2id parameters) through the binding vs the same
   sign-in in Rust (bench/sign_in.rs). The machine is shared, so the two sides alternate in
   rounds and the best round of each is reported.

Usage: bench/run.sh (builds the Rust side, then runs this with the path of its binary).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Callable

import jwt

import userpool

PASSWORD = "correct horse battery staple"


def per_call_us(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) * 1e6 / n


def thread_cpu_ns() -> int:
    """On-CPU time of this thread, read as bench/sign_in.rs reads it."""
    with open("/proc/thread-self/schedstat") as f:
        return int(f.read().split()[0])


def per_call_wall_and_cpu_us(fn: Callable[[], object], n: int) -> tuple[float, float]:
    fn()
    start, cpu_start = time.perf_counter(), thread_cpu_ns()
    for _ in range(n):
        fn()
    cpu = thread_cpu_ns() - cpu_start
    return (time.perf_counter() - start) * 1e6 / n, cpu / 1e3 / n


def main() -> None:
    rust_binary = sys.argv[1]
    sign_ins = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    # The sign-in half mirrors bench/sign_in.rs: a fresh pool, one user, one warm-up sign-in.
    # It runs first, while this process is as fresh as the Rust one.
    messages: list[userpool.Message] = []
    pool = userpool.UserPool.open(delivery=messages.append)
    pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    pool.confirm_sign_up("alice", messages[-1].code)
    python_rounds: list[tuple[float, float]] = []
    rust_rounds: list[tuple[float, float]] = []
    for _ in range(rounds):
        wall, cpu = subprocess.check_output([rust_binary, str(sign_ins)], text=True).split()
        rust_rounds.append((float(wall), float(cpu)))
        python_rounds.append(per_call_wall_and_cpu_us(lambda: pool.sign_in("alice", PASSWORD), sign_ins))
    sign_in_us, rust_sign_in_us = min(r[0] for r in python_rounds), min(r[0] for r in rust_rounds)
    sign_in_cpu_us, rust_sign_in_cpu_us = min(r[1] for r in python_rounds), min(r[1] for r in rust_rounds)
    messages.clear()
    # Verification on an RS256 token, as docs/performance.md compares it with PyJWT.
    pool = userpool.UserPool.open(config={"tokens": {"algorithm": "RS256"}}, delivery=messages.append)
    pool.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    pool.confirm_sign_up("alice", messages[-1].code)
    tokens = pool.sign_in("alice", PASSWORD).tokens
    assert tokens is not None
    token = tokens.access_token
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwt.PyJWKSet.from_json(pool.jwks()).keys if k.key_id == kid)
    issuer = pool.issuer

    def pyjwt() -> object:
        return jwt.decode(token, key, algorithms=[jwt.get_unverified_header(token)["alg"]], issuer=issuer)

    assert pyjwt() == pool.verify_access_token(token)
    binding_us = per_call_us(lambda: pool.verify_access_token(token), 20_000)
    pyjwt_us = per_call_us(pyjwt, 2_000)

    # Fresh tokens (each verified once, so the signature is really checked): refresh issues
    # a new access token without hashing a password.
    refresh = tokens.refresh_token
    fresh = []
    for _ in range(300):
        t = pool.refresh(refresh)
        refresh = t.refresh_token
        fresh.append(t.access_token)
    start = time.perf_counter()
    for t in fresh:
        pool.verify_access_token(t)
    fresh_us = (time.perf_counter() - start) * 1e6 / len(fresh)

    print(json.dumps({
        "verify_access_token_binding_us": round(binding_us, 2),
        "verify_access_token_binding_fresh_token_us": round(fresh_us, 2),
        "pyjwt_decode_rs256_us": round(pyjwt_us, 2),
        "binding_vs_pyjwt_speedup": round(pyjwt_us / binding_us, 1),
        "binding_fresh_vs_pyjwt_speedup": round(pyjwt_us / fresh_us, 2),
        "sign_in_binding_wall_us": round(sign_in_us, 1),
        "sign_in_rust_wall_us": round(rust_sign_in_us, 1),
        "sign_in_binding_over_rust_wall": round(sign_in_us / rust_sign_in_us, 3),
        "sign_in_binding_cpu_us": round(sign_in_cpu_us, 1),
        "sign_in_rust_cpu_us": round(rust_sign_in_cpu_us, 1),
        "sign_in_binding_over_rust_cpu": round(sign_in_cpu_us / rust_sign_in_cpu_us, 3),
        "sign_in_rounds_binding_wall_cpu_us": [[round(w), round(c)] for w, c in python_rounds],
        "sign_in_rounds_rust_wall_cpu_us": [[round(w), round(c)] for w, c in rust_rounds],
        "sign_ins_per_round": sign_ins,
    }, indent=None).replace(", \"", ",\n  \""))


if __name__ == "__main__":
    main()
