//! What the plain timing binaries (`sqlite_scale`, `sqlite_layouts`) share: the users'
//! names, a repeatable random sequence, and per-call timings with the CPU time and page
//! faults read from `/proc/self/stat`.

// Each bench binary compiles this module for itself and uses only part of it.
#![allow(dead_code, reason = "each bench binary uses part of the module")]

use std::time::{Duration, Instant};

/// The username of user `i`, as both benches fill their pools.
pub(crate) fn username(i: usize) -> String {
    format!("user{i:08}")
}

/// A small xorshift: the same sequence every run.
pub(crate) struct Random(pub(crate) u64);

impl Random {
    /// The next number below `n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).expect("fits")
    }
}

/// Wall and CPU time of one call, in µs, and the page faults it took. CPU time is what to
/// compare between runs on a machine shared with other work: wall time there depends on who
/// else is running. A lookup's first touch of a mapped page is a (minor) fault: they say how
/// warm the mapping still is.
#[derive(Clone, Copy)]
pub(crate) struct Timing {
    /// Wall time per call, µs.
    pub(crate) wall: f64,
    /// CPU time per call, µs.
    pub(crate) cpu: f64,
    /// Minor page faults per call.
    pub(crate) faults: f64,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.1} µs ({:.1} µs CPU, {:.2} faults)", self.wall, self.cpu, self.faults)
    }
}

/// Runs `op` until `budget` has passed (at least `min` times).
pub(crate) fn per_call(budget: Duration, min: usize, mut op: impl FnMut(usize)) -> Timing {
    let started = Instant::now();
    let (cpu, faults) = (cpu_seconds(), minor_faults());
    let mut calls = 0;
    while calls < min || started.elapsed() < budget {
        op(calls);
        calls += 1;
    }
    Timing {
        wall: started.elapsed().as_secs_f64() * 1e6 / calls as f64,
        cpu: (cpu_seconds() - cpu) * 1e6 / calls as f64,
        faults: (minor_faults() - faults) / calls as f64,
    }
}

/// A field of `/proc/self/stat` (Linux; 0 elsewhere), counted from the one after the
/// parenthesised command name (the line's third).
fn stat_field(index: usize) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    after.split_whitespace().nth(index).and_then(|f| f.parse().ok()).unwrap_or(0.0)
}

/// CPU time (user + system) this process has used: utime and stime, in clock ticks (100 per
/// second on Linux).
pub(crate) fn cpu_seconds() -> f64 {
    (stat_field(11) + stat_field(12)) / 100.0
}

/// Minor page faults this process has taken.
fn minor_faults() -> f64 {
    stat_field(7)
}
