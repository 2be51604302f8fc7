//! Driver-level tests: races between threads, token attacks, client secrets, multi-tenancy,
//! secrets at rest and in `Debug` output.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use userpool::store::{ListedFamily, Write};
use userpool::{Attributes, Clock, ErrorCode, ImportUser, MemoryStore, PoolConfig, SignInStep, Store, UserPool};

mod common;

use common::{Fixture, Interposed, PW, confirmed, email, race, signed_in};

fn fixture_on(store: Arc<dyn Store>, config: PoolConfig) -> Fixture {
    common::open(store, config, None)
}

fn config(extra: &str) -> PoolConfig {
    common::config(extra)
}

fn fixture(extra: &str) -> Fixture {
    fixture_on(Arc::new(MemoryStore::new()), config(&format!("pool_id = 'local_test'\n{extra}")))
}

#[test]
fn one_confirmation_code_has_one_winner() {
    let f = fixture("");
    for round in 0..20 {
        let name = format!("user{round}");
        f.pool.sign_up(&name, PW, email(&name)).unwrap();
        let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
        let pool = f.pool.clone();
        assert_eq!(race(16, move || pool.confirm_sign_up(&name, &code).is_ok()), 1, "round {round}");
    }
}

#[test]
fn one_reset_code_has_one_winner() {
    // 20 reset codes in the same hour: past the default request and destination limits.
    let f = fixture("[codes]\nmax_requests_per_hour = 20\nmax_per_destination_per_hour = 25");
    confirmed(&f, "alice");
    for round in 0..20 {
        f.pool.forgot_password("alice").unwrap();
        let code = f.delivery.last_code_to("alice@example.com").unwrap();
        let pool = f.pool.clone();
        let won = race(16, move || pool.confirm_forgot_password("alice", &code, PW).is_ok());
        assert_eq!(won, 1, "round {round}");
    }
}

/// Two refreshes of one token at once (two tabs) each get a new token, and the client keeps
/// whichever answer came last: either works, and the first one used ends the other (which,
/// used later, is a reuse that ends the session).
#[test]
fn a_raced_refresh_leaves_the_session_with_whichever_token_the_client_kept() {
    let f = fixture("");
    confirmed(&f, "alice");
    for keep_first in [true, false] {
        let t0 = signed_in(&f, "alice").refresh_token;
        let t1 = f.pool.refresh(&t0).unwrap().refresh_token;
        let t2 = f.pool.refresh(&t0).unwrap().refresh_token;
        // Written down: a thief's replay within the window would look the same.
        let split = &f.pool.admin_list_user_auth_events("alice", Some(1)).unwrap()[0];
        assert_eq!((split.kind.as_str(), split.success), ("RefreshTokenReuse", true));
        let (kept, other) = if keep_first { (t1, t2) } else { (t2, t1) };
        let t3 = f.pool.refresh(&kept).unwrap().refresh_token;
        f.pool.refresh(&kept).unwrap();
        assert_eq!(f.pool.refresh(&other).unwrap_err().code(), ErrorCode::RefreshTokenReuse);
        assert!(f.pool.refresh(&t3).is_err(), "the reuse ended the session");
    }
    // Retries keep at most four tokens live beside the current one.
    let t0 = signed_in(&f, "alice").refresh_token;
    let issued: Vec<_> = (0..6).map(|_| f.pool.refresh(&t0).unwrap().refresh_token).collect();
    assert_eq!(f.pool.refresh(&issued[0]).unwrap_err().code(), ErrorCode::RefreshTokenReuse);
}

/// The grace window reaches as far behind a rotation as after it. A clock stepped back
/// further (NTP, a host running late), or at all with no grace, sees the replay of a
/// rotated-out token as reuse, which ends the session; a negative age counted as a retry
/// however far back, even with no grace. A few seconds back within the window is a retry,
/// as two hosts slightly apart see one.
#[test]
fn the_grace_window_reaches_as_far_behind_a_rotation_as_after_it() {
    for (grace, back) in [(0, 5), (10, 10), (10, 3600)] {
        let f = fixture(&format!("[[clients]]\nid = 'app'\nrefresh_grace_secs = {grace}\n"));
        confirmed(&f, "alice");
        let t0 = signed_in(&f, "alice").refresh_token;
        let t1 = f.pool.refresh(&t0).unwrap().refresh_token;
        f.clock.advance_secs(-back);
        let replay = f.pool.refresh(&t0).unwrap_err();
        assert_eq!(replay.code(), ErrorCode::RefreshTokenReuse, "grace {grace}, {back} s back");
        assert!(f.pool.refresh(&t1).is_err(), "grace {grace}, {back} s back: the replay ended the session");
    }
    let f = fixture("[[clients]]\nid = 'app'\nrefresh_grace_secs = 10\n");
    confirmed(&f, "alice");
    let t0 = signed_in(&f, "alice").refresh_token;
    let t1 = f.pool.refresh(&t0).unwrap().refresh_token;
    f.clock.advance_secs(-9);
    let retried = f.pool.refresh(&t0).unwrap().refresh_token;
    f.pool.refresh(&retried).unwrap();
    assert_eq!(f.pool.refresh(&t1).unwrap_err().code(), ErrorCode::RefreshTokenReuse, "the other line");
}

#[test]
fn one_refresh_token_rotates_once() {
    let f = fixture("[[clients]]\nid = 'app'\nrefresh_grace_secs = 0\n");
    confirmed(&f, "alice");
    let mut token = signed_in(&f, "alice").refresh_token;
    for round in 0..20 {
        let pool = f.pool.clone();
        let presented = token.clone();
        let winners = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&winners);
        let won = race(16, move || match pool.refresh(&presented) {
            Ok(t) => {
                sink.lock().unwrap().push(t.refresh_token);
                true
            }
            Err(_) => false,
        });
        assert_eq!(won, 1, "round {round}");
        // The losers presented a rotated-out token: the family is now revoked.
        let next = winners.lock().unwrap().pop().unwrap();
        assert!(f.pool.refresh(&next).is_err(), "reuse detection revokes the family");
        token = signed_in(&f, "alice").refresh_token;
    }
}

#[test]
fn parallel_guessing_cannot_outrun_the_lockout() {
    let f = fixture("");
    confirmed(&f, "alice");
    let pool = f.pool.clone();
    let checked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&checked);
    race(32, move || {
        let err = pool.sign_in("alice", "wrong password here").unwrap_err();
        if err.message() == "Incorrect username or password." {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        false
    });
    // The clock does not move: five free attempts, then locked.
    assert_eq!(checked.load(Ordering::SeqCst), 5);
    let locked = f.pool.sign_in("alice", PW).unwrap_err();
    assert_eq!(locked.message(), "Password attempts exceeded");
    f.clock.advance_secs(1);
    assert!(f.pool.sign_in("alice", PW).unwrap().is_signed_in());
}

fn forge(token: &str, header: &str, payload: Option<&str>) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = payload.map_or_else(|| parts[1].to_owned(), |p| URL_SAFE_NO_PAD.encode(p));
    format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header), payload, parts[2])
}

