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
    let memory = ok(&userpool(elsewhere.path(), &["demo", "--memory"]));
    assert!(memory.contains("in memory") && memory.contains("alice@example.com"), "{memory}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0, "--memory writes no file");
}

const CSV: &str = "\
name,given_name,family_name,middle_name,nickname,preferred_username,profile,picture,website,email,email_verified,gender,birthdate,zoneinfo,locale,phone_number,phone_number_verified,address,updated_at,cognito:mfa_enabled,cognito:username
Jane Doe,Jane,Doe,,,jane,,,,jane@example.com,TRUE,,,,,+15555550100,false,,,FALSE,jane
John Roe,John,Roe,,,,,,,john@example.com,true,,,,,,,,,FALSE,john
Bad Flag,,,,,,,,,bad@example.com,maybe,,,,,,,,,FALSE,badflag
Dup Jane,,,,,,,,,dup@example.com,TRUE,,,,,,,,,FALSE,jane
";

#[test]
fn users_import_then_export_round_trips_cognitos_csv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), CSV).unwrap();
    let out = ok(&userpool(dir.path(), &["users", "import", "users.csv", "--pool", "pool.sqlite3"]));
    assert!(out.contains("imported 2 user(s)") && out.contains("2 row(s) failed"), "{out}");
    let listed = ok(&userpool(dir.path(), &["users", "list", "--pool", "pool.sqlite3", "--filter", "email ^= \"ja\""]));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.contains("jane") && listed.contains("RESET_REQUIRED"), "{listed}");

    let exported = ok(&userpool(dir.path(), &["users", "export", "--pool", "pool.sqlite3"]));
    let mut lines = exported.lines();
    assert_eq!(lines.next(), CSV.lines().next(), "the header is GetCSVHeader's");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2);
    let jane = rows.iter().find(|r| r.ends_with(",jane")).unwrap();
    assert_eq!(*jane, "Jane Doe,Jane,Doe,,,jane,,,,jane@example.com,TRUE,,,,,+15555550100,FALSE,,,FALSE,jane");

    // The export imports into another pool as it is.
    std::fs::write(dir.path().join("exported.csv"), &exported).unwrap();
    let out = ok(&userpool(dir.path(), &["users", "import", "exported.csv", "--pool", "copy.sqlite3"]));
    assert!(out.contains("imported 2 user(s)") && out.contains("0 row(s) failed"), "{out}");
    // Importing it again into the same pool: every username is taken.
    let out = ok(&userpool(dir.path(), &["users", "import", "exported.csv", "--pool", "copy.sqlite3"]));
    assert!(out.contains("imported 0 user(s)") && out.contains("2 row(s) failed"), "{out}");
}

#[test]
fn bad_files_and_paths_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wrong.csv"), "username,email\nx,x@example.com\n").unwrap();
    let out = userpool(dir.path(), &["users", "import", "wrong.csv", "--pool", "pool.sqlite3"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown column `username`"));
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
    for command in ["demo", "users", "scenario", "config"] {
        assert!(help.contains(command), "{help}");
    }
    let users = ok(&userpool(dir.path(), &["users", "--help"]));
    for command in ["list", "import", "export"] {
        assert!(users.contains(command), "{users}");
    }
}
