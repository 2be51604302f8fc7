//! The `userpool` command: a guided demo of every journey, user administration on a pool
//! file (list, import and export in Cognito's CSV format), backups of a pool file, scenario
//! replay, and configuration helpers.

/// `println!` that makes a closed or failing standard output the command's error, where
/// `println!` panics: `userpool demo | head -3` closes it before the demo is done.
macro_rules! say {
    () => {
        say!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err(|e| format!("standard output: {e}"))?
    }};
}

mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine as _;
use clap::{Args, Parser, Subcommand};
use userpool::{
    Attributes, Clock as _, ManualClock, MfaMode, PoolConfig, RecordingDelivery, SignInStep, SqliteOptions,
    SystemClock, UserPool,
};

/// Where `userpool demo` keeps its pool unless told otherwise.
const DEMO_FILE: &str = "userpool-demo.sqlite3";
/// The demo's pool id.
const DEMO_POOL_ID: &str = "local_demo";

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
    /// Walk through the whole journey of the tutorial, printing each step.
    ///
    /// Sign up, confirm with the delivered code, sign in, decode the tokens, refresh, sign
    /// out, forgot password, reset, sign in again, add an authenticator app, sign in with the
    /// second factor. The pool lives in a SQLite file (created if missing; each run signs up
    /// a new user: alice, alice2, …), or in memory with --memory.
    Demo {
        /// Pool configuration (TOML, or JSON); defaults to the built-in defaults with pool id
        /// `local_demo` and optional TOTP MFA. One given here needs plain usernames and
        /// `mfa.mode = "optional"` with `totp` among `mfa.methods`.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The SQLite file the pool lives in.
        #[arg(long, value_name = "PATH", default_value = DEMO_FILE, conflicts_with = "memory")]
        pool: PathBuf,
        /// Keep the pool in memory: nothing is written, everything is gone at the end.
        #[arg(long)]
        memory: bool,
    },
    /// Administer the users of a pool kept in a SQLite file: list, import, export.
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Copy a pool file to a new file, as of one moment, while apps go on using the pool.
    ///
    /// The copy holds every pool of the file (and any table of the app's own), is readable
    /// by its owner only, and appears at DEST only once it is whole; DEST must not exist.
    /// The pool file is left as it is, even one an older userpool wrote (a copy before an
    /// upgrade).
    /// It holds password hashes, personal data and (unless the pools are sealed with an
    /// encryption key) their signing keys: keep it as the pool file is kept. To restore one,
    /// close the pool in every process, remove the -wal and -shm files beside the pool file
    /// and put the copy in its place (docs/storage.md, "Backups", says what a restore undoes).
    Backup {
        /// The SQLite file the pools live in.
        #[arg(long, value_name = "PATH")]
        pool: PathBuf,
        /// The new file to copy it to.
        dest: PathBuf,
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

/// Which pool of which file.
#[derive(Args)]
struct PoolArgs {
    /// The SQLite file the pool lives in (import creates it and the pool if missing; list and
    /// export only read a pool that is there).
    #[arg(long, value_name = "PATH")]
    pool: PathBuf,
    /// The pool's configuration (TOML, or JSON): its pool id, username and alias settings decide
    /// how users are found. Without it, the built-in defaults, with the username and alias
    /// settings the pool's app recorded when it last opened the pool.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The pool id within the file (default: the configuration's; without one, the pool the
    /// file holds, or `local_default`, the libraries' default, in a new file).
    #[arg(long, value_name = "ID")]
    pool_id: Option<String>,
    /// A file holding the 32-byte key the app seals the pool's secrets with (its encryption
    /// key): the 32 bytes themselves, or 64 hex digits, or their base64.
    #[arg(long, value_name = "FILE")]
    encryption_key_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum UsersAction {
    /// List users, one a line: username, status, enabled, email, phone number, sub.
    ///
    /// Users come in `sub` order, or with a filter on a searchable attribute (username, email,
    /// phone number, names) in the order of its value; a count goes to standard error.
    List {
        #[command(flatten)]
        pool: PoolArgs,
        /// Cognito's filter syntax: `email ^= "ali"`, `username = "bob"`,
        /// `cognito:user_status = "CONFIRMED"`.
        #[arg(long)]
        filter: Option<String>,
        /// At most this many users.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Import users from a CSV file in Cognito's user-import format, with a progress bar.
    ///
    /// The header is that of Cognito's GetCSVHeader (name, given_name, family_name, …,
    /// email, email_verified, …, phone_number, phone_number_verified, …, updated_at,
    /// cognito:mfa_enabled, cognito:username); columns may be left out or reordered, but
    /// cognito:username is required. As in Cognito, imported users have no password and
    /// the status RESET_REQUIRED: each sets one through forgot-password. Rows that fail (a
    /// taken username or alias, a bad attribute, a row that cannot be read) are skipped, and
    /// 20 of them reported by line (the summary counts them all); the others are
    /// imported in transactions of 1,000 users. Rows whose every cell is empty (as
    /// spreadsheets write them) are passed over. Cells are read as they are, spaces
    /// included, but for the TRUE/FALSE ones. The failures go to standard error, the summary
    /// to standard output. The exit status is 0 only when every row was imported (or
    /// skipped with --skip-existing).
    Import {
        /// The CSV file.
        file: PathBuf,
        #[command(flatten)]
        pool: PoolArgs,
        /// Skip the rows whose username is a user's already, counting them apart rather than
        /// as failures: for importing a file again after an import that stopped partway.
        /// The user there is kept as it is, whatever else the row says, but must have the
        /// email and phone number the row gives, compared as the pool compares names: a row
        /// whose name another user took then fails. (A row that gives neither is skipped by
        /// its name alone, and so is one whose name is the email it gives.) A row that names
        /// a user an earlier row of the same file imported or skipped fails too: the file
        /// repeats a name.
        #[arg(long)]
        skip_existing: bool,
    },
    /// Export every user as CSV in Cognito's user-import format.
    ///
    /// The columns are those `users import` reads, in GetCSVHeader's order, with every
    /// custom: attribute the configuration lists or a user holds; the output imports into
    /// another pool (or into Cognito) as it is, but for users still without a required
    /// attribute (made by an administrator, before their first sign-in), whose rows an
    /// import refuses. What the format cannot carry (a user disabled, group memberships) is
    /// counted on standard error, and so are values that a spreadsheet would run as formulas.
    /// An import makes each user anew, as Cognito's does: a new sub, no password (they reset
    /// it: RESET_REQUIRED), no MFA settings, new creation times.
    Export {
        #[command(flatten)]
        pool: PoolArgs,
        /// Write here instead of standard output.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// For opening in a spreadsheet: a value that would start a formula there (one that
        /// begins with =, @, a tab, a carriage return, or a + or - that does not begin a
        /// number) is written with a ' before it, which the spreadsheet shows as text. Users
        /// set their own names and other attributes, so a value such as =HYPERLINK(…) may be
        /// anyone's. Imported again, such values keep the '.
        #[arg(long)]
        spreadsheet_safe: bool,
        /// Leave out disabled users. The format cannot say that a user is disabled, so an
        /// import would enable them.
        #[arg(long)]
        skip_disabled: bool,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print the default configuration as TOML, every key with its default.
    Default,
    /// Validate a configuration file and report the first problem, naming the key.
    Check {
        /// The TOML (or JSON) file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { config, pool, memory } => demo(config, (!memory).then_some(pool.as_path())),
        Command::Users { action } => users::run(action),
        Command::Backup { pool, dest } => backup(&pool, &dest),
        Command::Scenario { files } => scenarios(&files),
        Command::Config { action: ConfigAction::Default } => {
            use std::io::Write as _;
            write!(std::io::stdout(), "{}", PoolConfig::default().to_toml())
                .map_err(|e| format!("standard output: {e}"))
        }
        Command::Config { action: ConfigAction::Check { file } } => config_check(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn backup(pool: &Path, dest: &Path) -> Result<(), String> {
    // Not opened as a store, which would migrate a file an older library wrote: a copy
    // before an upgrade is what a backup is often for.
    userpool::SqliteStore::backup_file(pool, dest).map_err(|e| e.to_string())?;
    let bytes = std::fs::metadata(dest).map_err(|e| format!("{}: {e}", dest.display()))?.len();
    say!("{}: a copy of {} ({bytes} bytes)", dest.display(), pool.display());
    Ok(())
}

fn config_check(file: &Path) -> Result<(), String> {
    load_config(file)?;
    say!("{}: valid", file.display());
    Ok(())
}

fn load_config(path: &Path) -> Result<PoolConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    PoolConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn scenarios(files: &[PathBuf]) -> Result<(), String> {
    let (mut passed, mut failed) = (0, 0);
    for path in files {
        // A file that cannot be read fails as a scenario does; the others still run.
        let outcome = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| userpool::scenario::Scenario::from_json(&text))
            .and_then(|scenario| userpool::scenario::run(&scenario));
        match outcome {
            Ok(()) => {
                passed += 1;
                say!("ok    {}", path.display());
            }
            Err(e) => {
                failed += 1;
                say!("FAIL  {}: {e}", path.display());
            }
        }
    }
    say!("{passed} passed, {failed} failed");
    if failed == 0 { Ok(()) } else { Err(format!("{failed} scenario(s) failed")) }
}

fn step(n: u32, title: &str) -> Result<(), String> {
    use std::io::IsTerminal as _;
    if std::io::stdout().is_terminal() {
        say!("\n\x1b[1m{n:>2}. {title}\x1b[0m");
    } else {
        say!("\n{n:>2}. {title}");
    }
    Ok(())
}

fn show_messages(delivery: &RecordingDelivery, seen: &mut usize) -> Result<(), String> {
    let messages = delivery.messages();
    for message in &messages[*seen..] {
        say!("    ✉  {} to {}: \"{}\"", message.channel.as_str(), message.destination, message.text.as_str());
    }
    *seen = messages.len();
    Ok(())
}

/// Prints a QR code with Unicode half blocks (two modules per character cell).
fn print_qr(text: &str) -> Result<(), String> {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return Ok(());
    };
    let width = code.width();
    let dark = |x: usize, y: usize| x < width && y < width && code[(x, y)] == qrcode::Color::Dark;
    // A quiet zone of two modules on every side, as scanners need.
    for y in (0..width + 4).step_by(2) {
        let row: String = (0..width + 4)
            .map(|x| {
                let (top, bottom) =
                    (x >= 2 && y >= 2 && dark(x - 2, y - 2), x >= 2 && y + 1 >= 2 && dark(x - 2, y + 1 - 2));
                match (top, bottom) {
                    (true, true) => ' ',
                    (true, false) => '▄',
                    (false, true) => '▀',
                    (false, false) => '█',
                }
            })
            .collect();
        say!("    {row}");
    }
    Ok(())
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

/// A configuration for the demo, refused up front (not at the step that needs it) when its
/// sign-in or MFA settings do not fit the journey. (Other settings, such as a stricter
/// password policy, still fail at the step they refuse.)
fn demo_config(path: &Path) -> Result<PoolConfig, String> {
    let config = load_config(path)?;
    let named = |why: &str| format!("{}: the demo {why}", path.display());
    if !config.sign_in.username_attributes.is_empty() {
        return Err(named("signs users up by plain usernames: leave sign_in.username_attributes empty"));
    }
    if config.mfa.mode != MfaMode::Optional || !config.mfa.methods.iter().any(|m| m == "totp") {
        return Err(named("adds an authenticator app: it needs mfa.mode = \"optional\" with \"totp\" in mfa.methods"));
    }
    Ok(config)
}

/// `userpool demo`: the tutorial's journey on a pool in `file` (or in memory), printed.
fn demo(config: Option<PathBuf>, file: Option<&Path>) -> Result<(), String> {
    let config = match config {
        Some(path) => demo_config(&path)?,
        None => PoolConfig::builder()
            .pool_id(DEMO_POOL_ID)
            .name("userpool-demo")
            .mfa(MfaMode::Optional, &["totp"])
            .build()
            .map_err(|e| e.to_string())?,
    };
    let err = |e: userpool::Error| e.to_string();
    let delivery = RecordingDelivery::new();
    let mut seen = 0;
    // The demo's clock starts at the real time; it moves 30 s ahead once, so the
    // authenticator shows a fresh code without making you wait (a code is accepted once).
    let clock = ManualClock::new(SystemClock.now_ms());
    let mut builder = UserPool::builder(config).delivery(Arc::new(delivery.clone())).clock(Arc::new(clock.clone()));
    if let Some(file) = file {
        builder = builder.sqlite(file, SqliteOptions::default());
    }
    let pool = builder.open().map_err(err)?;
    refuse_a_pool_with_users_of_its_own(&pool)?;
    let place = file.map_or_else(|| "in memory".to_owned(), |f| format!("in {}", f.display()));
    say!("userpool demo — pool `{}` {place}, issuer {}", pool.pool_id(), pool.issuer());
    // Each run on a kept pool signs up a user of its own: alice, then alice2, alice3, …
    let mut run = 1;
    let username = loop {
        let name = if run == 1 { "alice".to_owned() } else { format!("alice{run}") };
        match pool.admin_get_user(&name) {
            Err(e) if e.code() == userpool::ErrorCode::UserNotFound => break name,
            Err(e) => return Err(err(e)),
            Ok(_) => run += 1,
        }
    };
    let email = format!("{username}@example.com");
    let (username, email) = (username.as_str(), email.as_str());
    let password = "correct horse battery staple";
    let new_password = "tr0ub4dor & 3, but longer";

    step(1, "Sign up")?;
    let attributes: Attributes =
        [("email".to_owned(), email.to_owned()), ("name".to_owned(), "Alice".to_owned())].into();
    let signed_up = pool.sign_up(username, password, attributes).map_err(err)?;
    say!("    user_sub  {}", signed_up.user_sub);
    say!("    next step {}", signed_up.next_step.as_str());
    show_messages(&delivery, &mut seen)?;

    step(2, "Confirm the account with the delivered code")?;
    let code = delivery.last_code_to(email).ok_or("no confirmation code was delivered")?;
    pool.confirm_sign_up(username, &code).map_err(err)?;
    say!("    confirmed with {code}");

    step(3, "Sign in")?;
    let signed_in = pool.sign_in(username, password).map_err(err)?;
    say!("    next step {}", signed_in.next_step.as_str());
    let tokens = signed_in.tokens.ok_or("sign-in returned no tokens")?;
    say!("    access token  {}", short(&tokens.access_token));
    say!("    refresh token {}", short(&tokens.refresh_token));
    say!("    ID token claims:\n{}", decode_jwt(&tokens.id_token));
    say!("    access token claims:\n{}", decode_jwt(&tokens.access_token));

    step(4, "Verify the access token (what every request of your API does)")?;
    let claims = pool.verify_access_token(&tokens.access_token).map_err(err)?;
    say!("    valid: username={} sub={}", claims["username"], claims["sub"]);

    step(5, "Refresh: new tokens, and the refresh token rotates")?;
    let refreshed = pool.refresh(&tokens.refresh_token).map_err(err)?;
    say!("    new refresh token {}", short(&refreshed.refresh_token));
    let replay = pool.refresh(&tokens.refresh_token);
    say!(
        "    replaying the old one within the grace window: {}",
        if replay.is_ok() { "accepted (lost-response retry)" } else { "refused" }
    );

    step(6, "Sign out")?;
    let current = replay.as_ref().map_or(&refreshed.refresh_token, |t| &t.refresh_token);
    pool.sign_out(current).map_err(err)?;
    let after = pool.verify_access_token(&refreshed.access_token);
    say!("    the session's access token now: {}", after.err().map_or("still valid?!".into(), |e| e.to_string()));

    step(7, "Forgot password")?;
    let sent = pool.forgot_password(username).map_err(err)?;
    say!("    code sent by {} to {}", sent.channel.as_str(), sent.destination);
    show_messages(&delivery, &mut seen)?;

    step(8, "Reset the password with the code")?;
    let code = delivery.last_code_to(email).ok_or("no reset code was delivered")?;
    // Any code but the one sent: its first digit moved on by one.
    let mut digits = code.chars();
    let first = digits.next().and_then(|c| c.to_digit(10)).and_then(|d| char::from_digit((d + 1) % 10, 10));
    let wrong: String = first.into_iter().chain(digits).collect();
    let refused = pool.confirm_forgot_password(username, &wrong, new_password);
    say!("    a wrong code: {}", refused.err().map_or("accepted?!".into(), |e| e.to_string()));
    pool.confirm_forgot_password(username, &code, new_password).map_err(err)?;
    say!("    password reset");

    step(9, "Sign in again")?;
    let old = pool.sign_in(username, password);
    say!("    with the old password: {}", old.err().map_or("accepted?!".into(), |e| e.to_string()));
    let again = pool.sign_in(username, new_password).map_err(err)?;
    say!("    with the new password: {}", again.next_step.as_str());
    if again.next_step != SignInStep::Done {
        return Err("the final sign-in did not complete".into());
    }
    let tokens = again.tokens.ok_or("sign-in returned no tokens")?;

    step(10, "Add an authenticator app (MFA)")?;
    let setup = pool.associate_software_token(&tokens.access_token).map_err(err)?;
    say!("    scan this with an authenticator app, or type the secret {}:", *setup.secret);
    print_qr(&setup.uri)?;
    say!("    {}", *setup.uri);
    // This demo plays the authenticator app: RFC 6238 from the secret.
    let app_code = |now_ms: i64| userpool::scenario::totp_code(&setup.secret, now_ms / 1000);
    pool.verify_software_token(&tokens.access_token, &app_code(clock.now_ms())?, Some("demo phone")).map_err(err)?;
    say!("    verified with the app's current code: TOTP is on for {username}");

    step(11, "Sign in with the second factor")?;
    clock.advance_secs(30);
    let challenge = pool.sign_in(username, new_password).map_err(err)?;
    say!("    next step {}", challenge.next_step.as_str());
    let session = challenge.session.ok_or("no challenge session")?;
    let replayed = pool.confirm_sign_in(&session, &app_code(clock.now_ms() - 30_000)?, Attributes::new());
    say!("    the code already used: {}", replayed.err().map_or("accepted?!".into(), |e| e.to_string()));
    let done = pool.confirm_sign_in(&session, &app_code(clock.now_ms())?, Attributes::new()).map_err(err)?;
    say!("    the app's new code: {}", done.next_step.as_str());
    if done.next_step != SignInStep::Done {
        return Err("the MFA sign-in did not complete".into());
    }
    say!("\nThe whole journey ran. Public keys for your API gateway: pool.jwks() →\n    {}", short(&pool.jwks()));
    if let Some(file) = file {
        say!(
            "The pool is kept in {}: `{} users list --pool {} --pool-id {}` shows its users.",
            file.display(),
            this_command(),
            shell_word(&file.display().to_string()),
            pool.pool_id()
        );
    }
    Ok(())
}

/// The demo makes a user whose password is in this source and prints their authenticator's
/// secret: given an app's own pool (`--pool` with its file and `--config`), it must not put
/// such an account among real ones. A pool holding only the demo's users (`alice`, `alice2`,
/// …, each with the address `<name>@example.com` and the name `Alice` the demo gives) takes
/// another run.
fn refuse_a_pool_with_users_of_its_own(pool: &UserPool) -> Result<(), String> {
    let demo_user = |user: &userpool::User| {
        let run = user.username.strip_prefix("alice");
        let attribute = |name: &str| user.attributes.get(name).map(String::as_str);
        run.is_some_and(|run| run.chars().all(|c| c.is_ascii_digit()))
            && attribute("email") == Some(format!("{}@example.com", user.username).as_str())
            && attribute("name") == Some("Alice")
    };
    let mut token: Option<String> = None;
    loop {
        let page = pool.list_users(None, None, token.as_deref()).map_err(|e| e.to_string())?;
        if let Some(user) = page.users.iter().find(|u| !demo_user(u)) {
            return Err(format!(
                "pool `{}` holds users other than the demo's ({} among them): the demo makes an account whose \
                 password is published, so it runs only on a pool of its own (another --pool file, or --memory)",
                pool.pool_id(),
                shell_word(&user.username)
            ));
        }
        match page.pagination_token {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    }
}

/// How the user runs this program: through cargo from a checkout (the README's way), or as
/// installed.
fn this_command() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    if exe.components().any(|c| c.as_os_str() == "target") {
        "cargo run -p userpool-cli --".to_owned()
    } else {
        exe.file_name().map_or_else(|| "userpool".to_owned(), |name| shell_word(&name.to_string_lossy()))
    }
}

/// `word` as one word of a POSIX shell's command line: as it is when it holds nothing the
/// shell reads, else in single quotes.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "._/-+,:@%=".contains(c)) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}