#[test]
fn forged_and_misused_tokens_are_rejected() {
    let f = fixture("");
    confirmed(&f, "alice");
    let t = signed_in(&f, "alice");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(t.access_token.split('.').next().unwrap()).unwrap()).unwrap();
    let kid = header["kid"].as_str().unwrap();
    // The pool's own algorithm. The headers are changed after signing, so the signature
    // check refuses them too; `tests/security.rs`' attack tables sign forged headers with
    // the pool's own key, so that only the check a row names can refuse it.
    let alg = header["alg"].as_str().unwrap();
    let payload =
        String::from_utf8(URL_SAFE_NO_PAD.decode(t.access_token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let cases = [
        ("alg none", forge(&t.access_token, &format!(r#"{{"alg":"none","kid":"{kid}"}}"#), None)),
        ("HS256 header", forge(&t.access_token, &format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#), None)),
        ("unknown kid", forge(&t.access_token, &format!(r#"{{"alg":"{alg}","kid":"nope"}}"#), None)),
        ("path kid", forge(&t.access_token, &format!(r#"{{"alg":"{alg}","kid":"../../etc/passwd"}}"#), None)),
        ("jku header", forge(&t.access_token, &format!(r#"{{"alg":"{alg}","kid":"{kid}","jku":"https://x"}}"#), None)),
        ("tampered payload", forge(&t.access_token, &header.to_string(), Some(&payload.replace("alice", "admin")))),
        ("id token as access token", t.id_token.clone()),
        ("truncated", t.access_token[..t.access_token.len() - 5].to_owned()),
        ("oversized", "a".repeat(1 << 20)),
        ("empty", String::new()),
    ];
    for (name, token) in cases {
        let err = f.pool.verify_access_token(&token).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotAuthorized, "{name}");
    }
    assert_eq!(f.pool.verify_id_token(&t.access_token, None).unwrap_err().code(), ErrorCode::NotAuthorized);
    assert_eq!(f.pool.verify_id_token(&t.id_token, Some("other-client")).unwrap_err().code(), ErrorCode::NotAuthorized);
    f.pool.verify_access_token(&t.access_token).unwrap();
}

/// In a pool that requires a second factor and allows only email codes, a user who set
/// none up is asked for a code to their verified email: a reset code must not go to that
/// inbox too, or whoever holds it would get the password and the second factor.
#[test]
fn a_reset_skips_the_inbox_a_required_second_factor_falls_back_to() {
    let f = fixture("[mfa]\nmode = 'required'\nmethods = ['email']");
    confirmed(&f, "alice");
    let challenge = f.pool.sign_in("alice", PW).unwrap();
    assert_eq!(challenge.next_step, SignInStep::ConfirmSignInWithEmailCode, "the fallback asks the inbox");
    let sent = f.delivery.messages().len();
    // Answered as a name without a channel is, under user-existence protection.
    f.pool.forgot_password("alice").unwrap();
    assert_eq!(f.delivery.messages().len(), sent, "a reset code went to the second factor's inbox");
    // Without it, the user is told whom to ask, not that they have no verified address.
    let f = fixture(
        "[mfa]\nmode = 'required'\nmethods = ['email']\n[[clients]]\nid = 'app'\nprevent_user_existence_errors = false",
    );
    confirmed(&f, "alice");
    let refused = f.pool.forgot_password("alice").unwrap_err();
    assert_eq!(
        (refused.code(), refused.message()),
        (ErrorCode::NotAuthorized, "Contact administrator to reset password.")
    );
}

/// A reset code ends when the address it went to stops being one a reset code may go to:
/// an administrator marks it unverified (its owner lost it), or the user makes it their
/// second factor (whoever reads it would get the password and the second factor).
#[test]
fn a_reset_code_ends_when_its_address_stops_being_a_recovery_channel() {
    let f = fixture("[mfa]\nmode = 'optional'\nmethods = ['email']");
    let new_password = "a brand new passphrase";
    for name in ["alice", "bob"] {
        confirmed(&f, name);
        f.pool.forgot_password(name).unwrap();
        let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
        if name == "alice" {
            let unverified = Attributes::from([("email_verified".to_owned(), "false".to_owned())]);
            f.pool.admin_update_user_attributes(name, unverified).unwrap();
        } else {
            let email = Some(userpool::MfaPreference::Preferred);
            f.pool.admin_set_user_mfa_preference(name, None, None, email).unwrap();
        }
        let refused = f.pool.confirm_forgot_password(name, &code, new_password).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::ExpiredCode, "{name}");
        let again = f.pool.confirm_forgot_password(name, &code, new_password).unwrap_err();
        assert_eq!(again.code(), ErrorCode::ExpiredCode, "{name}: used up");
        assert_eq!(f.pool.sign_in(name, new_password).unwrap_err().code(), ErrorCode::NotAuthorized, "{name}");
    }
}

#[test]
fn an_id_token_of_a_client_removed_from_the_configuration_is_refused() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let with_web = fixture_on(Arc::clone(&store), config("pool_id = 'clients'\n[[clients]]\nid = 'web'"));
    confirmed(&with_web, "alice");
    let web = with_web.pool.with_client("web", None).unwrap();
    let tokens = web.sign_in("alice", PW).unwrap().tokens.unwrap();
    with_web.pool.verify_id_token(&tokens.id_token, Some("web")).unwrap();
    drop((web, with_web));
    let without = fixture_on(Arc::clone(&store), config("pool_id = 'clients'"));
    let refused = without.pool.verify_id_token(&tokens.id_token, Some("web")).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized);
    assert_eq!(without.pool.verify_access_token(&tokens.access_token).unwrap_err().code(), ErrorCode::NotAuthorized);
}

#[test]
fn pools_sharing_a_store_are_isolated() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = fixture_on(Arc::clone(&store), config("pool_id = 'tenant_a'"));
    let b = fixture_on(Arc::clone(&store), config("pool_id = 'tenant_b'"));
    confirmed(&a, "alice");
    confirmed(&b, "alice");
    let ta = signed_in(&a, "alice");
    assert!(b.pool.verify_access_token(&ta.access_token).is_err(), "a token of another pool");
    assert!(b.pool.refresh(&ta.refresh_token).is_err(), "a refresh token of another pool");
    b.pool.admin_delete_user("alice").unwrap();
    a.pool.verify_access_token(&ta.access_token).unwrap();
    assert_eq!(a.pool.list_users(None, None, None).unwrap().users.len(), 1);
}

/// What an access token may read and write is decided by the client it was issued to, as in
/// Cognito, not by the view of the pool a host happens to call through.
#[test]
fn an_access_token_carries_its_own_clients_attribute_permissions() {
    let f = fixture(
        "[[clients]]\nid = 'web'\n\
         [[clients]]\nid = 'mobile'\nread_attributes = ['email', 'name']\nwrite_attributes = ['name']\n",
    );
    confirmed(&f, "alice");
    let mobile = f.pool.with_client("mobile", None).unwrap();
    let token = mobile.sign_in("alice", PW).unwrap().tokens.unwrap().access_token;
    let given = Attributes::from([("given_name".to_owned(), "Al".to_owned())]);
    // Through the default view (web, which may write anything), the token is still mobile's.
    let refused = f.pool.update_user_attributes(&token, given.clone()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized, "{refused}");
    let refused = f.pool.delete_user_attributes(&token, &["given_name".to_owned()]).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized, "{refused}");
    let named = Attributes::from([("name".to_owned(), "Alice".to_owned())]);
    f.pool.update_user_attributes(&token, named).unwrap();
    f.pool.admin_update_user_attributes("alice", given).unwrap();
    let seen = f.pool.get_user(&token).unwrap();
    let mut names: Vec<_> = seen.attributes.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["email", "name", "sub"], "mobile reads only these (and sub, always)");
    let web = f.pool.sign_in("alice", PW).unwrap().tokens.unwrap().access_token;
    assert!(mobile.get_user(&web).unwrap().attributes.contains_key("given_name"), "web's token reads all");
}

/// An ID token says `email_verified: false` for an address without its flag, as Cognito's
/// do, where the client may read the flag; an address the user does not have gets no flag.
#[test]
fn an_id_token_says_an_address_is_not_verified() {
    let f = fixture("[[clients]]\nid = 'web'\n[[clients]]\nid = 'mobile'\nread_attributes = ['email', 'name']\n");
    f.pool.admin_create_user("alice", email("alice"), Some(PW), false).unwrap();
    f.pool.admin_set_user_password("alice", PW, true).unwrap();
    let claims = |pool: &UserPool| {
        let id_token = pool.sign_in("alice", PW).unwrap().tokens.unwrap().id_token;
        pool.verify_id_token(&id_token, None).unwrap()
    };
    let web = claims(&f.pool);
    assert_eq!(web.get("email_verified"), Some(&serde_json::json!(false)), "{web:?}");
    assert!(!web.contains_key("phone_number_verified"), "{web:?}");
    let mobile = claims(&f.pool.with_client("mobile", None).unwrap());
    assert!(mobile.contains_key("email") && !mobile.contains_key("email_verified"), "{mobile:?}");
    f.pool
        .admin_update_user_attributes("alice", Attributes::from([("email_verified".to_owned(), "true".to_owned())]))
        .unwrap();
    assert_eq!(claims(&f.pool).get("email_verified"), Some(&serde_json::json!(true)));
}

/// An administrator's reset holds whatever happens to its code: with the address's hourly
/// limit filled by a stranger's sign-ups (or a delivery that fails), the user is still reset
/// and signed out, and the answer says no code went out.
#[test]
fn an_admin_reset_holds_when_its_code_cannot_go_out() {
    let f = fixture("[codes]\nmax_per_destination_per_hour = 2");
    confirmed(&f, "alice");
    let tokens = signed_in(&f, "alice");
    f.pool.sign_up("mallory", PW, email("alice")).unwrap();
    let sent = f.delivery.messages().len();
    assert_eq!(f.pool.admin_reset_user_password("alice").unwrap(), None);
    assert_eq!(f.delivery.messages().len(), sent, "no code went out");
    assert_eq!(f.pool.admin_get_user("alice").unwrap().status.as_str(), "RESET_REQUIRED");
    assert!(f.pool.refresh(&tokens.refresh_token).is_err(), "the sessions ended");
    assert!(f.pool.get_user(&tokens.access_token).is_err());
    // An hour later the user asks for a code, as the answer says.
    f.clock.advance_secs(3600);
    f.pool.forgot_password("alice").unwrap();
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    f.pool.confirm_forgot_password("alice", &code, "a brand new passphrase").unwrap();
}

/// Disabling an unconfirmed sign-up stops it: no real code goes out, and a code sent before
/// no longer confirms it (under user-existence protection, answered as a stranger would be).
#[test]
fn a_disabled_sign_up_gets_no_code_and_cannot_be_confirmed() {
    let f = fixture("");
    f.pool.sign_up("spam", PW, email("victim")).unwrap();
    let code = f.delivery.last_code_to("victim@example.com").unwrap();
    f.pool.admin_disable_user("spam").unwrap();
    let sent = f.delivery.messages().len();
    f.pool.resend_sign_up_code("spam").unwrap();
    assert_eq!(f.delivery.messages().len(), sent, "a simulated delivery only");
    assert_eq!(f.pool.confirm_sign_up("spam", &code).unwrap_err().code(), ErrorCode::CodeMismatch);
    assert_eq!(f.pool.admin_get_user("spam").unwrap().status.as_str(), "UNCONFIRMED");
    f.pool.admin_enable_user("spam").unwrap();
    f.pool.confirm_sign_up("spam", &code).unwrap();
}

/// An imported user never meets the new-password challenge that asks an administrator's
/// user for missing required attributes, so a row without one is refused.
#[test]
fn an_imported_row_without_a_required_attribute_is_refused() {
    let f = fixture("[sign_up]\nrequired_attributes = ['email', 'given_name']");
    let row = |name: &str, given: Option<&str>| {
        let mut attributes = email(name);
        if let Some(given) = given {
            attributes.insert("given_name".into(), given.into());
        }
        ImportUser { username: name.into(), attributes, password_hash: None }
    };
    let outcomes = f.pool.admin_import_users(vec![row("bob", None), row("cid", Some("Cid"))]).unwrap();
    let refused = outcomes[0].as_ref().unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);
    assert!(refused.message().contains("given_name required"), "{refused}");
    assert!(outcomes[1].is_ok());
}

/// A temporary password validity of 0 days means the default (7), as in Cognito, not a
/// password that expires as it is issued.
#[test]
fn zero_days_of_temporary_password_validity_means_the_default() {
    let f = fixture("[password_policy]\ntemporary_password_validity_days = 0");
    assert_eq!(f.pool.config().password_policy.temporary_password_validity_days, 7, "in force");
    f.pool.admin_create_user("bob", email("bob"), Some("Temp-Passw0rd!1"), false).unwrap();
    f.clock.advance_secs(6 * 86_400);
    assert_eq!(
        f.pool.sign_in("bob", "Temp-Passw0rd!1").unwrap().next_step,
        SignInStep::ConfirmSignInWithNewPasswordRequired
    );
    f.clock.advance_secs(86_400);
    assert!(f.pool.sign_in("bob", "Temp-Passw0rd!1").is_err(), "expired after 7 days");
}

/// In a pool of email usernames the email cannot be deleted, but a phone number is an
/// ordinary attribute.
#[test]
fn only_the_attribute_a_pool_signs_in_by_is_kept_from_deletion() {
    let f = fixture("[sign_in]\nusername_attributes = ['email']");
    let attributes = Attributes::from([("phone_number".to_owned(), "+14325551212".to_owned())]);
    f.pool.admin_create_user("ann@example.com", attributes, None, false).unwrap();
    let refused = f.pool.admin_delete_user_attributes("ann@example.com", &["email".to_owned()]).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);
    f.pool.admin_delete_user_attributes("ann@example.com", &["phone_number".to_owned()]).unwrap();
    assert!(!f.pool.admin_get_user("ann@example.com").unwrap().attributes.contains_key("phone_number"));
}

/// In a pool that signs in by email or phone number, the address a user did not sign up with
/// signs in only once verified, as an alias does: a user who names someone else's email holds
/// nothing, its owner still signs up with it, and verifying it then is `AliasExists`. The
/// address a user signed up with stays their username, verified or not, and cannot be deleted;
/// the other one can.
#[test]
fn an_unverified_second_address_holds_nobody_elses_sign_up() {
    let f = fixture(
        "[sign_in]\nusername_attributes = ['email', 'phone_number']\n\
         [sign_up]\nauto_verified_attributes = ['phone_number']",
    );
    let phone = "+14325551212";
    f.pool.sign_up(phone, PW, email("ann")).unwrap();
    let code = f.delivery.last_code_to(phone).unwrap();
    f.pool.confirm_sign_up(phone, &code).unwrap();
    let refused = f.pool.sign_in("ann@example.com", PW).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized, "{refused}");
    f.pool.sign_in(phone, PW).unwrap().tokens.unwrap();

    // The email's owner signs up with it (confirmed at once: the pool verifies phones), and
    // signs in by it.
    f.pool.sign_up("ann@example.com", PW, Attributes::new()).unwrap();
    let owner = f.pool.admin_get_user("ann@example.com").unwrap();
    assert_eq!(owner.attributes["email"], "ann@example.com");
    assert_ne!(owner.sub, f.pool.admin_get_user(phone).unwrap().sub);
    f.pool.sign_in("ann@example.com", PW).unwrap().tokens.unwrap();

    // An address another user signs in by cannot be taken on even unverified: no code goes
    // to it for someone else.
    let sent = f.delivery.messages().len();
    let refused = f.pool.sign_up("+14325559999", PW, email("ann")).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::UsernameExists, "{refused}");
    assert_eq!(f.delivery.messages().len(), sent, "a code went to ann's address");
    f.pool.admin_create_user("+14325558888", Attributes::new(), None, false).unwrap();
    let refused = f.pool.admin_update_user_attributes("+14325558888", email("ann")).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::AliasExists, "{refused}");

    // Nor does a code go to it for the user who named it while it was free.
    let tokens = f.pool.sign_in(phone, PW).unwrap().tokens.unwrap();
    let refused = f.pool.get_user_attribute_verification_code(&tokens.access_token, "email").unwrap_err();
    assert_eq!(refused.code(), ErrorCode::AliasExists, "{refused}");
    assert_eq!(f.delivery.messages().len(), sent, "a code went to ann's address");

    // Verifying an address another user signs in by is refused; the phone's user keeps it
    // unverified, and may delete it.
    let verified = Attributes::from([("email_verified".to_owned(), "true".to_owned())]);
    let taken = f.pool.admin_update_user_attributes(phone, verified).unwrap_err();
    assert_eq!(taken.code(), ErrorCode::AliasExists, "{taken}");
    f.pool.admin_delete_user_attributes(phone, &["email".to_owned()]).unwrap();
    let kept = f.pool.admin_delete_user_attributes(phone, &["phone_number".to_owned()]).unwrap_err();
    assert_eq!(kept.code(), ErrorCode::InvalidParameter, "{kept}");

    // Once verified, a second address signs in like the first.
    let bob = Attributes::from([("email".to_owned(), "bob@example.com".to_owned())]);
    f.pool.admin_create_user("+14325550000", bob, Some("Temp-Passw0rd!1"), false).unwrap();
    assert!(f.pool.admin_get_user("bob@example.com").is_err());
    let verified = Attributes::from([("email_verified".to_owned(), "true".to_owned())]);
    f.pool.admin_update_user_attributes("+14325550000", verified).unwrap();
    let bob = f.pool.admin_get_user("bob@example.com").unwrap();
    assert_eq!(bob.attributes["phone_number"], "+14325550000");
}

/// Delivers as `inner` does, and after the first message runs `hook`: a change made while
/// a step's message is on its way.
struct Meddling {
    inner: userpool::RecordingDelivery,
    hook: Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl userpool::Delivery for Meddling {
    fn deliver(&self, message: &userpool::Message) -> Result<(), userpool::DeliveryError> {
        self.inner.deliver(message)?;
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        Ok(())
    }
}

/// A step whose commit loses to a change made while its code was on its way runs again; the
/// rerun stores the code that went out and sends nothing more, so the user's code works.
/// Before, the rerun sent a second code and the first never worked: a stranger's failed
/// sign-ins could keep a user's reset codes from ever working. Nor does the rerun count the
/// request again: with one request an hour, it would refuse its own.
#[test]
fn a_code_sent_before_a_lost_commit_is_the_one_the_rerun_keeps() {
    let recording = userpool::RecordingDelivery::new();
    let meddling = Arc::new(Meddling { inner: recording.clone(), hook: Mutex::new(None) });
    let clock = userpool::ManualClock::new(1_700_000_000_000);
    let pool = UserPool::builder(config("pool_id = 'rerun'\n[codes]\nmax_requests_per_hour = 1"))
        .delivery(meddling.clone())
        .clock(Arc::new(clock.clone()))
        .open()
        .unwrap();
    pool.sign_up("alice", PW, email("alice")).unwrap();
    pool.confirm_sign_up("alice", &recording.last_code_to("alice@example.com").unwrap()).unwrap();

    let stranger = pool.clone();
    *meddling.hook.lock().unwrap() = Some(Box::new(move || {
        // A failed sign-in writes the user's lockout count, so the reset's commit, made from
        // the record read before, conflicts and the step runs again.
        let failed = stranger.sign_in("alice", "a wrong password").unwrap_err();
        assert_eq!(failed.message(), "Incorrect username or password.", "the sign-in reached the user");
    }));
    let sent = recording.messages().len();
    pool.forgot_password("alice").unwrap();
    let messages = recording.messages();
    assert_eq!(messages.len(), sent + 1, "one reset code, not one per run");
    assert_eq!(pool.admin_get_user("alice").unwrap().status.as_str(), "CONFIRMED");
    let code = recording.last_code_to("alice@example.com").unwrap();
    pool.confirm_forgot_password("alice", &code, "a new long passphrase").unwrap();
    pool.sign_in("alice", "a new long passphrase").unwrap().tokens.unwrap();

    // Had the address changed meanwhile, the code that went out does not follow it there:
    // the new address gets a new code, and only that one works.
    clock.advance_secs(3600);
    let admin = pool.clone();
    *meddling.hook.lock().unwrap() = Some(Box::new(move || {
        let moved = Attributes::from([
            ("email".to_owned(), "alice.new@example.com".to_owned()),
            ("email_verified".to_owned(), "true".to_owned()),
        ]);
        admin.admin_update_user_attributes("alice", moved).unwrap();
    }));
    pool.forgot_password("alice").unwrap();
    let old = recording.last_code_to("alice@example.com").unwrap();
    let new = recording.last_code_to("alice.new@example.com").unwrap();
    assert_ne!(old, new);
    let refused = pool.confirm_forgot_password("alice", &old, "a third long passphrase").unwrap_err();
    assert_eq!(refused.code(), ErrorCode::CodeMismatch, "{refused}");
    pool.confirm_forgot_password("alice", &new, "a third long passphrase").unwrap();
}

/// A resent sign-up code replaces the one before: the old code no longer confirms.
#[test]
fn a_resent_code_replaces_the_one_before() {
    let f = fixture("");
    f.pool.sign_up("alice", PW, email("alice")).unwrap();
    let old = f.delivery.last_code_to("alice@example.com").unwrap();
    f.pool.resend_sign_up_code("alice").unwrap();
    let new = f.delivery.last_code_to("alice@example.com").unwrap();
    assert_ne!(old, new, "a new code");
    let refused = f.pool.confirm_sign_up("alice", &old).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::CodeMismatch, "{refused}");
    f.pool.confirm_sign_up("alice", &new).unwrap();
}

/// A rotation that meets one another process made since this one read the keys asks for a
/// retry, and the retry rotates from the keys that are there (it does not wait for the
/// minute after which the keys are read again anyway).
#[test]
fn a_rotation_raced_by_another_process_succeeds_on_retry() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let first = fixture_on(store.clone(), config("pool_id = 'keys'"));
    let second = fixture_on(store, config("pool_id = 'keys'"));
    first.pool.rotate_signing_keys().unwrap();
    let raced = second.pool.rotate_signing_keys().unwrap_err();
    assert_eq!(raced.code(), ErrorCode::TooManyRequests, "{raced}");
    second.pool.rotate_signing_keys().unwrap();
}

/// Keys read at a time the clock has since stepped back from are read again all the same: a
/// process whose clock went back an hour would otherwise fail every retry of a raced
/// rotation, and sign with a key another process retired, until its clock caught up.
#[test]
fn keys_read_ahead_of_a_clock_stepped_back_are_read_again() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let first = fixture_on(store.clone(), config("pool_id = 'keys'"));
    let second = fixture_on(store, config("pool_id = 'keys'"));
    second.clock.advance_secs(-3600);
    first.pool.rotate_signing_keys().unwrap();
    // The keys are read again before the rotation, which then starts from first's.
    second.pool.rotate_signing_keys().unwrap();
    first.pool.rotate_signing_keys().unwrap_err();
    first.pool.rotate_signing_keys().unwrap();
}

/// A verification code tried too often is `LimitExceededException`, the name
/// VerifyUserAttribute has for it (it has no TooManyFailedAttemptsException).
#[test]
fn an_attribute_code_tried_too_often_is_limit_exceeded() {
    let f = fixture("");
    confirmed(&f, "alice");
    let tokens = signed_in(&f, "alice");
    let update = Attributes::from([("email".to_owned(), "alice.new@example.com".to_owned())]);
    f.pool.update_user_attributes(&tokens.access_token, update).unwrap();
    let code = f.delivery.last_code_to("alice.new@example.com").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let answers: Vec<ErrorCode> = (0..10)
        .map(|_| f.pool.verify_user_attribute(&tokens.access_token, "email", wrong).unwrap_err().code())
        .collect();
    assert_eq!(answers[0], ErrorCode::CodeMismatch);
    assert!(answers.contains(&ErrorCode::LimitExceeded), "{answers:?}");
    assert!(!answers.contains(&ErrorCode::TooManyFailedAttempts), "{answers:?}");
}

/// Codes and invitations go to the address a user signed up with before the other one,
/// which may be someone else's: at sign-up, on a resend after the code's address changed,
/// and with an administrator's invitation.
#[test]
fn messages_go_to_the_address_signed_up_with_first() {
    let f = fixture(
        "[sign_in]\nusername_attributes = ['email', 'phone_number']\n\
         [sign_up]\nauto_verified_attributes = ['email', 'phone_number']",
    );
    f.pool.sign_up("+14325551212", PW, email("ann")).unwrap();
    assert_eq!(f.delivery.messages().last().unwrap().destination, "+14325551212");
    let moved = Attributes::from([("phone_number".to_owned(), "+14325559999".to_owned())]);
    f.pool.admin_update_user_attributes("+14325551212", moved).unwrap();
    let resent = f.pool.resend_sign_up_code("+14325559999").unwrap();
    assert_eq!(resent.attribute, "phone_number");
    assert_eq!(f.delivery.messages().last().unwrap().destination, "+14325559999");
    f.pool.admin_create_user("+14325550000", email("bob"), None, true).unwrap();
    assert_eq!(f.delivery.messages().last().unwrap().destination, "+14325550000");

    // In a pool of phone numbers, the phone number first too.
    let f = fixture(
        "[sign_in]\nusername_attributes = ['phone_number']\n\
         [sign_up]\nauto_verified_attributes = ['email', 'phone_number']",
    );
    f.pool.sign_up("+14325551212", PW, email("ann")).unwrap();
    assert_eq!(f.delivery.messages().last().unwrap().destination, "+14325551212");
}

/// A resent sign-up code whose address another user has signed up with since goes nowhere,
/// and the answer is the one a sent code gets: anyone may ask for a resend by name, and an
/// error would say the name is a user's and that another account has the address.
#[test]
fn a_resend_to_an_address_another_user_took_is_answered_quietly() {
    let f = fixture("[sign_in]\nusername_attributes = ['email', 'phone_number']");
    f.pool.sign_up("+14325551212", PW, email("ann")).unwrap();
    assert_eq!(f.delivery.messages().last().unwrap().destination, "ann@example.com");
    f.pool.sign_up("ann@example.com", PW, Attributes::new()).unwrap();
    let sent = f.delivery.messages().len();
    let answer = f.pool.resend_sign_up_code("+14325551212").unwrap();
    assert_eq!(answer.attribute, "email");
    assert_eq!(f.delivery.messages().len(), sent, "a code went to the other user's address");
}

/// A user made before the record said which address they signed up with has both as keys.
/// With one address, the next write records it, so an address added later signs in only
/// once verified; the record then carries the version that older libraries refuse, since
/// they would drop the field and take the added address as a key again.
#[test]
fn an_older_sign_up_address_user_is_recorded_on_their_next_write() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let f = fixture_on(
        store.clone(),
        config("pool_id = 'older'\n[sign_in]\nusername_attributes = ['email', 'phone_number']"),
    );
    f.pool.admin_create_user("+14325551212", Attributes::new(), Some("Temp-Passw0rd!1"), false).unwrap();
    f.pool.admin_set_user_password("+14325551212", PW, true).unwrap();
    let key = "a:phone_number:+14325551212";
    let mut older = store.user_by_key("older", key).unwrap().unwrap();
    assert_eq!((older.value.username_attribute.as_deref(), older.value.record_version), (Some("phone_number"), 2));
    older.value.username_attribute = None;
    older.value.record_version = 1;
    let keys = vec![format!("u:{}", older.value.sub), key.to_owned()];
    store.commit("older", vec![Write::PutUser { user: older.value, keys, expect: Some(older.version) }]).unwrap();

    let tokens = f.pool.sign_in("+14325551212", PW).unwrap().tokens.unwrap();
    let recorded = store.user_by_key("older", key).unwrap().unwrap().value;
    assert_eq!((recorded.username_attribute.as_deref(), recorded.record_version), (Some("phone_number"), 2));
    f.pool.update_user_attributes(&tokens.access_token, email("ann")).unwrap();
    assert!(f.pool.admin_get_user("ann@example.com").is_err(), "an unverified address added later is no key");
    f.pool.admin_create_user("ann@example.com", Attributes::new(), None, false).unwrap();

    // A user of a pool of usernames carries nothing newer: older libraries still read it.
    let names: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let f = fixture_on(names.clone(), config("pool_id = 'names'"));
    confirmed(&f, "alice");
    assert_eq!(names.user_by_key("names", "u:alice").unwrap().unwrap().value.record_version, 1);
}

/// A temporary password set by an administrator ends the user's sessions: the account is
/// not to be used until a new password is chosen, and a kept access token could otherwise
/// replace the temporary password through change_password without the new-password
/// challenge. A permanent one leaves them.
#[test]
fn a_temporary_password_from_an_administrator_ends_the_sessions() {
    let f = fixture("");
    confirmed(&f, "alice");
    let kept = signed_in(&f, "alice");
    f.pool.admin_set_user_password("alice", "another long passphrase", true).unwrap();
    f.pool.get_user(&kept.access_token).unwrap();
    f.pool.admin_set_user_password("alice", "Temp-Passw0rd!1", false).unwrap();
    assert!(f.pool.get_user(&kept.access_token).is_err());
    assert!(f.pool.refresh(&kept.refresh_token).is_err());
    let refused = f.pool.change_password(&kept.access_token, "Temp-Passw0rd!1", "a third long passphrase");
    assert!(refused.is_err());
    assert_eq!(f.pool.admin_get_user("alice").unwrap().status.as_str(), "FORCE_CHANGE_PASSWORD");
}

