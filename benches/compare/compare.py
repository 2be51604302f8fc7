"""Orchestrates benches/compare/run: runs every contender round by round (the contenders of a
comparison alternate inside each round, so a burst of load from other jobs hits all of them),
then writes docs/compare.md and the charts under docs/img/.

Every contender is a separate process that prints one JSON line {"ops", "wall", "cpu"}:
the Rust example `compare` (compare.rs), python_side.py and node.mjs. A ratio is computed per
round from the two contenders' rates in that round; the tables give the median over rounds and
the spread (lowest–highest).

Usage (run by ./run): python compare.py <rust-binary> [--quick] [--scale]
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOCS = ROOT / "docs"
IMG = DOCS / "img"
MIB_KIB = 1024
M_COST_KIB = 19456  # argon2id m=19456 KiB, t=2, p=1 (OWASP; userpool's default)
KEYCLOAK_LOGINS_PER_VCPU = 15  # published, not measured (see the text)
KEYCLOAK_REFRESHES_PER_VCPU = 120  # published, not measured


def sh(*argv: str) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


class Runner:
    def __init__(self, rust: str, quick: bool) -> None:
        self.rust = rust
        self.quick = quick
        self.python = sys.executable
        self.log: list[str] = []

    def run(self, argv: list[str], pin: bool = False) -> dict[str, Any]:
        if pin:
            argv = ["taskset", "-c", "0", *argv]
        out = subprocess.run(argv, capture_output=True, text=True, cwd=HERE)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{out.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        self.log.append(f"{' '.join(argv[-5:])} -> {result}")
        return result

    def rust_cmd(self, *args: object) -> list[str]:
        return [self.rust, *map(str, args)]

    def py_cmd(self, *args: object) -> list[str]:
        return [self.python, str(HERE / "python_side.py"), *map(str, args)]

    def node_cmd(self, *args: object) -> list[str]:
        return ["node", str(HERE / "node.mjs"), *map(str, args)]


def rate(r: dict[str, Any]) -> float:
    return float(r["ops"]) / float(r["wall"])


def cpu_rate(r: dict[str, Any]) -> float:
    """Operations per CPU-second: the rate one fully used core would reach."""
    return float(r["ops"]) / max(float(r["cpu"]), 1e-9)


def summary(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(values: list[float], suffix: str = "") -> str:
    med, lo, hi = summary(values)
    return f"**{fmt(med)}{suffix}** ({fmt(lo)}–{fmt(hi)})"


def memory_formula(run: dict[str, Any]) -> float:
    """base + permits × m_cost, in KiB. Base is the process once the pool is open, its users are
    loaded and the callers are waiting (`ready_kib`), less the one hashing buffer the pool already
    holds then (it computes its dummy hash at open). Runs before `ready_kib` existed used the
    process before the pool was opened."""
    if "ready_kib" in run:
        return run["ready_kib"] - M_COST_KIB + run["permits"] * M_COST_KIB
    return run["base_kib"] + run["permits"] * M_COST_KIB


# ---------------------------------------------------------------------------------------------
# The comparisons. Each returns {contender: [result per round]}.


# Prefix of a command that makes the pool sign with RS256 (Cognito's algorithm) instead of the
# default ES256.
RS256 = ["env", "COMPARE_ALGORITHM=RS256"]


def sign_in_contenders(r: Runner, cores: int, ops: int) -> dict[str, list[str]]:
    return {
        "Rust: bare argon2 (RustCrypto), memory reused": r.rust_cmd("argon2", cores, ops),
        "Rust: argon2 verify_password (allocates per call)": r.rust_cmd("argon2-alloc", cores, ops),
        "Rust: userpool sign_in (memory store)": r.rust_cmd("sign-in", "memory", cores, ops),
        "Rust: userpool sign_in (SQLite file)": r.rust_cmd("sign-in", "sqlite", cores, ops),
        "Rust: userpool sign_in, RS256 tokens (memory store)": RS256 + r.rust_cmd("sign-in", "memory", cores, ops),
        "Python: bare argon2-cffi verify": r.py_cmd("argon2", cores, ops),
        "Python: userpool sign_in (memory store)": r.py_cmd("userpool-sign-in", "memory", cores, ops),
        "Node: bare @node-rs/argon2 verify": r.node_cmd("argon2", cores, ops),
        "Node: userpool signIn (memory store)": r.node_cmd("userpool-sign-in", "memory", cores, ops),
        "Node: userpool signIn (SQLite file)": r.node_cmd("userpool-sign-in", "sqlite", cores, ops),
        "Node: better-auth signInEmail (SQLite file)": r.node_cmd("better-auth-sign-in", cores, ops),
    }


SIGN_IN_RATIOS = [
    # (label, numerator, denominator, goal)
    ("userpool Rust / bare RustCrypto argon2", "Rust: userpool sign_in (memory store)", "Rust: bare argon2 (RustCrypto), memory reused", 0.97),
    ("userpool Rust (SQLite) / bare RustCrypto argon2", "Rust: userpool sign_in (SQLite file)", "Rust: bare argon2 (RustCrypto), memory reused", None),
    ("(not the default) userpool Rust, RS256 tokens / bare RustCrypto argon2", "Rust: userpool sign_in, RS256 tokens (memory store)", "Rust: bare argon2 (RustCrypto), memory reused", None),
    ("userpool Rust / argon2 verify_password (allocating)", "Rust: userpool sign_in (memory store)", "Rust: argon2 verify_password (allocates per call)", None),
    ("userpool Python / bare argon2-cffi", "Python: userpool sign_in (memory store)", "Python: bare argon2-cffi verify", None),
    ("userpool Python / userpool Rust", "Python: userpool sign_in (memory store)", "Rust: userpool sign_in (memory store)", None),
    ("userpool Node / bare @node-rs/argon2", "Node: userpool signIn (memory store)", "Node: bare @node-rs/argon2 verify", None),
    ("userpool Node / userpool Rust", "Node: userpool signIn (memory store)", "Rust: userpool sign_in (memory store)", None),
    ("userpool Node (SQLite) / better-auth (SQLite)", "Node: userpool signIn (SQLite file)", "Node: better-auth signInEmail (SQLite file)", None),
    ("better-auth / bare @node-rs/argon2 (its engine's efficiency)", "Node: better-auth signInEmail (SQLite file)", "Node: bare @node-rs/argon2 verify", None),
]


def verify_contenders(r: Runner, q: bool) -> dict[str, list[str]]:
    k = 10 if q else 1
    # One RS256 token everywhere: the algorithm whose verification is cheapest for the peers.
    return {
        "Rust: userpool verify_access_token": RS256 + r.rust_cmd("verify", 300_000 // k),
        "Python: userpool verify_access_token": RS256 + r.py_cmd("userpool-verify", 100_000 // k),
        "Python: PyJWT jwt.decode": RS256 + r.py_cmd("pyjwt-verify", 6_000 // k),
        "Node: userpool verifyAccessTokenSync": RS256 + r.node_cmd("userpool-verify", 40_000 // k),
        "Node: jose jwtVerify": RS256 + r.node_cmd("jose-verify", 6_000 // k),
        "Node: better-auth getSession (cookie)": r.node_cmd("better-auth-session", 600 // k),
    }


VERIFY_RATIOS = [
    ("userpool Python / PyJWT", "Python: userpool verify_access_token", "Python: PyJWT jwt.decode", 3.0),
    ("userpool Node (sync) / jose", "Node: userpool verifyAccessTokenSync", "Node: jose jwtVerify", 3.0),
    ("userpool Node (sync) / better-auth getSession", "Node: userpool verifyAccessTokenSync", "Node: better-auth getSession (cookie)", None),
    ("userpool Rust / PyJWT", "Rust: userpool verify_access_token", "Python: PyJWT jwt.decode", None),
    ("userpool Rust / jose", "Rust: userpool verify_access_token", "Node: jose jwtVerify", None),
]


def refresh_contenders(r: Runner, q: bool) -> dict[str, list[str]]:
    k = 4 if q else 1
    return {
        "Rust: userpool refresh, 1 caller": r.rust_cmd("refresh", 1, 150 // k),
        "Rust: userpool refresh, 16 callers": r.rust_cmd("refresh", 16, 1200 // k),
        "Rust: userpool refresh, RS256 tokens, 1 caller": RS256 + r.rust_cmd("refresh", 1, 150 // k),
        "Rust: userpool refresh, RS256 tokens, 16 callers": RS256 + r.rust_cmd("refresh", 16, 600 // k),
        "Python: userpool refresh, 1 caller": r.py_cmd("userpool-refresh", 1, 150 // k),
        "Node: userpool refresh, 1 caller": r.node_cmd("userpool-refresh", 1, 150 // k),
        "Node: userpool refresh, 16 in flight": r.node_cmd("userpool-refresh", 16, 600 // k),
        "Node: better-auth getSession extending the session, 1 caller": r.node_cmd("better-auth-refresh", 1, 150 // k),
        "Node: better-auth getSession extending the session, 16 in flight": r.node_cmd("better-auth-refresh", 16, 600 // k),
    }


REFRESH_RATIOS = [
    ("userpool Node / better-auth, 1 caller", "Node: userpool refresh, 1 caller", "Node: better-auth getSession extending the session, 1 caller", None),
    ("userpool Node / better-auth, 16 in flight", "Node: userpool refresh, 16 in flight", "Node: better-auth getSession extending the session, 16 in flight", None),
]


def collect(r: Runner, rounds: int, contenders: dict[str, list[str]], pin: bool = False) -> dict[str, list[dict[str, Any]]]:
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders}
    for i in range(rounds):
        for name, argv in contenders.items():
            results[name].append(r.run(argv, pin=pin))
        print(f"    round {i + 1}/{rounds} done", flush=True)
    return results


Results = dict[str, list[dict[str, Any]]]


def ratios(results: dict[str, list[dict[str, Any]]], num: str, den: str) -> list[float]:
    return [rate(a) / rate(b) for a, b in zip(results[num], results[den])]


def cpu_ratios(results: dict[str, list[dict[str, Any]]], num: str, den: str) -> list[float]:
    return [cpu_rate(a) / cpu_rate(b) for a, b in zip(results[num], results[den])]


# ---------------------------------------------------------------------------------------------
# Charts


def chart(path: Path, title: str, groups: dict[str, list[tuple[str, list[float]]]], goal_lines: dict[str, float], ylabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels: list[str] = []
    for series in groups.values():
        for label, _ in series:
            if label not in labels:
                labels.append(label)
    fig, ax = plt.subplots(figsize=(10, 0.6 * len(labels) * max(1, len(groups)) + 1.5))
    height = 0.8 / max(1, len(groups))
    for g, (group, series) in enumerate(groups.items()):
        by_label = dict(series)
        ys, meds, los, his = [], [], [], []
        for i, label in enumerate(labels):
            if label in by_label and by_label[label]:
                med, lo, hi = summary(by_label[label])
                ys.append(i + g * height)
                meds.append(med)
                los.append(med - lo)
                his.append(hi - med)
        bars = ax.barh(ys, meds, height=height, xerr=[los, his], capsize=3, label=group or None)
        ax.bar_label(bars, labels=[fmt(m) for m in meds], padding=4, fontsize=8)
    ax.set_yticks([i + height * (len(groups) - 1) / 2 for i in range(len(labels))], labels, fontsize=8)
    ax.invert_yaxis()
    for name, x in goal_lines.items():
        ax.axvline(x, color="red", linestyle="--", linewidth=1, label=name)
    ax.axvline(1.0, color="grey", linewidth=0.8)
    if "log scale" in ylabel:
        ax.set_xscale("log")
    ax.set_xlabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_charts(sign_in_1: Results, sign_in_2: Results, verify: Results, refresh: Results, memory: dict[int, list[dict[str, Any]]]) -> None:
    """The PNG bar charts of the ratios, under docs/img/."""
    chart(
        IMG / "compare-sign-in.png",
        "Password sign-in throughput ratios (argon2id m=19456 KiB, t=2, p=1)\nmedian of rounds, whiskers = spread",
        {
            "one core": [(label, ratios(sign_in_1, n, d)) for label, n, d, _ in SIGN_IN_RATIOS],
            "two cores": [(label, ratios(sign_in_2, n, d)) for label, n, d, _ in SIGN_IN_RATIOS],
        },
        {"goal 0.97 (userpool Rust / bare)": 0.97},
        "ratio of throughputs (higher = userpool faster)",
    )
    chart(
        IMG / "compare-verify.png",
        "Session validation throughput ratios\nmedian of rounds, whiskers = spread",
        {"": [(label, ratios(verify, n, d)) for label, n, d, _ in VERIFY_RATIOS]},
        {"goal 3×": 3.0},
        "ratio of throughputs (log scale; higher = userpool faster)",
    )
    refresh_ratio_series = [(label, ratios(refresh, n, d)) for label, n, d, _ in REFRESH_RATIOS]
    per_core = [cpu_rate(x) for x in refresh["Rust: userpool refresh, 16 callers"]]
    refresh_ratio_series.append(("userpool Rust per core (CPU), 16 callers / Keycloak 120 per vCPU (published)", [x / KEYCLOAK_REFRESHES_PER_VCPU for x in per_core]))
    one_core = [cpu_rate(x) for x in refresh["Rust: userpool refresh, 1 caller"]]
    refresh_ratio_series.append(("userpool Rust per core (CPU), 1 caller / Keycloak 120 per vCPU (published)", [x / KEYCLOAK_REFRESHES_PER_VCPU for x in one_core]))
    refresh_ratio_series.append(("(not the default) RS256 tokens, per core (CPU), 16 callers / Keycloak (published)", [cpu_rate(x) / KEYCLOAK_REFRESHES_PER_VCPU for x in refresh["Rust: userpool refresh, RS256 tokens, 16 callers"]]))
    chart(
        IMG / "compare-refresh.png",
        "Durable refresh with rotation (SQLite, synchronous=FULL)\nmedian of rounds, whiskers = spread",
        {"": refresh_ratio_series},
        {"goal 10× Keycloak": 10.0},
        "ratio (higher = userpool faster)",
    )
    mem_series = []
    for p, runs in memory.items():
        label = f"max_concurrent = {p}" + (" (one per CPU)" if p == 0 else "")
        mem_series.append((label, [x["peak_kib"] / memory_formula(x) for x in runs]))
    chart(
        IMG / "compare-memory.png",
        "Peak RSS of 200 concurrent sign-ins / (base + permits × 19 MiB)\nmedian of rounds, whiskers = spread",
        {"": mem_series},
        {"+10 %": 1.1},
        "measured peak / formula",
    )

# ---------------------------------------------------------------------------------------------
# Machine and versions


def versions() -> list[tuple[str, str]]:
    lock = (ROOT / "Cargo.lock").read_text()

    def crate(name: str) -> str:
        m = re.search(rf'name = "{re.escape(name)}"\nversion = "([^"]+)"', lock)
        return m.group(1) if m else "?"

    def npm(name: str) -> str:
        try:
            return str(json.loads((HERE / "node_modules" / name / "package.json").read_text())["version"])
        except OSError:
            return "?"

    def pip(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    commit = sh("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = sh("git", "-C", str(ROOT), "status", "--porcelain", "--", "core", "bindings")
    return [
        ("userpool", f"commit `{commit}`" + (" (with uncommitted changes under core/ or bindings/ in the shared tree)" if dirty else "")),
        ("rustc", sh("rustc", "--version")),
        ("Rust crates (Cargo.lock)", f"argon2 {crate('argon2')}, ring {crate('ring')}, rusqlite {crate('rusqlite')}, libsqlite3-sys {crate('libsqlite3-sys')}, pyo3 {crate('pyo3')}, napi {crate('napi')}"),
        ("Python", sys.version.split()[0]),
        ("PyPI", f"argon2-cffi {pip('argon2-cffi')}, argon2-cffi-bindings {pip('argon2-cffi-bindings')}, PyJWT {pip('PyJWT')}, cryptography {pip('cryptography')}, matplotlib {pip('matplotlib')}, maturin {pip('maturin')}"),
        ("Node", sh("node", "--version")),
        ("npm", f"better-auth {npm('better-auth')}, better-sqlite3 {npm('better-sqlite3')}, @node-rs/argon2 {npm('@node-rs/argon2')}, jose {npm('jose')}"),
    ]


def machine() -> str:
    model = re.search(r"Model name:\s*(.+)", sh("lscpu"))
    return f"`{model.group(1).strip() if model else '?'}`, {os.cpu_count()} CPUs (lscpu / nproc: {sh('nproc')})"


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


# ---------------------------------------------------------------------------------------------


def main() -> None:
    if sys.argv[1] == "--charts-only":
        # Redraw the charts from the last run's raw results, without measuring anything.
        raw = json.loads((HERE / "last-run.json").read_text())
        draw_charts(raw["sign_in_1"], raw["sign_in_2"], raw["verify"], raw["refresh"], {int(k): v for k, v in raw["memory"].items()})
        return
    rust = sys.argv[1]
    quick = "--quick" in sys.argv
    scale = "--scale" in sys.argv
    r = Runner(rust, quick)
    rounds = 2 if quick else 9
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = loadavg()
    IMG.mkdir(parents=True, exist_ok=True)

    print("== 1. password sign-in, one core (pinned to CPU 0, one at a time)", flush=True)
    sign_in_1 = collect(r, rounds, sign_in_contenders(r, 1, 3 if quick else 40), pin=True)
    print("== 1. password sign-in, two cores (two at a time)", flush=True)
    sign_in_2 = collect(r, rounds, sign_in_contenders(r, 2, 4 if quick else 60))
    print("== 2. session validation", flush=True)
    verify = collect(r, rounds, verify_contenders(r, quick))
    print("== 3. refresh with rotation, durable", flush=True)
    refresh = collect(r, rounds, refresh_contenders(r, quick))
    print("== 5. memory: 200 concurrent sign-ins", flush=True)
    memory: dict[int, list[dict[str, Any]]] = {p: [] for p in (2, 8, 0)}
    for i in range(rounds):
        for p in memory:
            memory[p].append(r.run(r.rust_cmd("memory", p, 40 if quick else 200)))
        print(f"    round {i + 1}/{rounds} done", flush=True)
    scale_out = ""
    if scale:
        print("== 4. scale: cargo bench --bench sqlite_scale at 10k, 1M, 10M (long)", flush=True)
        env = dict(os.environ, USERPOOL_SCALE_SIZES="10000,1000000,10000000")
        scale_out = subprocess.run(
            ["cargo", "bench", "-p", "userpool-benches", "--bench", "sqlite_scale"], cwd=ROOT, env=env, capture_output=True, text=True
        ).stdout
    finished = datetime.datetime.now(datetime.timezone.utc)

    draw_charts(sign_in_1, sign_in_2, verify, refresh, memory)
    per_core = [cpu_rate(x) for x in refresh["Rust: userpool refresh, 16 callers"]]
    one_core = [cpu_rate(x) for x in refresh["Rust: userpool refresh, 1 caller"]]

    # ------------------------------------------------------------------ docs/compare.md
    L: list[str] = []
    w = L.append
    w("# userpool side by side with its peers")
    w("")
    w("<!-- Written by benches/compare/run; do not edit by hand: rerun the script. -->")
    w("")
    w("`benches/compare/run` installs the peers from PyPI and npm, builds userpool's Python wheel and")
    w("Node addon and a Rust helper (`benches/compare/compare.rs`), and runs every comparison below in")
    w("one run. Each contender is its own process, measured once per round; the contenders of a")
    w("comparison alternate inside every round. A ratio is computed per round from two contenders")
    w("measured in that round, and the tables give the **median over the rounds** with the spread")
    w("(lowest–highest) in brackets. Rates are operations per second of wall time unless marked CPU.")
    w("")
    w("**This machine is a shared VM and noisy.** Anything else running during the run shows in the")
    w(f"load average: {load_start} at the start, {loadavg()} at the end, on {os.cpu_count()} CPUs. Absolute rates drift")
    w("with that load from one minute to the next; the ratios, taken between processes that ran seconds")
    w("apart, are the figures to read, and even they move by ±15 % or so. Treat a ratio within that of")
    w("its goal as unresolved.")
    w("")
    w("## Run")
    w("")
    w(f"- Mode: {'`--quick` (tiny sample counts; a smoke run, not a result)' if quick else 'default'}; {rounds} rounds.")
    w(f"- When: {started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC.")
    w(f"- Machine: {machine()}.")
    for name, v in versions():
        w(f"- {name}: {v}")
    w("- Builds: the Rust helper, the wheel (maturin) and the addon (napi) with the workspace's release profile.")
    w("")

    def rate_table(results: dict[str, list[dict[str, Any]]], unit: str, with_cpu: bool = False) -> None:
        w(f"| contender | {unit}/s (median, spread) |" + (" per CPU-second (median) |" if with_cpu else ""))
        w("|---|---|" + ("---|" if with_cpu else ""))
        for name, runs in results.items():
            row = f"| {name} | {cell([rate(x) for x in runs])} |"
            if with_cpu:
                row += f" {fmt(statistics.median(cpu_rate(x) for x in runs))} |"
            w(row)
        w("")

    def ratio_table(results: dict[str, list[dict[str, Any]]], spec: list[tuple[str, str, str, float | None]], with_cpu: bool = False) -> None:
        def met(vals: list[float], goal: float | None) -> str:
            return "—" if goal is None else ("yes" if statistics.median(vals) >= goal else "**no**")

        if with_cpu:
            w("| ratio of throughputs | wall: median (spread) | per CPU-second: median (spread) | goal | met (wall / CPU) |")
            w("|---|---|---|---|---|")
        else:
            w("| ratio of throughputs | median (spread) | goal | met |")
            w("|---|---|---|---|")
        for label, n, d, goal in spec:
            vals = ratios(results, n, d)
            goal_cell = "—" if goal is None else f"≥ {goal}×"
            if with_cpu:
                cpu_vals = cpu_ratios(results, n, d)
                met_cell = "—" if goal is None else f"{met(vals, goal)} / {met(cpu_vals, goal)}"
                w(f"| {label} | {cell(vals, '×')} | {cell(cpu_vals, '×')} | {goal_cell} | {met_cell} |")
            else:
                w(f"| {label} | {cell(vals, '×')} | {goal_cell} | {met(vals, goal)} |")
        w("")

    w("## 1. Password sign-in")
    w("")
    w("argon2id m=19456 KiB, t=2, p=1 everywhere. One sign-in = the library's full password sign-in")
    w("of one confirmed user (userpool: lockout bookkeeping, the hash check, a new session, an ID and")
    w("an access token signed ES256, the default; better-auth: `auth.api.signInEmail`, its password functions set")
    w("to @node-rs/argon2 with the same parameters, on better-sqlite3 with WAL and `synchronous=FULL`,")
    w("a new session row). \"Bare\" = the library's own argon2id verification of a PHC string, alone.")
    w("**One core**: every process pinned to CPU 0 (`taskset -c 0`), one sign-in at a time.")
    w("**Two cores**: not pinned, two sign-ins in flight (two threads in Rust and Python, two")
    w("Promises in Node). The RS256 row is the same Rust sign-in on a pool configured with Cognito's")
    w("`tokens.algorithm = \"RS256\"`: two RSA-2048 signatures instead of two ES256 ones.")
    w("")
    w("The ratios are given twice: by wall time, and per CPU-second (each process's own user +")
    w("system time in the measured window). On this shared VM, wall time also holds whatever else")
    w("ran on the core, including time the hypervisor gave other tenants; CPU time charges each")
    w("contender only for its own work, so it is the steadier measure of an engine's cost per")
    w("sign-in. A one-core contender is one thread, so its rate per CPU-second is its rate on a")
    w("core of its own.")
    w("")
    w("@node-rs/argon2 is built on `argon2-rust`, a different argon2 implementation from userpool's")
    w("RustCrypto `argon2`, and it is several times faster on this CPU (see the bare rows). So a")
    w("throughput ratio userpool / better-auth mostly compares the two argon2 implementations; the")
    w("ratios \"/ bare\" show how close each engine stays to its own hash.")
    w("")
    for title, res, cores in (("One core", sign_in_1, 1), ("Two cores", sign_in_2, 2)):
        w(f"### {title}")
        w("")
        rate_table(res, "sign-ins")
        w(f"Keycloak, **published, not measured**: {KEYCLOAK_LOGINS_PER_VCPU} password logins/s per vCPU, so {KEYCLOAK_LOGINS_PER_VCPU * cores}/s on {cores} vCPU{'s' if cores > 1 else ''}")
        w("(Keycloak's CPU sizing guide, <https://www.keycloak.org/high-availability/concepts-memory-and-cpu-sizing>,")
        w("with Keycloak's own default password hashing, not these parameters).")
        w("")
        ratio_table(res, SIGN_IN_RATIOS, with_cpu=True)
        kc = [rate(x) / (KEYCLOAK_LOGINS_PER_VCPU * cores) for x in res["Rust: userpool sign_in (memory store)"]]
        w(f"userpool Rust (memory store) / Keycloak's published {KEYCLOAK_LOGINS_PER_VCPU * cores}/s: {cell(kc, '×')}.")
        w("")
    w("![sign-in ratios](img/compare-sign-in.png)")
    w("")

    w("## 2. Session validation")
    w("")
    w("The same RS256 access token (the pools here are configured with `tokens.algorithm = \"RS256\"`,")
    w("the cheapest algorithm to verify, so the peers are at their fastest), verified again and again, one call at a time, in each process:")
    w("userpool's `verify_access_token` (signature check cached; expiry, issuer, client, key retirement")
    w("and revocation checked on every call); PyJWT `jwt.decode(token, key, algorithms=[\"RS256\"],")
    w("issuer=…)` and jose `jwtVerify(token, createLocalJWKSet(jwks), {issuer})` with the JWKS from")
    w("`pool.jwks()` (a full signature check on every call; neither caches); better-auth")
    w("`auth.api.getSession({headers})` on its default signed session cookie (an HMAC check and a")
    w("SQLite read of the session and the user; the cookie cache is off by default).")
    w("")
    rate_table(verify, "verifications")
    ratio_table(verify, VERIFY_RATIOS)
    w("![session validation ratios](img/compare-verify.png)")
    w("")

    w("## 3. Refresh with rotation, durable")
    w("")
    w("userpool: `refresh(refresh_token)` with rotation on (the default): each call presents the token")
    w("the previous call returned, on a `SqliteStore` file (WAL, `synchronous=FULL`: every rotation is")
    w("fsynced before it returns), then signs a new ID and access token. \"16 callers\" = 16 sessions")
    w("rotated at once (threads in Rust, Promises in Node), whose commits can share an fsync.")
    w("")
    w("better-auth has no refresh token; its session refresh is the sliding expiry in `getSession`.")
    w("What is measured: `auth.api.getSession` with `session.updateAge = 0`, so that every call finds")
    w("the session due for extension and writes its new `expiresAt` to SQLite (better-sqlite3, WAL,")
    w("`synchronous=FULL`) and sets a new cookie. The session token does not rotate and no JWT is")
    w("signed, so it does less work than userpool's refresh.")
    w("")
    w("userpool signs ES256 tokens by default (two ECDSA P-256 signatures per refresh: ID and access")
    w("token). The RS256 rows are the same refresh on a pool configured with Cognito's")
    w("`tokens.algorithm = \"RS256\"` (two RSA-2048 signatures), to show what that choice costs.")
    w("")
    rate_table(refresh, "refreshes", with_cpu=True)
    ratio_table(refresh, REFRESH_RATIOS)
    w(f"Keycloak, **published, not measured**: {KEYCLOAK_REFRESHES_PER_VCPU} refresh-token requests/s per vCPU (same sizing guide). The goal compares per core:")
    w("userpool's rate per CPU-second (for Rust, the time its measuring threads ran on a CPU, read to")
    w("the nanosecond; for Node, the process's user + system time), which is what one")
    w("fully used core would reach. A single caller cannot use a core: it waits for one fsync per")
    w("refresh, so its wall rate is bounded by the disk, not the CPU.")
    w("")
    w("| ratio | median (spread) | goal | met |")
    w("|---|---|---|---|")
    rs_core = [cpu_rate(x) / KEYCLOAK_REFRESHES_PER_VCPU for x in refresh["Rust: userpool refresh, RS256 tokens, 16 callers"]]
    for label, vals in (("userpool Rust per core, 16 callers / Keycloak 120 per vCPU", [x / KEYCLOAK_REFRESHES_PER_VCPU for x in per_core]),
                        ("userpool Rust per core, 1 caller / Keycloak 120 per vCPU", [x / KEYCLOAK_REFRESHES_PER_VCPU for x in one_core]),
                        ("(not the default) userpool Rust with RS256 tokens per core, 16 callers / Keycloak", rs_core)):
        w(f"| {label} | {cell(vals, '×')} | ≥ 10× | {'yes' if statistics.median(vals) >= 10 else '**no**'} |")
    wall16 = [rate(x) / (KEYCLOAK_REFRESHES_PER_VCPU * (os.cpu_count() or 1)) for x in refresh["Rust: userpool refresh, 16 callers"]]
    w(f"| (wall) userpool Rust, 16 callers / Keycloak 120 × {os.cpu_count()} vCPUs | {cell(wall16, '×')} | — | — |")
    w("")
    w("![refresh ratios](img/compare-refresh.png)")
    w("")

    w("## 4. Scale")
    w("")
    if scale:
        w("`--scale` was given: `cargo bench -p userpool-benches --bench sqlite_scale` with")
        w("`USERPOOL_SCALE_SIZES=10000,1000000,10000000` ran in this run. Its output, verbatim:")
        w("")
        w("```")
        w(scale_out.strip())
        w("```")
    else:
        w("Not rerun here (it fills SQLite files with 1M and 10M users, far longer than this script's")
        w("budget). The figures are those published by the SQLite scale bench")
        w("(`benches/benches/sqlite_scale.rs`) in [docs/performance.md, \"SQLite store\"](performance.md#sqlite-store):")
        w("lookups, sign-in without the hash and durable refresh at 10k, 1M and 10M users, and the import")
        w("rate. Pass `--scale` to rerun it as part of this script.")
    w("")

    w("## 5. Memory")
    w("")
    w("One Rust process (`compare memory`) opens a pool and imports 200 users (one constant argon2id")
    w("hash, so that the harness itself hashes nothing), starts 200 threads that wait, and then lets")
    w("them sign in at once, each as its own user, with `password_hashing.max_concurrent` set to 2, 8")
    w(f"and 0 (0 = one permit per CPU, here {os.cpu_count()}). Peak RSS is `VmHWM` from")
    w("`/proc/self/status` after all 200 have finished. **Base** is `VmRSS` while the 200 callers wait")
    w("(the pool open with its keys and users, the callers' threads), less the one hashing buffer the")
    w("pool already holds at that point (it hashes a dummy password at open, so that unknown users")
    w("cost a real verification). Formula: base + permits × 19 MiB (m_cost, 19456 KiB). What the")
    w("peak holds beyond it is what 200 sign-ins in flight add: their stacks as they run, sessions,")
    w("tokens.")
    w("")
    w("| max_concurrent | permits | process at start | pool open, users loaded, callers waiting | base | formula | peak RSS (median, spread) | peak / formula | goal | met |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for p, runs in memory.items():
        permits = runs[0]["permits"]
        start = statistics.median(x["base_kib"] for x in runs)
        ready = statistics.median(x.get("ready_kib", x["setup_kib"]) for x in runs)
        formula = statistics.median(memory_formula(x) for x in runs)
        base = formula - permits * M_COST_KIB
        peaks = [x["peak_kib"] / MIB_KIB for x in runs]
        rel = [x["peak_kib"] / memory_formula(x) for x in runs]
        med = statistics.median(rel)
        w(f"| {p} | {permits} | {start / MIB_KIB:.1f} MiB | {ready / MIB_KIB:.1f} MiB | {base / MIB_KIB:.1f} MiB | {formula / MIB_KIB:.1f} MiB | {cell(peaks, ' MiB')} | {cell(rel, '×')} | within 10 % | {'yes' if abs(med - 1) <= 0.10 else '**no**'} |")
    w("")
    w("![memory](img/compare-memory.png)")
    w("")
    w("## Reproduce")
    w("")
    w("```")
    w("benches/compare/run            # everything, about 6 minutes on 2 cores once built")
    w("benches/compare/run --quick    # tiny sample counts, a smoke run of a few minutes")
    w("benches/compare/run --scale    # also the SQLite scale bench at 10k, 1M and 10M users (+20 min, 14 GB)")
    w("```")
    w("")
    w("The raw per-round results of this run are in `benches/compare/last-run.json` (not committed).")
    (DOCS / "compare.md").write_text("\n".join(L) + "\n")
    (HERE / "last-run.json").write_text(
        json.dumps({"sign_in_1": sign_in_1, "sign_in_2": sign_in_2, "verify": verify, "refresh": refresh, "memory": {str(k): v for k, v in memory.items()}}, indent=1)
    )
    print(f"wrote {DOCS / 'compare.md'} and {IMG}/compare-*.png")


if __name__ == "__main__":
    main()
