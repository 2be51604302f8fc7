//! The `userpool` binary: the demo on a kept SQLite file, and `users list`, `import`,
//! `export` with Cognito's CSV format.

use std::path::Path;
use std::process::{Command, Output};

fn userpool(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_userpool")).current_dir(dir).args(args).output().unwrap()
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(output)
}

/// Imports `file` into `pool`, which must go through to the end with `failed` rows refused
/// and fail (for a script to see) if there were any: what it printed on standard output and
/// on standard error.
fn import_into(dir: &Path, file: &str, pool: &str, failed: usize) -> (String, String) {
    let imported = userpool(dir, &["users", "import", file, "--pool", pool]);
    let (out, err) = (stdout(&imported), String::from_utf8_lossy(&imported.stderr).into_owned());
    assert!(out.contains(&format!("; {failed} row(s) failed")), "stdout:\n{out}\nstderr:\n{err}");
    if failed == 0 {
        ok(&imported);
    } else {
        assert_eq!(imported.status.code(), Some(1), "stdout:\n{out}\nstderr:\n{err}");
        let summary = format!("error: {file}: {failed} row(s) were not imported (see above); the others were");
        assert_eq!(err.lines().last(), Some(summary.as_str()), "{err}");
    }
    (out, err)
}

/// [`import_into`] `pool.sqlite3`.
fn import(dir: &Path, file: &str, failed: usize) -> (String, String) {
    import_into(dir, file, "pool.sqlite3", failed)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_demo_runs_again_and_again_on_its_file_and_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let first = ok(&userpool(dir.path(), &["demo"]));
    assert!(first.contains("in userpool-demo.sqlite3"), "{first}");
    assert!(dir.path().join("userpool-demo.sqlite3").exists());
    let second = ok(&userpool(dir.path(), &["demo"]));
    assert!(second.contains("alice2@example.com"), "the second run signs up a user of its own:\n{second}");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "userpool-demo.sqlite3"]));
    assert_eq!(listed.lines().count(), 3, "a header and two users:\n{listed}");
    assert!(listed.lines().skip(1).all(|l| l.contains("CONFIRMED")), "{listed}");
    let elsewhere = tempfile::tempdir().unwrap();
    let spaced = ok(&userpool(tempfile::tempdir().unwrap().path(), &["demo", "--pool", "my pool's.sqlite3"]));
    assert!(
        spaced.contains(r"users list --pool 'my pool'\''s.sqlite3' --pool-id"),
        "a command one can paste:\n{spaced}"
    );
    // A pool with users of its own gets no account with a published password.
    std::fs::write(dir.path().join("bob.csv"), "cognito:username,email\nbob,bob@example.com\n").unwrap();
    import_into(dir.path(), "bob.csv", "userpool-demo.sqlite3", 0);
    let refused = userpool(dir.path(), &["demo"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("holds users other than the demo's (bob among them)"), "{err}");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "userpool-demo.sqlite3"]));
    assert_eq!(listed.lines().count(), 4, "no third alice:\n{listed}");
    // Nor one whose real user happens to be called alice.
    std::fs::write(dir.path().join("alice.csv"), "cognito:username,email\nalice,alice@corp.example\n").unwrap();
    ok(&userpool(dir.path(), &["users", "import", "alice.csv", "--pool", "real.sqlite3", "--pool-id", "local_demo"]));
    let refused = userpool(dir.path(), &["demo", "--pool", "real.sqlite3"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("(alice among them)"), "{err}");
    let memory = ok(&userpool(elsewhere.path(), &["demo", "--memory"]));
    assert!(memory.contains("in memory") && memory.contains("alice@example.com"), "{memory}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "--memory writes no file");
}

/// A configuration the journey cannot run on is refused before the demo starts, saying what
/// it needs, not at the step that needs it; one that gives what it needs runs.
#[test]
fn the_demo_refuses_a_configuration_it_cannot_run_on_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fast = "[password_hashing]\nmemory_kib = 256\niterations = 1\ndangerous_allow_weak = true\n";
    for (file, extra, needs) in [
        ("no_mfa.toml", "", "mfa.mode = \"optional\""),
        (
            "by_email.toml",
            "[sign_in]\nusername_attributes = ['email']\n[mfa]\nmode = 'optional'\nmethods = ['totp']\n",
            "plain usernames",
        ),
    ] {
        std::fs::write(dir.path().join(file), format!("{fast}{extra}")).unwrap();
        let out = userpool(dir.path(), &["demo", "--memory", "--config", file]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(needs), "{file}: {err}");
        assert!(out.stdout.is_empty(), "{file}: nothing ran");
    }
    std::fs::write(dir.path().join("fit.toml"), format!("{fast}[mfa]\nmode = 'optional'\nmethods = ['totp']\n"))
        .unwrap();
    ok(&userpool(dir.path(), &["demo", "--memory", "--config", "fit.toml"]));
}