/// Gives `name` the verified phone number +14325551212, as an administrator.
fn give_verified_phone(f: &Fixture, name: &str) {
    let phone = Attributes::from([
        ("phone_number".to_owned(), "+14325551212".to_owned()),
        ("phone_number_verified".to_owned(), "true".to_owned()),
    ]);
    f.pool.admin_update_user_attributes(name, phone).unwrap();
}

/// A second-factor challenge counts only while a new sign-in would ask for the same thing:
/// turning SMS off in a pool that also allows TOTP makes a sign-in ask for TOTP setup, so
/// the SMS code no longer signs in; and a setup challenge ends once the user has a method,
/// so its holder cannot put their own authenticator in place.
#[test]
fn a_challenge_counts_only_while_a_sign_in_would_ask_for_it() {
    let f = fixture("[mfa]\nmode = 'required'\nmethods = ['totp', 'sms']");
    confirmed(&f, "alice");
    give_verified_phone(&f, "alice");
    let preferred = Some(userpool::MfaPreference::Preferred);
    f.pool.admin_set_user_mfa_preference("alice", None, preferred, None).unwrap();
    let sms = f.pool.sign_in("alice", PW).unwrap();
    assert_eq!(sms.next_step, SignInStep::ConfirmSignInWithSmsCode);
    let code = f.delivery.last_code_to("+14325551212").unwrap();
    f.pool.admin_set_user_mfa_preference("alice", None, Some(userpool::MfaPreference::Disabled), None).unwrap();
    let ended = f.pool.confirm_sign_in(&sms.session.unwrap(), &code, Attributes::new()).unwrap_err();
    assert_eq!(ended.code(), ErrorCode::NotAuthorized, "{ended}");

    let setup = f.pool.sign_in("alice", PW).unwrap();
    assert_eq!(setup.next_step, SignInStep::ContinueSignInWithTotpSetup);
    let secret = setup.totp_setup.unwrap().secret;
    f.pool.admin_set_user_mfa_preference("alice", None, Some(userpool::MfaPreference::Enabled), None).unwrap();
    let now_secs = f.clock.now_ms() / 1000;
    let totp = userpool::scenario::totp_code(&secret, now_secs).unwrap();
    let ended = f.pool.confirm_sign_in(&setup.session.unwrap(), &totp, Attributes::new()).unwrap_err();
    assert_eq!(ended.code(), ErrorCode::NotAuthorized, "{ended}");
    assert!(!f.pool.admin_get_user("alice").unwrap().mfa_enabled.iter().any(|m| m.as_str() == "TOTP"));
}

/// A locked second factor holds back only a sign-in that would ask for it: once an
/// administrator turns the locked method off (a lost phone), the password alone signs in.
#[test]
fn a_locked_second_factor_holds_back_only_a_sign_in_that_would_ask_for_it() {
    let f = fixture("[mfa]\nmode = 'optional'\nmethods = ['sms']");
    confirmed(&f, "alice");
    give_verified_phone(&f, "alice");
    f.pool.admin_set_user_mfa_preference("alice", None, Some(userpool::MfaPreference::Enabled), None).unwrap();
    let locked = (0..20)
        .find_map(|_| {
            let refused = match f.pool.sign_in("alice", PW) {
                Ok(sms) => f.pool.confirm_sign_in(&sms.session.unwrap(), "000000", Attributes::new()).unwrap_err(),
                Err(refused) => refused,
            };
            (refused.message() == "Password attempts exceeded").then_some(refused)
        })
        .expect("wrong SMS codes lock the second factor");
    assert_eq!(locked.code(), ErrorCode::NotAuthorized);
    let sent = f.delivery.messages().len();
    let refused = f.pool.sign_in("alice", PW).unwrap_err();
    assert_eq!(refused.message(), "Password attempts exceeded", "a sign-in that would ask for SMS");
    assert_eq!(f.delivery.messages().len(), sent, "sends nothing");

    let off = Some(userpool::MfaPreference::Disabled);
    f.pool.admin_set_user_mfa_preference("alice", None, off, None).unwrap();
    let signed_in = f.pool.sign_in("alice", PW).unwrap();
    assert_eq!(signed_in.next_step, SignInStep::Done, "nothing left to ask: the password signs in");
}

/// One method at most is preferred: a call that prefers two is refused and changes nothing.
#[test]
fn two_preferred_second_factors_are_refused() {
    let f = fixture("[mfa]\nmode = 'optional'\nmethods = ['sms', 'email']");
    confirmed(&f, "alice");
    give_verified_phone(&f, "alice");
    let both = Some(userpool::MfaPreference::Preferred);
    let refused = f.pool.admin_set_user_mfa_preference("alice", None, both, both).unwrap_err();
    assert_eq!(
        (refused.code(), refused.message()),
        (ErrorCode::InvalidParameter, "Only one MFA method can be preferred.")
    );
    let user = f.pool.admin_get_user("alice").unwrap();
    assert!(user.mfa_enabled.is_empty() && user.preferred_mfa.is_none(), "nothing changed");
    f.pool.admin_set_user_mfa_preference("alice", None, both, Some(userpool::MfaPreference::Enabled)).unwrap();
}

#[test]
fn client_secrets_are_checked_as_secret_hash() {
    let f = fixture("[[clients]]\nid = 'public'\n[[clients]]\nid = 'backend'\nsecret = 'a-very-long-client-secret'\n");
    let backend = f.pool.with_client("backend", None).unwrap();
    let err = backend.sign_up("alice", PW, email("alice")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    assert!(f.pool.with_client("backend", Some("wrong secret")).is_err());
    assert_eq!(f.pool.with_client("missing", None).unwrap_err().code(), ErrorCode::ResourceNotFound);
    let good = userpool::secret_hash("a-very-long-client-secret", "alice", "backend");
    let hashed = f.pool.with_client_secret_hash("backend", &good).unwrap();
    hashed.sign_up("alice", PW, email("alice")).unwrap();
    assert!(hashed.resend_sign_up_code("bob").is_err(), "the hash is bound to the username");
    let with_secret = f.pool.with_client("backend", Some("a-very-long-client-secret")).unwrap();
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    with_secret.confirm_sign_up("alice", &code).unwrap();
    let tokens = with_secret.sign_in("alice", PW).unwrap().tokens.unwrap();
    let claims = f.pool.verify_access_token(&tokens.access_token).unwrap();
    assert_eq!(claims["client_id"], "backend");
    f.pool.verify_access_token_for(&tokens.access_token, Some("backend")).unwrap();
    let other = f.pool.verify_access_token_for(&tokens.access_token, Some("public")).unwrap_err();
    assert_eq!(other.code(), ErrorCode::NotAuthorized, "a token of another client, when one is named");
    with_secret.verify_id_token(&tokens.id_token, None).unwrap();
    assert!(f.pool.verify_id_token(&tokens.id_token, None).is_err(), "the default client is another audience");
}

/// A challenge session of a client with a secret is answered only with the secret or its
/// hash, as Cognito's RespondToAuthChallenge asks: a session that leaked from a front end
/// does not finish the sign-in, and a refused answer leaves the session good.
#[test]
fn a_challenge_answer_proves_the_client_secret() {
    let secret = "a-very-long-client-secret";
    let f = fixture(&format!("[[clients]]\nid = 'backend'\nsecret = '{secret}'\n"));
    f.pool.admin_create_user("bob", email("bob"), Some("Temp-Passw0rd!1"), false).unwrap();
    let backend = f.pool.with_client("backend", Some(secret)).unwrap();
    let challenge = backend.sign_in("bob", "Temp-Passw0rd!1").unwrap();
    assert_eq!(challenge.next_step, SignInStep::ConfirmSignInWithNewPasswordRequired);
    let session = challenge.session.unwrap();
    let hash_for = |name: &str| userpool::secret_hash(secret, name, "backend");
    for (proof, view) in [
        ("no proof", f.pool.with_client("backend", None).unwrap()),
        ("another user's hash", f.pool.with_client_secret_hash("backend", &hash_for("ann")).unwrap()),
    ] {
        let err = view.confirm_sign_in(&session, PW, Attributes::new()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotAuthorized, "{proof}");
    }
    assert_eq!(
        f.pool.admin_get_user("bob").unwrap().status,
        userpool::UserStatus::ForceChangePassword,
        "nothing changed"
    );
    let hashed = f.pool.with_client_secret_hash("backend", &hash_for("bob")).unwrap();
    let done = hashed.confirm_sign_in(&session, PW, Attributes::new()).unwrap();
    assert_eq!(done.next_step, SignInStep::Done);
}

/// The same for a new setup secret asked for by a setup session: without the client's
/// proof it is refused, and the secret the sign-in gave still finishes the setup.
#[test]
fn a_new_setup_secret_for_a_session_proves_the_client_secret() {
    let secret = "a-very-long-client-secret";
    let f = fixture(&format!(
        "[mfa]\nmode = 'required'\nmethods = ['totp']\n[[clients]]\nid = 'backend'\nsecret = '{secret}'\n"
    ));
    let backend = f.pool.with_client("backend", Some(secret)).unwrap();
    backend.sign_up("bob", PW, email("bob")).unwrap();
    backend.confirm_sign_up("bob", &f.delivery.last_code_to("bob@example.com").unwrap()).unwrap();
    let challenge = backend.sign_in("bob", PW).unwrap();
    assert_eq!(challenge.next_step, SignInStep::ContinueSignInWithTotpSetup);
    let session = challenge.session.unwrap();
    let leaked = f.pool.with_client("backend", None).unwrap();
    let err = leaked.associate_software_token_with_session(&session).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized);
    let setup = challenge.totp_setup.unwrap();
    let code = userpool::scenario::totp_code(&setup.secret, f.clock.now_ms() / 1000).unwrap();
    assert_eq!(backend.confirm_sign_in(&session, &code, Attributes::new()).unwrap().next_step, SignInStep::Done);
}

/// A sign-in by a verified alias proves the secret with a `SECRET_HASH` over that alias, and
/// its answers with the same hash, though they do not name the alias.
#[test]
fn a_challenge_answer_takes_the_secret_hash_its_sign_in_gave() {
    let secret = "a-very-long-client-secret";
    let f = fixture(&format!(
        "[sign_in]\nalias_attributes = ['email']\n[[clients]]\nid = 'backend'\nsecret = '{secret}'\n"
    ));
    let verified = Attributes::from([
        ("email".to_owned(), "bob@example.com".to_owned()),
        ("email_verified".to_owned(), "true".to_owned()),
    ]);
    f.pool.admin_create_user("bob", verified, Some("Temp-Passw0rd!1"), false).unwrap();
    let hash_for = |name: &str| userpool::secret_hash(secret, name, "backend");
    let by_alias = f.pool.with_client_secret_hash("backend", &hash_for("bob@example.com")).unwrap();
    let challenge = by_alias.sign_in("bob@example.com", "Temp-Passw0rd!1").unwrap();
    let session = challenge.session.unwrap();
    let other = f.pool.with_client_secret_hash("backend", &hash_for("bob@example.org")).unwrap();
    let err = other.confirm_sign_in(&session, PW, Attributes::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NotAuthorized, "a hash over a name that is not the user's");
    let done = by_alias.confirm_sign_in(&session, PW, Attributes::new()).unwrap();
    assert_eq!(done.next_step, SignInStep::Done);
}

/// An administrator's verification flag stands for an address the user has: else the tokens
/// would claim a verified phone number the user does not have. A pool of email usernames
/// takes the email from the username.
#[test]
fn a_user_is_not_verified_at_an_address_they_lack() {
    let f = fixture("");
    let flag = |name: &str| Attributes::from([(name.to_owned(), "true".to_owned())]);
    let err = f.pool.admin_create_user("bob", flag("phone_number_verified"), None, false).unwrap_err();
    assert_eq!(
        (err.code(), err.message()),
        (ErrorCode::InvalidParameter, "phone_number_verified is true, but no phone_number is given")
    );
    let imported = f.pool.admin_import_users(vec![ImportUser {
        username: "cid".into(),
        attributes: flag("email_verified"),
        password_hash: None,
    }]);
    assert_eq!(imported.unwrap().remove(0).unwrap_err().code(), ErrorCode::InvalidParameter);
    assert_eq!(f.pool.admin_get_user("bob").unwrap_err().code(), ErrorCode::UserNotFound);
    let unverified = Attributes::from([("email_verified".to_owned(), "false".to_owned())]);
    f.pool.admin_create_user("dee", unverified, None, false).unwrap();
    let err = f.pool.admin_update_user_attributes("dee", flag("phone_number_verified")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter, "nor may an update verify an address they lack");
    assert!(!f.pool.admin_get_user("dee").unwrap().attributes.contains_key("phone_number_verified"));

    let by_email = fixture("[sign_in]\nusername_attributes = ['email']");
    by_email.pool.admin_create_user("ann@example.com", flag("email_verified"), None, false).unwrap();
}

#[test]
fn the_encryption_key_seals_secrets_at_rest() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let key = [42u8; 32];
    let open = |key: Option<&[u8]>| {
        let mut builder = UserPool::builder(config("pool_id = 'sealed'")).store(Arc::clone(&store));
        if let Some(key) = key {
            builder = builder.encryption_key(key);
        }
        builder.open()
    };
    let pool = open(Some(&key)).unwrap();
    let raw = store.secret("sealed", "signing_keys").unwrap().unwrap().value;
    // Every private key is sealed: its base64url text decodes to a sealed box, not PKCS#8.
    let ring: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let keys = ring["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        let private = URL_SAFE_NO_PAD.decode(key["private"].as_str().unwrap()).unwrap();
        assert!(private.starts_with(b"upseal1:"), "a private key is stored unsealed");
    }
    let code_key = store.secret("sealed", "code_key").unwrap().unwrap().value;
    assert!(code_key.starts_with(b"upseal1:"));
    drop(pool);
    for (refused, why) in [(open(None), "sealed secrets need the key"), (open(Some(&[7u8; 32])), "a wrong key")] {
        let refused = refused.unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidUserPoolConfiguration, "{why}: {refused}");
        assert!(refused.message().contains("encryption key"), "{refused}");
    }
    let jwks_before = open(Some(&key)).unwrap().jwks();
    assert_eq!(open(Some(&key)).unwrap().jwks(), jwks_before, "the same keys come back");
}

#[test]
fn open_existing_refuses_a_pool_the_store_does_not_hold_and_writes_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let builder = |id: &str| UserPool::builder(config(&format!("pool_id = '{id}'"))).store(Arc::clone(&store));
    let missing = builder("held").open_existing().unwrap_err();
    assert_eq!(missing.code(), ErrorCode::ResourceNotFound);
    assert_eq!(missing.message(), "User pool held does not exist.");
    for name in ["signing_keys", "code_key"] {
        assert!(store.secret("held", name).unwrap().is_none(), "{name} was written");
    }
    let jwks = builder("held").open().unwrap().jwks();
    assert_eq!(builder("held").open_existing().unwrap().jwks(), jwks, "the same pool, its keys");
    assert_eq!(builder("typo").open_existing().unwrap_err().code(), ErrorCode::ResourceNotFound);
    assert!(store.secret("typo", "signing_keys").unwrap().is_none());
}

#[test]
fn secrets_never_show_in_debug_output() {
    let f = fixture("");
    f.pool.sign_up("alice", PW, email("alice")).unwrap();
    let message = f.delivery.last().unwrap();
    let code = message.code.to_string();
    f.pool.confirm_sign_up("alice", &code).unwrap();
    let result = f.pool.sign_in("alice", PW).unwrap();
    let tokens = result.tokens.clone().unwrap();
    let outputs = [
        format!("{message:?}"),
        format!("{result:?}"),
        format!("{tokens:?}"),
        format!("{:?}", f.pool),
        format!("{:?}", f.pool.sign_in("alice", "wrong password here").unwrap_err()),
    ];
    for output in &outputs {
        for secret in [PW, code.as_str(), &tokens.access_token, &tokens.refresh_token, &tokens.id_token] {
            assert!(!output.contains(secret), "{output}");
        }
    }
}

#[test]
fn failed_delivery_creates_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let pool = UserPool::builder(config("pool_id = 'failing'"))
        .store(Arc::clone(&store))
        .delivery(Arc::new(userpool::FailingDelivery))
        .open()
        .unwrap();
    let err = pool.sign_up("alice", PW, email("alice")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::CodeDeliveryFailure);
    assert!(store.users("failing", None, 10, &|_| true).unwrap().users.is_empty());
    // Without a delivery at all, the default refuses rather than printing codes somewhere.
    let silent = UserPool::builder(config("pool_id = 'silent'")).open().unwrap();
    assert_eq!(silent.sign_up("alice", PW, email("alice")).unwrap_err().code(), ErrorCode::CodeDeliveryFailure);
}

#[test]
fn passwords_are_rehashed_when_parameters_change() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let weak = fixture_on(Arc::clone(&store), config("pool_id = 'rehash'"));
    confirmed(&weak, "alice");
    let before = store.user_by_key("rehash", "u:alice").unwrap().unwrap().value.password_hash;
    assert!(before.contains("m=128,t=1"));
    let stronger = fixture_on(
        Arc::clone(&store),
        PoolConfig::from_toml(
            "pool_id = 'rehash'\n[password_hashing]\nmemory_kib = 256\niterations = 2\ndangerous_allow_weak = true",
        )
        .unwrap(),
    );
    assert_eq!(stronger.pool.sign_in("alice", PW).unwrap().next_step, SignInStep::Done);
    let after = store.user_by_key("rehash", "u:alice").unwrap().unwrap().value.password_hash;
    assert!(after.contains("m=256,t=2"), "{after}");
}

