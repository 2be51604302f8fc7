//! The suite every [`Store`] must pass. Run it from a store's tests with
//! [`store_conformance_tests!`](crate::store_conformance_tests), giving an expression that
//! makes a fresh, empty store:
//!
//! ```ignore
//! userpool::store_conformance_tests!(my_crate::MyStore::open_temp());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{GROUP_ATTRIBUTE, ListedFamily, SEARCH_TERM_BYTES, Store, StoreError, UserSearch, Write, search_term};
use crate::flow::state::{AuditEvent, BASE_RECORD_VERSION, EventKind, Family, Lockout, UserRecord, UserStatus};

/// A user record for tests.
pub fn sample_user(sub: &str, username: &str) -> UserRecord {
    UserRecord {
        record_version: BASE_RECORD_VERSION,
        sub: sub.to_owned(),
        username: username.to_owned(),
        username_attribute: None,
        status: UserStatus::Confirmed,
        enabled: true,
        attributes: BTreeMap::from([("email".to_owned(), format!("{username}@example.com"))]),
        password_hash: "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".to_owned(),
        password_changed_ms: 1,
        temporary_password_expires_ms: None,
        created_ms: 1,
        updated_ms: 1,
        lockout: Lockout::default(),
        sign_up_code: None,
        reset_code: None,
        attribute_codes: BTreeMap::new(),
        groups: BTreeSet::new(),
        challenge: None,
        mfa: Default::default(),
        mfa_lockout: Default::default(),
        code_requests_ms: Vec::new(),
        group_generations: BTreeMap::new(),
    }
}

/// A family record for tests.
pub fn sample_family(id: &str, sub: &str, hash: &str) -> Family {
    Family {
        record_version: BASE_RECORD_VERSION,
        id: id.to_owned(),
        sub: sub.to_owned(),
        client_id: "default".to_owned(),
        auth_time_ms: 1,
        created_ms: 1,
        expires_ms: i64::MAX,
        revoked: false,
        generation: 0,
        current_hash: hash.to_owned(),
        previous_hash: None,
        rotated_ms: None,
        siblings: Vec::new(),
    }
}

fn put(user: UserRecord, keys: &[&str], expect: Option<u64>) -> Write {
    Write::PutUser { user, keys: keys.iter().map(|s| (*s).to_owned()).collect(), expect }
}

/// Users are created once, found by sub and by key, and replaced only at the version read.
pub fn users_are_versioned(store: &dyn Store) {
    let alice = sample_user("sub-a", "alice");
    store.commit("p1", vec![put(alice.clone(), &["u:alice"], None)]).unwrap();
    assert_eq!(store.commit("p1", vec![put(alice.clone(), &["u:alice"], None)]), Err(StoreError::Conflict));
    let got = store.user("p1", "sub-a").unwrap().unwrap();
    assert_eq!(got.value, alice);
    assert_eq!(store.user_by_key("p1", "u:alice").unwrap().unwrap().value.sub, "sub-a");
    assert_eq!(store.user_version("p1", "sub-a").unwrap(), Some(got.version));
    let head = store.user_sub_by_key("p1", "u:alice").unwrap().unwrap();
    assert_eq!((head.version, head.value.as_str()), (got.version, "sub-a"));
    assert_eq!(store.user_version("p1", "sub-x").unwrap(), None);
    assert!(store.user_sub_by_key("p1", "u:nobody").unwrap().is_none());
    let mut changed = alice.clone();
    changed.enabled = false;
    store.commit("p1", vec![put(changed, &["u:alice"], Some(got.version))]).unwrap();
    assert_eq!(
        store.commit("p1", vec![put(alice, &["u:alice"], Some(got.version))]),
        Err(StoreError::Conflict),
        "a stale version must not overwrite a newer record"
    );
    assert!(!store.user("p1", "sub-a").unwrap().unwrap().value.enabled);
}

/// A unique key belongs to one user; releasing it frees it; a failed commit changes nothing.
pub fn keys_are_unique_and_commits_atomic(store: &dyn Store) {
    store.commit("p1", vec![put(sample_user("sub-a", "alice"), &["u:alice", "a:email:x"], None)]).unwrap();
    let bob = sample_user("sub-b", "bob");
    let err = store
        .commit("p1", vec![Write::AppendEvent(event("sub-b")), put(bob.clone(), &["u:bob", "a:email:x"], None)])
        .unwrap_err();
    assert_eq!(err, StoreError::Taken("a:email:x".into()));
    assert!(store.user("p1", "sub-b").unwrap().is_none(), "nothing of a failed commit is applied");
    assert!(store.events("p1", "sub-b", 10).unwrap().is_empty(), "nothing of a failed commit is applied");
    // Alice drops the alias; Bob can take it.
    let alice = store.user("p1", "sub-a").unwrap().unwrap();
    store.commit("p1", vec![put(alice.value, &["u:alice"], Some(alice.version))]).unwrap();
    assert!(store.user_by_key("p1", "a:email:x").unwrap().is_none());
    store.commit("p1", vec![put(bob, &["u:bob", "a:email:x"], None)]).unwrap();
    assert_eq!(store.user_by_key("p1", "a:email:x").unwrap().unwrap().value.sub, "sub-b");
}