/// A reader that stops early (`userpool demo | head -3`) closes the pipe: the demo then ends
/// with an error naming standard output, where `println!` panicked (exit status 101).
#[test]
fn a_closed_standard_output_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_userpool"))
        .current_dir(dir.path())
        .args(["demo", "--memory"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error: standard output:") && !stderr.contains("panicked"), "{stderr}");
}

const CSV: &str = "\
name,given_name,family_name,middle_name,nickname,preferred_username,profile,picture,website,email,email_verified,gender,birthdate,zoneinfo,locale,phone_number,phone_number_verified,address,updated_at,cognito:mfa_enabled,cognito:username
Jane Doe,Jane,Doe,,,jane,,,,jane@example.com,TRUE,,,,,+15555550100,false,,,FALSE,jane
\" John Roe \",John,Roe,,,,,,,john@example.com,true,,,,,,,,,FALSE,john
Bad Flag,,,,,,,,,bad@example.com,maybe,,,,,,,,,FALSE,badflag
Dup Jane,,,,,,,,,dup@example.com,TRUE,,,,,,,,,FALSE,jane
";

#[test]
fn users_import_then_export_round_trips_cognitos_csv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), CSV).unwrap();
    let (out, err) = import(dir.path(), "users.csv", 2);
    assert!(out.contains("imported 2 user(s)"), "{out}");
    assert!(!out.contains("no verified address"), "both have a verified email:\n{out}");
    assert!(err.contains("line 4: badflag: email_verified must be TRUE or FALSE"), "named by its username:\n{err}");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "pool.sqlite3", "--filter", "email ^= \"ja\""]));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("jane") && listed.contains("RESET_REQUIRED"), "{listed}");
    let none = ok(&userpool(dir.path(), &["users", "list", "--pool", "pool.sqlite3", "--filter", "email ^= \"zz\""]));
    assert_eq!(none.lines().count(), 1, "the header alone: {none}");
    let refused = userpool(dir.path(), &["users", "list", "--pool", "pool.sqlite3", "--filter", "x"]);
    assert!(!refused.status.success() && refused.stdout.is_empty(), "no table before a refused filter");

    let exported = ok(&userpool(dir.path(), &["users", "export", "--pool", "pool.sqlite3"]));
    let mut lines = exported.lines();
    assert_eq!(lines.next(), CSV.lines().next(), "the header is GetCSVHeader's");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    let jane = rows.iter().find(|r| r.ends_with(",jane")).unwrap();
    assert_eq!(*jane, "Jane Doe,Jane,Doe,,,jane,,,,jane@example.com,TRUE,,,,,+15555550100,FALSE,,,FALSE,jane");
    let john = rows.iter().find(|r| r.ends_with(",john")).unwrap();
    // The spaces are the user's; a user with no phone number gets no phone_number_verified.
    assert_eq!(*john, " John Roe ,John,Roe,,,,,,,john@example.com,TRUE,,,,,,,,,FALSE,john");

    // The export imports into another pool as it is.
    std::fs::write(dir.path().join("exported.csv"), &exported).unwrap();
    let (out, _) = import_into(dir.path(), "exported.csv", "copy.sqlite3", 0);
    assert!(out.contains("imported 2 user(s)"), "{out}");
    let copied = ok(&userpool(dir.path(), &["users", "export", "--pool", "copy.sqlite3"]));
    let sorted = |csv: &str| {
        let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    assert_eq!(sorted(&copied), sorted(&exported), "the copy exports as the original did");
    // Importing it again into the same pool: every username is taken.
    let (out, err) = import_into(dir.path(), "exported.csv", "copy.sqlite3", 2);
    assert!(out.contains("imported 0 user(s)") && err.contains(": jane: UsernameExistsException"), "{err}");
    // Or, for a rerun, skipped and counted apart: not a failure.
    let rerun = userpool(dir.path(), &["users", "import", "exported.csv", "--pool", "copy.sqlite3", "--skip-existing"]);
    let out = ok(&rerun);
    assert!(out.contains("imported 0 user(s)") && out.contains("; 0 row(s) failed"), "{out}");
    assert!(out.contains("2 row(s) skipped: their username is a user's already"), "{out}");
    // Names compare as the pool compares them: this one ignores case.
    assert!(exported.contains(",jane\n"), "{exported}");
    std::fs::write(dir.path().join("upper.csv"), exported.replace(",jane\n", ",JANE\n")).unwrap();
    let rerun = userpool(dir.path(), &["users", "import", "upper.csv", "--pool", "copy.sqlite3", "--skip-existing"]);
    assert!(ok(&rerun).contains("2 row(s) skipped"), "{}", stdout(&rerun));
    // A row whose name another user took (their email is not the row's) is not skipped.
    let clash = exported.replace("jane@example.com", "someone.else@example.com");
    std::fs::write(dir.path().join("clash.csv"), clash).unwrap();
    let rerun = userpool(dir.path(), &["users", "import", "clash.csv", "--pool", "copy.sqlite3", "--skip-existing"]);
    let (out, err) = (stdout(&rerun), String::from_utf8_lossy(&rerun.stderr).into_owned());
    assert_eq!(rerun.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("; 1 row(s) failed") && out.contains("1 row(s) skipped"), "{out}");
    assert!(
        err.contains(": jane: UsernameExistsException") && err.contains("has another email than this row"),
        "{err}"
    );
    // An address compares as the pool compares names: this one is Jane's.
    std::fs::write(dir.path().join("case.csv"), exported.replace("jane@example.com", "JANE@Example.com")).unwrap();
    let rerun = userpool(dir.path(), &["users", "import", "case.csv", "--pool", "copy.sqlite3", "--skip-existing"]);
    assert!(ok(&rerun).contains("2 row(s) skipped"), "{}", stdout(&rerun));
    // A name the file repeats is no user of the pool's: its second row fails, skip or not.
    let jane_row = exported.lines().find(|l| l.ends_with(",jane")).unwrap();
    std::fs::write(dir.path().join("twice.csv"), format!("{exported}{jane_row}\n")).unwrap();
    let third = ["users", "import", "twice.csv", "--pool", "copy.sqlite3", "--pool-id", "third", "--skip-existing"];
    let twice = userpool(dir.path(), &third);
    let (out, err) = (stdout(&twice), String::from_utf8_lossy(&twice.stderr).into_owned());
    assert_eq!(twice.status.code(), Some(1), "{out}{err}");
    assert!(
        out.contains("imported 2 user(s)") && out.contains("; 1 row(s) failed") && !out.contains("skipped"),
        "{out}"
    );
    assert!(
        err.contains(": jane: UsernameExistsException") && err.contains("an earlier row of this file names this user"),
        "{err}"
    );
    // … and on the rerun the option is for, where the first row is skipped.
    let rerun = userpool(dir.path(), &third);
    let (out, err) = (stdout(&rerun), String::from_utf8_lossy(&rerun.stderr).into_owned());
    assert_eq!(rerun.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("; 1 row(s) failed") && out.contains("2 row(s) skipped"), "{out}");
    // A pool id the file does not hold yet is made beside the first.
    let second = ["--pool", "copy.sqlite3", "--pool-id", "second"];
    let out = ok(&userpool(dir.path(), &[&["users", "import", "exported.csv"][..], &second].concat()));
    assert!(out.contains("imported 2 user(s) into pool `second`"), "{out}");
    assert!(ok(&userpool(dir.path(), &[&["users", "list"][..], &second].concat())).contains("jane"));
}

