//! Property tests: random sequences of operations and clock moves against one pool, checking
//! the invariants that must hold whatever happens:
//!
//! - tokens are issued only to confirmed, enabled users with the right password;
//! - a confirmed account is not confirmed again, and a reset code is not accepted twice;
//! - a refresh token that was rotated out is never accepted after the grace window (within
//!   it, a retry may leave a second line live: `Family::siblings`, tested in `tests/pool.rs`);
//! - a signed-out refresh token does not refresh, nor an access token after a sign-out
//!   everywhere verify;
//! - every token just issued verifies, and nothing panics.
//!
//! Tokens are picked from all those handed out so far, the newest as likely as the oldest.

use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;
use userpool::{ErrorCode, ManualClock, PoolConfig, RecordingDelivery, SignInStep, UserPool, UserStatus};

const USERS: [&str; 2] = ["alice", "bob"];
const PASSWORDS: [&str; 2] = ["correct horse battery staple", "another fine passphrase"];
const GRACE_SECS: i64 = 10;

#[derive(Clone, Debug)]
enum Op {
    SignUp { user: usize },
    Confirm { user: usize, right: bool },
    Resend { user: usize },
    SignIn { user: usize, password: usize },
    Refresh { token: prop::sample::Index },
    SignOut { token: prop::sample::Index },
    GlobalSignOut { token: prop::sample::Index },
    Forgot { user: usize },
    ConfirmForgot { user: usize, right: bool, password: usize },
    Disable { user: usize },
    Enable { user: usize },
    Delete { user: usize },
    Advance { secs: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS.len();
    prop_oneof![
        1 => user.clone().prop_map(|user| Op::SignUp { user }),
        1 => (user.clone(), any::<bool>()).prop_map(|(user, right)| Op::Confirm { user, right }),
        1 => user.clone().prop_map(|user| Op::Resend { user }),
        3 => (user.clone(), 0..PASSWORDS.len()).prop_map(|(user, password)| Op::SignIn { user, password }),
        3 => any::<prop::sample::Index>().prop_map(|token| Op::Refresh { token }),
        1 => any::<prop::sample::Index>().prop_map(|token| Op::SignOut { token }),
        1 => any::<prop::sample::Index>().prop_map(|token| Op::GlobalSignOut { token }),
        1 => user.clone().prop_map(|user| Op::Forgot { user }),
        1 => (user.clone(), any::<bool>(), 0..PASSWORDS.len())
            .prop_map(|(user, right, password)| Op::ConfirmForgot { user, right, password }),
        1 => user.clone().prop_map(|user| Op::Disable { user }),
        1 => user.clone().prop_map(|user| Op::Enable { user }),
        1 => user.prop_map(|user| Op::Delete { user }),
        1 => prop_oneof![Just(1i64), Just(5), Just(11), Just(200), Just(3601), Just(90_000)].prop_map(|secs| Op::Advance { secs }),
    ]
}

struct World {
    pool: UserPool,
    clock: ManualClock,
    delivery: RecordingDelivery,
    /// Refresh tokens handed out, in order.
    tokens: Vec<zeroize::Zeroizing<String>>,
    /// Access tokens handed out, in order.
    access: Vec<String>,
    /// Refresh tokens that were rotated out, and when.
    rotated_at: HashMap<String, i64>,
    /// Which password each user currently has (our model).
    password: HashMap<usize, usize>,
}

fn email(user: usize) -> String {
    format!("{}@example.com", USERS[user])
}

impl World {
    fn new() -> Self {
        let config = PoolConfig::from_toml(
            "pool_id = 'local_props'\n[tokens]\nalgorithm = 'ES256'\n\
             [password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true\n",
        )
        .unwrap();
        let clock = ManualClock::new(1_700_000_000_000);
        let delivery = RecordingDelivery::new();
        let pool = UserPool::builder(config)
            .delivery(Arc::new(delivery.clone()))
            .clock(Arc::new(clock.clone()))
            .open()
            .unwrap();
        let mut world = Self {
            pool,
            clock,
            delivery,
            tokens: Vec::new(),
            access: Vec::new(),
            rotated_at: HashMap::new(),
            password: HashMap::new(),
        };
        // Most interesting sequences need confirmed users; start from there (the ops can
        // still delete and re-create them).
        for user in 0..USERS.len() {
            world.apply(&Op::SignUp { user }).unwrap();
            world.apply(&Op::Confirm { user, right: true }).unwrap();
        }
        world
    }

    fn now_secs(&self) -> i64 {
        use userpool::Clock as _;
        self.clock.now_ms() / 1000
    }

