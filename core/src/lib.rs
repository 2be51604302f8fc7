//! # userpool
//!
//! An embeddable user pool: everything an app gets from a hosted identity service such as
//! Cognito User Pools — sign-up with a confirmation code, sign-in, JWT ID and access tokens
//! with rotating refresh tokens, sign-out and global sign-out, forgotten-password recovery,
//! user attributes, administration — as a library inside the app's own process, on the
//! app's own storage.
//!
//! ```
//! use std::sync::Arc;
//! use userpool::{PoolConfig, RecordingDelivery, UserPool};
//!
//! # fn main() -> userpool::Result<()> {
//! # let config = PoolConfig::from_toml("[password_hashing]\nmemory_kib = 256\niterations = 1\ndangerous_allow_weak = true")?;
//! let delivery = RecordingDelivery::new();
//! let pool = UserPool::builder(config).delivery(Arc::new(delivery.clone())).open()?;
//!
//! let attributes = [("email".to_owned(), "alice@example.com".to_owned())].into();
//! pool.sign_up("alice", "correct horse battery staple", attributes)?;
//! let code = delivery.last_code_to("alice@example.com").expect("a code was sent");
//! pool.confirm_sign_up("alice", &code)?;
//!
//! let signed_in = pool.sign_in("alice", "correct horse battery staple")?;
//! let tokens = signed_in.tokens.expect("no MFA configured, so tokens come at once");
//! let claims = pool.verify_access_token(&tokens.access_token)?;
//! assert_eq!(claims["username"], "alice");
//! # Ok(()) }
//! ```
//!
//! ## Layers
//!
//! - [`flow`]: the pure state machine (no clock, no I/O, injected randomness).
//! - [`UserPool`]: the driver that loads state from a [`Store`], runs a transition, delivers
//!   messages through a [`Delivery`], commits atomically and issues tokens.
//! - [`store`]: the [`Store`] trait, [`MemoryStore`], and the conformance suite.
//!
//! Every error carries a Cognito-named [`ErrorCode`], so code written against Amplify's
//! `err.code === 'UsernameExistsException'` keeps working.

pub mod attributes;
pub mod clock;
pub mod config;
mod crypto;
pub mod delivery;
pub mod error;
mod filter;
pub mod flow;
mod handle;
mod keyring;
mod pool;
pub mod results;
pub mod scenario;
pub mod store;

pub use crate::attributes::Attributes;
pub use crate::clock::{Clock, LastReading, ManualClock, SystemClock, check_host_reading};
pub use crate::config::{MfaMode, PoolConfig, SigningAlgorithm};
pub use crate::delivery::{
    Channel, ConsoleDelivery, Delivery, DeliveryError, FailingDelivery, Message, Purpose, RecordingDelivery,
};
pub use crate::error::{Error, ErrorCode, Result};
pub use crate::flow::MfaPreference;
pub use crate::flow::state::{AuditEvent, EventKind, MfaMethod, UserStatus};
pub use crate::handle::PoolHandle;
pub use crate::pool::ImportUser;
pub use crate::pool::{UserPool, UserPoolBuilder, secret_hash};
pub use crate::results::{
    AttributeUpdate, Claims, CodeDelivery, CreatedUser, Group, GroupList, SignInResult, SignInStep, SignUpResult,
    SignUpStep, Tokens, TotpSetup, User, UserList,
};
pub use crate::store::{MemoryStore, Store};
#[cfg(feature = "sqlite")]
pub use crate::store::{SqliteOptions, SqliteStore};
