//! The Rust side of `benches/compare/run`: one measurement per invocation, printed as one
//! JSON line `{"ops": …, "wall": seconds, "cpu": seconds}` (CPU = the time the measuring
//! threads ran on a CPU during the measured window, to the nanosecond). The orchestrator (`compare.py`) calls it once per
//! round, interleaved with the Python and Node contenders.
//!
//! ```text
//! compare argon2  <concurrency> <ops>          bare RustCrypto argon2id (m=19456, t=2, p=1), memory reused
//! compare argon2-alloc <concurrency> <ops>     the same through verify_password (allocates per call)
//! compare sign-in <memory|sqlite> <concurrency> <ops>
//! compare verify  <ops>                        verify_access_token, the same token every call
//! compare refresh <concurrency> <ops>          refresh with rotation on a SqliteStore file
//! compare memory  <max_concurrent> <sign-ins>  peak RSS (VmHWM) of <sign-ins> concurrent sign-ins
//! ```
//!
//! `COMPARE_ALGORITHM` (`ES256`, `RS256`, `EdDSA`) sets the pool's `tokens.algorithm`; without it
//! the pool signs with the default (ES256).

use std::sync::{Arc, Barrier, Mutex};
use std::time::Instant;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use userpool::{ImportUser, PoolConfig, RecordingDelivery, SigningAlgorithm, SqliteStore, Store, UserPool};

const USERNAME: &str = "alice";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";

fn usage() -> ! {
    eprintln!("usage: compare argon2|sign-in|verify|refresh|memory …  (see the source's header)");
    std::process::exit(2)
}

fn arg(args: &[String], i: usize) -> usize {
    args.get(i).and_then(|a| a.parse().ok()).unwrap_or_else(|| usage())
}

/// CPU seconds the calling thread has run, to the nanosecond (`/proc/thread-self/schedstat`:
/// the first field is the time on a CPU). `/proc/self/stat` counts 10 ms ticks, too coarse for
/// ratios near 1 over a window of a second.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").expect("/proc/thread-self/schedstat is readable");
    let ns: u64 = stat.split_whitespace().next().and_then(|f| f.parse().ok()).expect("a run time in ns");
    ns as f64 / 1e9
}

/// A value in KiB from `/proc/self/status` (`VmHWM`, `VmRSS`).
fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status is readable");
    status
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.trim_start_matches(':').split_whitespace().next()))
        .and_then(|v| v.parse().ok())
        .expect("the key is in /proc/self/status")
}

/// Runs `ops` calls of `op` spread over `concurrency` threads that start together, and prints
/// the JSON line.
fn measure<S: Send + 'static>(concurrency: usize, ops: usize, state: impl Fn(usize) -> S, op: fn(&mut S)) {
    let concurrency = concurrency.max(1);
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let threads: Vec<_> = (0..concurrency)
        .map(|t| {
            let mut s = state(t);
            let barrier = Arc::clone(&barrier);
            let share = ops / concurrency + usize::from(t < ops % concurrency);
            std::thread::spawn(move || {
                barrier.wait();
                let cpu = thread_cpu_seconds();
                for _ in 0..share {
                    op(&mut s);
                }
                thread_cpu_seconds() - cpu
            })
        })
        .collect();
    let start = Instant::now();
    barrier.wait();
    let cpu: f64 = threads.into_iter().map(|t| t.join().expect("a measuring thread panicked")).sum();
    let wall = start.elapsed().as_secs_f64();
    println!("{{\"ops\": {ops}, \"wall\": {wall}, \"cpu\": {cpu}}}");
}

/// argon2id (m=19456, t=2, p=1) of `PASSWORD` with a fixed salt; a wrong constant fails every
/// sign-in of `compare memory`.
const OWASP_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dXNlcnBvb2wtY29tcGFyZQ$iIDUVV8iYXfdoaVucEKEr/mqjBsPEgVnSS3pT/RjYKY";

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19_456, 2, 1, None).expect("OWASP parameters"))
}

