//! `userpool users`: list, import and export the users of a pool kept in a SQLite file.
//! Import and export use Cognito's user-import CSV format.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use userpool::attributes::AttributeType;
use userpool::config::CustomAttribute;
use userpool::{Attributes, ErrorCode, ImportUser, PoolConfig, SqliteOptions, SqliteStore, Store, User, UserPool};
use zeroize::Zeroizing;

use crate::{PoolArgs, UsersAction, load_config};

/// The columns of Cognito's user-import CSV, in the order of `GetCSVHeader`.
pub(crate) const CSV_HEADER: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
    "cognito:mfa_enabled",
    "cognito:username",
];
const MFA_COLUMN: &str = "cognito:mfa_enabled";
const USERNAME_COLUMN: &str = "cognito:username";
/// Users written per transaction.
const BATCH: usize = 1000;
/// Failed rows printed in full; the rest are counted.
const SHOWN_FAILURES: usize = 20;

pub(crate) fn run(action: UsersAction) -> Result<(), String> {
    match action {
        UsersAction::List { pool, filter, limit } => list(&open_existing(&pool)?, filter.as_deref(), limit),
        UsersAction::Import { file, pool, skip_existing } => import(&pool, &file, skip_existing),
        UsersAction::Export { pool, output, spreadsheet_safe, skip_disabled } => {
            if let Some(output) = &output {
                refuse_pool_as_output(&pool.pool, output)?;
            }
            export(
                &open_existing(&pool)?,
                output.as_deref(),
                ExportOptions { spreadsheet_safe, skip_disabled, escape_controls: false },
            )
        }
    }
}

/// The configuration the tools open the pool with: the app's (`--config`) or the defaults,
/// with `--pool-id` in place of its pool id, checked.
fn pool_config(args: &PoolArgs) -> Result<PoolConfig, String> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => PoolConfig::default(),
    };
    if let Some(id) = &args.pool_id {
        config.pool_id.clone_from(id);
        config.validate().map_err(|e| format!("--pool-id: {}", e.message()))?;
    }
    Ok(config)
}

/// The pool's builder, on its file: a file that holds pools already when `existing_only`.
fn builder(args: &PoolArgs, existing_only: bool) -> Result<userpool::UserPoolBuilder, String> {
    // Before the file is opened, which may make it: a bad pool id, or a key that cannot be
    // read, makes nothing.
    let mut config = pool_config(args)?;
    let key = args.encryption_key_file.as_deref().map(read_key).transpose()?;
    let store = SqliteStore::open_with(&args.pool, SqliteOptions::default().existing_only(existing_only)).map_err(|e| {
        if existing_only {
            format!(
                "{e} (a file that is there must hold userpool's pools; users import makes the file when none is there)"
            )
        } else {
            e.to_string()
        }
    })?;
    if args.config.is_none() && args.pool_id.is_none() {
        config.pool_id = pool_in_file(&store)?;
    }
    let store: Arc<dyn Store> = Arc::new(store);
    // No delivery: nothing here sends a message.
    let mut builder = UserPool::builder(config).store(store);
    if let Some(key) = &key {
        builder = builder.encryption_key(&**key);
    }
    Ok(builder)
}

/// The pool the `users` commands act on when neither `--config` nor `--pool-id` names one:
/// the one the file holds, or, in a file that holds none yet, the libraries' default
/// (`local_default`), which an app opened without a configuration uses too.
fn pool_in_file(store: &SqliteStore) -> Result<String, String> {
    let ids = store.pool_ids().map_err(|e| e.to_string())?;
    match ids.as_slice() {
        [] => Ok(PoolConfig::default().pool_id),
        [one] => Ok(one.clone()),
        several => Err(format!(
            "{} holds the pools {}: name one with --pool-id (or give its app's --config)",
            store.path().display(),
            several.join(", ")
        )),
    }
}

/// The most bytes a key file may hold: 64 hex digits with spaces and line ends about them.
const MAX_KEY_FILE: u64 = 256;

/// Reads a 32-byte key from a file: the bytes themselves, or 64 hex digits, or base64.
/// Every buffer that holds a part of it is zeroized when dropped.
fn read_key(path: &Path) -> Result<Zeroizing<[u8; 32]>, String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    // The longest form is 64 hex digits and a line end: a bigger file is not a key (the
    // pool's own file, say, or /dev/zero), and is not read whole.
    // Room for all of it up front: no reallocation leaves a copy behind unwiped.
    let mut raw = Zeroizing::new(Vec::with_capacity(usize::try_from(MAX_KEY_FILE + 1).unwrap_or(0)));
    let file = std::fs::File::open(path).map_err(|e| named(&e))?;
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_KEY_FILE + 1), &mut raw).map_err(|e| named(&e))?;
    if raw.len() as u64 > MAX_KEY_FILE {
        return Err(named(&format!("more than {MAX_KEY_FILE} bytes: not a 32-byte key")));
    }
    let text = raw.trim_ascii();
    let mut key = Zeroizing::new([0u8; 32]);
    let read = if raw.len() == 32 {
        key.copy_from_slice(&raw);
        true
    } else if text.len() == 64 {
        let nibble = |digit: u8| char::from(digit).to_digit(16).and_then(|n| u8::try_from(n).ok());
        text.chunks_exact(2).zip(key.iter_mut()).all(|(pair, byte)| {
            nibble(pair[0]).zip(nibble(pair[1])).map(|(high, low)| *byte = high << 4 | low).is_some()
        })
    } else {
        // Room for what any base64 of 32 bytes decodes to, and then some.
        let mut decoded = Zeroizing::new([0u8; 48]);
        let length = base64::engine::general_purpose::STANDARD.decode_slice(text, &mut *decoded);
        length.is_ok_and(|n| n == 32) && {
            key.copy_from_slice(&decoded[..32]);
            true
        }
    };
    if read {
        Ok(key)
    } else {
        Err(named(&"an encryption key is 32 bytes: the bytes themselves, 64 hex digits, or their base64"))
    }
}

/// Opens the pool, making the file and the pool if they are not there yet (an import).
fn open(args: &PoolArgs) -> Result<UserPool, String> {
    builder(args, false)?.open().map_err(|e| e.to_string())
}

/// Opens the pool an import writes to. A missing file is made, with the pool. A file that
/// is there is administered, not changed: it must hold pools at this library's schema (its
/// app upgrades it), and a pool it holds is opened as it is, since recording its username
/// settings is its app's to do; a pool id it does not hold yet is made in it.
fn open_for_import(args: &PoolArgs) -> Result<UserPool, String> {
    if !args.pool.exists() {
        return open(args);
    }
    let named = |e: userpool::Error| format!("{}: {}", args.pool.display(), e.message());
    match open_as_administrator(args)? {
        Err(e) if e.code() == ErrorCode::ResourceNotFound => builder(args, true)?.open().map_err(named),
        opened => opened.map_err(named),
    }
}