/// NIST SP 800-63B: a Unicode password is normalized (NFKC) before it is hashed, so it signs
/// in however the keyboard composed it. A hash of the password as typed, made elsewhere,
/// verifies as typed and is rehashed at that sign-in; then every form signs in.
#[test]
fn a_password_signs_in_however_its_accents_are_composed() {
    use argon2::PasswordHasher as _;
    let (composed, decomposed) = (
        "Cr\u{e8}me br\u{fb}l\u{e9}e \u{e0} Orl\u{e9}ans",
        "Cre\u{300}me bru\u{302}le\u{301}e a\u{300} Orle\u{301}ans",
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'nfkc'"));
    f.pool.sign_up("alice", decomposed, email("alice")).unwrap();
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    f.pool.confirm_sign_up("alice", &code).unwrap();
    assert!(f.pool.sign_in("alice", composed).unwrap().is_signed_in());

    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(128, 1, 1, None).unwrap(),
    );
    let as_typed = argon.hash_password(decomposed.as_bytes()).unwrap().to_string();
    let imported =
        ImportUser { username: "bob".into(), attributes: email("bob"), password_hash: Some(as_typed.clone()) };
    f.pool.admin_import_users(vec![imported]).unwrap().remove(0).unwrap();
    let stored = || store.user_by_key("nfkc", "u:bob").unwrap().unwrap().value.password_hash;
    assert_eq!(f.pool.sign_in("bob", composed).unwrap_err().code(), ErrorCode::NotAuthorized, "not yet");
    assert!(f.pool.sign_in("bob", decomposed).unwrap().is_signed_in());
    assert_ne!(stored(), as_typed, "rehashed in its normalized form");
    assert!(f.pool.sign_in("bob", composed).unwrap().is_signed_in());
    assert!(f.pool.sign_in("bob", decomposed).unwrap().is_signed_in());
}

/// Names are keyed in NFKC: a username composed one way finds the user however it is typed,
/// and a second user cannot take the same name composed another way. The username is kept
/// as it was given.
#[test]
fn a_name_is_one_name_however_its_accents_are_composed() {
    let (composed, decomposed, full_width) = ("Zo\u{eb}", "Zoe\u{308}", "\u{ff3a}o\u{eb}");
    let f = fixture("");
    f.pool.sign_up(decomposed, PW, email("zoe")).unwrap();
    let code = f.delivery.last_code_to("zoe@example.com").unwrap();
    f.pool.confirm_sign_up(composed, &code).unwrap();
    for typed in [composed, decomposed, full_width, "ZO\u{cb}"] {
        assert!(f.pool.sign_in(typed, PW).unwrap().is_signed_in(), "{typed:?}");
        assert_eq!(f.pool.admin_get_user(typed).unwrap().username, decomposed, "{typed:?}");
    }
    let taken = f.pool.sign_up(composed, PW, email("zoe2")).unwrap_err();
    assert_eq!(taken.code(), ErrorCode::UsernameExists);
}

/// Leaves the user found under `key` holding `keys` only, as a library before NFKC keys
/// stored a user whose name NFKC changes.
fn with_keys_only(store: &Arc<dyn Store>, pool: &str, key: &str, keys: &[&str]) {
    let stored = store.user_by_key(pool, key).unwrap().unwrap();
    let keys = keys.iter().map(|key| (*key).to_owned()).collect();
    store.commit(pool, vec![Write::PutUser { user: stored.value, keys, expect: Some(stored.version) }]).unwrap();
}

/// A user stored before names were keyed in NFKC holds only the key of their name as given.
/// That name still finds them first, and their next write (a sign-in's) adds the NFKC key,
/// after which any form of the name does; should another user have taken the NFKC key
/// meanwhile, the older user keeps the key they hold, and each name finds its own user.
#[test]
fn a_user_keyed_before_names_were_normalized_is_found_and_rekeyed() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'nfkc_names'"));
    let legacy = |name: &str, given_key: &str| {
        let inbox = format!("user{}", name.len());
        f.pool.sign_up(name, PW, email(&inbox)).unwrap();
        let code = f.delivery.last_code_to(&format!("{inbox}@example.com")).unwrap();
        f.pool.confirm_sign_up(name, &code).unwrap();
        let key = format!("u:{given_key}");
        with_keys_only(&store, "nfkc_names", &key, &[&key]);
    };
    let holder = |key: &str| store.user_by_key("nfkc_names", key).unwrap().map(|u| u.value.username);

    legacy("Ame\u{301}lie", "ame\u{301}lie");
    assert_eq!(f.pool.admin_get_user("Am\u{e9}lie").unwrap_err().code(), ErrorCode::UserNotFound, "not yet");
    assert!(f.pool.sign_in("Ame\u{301}lie", PW).unwrap().is_signed_in());
    assert_eq!(holder("u:am\u{e9}lie").as_deref(), Some("Ame\u{301}lie"), "the NFKC key is added");
    assert_eq!(holder("u:ame\u{301}lie").as_deref(), Some("Ame\u{301}lie"), "… beside the one held");
    assert!(f.pool.sign_in("Am\u{e9}lie", PW).unwrap().is_signed_in());

    legacy("Zoe\u{308}", "zoe\u{308}");
    let other_pw = "another long passphrase";
    f.pool.sign_up("Zo\u{eb}", other_pw, email("zoe")).unwrap();
    f.pool.confirm_sign_up("Zo\u{eb}", &f.delivery.last_code_to("zoe@example.com").unwrap()).unwrap();
    assert!(f.pool.sign_in("Zoe\u{308}", PW).unwrap().is_signed_in(), "the older user, by their name as given");
    assert_eq!(holder("u:zoe\u{308}").as_deref(), Some("Zoe\u{308}"));
    assert_eq!(holder("u:zo\u{eb}").as_deref(), Some("Zo\u{eb}"), "the newer user keeps the NFKC key");
    assert!(f.pool.sign_in("Zo\u{eb}", other_pw).unwrap().is_signed_in());
    assert!(f.pool.sign_in("Zoe\u{308}", PW).unwrap().is_signed_in(), "and again, after the write");
}

/// A stored user who keeps their name's key as given, since another user took its NFKC form,
/// may not change the name to a third form of it: that would hold a new look-alike of the
/// other user's name.
#[test]
fn a_stored_user_cannot_take_a_third_form_of_a_name_another_user_has() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(
        Arc::clone(&store),
        config("pool_id = 'nfkc_alias'\n[sign_in]\nalias_attributes = ['preferred_username']"),
    );
    let name = |value: &str| Attributes::from([("preferred_username".to_owned(), value.to_owned())]);
    confirmed(&f, "lou");
    f.pool.admin_update_user_attributes("lou", name("Zoe\u{308}")).unwrap();
    with_keys_only(
        &store,
        "nfkc_alias",
        "u:lou",
        &["u:lou", "a:preferred_username:lou", "a:preferred_username:zoe\u{308}"],
    );
    f.pool.sign_up("Zo\u{eb}", PW, email("zoe")).unwrap();

    let refused = f.pool.admin_update_user_attributes("lou", name("\u{ff3a}o\u{eb}")).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::AliasExists);
    let lou = f.pool.admin_get_user("lou").unwrap();
    assert_eq!(lou.attributes.get("preferred_username").map(String::as_str), Some("Zoe\u{308}"));
    assert_eq!(f.pool.admin_get_user("Zoe\u{308}").unwrap().username, "lou", "by the name as given");
    assert_eq!(f.pool.admin_get_user("\u{ff3a}o\u{eb}").unwrap().username, "Zo\u{eb}");
    // A write that keeps the name goes without the taken key, as before.
    f.pool.admin_update_user_attributes("lou", Attributes::from([("name".to_owned(), "Lou".to_owned())])).unwrap();
}

/// In a pool that signs in by email, a user stored before keys were normalized holds only the
/// key of their address as given. Another user may take its NFKC form since; the address is
/// still the first user's own, so codes go to it.
#[test]
fn a_stored_users_address_still_gets_their_codes_after_another_took_its_other_form() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'nfkc_mail'\n[sign_in]\nusername_attributes = ['email']"));
    let (decomposed, composed) = ("zoe\u{308}@example.com", "zo\u{eb}@example.com");
    f.pool.sign_up(decomposed, PW, Attributes::new()).unwrap();
    f.pool.confirm_sign_up(decomposed, &f.delivery.last_code_to(decomposed).unwrap()).unwrap();
    let username = format!("u:{}", f.pool.admin_get_user(decomposed).unwrap().username.to_lowercase());
    let address = format!("a:email:{decomposed}");
    with_keys_only(&store, "nfkc_mail", &address, &[&username, &address]);

    f.pool.sign_up(composed, "another long passphrase", Attributes::new()).unwrap();
    let sent = f.delivery.messages().len();
    f.pool.forgot_password(decomposed).unwrap();
    assert_eq!(f.delivery.messages().len(), sent + 1, "the code went to the stored user's own address");
    let code = f.delivery.last_code_to(decomposed).unwrap();
    f.pool.confirm_forgot_password(decomposed, &code, "a brand new passphrase").unwrap();
    assert!(f.pool.sign_in(decomposed, "a brand new passphrase").unwrap().is_signed_in());
}

#[test]
fn every_algorithm_signs_and_verifies() {
    for alg in ["RS256", "ES256", "EdDSA"] {
        let f = fixture(&format!("[tokens]\nalgorithm = '{alg}'"));
        confirmed(&f, "alice");
        let t = signed_in(&f, "alice");
        f.pool.verify_access_token(&t.access_token).unwrap();
        f.pool.verify_id_token(&t.id_token, None).unwrap();
        let jwks: serde_json::Value = serde_json::from_str(&f.pool.jwks()).unwrap();
        assert!(jwks["keys"].as_array().unwrap().iter().all(|k| k["alg"] == alg));
        assert_ne!(jwks["keys"][0]["kid"], jwks["keys"][1]["kid"], "ID and access tokens use separate keys");
    }
}

/// In a pool with an email alias, sign-up refuses email-looking usernames, so such a name is
/// looked up as the alias first; users created before the alias was configured are still
/// found by their username.
#[test]
fn an_email_looking_name_is_the_alias_first_and_the_old_username_second() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let verified = |email: &str| -> Attributes {
        [("email".to_owned(), email.to_owned()), ("email_verified".to_owned(), "true".to_owned())].into()
    };
    let before = fixture_on(Arc::clone(&store), config("pool_id = 'aliases'"));
    before.pool.admin_create_user("old@example.com", verified("first@example.com"), Some(PW), false).unwrap();
    before.pool.admin_create_user("older@example.com", verified("second@example.com"), Some(PW), false).unwrap();
    drop(before);

    let after = fixture_on(Arc::clone(&store), config("pool_id = 'aliases'\n[sign_in]\nalias_attributes = ['email']"));
    after.pool.admin_create_user("bob", verified("old@example.com"), Some(PW), false).unwrap();
    assert_eq!(after.pool.admin_get_user("old@example.com").unwrap().username, "bob", "the alias comes first");
    assert_eq!(after.pool.admin_get_user("older@example.com").unwrap().username, "older@example.com");
    let refused = after.pool.sign_up("new@example.com", PW, verified("new@example.com")).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);
}

/// The settings that decide the keys users are stored under are fixed when the pool is
/// made: an open with others is refused before it writes anything, and names what the pool
/// was made with. The order of the attributes does not matter; alias attributes may change.
#[test]
fn a_pool_keeps_the_username_settings_it_was_made_with() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let made = "pool_id = 'fixed'\n[sign_in]\nusername_attributes = ['email', 'phone_number']";
    let f = fixture_on(Arc::clone(&store), config(made));
    f.pool.sign_up("ann@example.com", PW, email("ann")).unwrap();
    drop(f);
    for other in [
        "pool_id = 'fixed'",
        "pool_id = 'fixed'\n[sign_in]\nusername_attributes = ['email']",
        "pool_id = 'fixed'\n[sign_in]\nusername_attributes = ['email', 'phone_number']\ncase_sensitive = true",
    ] {
        let refused = UserPool::builder(config(other)).store(Arc::clone(&store)).open().unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidUserPoolConfiguration, "{other}");
        assert!(refused.message().contains(r#"made with sign_in username_attributes = {"email", "phone_number"}"#));
        let refused = UserPool::builder(config(other)).store(Arc::clone(&store)).open_existing().unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidUserPoolConfiguration, "{other}");
    }
    // An open refused before the pool is made records nothing.
    let bad_key = UserPool::builder(config("pool_id = 'keyed'")).store(Arc::clone(&store)).encryption_key(&[7; 31]);
    assert_eq!(bad_key.open().unwrap_err().code(), ErrorCode::InvalidParameter);
    fixture_on(Arc::clone(&store), config("pool_id = 'keyed'\n[sign_in]\ncase_sensitive = true"));

    // A pool made before the settings were recorded: an administering open leaves it so
    // (its configuration may be a guess); the app's next open records its own.
    let stored = store.secret("fixed", "lookup_settings").unwrap().unwrap();
    let ending = Write::PutSecret {
        name: "lookup_settings".into(),
        value: stored.value,
        expect: Some(stored.version),
        expires_ms: Some(0),
    };
    let purge = Write::PurgeExpired { records_until_ms: 0, families_until_ms: 0, limit: 10 };
    store.commit("fixed", vec![ending]).unwrap();
    store.commit("fixed", vec![purge]).unwrap();
    assert!(store.secret("fixed", "lookup_settings").unwrap().is_none());
    UserPool::builder(config("pool_id = 'fixed'")).store(Arc::clone(&store)).open_existing().unwrap();
    assert!(store.secret("fixed", "lookup_settings").unwrap().is_none(), "a tool records nothing");
    fixture_on(Arc::clone(&store), config(made));
    assert!(store.secret("fixed", "lookup_settings").unwrap().is_some(), "the app's open records them");

    let reordered = "pool_id = 'fixed'\n[sign_in]\nusername_attributes = ['phone_number', 'email']";
    let f = fixture_on(Arc::clone(&store), config(reordered));
    assert_eq!(f.pool.admin_get_user("ann@example.com").unwrap().attributes["email"], "ann@example.com");
    drop(f);
    // A corrupt record blocks every open, and the error says how to make it again.
    let stored = store.secret("fixed", "lookup_settings").unwrap().unwrap();
    let corrupt = Write::PutSecret {
        name: "lookup_settings".into(),
        value: b"{".to_vec().into(),
        expect: Some(stored.version),
        expires_ms: None,
    };
    store.commit("fixed", vec![corrupt]).unwrap();
    let refused = UserPool::builder(config(made)).store(Arc::clone(&store)).open().unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InternalError);
    let how = "DELETE FROM userpool_secrets WHERE pool = 'fixed' AND name = 'lookup_settings'";
    assert!(refused.message().contains("(lookup_settings) is corrupt") && refused.message().contains(how), "{refused}");
    // Another pool of the same store is its own.
    fixture_on(store, config("pool_id = 'other'"));
}

/// Alias attributes may change from one open of the app to the next, but a tool (an import)
/// that guessed other ones would store users under keys the app does not look up, and let
/// a second user take an address the first signs in with.
#[test]
fn a_tool_opens_a_pool_with_the_aliases_of_its_app() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let tool = |toml: &str| UserPool::builder(config(toml)).store(Arc::clone(&store)).open_existing();
    let (with_alias, without) = (
        "pool_id = 'aliased'
[sign_in]
alias_attributes = ['email']",
        "pool_id = 'aliased'",
    );
    drop(fixture_on(Arc::clone(&store), config(with_alias)));
    let refused = tool(without).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidUserPoolConfiguration);
    assert!(refused.message().contains(r#"alias_attributes = {"email"}; this configuration has {}"#), "{refused}");
    tool(with_alias).unwrap();
    // An app's open refused for a wrong key records nothing.
    let wrong_key = UserPool::builder(config(without)).store(Arc::clone(&store)).encryption_key(&[9; 32]).open();
    let refused = wrong_key.unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidUserPoolConfiguration, "a key for an unsealed pool: {refused}");
    assert!(refused.message().contains("stored unsealed"), "{refused}");
    tool(with_alias).unwrap();
    // The app drops the alias: tools follow its last open.
    drop(fixture_on(Arc::clone(&store), config(without)));
    tool(without).unwrap();
    assert_eq!(tool(with_alias).unwrap_err().code(), ErrorCode::InvalidUserPoolConfiguration);
}

/// A tool without the app's configuration opens the pool with the sign-in settings the app
/// recorded, and finds users as the app does.
#[test]
fn a_tool_may_take_the_sign_in_settings_its_app_recorded() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let by_email = "pool_id = 'by_email'\n[sign_in]\nusername_attributes = ['email']\ncase_sensitive = true";
    let aliased = "pool_id = 'aliased'\n[sign_in]\nalias_attributes = ['email', 'preferred_username']";
    for app in [by_email, aliased] {
        let f = fixture_on(Arc::clone(&store), config(app));
        let mut verified = email("ann");
        verified.insert("email_verified".into(), "true".into());
        // Whichever the pool takes: an email username, or a username with an email alias.
        let made = f.pool.admin_create_user("ann@example.com", verified.clone(), None, false);
        made.or_else(|_| f.pool.admin_create_user("ann", verified, None, false)).unwrap();
    }
    for pool_id in ["by_email", "aliased"] {
        let bare = || UserPool::builder(config(&format!("pool_id = '{pool_id}'"))).store(Arc::clone(&store));
        assert_eq!(bare().open_existing().unwrap_err().code(), ErrorCode::InvalidUserPoolConfiguration);
        let tool = bare().open_existing_as_recorded().unwrap();
        let found = tool.admin_get_user("ann@example.com").unwrap();
        assert_eq!(found.attributes["email"], "ann@example.com", "{pool_id}");
    }
    let tool = UserPool::builder(config("pool_id = 'by_email'")).store(Arc::clone(&store));
    let sign_in = tool.open_existing_as_recorded().unwrap().config().sign_in.clone();
    assert!(sign_in.case_sensitive && sign_in.username_attributes == ["email"], "{sign_in:?}");
    // A record from before aliases were kept: a pool that signs in by email takes none, so
    // a tool's configuration that names some does not make the open fail.
    let recorded = store.secret("by_email", "lookup_settings").unwrap().unwrap();
    let old_record = br#"{"username_attributes":["email"],"case_sensitive":true}"#.to_vec();
    let write = Write::PutSecret {
        name: "lookup_settings".into(),
        value: old_record.into(),
        expect: Some(recorded.version),
        expires_ms: None,
    };
    store.commit("by_email", vec![write]).unwrap();
    let with_aliases = config("pool_id = 'by_email'\n[sign_in]\nalias_attributes = ['email']");
    let tool = UserPool::builder(with_aliases).store(Arc::clone(&store)).open_existing_as_recorded().unwrap();
    tool.admin_get_user("ann@example.com").unwrap();
    let missing = UserPool::builder(config("pool_id = 'nobody'")).store(Arc::clone(&store)).open_existing_as_recorded();
    assert_eq!(missing.unwrap_err().code(), ErrorCode::ResourceNotFound);
}

