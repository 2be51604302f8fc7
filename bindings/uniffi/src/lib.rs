//! # userpool for Kotlin and Swift
//!
//! The uniffi binding of [`userpool`]: an exported [`UserPool`] object whose methods forward
//! in one line to the engine, records and enums for the results, one error enum
//! ([`AuthError`]) whose variants are the Cognito exception names, and two foreign traits the
//! app implements: [`Delivery`] (sends the codes) and [`Clock`] (optional). Slow operations
//! are `async` (Kotlin `suspend fun`, Swift `async`) and run on a blocking thread pool; token
//! verification and the JWKS are synchronous.
//!
//! The Kotlin and Swift sources are generated from the built library by this crate's
//! `uniffi-bindgen` binary (library mode); see `bindings/uniffi/test.sh` and
//! `docs/bindings/{kotlin,swift}.md`. No flow logic or validation lives here, and no default
//! but an absent value (null, an empty map), as Python and Node take them.

uniffi::setup_scaffolding!("userpool");

mod error;
mod host;
mod pool;
mod types;

pub use crate::error::{AuthError, DeliveryError};
pub use crate::host::{Clock, Delivery};
pub use crate::pool::{UserPool, backup_file, secret_hash};
pub use crate::types::{
    AttributeUpdate, AuditEvent, Channel, CodeDelivery, CreatedUser, EventKind, Group, GroupList, Message, MfaMethod,
    MfaPreference, Purpose, Secret, SignInResult, SignInStep, SignUpResult, SignUpStep, Tokens, TotpSetup, User,
    UserList, UserStatus,
};