/// Opens a pool that is there already, writing nothing otherwise: a mistyped path or pool
/// id, or another app's database, must not get a pool made in it, reported empty.
fn open_existing(args: &PoolArgs) -> Result<UserPool, String> {
    let path = &args.pool;
    open_as_administrator(args)?.map_err(|e| match e.code() {
        ErrorCode::ResourceNotFound => {
            format!("{}: {} (choose it with --pool-id, or the configuration's pool_id)", path.display(), e.message())
        }
        _ => format!("{}: {}", path.display(), e.message()),
    })
}

/// Opens a pool that is there already. Without `--config`, with the sign-in settings its
/// app recorded (how users are found: by username, email or phone number, and by which
/// aliases), so that a pool is administered without a copy of its app's configuration;
/// with one, those settings must be the app's.
fn open_as_administrator(args: &PoolArgs) -> Result<userpool::Result<UserPool>, String> {
    let builder = builder(args, true)?;
    Ok(if args.config.is_some() { builder.open_existing() } else { builder.open_existing_as_recorded() })
}

/// Every user (matching `filter`), page after page, at most `limit`.
fn each_user(
    pool: &UserPool,
    filter: Option<&str>,
    limit: Option<usize>,
    mut f: impl FnMut(&User) -> Result<(), String>,
) -> Result<usize, String> {
    let mut token: Option<String> = None;
    let mut count = 0;
    loop {
        let page = pool.list_users(filter, Some(60), token.as_deref()).map_err(|e| e.to_string())?;
        for user in &page.users {
            if limit.is_some_and(|l| count >= l) {
                return Ok(count);
            }
            f(user)?;
            count += 1;
        }
        match page.pagination_token {
            Some(next) => token = Some(next),
            None => return Ok(count),
        }
    }
}

fn list(pool: &UserPool, filter: Option<&str>, limit: Option<usize>) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    let line = |out: &mut std::io::StdoutLock<'_>, cells: [&str; 6]| {
        writeln!(
            out,
            "{:<24} {:<21} {:<8} {:<30} {:<16} {}",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5]
        )
        .map_err(|e| format!("standard output: {e}"))
    };
    const HEADER: [&str; 6] = ["USERNAME", "STATUS", "ENABLED", "EMAIL", "PHONE", "SUB"];
    // Written with the first user (or at the end, for none): a filter refused by the first
    // read leaves no table behind its error.
    let mut headed = false;
    let count = each_user(pool, filter, limit, |u| {
        if !std::mem::replace(&mut headed, true) {
            line(&mut out, HEADER)?;
        }
        let attr = |name: &str| u.attributes.get(name).map_or("-", String::as_str);
        let enabled = if u.enabled { "yes" } else { "no" };
        line(&mut out, [&u.username, u.status.as_str(), enabled, attr("email"), attr("phone_number"), &u.sub])
    })?;
    if !headed {
        line(&mut out, HEADER)?;
    }
    drop(out);
    eprintln!("{count} user(s) in pool `{}`", pool.pool_id());
    Ok(())
}

/// Reads a row of the CSV into an import, or says what is wrong with it.
/// `booleans` are the pool's custom attributes of type Boolean, whose cells, like the
/// verification flags, may say `TRUE` or `FALSE` as Cognito's export and spreadsheets do.
///
/// Text is taken as the file has it, spaces included: the export writes a value with
/// leading or trailing spaces as it is, and the import must read it back so. A username or
/// an address padded by hand (`ann, ann@example.com`) is refused by name, not cut.
fn row_to_user(header: &[String], row: &csv::StringRecord, booleans: &[String]) -> Result<(ImportUser, bool), String> {
    let mut user = ImportUser::default();
    let mut mfa = false;
    for (name, value) in header.iter().zip(row.iter()) {
        match name.as_str() {
            USERNAME_COLUMN => user.username = value.to_owned(),
            MFA_COLUMN => {
                mfa = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" | "" => false,
                    _ => return Err(format!("{MFA_COLUMN} must be TRUE or FALSE")),
                }
            }
            _ if value.is_empty() => {}
            flag if ["email_verified", "phone_number_verified"].contains(&flag)
                || booleans.iter().any(|b| b == flag) =>
            {
                let flag_value = match value.trim().to_ascii_lowercase().as_str() {
                    "true" => "true",
                    "false" => "false",
                    _ => return Err(format!("{flag} must be TRUE or FALSE")),
                };
                user.attributes.insert(flag.to_owned(), flag_value.to_owned());
            }
            attribute => {
                user.attributes.insert(attribute.to_owned(), value.to_owned());
            }
        }
    }
    if user.username.is_empty() {
        return Err(format!("{USERNAME_COLUMN} is empty"));
    }
    Ok((user, mfa))
}

/// `text`, or its first `chars` characters and how many there are in all.
fn cut(text: &str, chars: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(chars) {
        None => text.into(),
        Some((end, _)) => format!("{}… ({} characters)", &text[..end], text.chars().count()).into(),
    }
}

/// Text from the file (a username, a column name, an error that quotes one) as it may be
/// shown on a terminal: its control and format characters escaped, so that a crafted file
/// cannot move the cursor, rewrite what the terminal shows, or reorder it (U+202E).
fn shown(text: &str) -> String {
    let escaped = |c: char| if c.is_control() { c.escape_debug().to_string() } else { c.escape_unicode().to_string() };
    text.chars().map(|c| if unshowable(c) { escaped(c) } else { c.to_string() }).collect()
}

/// A control character (Cc) or an invisible format character (Cf: the bidirectional
/// controls, zero-width spaces and joiners), which [`shown`] escapes.
fn unshowable(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};
    c.is_control() || c.general_category() == GeneralCategory::Format
}

fn check_header(header: &[String]) -> Result<(), String> {
    // A spreadsheet writes a column that was once formatted, even cleared, with no name.
    if let Some(i) = header.iter().position(String::is_empty) {
        return Err(format!("column {} of the header has no name; remove it, or name it as GetCSVHeader does", i + 1));
    }
    if let Some(unknown) = header.iter().find(|h| !CSV_HEADER.contains(&h.as_str()) && !h.starts_with("custom:")) {
        return Err(format!("unknown column `{}`; the columns are those of Cognito's GetCSVHeader", shown(unknown)));
    }
    if let Some((i, repeated)) = header.iter().enumerate().find(|(i, h)| header[..*i].contains(h)) {
        return Err(format!("the column `{}` appears twice (the second time as column {})", shown(repeated), i + 1));
    }
    if !header.iter().any(|h| h == USERNAME_COLUMN) {
        return Err(format!("the header has no `{USERNAME_COLUMN}` column"));
    }
    Ok(())
}

