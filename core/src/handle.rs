//! [`PoolHandle`]: a [`UserPool`] an app can close, as every binding hands one out.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::UserPool;
use crate::error::{Error, ErrorCode, Result};

/// A handle on a [`UserPool`] that can be closed. A pool holds the host's delivery and
/// clock, which in a garbage-collected language often refer back to the pool: only closing
/// the handle lets them, the pool and its file go. Closing ends this handle only; other
/// handles on the same pool, and calls already running, keep theirs. `extra` is what a
/// binding must let go of with the pool (Node's reference to the clock function).
pub struct PoolHandle<Extra = ()> {
    open: Mutex<Option<(UserPool, Extra)>>,
    /// What the pool is, readable after it is closed.
    pool_id: String,
    issuer: String,
    config: String,
}

impl<Extra: Clone> PoolHandle<Extra> {
    /// An open handle on `pool`.
    pub fn new(pool: UserPool, extra: Extra) -> Self {
        let (pool_id, issuer) = (pool.pool_id().to_owned(), pool.issuer().to_owned());
        let config = pool.config().to_redacted_toml();
        Self { open: Mutex::new(Some((pool, extra))), pool_id, issuer, config }
    }

    fn lock(&self) -> MutexGuard<'_, Option<(UserPool, Extra)>> {
        // Nothing runs under the lock that could leave it half-changed.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pool and its extra while the handle is open; `InvalidParameterException` after.
    pub fn get(&self) -> Result<(UserPool, Extra)> {
        self.lock().clone().ok_or_else(|| Error::new(ErrorCode::InvalidParameter, "This pool was closed."))
    }

    /// The pool while the handle is open; `InvalidParameterException` after.
    pub fn pool(&self) -> Result<UserPool> {
        self.get().map(|(pool, _)| pool)
    }

    /// Closes the handle. Closing twice does nothing.
    pub fn close(&self) {
        let closed = self.lock().take();
        // Dropped once the lock is released: the pool's last reference may run finalizers
        // (the host's delivery, say) that call this handle again.
        drop(closed);
    }

    /// The pool id.
    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// The token issuer (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The configuration in force as TOML, client secrets redacted (see
    /// [`crate::PoolConfig::to_redacted_toml`]).
    pub fn config(&self) -> &str {
        &self.config
    }
}

impl<Extra> std::fmt::Debug for PoolHandle<Extra> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle").field("pool_id", &self.pool_id).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PoolConfig;

    #[test]
    fn a_closed_handle_refuses_and_other_handles_go_on() {
        let pool = UserPool::builder(PoolConfig::default()).open().unwrap();
        let (one, other) = (PoolHandle::new(pool.clone(), ()), PoolHandle::new(pool, ()));
        one.close();
        one.close();
        assert_eq!(one.pool().unwrap_err().code(), ErrorCode::InvalidParameter);
        assert_eq!(one.pool_id(), other.pool_id(), "what the handle was stays readable");
        assert!(other.pool().unwrap().list_users(None, None, None).is_ok());
    }
}
