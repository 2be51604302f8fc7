//! Criterion benchmarks of the userpool engine against the bare primitives it is built on.
//!
//! Each engine operation is measured next to the one primitive that bounds it from below:
//!
//! - `sign_in/userpool` (a full password sign-in that creates a session, OWASP argon2id
//!   parameters m=19456 KiB, t=2, p=1, in-memory store) against
//!   `sign_in/bare_argon2_verify` (`argon2::Argon2` verifying the same password against a PHC
//!   hash made with the same parameters); `sign_in/userpool_rs256_tokens` is the same sign-in
//!   on a pool that signs its tokens with RS256 (Cognito's algorithm) instead of the default
//!   ES256, to show what two RSA signatures cost; `sign_in/wipe_working_memory` zeroizes one
//!   hash's 19 MiB of argon2 blocks, what a wipe after every hash would add;
//! - `verify_access_token/userpool` (one token verified repeatedly: the signature check is
//!   cached, expiry and revocation are checked on every call) and
//!   `verify_access_token/userpool_uncached` (more distinct tokens than the cache holds,
//!   cycled so every call misses) against `verify_access_token/bare_ring_rs256` (ring's
//!   RS256 verification of the same token with `n` and `e` taken from `pool.jwks()`; this
//!   group's pool signs with RS256);
//! - `refresh/userpool` (rotation on, each call presents the token the previous call
//!   returned) and `refresh/userpool_no_rotation` (rotation off: no store write, so what is
//!   left is a session lookup and the issuance of a new ID and access token).
//!
//! Run with `cargo bench -p userpool-benches`; `docs/performance.md` records the figures.
#![allow(missing_docs, reason = "criterion_group! generates an undocumented public function")]

use std::cell::OnceCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use userpool::config::{ClientConfig, PasswordHashing};
use userpool::{PoolConfig, RecordingDelivery, SigningAlgorithm, Tokens, UserPool};
use zeroize::Zeroize;

const USERNAME: &str = "alice";
const EMAIL: &str = "alice@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// A client with refresh-token rotation off, for `refresh/userpool_no_rotation`.
const NO_ROTATION_CLIENT: &str = "no-rotation";
/// More distinct tokens than the pool's verification cache holds (10,000 entries, cleared
/// when full), so cycling through them in order misses the cache on every call.
const UNCACHED_TOKENS: usize = 10_001;

/// A pool with the default (OWASP) hashing parameters and token algorithm, an in-memory store
/// and one confirmed user. The default client rotates refresh tokens; a second client does not.
fn pool() -> UserPool {
    pool_signing_with(SigningAlgorithm::default())
}

/// [`pool`] with another token signing algorithm.
fn pool_signing_with(algorithm: SigningAlgorithm) -> UserPool {
    let config = PoolConfig::builder()
        .with(|c| {
            c.tokens.algorithm = algorithm;
            c.clients.push(ClientConfig {
                id: NO_ROTATION_CLIENT.into(),
                refresh_rotation: false,
                ..c.clients[0].clone()
            });
        })
        .build()
        .expect("the default configuration with a second client is valid");
    assert_eq!(config.password_hashing, PasswordHashing::default(), "benchmarks use the default parameters");
    let delivery = RecordingDelivery::new();
    let pool = UserPool::builder(config).delivery(Arc::new(delivery.clone())).open().expect("an in-memory pool opens");
    let attributes = [("email".to_owned(), EMAIL.to_owned())].into();
    pool.sign_up(USERNAME, PASSWORD, attributes).expect("sign-up succeeds");
    let code = delivery.last_code_to(EMAIL).expect("sign-up sends a confirmation code");
    pool.confirm_sign_up(USERNAME, &code).expect("the code confirms the user");
    pool
}

fn sign_in(pool: &UserPool) -> Tokens {
    pool.sign_in(USERNAME, PASSWORD).expect("the password is right").tokens.expect("no MFA, so tokens come at once")
}

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("valid base64url")
}