/// Refuses a `custom:` column the configuration does not define, before any row is read
/// and before the pool is opened: each row with a value in it would be refused, and the
/// others imported.
fn check_custom_columns(header: &[String], config: &PoolConfig, app_config: bool) -> Result<(), String> {
    let defined: Vec<String> = config.custom_attributes.iter().map(custom_column).collect();
    let Some(unknown) = header.iter().find(|h| h.starts_with("custom:") && !defined.contains(h)) else {
        return Ok(());
    };
    let hint = if app_config {
        "; add it to the configuration's custom_attributes"
    } else {
        "; give the app's configuration with --config: without one, the tool knows no custom attributes"
    };
    Err(format!("the column `{}` is not a custom attribute of the pool{hint}", shown(unknown)))
}

/// Where a row is in the file: from the byte where the reader took it up (blank lines before
/// it included) to the byte past its end.
#[derive(Clone, Copy)]
struct Span {
    start: u64,
    end: u64,
}

/// Line numbers for the rows an import reports, counted in the file itself: the CSV reader's
/// own count is wrong after a blank line (rust-csv issue 208) and takes no bare CR for a line
/// end. Only failing rows are counted to, so a clean import reads the file once.
struct Lines {
    file: std::fs::File,
    /// A byte whose line is known, and that line (1 for byte 0).
    at: u64,
    line: u64,
}

impl Lines {
    fn open(path: &Path) -> std::io::Result<Self> {
        Ok(Self { file: std::fs::File::open(path)?, at: 0, line: 1 })
    }

    /// Calls `f` with the bytes of `from..to`, a chunk at a time, until it says to stop.
    fn scan(&mut self, from: u64, to: u64, mut f: impl FnMut(&[u8]) -> bool) -> std::io::Result<()> {
        use std::io::{Read as _, Seek as _};
        self.file.seek(std::io::SeekFrom::Start(from))?;
        let mut chunk = vec![0; 64 << 10];
        let mut left = to.saturating_sub(from);
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(chunk.len());
            let read = self.file.read(&mut chunk[..want])?;
            if read == 0 || !f(&chunk[..read]) {
                break;
            }
            left -= read as u64;
        }
        Ok(())
    }

    /// The line `byte` is on: counted on from the last byte asked about, in either direction,
    /// since rows are reported about in file order but for a batch at a time.
    fn line_of(&mut self, byte: u64) -> std::io::Result<u64> {
        let (from, to) = (self.at.min(byte), self.at.max(byte));
        let breaks = self.line_breaks(from, to)?;
        // Saturating: a file changed while it is read must not panic the count.
        self.line = if byte >= self.at { self.line + breaks } else { self.line.saturating_sub(breaks) };
        self.at = byte;
        Ok(self.line)
    }

    /// How many lines end in `from..to`: at a `\n`, or at a `\r` that no `\n` follows (old Mac
    /// files end lines so, and the CSV reader takes them as row ends). A `\r\n` ends one line,
    /// at its `\n`: the byte after the range is read to know what follows a last `\r`.
    fn line_breaks(&mut self, from: u64, to: u64) -> std::io::Result<u64> {
        let (mut breaks, mut at, mut carriage_return) = (0, from, false);
        self.scan(from, to.saturating_add(1), |bytes| {
            for &b in bytes {
                if carriage_return && b != b'\n' {
                    breaks += 1;
                }
                carriage_return = b == b'\r' && at < to;
                breaks += u64::from(b == b'\n' && at < to);
                at += 1;
            }
            // On to the byte after the range, which may start the next chunk.
            at <= to
        })?;
        // A `\r` at the very end of the file.
        Ok(breaks + u64::from(carriage_return))
    }

    /// The first and last line of a row.
    fn of(&mut self, span: Span) -> std::io::Result<(u64, u64)> {
        // Past the blank lines that the reader skipped on its way to the row.
        let mut first = span.start;
        self.scan(span.start, span.end, |bytes| {
            let blank = bytes.iter().take_while(|&&b| b == b'\r' || b == b'\n').count();
            first += blank as u64;
            blank == bytes.len()
        })?;
        let first_line = self.line_of(first.min(span.end))?;
        // The byte before the end is the row's own line ending, or its last byte at the end of the file.
        Ok((first_line, self.line_of(span.end.saturating_sub(1).max(first))?))
    }

    /// Whether the row holds an odd number of quotes: one that opens a field and never closes.
    fn quote_left_open(&mut self, span: Span) -> bool {
        let mut quotes = 0_u64;
        let counted = self.scan(span.start, span.end, |bytes| {
            quotes += bytes.iter().filter(|&&b| b == b'"').count() as u64;
            true
        });
        counted.is_ok() && quotes % 2 == 1
    }

    /// Where a failing row is (its line or lines) and, for one over several lines with a
    /// quote left open, what made it so.
    fn place(&mut self, span: Span) -> (String, &'static str) {
        match self.of(span) {
            Ok((first, last)) if first == last => (format!("line {first}"), ""),
            Ok((first, last)) if self.quote_left_open(span) => (
                format!("lines {first}-{last}"),
                " (a quote in the row is never closed, so every line after it, to the end of the file, was \
                 read into this row)",
            ),
            Ok((first, last)) => (format!("lines {first}-{last}"), ""),
            Err(e) => (format!("the row at byte {} (its line could not be counted: {e})", span.start), ""),
        }
    }
}

struct Tally {
    imported: usize,
    failed: usize,
    /// Rows skipped with `--skip-existing`: their username is a user's already.
    existing: usize,
    skip_existing: bool,
    /// The users this run imported or skipped, by `sub`: a row that names one of them again
    /// repeats an earlier row of the file, which `--skip-existing` does not skip.
    rows_subs: std::collections::HashSet<SubKey>,
    mfa_ignored: usize,
    /// Imported users whom no recovery channel of the pool reaches: forgot-password cannot
    /// give them a password.
    unreachable: usize,
    lines: Lines,
}

impl Tally {
    fn fail(&mut self, progress: &indicatif::ProgressBar, span: Span, username: &str, why: &str) {
        self.failed += 1;
        if self.failed <= SHOWN_FAILURES {
            // Cut short: a quote left open makes the rest of the file one cell, other users'
            // data included, and an error may quote a cell.
            let ((at, hint), why) = (self.lines.place(span), shown(&cut(why, 300)));
            if username.is_empty() {
                progress.suspend(|| eprintln!("{at}: {why}{hint}"));
            } else {
                progress.suspend(|| eprintln!("{at}: {}: {why}{hint}", shown(&cut(username, 64))));
            }
        }
    }
}

