//! The README's Rust example ("In Rust"), built with the tests so that it keeps compiling:
//! `tests/readme.rs` checks that the README shows exactly the code between the markers.
//! Run it with `cargo run -p userpool --example readme` (it keeps `users.sqlite3`).

// Laid out as the README shows it (its comments aligned).
#[rustfmt::skip]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // README begins
    use std::sync::Arc;
    use userpool::{PoolConfig, RecordingDelivery, SqliteOptions, UserPool};

    let delivery = RecordingDelivery::new(); // in production: your own `Delivery` (SES, Twilio, a queue)
    let pool = UserPool::builder(PoolConfig::from_toml(r#"pool_id = "eu_myapp""#)?)
        .sqlite("users.sqlite3", SqliteOptions::default()) // kept (run twice: alice exists); left out: memory
        .delivery(Arc::new(delivery.clone()))
        .open()?;

    let attributes = [("email".to_owned(), "alice@example.com".to_owned())].into();
    pool.sign_up("alice", "correct horse battery staple", attributes)?;
    let code = delivery.last_code_to("alice@example.com").unwrap();
    pool.confirm_sign_up("alice", &code)?;

    let tokens = pool.sign_in("alice", "correct horse battery staple")?.tokens.unwrap();
    let claims = pool.verify_access_token(&tokens.access_token)?; // on every API request
    let fresh = pool.refresh(&tokens.refresh_token)?;             // rotates the refresh token
    pool.sign_out(&fresh.refresh_token)?;                         // the session's tokens stop verifying
    // README ends
    println!("{claims:?}");
    Ok(())
}