fn sign_in_benches(c: &mut Criterion) {
    let pool = pool();
    assert!(sign_in(&pool).access_token.starts_with("ey"));

    let defaults = PasswordHashing::default();
    let params = Params::new(defaults.memory_kib, defaults.iterations, defaults.parallelism, None)
        .expect("OWASP parameters are valid");
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let phc = argon2.hash_password(PASSWORD.as_bytes()).expect("hashing succeeds").to_string();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");

    let mut group = c.benchmark_group("sign_in");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(12))
        .throughput(Throughput::Elements(1));
    group.bench_function("userpool", |b| {
        b.iter(|| black_box(pool.sign_in(black_box(USERNAME), black_box(PASSWORD))).expect("signed in"));
    });
    // The same sign-in with Cognito's RS256 tokens: what two RSA-2048 signatures add.
    let rs256 = pool_signing_with(SigningAlgorithm::RS256);
    assert!(sign_in(&rs256).access_token.starts_with("ey"));
    group.bench_function("userpool_rs256_tokens", |b| {
        b.iter(|| black_box(rs256.sign_in(black_box(USERNAME), black_box(PASSWORD))).expect("signed in"));
    });
    group.bench_function("bare_argon2_verify", |b| {
        b.iter(|| {
            // An app stores the PHC string, so it is parsed on every check (as the pool does).
            let hash = PasswordHash::new(black_box(&phc)).expect("a valid PHC string");
            black_box(argon2.verify_password(black_box(PASSWORD.as_bytes()), &hash)).expect("the password matches");
        });
    });
    // What wiping a hash's working memory costs at these parameters (1 KiB blocks): the pool
    // wipes its kept buffer after every one-pass hash, and after two passes only when it is
    // dropped (docs/security.md, "Bounded concurrency").
    let blocks = usize::try_from(defaults.memory_kib).expect("a block count");
    let mut memory = vec![Block::default(); blocks];
    group.bench_function("wipe_working_memory", |b| {
        b.iter(|| {
            memory.iter_mut().for_each(Zeroize::zeroize);
            black_box(&memory);
        });
    });
    group.finish();
}

fn verify_benches(c: &mut Criterion) {
    // RS256, so that ring's bare RS256 check is the same work without the engine.
    let pool = pool_signing_with(SigningAlgorithm::RS256);
    let token = sign_in(&pool).access_token;
    pool.verify_access_token(&token).expect("a fresh token verifies");

    // The bare baseline: the access key's n and e from the JWKS, the token split by hand.
    let header: Value = serde_json::from_slice(&b64(token.split('.').next().expect("a header"))).expect("JSON");
    let kid = header["kid"].as_str().expect("a kid");
    let jwks: Value = serde_json::from_str(&pool.jwks()).expect("the JWKS is JSON");
    let jwk = jwks["keys"]
        .as_array()
        .expect("a key list")
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the token's key is in the JWKS");
    let n = b64(jwk["n"].as_str().expect("n"));
    let e = b64(jwk["e"].as_str().expect("e"));
    let dot = token.rfind('.').expect("three parts");
    let (signing_input, signature) = (&token.as_bytes()[..dot], b64(&token[dot + 1..]));
    let key = ring::signature::RsaPublicKeyComponents { n: &n[..], e: &e[..] };
    key.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signing_input, &signature)
        .expect("ring verifies the pool's token");

    // Distinct tokens from a chain of refreshes, more than the cache holds. Made on first use
    // (about 10,000 token issuances), so a filter that skips the benchmark skips the cost.
    let uncached: OnceCell<Vec<String>> = OnceCell::new();
    let make_uncached = || {
        let mut refresh_token = sign_in(&pool).refresh_token;
        (0..UNCACHED_TOKENS)
            .map(|_| {
                let tokens = pool.refresh(&refresh_token).expect("refresh succeeds");
                refresh_token = tokens.refresh_token;
                tokens.access_token
            })
            .collect()
    };

    let mut group = c.benchmark_group("verify_access_token");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    group.bench_function("userpool", |b| {
        b.iter(|| black_box(pool.verify_access_token(black_box(&token))).expect("the token verifies"));
    });
    // Criterion calls the closure once per sample: the cursor lives outside it, so the cycle
    // continues across samples instead of restarting at a token verified a moment ago.
    let mut cursor = 0_usize;
    group.bench_function("userpool_uncached", |b| {
        let tokens = uncached.get_or_init(make_uncached);
        b.iter(|| {
            let token = &tokens[cursor % tokens.len()];
            cursor += 1;
            black_box(pool.verify_access_token(black_box(token))).expect("the token verifies")
        });
    });
    group.bench_function("bare_ring_rs256", |b| {
        b.iter(|| {
            black_box(key.verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                black_box(signing_input),
                black_box(&signature),
            ))
            .expect("the signature verifies");
        });
    });
    group.finish();
}

fn refresh_benches(c: &mut Criterion) {
    let pool = pool();
    let mut rotating = sign_in(&pool).refresh_token;
    let fixed_client = pool.with_client(NO_ROTATION_CLIENT, None).expect("the client exists");
    let fixed = sign_in(&fixed_client).refresh_token;
    assert_eq!(fixed_client.refresh(&fixed).expect("refresh succeeds").refresh_token, fixed, "no rotation");

    let mut group = c.benchmark_group("refresh");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(1));
    group.bench_function("userpool", |b| {
        b.iter(|| {
            let tokens = pool.refresh(black_box(&rotating)).expect("the latest token refreshes");
            rotating.clone_from(&tokens.refresh_token);
            black_box(tokens)
        });
    });
    group.bench_function("userpool_no_rotation", |b| {
        b.iter(|| black_box(fixed_client.refresh(black_box(&fixed))).expect("the token refreshes"));
    });
    group.finish();
}

criterion_group!(benches, sign_in_benches, verify_benches, refresh_benches);
criterion_main!(benches);