/// A pool with the default (OWASP) hashing, `max_concurrent` permits, in memory or on a
/// SQLite file in the temp dir, and one confirmed user.
fn pool(sqlite: bool, max_concurrent: u32) -> (UserPool, Option<tempdir::Dir>) {
    let (pool, delivery, dir) = empty_pool(sqlite, max_concurrent);
    pool.sign_up(USERNAME, PASSWORD, [("email".to_owned(), EMAIL.to_owned())].into()).expect("sign-up");
    let code = delivery.last_code_to(EMAIL).expect("a confirmation code");
    pool.confirm_sign_up(USERNAME, &code).expect("confirmation");
    (pool, dir)
}

/// The pool of [`pool`] before anything was hashed in it (no hashing memory held yet).
fn empty_pool(sqlite: bool, max_concurrent: u32) -> (UserPool, RecordingDelivery, Option<tempdir::Dir>) {
    let algorithm = match std::env::var("COMPARE_ALGORITHM").as_deref() {
        Ok("RS256") => SigningAlgorithm::RS256,
        Ok("EdDSA") => SigningAlgorithm::EdDSA,
        Ok("ES256") | Err(_) => SigningAlgorithm::ES256,
        Ok(other) => panic!("COMPARE_ALGORITHM={other}: expected ES256, RS256 or EdDSA"),
    };
    let config = PoolConfig::builder()
        .with(|c| {
            c.password_hashing.max_concurrent = max_concurrent;
            c.tokens.algorithm = algorithm;
        })
        .build()
        .expect("the default configuration is valid");
    let delivery = RecordingDelivery::new();
    let builder = UserPool::builder(config).delivery(Arc::new(delivery.clone()));
    let (pool, dir) = if sqlite {
        let dir = tempdir::Dir::new();
        let store = SqliteStore::open(dir.0.join("pool.sqlite3")).expect("the store opens");
        (builder.store(Arc::new(store) as Arc<dyn Store>).open().expect("the pool opens"), Some(dir))
    } else {
        (builder.open().expect("the pool opens"), None)
    };
    (pool, delivery, dir)
}