    fn token(&self, i: &prop::sample::Index) -> Option<zeroize::Zeroizing<String>> {
        (!self.tokens.is_empty()).then(|| self.tokens[i.index(self.tokens.len())].clone())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            &Op::SignUp { user } => {
                let attrs = [("email".to_owned(), email(user))].into();
                if self.pool.sign_up(USERS[user], PASSWORDS[0], attrs).is_ok() {
                    self.password.insert(user, 0);
                }
            }
            &Op::Confirm { user, right } => {
                let code = if right { self.delivery.last_code_to(&email(user)) } else { Some("000000".into()) };
                if let Some(code) = code
                    && self.pool.confirm_sign_up(USERS[user], &code).is_ok()
                {
                    prop_assert!(right, "a wrong code confirmed an account");
                    // The account is confirmed now: the same code is refused for that reason.
                    let again = self.pool.confirm_sign_up(USERS[user], &code).map_err(|e| e.code());
                    prop_assert_eq!(again, Err(ErrorCode::NotAuthorized), "a confirmed account was confirmed again");
                }
            }
            &Op::Resend { user } => {
                let _ = self.pool.resend_sign_up_code(USERS[user]);
            }
            &Op::SignIn { user, password } => {
                let outcome = self.pool.sign_in(USERS[user], PASSWORDS[password]);
                if let Ok(result) = outcome {
                    if result.next_step == SignInStep::Done {
                        prop_assert_eq!(self.password.get(&user), Some(&password), "tokens for a wrong password");
                        let view = self.pool.admin_get_user(USERS[user]).unwrap();
                        prop_assert_eq!(view.status, UserStatus::Confirmed, "tokens for an unconfirmed user");
                        prop_assert!(view.enabled, "tokens for a disabled user");
                        let tokens = result.tokens.unwrap();
                        prop_assert!(self.pool.verify_access_token(&tokens.access_token).is_ok());
                        self.tokens.push(tokens.refresh_token);
                        self.access.push(tokens.access_token);
                    } else {
                        prop_assert!(result.tokens.is_none());
                    }
                }
            }
            Op::Refresh { token } => {
                let Some(refresh) = self.token(token) else { return Ok(()) };
                let outcome = self.pool.refresh(&refresh);
                if let Some(&at) = self.rotated_at.get(refresh.as_str())
                    && self.now_secs() - at > GRACE_SECS
                {
                    prop_assert!(outcome.is_err(), "a rotated-out refresh token was accepted after the grace window");
                }
                if let Ok(tokens) = outcome {
                    prop_assert!(self.pool.verify_access_token(&tokens.access_token).is_ok());
                    let now = self.now_secs();
                    self.rotated_at.entry(refresh.as_str().to_owned()).or_insert(now);
                    self.tokens.push(tokens.refresh_token);
                    self.access.push(tokens.access_token);
                } else if let Err(e) = outcome {
                    prop_assert!(
                        matches!(e.code(), ErrorCode::NotAuthorized | ErrorCode::RefreshTokenReuse),
                        "unexpected refresh error {e}"
                    );
                }
            }
            Op::SignOut { token } => {
                if let Some(refresh) = self.token(token)
                    && self.pool.sign_out(&refresh).is_ok()
                {
                    prop_assert!(self.pool.refresh(&refresh).is_err(), "refresh after sign-out");
                }
            }
            Op::GlobalSignOut { token } => {
                if !self.access.is_empty() {
                    let access = self.access[token.index(self.access.len())].clone();
                    if self.pool.global_sign_out(&access).is_ok() {
                        prop_assert!(
                            self.pool.verify_access_token(&access).is_err(),
                            "access token valid after global sign-out"
                        );
                    }
                }
            }
            &Op::Forgot { user } => {
                let _ = self.pool.forgot_password(USERS[user]);
            }
            &Op::ConfirmForgot { user, right, password } => {
                let code = if right { self.delivery.last_code_to(&email(user)) } else { Some("000000".into()) };
                if let Some(code) = code
                    && self.pool.confirm_forgot_password(USERS[user], &code, PASSWORDS[password]).is_ok()
                {
                    prop_assert!(right, "a wrong reset code was accepted");
                    self.password.insert(user, password);
                    let again = self.pool.confirm_forgot_password(USERS[user], &code, PASSWORDS[password]);
                    // Spent: no code is pending any more.
                    prop_assert_eq!(
                        again.map_err(|e| e.code()),
                        Err(ErrorCode::ExpiredCode),
                        "a reset code was accepted twice"
                    );
                }
            }
            &Op::Disable { user } => {
                let _ = self.pool.admin_disable_user(USERS[user]);
            }
            &Op::Enable { user } => {
                let _ = self.pool.admin_enable_user(USERS[user]);
            }
            &Op::Delete { user } => {
                if self.pool.admin_delete_user(USERS[user]).is_ok() {
                    self.password.remove(&user);
                }
            }
            &Op::Advance { secs } => self.clock.advance_secs(secs),
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_sequence(ops in proptest::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op)?;
        }
    }
}