#[test]
fn an_import_goes_on_past_the_rows_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let row = |name: &str| format!("{name}@example.com,TRUE,{name}\n");
    let mut csv = b"email,email_verified,cognito:username\n".to_vec();
    for name in ["ann", "ben"] {
        csv.extend(row(name).bytes());
    }
    csv.extend(b"too,many,fields,here\n");
    csv.extend(b"jos\xe9@example.com,TRUE,jos\xe9\n"); // Latin-1, as some spreadsheets save it
    csv.extend(b"eve@example.com,maybe,eve\x1b[2J\n"); // a terminal escape in the name
    csv.extend(b",,\n"); // a row a spreadsheet formatted or cleared: passed over
    for name in ["cat", "dan"] {
        csv.extend(row(name).bytes());
    }
    std::fs::write(dir.path().join("mixed.csv"), csv).unwrap();
    let (out, err) = import(dir.path(), "mixed.csv", 3);
    assert!(out.contains("imported 4 user(s)"), "{out}");
    assert!(err.contains("line 4: 4 field(s) where the header has 3"), "{err}");
    assert!(err.contains("line 5: text that is not UTF-8"), "{err}");
    assert!(err.contains("line 6: eve\\u{1b}[2J: email_verified must be TRUE or FALSE"), "{err}");
    assert!(!err.contains('\x1b'), "the escape reaches the terminal as text: {err}");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "pool.sqlite3"]));
    for name in ["ann", "ben", "cat", "dan"] {
        assert!(listed.contains(name), "{name} is missing:\n{listed}");
    }
}

#[test]
fn failing_rows_are_named_by_the_lines_they_are_on() {
    let dir = tempfile::tempdir().unwrap();
    // Blank lines, Windows line endings and a quoted field over two lines: the reader's own
    // line count goes wrong after a blank line.
    std::fs::write(
        dir.path().join("windows.csv"),
        "cognito:username,email,email_verified\r\nann,ann@example.com,TRUE\r\n\r\n\r\n\
         ben,ben@example.com,maybe\r\n\"two\r\nlines\",two@example.com,maybe\r\ncat,cat@example.com,nope",
    )
    .unwrap();
    let (out, err) = import(dir.path(), "windows.csv", 3);
    assert!(out.contains("imported 1 user(s)"), "{out}");
    assert!(err.contains("line 5: ben: email_verified must be TRUE or FALSE"), "{err}");
    assert!(err.contains("lines 6-7: two\\r\\nlines: email_verified"), "{err}");
    assert!(err.contains("line 8: cat: email_verified"), "{err}");
    // A quote that is never closed takes the rest of the file into its row.
    std::fs::write(
        dir.path().join("unclosed.csv"),
        "cognito:username,email,email_verified\nann,ann@example.com,TRUE\n\n\
         ben,\"ben@example.com,TRUE\ncat,cat@example.com,TRUE\ndan,dan@example.com,TRUE\n",
    )
    .unwrap();
    let (out, err) = import_into(dir.path(), "unclosed.csv", "other.sqlite3", 1);
    assert!(out.contains("imported 1 user(s)"), "{out}");
    assert!(
        err.contains("lines 4-6: 2 field(s) where the header has 3 (a quote in the row is never closed, so every line"),
        "{err}"
    );
    // Old Mac line endings (a bare CR), as Excel for Mac's "CSV (Macintosh)" writes; and a
    // last row over two lines whose quotes all close: no word on quotes for it.
    std::fs::write(
        dir.path().join("mac.csv"),
        "cognito:username,email,email_verified\rann,ann@example.com,TRUE\rben,ben@example.com,maybe\r\r\
         \"cat\ncat\",cat@example.com,nope\n",
    )
    .unwrap();
    let (_, err) = import_into(dir.path(), "mac.csv", "mac.sqlite3", 2);
    assert!(err.contains("line 3: ben: email_verified"), "{err}");
    assert!(err.contains("lines 5-6: cat\\ncat: email_verified must be TRUE or FALSE\n"), "{err}");
    // The quote left open in the last column, the username: the rest of the file is one
    // name, shown cut short rather than with everyone's addresses in it.
    let mut csv = "email,email_verified,cognito:username\njane@example.com,TRUE,\"jane\n".to_owned();
    csv.extend((0..200).map(|i| format!("user{i}@example.com,TRUE,user{i}\n")));
    std::fs::write(dir.path().join("open-name.csv"), &csv).unwrap();
    let (_, err) = import_into(dir.path(), "open-name.csv", "open-name.sqlite3", 1);
    let failure = err.lines().find(|l| l.starts_with("lines 2-202: jane")).unwrap_or_else(|| panic!("{err}"));
    assert!(failure.contains(&format!("… ({} characters): ", csv.len() - 61)), "{failure}");
    assert!(!err.contains("user12@example.com"), "{err}");
}

