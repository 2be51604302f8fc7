//! `userpool users`: list, import and export the users of a pool kept in a SQLite file.
//! Import and export use Cognito's user-import CSV format.

use std::io::Write as _;
use std::path::Path;

use userpool::{Attributes, ImportUser, PoolConfig, User, UserPool};

use crate::{DEMO_POOL_ID, PoolArgs, UsersAction, load_config, open_store};

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
        UsersAction::List { pool, filter, limit } => list(&open(&pool)?, filter.as_deref(), limit),
        UsersAction::Import { file, pool } => import(&open(&pool)?, &file),
        UsersAction::Export { pool, output } => export(&open(&pool)?, output.as_deref()),
    }
}

fn open(args: &PoolArgs) -> Result<UserPool, String> {
    let mut config = match &args.config {
        Some(path) => load_config(path)?,
        None => PoolConfig::builder().pool_id(DEMO_POOL_ID).build().map_err(|e| e.to_string())?,
    };
    if let Some(id) = &args.pool_id {
        config.pool_id.clone_from(id);
    }
    // No delivery: nothing here sends a message.
    UserPool::builder(config).store(open_store(&args.pool)?).open().map_err(|e| e.to_string())
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
        .map_err(|e| e.to_string())
    };
    line(&mut out, ["USERNAME", "STATUS", "ENABLED", "EMAIL", "PHONE", "SUB"])?;
    let count = each_user(pool, filter, limit, |u| {
        let attr = |name: &str| u.attributes.get(name).map_or("-", String::as_str);
        let enabled = if u.enabled { "yes" } else { "no" };
        line(&mut out, [&u.username, u.status.as_str(), enabled, attr("email"), attr("phone_number"), &u.sub])
    })?;
    drop(out);
    eprintln!("{count} user(s) in pool `{}`", pool.pool_id());
    Ok(())
}

/// Reads a row of the CSV into an import, or says what is wrong with it.
fn row_to_user(header: &[String], row: &csv::StringRecord) -> Result<(ImportUser, bool), String> {
    let mut user = ImportUser::default();
    let mut mfa = false;
    for (name, value) in header.iter().zip(row.iter()) {
        let value = value.trim();
        match name.as_str() {
            USERNAME_COLUMN => user.username = value.to_owned(),
            MFA_COLUMN => mfa = value.eq_ignore_ascii_case("true"),
            _ if value.is_empty() => {}
            flag @ ("email_verified" | "phone_number_verified") => {
                let flag_value = match value.to_ascii_lowercase().as_str() {
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

fn check_header(header: &[String]) -> Result<(), String> {
    if let Some(unknown) = header.iter().find(|h| !CSV_HEADER.contains(&h.as_str()) && !h.starts_with("custom:")) {
        return Err(format!("unknown column `{unknown}`; the columns are those of Cognito's GetCSVHeader"));
    }
    if !header.iter().any(|h| h == USERNAME_COLUMN) {
        return Err(format!("the header has no `{USERNAME_COLUMN}` column"));
    }
    Ok(())
}

struct Tally {
    imported: usize,
    failed: usize,
    mfa_ignored: usize,
}

impl Tally {
    fn fail(&mut self, progress: &indicatif::ProgressBar, line: u64, username: &str, why: &str) {
        self.failed += 1;
        if self.failed <= SHOWN_FAILURES {
            progress.suspend(|| eprintln!("line {line}: {username}: {why}"));
        }
    }
}

fn flush(
    pool: &UserPool,
    batch: &mut Vec<(u64, ImportUser)>,
    tally: &mut Tally,
    progress: &indicatif::ProgressBar,
) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    let (lines, users): (Vec<u64>, Vec<ImportUser>) = std::mem::take(batch).into_iter().unzip();
    let names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let outcomes = pool.admin_import_users(users).map_err(|e| e.to_string())?;
    for ((line, name), outcome) in lines.into_iter().zip(&names).zip(outcomes) {
        match outcome {
            Ok(_) => tally.imported += 1,
            Err(e) => tally.fail(progress, line, name, &e.to_string()),
        }
    }
    Ok(())
}

fn import(pool: &UserPool, file: &Path) -> Result<(), String> {
    let named = |e: &dyn std::fmt::Display| format!("{}: {e}", file.display());
    let size = std::fs::metadata(file).map_err(|e| named(&e))?.len();
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_path(file).map_err(|e| named(&e))?;
    let header: Vec<String> = reader.headers().map_err(|e| named(&e))?.iter().map(|h| h.trim().to_owned()).collect();
    check_header(&header).map_err(|e| named(&e))?;
    let progress = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})",
        )
        .map_err(|e| e.to_string())?
        .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let mut tally = Tally { imported: 0, failed: 0, mfa_ignored: 0 };
    let mut batch = Vec::with_capacity(BATCH);
    let mut row = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(named(&e)),
        }
        let line = row.position().map_or(0, csv::Position::line);
        match row_to_user(&header, &row) {
            Ok((user, mfa)) => {
                tally.mfa_ignored += usize::from(mfa);
                batch.push((line, user));
            }
            Err(why) => tally.fail(&progress, line, row.get(0).unwrap_or(""), &why),
        }
        if batch.len() == BATCH {
            flush(pool, &mut batch, &mut tally, &progress)?;
            progress.set_position(reader.position().byte());
            progress.set_message(format!("{} imported", tally.imported));
        }
    }
    flush(pool, &mut batch, &mut tally, &progress)?;
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "imported {} user(s) into pool `{}` in {secs:.1} s ({:.0}/s); {} row(s) failed",
        tally.imported,
        pool.pool_id(),
        tally.imported as f64 / secs.max(1e-9),
        tally.failed
    );
    if tally.failed > SHOWN_FAILURES {
        println!("(the first {SHOWN_FAILURES} failures are shown above)");
    }
    if tally.mfa_ignored > 0 {
        println!(
            "note: {} user(s) had cognito:mfa_enabled = TRUE; MFA settings are not imported: they set up MFA again",
            tally.mfa_ignored
        );
    }
    println!("imported users are RESET_REQUIRED: each sets a password through forgot-password");
    Ok(())
}

fn export(pool: &UserPool, output: Option<&Path>) -> Result<(), String> {
    let sink: Box<dyn std::io::Write> = match output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut writer = csv::Writer::from_writer(sink);
    writer.write_record(CSV_HEADER).map_err(|e| e.to_string())?;
    let count = each_user(pool, None, None, |u| {
        let cells = CSV_HEADER.iter().map(|column| cell(u, column));
        writer.write_record(cells).map_err(|e| e.to_string())
    })?;
    writer.flush().map_err(|e| e.to_string())?;
    eprintln!("exported {count} user(s) from pool `{}`", pool.pool_id());
    Ok(())
}

fn cell(user: &User, column: &str) -> String {
    let attributes: &Attributes = &user.attributes;
    match column {
        USERNAME_COLUMN => user.username.clone(),
        MFA_COLUMN => if user.mfa_enabled.is_empty() { "FALSE" } else { "TRUE" }.to_owned(),
        "email_verified" | "phone_number_verified" => {
            let verified = attributes.get(column).is_some_and(|v| v == "true");
            if verified { "TRUE" } else { "FALSE" }.to_owned()
        }
        attribute => attributes.get(attribute).cloned().unwrap_or_default(),
    }
}