fn flush(
    pool: &UserPool,
    batch: &mut Vec<(Span, ImportUser, bool)>,
    tally: &mut Tally,
    progress: &indicatif::ProgressBar,
) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let (mut spans, mut users, mut mfa) = (Vec::new(), Vec::new(), Vec::new());
    for (span, user, mfa_enabled) in std::mem::take(batch) {
        spans.push(span);
        users.push(user);
        mfa.push(mfa_enabled);
    }
    let names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let addresses: Vec<Addresses> = users.iter().map(|u| ADDRESSES.map(|a| u.attributes.get(a).cloned())).collect();
    let mechanisms = &pool.config().account_recovery.mechanisms;
    let reachable: Vec<bool> = users
        .iter()
        .map(|user| {
            let verified = |flag: &str| user.attributes.get(flag).is_some_and(|v| v == "true");
            (mechanisms.iter().any(|m| m == "verified_email") && verified("email_verified"))
                || (mechanisms.iter().any(|m| m == "verified_phone_number") && verified("phone_number_verified"))
        })
        .collect();
    let outcomes = pool.admin_import_users(users).map_err(|e| {
        let first = spans.first().map(|s| tally.lines.of(*s).map_or(0, |(first, _)| first)).unwrap_or(0);
        let last = spans.last().map(|s| tally.lines.of(*s).map_or(0, |(_, last)| last)).unwrap_or(0);
        format!(
            "{e}; nothing from line {first} on was imported (the rows of lines {first}-{last} failed together), \
             the rows before it were: import a file of the header and the rows from line {first} on, or the \
             whole file again with --skip-existing"
        )
    })?;
    let rows = spans.into_iter().zip(names.iter().zip(&addresses)).zip(reachable).zip(mfa);
    for ((((span, (name, addresses)), reachable), mfa), outcome) in rows.zip(outcomes) {
        match outcome {
            Ok(sub) => {
                tally.rows_subs.insert(SubKey::of(sub));
                tally.imported += 1;
                tally.unreachable += usize::from(!reachable);
                tally.mfa_ignored += usize::from(mfa);
            }
            Err(e) if tally.skip_existing && e.code() == ErrorCode::UsernameExists => {
                let Some(user) = users_own(pool, name) else {
                    tally.fail(progress, span, name, &e.to_string());
                    continue;
                };
                let sub = SubKey::of(user.sub.clone());
                if tally.rows_subs.contains(&sub) {
                    tally.fail(progress, span, name, &format!("{e} (an earlier row of this file names this user)"));
                } else if let Some(address) = other_address(&user, addresses) {
                    // Another user who took the name, or the row's user since changed.
                    let why = format!(
                        "{e} (the user there has another {address} than this row: another user has the name, \
                         or this one changed it since; --skip-existing skips only a user with the row's addresses)"
                    );
                    tally.fail(progress, span, name, &why);
                } else {
                    tally.rows_subs.insert(sub);
                    tally.existing += 1;
                }
            }
            Err(e) => tally.fail(progress, span, name, &e.to_string()),
        }
    }
    Ok(())
}

/// A `sub` as [`Tally`] remembers it: a lower-case UUID (what the library makes) as its 128
/// bits, without the allocation of its text (a million rows are a million subs); anything
/// else as its text.
#[derive(PartialEq, Eq, Hash)]
enum SubKey {
    Uuid(u128),
    Text(String),
}

impl SubKey {
    fn of(sub: String) -> Self {
        let dashes = [8, 13, 18, 23];
        let shaped = sub.len() == 36
            && sub
                .bytes()
                .enumerate()
                .all(|(i, b)| if dashes.contains(&i) { b == b'-' } else { b.is_ascii_hexdigit() });
        match u128::from_str_radix(&sub.replace('-', ""), 16) {
            Ok(bits) if shaped && sub.bytes().all(|b| !b.is_ascii_uppercase()) => Self::Uuid(bits),
            _ => Self::Text(sub),
        }
    }
}

/// The attributes that tell a row's user from another of the same name: those an import of
/// the row gave the user.
const ADDRESSES: [&str; 2] = ["email", "phone_number"];

/// A row's values of [`ADDRESSES`].
type Addresses = [Option<String>; 2];

/// The first of the row's addresses that `user` does not have, if any: compared in NFKC and
/// lower case, as the pool compares the names users sign in by.
fn other_address(user: &User, row: &Addresses) -> Option<&'static str> {
    let folded = |a: &str| unicode_normalization::UnicodeNormalization::nfkc(a).collect::<String>().to_lowercase();
    ADDRESSES.into_iter().zip(row).find_map(|(name, value)| {
        let value = value.as_deref().filter(|v| !v.is_empty())?;
        let held = user.attributes.get(name).map(String::as_str);
        held.is_none_or(|held| folded(held) != folded(value)).then_some(name)
    })
}

/// The user whose own sign-in name `name` is: their username (as the pool compares names)
/// or, in a pool whose users sign in by email or phone number, their address. A taken alias
/// (another user's verified phone number, a `preferred_username`) fails a row with the same
/// error, but the row's user is not there. A lookup that fails says none: the row is counted
/// as failed, with its own error.
fn users_own(pool: &UserPool, name: &str) -> Option<User> {
    let Ok(user) = pool.admin_get_user(name) else { return None };
    let sign_in = &pool.config().sign_in;
    // As the pool keys names: in NFKC, and lower-cased unless case-sensitive.
    let key = |a: &str| {
        let normal: String = unicode_normalization::UnicodeNormalization::nfkc(a).collect();
        if sign_in.case_sensitive { normal } else { normal.to_lowercase() }
    };
    let same = |a: &str| key(a) == key(name);
    let by_address = !sign_in.username_attributes.is_empty()
        && ADDRESSES.iter().any(|a| user.attributes.get(*a).is_some_and(|v| same(v)));
    (same(&user.username) || by_address).then_some(user)
}

/// Why the reader refused a row, said for the person who made the file.
fn unreadable_row(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} field(s) where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "text that is not UTF-8 (save the file as UTF-8)".to_owned(),
        _ => error.to_string(),
    }
}