#[test]
fn an_export_for_a_spreadsheet_makes_formulas_text() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users.csv"),
        "name,phone_number,cognito:username\n\
         \"=HYPERLINK(\"\"https://example.com/?\"\"&A1)\",+15555550100,ann\n\
         -2+3+cmd,,ben\n\
         Plain Name,+15555550101,cat\n",
    )
    .unwrap();
    let (out, _) = import(dir.path(), "users.csv", 0);
    let unreachable = "note: 3 of them have no verified address that the pool's recovery \
                       (verified_email, verified_phone_number, the default without --config) sends codes to";
    assert!(out.contains(unreachable), "{out}");
    let export = |extra: &[&str]| {
        let out = userpool(dir.path(), &[&["users", "export", "--pool", "pool.sqlite3"][..], extra].concat());
        (ok(&out), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (csv, err) = export(&[]);
    assert!(csv.contains("\"=HYPERLINK(\"\"https://example.com/?\"\"&A1)\"") && csv.contains("\n-2+3+cmd,"), "{csv}");
    assert!(err.contains("note: 2 value(s) would run as formulas in a spreadsheet"), "{err}");
    let (csv, err) = export(&["--spreadsheet-safe"]);
    assert!(csv.contains("\"'=HYPERLINK(") && csv.contains("\n'-2+3+cmd,"), "{csv}");
    assert!(csv.contains("+15555550100") && !csv.contains("'+1555"), "phone numbers are not formulas:\n{csv}");
    assert!(csv.contains("Plain Name,"), "{csv}");
    assert!(err.contains("note: 2 value(s) that would run as formulas were written with a '"), "{err}");
}

#[test]
fn list_and_export_read_a_pool_that_is_there_and_make_none() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["list", "export"] {
        let out = userpool(dir.path(), &["users", command, "--pool", "typo.sqlite3"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("typo.sqlite3 does not exist"), "{err}");
        assert!(!dir.path().join("typo.sqlite3").exists(), "users {command} made the file");
    }
    // A file without pool tables (here an empty one; core's tests try another app's
    // database): none are made in it.
    let theirs = dir.path().join("theirs.db");
    std::fs::write(&theirs, b"").unwrap();
    for command in ["list", "export"] {
        let out = userpool(dir.path(), &["users", command, "--pool", "theirs.db"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("holds no userpool pools"));
        assert_eq!(std::fs::metadata(&theirs).unwrap().len(), 0, "users {command} wrote to it");
    }
    ok(&userpool(dir.path(), &["demo"]));
    for _ in 0..2 {
        // Twice: the first refusal made no pool for the second to find.
        let out = userpool(dir.path(), &["users", "list", "--pool", "userpool-demo.sqlite3", "--pool-id", "typo"]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("User pool typo does not exist"), "{err}");
    }
}

/// A file whose name begins with `file:` is that file, not a URI SQLite would read as naming
/// another (`file:pool.db` is `pool.db` to it), made owner-only as any new pool file is.
#[test]
fn a_pool_file_named_like_a_uri_is_that_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    ok(&userpool(dir.path(), &["demo", "--pool", "file:pool.db?mode=ro"]));
    let made = dir.path().join("file:pool.db?mode=ro");
    assert!(made.exists());
    assert_eq!(std::fs::metadata(&made).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(!dir.path().join("pool.db").exists(), "SQLite took the name as a URI");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "file:pool.db?mode=ro"]));
    assert_eq!(listed.lines().count(), 2, "a header and the demo's user:\n{listed}");
}

/// Without `--config` or `--pool-id`, the `users` commands act on the pool the file holds,
/// and an import into a new file makes the pool an app opened without a configuration uses
/// (`local_default`), so that the app finds the users. A file of several pools needs a name.
#[test]
fn without_a_pool_id_the_users_commands_take_the_pool_the_file_holds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "email,email_verified,cognito:username\nann@example.com,TRUE,ann\n")
        .unwrap();
    let out = ok(&userpool(dir.path(), &["users", "import", "users.csv", "--pool", "new.sqlite3"]));
    assert!(out.contains("imported 1 user(s)"), "{out}");
    let app = userpool::UserPool::builder(userpool::PoolConfig::default())
        .sqlite(dir.path().join("new.sqlite3"), userpool::SqliteOptions::default())
        .open()
        .unwrap();
    assert_eq!(app.admin_get_user("ann").unwrap().username, "ann", "the app's default pool has the user");
    drop(app);

    ok(&userpool(dir.path(), &["demo"]));
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "userpool-demo.sqlite3"]));
    assert!(listed.contains("alice"), "the demo's pool: {listed}");

    let second = ["users", "import", "users.csv", "--pool", "new.sqlite3", "--pool-id", "second"];
    ok(&userpool(dir.path(), &second));
    let out = userpool(dir.path(), &["users", "list", "--pool", "new.sqlite3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds the pools local_default, second: name one with --pool-id"), "{err}");
}

