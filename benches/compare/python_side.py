"""The Python side of benches/compare/run: one measurement per invocation, printed as one JSON
line {"ops", "wall" (s), "cpu" (s, the whole process: user + system)}.

    python python_side.py argon2 <concurrency> <ops>                 argon2-cffi verify, bare
    python python_side.py userpool-sign-in <memory|sqlite> <concurrency> <ops>
    python python_side.py userpool-verify <ops>                      pool.verify_access_token
    python python_side.py pyjwt-verify <ops>                         jwt.decode, key from pool.jwks()
    python python_side.py userpool-refresh <concurrency> <ops>       pool.refresh on a SQLite file

"concurrency" is the number of threads (userpool and argon2-cffi both release the GIL while
hashing).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from typing import Callable

PASSWORD = "correct horse battery staple"


# COMPARE_ALGORITHM sets the pool's tokens.algorithm (the pool's default, ES256, when unset).
ALGORITHM = os.environ.get("COMPARE_ALGORITHM")


def measure(concurrency: int, ops: int, op: Callable[[int], object]) -> None:
    op(0)  # warm-up
    concurrency = max(1, concurrency)
    shares = [ops // concurrency + (1 if t < ops % concurrency else 0) for t in range(concurrency)]
    start_line = threading.Barrier(concurrency + 1)

    def lane(t: int) -> None:
        start_line.wait()
        for _ in range(shares[t]):
            op(t)

    threads = [threading.Thread(target=lane, args=(t,)) for t in range(concurrency)]
    for t in threads:
        t.start()
    cpu, start = time.process_time(), time.perf_counter()
    start_line.wait()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"ops": ops, "wall": wall, "cpu": cpu}))


def pool(path: str | None):  # type: ignore[no-untyped-def]
    import userpool

    messages: list[userpool.Message] = []
    config: dict[str, object] = {"pool_id": "compare"}
    if ALGORITHM:
        config["tokens"] = {"algorithm": ALGORITHM}
    p = userpool.UserPool.open(path=path, config=config, delivery=messages.append)
    p.sign_up("alice", PASSWORD, {"email": "alice@example.com"})
    p.confirm_sign_up("alice", messages[-1].code)
    return p


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory(prefix="userpool-compare-") as tmp:
        db = os.path.join(tmp, "userpool.sqlite3")
        if command == "argon2":
            import argon2

            hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.ID)
            phc = hasher.hash(PASSWORD)
            measure(int(args[0]), int(args[1]), lambda _: hasher.verify(phc, PASSWORD))
        elif command == "userpool-sign-in":
            p = pool(db if args[0] == "sqlite" else None)
            measure(int(args[1]), int(args[2]), lambda _: p.sign_in("alice", PASSWORD).tokens)
        elif command in ("userpool-verify", "pyjwt-verify"):
            p = pool(None)
            token = p.sign_in("alice", PASSWORD).tokens.access_token
            if command == "userpool-verify":
                measure(1, int(args[0]), lambda _: p.verify_access_token(token))
            else:
                import jwt

                kid = jwt.get_unverified_header(token)["kid"]
                key = next(k for k in jwt.PyJWKSet.from_json(p.jwks()).keys if k.key_id == kid)
                issuer, alg = p.issuer, jwt.get_unverified_header(token)["alg"]
                measure(1, int(args[0]), lambda _: jwt.decode(token, key, algorithms=[alg], issuer=issuer))
        elif command == "userpool-refresh":
            p = pool(db)
            lanes = max(1, int(args[0]))
            tokens = [p.sign_in("alice", PASSWORD).tokens.refresh_token for _ in range(lanes)]

            def refresh(t: int) -> None:
                tokens[t] = p.refresh(tokens[t]).refresh_token

            measure(lanes, int(args[1]), refresh)
        else:
            sys.exit(f"unknown command {command}; see the docstring")


if __name__ == "__main__":
    main()