/// Imports `file` into the pool of `args`, which is made if missing, but only once the
/// file's header has been read and checked: a mistyped file name makes no pool.
fn import(args: &PoolArgs, file: &Path, skip_existing: bool) -> Result<(), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", file.display());
    let size = std::fs::metadata(file).map_err(|e| named(&e))?.len();
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_path(file).map_err(|e| named(&e))?;
    let header = reader.headers().map_err(|e| named(&format!("the header: {}", unreadable_row(&e))))?;
    let header: Vec<String> = header.iter().map(|h| h.trim().to_owned()).collect();
    check_header(&header).map_err(|e| named(&e))?;
    check_custom_columns(&header, &pool_config(args)?, args.config.is_some()).map_err(|e| named(&e))?;
    let lines = Lines::open(file).map_err(|e| named(&e))?;
    let new_file = !args.pool.exists();
    let pool = &open_for_import(args)?;
    let progress = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let mut tally = Tally {
        imported: 0,
        failed: 0,
        existing: 0,
        skip_existing,
        rows_subs: std::collections::HashSet::new(),
        mfa_ignored: 0,
        unreachable: 0,
        lines,
    };
    let outcome = import_rows(pool, &mut reader, &header, &mut tally, &progress).map_err(|e| named(&e));
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    say!(
        "imported {} user(s) into pool `{}` in {secs:.1} s ({:.0}/s); {} row(s) failed",
        tally.imported,
        pool.pool_id(),
        tally.imported as f64 / secs.max(1e-9),
        tally.failed
    );
    if tally.existing > 0 {
        say!("{} row(s) skipped: their username is a user's already (--skip-existing)", tally.existing);
    }
    if tally.failed > SHOWN_FAILURES {
        // Rows the reader refuses are shown as they are read, those the pool refuses once
        // their batch is imported: not in the order of the file.
        say!("({SHOWN_FAILURES} of the failures are shown above)");
    }
    if tally.mfa_ignored > 0 {
        say!(
            "note: {} user(s) had cognito:mfa_enabled = TRUE; MFA settings are not imported: they set up MFA again",
            tally.mfa_ignored
        );
    }
    if new_file && tally.imported == 0 {
        // Not removed: another process may have opened it meanwhile, and a file deleted
        // under an open database loses what is written to it.
        say!(
            "note: {} was made by this import and holds no user; its pool keeps this configuration's sign-in \
             settings, so delete the file before importing with another configuration",
            args.pool.display()
        );
    }
    if outcome.is_err() {
        say!("the import stopped there: the rows after it were not imported");
        return outcome;
    }
    let mechanisms = &pool.config().account_recovery.mechanisms;
    // Only the sign-in settings are kept in the file: without the app's configuration, the
    // recovery setting read here is the default, which may not be the app's.
    let whose = if args.config.is_some() { "" } else { ", the default without --config" };
    if mechanisms.iter().any(|m| m == "admin_only") {
        say!(
            "imported users are RESET_REQUIRED; the pool's recovery is admin_only{whose}: an administrator sets each one's password"
        );
    } else {
        say!("imported users are RESET_REQUIRED: each sets a password through forgot-password");
        if tally.unreachable > 0 {
            say!(
                "note: {} of them have no verified address that the pool's recovery ({}{whose}) sends codes to: \
                 forgot-password cannot reach them, so an administrator sets their passwords",
                tally.unreachable,
                mechanisms.join(", ")
            );
        }
    }
    // A script that imports must be able to tell that some users are missing.
    match tally.failed {
        0 => Ok(()),
        failed => Err(named(&format!("{failed} row(s) were not imported (see above); the others were"))),
    }
}

/// Reads every row and imports them in batches. A row that fails, whether the reader could
/// not take it or the pool refused the user, is counted and skipped; what stops the import
/// (the file cannot be read, the store fails) comes back as the error, after every row read
/// before it has been imported.
fn import_rows(
    pool: &UserPool,
    reader: &mut csv::Reader<std::fs::File>,
    header: &[String],
    tally: &mut Tally,
    progress: &indicatif::ProgressBar,
) -> Result<(), String> {
    let username_at = header.iter().position(|h| h == USERNAME_COLUMN);
    let booleans: Vec<String> = pool
        .config()
        .custom_attributes
        .iter()
        .filter(|a| a.kind == AttributeType::Boolean)
        .map(custom_column)
        .collect();
    let mut batch = Vec::with_capacity(BATCH);
    let mut row = csv::StringRecord::new();
    let mut stopped = None;
    loop {
        let start = reader.position().byte();
        let read = reader.read_record(&mut row);
        let span = Span { start, end: reader.position().byte() };
        match read {
            Ok(false) => break,
            Ok(true) => {}
            // A row the reader refused but got past: go on with the next one.
            Err(e) if !matches!(e.kind(), csv::ErrorKind::Io(_)) && span.end > start => {
                tally.fail(progress, span, "", &unreadable_row(&e));
                continue;
            }
            Err(e) => {
                stopped = Some(e.to_string());
                break;
            }
        }
        // What a spreadsheet writes for a row it formatted or cleared: no row at all.
        if row.iter().all(str::is_empty) {
            continue;
        }
        match row_to_user(header, &row, &booleans) {
            Ok((user, mfa)) => batch.push((span, user, mfa)),
            Err(why) => tally.fail(progress, span, username_at.and_then(|i| row.get(i)).unwrap_or(""), &why),
        }
        if batch.len() == BATCH {
            flush(pool, &mut batch, tally, progress)?;
            progress.set_position(reader.position().byte());
            progress.set_message(format!("{} imported", tally.imported));
        }
    }
    flush(pool, &mut batch, tally, progress)?;
    stopped.map_or(Ok(()), Err)
}

/// How `users export` writes.
#[derive(Clone, Copy)]
struct ExportOptions {
    /// Values that a spreadsheet would run as formulas are made text.
    spreadsheet_safe: bool,
    /// Disabled users are left out.
    skip_disabled: bool,
    /// Control characters in values are written escaped (`\u{1b}`): the export goes to a
    /// terminal, where a user's own text (their name) must not run as escape sequences.
    escape_controls: bool,
}

/// Exports every user to `output` (standard output if `None`).
fn export(pool: &UserPool, output: Option<&Path>, options: ExportOptions) -> Result<(), String> {
    let header = &export_header(pool.config(), &custom_attributes_held(pool)?);
    let exported = match output {
        None => {
            let escape_controls = std::io::IsTerminal::is_terminal(&std::io::stdout());
            let options = ExportOptions { escape_controls, ..options };
            write_csv(pool, header, options, std::io::stdout().lock(), "standard output")?
        }
        Some(path) => write_file(path, |file| write_csv(pool, header, options, file, &path.display().to_string()))?,
    };
    eprintln!("exported {} user(s) from pool `{}`", exported.users, pool.pool_id());
    if exported.users > 0 {
        eprintln!(
            "note: an import makes each user anew, as Cognito's does: a new sub, no password (they reset it), no \
             MFA settings"
        );
    }
    let custom: Vec<&str> = header.iter().map(String::as_str).filter(|c| c.starts_with("custom:")).collect();
    if !custom.is_empty() {
        eprintln!(
            "note: the file has custom attribute columns ({}): `users import` takes it with a --config whose pool \
             declares them",
            shown(&cut(&custom.join(", "), 300))
        );
    }
    // What Cognito's format has no column for.
    match (exported.disabled, options.skip_disabled) {
        (0, _) => {}
        (disabled, false) => eprintln!(
            "note: {disabled} of them are disabled; the format cannot say so, and they import enabled \
             (--skip-disabled leaves them out)"
        ),
        (disabled, true) => eprintln!("note: {disabled} disabled user(s) were left out"),
    }
    if exported.in_groups > 0 {
        eprintln!("note: {} of them belong to groups; the format does not carry memberships", exported.in_groups);
    }
    if exported.left_out > 0 {
        eprintln!(
            "note: {} custom attribute value(s) were left out: their attribute appeared while the export ran, \
             after its header was written",
            exported.left_out
        );
    }
    if exported.escaped > 0 {
        eprintln!(
            "note: {} value(s) hold control characters, shown escaped on this terminal; export with -o FILE, or \
             through a pipe, for the values themselves",
            exported.escaped
        );
    }
    match (exported.formulas, options.spreadsheet_safe) {
        (0, _) => {}
        (formulas, false) => eprintln!(
            "note: {formulas} value(s) would run as formulas in a spreadsheet (they begin with =, @, a tab, a \
             carriage return, or a + or - that does not begin a number); open the file in one only if exported \
             with --spreadsheet-safe"
        ),
        (formulas, true) => eprintln!("note: {formulas} value(s) that would run as formulas were written with a '"),
    }
    Ok(())
}