#[test]
fn an_export_carries_custom_attributes_and_email_usernames_and_says_what_it_cannot_carry() {
    let dir = tempfile::tempdir().unwrap();
    let config = "pool_id = 'by_email'\n[sign_in]\nusername_attributes = ['email']\n\
                  [[custom_attributes]]\nname = 'custom:tier'\n\
                  [[custom_attributes]]\nname = 'vip'\ntype = 'boolean'\n";
    std::fs::write(dir.path().join("pool.toml"), config).unwrap();
    std::fs::write(
        dir.path().join("users.csv"),
        "email,email_verified,custom:tier,custom:vip,cognito:username\n\
         ann@example.com,TRUE,gold,TRUE,ann@example.com\n\
         ben@example.com,TRUE,,,ben@example.com\n",
    )
    .unwrap();
    let pool_args = ["--pool", "pool.sqlite3", "--config", "pool.toml"];
    let out = ok(&userpool(dir.path(), &[&["users", "import", "users.csv"][..], &pool_args].concat()));
    assert!(out.contains("imported 2 user(s)"), "{out}");
    // A configuration with other sign-in settings would read the pool as one whose usernames
    // are names: refused.
    std::fs::write(dir.path().join("names.toml"), "pool_id = 'by_email'\n").unwrap();
    std::fs::write(dir.path().join("plain.csv"), "email,cognito:username\neve@example.com,eve@example.com\n").unwrap();
    let wrong_config = ["--pool", "pool.sqlite3", "--config", "names.toml"];
    for action in [&["list"][..], &["export"], &["import", "plain.csv"]] {
        let out = userpool(dir.path(), &[&["users"][..], action, &wrong_config].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(r#"was made with sign_in username_attributes = {"email"}"#),
            "{err}"
        );
    }
    // Without one, the tools take the settings the app recorded.
    let without_config = ["--pool", "pool.sqlite3", "--pool-id", "by_email"];
    let listed = ok(&userpool(dir.path(), &[&["users", "list"][..], &without_config].concat()));
    assert!(listed.contains("ann@example.com") && listed.contains("ben@example.com"), "{listed}");
    {
        let store = userpool::SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap();
        let pool = userpool::UserPool::builder(userpool::PoolConfig::from_toml(config).unwrap())
            .store(std::sync::Arc::new(store))
            .open_existing()
            .unwrap();
        pool.admin_disable_user("ben@example.com").unwrap();
    }

    // A configuration that does not list the custom attributes: the users' values go out anyway.
    std::fs::write(dir.path().join("bare.toml"), "pool_id = 'by_email'\n[sign_in]\nusername_attributes = ['email']\n")
        .unwrap();
    let bare = ok(&userpool(dir.path(), &["users", "export", "--pool", "pool.sqlite3", "--config", "bare.toml"]));
    let header = bare.lines().next().unwrap();
    assert!(header.ends_with(",custom:tier,custom:vip,cognito:mfa_enabled,cognito:username"), "{header}");
    assert!(bare.contains("ann@example.com,TRUE,") && bare.contains(",gold,true,FALSE,ann@example.com"), "{bare}");

    let exported = userpool(dir.path(), &[&["users", "export", "-o", "out.csv"][..], &pool_args].concat());
    ok(&exported);
    let err = String::from_utf8_lossy(&exported.stderr);
    assert!(err.contains("exported 2 user(s)") && err.contains("1 of them are disabled"), "{err}");
    assert!(err.contains("a new sub, no password (they reset it), no MFA settings"), "{err}");
    assert!(
        err.contains("custom attribute columns (custom:tier, custom:vip): `users import` takes it with a --config")
    );
    let skipped = userpool(dir.path(), &[&["users", "export", "--skip-disabled"][..], &pool_args].concat());
    let (csv, err) = (ok(&skipped), String::from_utf8_lossy(&skipped.stderr));
    assert!(err.contains("exported 1 user(s)") && err.contains("1 disabled user(s) were left out"), "{err}");
    assert!(csv.contains("ann@example.com") && !csv.contains("ben@example.com"), "{csv}");
    let csv = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",updated_at,custom:tier,custom:vip,cognito:mfa_enabled,cognito:username"));
    let ann = lines.find(|l| l.contains("ann@")).unwrap();
    // A boolean written TRUE, as spreadsheets write it, is stored as the pool's `true`.
    assert!(ann.ends_with(",gold,true,FALSE,ann@example.com"), "the email, not the sub, as the username: {ann}");
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".userpool-export-"));
    assert_eq!(leftovers.count(), 0, "the temporary file was renamed into place");

    let copy = ["--pool", "copy.sqlite3", "--config", "pool.toml"];
    let out = ok(&userpool(dir.path(), &[&["users", "import", "out.csv"][..], &copy].concat()));
    assert!(out.contains("imported 2 user(s)") && out.contains("0 row(s) failed"), "{out}");
    let again = ok(&userpool(dir.path(), &[&["users", "export"][..], &copy].concat()));
    assert_eq!(again.lines().find(|l| l.contains("ann@")), Some(ann), "the round trip keeps ann as she was");

    // An import and an export without the configuration, too.
    std::fs::write(
        dir.path().join("more.csv"),
        "email,email_verified,cognito:username\ncid@example.com,TRUE,cid@example.com\n",
    )
    .unwrap();
    let out = ok(&userpool(dir.path(), &[&["users", "import", "more.csv"][..], &without_config].concat()));
    assert!(out.contains("imported 1 user(s)"), "{out}");
    let exported = ok(&userpool(dir.path(), &[&["users", "export"][..], &without_config].concat()));
    assert!(
        exported.lines().any(|l| l.contains(",cid@example.com,TRUE,") && l.ends_with(",cid@example.com")),
        "{exported}"
    );
}

/// In a pool whose users sign up with an email or a phone number, a user's other address
/// signs in only once verified. The export gives, as `cognito:username`, an address the
/// user signs in by, so that the round trip keeps every row: an unverified email named by a
/// phone user is not theirs to import with, when another user signs in by it.
#[test]
fn an_export_names_users_by_an_address_they_sign_in_by() {
    let dir = tempfile::tempdir().unwrap();
    let config = "pool_id = 'by_address'\n[sign_in]\nusername_attributes = ['email', 'phone_number']\n";
    std::fs::write(dir.path().join("pool.toml"), config).unwrap();
    std::fs::write(
        dir.path().join("users.csv"),
        "email,email_verified,phone_number,phone_number_verified,cognito:username\n\
         ann@example.com,FALSE,+14325551212,TRUE,+14325551212\n\
         ann@example.com,TRUE,,,ann@example.com\n\
         cid@example.com,FALSE,+14325550000,FALSE,+14325550000\n\
         dan@example.com,FALSE,+14325550001,TRUE,dan@example.com\n\
         eve@example.com,TRUE,+14325550002,TRUE,+14325550002\n",
    )
    .unwrap();
    let pool_args = ["--pool", "pool.sqlite3", "--config", "pool.toml"];
    let out = ok(&userpool(dir.path(), &[&["users", "import", "users.csv"][..], &pool_args].concat()));
    assert!(out.contains("imported 5 user(s)"), "{out}");
    // Again, with --skip-existing: each row is a user's already, by the address it names. A
    // new row whose email is free but whose verified phone number is Eve's is no user's: it
    // fails, though the error is the same.
    let mut more = std::fs::read_to_string(dir.path().join("users.csv")).unwrap();
    more.push_str("fay@example.com,TRUE,+14325550002,TRUE,fay@example.com\n");
    std::fs::write(dir.path().join("more.csv"), more).unwrap();
    let rerun = userpool(dir.path(), &[&["users", "import", "more.csv", "--skip-existing"][..], &pool_args].concat());
    let (out, err) = (stdout(&rerun), String::from_utf8_lossy(&rerun.stderr));
    assert_eq!(rerun.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("imported 0 user(s)") && out.contains("; 1 row(s) failed"), "{out}");
    assert!(out.contains("5 row(s) skipped") && err.contains("fay@example.com: UsernameExistsException"), "{err}");
    let exported = ok(&userpool(dir.path(), &[&["users", "export"][..], &pool_args].concat()));
    let usernames: Vec<&str> = exported.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
    // Dan signed up with his unverified email: named by his verified phone, an import would
    // make the email no key of his. Eve, with both verified, is named by the phone she signed
    // up with, which stays the address she cannot delete.
    for name in ["+14325551212", "ann@example.com", "+14325550000", "dan@example.com", "+14325550002"] {
        assert_eq!(usernames.iter().filter(|u| **u == name).count(), 1, "{name} in {exported}");
    }
    std::fs::write(dir.path().join("out.csv"), &exported).unwrap();
    let copy = ["--pool", "copy.sqlite3", "--config", "pool.toml"];
    let out = ok(&userpool(dir.path(), &[&["users", "import", "out.csv"][..], &copy].concat()));
    assert!(out.contains("imported 5 user(s)") && out.contains("0 row(s) failed"), "{out}");
    let again = ok(&userpool(dir.path(), &[&["users", "export"][..], &copy].concat()));
    let sorted = |csv: &str| {
        let mut rows: Vec<&str> = csv.lines().collect();
        rows.sort_unstable();
        rows.join("\n")
    };
    assert_eq!(sorted(&again), sorted(&exported), "the round trip keeps every user as they were");
}