/// Resends, reset codes and attribute codes share one budget per user and hour; one more is
/// refused and changes nothing (the last code still works); an hour later there is room again.
#[test]
fn code_requests_share_one_hourly_budget() {
    let f = fixture("");
    confirmed(&f, "alice");
    let session = signed_in(&f, "alice");
    for _ in 0..3 {
        f.pool.forgot_password("alice").unwrap();
    }
    for _ in 0..2 {
        f.pool.get_user_attribute_verification_code(&session.access_token, "email").unwrap();
    }
    let sent = f.delivery.messages().len();
    let refused = f.pool.get_user_attribute_verification_code(&session.access_token, "email").unwrap_err();
    assert_eq!(refused.code(), ErrorCode::LimitExceeded);
    assert_eq!(f.pool.forgot_password("alice").unwrap_err().code(), ErrorCode::LimitExceeded);
    assert_eq!(f.delivery.messages().len(), sent, "a refused request sends nothing");
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    f.pool.verify_user_attribute(&session.access_token, "email", &code).unwrap();
    f.clock.advance_secs(3600);
    f.pool.forgot_password("alice").unwrap();
}

/// A membership left over from a deleted group (its sweep cut short by a crash, or an add
/// that raced the delete) grants nothing, and never carries over to a new group of the same
/// name: not in tokens, not in the user's groups, not in the group's users.
#[test]
fn a_deleted_groups_leftover_membership_never_reaches_a_new_group_of_its_name() {
    leftover_membership_on(Arc::new(MemoryStore::new()));
    // SQLite finds a group's members through its index, which lists the leftover too.
    #[cfg(feature = "sqlite")]
    {
        let dir = tempfile::tempdir().unwrap();
        leftover_membership_on(Arc::new(userpool::SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap()));
    }
}

fn leftover_membership_on(store: Arc<dyn Store>) {
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    confirmed(&f, "alice");
    f.pool.create_group("admins", None, Some(1)).unwrap();
    f.pool.admin_add_user_to_group("alice", "admins").unwrap();
    let member = store.user_by_key("groups", "u:alice").unwrap().unwrap();
    assert!(member.value.groups.contains("admins"));
    f.pool.delete_group("admins").unwrap();
    let swept = store.user_by_key("groups", "u:alice").unwrap().unwrap();
    assert!(swept.value.groups.is_empty());
    let leftover = Write::PutUser { user: member.value, keys: vec!["u:alice".into()], expect: Some(swept.version) };
    store.commit("groups", vec![leftover]).unwrap();

    let groups_claim = |f: &Fixture| {
        let tokens = signed_in(f, "alice");
        f.pool.verify_id_token(&tokens.id_token, None).unwrap().get("cognito:groups").cloned()
    };
    assert_eq!(groups_claim(&f), None, "a deleted group grants nothing");
    f.pool.create_group("admins", None, Some(1)).unwrap();
    assert_eq!(groups_claim(&f), None, "nor does a new group of its name");
    assert!(f.pool.admin_get_user("alice").unwrap().groups.is_empty());
    assert!(f.pool.admin_list_groups_for_user("alice").unwrap().is_empty());
    assert!(f.pool.list_users_in_group("admins", None, None).unwrap().users.is_empty());

    f.pool.admin_add_user_to_group("alice", "admins").unwrap();
    assert_eq!(groups_claim(&f), Some(serde_json::json!(["admins"])));
    assert_eq!(f.pool.list_users_in_group("admins", None, None).unwrap().users.len(), 1);
}

/// A user belongs to at most 100 groups, however many administrators add them at once: the
/// limit is counted in the transition, on the record the add replaces.
#[test]
fn concurrent_adds_cannot_take_a_user_past_a_hundred_groups() {
    let f = fixture("");
    for n in 0..99 {
        f.pool.create_group(&format!("g{n}"), None, None).unwrap();
    }
    for round in 0..5 {
        let name = format!("user{round}");
        confirmed(&f, &name);
        for n in 0..99 {
            f.pool.admin_add_user_to_group(&name, &format!("g{n}")).unwrap();
        }
        for n in 0..16 {
            f.pool.create_group(&format!("r{round}-{n}"), None, None).unwrap();
        }
        let (pool, next) = (f.pool.clone(), Arc::new(AtomicUsize::new(0)));
        let member = name.clone();
        let won = race(16, move || {
            let group = format!("r{round}-{}", next.fetch_add(1, Ordering::SeqCst));
            match pool.admin_add_user_to_group(&member, &group) {
                Ok(()) => true,
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::LimitExceeded, "{e}");
                    false
                }
            }
        });
        assert_eq!(won, 1, "round {round}");
        assert_eq!(f.pool.admin_list_groups_for_user(&name).unwrap().len(), 100);
    }
}

/// A membership of a deleted group that the sweep did not reach (a crash cut it short)
/// takes no place among a user's 100: the add drops it from the record.
#[test]
fn a_membership_left_by_a_deleted_group_frees_its_place() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    confirmed(&f, "alice");
    for n in 0..100 {
        f.pool.create_group(&format!("g{n}"), None, None).unwrap();
        f.pool.admin_add_user_to_group("alice", &format!("g{n}")).unwrap();
    }
    let full = store.user_by_key("groups", "u:alice").unwrap().unwrap();
    f.pool.delete_group("g0").unwrap();
    // The record as the sweep would have left it had it stopped before alice.
    let swept = store.user_by_key("groups", "u:alice").unwrap().unwrap();
    let leftover = Write::PutUser { user: full.value, keys: vec!["u:alice".into()], expect: Some(swept.version) };
    store.commit("groups", vec![leftover]).unwrap();
    assert_eq!(store.user_by_key("groups", "u:alice").unwrap().unwrap().value.groups.len(), 100);

    f.pool.create_group("late", None, None).unwrap();
    f.pool.admin_add_user_to_group("alice", "late").unwrap();
    let record = store.user_by_key("groups", "u:alice").unwrap().unwrap().value;
    assert!(!record.groups.contains("g0") && record.groups.contains("late"), "the leftover is dropped");
    assert_eq!(f.pool.admin_list_groups_for_user("alice").unwrap().len(), 100);
}

/// A pool whose groups an older library kept in one record (before schema 6) gets a record
/// per group when it opens: the groups, their generations (so memberships keep counting) and
/// the count all carry over.
#[test]
fn groups_an_older_library_kept_in_one_record_carry_over() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    confirmed(&f, "alice");
    f.pool.create_group("admins", Some("Run it"), Some(2)).unwrap();
    f.pool.admin_add_user_to_group("alice", "admins").unwrap();
    let admins = store.secret("groups", "group:admins").unwrap().unwrap();
    let count = store.secret("groups", "group_count").unwrap().unwrap();
    let generation = serde_json::from_slice::<serde_json::Value>(&admins.value).unwrap()["generation"].clone();
    // What an older library wrote: every definition in one record; "early" predates
    // generations (none stored: 0), as does alice's membership of it.
    let legacy = serde_json::json!({
        "groups": {
            "admins": {"name": "admins", "description": "Run it", "precedence": 2, "created_ms": 1, "updated_ms": 1},
            "early": {"name": "early", "description": null, "precedence": 1, "created_ms": 1, "updated_ms": 1},
        },
        "generations": {"admins": generation},
        "last_generation": 7,
    });
    let mut alice = store.user_by_key("groups", "u:alice").unwrap().unwrap();
    let version = alice.version;
    alice.value.groups.insert("early".into());
    store
        .commit(
            "groups",
            vec![
                Write::DeleteSecret { name: "group:admins".into(), expect: admins.version },
                Write::DeleteSecret { name: "group_count".into(), expect: count.version },
                Write::PutSecret {
                    name: "groups".into(),
                    value: serde_json::to_vec(&legacy).unwrap().into(),
                    expect: None,
                    expires_ms: None,
                },
                Write::PutUser { user: alice.value, keys: vec!["u:alice".into()], expect: Some(version) },
            ],
        )
        .unwrap();
    assert!(f.pool.list_groups(None, None).unwrap().groups.is_empty(), "the old record is not read");

    let f = fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    assert!(store.secret("groups", "groups").unwrap().is_none(), "converted at open");
    let listed = f.pool.list_groups(None, None).unwrap();
    let names: Vec<_> = listed.groups.iter().map(|g| (g.name.as_str(), g.precedence)).collect();
    assert_eq!(names, [("admins", Some(2)), ("early", Some(1))]);
    assert_eq!(f.pool.get_group("admins").unwrap().description.as_deref(), Some("Run it"));
    let tokens = signed_in(&f, "alice");
    let claims = f.pool.verify_id_token(&tokens.id_token, None).unwrap();
    assert_eq!(claims["cognito:groups"], serde_json::json!(["early", "admins"]), "memberships keep counting");
    // The count came along: the two count against the limit, and a delete takes one off.
    f.pool.delete_group("early").unwrap();
    let count = store.secret("groups", "group_count").unwrap().unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&count.value).unwrap()["groups"], 1);
    // Opening again finds nothing to convert.
    fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    assert_eq!(f.pool.list_groups(None, None).unwrap().groups.len(), 1);
}

/// An old groups record meets what it should not: a group of one of its names made since
/// (a store without a schema version let an older library in again), or bytes that do not
/// decode. The pool still opens, and what was made since stays.
#[test]
fn an_old_groups_record_that_meets_a_newer_group_or_does_not_decode_still_opens() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    f.pool.create_group("admins", Some("new"), Some(1)).unwrap();
    let legacy = |value: &[u8]| Write::PutSecret {
        name: "groups".into(),
        value: value.to_vec().into(),
        expect: None,
        expires_ms: None,
    };
    let old = serde_json::json!({"groups": {
        "admins": {"name": "admins", "description": "old", "precedence": 9, "created_ms": 1, "updated_ms": 1},
        "early": {"name": "early", "description": null, "precedence": null, "created_ms": 1, "updated_ms": 1},
    }});
    store.commit("groups", vec![legacy(&serde_json::to_vec(&old).unwrap())]).unwrap();

    // A tool's open converts too: otherwise a group it creates would take an old one's place.
    let tool = UserPool::builder(config("pool_id = 'groups'")).store(Arc::clone(&store)).open_existing().unwrap();
    assert!(store.secret("groups", "groups").unwrap().is_none());
    let listed = tool.list_groups(None, None).unwrap().groups;
    let names: Vec<_> = listed.iter().map(|g| (g.name.as_str(), g.description.as_deref())).collect();
    assert_eq!(names, [("admins", Some("new")), ("early", None)], "the newer admins stays");
    let count = store.secret("groups", "group_count").unwrap().unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&count.value).unwrap()["groups"], 2);

    store.commit("groups", vec![legacy(b"{not json")]).unwrap();
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'groups'"));
    assert_eq!(f.pool.list_groups(None, None).unwrap().groups.len(), 2, "opens, with the groups it had");
}

/// A pool holds at most 10,000 groups, however many administrators create them at once; a
/// deleted group frees its place.
#[test]
fn concurrent_creates_cannot_take_a_pool_past_ten_thousand_groups() {
    let f = fixture("");
    for n in 0..9_990 {
        f.pool.create_group(&format!("g{n}"), None, None).unwrap();
    }
    let (pool, next) = (f.pool.clone(), Arc::new(AtomicUsize::new(0)));
    let won = race(16, move || {
        let name = format!("r{}", next.fetch_add(1, Ordering::SeqCst));
        loop {
            match pool.create_group(&name, None, None) {
                Ok(_) => return true,
                // Sixteen creates at once may outrun one's reruns: it may try again.
                Err(e) if e.code() == ErrorCode::TooManyRequests => continue,
                Err(e) => {
                    assert_eq!(e.code(), ErrorCode::LimitExceeded, "{e}");
                    return false;
                }
            }
        }
    });
    assert_eq!(won, 10);
    let mut listed = 0;
    let mut token = None;
    loop {
        let page = f.pool.list_groups(Some(60), token.as_deref()).unwrap();
        assert!(!page.groups.is_empty(), "a page that a token promised is never empty");
        listed += page.groups.len();
        match page.pagination_token {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, 10_000);
    assert_eq!(f.pool.create_group("one-more", None, None).unwrap_err().code(), ErrorCode::LimitExceeded);
    f.pool.delete_group("g0").unwrap();
    f.pool.create_group("one-more", None, None).unwrap();
}

/// A new name (username, preferred_username, group) takes only what Cognito's pattern takes:
/// no format characters, with which "admin" and "admin\u{200b}" look the same. A user made
/// with such a name before the check still signs in.
#[test]
fn names_with_invisible_characters_are_refused_but_old_ones_still_work() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store), config("pool_id = 'names'"));
    for name in ["admin\u{200b}", "\u{202e}nimda", "adm\u{ad}in"] {
        let refused = f.pool.sign_up(name, PW, email("x")).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{name:?}");
        let refused = f.pool.admin_create_user(name, email("y"), None, false).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{name:?}");
        assert_eq!(f.pool.create_group(name, None, None).unwrap_err().code(), ErrorCode::InvalidParameter);
    }
    confirmed(&f, "carol");
    let tokens = signed_in(&f, "carol");
    let attributes = Attributes::from([("preferred_username".to_owned(), "car\u{200b}ol".to_owned())]);
    let refused = f.pool.update_user_attributes(&tokens.access_token, attributes).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);
    // An address may be a username or an alias: it takes none either.
    let hidden = Attributes::from([("email".to_owned(), "car\u{200b}ol@example.com".to_owned())]);
    let refused = f.pool.admin_update_user_attributes("carol", hidden).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);

    // As an older library stored it: the username holds a zero-width space.
    confirmed(&f, "legacyuser");
    let mut legacy = store.user_by_key("names", "u:legacyuser").unwrap().unwrap();
    let version = legacy.version;
    legacy.value.username = "legacy\u{200b}user".into();
    let keys = vec!["u:legacy\u{200b}user".into(), "a:email:legacyuser@example.com".into()];
    store.commit("names", vec![Write::PutUser { user: legacy.value, keys, expect: Some(version) }]).unwrap();
    let signed = f.pool.sign_in("legacy\u{200b}user", PW).unwrap();
    assert_eq!(signed.next_step, SignInStep::Done);
    f.pool.forgot_password("legacy\u{200b}user").unwrap();
}

/// A new session clears the user's sessions that ended more than a day ago (the longest an
/// access token may outlive its session), with their refresh-token hashes.
#[test]
fn a_new_session_clears_the_users_long_ended_ones() {
    let store = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store) as Arc<dyn Store>, config("pool_id = 'sessions'"));
    confirmed(&f, "alice");
    let sub = f.pool.admin_get_user("alice").unwrap().sub;
    let families = || {
        let mut ids: Vec<i64> = store
            .families_of("sessions", &sub)
            .unwrap()
            .into_iter()
            .filter_map(ListedFamily::readable)
            .map(|f| f.value.created_ms)
            .collect();
        ids.sort_unstable();
        ids
    };
    let first = signed_in(&f, "alice").refresh_token;
    let started = f.clock.now_ms();
    f.clock.advance_secs(30 * 86_400);
    signed_in(&f, "alice");
    assert_eq!(families().len(), 2, "a session that ended less than a day ago is kept");
    f.clock.advance_secs(86_400);
    signed_in(&f, "alice");
    let left = families();
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|&created| created > started), "the first session is gone");
    assert_eq!(f.pool.refresh(&first).unwrap_err().code(), ErrorCode::NotAuthorized);
}

#[test]
fn each_user_keeps_only_their_newest_events_and_unknown_names_share_one_record() {
    let store = Arc::new(MemoryStore::new());
    let f = fixture_on(Arc::clone(&store) as Arc<dyn Store>, config("pool_id = 'events'\n[events]\nkeep_per_user = 3"));
    confirmed(&f, "alice");
    for _ in 0..4 {
        signed_in(&f, "alice");
        f.clock.advance_secs(1);
    }
    assert_eq!(f.pool.sign_in("alice", "wrong password").unwrap_err().code(), ErrorCode::NotAuthorized);
    let events = f.pool.admin_list_user_auth_events("alice", None).unwrap();
    let kinds: Vec<(&str, bool)> = events.iter().map(|e| (e.kind.as_str(), e.success)).collect();
    assert_eq!(kinds, [("SignIn", false), ("SignIn", true), ("SignIn", true)], "the newest three, newest first");
    for name in ["nobody-1", "nobody-2", "nobody-3", "nobody-4", "nobody-5"] {
        assert_eq!(f.pool.sign_in(name, PW).unwrap_err().code(), ErrorCode::NotAuthorized);
    }
    let unknown = store.events("events", "unknown-user", 100).unwrap();
    assert_eq!(unknown.len(), 3);
    assert!(unknown.iter().all(|e| e.detail.starts_with("unknown-user:") && !e.detail.contains("nobody")));
    let bad = PoolConfig::from_toml("[events]\nkeep_per_user = 0").unwrap_err();
    assert!(bad.message().contains("events.keep_per_user"), "{bad}");
}