/// What an export wrote.
struct Exported {
    users: usize,
    /// Disabled users written, or left out with `skip_disabled`.
    disabled: usize,
    in_groups: usize,
    /// Values that a spreadsheet would run as formulas.
    formulas: usize,
    /// Values of `custom:` attributes the header has no column for.
    left_out: usize,
    /// Values written with their control characters escaped.
    escaped: usize,
}

/// GetCSVHeader's columns, with the pool's `custom:` attributes before the two `cognito:`
/// ones (an import takes the columns in any order): those `config` lists, then any other
/// that a user holds (`held`).
fn export_header(config: &PoolConfig, held: &BTreeSet<String>) -> Vec<String> {
    let mut custom: Vec<String> = config.custom_attributes.iter().map(custom_column).collect();
    custom.extend(held.iter().filter(|c| !custom.contains(c)).cloned().collect::<Vec<_>>());
    let (standard, cognito) = CSV_HEADER.split_at(CSV_HEADER.len() - 2);
    standard.iter().map(|&c| c.to_owned()).chain(custom).chain(cognito.iter().map(|&c| c.to_owned())).collect()
}

/// The `custom:` attributes the pool's users hold. The tool may run without the app's
/// configuration, which lists them; a column taken from it alone would leave their values
/// out of the file without a word. One more read of the pool, before the export's own.
fn custom_attributes_held(pool: &UserPool) -> Result<BTreeSet<String>, String> {
    let mut held = BTreeSet::new();
    each_user(pool, None, None, |user| {
        held.extend(user.attributes.keys().filter(|name| name.starts_with("custom:")).cloned());
        Ok(())
    })?;
    Ok(held)
}

/// The column of a custom attribute, which the configuration may name without its prefix.
fn custom_column(attribute: &CustomAttribute) -> String {
    format!("custom:{}", attribute.name.strip_prefix("custom:").unwrap_or(&attribute.name))
}

/// Writes the pool's users to `sink` as `options` say; its errors name it `sink_name`.
fn write_csv(
    pool: &UserPool,
    header: &[String],
    options: ExportOptions,
    sink: impl std::io::Write,
    sink_name: &str,
) -> Result<Exported, String> {
    let username_attributes = &pool.config().sign_in.username_attributes;
    let failed = |e: csv::Error| format!("{sink_name}: {e}");
    let mut writer = csv::Writer::from_writer(sink);
    writer.write_record(header).map_err(failed)?;
    let (mut users, mut disabled, mut in_groups, mut formulas, mut left_out, mut escaped) = (0, 0, 0, 0, 0, 0);
    each_user(pool, None, None, |u| {
        disabled += usize::from(!u.enabled);
        if options.skip_disabled && !u.enabled {
            return Ok(());
        }
        users += 1;
        in_groups += usize::from(!u.groups.is_empty());
        left_out += u.attributes.keys().filter(|name| name.starts_with("custom:") && !header.contains(name)).count();
        let cells = header.iter().map(|column| {
            let mut value = cell(pool, u, column, username_attributes);
            if options.escape_controls && value.chars().any(unshowable) {
                escaped += 1;
                value = shown(&value);
            }
            if !starts_formula(&value) {
                return value;
            }
            formulas += 1;
            if options.spreadsheet_safe { format!("'{value}") } else { value }
        });
        writer.write_record(cells.collect::<Vec<_>>()).map_err(failed)
    })?;
    writer.flush().map_err(|e| format!("{sink_name}: {e}"))?;
    Ok(Exported { users, disabled, in_groups, formulas, left_out, escaped })
}

/// Whether a spreadsheet would read `value` as a formula (OWASP's "CSV injection"): it begins
/// with `=`, `@`, a tab or a carriage return, or with a `+` or `-` that does not begin a plain
/// number (digits, and a decimal point), so that phone numbers (`+15555550100`) stay as they are.
fn starts_formula(value: &str) -> bool {
    match value.as_bytes() {
        [b'=' | b'@' | b'\t' | b'\r', ..] => true,
        [b'+' | b'-', rest @ ..] => {
            let number = rest.iter().any(u8::is_ascii_digit) && rest.iter().all(|b| b.is_ascii_digit() || *b == b'.');
            !number
        }
        _ => false,
    }
}

/// Writes `path` through `write`, whose errors name what failed. A regular file (or a new
/// one) is written to a temporary file beside it, which is renamed over it once complete:
/// a failed export leaves the old file, or none, never half a file. Through a symlink, the
/// file it names is the one replaced. An existing file keeps its owner and permissions as
/// far as [`keep_attributes`] allows; a new one is readable by its owner only, as it holds
/// personal data. Anything else (a terminal, a pipe, `/dev/null`) is written to as it is,
/// unless [`refuse_planted`] refuses it.
fn write_file<T>(path: &Path, write: impl FnOnce(&mut std::fs::File) -> Result<T, String>) -> Result<T, String> {
    refuse_planted(path)?;
    replace_file(path, write)
}

/// [`write_file`] past its check. In a directory others may write to, what the check saw may
/// have changed since, so there the path itself is always renamed over: a link or a FIFO put
/// there meanwhile is replaced, never followed or written to (and in a sticky directory such
/// as `/tmp`, another user's entry cannot be replaced at all: the export fails).
fn replace_file<T>(path: &Path, write: impl FnOnce(&mut std::fs::File) -> Result<T, String>) -> Result<T, String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let shared = std::fs::metadata(directory_of(path)).is_ok_and(|m| others_may_write(&m));
    let (target, existing) = if shared {
        (path.to_path_buf(), std::fs::symlink_metadata(path).ok().filter(std::fs::Metadata::is_file))
    } else {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let existing = std::fs::metadata(&target).ok();
        (target, existing)
    };
    if existing.as_ref().is_some_and(|m| !m.is_file()) {
        let mut file = std::fs::OpenOptions::new().write(true).open(&target).map_err(|e| named(&e))?;
        return write(&mut file);
    }
    // A rename needs only the directory's permission: a file its owner made read-only (no
    // owner write bit, which `>` would refuse its owner) would be replaced all the same.
    if existing.as_ref().is_some_and(owner_cannot_write) {
        return Err(named(&"the file is read-only; it was left as it is"));
    }
    let dir = directory_of(&target);
    // A fresh name each time, created only if absent: nothing planted there is followed.
    let mut partial = tempfile::Builder::new().prefix(".userpool-export-").tempfile_in(dir).map_err(|e| {
        // The error names the temporary file, which the user never asked for.
        let dir = dir.display();
        named(&match std::fs::metadata(directory_of(&target)) {
            Err(missing) if missing.kind() == std::io::ErrorKind::NotFound => {
                format!("the directory {dir} does not exist")
            }
            Ok(found) if !found.is_dir() => format!("{dir} is not a directory"),
            _ => format!("cannot write in {dir}: {}", e.kind()),
        })
    })?;
    // Owner-only (tempfile's mode) while it fills: a run cut short by a signal leaves it
    // behind, and it must not then be readable by whoever could read the old file.
    let value = write(partial.as_file_mut())?;
    if let Some(existing) = existing {
        keep_attributes(partial.as_file(), &existing, dir, path).map_err(|e| named(&e))?;
    }
    partial.as_file().sync_all().map_err(|e| named(&e))?;
    // Dropped unpersisted on any error above, the temporary file is removed.
    partial.persist(&target).map_err(|e| named(&e.error))?;
    // The rename itself is durable once the directory is: an export reported done survives
    // a power loss as the new file, not the old one or none. The file is in place already,
    // so a directory that cannot be synced (not readable, or a file system that refuses) is
    // said, not taken for a failed export.
    #[cfg(unix)]
    if let Err(e) = std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        eprintln!(
            "note: {}: written, but its directory could not be synced ({e}): a power loss soon may undo it",
            path.display()
        );
    }
    Ok(value)
}