#[test]
fn a_pool_sealed_with_an_encryption_key_is_administered_with_its_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = [0x5a_u8; 32];
    drop(
        userpool::UserPool::builder(userpool::PoolConfig::from_toml("pool_id = 'sealed'").unwrap())
            .store(std::sync::Arc::new(userpool::SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap()))
            .encryption_key(&key)
            .open()
            .unwrap(),
    );
    std::fs::write(dir.path().join("key.hex"), format!("{}\n", "5a".repeat(32))).unwrap();
    std::fs::write(dir.path().join("key.bin"), key).unwrap();
    std::fs::write(dir.path().join("key.b64"), "WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo=\n").unwrap();
    std::fs::write(dir.path().join("short.hex"), "5a5a\n").unwrap();
    std::fs::write(dir.path().join("users.csv"), "email,email_verified,cognito:username\nann@example.com,TRUE,ann\n")
        .unwrap();
    let pool = ["--pool", "pool.sqlite3", "--pool-id", "sealed"];
    let run = |args: &[&str]| userpool(dir.path(), &[args, &pool[..]].concat());

    let out = run(&["users", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sealed with an encryption key"));
    let out = run(&["users", "list", "--encryption-key-file", "short.hex"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("short.hex: an encryption key is 32 bytes"));
    // An import into a new file with a key that cannot be read makes no file.
    let new = ["users", "import", "users.csv", "--pool", "new.sqlite3", "--encryption-key-file", "short.hex"];
    let out = userpool(dir.path(), &new);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("short.hex"));
    assert!(!dir.path().join("new.sqlite3").exists());

    let out = ok(&run(&["users", "import", "users.csv", "--encryption-key-file", "key.hex"]));
    assert!(out.contains("imported 1 user(s)"), "{out}");
    for file in ["key.bin", "key.b64"] {
        let listed = ok(&run(&["users", "list", "--encryption-key-file", file]));
        assert!(listed.contains("ann@example.com"), "{listed}");
    }
}

#[cfg(unix)]
#[test]
fn an_export_replaces_the_file_a_link_names_and_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    ok(&userpool(dir.path(), &["demo"]));
    let real = dir.path().join("real.csv");
    std::fs::write(&real, "old\n").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real.csv", dir.path().join("link.csv")).unwrap();
    ok(&userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "link.csv"]));
    assert!(std::fs::symlink_metadata(dir.path().join("link.csv")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(&real).unwrap().contains("alice@example.com"), "written through the link");
    assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o640);
    ok(&userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "new.csv"]));
    let mode = std::fs::metadata(dir.path().join("new.csv")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "a new export is its owner's only");
    // A file made read-only is not replaced, though the directory would allow the rename.
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o464)).unwrap();
    let refused = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "real.csv"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("real.csv: the file is read-only; it was left as it is"));
    assert!(std::fs::read_to_string(&real).unwrap().contains("alice@example.com"), "the old export stays");
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| { e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".userpool-export-") })
            .count(),
        0,
        "no temporary file is left"
    );
}

#[cfg(unix)]
#[test]
fn an_export_over_another_users_file_leaves_it_theirs_except_in_a_shared_directory() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let dir = tempfile::tempdir().unwrap();
    ok(&userpool(dir.path(), &["demo"]));
    let theirs = dir.path().join("theirs.csv");
    std::fs::write(&theirs, "old\n").unwrap();
    // Only root may give a file away; as anyone else there is no other user's file to make.
    if std::os::unix::fs::chown(&theirs, Some(65_534), Some(65_534)).is_err() {
        eprintln!("skipped: giving a file to another user needs root");
        return;
    }
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "theirs.csv"]);
    ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("belong"), "no word on whose file it is: {out:?}");
    let after = std::fs::metadata(&theirs).unwrap();
    assert_eq!((after.uid(), after.gid(), after.mode() & 0o777), (65_534, 65_534, 0o640));
    assert!(std::fs::read_to_string(&theirs).unwrap().contains("alice@example.com"));

    // In a directory anyone may write to, a file someone put at the target is no template.
    let shared = dir.path().join("tmp");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let planted = shared.join("users.csv");
    std::fs::write(&planted, "").unwrap();
    std::os::unix::fs::chown(&planted, Some(65_534), Some(65_534)).unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "tmp/users.csv"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("anyone may write to"), "{out:?}");
    let after = std::fs::metadata(&planted).unwrap();
    let me = std::fs::metadata(dir.path().join("userpool-demo.sqlite3")).unwrap().uid();
    assert_eq!((after.uid(), after.mode() & 0o777), (me, 0o600));
}