/// An imported hash is verified at every sign-in attempt with its own costs, so costs no
/// pool would spend (4 TiB, hours), a version `compute` cannot match, or a hash without a
/// salt are refused at import. And a row refused for a taken key does not keep its other
/// names from a later row.
#[test]
fn imported_hashes_are_checked_and_a_refused_row_frees_its_names() {
    let f = common::open(
        Arc::new(MemoryStore::new()),
        common::config("pool_id = 'import'\n[sign_in]\nalias_attributes = ['email']"),
        None,
    );
    let row = |username: &str, hash: Option<&str>| ImportUser {
        username: username.to_owned(),
        attributes: [
            ("email".to_owned(), format!("{username}@example.com")),
            ("email_verified".to_owned(), "true".to_owned()),
        ]
        .into(),
        password_hash: hash.map(str::to_owned),
    };
    let refused = [
        "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=256,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=16$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=256,t=1,p=1",
        "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    ];
    for (i, hash) in refused.iter().enumerate() {
        let outcome = f.pool.admin_import_users(vec![row(&format!("user{i}"), Some(hash))]).unwrap();
        assert_eq!(outcome[0].as_ref().unwrap_err().code(), ErrorCode::InvalidParameter, "{hash}");
    }
    let good = "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    assert!(f.pool.admin_import_users(vec![row("good", Some(good))]).unwrap()[0].is_ok());

    let mut taken_email = row("carol", None);
    taken_email.attributes.insert("email".to_owned(), "good@example.com".to_owned());
    let outcomes = f.pool.admin_import_users(vec![taken_email, row("carol", None)]).unwrap();
    assert_eq!(outcomes[0].as_ref().unwrap_err().code(), ErrorCode::AliasExists);
    assert!(outcomes[1].is_ok(), "the username the refused row named is free: {:?}", outcomes[1]);
}

/// A colon may not appear in an `otpauth://` label's account name (Google's Key URI
/// format, which totp-rs enforces), but usernames and emails may hold one. Such a user must
/// still be offered an authenticator's setup when a pool requires one: it failed with
/// `InternalErrorException`, so such a user could never sign in.
#[test]
fn a_name_with_a_colon_can_set_up_an_authenticator() {
    let f = fixture("[mfa]\nmode = 'required'\nmethods = ['totp']");
    f.pool.sign_up("corp:alice", PW, email("alice")).unwrap();
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    f.pool.confirm_sign_up("corp:alice", &code).unwrap();
    let setup = f.pool.sign_in("corp:alice", PW).unwrap().totp_setup.expect("a TOTP setup challenge");
    assert!(setup.uri.starts_with("otpauth://totp/"), "{}", *setup.uri);
    assert!(setup.uri.contains(":corp%20alice?"), "{}", *setup.uri);
}

/// The hourly limits hold against requests made at once: a message goes out only after the
/// counts that allow it are committed. Until then every request read the same counts, found
/// room, and sent its message before one commit won; the others ran again and sent again.
#[test]
fn requests_made_at_once_cannot_outrun_the_hourly_limits() {
    let f = fixture("[codes]\nmax_per_destination_per_hour = 8");
    confirmed(&f, "alice");
    let before = f.delivery.messages().len();
    let pool = f.pool.clone();
    let granted = race(32, move || pool.forgot_password("alice").is_ok());
    let sent = f.delivery.messages().len() - before;
    // A request that lost every rerun to the others may have sent its code all the same.
    assert!(sent <= 5 && (1..=sent).contains(&granted), "codes.max_requests_per_hour is 5: {granted} of {sent}");

    let before = f.delivery.messages().len();
    let pool = f.pool.clone();
    let next = Arc::new(AtomicUsize::new(0));
    let granted = race(32, move || {
        let name = format!("mallory{}", next.fetch_add(1, Ordering::SeqCst));
        let to_victim = [("email".to_owned(), "victim@example.com".to_owned())].into();
        pool.sign_up(&name, PW, to_victim).is_ok()
    });
    let sent = f.delivery.messages().len() - before;
    assert!(sent <= 8 && (1..=sent).contains(&granted), "codes.max_per_destination_per_hour is 8: {granted} of {sent}");
}

/// A sign-in that commits while a global sign-out runs is one of the sessions it ends. The
/// sign-out wrote only the sessions it had read, so one made after that read survived it.
#[test]
fn a_sign_in_during_a_global_sign_out_is_signed_out_too() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let first = signed_in(&f, "alice");
    let late = Arc::new(Mutex::new(None));
    let (pool, slot) = (f.pool.clone(), Arc::clone(&late));
    *store.after_sessions_read.lock().unwrap() =
        Some(Box::new(move || *slot.lock().unwrap() = Some(signed_in_with(&pool))));
    f.pool.global_sign_out(&first.access_token).unwrap();
    let late = late.lock().unwrap().take().expect("the sign-in ran during the sign-out");
    assert!(f.pool.verify_access_token(&first.access_token).is_err());
    assert_eq!(f.pool.verify_access_token(&late.access_token).unwrap_err().code(), ErrorCode::NotAuthorized);
    assert!(f.pool.refresh(&late.refresh_token).is_err(), "the late session's refresh token still works");
}

/// A session that its holder (a thief, say) refreshes without pause cannot hold off its end.
/// Each refresh moves the family's version on; disabling the user revoked every family at the
/// version it had read, so it lost every rerun and gave up with `TooManyRequests`, the user
/// left enabled and the session live. Revocations no longer expect a version.
#[test]
fn a_session_refreshed_without_pause_still_ends() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let current = Arc::new(Mutex::new(signed_in(&f, "alice").refresh_token));
    let (pool, token) = (f.pool.clone(), Arc::clone(&current));
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&refreshes);
    // Between every read of alice's sessions and the commit that follows it.
    *store.on_sessions_read.lock().unwrap() = Some(Box::new(move || {
        let mut token = token.lock().unwrap();
        if let Ok(tokens) = pool.refresh(&token) {
            *token = tokens.refresh_token;
            counted.fetch_add(1, Ordering::SeqCst);
        }
    }));
    f.pool.admin_disable_user("alice").unwrap();
    store.on_sessions_read.lock().unwrap().take();
    assert!(refreshes.load(Ordering::SeqCst) >= 1, "the hook refreshed in between");
    assert!(!f.pool.admin_get_user("alice").unwrap().enabled);
    let token = current.lock().unwrap().clone();
    assert!(f.pool.refresh(&token).is_err(), "the session ended");
}

/// An administrator's reset that lands while a password change hashes ends it: the change no
/// longer sets the user back to `CONFIRMED` with the new password, which let whoever held
/// the token (a thief, perhaps the reason for the reset) keep the account.
#[test]
fn a_reset_during_a_password_change_ends_it() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let session = signed_in(&f, "alice");
    let pool = f.pool.clone();
    // The attempt's count is committed before the old password is checked.
    let counted =
        |writes: &[Write]| writes.iter().any(|w| matches!(w, Write::PutUser { user, .. } if user.lockout.failures > 0));
    let reset = move || assert!(pool.admin_reset_user_password("alice").is_ok());
    *store.after_commit.lock().unwrap() = Some((Box::new(counted), Box::new(reset)));
    let refused = f.pool.change_password(&session.access_token, PW, "a new passphrase 2").unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized, "{refused}");
    assert_eq!(f.pool.admin_get_user("alice").unwrap().status.as_str(), "RESET_REQUIRED");
    assert!(f.pool.sign_in("alice", "a new passphrase 2").is_err());
}

/// A refresh that cannot make its tokens (here, the user's groups cannot be read) rotates
/// nothing: the client's token still works afterwards. The rotation was committed first, so
/// the retry presented a token rotated out, and with no grace window that ended the session.
#[test]
fn a_refresh_that_cannot_make_its_tokens_rotates_nothing() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f =
        fixture_on(store.clone(), config("pool_id = 'local_test'\n[[clients]]\nid = 'app'\nrefresh_grace_secs = 0"));
    confirmed(&f, "alice");
    f.pool.create_group("readers", None, None).unwrap();
    f.pool.admin_add_user_to_group("alice", "readers").unwrap();
    let session = signed_in(&f, "alice");
    store.failing_record_reads.store(true, Ordering::SeqCst);
    let failed = f.pool.refresh(&session.refresh_token).unwrap_err();
    store.failing_record_reads.store(false, Ordering::SeqCst);
    assert_eq!(failed.code(), ErrorCode::InternalError, "{failed}");
    let tokens = f.pool.refresh(&session.refresh_token).unwrap();
    assert!(f.pool.refresh(&tokens.refresh_token).is_ok(), "the session lives on");
}

/// A code tried when none is pending writes nothing: anyone could otherwise move a user's
/// version on at will, one durable write each, a conflict for each of the user's own steps.
#[test]
fn a_code_tried_with_none_pending_writes_nothing() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    let version = |name: &str| store.user_by_key("local_test", &format!("u:{name}")).unwrap().unwrap().version;
    confirmed(&f, "alice");
    let before = version("alice");
    for _ in 0..3 {
        assert!(f.pool.confirm_forgot_password("alice", "123456", "a new passphrase 2").is_err());
    }
    assert_eq!(version("alice"), before, "no reset code pending");
    f.pool.sign_up("bob", PW, email("bob")).unwrap();
    f.clock.advance_secs(25 * 3600);
    assert_eq!(f.pool.confirm_sign_up("bob", "123456").unwrap_err().code(), ErrorCode::ExpiredCode);
    let before = version("bob");
    for _ in 0..3 {
        assert_eq!(f.pool.confirm_sign_up("bob", "123456").unwrap_err().code(), ErrorCode::ExpiredCode);
    }
    assert_eq!(version("bob"), before, "the expired code is gone");
}

/// A rehash between a sign-in's check and its finish is no change of password. Another
/// instance hashing with other parameters (a rolling deploy, a tool with its own config)
/// rehashes the password at each of its sign-ins, and a sign-in here that had checked the
/// hash before was refused as a wrong password.
#[test]
fn a_rehash_between_check_and_finish_is_no_wrong_password() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let other_hashing =
        "pool_id = 'local_test'\n[password_hashing]\nmemory_kib = 256\niterations = 1\ndangerous_allow_weak = true\n";
    let other = UserPool::builder(PoolConfig::from_toml(other_hashing).unwrap())
        .store(store.clone())
        .clock(Arc::new(f.clock.clone()))
        .delivery(Arc::new(f.delivery.clone()))
        .open()
        .unwrap();
    let counted =
        |writes: &[Write]| writes.iter().any(|w| matches!(w, Write::PutUser { user, .. } if user.lockout.failures > 0));
    let pool = other.clone();
    let rehashing = move || assert!(pool.sign_in("alice", PW).unwrap().is_signed_in());
    *store.after_commit.lock().unwrap() = Some((Box::new(counted), Box::new(rehashing)));
    assert!(f.pool.sign_in("alice", PW).unwrap().is_signed_in());
    // The same for a password change, from a hash in this pool's parameters again.
    let session = signed_in_with(&other);
    assert!(f.pool.sign_in("alice", PW).unwrap().is_signed_in());
    let hash = || store.user_by_key("local_test", "u:alice").unwrap().unwrap().value.password_hash;
    let before = hash();
    let (rehashed, inner) = (Arc::clone(&store), other.clone());
    let rehashing = move || {
        assert!(inner.sign_in("alice", PW).unwrap().is_signed_in());
        let after = rehashed.user_by_key("local_test", "u:alice").unwrap().unwrap().value.password_hash;
        assert_ne!(after, before, "the other pool rehashed");
    };
    *store.after_commit.lock().unwrap() = Some((Box::new(counted), Box::new(rehashing)));
    f.pool.change_password(&session.access_token, PW, "a new passphrase 2").unwrap();
    // A real change in the same millisecond, between a check and its finish, is still one:
    // the old password no longer signs in.
    let change = move || other.admin_set_user_password("alice", "a third passphrase 3", true).unwrap();
    *store.after_commit.lock().unwrap() = Some((Box::new(counted), Box::new(change)));
    assert!(f.pool.sign_in("alice", "a new passphrase 2").is_err(), "the changed password signed in");
    assert!(f.pool.sign_in("alice", "a third passphrase 3").unwrap().is_signed_in());
}

/// A step an access token asked for lands only while the token's session lives. A sign-out
/// everywhere that ends it between the token's check and the step, or between the step's
/// read and its commit, makes the step answer that the token was revoked, and changes
/// nothing: an address or an authenticator added by a session already ended stays out.
#[test]
fn a_step_whose_session_ended_meanwhile_changes_nothing() {
    // The first read of the session is the token's check; the second, the step's own.
    for reads_before in [0, 1] {
        let store = Arc::new(Interposed::new(MemoryStore::new()));
        let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
        confirmed(&f, "alice");
        let session = signed_in(&f, "alice");
        let pool = f.pool.clone();
        let mut hooks = store.on_family_reads.lock().unwrap();
        hooks.extend((0..reads_before).map(|_| None));
        hooks.push_back(Some(Box::new(move || pool.admin_user_global_sign_out("alice").unwrap())));
        drop(hooks);
        name_change_refused(&f, &store, &session);
    }
}

/// Alice's session asks to change her name: refused as revoked, nothing changed, and every
/// hook on the session's reads ran.
fn name_change_refused(f: &Fixture, store: &Interposed<MemoryStore>, session: &userpool::Tokens) {
    let named = [("name".to_owned(), "Mallory".to_owned())].into();
    let refused = f.pool.update_user_attributes(&session.access_token, named).unwrap_err();
    assert_eq!(refused.message(), "Access Token has been revoked");
    assert!(!f.pool.admin_get_user("alice").unwrap().attributes.contains_key("name"));
    assert!(store.on_family_reads.lock().unwrap().is_empty(), "every hook ran");
}

/// The same, for a revocation that writes the session only (its own sign-out, on another
/// device), landing between the step's read of the session and its commit: the step's own
/// commit, or the commit of a message's counts before it, is what conflicts. No message goes
/// out for a session already ended.
#[test]
fn a_step_whose_session_was_signed_out_meanwhile_changes_and_sends_nothing() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let sign_out_between = |session: &userpool::Tokens| {
        let (pool, refresh_token) = (f.pool.clone(), session.refresh_token.clone());
        // After the token's check, then after the step's own read of the session.
        let mut hooks = store.on_family_reads.lock().unwrap();
        hooks.push_back(None);
        hooks.push_back(Some(Box::new(move || pool.sign_out(&refresh_token).unwrap())));
    };
    let session = signed_in(&f, "alice");
    sign_out_between(&session);
    name_change_refused(&f, &store, &session);

    let session = signed_in(&f, "alice");
    let sent = f.delivery.messages().len();
    sign_out_between(&session);
    let refused = f.pool.get_user_attribute_verification_code(&session.access_token, "email").unwrap_err();
    assert_eq!(refused.message(), "Access Token has been revoked");
    assert_eq!(f.delivery.messages().len(), sent, "a code went out for an ended session");
    assert!(store.on_family_reads.lock().unwrap().is_empty(), "every hook ran");

    // Signed out once the message's counts are committed, before it is sent.
    let session = signed_in(&f, "alice");
    let (pool, refresh_token) = (f.pool.clone(), session.refresh_token.clone());
    let counts = |writes: &[Write]| {
        writes.iter().any(|w| matches!(w, Write::PutSecret { name, .. } if name.starts_with("destination:")))
    };
    let sign_out = move || pool.sign_out(&refresh_token).unwrap();
    *store.after_commit.lock().unwrap() = Some((Box::new(counts), Box::new(sign_out)));
    let refused = f.pool.get_user_attribute_verification_code(&session.access_token, "email").unwrap_err();
    assert_eq!(refused.message(), "Access Token has been revoked");
    assert_eq!(f.delivery.messages().len(), sent, "a code went out for an ended session");
    assert!(store.after_commit.lock().unwrap().is_none(), "the hook ran");
}

/// A refresh that rotates nothing (`refresh_rotation = false`) writes nothing, yet answers no
/// tokens for a session signed out between its read of the session and its answer: it reads
/// the session again once its tokens are made. Else a JWKS verifier, which cannot see the
/// sign-out, would take tokens issued after it.
#[test]
fn a_refresh_without_rotation_answers_nothing_for_a_session_signed_out_meanwhile() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f =
        fixture_on(store.clone(), config("pool_id = 'local_test'\n[[clients]]\nid = 'kept'\nrefresh_rotation = false"));
    confirmed(&f, "alice");
    let kept = f.pool.with_client("kept", None).unwrap();
    let session = kept.sign_in("alice", PW).unwrap().tokens.unwrap();
    assert_eq!(kept.refresh(&session.refresh_token).unwrap().refresh_token, session.refresh_token);
    let (pool, refresh_token) = (kept.clone(), session.refresh_token.clone());
    *store.after_hash_read.lock().unwrap() = Some(Box::new(move || pool.sign_out(&refresh_token).unwrap()));
    let refused = kept.refresh(&session.refresh_token).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized);
    assert_eq!(refused.message(), "Refresh Token has been revoked");
    assert!(store.after_hash_read.lock().unwrap().is_none(), "the hook ran");
}

/// A sign-out whose session is signed out and purged between its read and its commit finds
/// it gone: the token is answered as unknown, as it is once purged, and the session is not
/// written back.
#[test]
fn a_sign_out_of_a_session_purged_meanwhile_finds_it_gone() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let session = signed_in(&f, "alice");
    let (pool, inner, refresh_token) = (f.pool.clone(), Arc::clone(&store), session.refresh_token.clone());
    *store.after_hash_read.lock().unwrap() = Some(Box::new(move || {
        pool.sign_out(&refresh_token).unwrap();
        let sub = pool.admin_get_user("alice").unwrap().sub;
        let family = inner.families_of("local_test", &sub).unwrap().remove(0).readable().unwrap();
        inner.commit("local_test", vec![Write::DeleteFamily { id: family.value.id, expect: family.version }]).unwrap();
    }));
    let refused = f.pool.sign_out(&session.refresh_token).unwrap_err();
    assert!(store.after_hash_read.lock().unwrap().is_none(), "the hook ran");
    assert_eq!((refused.code(), refused.message()), (ErrorCode::NotAuthorized, "Invalid Refresh Token"));
    let sub = f.pool.admin_get_user("alice").unwrap().sub;
    assert!(store.families_of("local_test", &sub).unwrap().is_empty(), "the session came back");
}