/// Whether the file's owner took their own write permission away.
fn owner_cannot_write(metadata: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        metadata.permissions().mode() & 0o200 == 0
    }
    #[cfg(not(unix))]
    {
        metadata.permissions().readonly()
    }
}

/// The directory `path` is in (`.` for a bare file name).
fn directory_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Refuses a path that another user may have laid out: a symlink anywhere along it, or a
/// special file (a FIFO) at its end, in a directory others may write to (`/tmp`, or one that
/// another user made there), would send the export wherever they chose. The way out is
/// standard output.
fn refuse_planted(path: &Path) -> Result<(), String> {
    for (depth, part) in path.ancestors().filter(|p| !p.as_os_str().is_empty()).enumerate() {
        let Ok(found) = std::fs::symlink_metadata(part) else { continue };
        let what = if found.file_type().is_symlink() {
            "a symlink"
        } else if depth == 0 && !found.is_file() {
            "not a regular file"
        } else {
            continue;
        };
        let dir = directory_of(part);
        if std::fs::metadata(dir).is_ok_and(|m| others_may_write(&m)) {
            return Err(format!(
                "{}: {} is {what} in a directory others may write to, so it is not followed; leave out -o and \
                 redirect standard output instead",
                path.display(),
                part.display()
            ));
        }
    }
    Ok(())
}

/// Whether users other than the exporter (and root) may add or replace entries in `dir`:
/// anyone may write to it, or it is another user's (who may, say, have made `/tmp/exports`
/// for someone else's export to go into). A directory its group may write to is trusted as
/// its owner's: with one group per user (umask 002), that is most of them.
#[cfg(unix)]
fn others_may_write(dir: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let owner = dir.uid();
    dir.permissions().mode() & 0o002 != 0 || (owner != 0 && owner != rustix::process::geteuid().as_raw())
}

#[cfg(not(unix))]
fn others_may_write(_dir: &std::fs::Metadata) -> bool {
    false
}

/// Refuses to export over the pool's own file (or its journal), which the rename would
/// replace while it is open.
fn refuse_pool_as_output(pool: &Path, output: &Path) -> Result<(), String> {
    // The journal files may not be there yet: their directory is.
    let resolve = |path: &Path| {
        std::fs::canonicalize(path)
            .ok()
            .or_else(|| Some(std::fs::canonicalize(directory_of(path)).ok()?.join(path.file_name()?)))
    };
    let (Some(pool), Some(output)) = (resolve(pool), resolve(output)) else {
        return Ok(());
    };
    let journal = |suffix: &str| {
        let mut name = pool.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    };
    if output == pool || output == journal("-wal") || output == journal("-shm") {
        return Err(format!("{}: this is the pool's own file; export to another file", output.display()));
    }
    Ok(())
}

/// Gives the replacement what the file it replaces had: its owner and group where the
/// exporter may (root may, so an export run as root over another user's file leaves it
/// theirs), then its permissions. Two exceptions keep the export from reaching anyone the
/// old file did not:
/// - in a directory anyone may write to (`/tmp`), another user's file at the target is no
///   template: the replacement stays the exporter's, readable by them only;
/// - where the group cannot be kept, the permissions lose their group and other bits.
#[cfg(unix)]
fn keep_attributes(
    replacement: &std::fs::File,
    existing: &std::fs::Metadata,
    dir: &Path,
    path: &Path,
) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, fchown};
    let made = replacement.metadata()?;
    if existing.uid() != made.uid() && std::fs::metadata(dir)?.mode() & 0o002 != 0 {
        eprintln!(
            "note: {} belonged to uid {} in a directory anyone may write to; it is replaced by a file of yours, \
             readable by you only",
            path.display(),
            existing.uid()
        );
        return Ok(());
    }
    let mut mode = existing.mode() & 0o7777;
    if (made.uid(), made.gid()) != (existing.uid(), existing.gid()) {
        let kept_owner = fchown(replacement, Some(existing.uid()), Some(existing.gid())).is_ok();
        // Without the right to give a file away, a member of its group may still keep that.
        let kept_group = kept_owner || fchown(replacement, None, Some(existing.gid())).is_ok();
        if !kept_group {
            mode &= !0o077;
        }
        if !kept_owner {
            let now = replacement.metadata()?;
            eprintln!(
                "note: {} now belongs to uid {} gid {}, not uid {} gid {}{}",
                path.display(),
                now.uid(),
                now.gid(),
                existing.uid(),
                existing.gid(),
                if kept_group { "" } else { "; it is readable by you only" }
            );
        }
    }
    // After the owner: giving a file away clears its set-id bits.
    replacement.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn keep_attributes(
    replacement: &std::fs::File,
    existing: &std::fs::Metadata,
    _dir: &Path,
    _path: &Path,
) -> std::io::Result<()> {
    replacement.set_permissions(existing.permissions())
}

fn cell(pool: &UserPool, user: &User, column: &str, username_attributes: &[String]) -> String {
    let attributes: &Attributes = &user.attributes;
    match column {
        USERNAME_COLUMN => exported_username(pool, user, username_attributes),
        MFA_COLUMN => if user.mfa_enabled.is_empty() { "FALSE" } else { "TRUE" }.to_owned(),
        // Left empty for a user who has none, whom an import would otherwise give one.
        "email_verified" | "phone_number_verified" => match attributes.get(column).map(String::as_str) {
            None => String::new(),
            Some("true") => "TRUE".to_owned(),
            Some(_) => "FALSE".to_owned(),
        },
        attribute => attributes.get(attribute).cloned().unwrap_or_default(),
    }
}