/// The exporter here is not root: an unprivileged uid, run by a root test process. It may
/// keep a file's group when it is that group's member, and never another user's ownership.
#[cfg(unix)]
#[test]
fn an_export_by_an_ordinary_user_keeps_a_group_it_belongs_to_and_shares_with_no_other() {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    use std::os::unix::process::CommandExt as _;
    const NOBODY: u32 = 65_534;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    if std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).is_err() {
        eprintln!("skipped: running the export as another user needs root");
        return;
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The build's own path may not be open to that user: a link to the binary beside it is.
    let binary = dir.path().join("userpool");
    std::fs::hard_link(env!("CARGO_BIN_EXE_userpool"), &binary)
        .or_else(|_| std::fs::copy(env!("CARGO_BIN_EXE_userpool"), &binary).map(drop))
        .unwrap();
    let as_nobody =
        |args: &[&str]| Command::new(&binary).current_dir(&home).uid(NOBODY).gid(NOBODY).args(args).output().unwrap();
    ok(&as_nobody(&["demo"]));
    let export_over = |name: &str, owner: (u32, u32), mode: u32| {
        let path = home.join(name);
        std::fs::write(&path, "old\n").unwrap();
        std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = as_nobody(&["users", "export", "--pool", "userpool-demo.sqlite3", "-o", name]);
        ok(&out);
        assert!(std::fs::read_to_string(&path).unwrap().contains("alice@example.com"));
        let after = std::fs::metadata(&path).unwrap();
        (after.uid(), after.gid(), after.mode() & 0o7777, String::from_utf8_lossy(&out.stderr).into_owned())
    };

    // Another user's file of the exporter's group: the group, and what it may do, stay.
    let (uid, gid, mode, note) = export_over("ours.csv", (4_242, NOBODY), 0o660);
    assert_eq!((uid, gid, mode), (NOBODY, NOBODY, 0o660), "{note}");
    assert!(note.contains("now belongs to uid 65534 gid 65534, not uid 4242 gid 65534"), "{note}");
    assert!(!note.contains("readable by you only"), "{note}");

    // A group the exporter is not in: the export cannot be that group's, so it is nobody
    // else's either.
    let (uid, gid, mode, note) = export_over("theirs.csv", (4_242, 4_343), 0o664);
    assert_eq!((uid, gid, mode), (NOBODY, NOBODY, 0o600), "{note}");
    assert!(note.contains("not uid 4242 gid 4343; it is readable by you only"), "{note}");
}

/// A link that another user may have put along the path, in a directory others may write to
/// or another user's, is not followed; nor is the pool's own file overwritten.
#[cfg(unix)]
#[test]
fn an_export_follows_no_link_in_a_shared_directory_and_spares_the_pool() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    ok(&userpool(dir.path(), &["demo"]));
    let shared = dir.path().join("tmp");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir(dir.path().join("private")).unwrap();
    let victim = dir.path().join("private/keys");
    std::fs::write(&victim, "kept\n").unwrap();
    std::os::unix::fs::symlink("../private/keys", shared.join("users.csv")).unwrap();
    std::os::unix::fs::symlink("../private", shared.join("dir")).unwrap();
    for target in ["tmp/users.csv", "tmp/dir/keys"] {
        let out = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", target]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("is a symlink in a directory others may write to"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept\n", "{target}");
    }
    // A directory that another user made (in /tmp, say) and keeps to themselves is theirs to lay out.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::symlink("../private/keys", theirs.join("users.csv")).unwrap();
    if std::os::unix::fs::chown(&theirs, Some(65_534), Some(65_534)).is_ok() {
        let out =
            userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "theirs/users.csv"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("is a symlink in a directory others may write to"), "{err}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "kept\n");
    } else {
        eprintln!("skipped: giving a directory to another user needs root");
    }

    for target in ["userpool-demo.sqlite3", "./userpool-demo.sqlite3-wal"] {
        let out = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", target]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("the pool's own file"), "{target}: {err}");
    }
    assert!(ok(&userpool(dir.path(), &["users", "list", "--pool", "userpool-demo.sqlite3"])).contains("alice"));
}