/// A user's own sign-out everywhere is not fenced on the session it ends: a holder who keeps
/// refreshing that session cannot make it lose every rerun.
#[test]
fn a_sign_out_everywhere_ends_a_session_refreshed_without_pause() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let session = signed_in(&f, "alice");
    let current = Arc::new(Mutex::new(session.refresh_token.clone()));
    let (pool, token) = (f.pool.clone(), Arc::clone(&current));
    *store.on_sessions_read.lock().unwrap() = Some(Box::new(move || {
        let mut token = token.lock().unwrap();
        if let Ok(tokens) = pool.refresh(&token) {
            *token = tokens.refresh_token;
        }
    }));
    f.pool.global_sign_out(&session.access_token).unwrap();
    store.on_sessions_read.lock().unwrap().take();
    let token = current.lock().unwrap().clone();
    assert!(f.pool.refresh(&token).is_err(), "the session ended");
}

/// A session that ends is deleted a day after, as one that ran its course is: sign-outs left
/// their sessions' rows (and refresh-token hashes) for the refresh token's whole lifetime,
/// 30 days by default and up to ten years, read by every sign-in of the user.
#[test]
fn an_ended_session_is_purged_a_day_later() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    let sub = f.pool.admin_get_user("alice").unwrap().sub;
    let session = signed_in(&f, "alice");
    f.pool.sign_out(&session.refresh_token).unwrap();
    f.clock.advance_secs(24 * 3600 - 1);
    signed_in(&f, "alice");
    assert_eq!(store.families_of("local_test", &sub).unwrap().len(), 2, "kept for a day");
    f.clock.advance_secs(2);
    signed_in(&f, "alice");
    let left: Vec<_> =
        store.families_of("local_test", &sub).unwrap().into_iter().filter_map(ListedFamily::readable).collect();
    assert_eq!(left.len(), 2, "the ended one is gone: {left:?}");
    assert!(left.iter().all(|f| !f.value.revoked));
}

/// Adding a user to a group that is deleted in the meantime answers that the group is not
/// found: the membership written grants nothing, and success said otherwise.
#[test]
fn adding_to_a_group_deleted_meanwhile_is_not_found() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
    confirmed(&f, "alice");
    f.pool.create_group("readers", None, None).unwrap();
    let pool = f.pool.clone();
    let joins =
        |writes: &[Write]| writes.iter().any(|w| matches!(w, Write::PutUser { user, .. } if !user.groups.is_empty()));
    let delete = move || pool.delete_group("readers").unwrap();
    *store.after_commit.lock().unwrap() = Some((Box::new(joins), Box::new(delete)));
    let refused = f.pool.admin_add_user_to_group("alice", "readers").unwrap_err();
    assert_eq!(refused.code(), ErrorCode::ResourceNotFound, "{refused}");
    assert!(f.pool.admin_list_groups_for_user("alice").unwrap().is_empty());
}

/// A reset over its address's hourly limit, under user-existence protection, answers as if
/// sent and audits that it was not, once: when the user changed between the commit of that
/// audit and the re-read after it, the step ran again and wrote it twice.
#[test]
fn a_quiet_reset_over_the_limit_is_audited_once() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'\n[codes]\nmax_per_destination_per_hour = 1"));
    confirmed(&f, "alice");
    let pool = f.pool.clone();
    let audited = |writes: &[Write]| {
        writes.iter().any(|w| matches!(w, Write::AppendEvent(e) if e.detail.starts_with("not sent")))
    };
    // Between that commit and its re-read, a wrong password changes alice's record.
    let wrong_password = move || assert!(pool.sign_in("alice", "not her password").is_err());
    *store.after_commit.lock().unwrap() = Some((Box::new(audited), Box::new(wrong_password)));
    f.pool.forgot_password("alice").unwrap();
    assert!(store.after_commit.lock().unwrap().is_none(), "the hook ran");
    let events = f.pool.admin_list_user_auth_events("alice", None).unwrap();
    let unsent = events.iter().filter(|e| e.detail.starts_with("not sent")).count();
    assert_eq!(unsent, 1, "{events:?}");
}

/// Under user-existence protection, a user deleted between the lookup of the name a caller
/// gave and the step is answered as a name no user has, not `UserNotFoundException`, which
/// told the caller the name was a user's a moment ago.
#[test]
fn a_user_deleted_between_lookup_and_step_is_answered_as_unknown() {
    type Call = fn(&UserPool) -> Result<(), userpool::Error>;
    let calls: [(&str, Call, Option<ErrorCode>); 5] = [
        ("sign_in", |p| p.sign_in("alice", PW).map(drop), Some(ErrorCode::NotAuthorized)),
        ("forgot_password", |p| p.forgot_password("alice").map(drop), None),
        ("resend_sign_up_code", |p| p.resend_sign_up_code("alice").map(drop), None),
        ("confirm_sign_up", |p| p.confirm_sign_up("alice", "123456"), Some(ErrorCode::CodeMismatch)),
        (
            "confirm_forgot_password",
            |p| p.confirm_forgot_password("alice", "123456", "a new passphrase 2"),
            Some(ErrorCode::CodeMismatch),
        ),
    ];
    for (name, call, expected) in calls {
        let store = Arc::new(Interposed::new(MemoryStore::new()));
        let f = fixture_on(store.clone(), config("pool_id = 'local_test'"));
        if name == "resend_sign_up_code" || name == "confirm_sign_up" {
            f.pool.sign_up("alice", PW, email("alice")).unwrap();
        } else {
            confirmed(&f, "alice");
        }
        let pool = f.pool.clone();
        *store.after_key_read.lock().unwrap() = Some(Box::new(move || pool.admin_delete_user("alice").unwrap()));
        let answer = call(&f.pool).map_err(|e| e.code());
        assert!(store.after_key_read.lock().unwrap().is_none(), "{name}: the hook ran");
        assert_eq!(answer.err(), expected, "{name}");
    }
}

/// A reset whose user changes between the commit of its counts and the re-read that follows
/// runs again, with a new code to the same address: that message is counted once, not twice,
/// against the address's hourly limit.
#[test]
fn a_rerun_reset_counts_its_message_once() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let f = fixture_on(store.clone(), config("pool_id = 'local_test'\n[codes]\nmax_per_destination_per_hour = 3"));
    confirmed(&f, "alice");
    let sent_before = f.delivery.messages().len();
    let pool = f.pool.clone();
    let counts = |writes: &[Write]| {
        writes.iter().any(|w| matches!(w, Write::PutSecret { name, .. } if name.starts_with("destination:")))
    };
    // Between the reservation and its re-read, a wrong password changes alice's record.
    let wrong_password = move || assert!(pool.sign_in("alice", "not her password").is_err());
    *store.after_commit.lock().unwrap() = Some((Box::new(counts), Box::new(wrong_password)));
    f.pool.forgot_password("alice").unwrap();
    assert!(store.after_commit.lock().unwrap().is_none(), "the change came between");
    assert_eq!(f.delivery.messages().len(), sent_before + 1, "one code went out");
    f.pool.forgot_password("alice").unwrap();
    assert_eq!(
        f.delivery.messages().len(),
        sent_before + 2,
        "the third message of three an hour (the sign-up code was the first) goes out too"
    );
}

/// No token outlives its session: a refresh just before the session's end gives tokens that
/// end with it, where they had a whole lifetime more.
#[test]
fn tokens_end_with_their_session() {
    let f = fixture("[[clients]]\nid = 'web'\nrefresh_token_validity_secs = 3600\naccess_token_validity_secs = 3600");
    confirmed(&f, "alice");
    let first = signed_in(&f, "alice");
    assert_eq!(first.expires_in, 3600);
    f.clock.advance_secs(3000);
    let late = f.pool.refresh(&first.refresh_token).unwrap();
    assert_eq!(late.expires_in, 600, "the session has ten minutes left");
    let claims = f.pool.verify_access_token(&late.access_token).unwrap();
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    let id = f.pool.verify_id_token(&late.id_token, None).unwrap();
    assert_eq!(id["exp"], claims["exp"]);
    f.clock.advance_secs(599);
    let last = f.pool.refresh(&late.refresh_token).unwrap();
    assert!(last.expires_in >= 1, "in the session's last second, a token still lives a second");
    f.pool.verify_access_token(&last.access_token).unwrap();
    f.clock.advance_secs(1);
    let err = f.pool.verify_access_token(&late.access_token).unwrap_err();
    assert_eq!((err.code(), err.message()), (ErrorCode::NotAuthorized, "Token has expired"));
}

fn signed_in_with(pool: &UserPool) -> userpool::Tokens {
    pool.sign_in("alice", PW).unwrap().tokens.unwrap()
}

/// Past the cap, a locked account allows one guess per lockout (900 s), as documented. The
/// quiet period that clears the count starts when the lockout ends: measured from the last
/// failure, it had passed by then, so each capped lockout gave a fresh count of five free
/// guesses and the whole schedule again.
#[test]
fn a_capped_lockout_allows_one_guess_per_lockout() {
    let f = fixture("");
    confirmed(&f, "alice");
    let wrong = |expected: &str| wrong_password(&f, "alice", expected);
    for failures in 1..=20u32 {
        wrong("Incorrect username or password.");
        // The documented schedule: 1 s after the fifth failure, doubling, at most 900 s.
        let locked = if failures < 5 { 0 } else { (1_i64 << (failures - 5).min(10)).min(900) };
        if locked > 0 {
            wrong("Password attempts exceeded");
            // Still locked a second before the lock ends, and not after.
            f.clock.advance_secs(locked - 1);
            wrong("Password attempts exceeded");
            f.clock.advance_secs(1);
        }
    }
}

/// Signs `name` in with a wrong password, which must fail with `expected`.
fn wrong_password(f: &Fixture, name: &str, expected: &str) {
    let err = f.pool.sign_in(name, "not the passphrase").unwrap_err();
    assert_eq!(err.message(), expected);
}

/// The most wrong passwords that the configuration check finds for the default schedule, 48
/// within an hour, is what the engine weighs: four bursts of twelve guesses, each at the end
/// of the lockout before it, 1,155 s apart (the twelfth guess's 128 s lockout, then 900 s of
/// quiet reset the count). A guess a millisecond before a lockout ends is refused.
#[test]
fn the_default_lockout_weighs_48_wrong_passwords_within_an_hour() {
    let f = fixture("");
    confirmed(&f, "alice");
    let guess = |expected: &str| wrong_password(&f, "alice", expected);
    let start = f.clock.now_ms();
    let (mut weighed, mut last) = (0, start);
    for burst in 0..4 {
        let mut at = start + burst * 1_155_000;
        for n in 1..=12_i64 {
            f.clock.set_ms(at);
            guess("Incorrect username or password.");
            (weighed, last) = (weighed + 1, at);
            let locked_ms = if n < 5 { 0 } else { 1000 << (n - 5) };
            if locked_ms > 0 {
                f.clock.set_ms(at + locked_ms - 1);
                guess("Password attempts exceeded");
            }
            at += locked_ms;
        }
    }
    assert_eq!((weighed, last - start), (48, 3_592_000), "48 guesses, the last 3,592 s after the first");
}

/// The lockout an attempt sets is written down even when its hash check outlasts it: the
/// first lock lasts a second, and a hash queued behind others may take longer.
#[test]
fn a_lockout_outlasted_by_its_hash_check_is_audited() {
    let reading = userpool::ManualClock::new(1_700_000_000_000);
    let slow = Arc::new(AtomicBool::new(false));
    let slowly = Arc::clone(&slow);
    // Once slow, every reading is two seconds after the last.
    let moving = move || {
        if slowly.load(Ordering::SeqCst) {
            reading.advance_secs(2);
        }
        reading.now_ms()
    };
    let delivery = userpool::RecordingDelivery::new();
    let pool = UserPool::builder(config(""))
        .store(Arc::new(MemoryStore::new()))
        .clock(Arc::new(moving))
        .delivery(Arc::new(delivery.clone()))
        .open()
        .unwrap();
    pool.sign_up("alice", PW, email("alice")).unwrap();
    pool.confirm_sign_up("alice", &delivery.last_code_to("alice@example.com").unwrap()).unwrap();
    slow.store(true, Ordering::SeqCst);
    for _ in 0..5 {
        assert_eq!(
            pool.sign_in("alice", "not the passphrase").unwrap_err().message(),
            "Incorrect username or password."
        );
    }
    let events = pool.admin_list_user_auth_events("alice", None).unwrap();
    assert!(events.iter().any(|e| e.kind.as_str() == "Lockout"), "{events:?}");
}

/// Two pools on one store, as two processes of one app: each with its own key ring, on one
/// clock, with `alice` signed up and confirmed.
fn two_processes(pool_id: &str) -> (Arc<dyn Store>, userpool::ManualClock, UserPool, UserPool) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (clock, here, elsewhere) = two_processes_on(Arc::clone(&store), pool_id);
    (store, clock, here, elsewhere)
}

/// Two pools on `store`, as two processes would open it, with one clock; alice signs in.
fn two_processes_on(store: Arc<dyn Store>, pool_id: &str) -> (userpool::ManualClock, UserPool, UserPool) {
    let clock = userpool::ManualClock::new(1_700_000_000_000);
    let delivery = userpool::RecordingDelivery::new();
    let open = || {
        UserPool::builder(config(&format!("pool_id = '{pool_id}'")))
            .store(Arc::clone(&store))
            .clock(Arc::new(clock.clone()))
            .delivery(Arc::new(delivery.clone()))
            .open()
            .unwrap()
    };
    let (here, elsewhere) = (open(), open());
    here.sign_up("alice", PW, email("alice")).unwrap();
    here.confirm_sign_up("alice", &delivery.last_code_to("alice@example.com").unwrap()).unwrap();
    (clock, here, elsewhere)
}

/// A failed re-read of the keys does not count as one: a verification a second later reads
/// them again, rather than refusing tokens under the new keys until the next re-read is due.
/// Within that second the store is not read again, whatever `kid` a token names.
#[test]
fn a_failed_read_of_the_keys_is_tried_again_a_second_later() {
    let store = Arc::new(Interposed::new(MemoryStore::new()));
    let (clock, here, elsewhere) = two_processes_on(store.clone(), "reread");
    here.rotate_signing_keys().unwrap();
    let fresh = here.sign_in("alice", PW).unwrap().tokens.unwrap().access_token;
    clock.advance_secs(6);
    store.failing_record_reads.store(true, Ordering::SeqCst);
    let failed = elsewhere.verify_access_token(&fresh).unwrap_err();
    assert_eq!(failed.code(), ErrorCode::InternalError, "{failed}");
    store.failing_record_reads.store(false, Ordering::SeqCst);
    let refused = elsewhere.verify_access_token(&fresh).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::NotAuthorized, "not read again within the second: {refused}");
    clock.advance_secs(1);
    elsewhere.verify_access_token(&fresh).unwrap();
}

/// The `kid` a token's header names.
fn kid(token: &str) -> String {
    let header = URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
    serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
}

/// Another process re-reads the keys once a minute, and until then signs with a key that a
/// rotation elsewhere retired. A token it signs must verify until it expires: the retired
/// key verifies for the longest token lifetime plus that minute.
#[test]
fn a_token_signed_with_a_key_retired_elsewhere_verifies_until_it_expires() {
    let (_, clock, here, elsewhere) = two_processes("rotated");
    let retired = kid(&here.sign_in("alice", PW).unwrap().tokens.unwrap().access_token);
    here.rotate_signing_keys().unwrap();
    clock.advance_secs(30);
    let tokens = elsewhere.sign_in("alice", PW).unwrap().tokens.unwrap();
    assert_eq!(kid(&tokens.access_token), retired, "signed with the key retired here");
    let current = kid(&here.sign_in("alice", PW).unwrap().tokens.unwrap().access_token);
    assert_ne!(current, retired, "here signs with the new key");
    // An hour later, 29 s before the access token expires.
    clock.advance_secs(3600 - 29);
    assert!(here.verify_access_token(&tokens.access_token).is_ok(), "refused before it expires");
    assert!(elsewhere.verify_access_token(&tokens.access_token).is_ok(), "refused before it expires");
    clock.advance_secs(30);
    assert!(here.verify_access_token(&tokens.access_token).is_err(), "expired");
}