/// The `cognito:username` of `user`. A pool that signs users in by email or phone number
/// keeps their `sub` as the username, which an import refuses; the row gives the address
/// the user signed up with instead, which an import makes their username again. The record
/// names it; for a user from before it did, the other address signs in only once verified,
/// so an unverified address that signs the user in is the one; else a verified one (either
/// signs in, and stays a key after the import).
fn exported_username(pool: &UserPool, user: &User, username_attributes: &[String]) -> String {
    if let Some(address) = user.username_attribute.as_ref().and_then(|attribute| user.attributes.get(attribute)) {
        return address.clone();
    }
    let addresses: Vec<(&String, &String)> =
        username_attributes.iter().filter_map(|attribute| Some((attribute, user.attributes.get(attribute)?))).collect();
    let verified = |attribute: &str| user.attributes.get(&format!("{attribute}_verified")).is_some_and(|v| v == "true");
    let signs_in = |address: &str| pool.admin_get_user(address).is_ok_and(|found| found.sub == user.sub);
    let chosen = match addresses.as_slice() {
        [] => None,
        [(_, only)] => Some(*only),
        several => several
            .iter()
            .find(|(attribute, address)| !verified(attribute) && signs_in(address))
            .or_else(|| several.iter().find(|(attribute, _)| verified(attribute)))
            .or(several.first())
            .map(|(_, address)| *address),
    };
    chosen.unwrap_or(&user.username).clone()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// On a terminal, a user's own text must not run as escape sequences nor reorder what is
    /// shown: control and format characters are written escaped, and counted.
    #[test]
    fn an_export_to_a_terminal_escapes_control_characters() {
        let config = PoolConfig::from_toml(
            "[password_hashing]\nmemory_kib = 128\niterations = 1\ndangerous_allow_weak = true\n",
        )
        .unwrap();
        let pool = UserPool::builder(config).open().unwrap();
        let name = "Eve\u{1b}]52;c;aGk=\u{7}";
        let attributes = Attributes::from([("name".to_owned(), name.to_owned())]);
        pool.admin_create_user("eve", attributes, None, false).unwrap();
        let reversed = Attributes::from([("name".to_owned(), "Mal\u{202e}gnp.exe".to_owned())]);
        pool.admin_create_user("mal", reversed, None, false).unwrap();
        let header = export_header(pool.config(), &BTreeSet::new());
        for escape_controls in [true, false] {
            let options = ExportOptions { spreadsheet_safe: false, skip_disabled: false, escape_controls };
            let mut out = Vec::new();
            let exported = write_csv(&pool, &header, options, &mut out, "test").unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(exported.escaped, 2 * usize::from(escape_controls));
            assert_eq!(text.contains('\u{1b}'), !escape_controls, "{text:?}");
            assert_eq!(text.contains(r"Eve\u{1b}]52;c;aGk=\u{7}"), escape_controls, "{text:?}");
            assert_eq!(text.contains('\u{202e}'), !escape_controls, "{text:?}");
            assert_eq!(text.contains(r"Mal\u{202e}gnp.exe"), escape_controls, "{text:?}");
        }
    }

    /// A directory anyone may write to, without the sticky bit: the worst case.
    fn shared_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        dir
    }

    #[test]
    fn lines_are_counted_at_every_kind_of_line_ending_and_across_chunks() {
        // LF, CRLF and bare CR endings, with a CRLF straddling the 64 KiB chunk boundary.
        let mut text = Vec::new();
        let endings: [&[u8]; 3] = [b"\n", b"\r\n", b"\r"];
        // The line of each byte.
        let mut expected = Vec::new();
        let mut line = 1;
        let boundary = 64 << 10;
        for i in 0..9000 {
            if (boundary - 40..boundary - 1).contains(&text.len()) {
                let filler = boundary - 1 - text.len();
                text.extend(std::iter::repeat_n(b'x', filler));
                text.extend(b"\r\n");
                expected.extend(std::iter::repeat_n(line, filler + 2));
                line += 1;
                continue;
            }
            let row = format!("row {i}");
            expected.extend(std::iter::repeat_n(line, row.len()));
            text.extend(row.bytes());
            let ending = endings[i % 3];
            expected.extend(std::iter::repeat_n(line, ending.len()));
            text.extend(ending);
            line += 1;
        }
        assert_eq!(&text[boundary - 1..=boundary], b"\r\n");
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let mut lines = Lines::open(file.path()).unwrap();
        // A range of exactly one chunk whose last byte is the CR of a CRLF; then forward,
        // backward, and back and forth, as batches are reported.
        let whole = text.len() as u64;
        let bytes: Vec<u64> = [0, boundary as u64, 0, boundary as u64 + 1]
            .into_iter()
            .chain((0..whole).step_by(97))
            .chain((0..whole).rev().step_by(89))
            .collect();
        for byte in bytes {
            assert_eq!(lines.line_of(byte).unwrap(), expected[byte as usize], "byte {byte}");
        }
    }

    #[test]
    fn a_link_planted_after_the_check_is_replaced_not_followed() {
        let (shared, private) = (shared_dir(), tempfile::tempdir().unwrap());
        let victim = private.path().join("keys");
        std::fs::write(&victim, "kept\n").unwrap();
        let output = shared.path().join("users.csv");
        std::os::unix::fs::symlink(&victim, &output).unwrap();
        // As if the link appeared between `refuse_planted` and the write.
        replace_file(&output, |file| file.write_all(b"exported\n").map_err(|e| e.to_string())).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept\n");
        assert!(!std::fs::symlink_metadata(&output).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "exported\n");
    }

    #[test]
    fn a_fifo_planted_after_the_check_is_replaced_not_written_to() {
        let shared = shared_dir();
        let output = shared.path().join("users.csv");
        assert!(std::process::Command::new("mkfifo").arg(&output).status().unwrap().success());
        // Opening the FIFO to write blocks until someone reads it: a write into it never ends.
        let (done, replaced) = std::sync::mpsc::channel();
        let path = output.clone();
        std::thread::spawn(move || {
            let written = replace_file(&path, |file| file.write_all(b"exported\n").map_err(|e| e.to_string()));
            done.send(written).unwrap();
        });
        replaced.recv_timeout(std::time::Duration::from_secs(30)).expect("the export wrote into the FIFO").unwrap();
        assert!(std::fs::symlink_metadata(&output).unwrap().is_file());
        assert_eq!(std::fs::read_to_string(&output).unwrap(), "exported\n");
    }

    #[test]
    fn outside_a_shared_directory_a_link_names_the_file_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (file, link) = (dir.path().join("users.csv"), dir.path().join("latest.csv"));
        std::fs::write(&file, "old\n").unwrap();
        std::os::unix::fs::symlink(&file, &link).unwrap();
        replace_file(&link, |f| f.write_all(b"new\n").map_err(|e| e.to_string())).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new\n");
    }
}