/// Pools never see each other's records.
pub fn pools_are_isolated(store: &dyn Store) {
    store.commit("p1", vec![put(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    store.commit("p2", vec![put(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    assert!(store.user("p3", "sub-a").unwrap().is_none());
    assert!(store.user_by_key("p3", "u:alice").unwrap().is_none());
    let p1 = store.user("p1", "sub-a").unwrap().unwrap();
    let mut changed = p1.value.clone();
    changed.username = "changed".into();
    store.commit("p1", vec![put(changed, &["u:alice"], Some(p1.version))]).unwrap();
    assert_eq!(store.user("p2", "sub-a").unwrap().unwrap().value.username, "alice");
    assert_eq!(store.users("p2", None, 10, &|_| true).unwrap().users.len(), 1);
    // Sessions, records and a deletion stay in their pool too, under the same ids and hashes.
    for pool in ["p1", "p2"] {
        let family = sample_family("fam", "sub-a", "h");
        store.commit(pool, vec![Write::PutFamily { family, new_hashes: vec!["h".into()], expect: None }]).unwrap();
        store.commit(pool, vec![record("keys", pool.as_bytes(), None, None)]).unwrap();
    }
    assert!(store.family_by_hash("p3", "h").unwrap().is_none());
    assert!(store.family("p3", "fam").unwrap().is_none());
    store.commit("p1", vec![Write::RevokeFamily { id: "fam".into(), at_ms: 5 }]).unwrap();
    assert!(!store.family_by_hash("p2", "h").unwrap().unwrap().value.revoked, "p2's session was revoked");
    let version = store.user("p1", "sub-a").unwrap().unwrap().version;
    store.commit("p1", vec![Write::DeleteUser { sub: "sub-a".into(), expect: version }]).unwrap();
    assert!(store.families_of("p1", "sub-a").unwrap().is_empty());
    assert_eq!(store.families_of("p2", "sub-a").unwrap().len(), 1, "p2's session went with p1's user");
    assert!(store.user_by_key("p2", "u:alice").unwrap().is_some(), "p2's key went with p1's user");
    assert!(store.secret("p3", "keys").unwrap().is_none());
    assert_eq!(&*store.secret("p2", "keys").unwrap().unwrap().value, b"p2");
}

/// Listing pages through users in `sub` order and applies the filter.
pub fn users_page_in_order(store: &dyn Store) {
    for i in 0..25 {
        let sub = format!("sub-{i:02}");
        store.commit("p1", vec![put(sample_user(&sub, &format!("user{i:02}")), &[], None)]).unwrap();
    }
    store.commit("other", vec![put(sample_user("sub-zz", "zz"), &[], None)]).unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.users("p1", after.as_deref(), 10, &|_| true).unwrap();
        seen.extend(page.users.iter().map(|u| u.sub.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("sub-{i:02}")).collect();
    assert_eq!(seen, expected);
    let odd = store.users("p1", None, 60, &|u| u.username.ends_with('1')).unwrap();
    assert_eq!(odd.users.len(), 3);
    assert!(odd.next.is_none());
}

/// Every page of a search, followed to the end.
fn search_all(store: &dyn Store, pool: &str, search: &UserSearch, keep: &dyn Fn(&UserRecord) -> bool) -> Vec<String> {
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = store.users_matching(pool, search, after.as_deref(), 1, keep).unwrap();
        assert!(page.users.len() <= 1);
        found.extend(page.users.iter().map(|u| u.sub.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    found.sort();
    found
}

/// A search returns every user `keep` accepts among those its terms match, once each, page
/// by page, and follows changes of attributes and deletions.
pub fn searches_find_every_match(store: &dyn Store) {
    let with_email = |sub: &str, email: &str| {
        let mut user = sample_user(sub, sub);
        user.attributes.insert("email".into(), email.into());
        user
    };
    for (sub, email) in [("s1", "alice@example.com"), ("s2", "ALBERT@example.com"), ("s3", "bob@example.com")] {
        store.commit("p1", vec![put(with_email(sub, email), &[], None)]).unwrap();
    }
    store.commit("p1", vec![put(with_email("s4", "alice@example.com.au"), &[], None)]).unwrap();
    store.commit("p2", vec![put(with_email("s1", "alice@example.com"), &[], None)]).unwrap();
    let email_of = |u: &UserRecord| u.attributes.get("email").map(|e| e.to_lowercase()).unwrap_or_default();
    let starts_al = |u: &UserRecord| email_of(u).starts_with("al");
    let prefix = UserSearch { attribute: "email", term: search_term("Al"), prefix: true };
    assert_eq!(search_all(store, "p1", &prefix, &starts_al), ["s1", "s2", "s4"]);
    let exact = UserSearch { attribute: "email", term: search_term("Alice@Example.com"), prefix: false };
    let is_alice = |u: &UserRecord| email_of(u) == "alice@example.com";
    assert_eq!(search_all(store, "p1", &exact, &is_alice), ["s1"]);
    assert_eq!(search_all(store, "p2", &exact, &is_alice), ["s1"]);
    // Values that share their first SEARCH_TERM_BYTES share a term: an exact search reads
    // both, and `keep` tells them apart.
    let long = |tail: &str| format!("{}{tail}@example.com", "a".repeat(SEARCH_TERM_BYTES));
    store.commit("p3", vec![put(with_email("l1", &long("x")), &[], None)]).unwrap();
    store.commit("p3", vec![put(with_email("l2", &long("y")), &[], None)]).unwrap();
    let cut = UserSearch { attribute: "email", term: search_term(&long("x")), prefix: false };
    assert_eq!(search_all(store, "p3", &cut, &|u| email_of(u) == long("x")), ["l1"]);
    assert_eq!(search_all(store, "p3", &cut, &|u| email_of(u) == long("y")), ["l2"]);

    let s2 = store.user("p1", "s2").unwrap().unwrap();
    store.commit("p1", vec![put(with_email("s2", "zed@example.com"), &[], Some(s2.version))]).unwrap();
    let s3 = store.user("p1", "s3").unwrap().unwrap();
    store.commit("p1", vec![put(with_email("s3", "Alma@example.com"), &[], Some(s3.version))]).unwrap();
    let s1 = store.user("p1", "s1").unwrap().unwrap();
    store.commit("p1", vec![Write::DeleteUser { sub: "s1".into(), expect: s1.version }]).unwrap();
    assert_eq!(search_all(store, "p1", &prefix, &starts_al), ["s3", "s4"]);
    let by_name = UserSearch { attribute: "username", term: search_term("S"), prefix: true };
    assert_eq!(search_all(store, "p1", &by_name, &|u| u.username.starts_with('s')), ["s2", "s3", "s4"]);

    // The status words follow the user's writes.
    let s3 = store.user("p1", "s3").unwrap().unwrap();
    let mut off = s3.value;
    (off.enabled, off.status) = (false, UserStatus::Unconfirmed);
    store.commit("p1", vec![put(off, &[], Some(s3.version))]).unwrap();
    let disabled = UserSearch { attribute: "status", term: "Disabled".into(), prefix: false };
    assert_eq!(search_all(store, "p1", &disabled, &|u| !u.enabled), ["s3"]);
    let enabled = UserSearch { attribute: "status", term: "Enabled".into(), prefix: false };
    assert_eq!(search_all(store, "p1", &enabled, &|u| u.enabled), ["s2", "s4"]);
    let unconfirmed = UserSearch { attribute: "cognito:user_status", term: search_term("UNCONFIRMED"), prefix: false };
    assert_eq!(search_all(store, "p1", &unconfirmed, &|u| u.status == UserStatus::Unconfirmed), ["s3"]);
    // `sub` is searched as it is.
    store.commit("p1", vec![put(with_email("t1", "tom@example.com"), &[], None)]).unwrap();
    let subs = UserSearch { attribute: "sub", term: "s".into(), prefix: true };
    assert_eq!(search_all(store, "p1", &subs, &|u| u.sub.starts_with('s')), ["s2", "s3", "s4"]);
    let one = UserSearch { attribute: "sub", term: "t1".into(), prefix: false };
    assert_eq!(search_all(store, "p1", &one, &|u| u.sub == "t1"), ["t1"]);
    // Groups: the whole name, as it is, following the user's writes.
    let s4 = store.user("p1", "s4").unwrap().unwrap();
    let mut member = s4.value;
    member.groups.extend(["Readers".to_owned(), "Readers2".to_owned()]);
    store.commit("p1", vec![put(member, &[], Some(s4.version))]).unwrap();
    let group = |name: &str| UserSearch { attribute: GROUP_ATTRIBUTE, term: name.into(), prefix: false };
    let in_readers = |u: &UserRecord| u.groups.contains("Readers");
    assert_eq!(search_all(store, "p1", &group("Readers"), &in_readers), ["s4"]);
    let s4 = store.user("p1", "s4").unwrap().unwrap();
    let mut left = s4.value;
    left.groups.remove("Readers");
    store.commit("p1", vec![put(left, &[], Some(s4.version))]).unwrap();
    assert_eq!(search_all(store, "p1", &group("Readers"), &in_readers), Vec::<String>::new());
    assert_eq!(search_all(store, "p1", &group("Readers2"), &|u| u.groups.contains("Readers2")), ["s4"]);
}

/// One page of a listing: `users` when `search` is `None`, else `users_matching`.
fn page(
    store: &dyn Store,
    search: Option<&UserSearch>,
    after: Option<&str>,
    limit: usize,
    keep: &dyn Fn(&UserRecord) -> bool,
) -> super::UserPage {
    match search {
        None => store.users("p1", after, limit, keep).unwrap(),
        Some(search) => store.users_matching("p1", search, after, limit, keep).unwrap(),
    }
}

/// Pages hold their place. A page that says more follows is never empty and the last one
/// says nothing follows, however many users `keep` turns away; users deleted or added
/// between two pages (the previous page's last one among them) make the listing neither skip
/// nor repeat a user that was there all along.
pub fn pages_hold_their_place(store: &dyn Store) {
    let with_email = |sub: &str| {
        let mut user = sample_user(sub, sub);
        user.attributes.insert("email".into(), format!("{sub}@example.com"));
        user
    };
    for i in 0..9 {
        store.commit("p1", vec![put(with_email(&format!("s{i}")), &[], None)]).unwrap();
    }
    let by_email = UserSearch { attribute: "email", term: search_term("s"), prefix: true };
    let even = |u: &UserRecord| u.sub.ends_with(['0', '2', '4', '6', '8']);
    for search in [None, Some(&by_email)] {
        for limit in 1..4 {
            let (mut seen, mut after) = (Vec::new(), None);
            loop {
                let page = page(store, search, after.as_deref(), limit, &even);
                assert!(page.users.len() <= limit);
                assert!(page.next.is_none() || !page.users.is_empty(), "an empty page says more follows");
                seen.extend(page.users.into_iter().map(|u| u.sub));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
            assert_eq!(seen, ["s0", "s2", "s4", "s6", "s8"], "{search:?}, {limit} a page");
        }
    }

    let all = |_: &UserRecord| true;
    let first = page(store, Some(&by_email), None, 3, &all);
    let first: (Vec<String>, String) = (first.users.into_iter().map(|u| u.sub).collect(), first.next.unwrap());
    let first_plain = page(store, None, None, 3, &all);
    assert_eq!(first.0, ["s0", "s1", "s2"]);
    assert_eq!(first_plain.users.iter().map(|u| u.sub.as_str()).collect::<Vec<_>>(), ["s0", "s1", "s2"]);
    // Between the pages: the page's last user and one further on leave, one arrives after.
    for sub in ["s2", "s5"] {
        let found = store.user("p1", sub).unwrap().unwrap();
        store.commit("p1", vec![Write::DeleteUser { sub: sub.into(), expect: found.version }]).unwrap();
    }
    store.commit("p1", vec![put(with_email("s25"), &[], None)]).unwrap();
    for (search, after) in [(Some(&by_email), first.1), (None, first_plain.next.unwrap())] {
        let (mut rest, mut after) = (Vec::new(), Some(after));
        while let Some(from) = after {
            let page = page(store, search, Some(&from), 3, &all);
            rest.extend(page.users.into_iter().map(|u| u.sub));
            after = page.next;
        }
        rest.retain(|sub| sub != "s25");
        assert_eq!(rest, ["s3", "s4", "s6", "s7", "s8"], "{search:?}");
    }
}

/// Alice, with session `fam-1` rotated once (`h1`, then `h2`): at version 2, returned.
fn alice_with_a_rotated_session(store: &dyn Store) -> Family {
    store.commit("p1", vec![put(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    let family = sample_family("fam-1", "sub-a", "h1");
    store.commit("p1", vec![Write::PutFamily { family, new_hashes: vec!["h1".into()], expect: None }]).unwrap();
    let mut rotated = sample_family("fam-1", "sub-a", "h2");
    rotated.previous_hash = Some("h1".into());
    store
        .commit(
            "p1",
            vec![Write::PutFamily { family: rotated.clone(), new_hashes: vec!["h2".into()], expect: Some(1) }],
        )
        .unwrap();
    rotated
}

/// Families are found by id, by any hash ever issued in them, and by user; deleting the user
/// deletes them.
pub fn families_follow_their_user(store: &dyn Store) {
    let rotated = alice_with_a_rotated_session(store);
    assert_eq!(
        store.commit("p1", vec![Write::PutFamily { family: rotated, new_hashes: vec!["h3".into()], expect: Some(1) }]),
        Err(StoreError::Conflict),
        "two rotations of one version cannot both win"
    );
    assert!(store.family_by_hash("p1", "h3").unwrap().is_none());
    for hash in ["h1", "h2"] {
        assert_eq!(store.family_by_hash("p1", hash).unwrap().unwrap().value.id, "fam-1");
    }
    assert_eq!(store.families_of("p1", "sub-a").unwrap().len(), 1);
    assert_eq!(store.family("p1", "fam-1").unwrap().unwrap().version, 2);
    store.commit("p1", vec![Write::AppendEvent(event("sub-a"))]).unwrap();
    let version = store.user("p1", "sub-a").unwrap().unwrap().version;
    store.commit("p1", vec![Write::DeleteUser { sub: "sub-a".into(), expect: version }]).unwrap();
    assert!(store.user("p1", "sub-a").unwrap().is_none());
    assert!(store.user_by_key("p1", "u:alice").unwrap().is_none());
    assert!(store.family("p1", "fam-1").unwrap().is_none());
    assert!(store.family_by_hash("p1", "h1").unwrap().is_none());
    assert!(store.families_of("p1", "sub-a").unwrap().is_empty());

    // A family written with another `sub` is listed under that user only.
    let moved = sample_family("fam-2", "sub-b", "h4");
    store.commit("p1", vec![Write::PutFamily { family: moved.clone(), new_hashes: vec![], expect: None }]).unwrap();
    let moved = Family { sub: "sub-c".into(), ..moved };
    store.commit("p1", vec![Write::PutFamily { family: moved, new_hashes: vec![], expect: Some(1) }]).unwrap();
    assert!(store.families_of("p1", "sub-b").unwrap().is_empty());
    assert_eq!(store.families_of("p1", "sub-c").unwrap().len(), 1);
}

/// A family deleted at the version read is gone with every hash issued in it; the user and
/// their other families stay. A stale version conflicts and deletes nothing.
pub fn families_can_be_deleted(store: &dyn Store) {
    store.commit("p1", vec![put(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    for (id, hash) in [("fam-1", "h1"), ("fam-2", "h9")] {
        let family = sample_family(id, "sub-a", hash);
        store.commit("p1", vec![Write::PutFamily { family, new_hashes: vec![hash.into()], expect: None }]).unwrap();
    }
    let mut rotated = sample_family("fam-1", "sub-a", "h2");
    rotated.previous_hash = Some("h1".into());
    store
        .commit("p1", vec![Write::PutFamily { family: rotated, new_hashes: vec!["h2".into()], expect: Some(1) }])
        .unwrap();
    assert_eq!(
        store.commit("p1", vec![Write::DeleteFamily { id: "fam-1".into(), expect: 1 }]),
        Err(StoreError::Conflict),
        "a family that rotated since it was read is not deleted"
    );
    assert!(store.family_by_hash("p1", "h2").unwrap().is_some());
    store.commit("p1", vec![Write::DeleteFamily { id: "fam-1".into(), expect: 2 }]).unwrap();
    assert!(store.family("p1", "fam-1").unwrap().is_none());
    for hash in ["h1", "h2"] {
        assert!(store.family_by_hash("p1", hash).unwrap().is_none(), "hash {hash} outlived its family");
    }
    let left: Vec<String> = store
        .families_of("p1", "sub-a")
        .unwrap()
        .into_iter()
        .filter_map(ListedFamily::readable)
        .map(|f| f.value.id)
        .collect();
    assert_eq!(left, ["fam-2"]);
    assert_eq!(store.family_by_hash("p1", "h9").unwrap().unwrap().value.id, "fam-2");
    assert!(store.user("p1", "sub-a").unwrap().is_some());
    assert_eq!(
        store.commit("p1", vec![Write::DeleteFamily { id: "fam-1".into(), expect: 2 }]),
        Err(StoreError::Conflict),
        "a family that is gone cannot be deleted again"
    );
}

/// A revocation needs no version: it marks the family revoked at whatever version it is and
/// moves the version on, so a write that read the family before conflicts. A family that is
/// gone stays gone.
pub fn families_are_revoked_at_any_version(store: &dyn Store) {
    let rotated = alice_with_a_rotated_session(store);
    // Read at version 1, before the rotation: no matter.
    store.commit("p1", vec![Write::RevokeFamily { id: "fam-1".into(), at_ms: 50 }]).unwrap();
    let revoked = store.family("p1", "fam-1").unwrap().unwrap();
    assert!(revoked.value.revoked);
    assert!(revoked.version > 2, "the version moved on: {}", revoked.version);
    assert_eq!(Family { revoked: true, expires_ms: 50, ..rotated.clone() }, revoked.value, "it ends now, nothing more");
    assert_eq!(store.family_by_hash("p1", "h2").unwrap().unwrap().value.id, "fam-1", "the hashes stay indexed");
    assert_eq!(
        store.commit("p1", vec![Write::PutFamily { family: rotated, new_hashes: vec![], expect: Some(2) }]),
        Err(StoreError::Conflict),
        "a rotation that read the family before the revocation conflicts"
    );
    // Revoked again: nothing more to do. Gone: a conflict, and nothing made, nor the events
    // of the same commit written.
    store.commit("p1", vec![Write::RevokeFamily { id: "fam-1".into(), at_ms: 80 }]).unwrap();
    let again = store.family("p1", "fam-1").unwrap().unwrap().value;
    assert!(again.revoked);
    assert_eq!(again.expires_ms, 50, "a later revocation does not push its end back");
    assert_eq!(
        store.commit(
            "p1",
            vec![Write::AppendEvent(event("sub-a")), Write::RevokeFamily { id: "fam-9".into(), at_ms: 50 }]
        ),
        Err(StoreError::Conflict)
    );
    assert!(store.family("p1", "fam-9").unwrap().is_none());
    assert!(store.events("p1", "sub-a", 10).unwrap().is_empty());
    // It ended at 50: a purge up to then deletes it, as one that ran its course.
    store.commit("p1", vec![Write::PurgeExpired { records_until_ms: 0, families_until_ms: 50, limit: 10 }]).unwrap();
    assert!(store.family("p1", "fam-1").unwrap().is_none());
    assert!(store.family_by_hash("p1", "h2").unwrap().is_none());
}

fn event(sub: &str) -> AuditEvent {
    AuditEvent { sub: sub.into(), kind: EventKind::SignIn, success: true, at_ms: 5, detail: String::new() }
}

/// Events come back newest first, and a trim keeps the newest of one user's only; secrets
/// are versioned.
pub fn events_and_secrets(store: &dyn Store) {
    let at = |store: &dyn Store, pool: &str, sub: &str| {
        store.events(pool, sub, 100).unwrap().iter().map(|e| e.at_ms).collect::<Vec<_>>()
    };
    for i in 0..5 {
        let mut e = event("sub-a");
        e.at_ms = i;
        store.commit("p1", vec![Write::AppendEvent(e)]).unwrap();
        store.commit("p2", vec![Write::AppendEvent(event("sub-a"))]).unwrap();
    }
    store.commit("p1", vec![Write::AppendEvent(event("sub-b"))]).unwrap();
    let events = store.events("p1", "sub-a", 3).unwrap();
    assert_eq!(events.iter().map(|e| e.at_ms).collect::<Vec<_>>(), vec![4, 3, 2]);
    let mut newest = event("sub-a");
    newest.at_ms = 5;
    store.commit("p1", vec![Write::AppendEvent(newest), Write::TrimEvents { sub: "sub-a".into(), keep: 3 }]).unwrap();
    assert_eq!(at(store, "p1", "sub-a"), [5, 4, 3]);
    store.commit("p1", vec![Write::TrimEvents { sub: "sub-a".into(), keep: 10 }]).unwrap();
    assert_eq!(at(store, "p1", "sub-a"), [5, 4, 3], "fewer than kept: nothing goes");
    assert_eq!(at(store, "p1", "sub-b").len(), 1, "other users keep theirs");
    assert_eq!(at(store, "p2", "sub-a").len(), 5, "other pools keep theirs");
    assert!(store.secret("p1", "keys").unwrap().is_none());
    store.commit("p1", vec![record("keys", &[1, 2], None, None)]).unwrap();
    assert_eq!(store.commit("p1", vec![record("keys", &[3], None, None)]), Err(StoreError::Conflict));
    let secret = store.secret("p1", "keys").unwrap().unwrap();
    assert_eq!(&*secret.value, [1, 2]);
    assert_eq!(format!("{:?}", secret.value), "SecretBytes(<2 bytes redacted>)");
}

/// Pool records list by name prefix, in byte order of their names, a page at a time, in
/// their pool only; a delete takes the version read.
pub fn records_list_by_prefix_and_delete(store: &dyn Store) {
    // Names around the prefix's edges: "g:" + U+10FFFF is the highest name that starts with
    // it, "g;" the lowest above them, "g" the highest below.
    let names = ["g", "g:", "g:a", "g:b\u{e9}", "g:ba", "g:\u{10ffff}", "g;", "group"];
    for (i, name) in names.iter().enumerate() {
        store.commit("p1", vec![record(name, &[u8::try_from(i).unwrap()], None, None)]).unwrap();
    }
    store.commit("p2", vec![record("g:other", &[9], None, None)]).unwrap();
    let list = |after: Option<&str>, limit: usize| -> Vec<String> {
        store.secrets("p1", "g:", after, limit).unwrap().into_iter().map(|(name, _)| name).collect()
    };
    let expected = ["g:", "g:a", "g:ba", "g:b\u{e9}", "g:\u{10ffff}"];
    assert_eq!(list(None, 100), expected, "in byte order, the prefix's own name included");
    assert_eq!(list(None, 2), ["g:", "g:a"]);
    assert_eq!(list(Some("g:a"), 2), ["g:ba", "g:b\u{e9}"]);
    assert_eq!(list(Some("g:b\u{e9}"), 2), ["g:\u{10ffff}"]);
    assert!(list(Some("g:\u{10ffff}"), 2).is_empty());
    assert_eq!(list(Some("a"), 1), ["g:"], "a cursor before the prefix starts at the prefix");
    let (name, got) = store.secrets("p1", "g:a", None, 10).unwrap().remove(0);
    assert_eq!((name.as_str(), &*got.value), ("g:a", &[2][..]));
    assert_eq!(got.version, store.secret("p1", "g:a").unwrap().unwrap().version);
    assert!(store.secrets("p3", "g:", None, 10).unwrap().is_empty());

    let delete = |name: &str, expect: u64| Write::DeleteSecret { name: name.to_owned(), expect };
    assert_eq!(store.commit("p1", vec![delete("g:a", got.version + 1)]), Err(StoreError::Conflict));
    assert_eq!(store.commit("p1", vec![delete("g:none", 1)]), Err(StoreError::Conflict));
    store.commit("p1", vec![delete("g:a", got.version)]).unwrap();
    assert!(store.secret("p1", "g:a").unwrap().is_none());
    assert_eq!(list(None, 100), ["g:", "g:ba", "g:b\u{e9}", "g:\u{10ffff}"]);
    assert_eq!(store.commit("p1", vec![delete("g:a", got.version)]), Err(StoreError::Conflict), "gone");
    // Made again, it does not take the deleted one's version (see `Write::PutSecret`).
    store.commit("p1", vec![record("g:a", &[7], None, None)]).unwrap();
    assert_ne!(store.secret("p1", "g:a").unwrap().unwrap().version, got.version);
    assert_eq!(store.secrets("p2", "g:", None, 10).unwrap().len(), 1, "other pools keep theirs");
}

fn record(name: &str, value: &[u8], expect: Option<u64>, expires_ms: Option<i64>) -> Write {
    Write::PutSecret { name: name.to_owned(), value: value.to_vec().into(), expect, expires_ms }
}

fn purge(records_until_ms: i64, families_until_ms: i64, limit: usize) -> Write {
    Write::PurgeExpired { records_until_ms, families_until_ms, limit }
}

/// Pool records and families that ended are purged a few at a time, oldest first, in their
/// pool only; those without an expiry, or whose expiry a later write moved, stay.
pub fn ended_records_are_purged(store: &dyn Store) {
    for (name, expires) in [("keys", None), ("a", Some(10)), ("b", Some(20)), ("c", Some(30)), ("d", Some(40))] {
        store.commit("p1", vec![record(name, &[1], None, expires)]).unwrap();
        store.commit("p2", vec![record(name, &[1], None, expires)]).unwrap();
    }
    let version = store.secret("p1", "d").unwrap().unwrap().version;
    store.commit("p1", vec![record("d", &[2], Some(version), Some(15))]).unwrap();
    // Read by a write that stalls past the purge.
    let read = |name: &str| store.secret("p1", name).unwrap().unwrap().version;
    let stale = [("a", read("a")), ("d", read("d"))];
    let left = |pool: &str| {
        ["keys", "a", "b", "c", "d"]
            .into_iter()
            .filter(|n| store.secret(pool, n).unwrap().is_some())
            .collect::<Vec<_>>()
    };
    store.commit("p1", vec![purge(5, i64::MIN, 4)]).unwrap();
    assert_eq!(left("p1"), ["keys", "a", "b", "c", "d"], "nothing ended yet");
    store.commit("p1", vec![purge(30, i64::MIN, 2)]).unwrap();
    assert_eq!(left("p1"), ["keys", "b", "c"], "the two that ended first (d was moved to 15)");
    store.commit("p1", vec![purge(i64::MAX, i64::MIN, 10)]).unwrap();
    assert_eq!(left("p1"), ["keys"], "a record without an expiry stays");
    assert_eq!(left("p2"), ["keys", "a", "b", "c", "d"], "other pools keep theirs");
    // A purged record can be created again, and the stalled write cannot replace the new one,
    // even once the new one has been written as often as the old one had (`d` was written
    // twice): no version of the old record comes round again.
    for (name, stale) in stale {
        store.commit("p1", vec![record(name, &[3], None, Some(50))]).unwrap();
        store.commit("p1", vec![record(name, &[4], Some(read(name)), Some(50))]).unwrap();
        assert!(
            matches!(store.commit("p1", vec![record(name, &[5], Some(stale), Some(50))]), Err(StoreError::Conflict)),
            "{name}: a write that read the purged record"
        );
        assert_eq!(&*store.secret("p1", name).unwrap().unwrap().value, [4]);
    }

    let mut families = Vec::new();
    for (id, expires) in [("f1", 100), ("f2", 200), ("f3", 300)] {
        let mut family = sample_family(id, "sub-a", &format!("h-{id}"));
        family.expires_ms = expires;
        families.push(family.clone());
        store
            .commit("p1", vec![Write::PutFamily { family, new_hashes: vec![format!("h-{id}")], expect: None }])
            .unwrap();
    }
    // A rotation that moves f1's end keeps it; its new hash goes with it later.
    let mut f1 = families[0].clone();
    f1.expires_ms = 250;
    store
        .commit("p1", vec![Write::PutFamily { family: f1, new_hashes: vec!["h-f1b".into()], expect: Some(1) }])
        .unwrap();
    store.commit("p1", vec![purge(i64::MIN, 200, 4)]).unwrap();
    assert!(store.family("p1", "f2").unwrap().is_none());
    assert!(store.family_by_hash("p1", "h-f2").unwrap().is_none(), "a purged family's hashes go with it");
    assert!(store.family("p1", "f1").unwrap().is_some(), "f1 now ends at 250");
    store.commit("p1", vec![purge(i64::MIN, 300, 1)]).unwrap();
    assert!(store.family("p1", "f1").unwrap().is_none(), "the one that ended first");
    assert!(store.family_by_hash("p1", "h-f1b").unwrap().is_none());
    assert_eq!(store.families_of("p1", "sub-a").unwrap().len(), 1);
    store.commit("p1", vec![purge(i64::MIN, 300, 1)]).unwrap();
    assert!(store.families_of("p1", "sub-a").unwrap().is_empty());
}

/// Many threads committing against one version: exactly one wins each round.
pub fn concurrent_commits_have_one_winner(store: Arc<dyn Store>) {
    store.commit("p1", vec![put(sample_user("sub-a", "alice"), &["u:alice"], None)]).unwrap();
    for _round in 0..20 {
        let version = store.user("p1", "sub-a").unwrap().unwrap().version;
        let wins = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = Arc::clone(&store);
                let wins = Arc::clone(&wins);
                std::thread::spawn(move || {
                    let mut user = sample_user("sub-a", "alice");
                    user.updated_ms = i;
                    if store.commit("p1", vec![put(user, &["u:alice"], Some(version))]).is_ok() {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(wins.load(Ordering::SeqCst), 1);
    }
}

/// Generates one `#[test]` per conformance check for a store made by `$make`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        #[test]
        fn conformance_users_are_versioned() {
            $crate::store::conformance::users_are_versioned(&$make);
        }
        #[test]
        fn conformance_keys_are_unique_and_commits_atomic() {
            $crate::store::conformance::keys_are_unique_and_commits_atomic(&$make);
        }
        #[test]
        fn conformance_pools_are_isolated() {
            $crate::store::conformance::pools_are_isolated(&$make);
        }
        #[test]
        fn conformance_users_page_in_order() {
            $crate::store::conformance::users_page_in_order(&$make);
        }
        #[test]
        fn conformance_pages_hold_their_place() {
            $crate::store::conformance::pages_hold_their_place(&$make);
        }
        #[test]
        fn conformance_searches_find_every_match() {
            $crate::store::conformance::searches_find_every_match(&$make);
        }
        #[test]
        fn conformance_families_follow_their_user() {
            $crate::store::conformance::families_follow_their_user(&$make);
        }
        #[test]
        fn conformance_families_can_be_deleted() {
            $crate::store::conformance::families_can_be_deleted(&$make);
        }
        #[test]
        fn conformance_families_are_revoked_at_any_version() {
            $crate::store::conformance::families_are_revoked_at_any_version(&$make);
        }
        #[test]
        fn conformance_events_and_secrets() {
            $crate::store::conformance::events_and_secrets(&$make);
        }
        #[test]
        fn conformance_records_list_by_prefix_and_delete() {
            $crate::store::conformance::records_list_by_prefix_and_delete(&$make);
        }
        #[test]
        fn conformance_ended_records_are_purged() {
            $crate::store::conformance::ended_records_are_purged(&$make);
        }
        #[test]
        fn conformance_concurrent_commits_have_one_winner() {
            $crate::store::conformance::concurrent_commits_have_one_winner(std::sync::Arc::new($make));
        }
    };
}