/// A user may not delete their own verification flags (only an administrator says whether
/// an address is verified), nor blank a required attribute (as good as deleting it, which is
/// refused, and it satisfied the new-password challenge's check for it).
#[test]
fn a_user_cannot_unverify_an_address_or_blank_a_required_attribute() {
    let f = fixture("[sign_up]\nrequired_attributes = ['email', 'name']");
    let named = Attributes::from([
        ("email".to_owned(), "alice@example.com".to_owned()),
        ("name".to_owned(), "Alice".to_owned()),
    ]);
    f.pool.sign_up("alice", PW, named).unwrap();
    f.pool.confirm_sign_up("alice", &f.delivery.last_code_to("alice@example.com").unwrap()).unwrap();
    let tokens = signed_in(&f, "alice");
    let refused = f.pool.delete_user_attributes(&tokens.access_token, &["email_verified".to_owned()]).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{refused}");
    let blank = Attributes::from([("name".to_owned(), String::new())]);
    let refused = f.pool.update_user_attributes(&tokens.access_token, blank.clone()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{refused}");
    assert_eq!(f.pool.admin_update_user_attributes("alice", blank).unwrap_err().code(), ErrorCode::InvalidParameter);
    let user = f.pool.admin_get_user("alice").unwrap();
    assert_eq!((user.attributes["email_verified"].as_str(), user.attributes["name"].as_str()), ("true", "Alice"));
}

/// A revocation brings its session's end forward (so it is purged a day later), yet its
/// tokens go on answering as revoked, not as expired: a client told "expired" would try a
/// refresh before it learnt that the session is gone.
#[test]
fn a_signed_out_sessions_tokens_stay_revoked_not_expired() {
    let f = fixture("");
    confirmed(&f, "alice");
    let tokens = signed_in(&f, "alice");
    f.pool.sign_out(&tokens.refresh_token).unwrap();
    f.clock.advance_secs(2);
    let refused = f.pool.verify_access_token(&tokens.access_token).unwrap_err();
    assert_eq!(refused.message(), "Access Token has been revoked");
    let refused = f.pool.get_user(&tokens.access_token).unwrap_err();
    assert_eq!(refused.message(), "Access Token has been revoked");
}

/// A leaked signing key is revoked: its tokens, forged or not, stop verifying at once in the
/// process that revokes it and in another once it re-reads the keys (within a minute), and
/// the JWKS drops it. Sessions go on: a refresh gives tokens under the new keys.
#[test]
fn revoked_signing_keys_verify_nothing_more() {
    let (store, clock, here, elsewhere) = two_processes("revoked");
    let leaked = here.sign_in("alice", PW).unwrap().tokens.unwrap();
    elsewhere.verify_access_token(&leaked.access_token).unwrap();
    here.revoke_signing_keys().unwrap();
    for token in [&leaked.access_token, &leaked.id_token] {
        assert!(here.verify_access_token(token).is_err() && here.verify_id_token(token, None).is_err());
    }
    assert!(!here.jwks().contains(&kid(&leaked.access_token)), "the JWKS still offers the revoked key");
    clock.advance_secs(61);
    assert_eq!(
        elsewhere.verify_access_token(&leaked.access_token).unwrap_err().code(),
        ErrorCode::NotAuthorized,
        "another process, once it has re-read the keys"
    );
    let fresh = here.refresh(&leaked.refresh_token).unwrap();
    assert_ne!(kid(&fresh.access_token), kid(&leaked.access_token));
    elsewhere.verify_access_token(&fresh.access_token).unwrap();

    // A process whose clock runs ahead rotates, after `here` read the keys: the revocation
    // reads that rotation (it retries) and drops its keys too, though they were retired
    // "later" than the revoking clock says.
    let ahead_clock = userpool::ManualClock::new(clock.now_ms() + 10_000);
    let ahead = UserPool::builder(config("pool_id = 'revoked'"))
        .store(Arc::clone(&store))
        .clock(Arc::new(ahead_clock))
        .open()
        .unwrap();
    ahead.rotate_signing_keys().unwrap();
    here.revoke_signing_keys().unwrap();
    let ring = store.secret("revoked", "signing_keys").unwrap().unwrap();
    let keys = serde_json::from_slice::<serde_json::Value>(&ring.value).unwrap()["keys"].as_array().unwrap().len();
    assert_eq!(keys, 2, "only the new pair is left");
}

/// The pool never issues a token it would refuse. Attributes ride in the ID token, and a
/// control character takes six bytes of JSON (`\u0001`): five attributes of 2 KiB of them
/// made an ID token over the 64 KiB a token may have, which no verification accepted.
#[test]
fn attributes_never_make_an_id_token_too_long_to_verify() {
    let f = fixture("");
    confirmed(&f, "alice");
    let tokens = signed_in(&f, "alice");
    let attrs = |value: &str, names: &[&str]| -> Attributes {
        names.iter().map(|n| ((*n).to_owned(), value.to_owned())).collect()
    };
    // As much as fits: every free-text standard attribute, 2 KiB of plain text each.
    let plain = attrs(
        &"x".repeat(2048),
        &["address", "family_name", "given_name", "locale", "middle_name", "name", "nickname", "picture"],
    );
    f.pool.update_user_attributes(&tokens.access_token, plain).unwrap();
    let fresh = f.pool.refresh(&tokens.refresh_token).unwrap();
    f.pool.verify_id_token(&fresh.id_token, None).expect("an ID token with 16 KiB of attributes");

    let escaped = attrs(&"\u{1}".repeat(2048), &["profile", "website", "zoneinfo", "gender", "birthdate"]);
    let err = f.pool.update_user_attributes(&fresh.access_token, escaped.clone()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidParameter, "{err}");
    let fresh = f.pool.refresh(&fresh.refresh_token).unwrap();
    f.pool.verify_id_token(&fresh.id_token, None).expect("the refused write changed nothing");

    let imported = ImportUser { username: "bob".to_owned(), attributes: escaped, password_hash: None };
    let outcome = f.pool.admin_import_users(vec![imported]).unwrap();
    assert_eq!(outcome[0].as_ref().unwrap_err().code(), ErrorCode::InvalidParameter);
}

/// An answer to the new-password challenge that the second factor then refuses changes
/// nothing: the temporary password and the challenge still work. It used to save the new
/// password and mark the user CONFIRMED while answering with an error, so a client that
/// retried with the temporary password was told it was wrong.
#[test]
fn a_new_password_the_second_factor_refuses_is_not_saved() {
    let f = fixture("[mfa]\nmode = 'required'\nmethods = ['sms']");
    f.pool.admin_create_user("bob", email("bob"), Some("Temp-Passw0rd!"), false).unwrap();
    let challenge = f.pool.sign_in("bob", "Temp-Passw0rd!").unwrap();
    let session = challenge.session.expect("the new-password challenge");
    let err = f.pool.confirm_sign_in(&session, PW, Attributes::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MfaMethodNotFound, "{err}");
    assert_eq!(f.pool.admin_get_user("bob").unwrap().status, userpool::UserStatus::ForceChangePassword);
    // The challenge was not used up: answered again, it meets the same refusal, not an
    // expired session.
    let err = f.pool.confirm_sign_in(&session, PW, Attributes::new()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MfaMethodNotFound, "{err}");
    let again = f.pool.sign_in("bob", "Temp-Passw0rd!").unwrap();
    assert_eq!(again.next_step, SignInStep::ConfirmSignInWithNewPasswordRequired);
}

/// Retired signing keys are dropped once no token they signed can still be alive (a day, the
/// longest any token may live, and the minute of a stale key ring), so rotating every so
/// often does not grow the stored key ring, and every re-read of it, without end.
#[test]
fn rotation_drops_the_keys_no_living_token_can_need() {
    let store = Arc::new(MemoryStore::new());
    let f = fixture_on(store.clone(), config("pool_id = 'rotating'"));
    let stored_keys = || {
        let ring = store.secret("rotating", "signing_keys").unwrap().unwrap();
        serde_json::from_slice::<serde_json::Value>(&ring.value).unwrap()["keys"].as_array().unwrap().len()
    };
    assert_eq!(stored_keys(), 2);
    f.pool.rotate_signing_keys().unwrap();
    assert_eq!(stored_keys(), 4, "the retired keys still verify the tokens they signed");
    f.clock.advance_secs(86_400 + 60);
    f.pool.rotate_signing_keys().unwrap();
    assert_eq!(stored_keys(), 4, "the first keys went; the second are retired now");
    let tokens = {
        confirmed(&f, "alice");
        signed_in(&f, "alice")
    };
    f.pool.verify_access_token(&tokens.access_token).expect("the current keys sign and verify");
}

/// Only `email_verified` and `phone_number_verified` are flags: a custom attribute whose name
/// ends the same way is a string in tokens, as every custom attribute is, and can be updated.
#[test]
fn a_custom_attribute_named_like_a_flag_is_an_ordinary_string() {
    let f = fixture("[[custom_attributes]]\nname = 'age_verified'\n[[custom_attributes]]\nname = 'age'");
    let mut attributes = email("ann");
    attributes.insert("custom:age_verified".into(), "pending".into());
    f.pool.sign_up("ann", PW, attributes).unwrap();
    let code = f.delivery.last_code_to("ann@example.com").unwrap();
    f.pool.confirm_sign_up("ann", &code).unwrap();
    let tokens = signed_in(&f, "ann");
    let claims = f.pool.verify_id_token(&tokens.id_token, None).unwrap();
    assert_eq!(claims["custom:age_verified"], "pending");
    assert_eq!(claims["email_verified"], true);
    let update = [("custom:age_verified".to_owned(), "checked".to_owned())].into();
    f.pool.update_user_attributes(&tokens.access_token, update).unwrap();
    assert_eq!(f.pool.get_user(&tokens.access_token).unwrap().attributes["custom:age_verified"], "checked");
    // Deleting `custom:age` leaves `custom:age_verified`, which is not its flag.
    let update = [("custom:age".to_owned(), "41".to_owned())].into();
    f.pool.update_user_attributes(&tokens.access_token, update).unwrap();
    f.pool.delete_user_attributes(&tokens.access_token, &["custom:age".to_owned()]).unwrap();
    let attributes = f.pool.get_user(&tokens.access_token).unwrap().attributes;
    assert!(!attributes.contains_key("custom:age") && attributes["custom:age_verified"] == "checked", "{attributes:?}");
}

/// As Cognito: `preferred_username`, as an alias, is set once the account is confirmed. A
/// sign-up nobody confirms must not hold a name another user could sign in with.
#[test]
fn a_preferred_username_alias_is_set_after_confirmation() {
    let f = fixture("[sign_in]\nalias_attributes = ['preferred_username']");
    let mut attributes = email("ann");
    attributes.insert("preferred_username".into(), "ally".into());
    let refused = f.pool.sign_up("ann", PW, attributes).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);
    assert!(refused.message().contains("once the account is confirmed"), "{refused}");
    confirmed(&f, "ann");
    let tokens = signed_in(&f, "ann");
    let update = [("preferred_username".to_owned(), "ally".to_owned())].into();
    f.pool.update_user_attributes(&tokens.access_token, update).unwrap();
    assert_eq!(f.pool.admin_get_user("ally").unwrap().username, "ann");
}

/// Usernames and `preferred_username` aliases are one namespace, since a sign-in by a name
/// tries both: nobody may take another user's username as their alias, nor another's alias
/// as a new username (a sign-in by it would reach the new account, a reset by it would send
/// the code there). Users written before this rule are checked as well. In either store.
#[test]
fn usernames_and_preferred_usernames_are_one_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let stores: [Arc<dyn Store>; 2] =
        [Arc::new(MemoryStore::new()), Arc::new(userpool::SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap())];
    let alias = |value: &str| Attributes::from([("preferred_username".to_owned(), value.to_owned())]);
    for store in stores {
        // Dan is made before the alias is configured: he holds his username's key alone.
        let before = fixture_on(Arc::clone(&store), config("pool_id = 'names'"));
        confirmed(&before, "dan");
        drop(before);
        let f = fixture_on(
            Arc::clone(&store),
            config("pool_id = 'names'\n[sign_in]\nalias_attributes = ['preferred_username']"),
        );
        confirmed(&f, "ann");
        f.pool.admin_update_user_attributes("ann", alias("ally")).unwrap();

        for refused in [
            f.pool.sign_up("ally", PW, email("ally")).map(|_| ()),
            f.pool.admin_create_user("ally", email("ally"), Some(PW), false).map(|_| ()),
        ] {
            assert_eq!(refused.unwrap_err().code(), ErrorCode::UsernameExists);
        }
        let imported = ImportUser { username: "ally".into(), ..ImportUser::default() };
        let outcome = f.pool.admin_import_users(vec![imported]).unwrap();
        assert_eq!(outcome[0].as_ref().unwrap_err().code(), ErrorCode::UsernameExists);
        let as_dan = ImportUser { username: "erin".into(), attributes: alias("dan"), ..ImportUser::default() };
        let outcome = f.pool.admin_import_users(vec![as_dan]).unwrap();
        assert_eq!(outcome[0].as_ref().unwrap_err().code(), ErrorCode::AliasExists, "dan's name, held before");

        confirmed(&f, "bob");
        let bob = signed_in(&f, "bob");
        for taken in ["ann", "dan"] {
            let refused = f.pool.update_user_attributes(&bob.access_token, alias(taken)).unwrap_err();
            assert_eq!(refused.code(), ErrorCode::AliasExists, "{taken}: {refused}");
            let refused = f.pool.admin_update_user_attributes("bob", alias(taken)).unwrap_err();
            assert_eq!(refused.code(), ErrorCode::AliasExists, "{taken}: {refused}");
        }
        f.pool.update_user_attributes(&bob.access_token, alias("bob")).unwrap();
        assert_eq!(f.pool.admin_get_user("ally").unwrap().username, "ann");
        assert_eq!(f.pool.admin_get_user("bob").unwrap().username, "bob");
        assert_eq!(f.pool.admin_get_user("dan").unwrap().username, "dan");
    }
}

/// A refresh with a client secret proves it with SECRET_HASH over the internal username, as
/// Cognito's clients compute it (the sub, where users sign in by email), or over an address
/// the user signs in by: the one they signed up with, or the other once verified.
#[test]
fn a_refresh_takes_the_secret_hash_of_the_internal_username() {
    let secret = "a-very-long-client-secret";
    let f = fixture(&format!(
        "[sign_in]\nusername_attributes = ['email', 'phone_number']\n\
         [[clients]]\nid = 'backend'\nsecret = '{secret}'\n"
    ));
    let backend = f.pool.with_client("backend", Some(secret)).unwrap();
    let phone = Attributes::from([("phone_number".to_owned(), "+14325551212".to_owned())]);
    let sub = backend.sign_up("ann@example.com", PW, phone).unwrap().user_sub;
    let code = f.delivery.last_code_to("ann@example.com").unwrap();
    backend.confirm_sign_up("ann@example.com", &code).unwrap();
    let tokens = backend.sign_in("ann@example.com", PW).unwrap().tokens.unwrap();
    let by = |name: &str| f.pool.with_client_secret_hash("backend", &userpool::secret_hash(secret, name, "backend"));
    let fresh = by(&sub).unwrap().refresh(&tokens.refresh_token).unwrap();
    let fresh = by("ann@example.com").unwrap().refresh(&fresh.refresh_token).unwrap();
    for refused in ["bob@example.com", "+14325551212"] {
        let err = by(refused).unwrap().refresh(&fresh.refresh_token).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotAuthorized, "{refused}");
    }
    let verified = Attributes::from([("phone_number_verified".to_owned(), "true".to_owned())]);
    f.pool.admin_update_user_attributes("ann@example.com", verified).unwrap();
    by("+14325551212").unwrap().refresh(&fresh.refresh_token).unwrap();
}

/// A user who changes to an address another user holds gets `AliasExistsException` before
/// anything is sent: no verification code reaches the other account's mailbox.
#[test]
fn an_address_another_user_holds_gets_no_code() {
    let f = fixture(
        "[sign_in]\nusername_attributes = ['email']\n[attribute_update]\nrequire_verification_before_update = []",
    );
    for name in ["ann", "bob"] {
        f.pool.sign_up(&format!("{name}@example.com"), PW, Attributes::new()).unwrap();
        let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
        f.pool.confirm_sign_up(&format!("{name}@example.com"), &code).unwrap();
    }
    let tokens = f.pool.sign_in("bob@example.com", PW).unwrap().tokens.unwrap();
    let sent = f.delivery.messages().len();
    let update = [("email".to_owned(), "ann@example.com".to_owned())].into();
    let err = f.pool.update_user_attributes(&tokens.access_token, update).unwrap_err();
    assert_eq!(err.code(), ErrorCode::AliasExists);
    assert_eq!(f.delivery.messages().len(), sent, "a code went to ann's address");
}

/// Groups without a precedence come after every group with one, the highest Cognito allows
/// included; a precedence Cognito cannot hold is refused.
#[test]
fn a_group_without_precedence_comes_after_the_highest_precedence() {
    let f = fixture("");
    confirmed(&f, "alice");
    let highest = u32::try_from(i32::MAX).unwrap();
    f.pool.create_group("z-last-ranked", None, Some(highest)).unwrap();
    f.pool.create_group("a-unranked", None, None).unwrap();
    for group in ["z-last-ranked", "a-unranked"] {
        f.pool.admin_add_user_to_group("alice", group).unwrap();
    }
    let tokens = signed_in(&f, "alice");
    let claims = f.pool.verify_id_token(&tokens.id_token, None).unwrap();
    assert_eq!(claims["cognito:groups"], serde_json::json!(["z-last-ranked", "a-unranked"]));
    let refused = f.pool.create_group("beyond", None, Some(highest + 1)).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter);
}

/// An alias added to a pool whose users shared a value of it stays with the first user whose
/// write takes it; the second holder's writes leave it out, where they failed for good with
/// `AliasExistsException` (sign-in included), in either store.
#[test]
fn an_alias_added_to_a_pool_with_a_shared_value_stays_its_first_holders() {
    let dir = tempfile::tempdir().unwrap();
    let stores: [Arc<dyn Store>; 2] =
        [Arc::new(MemoryStore::new()), Arc::new(userpool::SqliteStore::open(dir.path().join("pool.sqlite3")).unwrap())];
    for store in stores {
        let before = fixture_on(Arc::clone(&store), config("pool_id = 'later'"));
        // The second value is one NFKC changes: it makes two keys, which the second holder
        // leaves out both.
        for (name, value) in [("ann", "sam"), ("bob", "sam"), ("dan", "Zoe\u{308}"), ("eve", "Zoe\u{308}")] {
            confirmed(&before, name);
            let shared = Attributes::from([("preferred_username".to_owned(), value.to_owned())]);
            before.pool.admin_update_user_attributes(name, shared).unwrap();
        }
        drop(before);
        let after = fixture_on(
            Arc::clone(&store),
            config("pool_id = 'later'\n[sign_in]\nalias_attributes = ['preferred_username']"),
        );
        for name in ["ann", "bob", "dan", "eve"] {
            signed_in(&after, name);
        }
        assert_eq!(after.pool.admin_get_user("Zo\u{eb}").unwrap().username, "dan");
        after.pool.forgot_password("bob").unwrap();
        assert_eq!(after.pool.admin_get_user("sam").unwrap().username, "ann", "the first write took it");
        assert_eq!(
            after.pool.admin_get_user("bob").unwrap().attributes["preferred_username"],
            "sam",
            "bob keeps his value"
        );
        // A step that takes the alias on is refused as before.
        confirmed(&after, "carl");
        let sam = Attributes::from([("preferred_username".to_owned(), "sam".to_owned())]);
        let refused = after.pool.admin_update_user_attributes("carl", sam).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::AliasExists, "{refused}");
    }
}
