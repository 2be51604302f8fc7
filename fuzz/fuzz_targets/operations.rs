//! Arbitrary sequences of pool operations and clock moves against a memory pool, checking
//! the invariants of the property tests: tokens only for confirmed, enabled users with the
//! right password; no code or rotated refresh token accepted twice; no panic.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use userpool::{ManualClock, PoolConfig, RecordingDelivery, SignInStep, UserPool, UserStatus};

#[derive(Arbitrary, Debug)]
enum Op {
    SignUp(bool, u8),
    Confirm(bool, bool),
    SignIn(bool, u8),
    Refresh(u8),
    SignOut(u8),
    Forgot(bool),
    ConfirmForgot(bool, bool, u8),
    Disable(bool),
    Enable(bool),
    Delete(bool),
    Advance(u16),
    Text(String),
}

const USERS: [&str; 2] = ["alice", "bob"];
const PASSWORDS: [&str; 3] = ["correct horse battery staple", "another fine passphrase", "short"];

fuzz_target!(|ops: Vec<Op>| {
    if ops.len() > 40 {
        return;
    }
    let config = PoolConfig::from_toml(
        "pool_id = 'fuzz'\n[tokens]\nalgorithm = 'ES256'\n[password_hashing]\nmemory_kib = 8\niterations = 1\ndangerous_allow_weak = true",
    )
    .unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let delivery = RecordingDelivery::new();
    let pool = UserPool::builder(config)
        .delivery(Arc::new(delivery.clone()))
        .clock(Arc::new(clock.clone()))
        .open()
        .unwrap();
    let mut password: [Option<usize>; 2] = [None, None];
    let mut tokens: Vec<String> = Vec::new();
    let mut rotated: Vec<(String, i64)> = Vec::new();
    let email = |u: usize| format!("{}@example.com", USERS[u]);
    for op in ops {
        match op {
            Op::SignUp(u, p) => {
                let (u, p) = (usize::from(u), usize::from(p) % 3);
                if pool.sign_up(USERS[u], PASSWORDS[p], [("email".into(), email(u))].into()).is_ok() {
                    password[u] = Some(p);
                }
            }
            Op::Confirm(u, right) => {
                let u = usize::from(u);
                let code = if right { delivery.last_code_to(&email(u)).unwrap_or_default() } else { "000000".into() };
                if pool.confirm_sign_up(USERS[u], &code).is_ok() {
                    assert!(pool.confirm_sign_up(USERS[u], &code).is_err(), "a code accepted twice");
                }
            }
            Op::SignIn(u, p) => {
                let (u, p) = (usize::from(u), usize::from(p) % 3);
                if let Ok(r) = pool.sign_in(USERS[u], PASSWORDS[p]) {
                    if r.next_step == SignInStep::Done {
                        assert_eq!(password[u], Some(p), "tokens for a wrong password");
                        let user = pool.admin_get_user(USERS[u]).unwrap();
                        assert!(user.enabled && user.status == UserStatus::Confirmed);
                        tokens.push(r.tokens.unwrap().refresh_token.as_str().to_owned());
                    }
                }
            }
            Op::Refresh(i) => {
                if tokens.is_empty() {
                    continue;
                }
                let t = tokens[usize::from(i) % tokens.len()].clone();
                let now = clock_secs(&clock);
                let outcome = pool.refresh(&t);
                if rotated.iter().any(|(r, at)| *r == t && now - at >= 10) {
                    assert!(outcome.is_err(), "a rotated-out refresh token was accepted after the grace window");
                }
                if let Ok(new) = outcome {
                    rotated.push((t, now));
                    tokens.push(new.refresh_token.as_str().to_owned());
                }
            }
            Op::SignOut(i) => {
                if !tokens.is_empty() {
                    let t = tokens[usize::from(i) % tokens.len()].clone();
                    if pool.sign_out(&t).is_ok() {
                        assert!(pool.refresh(&t).is_err());
                    }
                }
            }
            Op::Forgot(u) => drop(pool.forgot_password(USERS[usize::from(u)])),
            Op::ConfirmForgot(u, right, p) => {
                let (u, p) = (usize::from(u), usize::from(p) % 3);
                let code = if right { delivery.last_code_to(&email(u)).unwrap_or_default() } else { "000000".into() };
                if pool.confirm_forgot_password(USERS[u], &code, PASSWORDS[p]).is_ok() {
                    password[u] = Some(p);
                    assert!(pool.confirm_forgot_password(USERS[u], &code, PASSWORDS[p]).is_err(), "a reset code accepted twice");
                }
            }
            Op::Disable(u) => drop(pool.admin_disable_user(USERS[usize::from(u)])),
            Op::Enable(u) => drop(pool.admin_enable_user(USERS[usize::from(u)])),
            Op::Delete(u) => {
                if pool.admin_delete_user(USERS[usize::from(u)]).is_ok() {
                    password[usize::from(u)] = None;
                }
            }
            Op::Advance(secs) => clock.advance_secs(i64::from(secs)),
            Op::Text(text) => {
                // Arbitrary text into every string input: typed errors, never a panic.
                let _ = pool.sign_in(&text, &text);
                let _ = pool.sign_up(&text, &text, [(text.clone(), text.clone())].into());
                let _ = pool.confirm_sign_up(&text, &text);
                let _ = pool.refresh(&text);
                let _ = pool.confirm_sign_in(&text, &text, Default::default());
                let _ = pool.list_users(Some(&text), None, Some(&text));
            }
        }
    }
});

fn clock_secs(clock: &ManualClock) -> i64 {
    use userpool::Clock as _;
    clock.now_ms() / 1000
}
