//! The `userpool` command: a guided demo of every journey, scenario replay, and configuration
//! helpers.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use clap::{Parser, Subcommand};
use userpool::{Attributes, PoolConfig, RecordingDelivery, SignInStep, UserPool};

/// An embeddable user pool: sign-up, sign-in, JWT sessions, recovery and administration in
/// your own process and database.
#[derive(Parser)]
#[command(name = "userpool", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walk through the whole journey of the tutorial on a fresh pool, printing each step:
    /// sign up, confirm with the delivered code, sign in, decode the tokens, refresh, sign
    /// out, forgot password, reset, sign in again.
    Demo {
        /// Pool configuration (TOML); defaults to the built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Replay scenario files (fixtures/scenarios/*.json) and report each.
    Scenario {
        /// Scenario files to run.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the default configuration as TOML, every key with its default.
    Default,
    /// Validate a configuration file and report the first problem, naming the key.
    Check {
        /// The TOML file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { config } => demo(config),
        Command::Scenario { files } => scenarios(&files),
        Command::Config { action: ConfigAction::Default } => {
            print!("{}", PoolConfig::default().to_toml());
            Ok(())
        }
        Command::Config { action: ConfigAction::Check { file } } => {
            load_config(&file).map(|_| println!("{}: valid", file.display()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(path: &PathBuf) -> Result<PoolConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PoolConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn scenarios(files: &[PathBuf]) -> Result<(), String> {
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let outcome = userpool::scenario::Scenario::from_json(&text).and_then(|s| userpool::scenario::run(&s));
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("ok    {}", path.display());
            }
            Err(e) => {
                failed += 1;
                println!("FAIL  {}: {e}", path.display());
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 { Ok(()) } else { Err(format!("{failed} scenario(s) failed")) }
}

fn step(n: u32, title: &str) {
    use std::io::IsTerminal as _;
    if std::io::stdout().is_terminal() {
        println!("\n\x1b[1m{n:>2}. {title}\x1b[0m");
    } else {
        println!("\n{n:>2}. {title}");
    }
}

fn show_messages(delivery: &RecordingDelivery, seen: &mut usize) {
    let messages = delivery.messages();
    for message in &messages[*seen..] {
        println!("    ✉  {} to {}: \"{}\"", message.channel.as_str(), message.destination, message.text.as_str());
    }
    *seen = messages.len();
}

fn decode_jwt(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    serde_json::to_string_pretty(&value)
        .unwrap_or_default()
        .lines()
        .map(|l| format!("      {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn short(token: &str) -> String {
    format!("{}…({} chars)", &token[..token.len().min(24)], token.len())
}

fn demo(config: Option<PathBuf>) -> Result<(), String> {
    let config = match config {
        Some(path) => load_config(&path)?,
        None => PoolConfig::builder().pool_id("local_demo").name("userpool-demo").build().map_err(|e| e.to_string())?,
    };
    let err = |e: userpool::Error| e.to_string();
    let delivery = RecordingDelivery::new();
    let mut seen = 0;
    let pool = UserPool::builder(config).delivery(Arc::new(delivery.clone())).open().map_err(err)?;
    println!("userpool demo — pool `{}` in memory, issuer {}", pool.pool_id(), pool.issuer());
    let (username, email) = ("alice", "alice@example.com");
    let password = "correct horse battery staple";
    let new_password = "tr0ub4dor & 3, but longer";

    step(1, "Sign up");
    let attributes: Attributes =
        [("email".to_owned(), email.to_owned()), ("name".to_owned(), "Alice".to_owned())].into();
    let signed_up = pool.sign_up(username, password, attributes).map_err(err)?;
    println!("    user_sub  {}", signed_up.user_sub);
    println!("    next step {}", signed_up.next_step.as_str());
    show_messages(&delivery, &mut seen);

    step(2, "Confirm the account with the delivered code");
    let code = delivery.last_code_to(email).ok_or("no confirmation code was delivered")?;
    pool.confirm_sign_up(username, &code).map_err(err)?;
    println!("    confirmed with {code}");

    step(3, "Sign in");
    let signed_in = pool.sign_in(username, password).map_err(err)?;
    println!("    next step {}", signed_in.next_step.as_str());
    let tokens = signed_in.tokens.ok_or("sign-in returned no tokens")?;
    println!("    access token  {}", short(&tokens.access_token));
    println!("    refresh token {}", short(&tokens.refresh_token));
    println!("    ID token claims:\n{}", decode_jwt(&tokens.id_token));
    println!("    access token claims:\n{}", decode_jwt(&tokens.access_token));

    step(4, "Verify the access token (what every request of your API does)");
    let claims = pool.verify_access_token(&tokens.access_token).map_err(err)?;
    println!("    valid: username={} sub={}", claims["username"], claims["sub"]);

    step(5, "Refresh: new tokens, and the refresh token rotates");
    let refreshed = pool.refresh(&tokens.refresh_token).map_err(err)?;
    println!("    new refresh token {}", short(&refreshed.refresh_token));
    let replay = pool.refresh(&tokens.refresh_token);
    println!(
        "    replaying the old one within the grace window: {}",
        if replay.is_ok() { "accepted (lost-response retry)" } else { "refused" }
    );

    step(6, "Sign out");
    let current = replay.as_ref().map_or(&refreshed.refresh_token, |t| &t.refresh_token);
    pool.sign_out(current).map_err(err)?;
    let after = pool.verify_access_token(&refreshed.access_token);
    println!("    the session's access token now: {}", after.err().map_or("still valid?!".into(), |e| e.to_string()));

    step(7, "Forgot password");
    let sent = pool.forgot_password(username).map_err(err)?;
    println!("    code sent by {} to {}", sent.channel.as_str(), sent.destination);
    show_messages(&delivery, &mut seen);

    step(8, "Reset the password with the code");
    let wrong = pool.confirm_forgot_password(username, "000000", new_password);
    println!("    a wrong code: {}", wrong.err().map_or("accepted?!".into(), |e| e.to_string()));
    let code = delivery.last_code_to(email).ok_or("no reset code was delivered")?;
    pool.confirm_forgot_password(username, &code, new_password).map_err(err)?;
    println!("    password reset");

    step(9, "Sign in again");
    let old = pool.sign_in(username, password);
    println!("    with the old password: {}", old.err().map_or("accepted?!".into(), |e| e.to_string()));
    let again = pool.sign_in(username, new_password).map_err(err)?;
    println!("    with the new password: {}", again.next_step.as_str());
    if again.next_step != SignInStep::Done {
        return Err("the final sign-in did not complete".into());
    }
    println!("\nThe whole journey ran. Public keys for your API gateway: pool.jwks() →\n    {}", short(&pool.jwks()));
    Ok(())
}