#[cfg(target_os = "linux")]
#[test]
fn an_export_that_cannot_be_written_names_where_it_went() {
    let dir = tempfile::tempdir().unwrap();
    ok(&userpool(dir.path(), &["demo"]));
    let out = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "/dev/full"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/dev/full") && err.contains("No space left"), "{err}");
    let out = userpool(dir.path(), &["users", "export", "--pool", "userpool-demo.sqlite3", "-o", "gone/out.csv"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("gone/out.csv"), "{err}");
    assert!(err.contains("the directory") && err.contains("does not exist"), "{err}");
    assert!(!err.contains(".userpool-export-"), "no temporary name the user never asked for: {err}");
}

#[test]
fn bad_files_and_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wrong.csv"), "username,email\nx,x@example.com\n").unwrap();
    let out = userpool(dir.path(), &["users", "import", "wrong.csv", "--pool", "pool.sqlite3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown column `username`"));
    std::fs::write(dir.path().join("twice.csv"), "cognito:username,email,email\nx,x@example.com,y@example.com\n")
        .unwrap();
    let out = userpool(dir.path(), &["users", "import", "twice.csv", "--pool", "pool.sqlite3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("the column `email` appears twice"), "{out:?}");
    std::fs::write(
        dir.path().join("trailing.csv"),
        "cognito:username,email,
ann,ann@example.com,
",
    )
    .unwrap();
    let out = userpool(dir.path(), &["users", "import", "trailing.csv", "--pool", "pool.sqlite3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("column 3 of the header has no name"), "{out:?}");
    let out = userpool(dir.path(), &["users", "import", "missing.csv", "--pool", "pool.sqlite3"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("missing.csv"), "{out:?}");
    // As a spreadsheet saves "Unicode text": UTF-16, which the header shows first.
    let utf16: Vec<u8> =
        "\u{feff}cognito:username,email\nx,x@example.com\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(dir.path().join("utf16.csv"), utf16).unwrap();
    let out = userpool(dir.path(), &["users", "import", "utf16.csv", "--pool", "pool.sqlite3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("utf16.csv: the header: text that is not UTF-8 (save the file as UTF-8)"),
        "{err}"
    );
    // A custom attribute the configuration does not define: every row with a value would
    // be refused and the others imported.
    std::fs::write(dir.path().join("custom.csv"), "cognito:username,custom:tier\nx,gold\ny,\n").unwrap();
    let out = userpool(dir.path(), &["users", "import", "custom.csv", "--pool", "pool.sqlite3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("`custom:tier` is not a custom attribute") && err.contains("--config")
    );
    std::fs::write(dir.path().join("bare.toml"), "pool_id = 'bare'\n").unwrap();
    let out =
        userpool(dir.path(), &["users", "import", "custom.csv", "--pool", "pool.sqlite3", "--config", "bare.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("add it to the configuration's custom_attributes"), "{err}");
    // A pool id the pool could not have, or a key file that cannot be one, makes nothing either.
    std::fs::write(dir.path().join("one.csv"), "cognito:username\nx\n").unwrap();
    let out = userpool(dir.path(), &["users", "import", "one.csv", "--pool", "pool.sqlite3", "--pool-id", "my pool"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--pool-id: pool_id"), "{err}");
    std::fs::write(dir.path().join("big.key"), [b'a'; 4096]).unwrap();
    let key = ["--encryption-key-file", "big.key"];
    let out = userpool(dir.path(), &[&["users", "import", "one.csv", "--pool", "pool.sqlite3"][..], &key].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("big.key: more than 256 bytes"), "{err}");
    assert!(!dir.path().join("pool.sqlite3").exists(), "a file refused before any row makes no pool");
    // An MFA flag is TRUE or FALSE, like the verification flags.
    std::fs::write(dir.path().join("mfa.csv"), "cognito:username,cognito:mfa_enabled\nx,yes\ny,FALSE\n").unwrap();
    let (out, err) = import(dir.path(), "mfa.csv", 1);
    assert!(out.contains("imported 1 user(s)") && err.contains("cognito:mfa_enabled must be TRUE or FALSE"), "{err}");
    // The note on MFA counts the users imported, not a row refused later (y is taken).
    std::fs::write(dir.path().join("mfa2.csv"), "cognito:username,cognito:mfa_enabled\ny,TRUE\nz,TRUE\n").unwrap();
    let (out, _) = import(dir.path(), "mfa2.csv", 1);
    assert!(out.contains("imported 1 user(s)") && out.contains("note: 1 user(s) had cognito:mfa_enabled"), "{out}");
    // A scenario file that cannot be read fails as a scenario does, and the others still run.
    let good = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/scenarios/01-sign-up-confirm-sign-in.json");
    let out = userpool(dir.path(), &["scenario", "missing.json", good]);
    assert!(!out.status.success() && stdout(&out).contains("1 passed, 1 failed"), "{}", stdout(&out));
    let out = userpool(dir.path(), &["users", "list", "--pool", "missing/pool.sqlite3"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing/pool.sqlite3") && err.contains("does not exist"), "{err}");
    std::fs::write(dir.path().join("notes.txt"), "not a database, just some notes\n".repeat(100)).unwrap();
    let out = userpool(dir.path(), &["demo", "--pool", "notes.txt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a SQLite database"));
}

#[test]
fn help_documents_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let help = ok(&userpool(dir.path(), &["--help"]));
    for command in ["demo", "users", "backup", "scenario", "config"] {
        assert!(help.contains(command), "{help}");
    }
    let users = ok(&userpool(dir.path(), &["users", "--help"]));
    for command in ["list", "import", "export"] {
        assert!(users.contains(command), "{users}");
    }
}

/// `userpool backup` copies a pool file that apps have open into a new file, which the
/// users commands read as the pool; it never replaces a file, nor makes a pool file.
#[test]
fn a_backup_copies_the_pool_file_into_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "cognito:username,email,email_verified\nana,ana@example.com,TRUE\n")
        .unwrap();
    import(dir.path(), "users.csv", 0);
    let said = ok(&userpool(dir.path(), &["backup", "--pool", "pool.sqlite3", "copy.sqlite3"]));
    assert!(said.starts_with("copy.sqlite3: a copy of pool.sqlite3 ("), "{said}");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "copy.sqlite3"]));
    assert!(listed.lines().any(|l| l.starts_with("ana ") && l.contains("RESET_REQUIRED")), "{listed}");

    let again = userpool(dir.path(), &["backup", "--pool", "pool.sqlite3", "copy.sqlite3"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already; a backup never replaces a file"));
    let missing = userpool(dir.path(), &["backup", "--pool", "typo.sqlite3", "other.sqlite3"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("typo.sqlite3 does not exist"));
    assert!(!dir.path().join("typo.sqlite3").exists() && !dir.path().join("other.sqlite3").exists());
}

/// An import that makes a file and imports nobody says that the file holds no user and
/// keeps the configuration's sign-in settings; it does not delete it (another process may
/// have opened it meanwhile). A file that was there gets no such note.
#[test]
fn an_import_that_imports_nobody_into_a_new_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.csv"), "email,email_verified,cognito:username\nann@example.com,maybe,ann\n")
        .unwrap();
    let (out, _) = import_into(dir.path(), "bad.csv", "new.sqlite3", 1);
    assert!(
        out.contains("imported 0 user(s)") && out.contains("new.sqlite3 was made by this import and holds no user"),
        "{out}"
    );
    assert!(dir.path().join("new.sqlite3").exists());
    let (out, _) = import_into(dir.path(), "bad.csv", "new.sqlite3", 1);
    assert!(!out.contains("was made by this import"), "{out}");
}
