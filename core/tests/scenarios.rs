//! Replays every `fixtures/scenarios/*.json` file on a fresh pool, in memory and on SQLite. The
//! bindings replay the same files through their own APIs.

use std::path::PathBuf;
use std::sync::Arc;

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_passes() {
    every_scenario_passes_on("memory", |_| Arc::new(userpool::MemoryStore::new()));
}

/// The same files on the SQLite store, each in a file of its own.
#[test]
fn every_scenario_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    every_scenario_passes_on("SQLite", |n| {
        Arc::new(userpool::SqliteStore::open(dir.path().join(format!("scenario-{n}.sqlite3"))).unwrap())
    });
}

fn every_scenario_passes_on(store_kind: &str, store: impl Fn(usize) -> Arc<dyn userpool::Store>) {
    let files = scenario_files();
    assert!(files.len() >= 20, "expected the full set of scenario files, found {}", files.len());
    let mut failures = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let text = std::fs::read_to_string(path).unwrap();
        let scenario =
            userpool::scenario::Scenario::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = userpool::scenario::run_on(&scenario, store(n)) {
            failures.push(format!("{}: {e}", path.file_name().unwrap().to_string_lossy()));
        }
    }
    assert!(failures.is_empty(), "failing scenarios on {store_kind}:\n{}", failures.join("\n"));
}

/// A field a step would ignore is refused when the file is read, so that a check is never
/// written and then silently skipped (a typo is refused as an unknown field).
#[test]
fn a_step_field_that_would_be_ignored_is_refused() {
    let step = |fields: &str| format!(r#"{{"name": "n", "steps": [{{{fields}}}]}}"#);
    for (fields, why) in [
        (r#""op": "advance""#, "advance needs secs"),
        (r#""op": "advance", "secs": 1, "expect": {"a": 1}"#, "no meaning here"),
        (r#""op": "advance", "secs": 1, "args": {"a": 1}"#, "not args"),
        (r#""op": "fail_delivery", "save": "x""#, "no meaning here"),
        (r#""op": "sign_in", "secs": 1"#, "secs belongs to advance"),
        (r#""op": "sign_in", "expect_error": "NotAuthorizedException", "expect": {"a": 1}"#, "expect_error"),
        (r#""op": "sign_in", "expect_error": "NotAuthorizedException", "save": "s""#, "expect_error"),
        (r#""op": "sign_in", "expect_eror": "NotAuthorizedException""#, "unknown field"),
    ] {
        let refused = userpool::scenario::Scenario::from_json(&step(fields)).unwrap_err();
        assert!(refused.contains(why), "{fields}: {refused}");
    }
    let fine = step(r#""op": "advance", "secs": 1, "note": "n""#);
    userpool::scenario::Scenario::from_json(&fine).unwrap();
}

/// An argument the operation does not read, or reads as another type, fails the step, so
/// that a misspelled or mistyped optional argument is not run as its default
/// (`send_invitaton`, or `"send_invitation": "false"`, sending the invitation after all).
#[test]
fn an_argument_the_operation_does_not_take_fails_the_step() {
    let scenario = |op: &str, args: &str| {
        let text = format!(
            r#"{{"name": "n", "config": {{"password_hashing": {{"memory_kib": 256, "iterations": 1,
               "dangerous_allow_weak": true}}}},
               "steps": [{{"op": "{op}", "args": {args}}}]}}"#
        );
        userpool::scenario::run(&userpool::scenario::Scenario::from_json(&text).unwrap())
    };
    scenario("admin_create_user", r#"{"username": "bob", "send_invitation": false}"#).unwrap();
    scenario("list_users", r#"{"limit": 2, "pagination_token": null}"#).unwrap();
    scenario("admin_import_users", r#"{"users": [{"username": "carol", "attributes": {}}]}"#).unwrap();
    for (op, args, why) in [
        ("admin_create_user", r#"{"username": "bob", "send_invitaton": false}"#, "does not take: [\"send_invitaton\"]"),
        (
            "admin_create_user",
            r#"{"username": "bob", "send_invitation": "false"}"#,
            "send_invitation is not true or false",
        ),
        ("list_users", r#"{"limit": "2"}"#, "limit is not a whole number"),
        ("fail_delivery", r#"{"failng": false}"#, "does not take"),
        ("admin_import_users", r#"{"users": [{"username": "carol", "pasword_hash": "x"}]}"#, "a user's arguments"),
    ] {
        let refused = scenario(op, args).unwrap_err();
        assert!(refused.contains(why), "{op} {args}: {refused}");
    }
}

/// An expected `null` where nothing is passes only where a value can be absent (a claim a
/// token lacks, an attribute deleted): anywhere else it is a misspelled path, which would
/// otherwise pass whatever the result held.
#[test]
fn an_expected_null_at_a_misspelled_path_fails_the_step() {
    let scenario = |expect: &str| {
        let text = format!(
            r#"{{"name": "n", "config": {{"password_hashing": {{"memory_kib": 256, "iterations": 1,
               "dangerous_allow_weak": true}}}},
               "steps": [
                 {{"op": "admin_create_user", "args": {{"username": "bob", "temporary_password": "Temporary-Pass-1",
                   "send_invitation": false}}}},
                 {{"op": "admin_get_user", "args": {{"username": "bob"}}, "expect": {expect}}}]}}"#
        );
        userpool::scenario::run(&userpool::scenario::Scenario::from_json(&text).unwrap())
    };
    scenario(r#"{"preferred_mfa": null, "attributes.name": null}"#).unwrap();
    for misspelled in [r#"{"prefered_mfa": null}"#, r#"{"atributes.name": null}"#, r#"{"groups.0.name": null}"#] {
        let refused = scenario(misspelled).unwrap_err();
        assert!(refused.contains("nothing is there to be null"), "{misspelled}: {refused}");
    }
}