/// A directory under the temp dir, removed on drop (no extra dependency).
mod tempdir {
    pub(crate) struct Dir(pub(crate) std::path::PathBuf);
    impl Dir {
        pub(crate) fn new() -> Self {
            let path = std::env::temp_dir().join(format!("userpool-compare-{}", std::process::id()));
            std::fs::create_dir_all(&path).expect("the temp dir is writable");
            Self(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn sign_in(pool: &UserPool) -> userpool::Tokens {
    pool.sign_in(USERNAME, PASSWORD).expect("the password is right").tokens.expect("no MFA")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("argon2") => {
            // The physical limit: argon2id verification as a raw hash into working memory that
            // each thread keeps and reuses (as userpool's hasher does), compared with the
            // expected output. No PHC parsing, no allocation per call.
            let salt = [0x5a_u8; 16];
            let mut expected = [0u8; 32];
            argon2().hash_password_into(PASSWORD.as_bytes(), &salt, &mut expected).expect("hashing");
            let blocks = Params::new(19_456, 2, 1, None).expect("OWASP parameters").block_count();
            measure(
                arg(&args, 2),
                arg(&args, 3),
                |_| (vec![Block::default(); blocks], expected),
                |(memory, expected)| {
                    let mut out = [0u8; 32];
                    argon2()
                        .hash_password_into_with_memory(
                            PASSWORD.as_bytes(),
                            &[0x5a_u8; 16],
                            &mut out,
                            memory.as_mut_slice(),
                        )
                        .expect("hashing");
                    assert_eq!(&out, expected, "the password is right");
                },
            );
        }
        Some("argon2-alloc") => {
            // argon2's own `verify_password` on a PHC string: parses it and allocates the
            // working memory on every call, as most callers of the crate do.
            let phc = argon2().hash_password(PASSWORD.as_bytes()).expect("hashing").to_string();
            measure(
                arg(&args, 2),
                arg(&args, 3),
                |_| phc.clone(),
                |phc| {
                    let parsed = PasswordHash::new(phc).expect("a PHC string");
                    argon2().verify_password(PASSWORD.as_bytes(), &parsed).expect("the password is right");
                },
            );
        }
        Some("sign-in") => {
            let sqlite = match args.get(2).map(String::as_str) {
                Some("memory") => false,
                Some("sqlite") => true,
                _ => usage(),
            };
            let (pool, _dir) = pool(sqlite, 0);
            let pool = Arc::new(pool);
            sign_in(&pool);
            measure(arg(&args, 3), arg(&args, 4), |_| Arc::clone(&pool), |p| drop(sign_in(p)));
        }
        Some("verify") => {
            let (pool, _dir) = pool(false, 0);
            let token = sign_in(&pool).access_token;
            let pool = Arc::new(pool);
            pool.verify_access_token(&token).expect("a valid token");
            measure(
                1,
                arg(&args, 2),
                |_| (Arc::clone(&pool), token.clone()),
                |(p, t)| drop(p.verify_access_token(t).expect("a valid token")),
            );
        }
        Some("refresh") => {
            let (pool, _dir) = pool(true, 0);
            let pool = Arc::new(pool);
            let concurrency = arg(&args, 2).max(1);
            // One session per thread: each thread rotates its own refresh token.
            let tokens: Vec<_> = (0..concurrency).map(|_| Mutex::new(Some(sign_in(&pool).refresh_token))).collect();
            measure(
                concurrency,
                arg(&args, 3),
                |t| (Arc::clone(&pool), tokens[t].lock().expect("unpoisoned").take().expect("one token per thread")),
                |(p, token)| *token = p.refresh(token).expect("the token is current").refresh_token,
            );
        }
        Some("memory") => {
            let permits = u32::try_from(arg(&args, 2)).expect("a small number");
            let sign_ins = arg(&args, 3);
            let process = status_kib("VmRSS");
            let (pool, _, _dir) = empty_pool(false, permits);
            // One user per sign-in: concurrent attempts on one user count towards its lockout.
            // The hash is a constant: computing it here would leave a freed 19 MiB block in the
            // heap for the pool's first hashing buffer to reuse, hiding one permit's memory.
            let users = (0..sign_ins)
                .map(|i| ImportUser {
                    username: format!("user{i}"),
                    attributes: [("email".to_owned(), format!("user{i}@example.com"))].into(),
                    password_hash: Some(OWASP_PHC.to_owned()),
                })
                .collect();
            for outcome in pool.admin_import_users(users).expect("the import runs") {
                outcome.expect("every user imports");
            }
            let setup = status_kib("VmRSS");
            let pool = Arc::new(pool);
            // The callers park twice: once all exist (the app's footprint before the burst is
            // read then), and again to start together.
            let (parked, go) = (Arc::new(Barrier::new(sign_ins + 1)), Arc::new(Barrier::new(sign_ins + 1)));
            let threads: Vec<_> = (0..sign_ins)
                .map(|i| {
                    let (pool, parked, go) = (Arc::clone(&pool), Arc::clone(&parked), Arc::clone(&go));
                    std::thread::Builder::new()
                        .stack_size(256 * 1024)
                        .spawn(move || {
                            parked.wait();
                            go.wait();
                            pool.sign_in(&format!("user{i}"), PASSWORD).expect("the password is right");
                        })
                        .expect("a thread starts")
                })
                .collect();
            parked.wait();
            let ready = status_kib("VmRSS");
            go.wait();
            for t in threads {
                t.join().expect("a sign-in thread panicked");
            }
            let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
            println!(
                "{{\"base_kib\": {process}, \"setup_kib\": {setup}, \"ready_kib\": {ready}, \"peak_kib\": {}, \"permits\": {}, \"sign_ins\": {sign_ins}}}",
                status_kib("VmHWM"),
                if permits == 0 { cpus } else { permits as usize }
            );
        }
        _ => usage(),
    }
}
