//! The security verification suite: RFC known-answer vectors, the JWT attack table,
//! user-existence protection, and secrets at rest and in output.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use userpool::{Attributes, ErrorCode, MemoryStore, SqliteStore, Store};

mod common;

use common::{Fixture, PW, config, confirmed, email, open};

fn fixture(name: &str) -> Value {
    let path = format!("{}/../fixtures/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

// ── known answers ───────────────────────────────────────────────────────────────────────

#[test]
fn rfc4226_hotp_vectors() {
    let v = fixture("rfc4226-hotp.json");
    let secret = v["secret_ascii"].as_str().unwrap().as_bytes();
    for row in v["vectors"].as_array().unwrap() {
        let counter = row["counter"].as_u64().unwrap();
        assert_eq!(userpool::scenario::hotp(secret, counter, 6), row["code"], "counter {counter}");
    }
}

/// RFC 6238 written from the RFC with ring's HMAC for each hash, checked against Appendix B
/// with the correct 20/32/64-byte seeds; the scenarios' TOTP generator is this algorithm.
#[test]
fn rfc6238_totp_vectors_for_every_hash() {
    let v = fixture("rfc6238-totp.json");
    for row in v["vectors"].as_array().unwrap() {
        let alg = row["algorithm"].as_str().unwrap();
        let seed = v["seeds_ascii"][alg].as_str().unwrap().as_bytes();
        let hmac = match alg {
            "SHA1" => ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            "SHA256" => ring::hmac::HMAC_SHA256,
            _ => ring::hmac::HMAC_SHA512,
        };
        let counter = row["time"].as_u64().unwrap() / 30;
        let mac = ring::hmac::sign(&ring::hmac::Key::new(hmac, seed), &counter.to_be_bytes());
        let mac = mac.as_ref();
        let offset = usize::from(mac[mac.len() - 1] & 0x0f);
        let binary = u32::from_be_bytes([mac[offset] & 0x7f, mac[offset + 1], mac[offset + 2], mac[offset + 3]]);
        let code = format!("{:08}", binary % 100_000_000);
        assert_eq!(code, row["code"], "{alg} at {}", row["time"]);
        if alg == "SHA1" {
            // The scenarios' generator gives the same code, truncated to the 6 digits apps use.
            let b32: String = base32(seed);
            let six = userpool::scenario::totp_code(&b32, row["time"].as_i64().unwrap()).unwrap();
            assert_eq!(six, format!("{:06}", binary % 1_000_000));
        }
    }
}

fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

#[test]
fn rfc9106_argon2_vectors() {
    use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
    let v = fixture("rfc9106-argon2.json");
    let ad = hex(v["associated_data_hex"].as_str().unwrap());
    let secret = hex(v["secret_hex"].as_str().unwrap());
    let params = ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(AssociatedData::new(&ad).unwrap())
        .output_len(32)
        .build()
        .unwrap();
    for row in v["vectors"].as_array().unwrap() {
        let algorithm = match row["variant"].as_str().unwrap() {
            "argon2id" => Algorithm::Argon2id,
            "argon2i" => Algorithm::Argon2i,
            _ => Algorithm::Argon2d,
        };
        let argon = Argon2::new_with_secret(&secret, algorithm, Version::V0x13, params.clone()).unwrap();
        let mut tag = [0u8; 32];
        argon
            .hash_password_into(
                &hex(v["password_hex"].as_str().unwrap()),
                &hex(v["salt_hex"].as_str().unwrap()),
                &mut tag,
            )
            .unwrap();
        assert_eq!(tag.to_vec(), hex(row["tag_hex"].as_str().unwrap()), "{}", row["variant"]);
    }
}

// ── pools for the attacks ───────────────────────────────────────────────────────────────

fn sign_up_and_in(f: &Fixture, name: &str) -> userpool::Tokens {
    f.pool.sign_up(name, PW, email(name)).unwrap();
    let code = f.delivery.last_code_to(&format!("{name}@example.com")).unwrap();
    f.pool.confirm_sign_up(name, &code).unwrap();
    f.pool.sign_in(name, PW).unwrap().tokens.unwrap()
}

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(i).unwrap()).unwrap()).unwrap()
}

fn with_header(token: &str, header: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), parts[1], parts[2])
}

/// `header` over `token`'s claims, signed with the pool's own private key `kid`, read from
/// the unsealed store: a forged header then carries a genuine signature, so that only the
/// check its row names can refuse it (not the signature check, as when the header is
/// changed after signing).
fn signed_with_pool_key(store: &dyn Store, pool: &str, kid: &str, header: &Value, token: &str) -> String {
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };
    let stored = store.secret(pool, "signing_keys").unwrap().unwrap();
    let keys: Value = serde_json::from_slice(&stored.value).unwrap();
    let key = keys["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap();
    let pkcs8 = URL_SAFE_NO_PAD.decode(key["private"].as_str().unwrap()).unwrap();
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), token.split('.').nth(1).unwrap());
    let rng = ring::rand::SystemRandom::new();
    let signature = match key["alg"].as_str().unwrap() {
        "ES256" => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .unwrap()
            .sign(&rng, input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
        "RS256" => {
            let key = RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
            let mut signature = vec![0; key.public().modulus_len()];
            key.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut signature).unwrap();
            signature
        }
        "EdDSA" => Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).unwrap().sign(input.as_bytes()).as_ref().to_vec(),
        other => panic!("no signer for {other}"),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A token-shaped string that only carries `claims`, for `signed_with_pool_key` to sign.
fn claims_only(claims: &Value) -> String {
    format!("x.{}.x", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn with_claims(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

#[test]
fn jwt_attack_table_es256() {
    jwt_attack_table("ES256", "x");
}

#[test]
fn jwt_attack_table_rs256() {
    jwt_attack_table("RS256", "n");
}

#[test]
fn jwt_attack_table_eddsa() {
    jwt_attack_table("EdDSA", "x");
}

/// RFC 8725 and the attack classes of performance-and-security.md §8: every row must be
/// refused by verify_access_token and verify_id_token, whatever the pool signs with.
/// `public_member` is the JWK member an algorithm-confusion attacker would use as the HMAC key.
fn jwt_attack_table(algorithm: &str, public_member: &str) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = open(Arc::clone(&store), config(&format!("pool_id = 'jwt'\n[tokens]\nalgorithm = '{algorithm}'")), None);
    let t = sign_up_and_in(&f, "alice");
    let header = part(&t.access_token, 0);
    let claims = part(&t.access_token, 1);
    assert_eq!(header["alg"], algorithm);
    let kid = header["kid"].as_str().unwrap();
    let jwks: Value = serde_json::from_str(&f.pool.jwks()).unwrap();
    let public_key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()[public_member]
        .as_str()
        .unwrap()
        .to_owned();

    // HS256 "signed" with the public key: the algorithm-confusion attack.
    let hs_header = json!({"alg": "HS256", "kid": kid});
    let hs_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(hs_header.to_string()), t.access_token.split('.').nth(1).unwrap());
    let hs_sig =
        ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, public_key.as_bytes()), hs_input.as_bytes());
    let alg_confusion = format!("{hs_input}.{}", URL_SAFE_NO_PAD.encode(hs_sig.as_ref()));

    // A token of the same pool id signed by the same keys but claiming another issuer.
    let other_iss = open(Arc::clone(&store), config("pool_id = 'jwt'\nissuer = 'https://evil.example/jwt'"), None);
    let evil = other_iss.pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    // A token from another pool in the same store.
    let tenant = open(Arc::clone(&store), config("pool_id = 'other'"), None);
    let foreign = sign_up_and_in(&tenant, "alice");

    // Each forged header is signed with the pool's own key, so that only the header check
    // its row names can refuse it; unchanged, the re-signed token verifies.
    let h = |patch: Value| {
        let mut h = header.clone();
        for (k, v) in patch.as_object().unwrap() {
            h[k] = v.clone();
        }
        signed_with_pool_key(store.as_ref(), "jwt", kid, &h, &t.access_token)
    };
    f.pool.verify_access_token(&h(json!({}))).expect("the pool's own key, re-signed, verifies");
    assert!(
        f.pool
            .verify_access_token(&with_header(
                &t.access_token,
                &json!({"alg": algorithm, "kid": kid, "typ": "JWT", "x": 1})
            ))
            .is_err(),
        "a header changed after signing fails the signature"
    );
    let cases: Vec<(&str, String)> = vec![
        ("alg none", h(json!({"alg": "none"}))),
        ("alg None", h(json!({"alg": "None"}))),
        ("alg RS384", h(json!({"alg": "RS384"}))),
        ("HS256 with the public key", alg_confusion),
        ("unknown kid", h(json!({"kid": "unknown"}))),
        ("empty kid", h(json!({"kid": ""}))),
        ("path kid", h(json!({"kid": "../../../../dev/null"}))),
        ("SQL kid", h(json!({"kid": "' OR '1'='1"}))),
        ("jku header", h(json!({"jku": "https://evil.example/jwks.json"}))),
        ("jwk header", h(json!({"jwk": {"kty": "oct", "k": "AAAA"}}))),
        ("x5u header", h(json!({"x5u": "https://evil.example/cert.pem"}))),
        ("x5c header", h(json!({"x5c": ["MIIB"]}))),
        ("crit header", h(json!({"crit": ["exp"]}))),
        ("wrong typ", h(json!({"typ": "at+jwt"}))),
        (
            "claims changed",
            with_claims(&t.access_token, &{
                let mut c = claims.clone();
                c["username"] = json!("admin");
                c
            }),
        ),
        (
            "exp extended",
            with_claims(&t.access_token, &{
                let mut c = claims;
                c["exp"] = json!(c["exp"].as_i64().unwrap() + 86_400);
                c
            }),
        ),
        ("wrong issuer", evil.access_token.clone()),
        ("another pool's token", foreign.access_token),
        ("ID token as access token", t.id_token.clone()),
        // Past the key-use check, so that only `token_use` can refuse it.
        // Past the key-use and client checks, so that only `token_use` can refuse it.
        (
            "ID claims under the access key",
            signed_with_pool_key(store.as_ref(), "jwt", kid, &header, &{
                let mut c = part(&t.id_token, 1);
                c["client_id"] = part(&t.access_token, 1)["client_id"].clone();
                claims_only(&c)
            }),
        ),
        (
            "nbf not a number",
            signed_with_pool_key(store.as_ref(), "jwt", kid, &header, &{
                let mut c = part(&t.access_token, 1);
                c["nbf"] = json!("soon");
                claims_only(&c)
            }),
        ),
        ("truncated", t.access_token[..t.access_token.len() - 10].to_owned()),
        ("padded", format!("{}==", t.access_token)),
        ("non-base64url", t.access_token.replace('-', "+").replace('_', "/") + "+/"),
        ("two parts", t.access_token.rsplit_once('.').unwrap().0.to_owned()),
        ("four parts", format!("{}.x", t.access_token)),
        ("oversized", format!("{}.{}.{}", "a".repeat(400_000), "b".repeat(400_000), "c".repeat(400_000))),
        ("empty", String::new()),
        ("whitespace", format!(" {} ", t.access_token)),
    ];
    for (name, token) in &cases {
        let err = f.pool.verify_access_token(token).unwrap_err();
        assert_eq!(err.code(), ErrorCode::NotAuthorized, "{name}");
        if *name != "ID token as access token" {
            assert!(f.pool.verify_id_token(token, None).is_err(), "{name} as an ID token");
        }
    }
    assert!(f.pool.verify_id_token(&t.access_token, None).is_err(), "access token as ID token");
    let id_header = part(&t.id_token, 0);
    let id_kid = id_header["kid"].as_str().unwrap();
    let mut access_claims = part(&t.access_token, 1);
    access_claims["aud"] = part(&t.id_token, 1)["aud"].clone();
    let access_claims_under_the_id_key =
        signed_with_pool_key(store.as_ref(), "jwt", id_kid, &id_header, &claims_only(&access_claims));
    assert!(f.pool.verify_id_token(&access_claims_under_the_id_key, None).is_err(), "access claims under the ID key");
    f.pool
        .verify_id_token(&signed_with_pool_key(store.as_ref(), "jwt", id_kid, &id_header, &t.id_token), None)
        .expect("the ID key, re-signed, verifies");
    assert!(f.pool.verify_id_token(&evil.id_token, None).is_err(), "wrong issuer ID token");

    // Expired and not yet valid, with genuine signatures: the pool's own clock moves.
    f.pool.verify_access_token(&t.access_token).unwrap();
    f.clock.advance_secs(3600);
    assert!(f.pool.verify_access_token(&t.access_token).is_err(), "expired");
    f.clock.advance_secs(-7200);
    assert!(f.pool.verify_access_token(&t.access_token).is_err(), "issued in the future (iat beyond the skew)");
    f.clock.advance_secs(3600);

    // Signed with the pool's key but living past its session (what a stolen key could make):
    // refused once the session ends, whatever its `exp`.
    let outliving = signed_with_pool_key(store.as_ref(), "jwt", kid, &header, &{
        let mut c = part(&t.access_token, 1);
        c["exp"] = json!(c["exp"].as_i64().unwrap() + 10 * 365 * 86_400);
        claims_only(&c)
    });
    f.pool.verify_access_token(&outliving).unwrap();
    let session_days = 30 * 86_400;
    f.clock.advance_secs(session_days + 2);
    assert!(f.pool.verify_access_token(&outliving).is_err(), "a token living past its session");
    f.clock.advance_secs(-(session_days + 2));

    // Revoked before: global sign-out, disable.
    f.pool.verify_access_token(&t.access_token).unwrap();
    f.pool.global_sign_out(&t.access_token).unwrap();
    assert!(f.pool.verify_access_token(&t.access_token).is_err(), "issued before global sign-out");
    let t2 = f.pool.sign_in("alice", PW).unwrap().tokens.unwrap();
    f.pool.admin_disable_user("alice").unwrap();
    assert!(f.pool.verify_access_token(&t2.access_token).is_err(), "issued before the user was disabled");
    assert!(f.pool.verify_id_token(&t2.id_token, None).is_err(), "issued before the user was disabled");
}

#[test]
fn non_utf8_and_garbage_tokens_are_typed_errors() {
    let f = open(Arc::new(MemoryStore::new()), config("pool_id = 'garbage'"), None);
    let invalid_utf8 = URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0xfd]);
    for token in [
        format!("{invalid_utf8}.{invalid_utf8}.{invalid_utf8}"),
        "\u{0}.\u{0}.\u{0}".to_owned(),
        "é.é.é".to_owned(),
        "....".to_owned(),
        format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k"}"#)),
    ] {
        assert_eq!(f.pool.verify_access_token(&token).unwrap_err().code(), ErrorCode::NotAuthorized, "{token:?}");
    }
}

// ── user-existence protection ───────────────────────────────────────────────────────────

/// Every operation that names a user answers an unknown user exactly as a real one who holds
/// a live code (a real user with none is told the code expired: `docs/security.md`, "What
/// still reveals that an account exists").
#[test]
fn unknown_users_get_the_answers_real_users_get() {
    let f = open(Arc::new(MemoryStore::new()), config("pool_id = 'enum'"), None);
    sign_up_and_in(&f, "alice");
    f.pool.sign_up("pending", PW, email("pending")).unwrap();
    let before = f.delivery.messages().len();

    let real = f.pool.sign_in("alice", "wrong password here").unwrap_err();
    let ghost = f.pool.sign_in("nobody", "wrong password here").unwrap_err();
    assert_eq!((real.code(), real.message()), (ghost.code(), ghost.message()));

    let real = f.pool.forgot_password("alice").unwrap();
    let ghost = f.pool.forgot_password("nobody").unwrap();
    assert_eq!((real.channel, real.attribute.as_str()), (ghost.channel, ghost.attribute.as_str()));
    assert_eq!(real.destination.len(), "a***@e***".len());
    assert_eq!(ghost.destination.len(), real.destination.len(), "same shape of masked destination");
    assert_eq!(f.pool.forgot_password("nobody").unwrap(), ghost, "stable for the same name");
    // Two forms of a name find the same user; so they get the same answer for nobody too.
    let (composed, decomposed) = ("nob\u{f6}dy", "nobo\u{308}dy");
    assert_eq!(f.pool.forgot_password(composed).unwrap(), f.pool.forgot_password(decomposed).unwrap());

    let real = f.pool.resend_sign_up_code("pending").unwrap();
    let ghost = f.pool.resend_sign_up_code("nobody").unwrap();
    assert_eq!((real.channel, real.destination.len()), (ghost.channel, ghost.destination.len()));

    let real = f.pool.confirm_sign_up("pending", "000000").unwrap_err();
    let ghost = f.pool.confirm_sign_up("nobody", "000000").unwrap_err();
    assert_eq!((real.code(), real.message()), (ghost.code(), ghost.message()));

    let real = f.pool.confirm_forgot_password("alice", "000000", "another passphrase!").unwrap_err();
    let ghost = f.pool.confirm_forgot_password("nobody", "000000", "another passphrase!").unwrap_err();
    assert_eq!((real.code(), real.message()), (ghost.code(), ghost.message()));
    // Real users got their messages; unknown ones got none, but the answers were the same.
    assert_eq!(f.delivery.messages().len(), before + 2);
}

/// The letters of a made-up address (a reset asked for by a username nobody has) are uniform
/// over the alphabet: they came from the base64url text of an HMAC, whose 64 characters
/// made a–f, r, t and w–z half again as likely as the rest, a tell of its own.
#[test]
fn simulated_letters_are_uniform() {
    let f = open(Arc::new(MemoryStore::new()), config("pool_id = 'enum_letters'"), None);
    let mut counts = [[0u32; 26]; 2];
    for n in 0..26_000 {
        let answer = f.pool.forgot_password(&format!("nobody{n}")).unwrap();
        let bytes = answer.destination.as_bytes();
        counts[0][usize::from(bytes[0] - b'a')] += 1;
        counts[1][usize::from(bytes[5] - b'a')] += 1;
    }
    // 1,000 expected per letter, a standard deviation of 31: the bounds are five of them.
    for (place, letters) in ["local part", "domain"].iter().zip(counts) {
        for (letter, count) in ('a'..='z').zip(letters) {
            assert!((840..=1160).contains(&count), "{place}: {letter} came {count} times in 26,000");
        }
    }
}

/// A simulated answer takes the shape a real one would for the same name: an address typed
/// as the name comes back masked as itself, the channel is the pool's first recovery
/// channel, and a real user who cannot receive a code (disabled, or nothing verified) is
/// answered and limited as an unknown name is.
#[test]
fn simulated_answers_have_the_shape_of_real_ones() {
    let f = open(
        Arc::new(MemoryStore::new()),
        config("pool_id = 'enum_shape'\n[sign_in]\nusername_attributes = ['email']"),
        None,
    );
    f.pool.sign_up("victim@corp.example", PW, Attributes::new()).unwrap();
    let code = f.delivery.last_code_to("victim@corp.example").unwrap();
    f.pool.confirm_sign_up("victim@corp.example", &code).unwrap();
    let real = f.pool.forgot_password("victim@corp.example").unwrap();
    let ghost = f.pool.forgot_password("ghost@corp.example").unwrap();
    assert_eq!((real.destination.as_str(), ghost.destination.as_str()), ("v***@c***", "g***@c***"));
    assert_eq!((real.channel, real.attribute), (ghost.channel, ghost.attribute));

    // Disabled: answered as the unknown name would be, and counted like one (each has
    // asked once already).
    f.pool.admin_disable_user("victim@corp.example").unwrap();
    for request in 2..=5 {
        let disabled = f.pool.forgot_password("victim@corp.example").unwrap();
        let ghost = f.pool.forgot_password("ghost@corp.example").unwrap();
        assert_eq!(disabled.destination, "v***@c***", "request {request}");
        assert_eq!((disabled.channel, disabled.attribute), (ghost.channel, ghost.attribute));
    }
    for name in ["victim@corp.example", "ghost@corp.example"] {
        let err = f.pool.forgot_password(name).unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded, "{name}: the sixth request of the hour");
    }

    // A pool that recovers by phone first: unknown names are answered by SMS, as a real
    // user with a verified phone number is.
    let f = open(
        Arc::new(MemoryStore::new()),
        config(
            "pool_id = 'enum_phone'\n[sign_up]\nauto_verified_attributes = ['phone_number']\n\
             [account_recovery]\nmechanisms = ['verified_phone_number', 'verified_email']",
        ),
        None,
    );
    let phone: Attributes = [("phone_number".to_owned(), "+14325551212".to_owned())].into();
    f.pool.sign_up("erin", PW, phone).unwrap();
    let code = f.delivery.last_code_to("+14325551212").unwrap();
    f.pool.confirm_sign_up("erin", &code).unwrap();
    let real = f.pool.forgot_password("erin").unwrap();
    let ghost = f.pool.forgot_password("nobody").unwrap();
    assert_eq!((real.channel, real.attribute.as_str()), (ghost.channel, ghost.attribute.as_str()));
    assert_eq!(real.destination, "+*******1212");
    assert!(
        ghost.destination.starts_with("+*******") && ghost.destination.len() == real.destination.len(),
        "{ghost:?}"
    );
    // This pool finds nobody by phone number: a real user of that name (a username) would be
    // answered with their own number, so the name is not echoed.
    let answers: Vec<String> = ["+15550001234", "+15551111234", "+15552221234"]
        .iter()
        .map(|name| f.pool.forgot_password(name).unwrap().destination)
        .collect();
    assert!(answers.iter().all(|a| a.starts_with("+*******")), "{answers:?}");
    assert!(answers.iter().any(|a| a != "+*******1234"), "{answers:?}");
}

/// Sign-ups send codes to any address they are given, so anyone can use up an address's
/// hour of messages. A code request by that address must then get the same answer whether
/// someone has it or nobody does, and must use up the same share of its hour: a name that is
/// itself the address counts against it, as the real message would.
#[test]
fn an_address_a_stranger_used_up_does_not_tell_who_has_it() {
    let f = open(
        Arc::new(MemoryStore::new()),
        config(
            "pool_id = 'enum_budget'\n[sign_in]\nalias_attributes = ['email']\n[codes]\nmax_per_destination_per_hour = 3",
        ),
        None,
    );
    confirmed(&f, "victim");
    // A real user who cannot receive a reset code is answered as an unknown name is, and
    // must use up the same share of the hour.
    confirmed(&f, "benched");
    f.pool.admin_disable_user("benched").unwrap();
    f.clock.advance_secs(3600);
    let mut answers = Vec::new();
    for (address, stranger) in
        [("victim@example.com", "mallory"), ("ghost@example.com", "trudy"), ("benched@example.com", "oscar")]
    {
        let to_address: Attributes = [("email".to_owned(), address.to_owned())].into();
        // Two of the address's three messages go to a stranger's sign-up; the code request
        // takes the third, real or simulated.
        f.pool.sign_up(&format!("{stranger}1"), PW, to_address.clone()).unwrap();
        let request = f.pool.forgot_password(address).map(|d| d.destination).map_err(|e| e.code());
        let sign_up = f.pool.sign_up(&format!("{stranger}2"), PW, to_address.clone()).map(|_| ()).map_err(|e| e.code());
        // Used up: the next request is answered as if sent, whoever has the address.
        let refused = f.pool.forgot_password(address).map(|d| d.destination).map_err(|e| e.code());
        answers.push((request.map(|d| d.len()), sign_up, refused.map(|d| d.len())));
    }
    assert_eq!(answers[0], answers[1], "victim@ and ghost@ must be told apart by nothing");
    assert_eq!(answers[2], answers[1], "benched@ (disabled) and ghost@ must be told apart by nothing");
    assert_eq!(answers[0], (Ok(9), Ok(()), Ok(9)));
}

/// A user may not make their `preferred_username` another user's `sub`: as an alias it came
/// before the `sub` in every lookup by name, so an administrator acting on the victim by
/// `sub` (disabling them, adding them to a group) acted on the attacker instead. No writer
/// may set such a value, and a name shaped as a `sub` is looked up as one first, so that a
/// value stored before this rule stands for nobody else.
#[test]
fn a_preferred_username_cannot_stand_for_another_users_sub() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = open(
        Arc::clone(&store),
        config("pool_id = 'subs'\n[sign_in]\nalias_attributes = ['preferred_username']"),
        None,
    );
    confirmed(&f, "alice");
    let alice = f.pool.admin_get_user("alice").unwrap().sub;
    let mallory = sign_up_and_in(&f, "mallory");
    let as_alice: Attributes = [("preferred_username".to_owned(), alice.clone())].into();
    let refused = f.pool.update_user_attributes(&mallory.access_token, as_alice.clone()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{refused}");
    let refused = f.pool.admin_update_user_attributes("mallory", as_alice.clone()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{refused}");
    let imported = f.pool.admin_import_users(vec![userpool::ImportUser {
        username: "trudy".into(),
        attributes: as_alice,
        password_hash: None,
    }]);
    let refused = imported.unwrap().remove(0).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidParameter, "an import may not set it either: {refused}");

    // A value stored before the rule: the `sub` still finds its own user.
    let record = store.user("subs", &f.pool.admin_get_user("mallory").unwrap().sub).unwrap().unwrap();
    let keys = vec!["u:mallory".to_owned(), format!("a:preferred_username:{alice}")];
    store
        .commit(
            "subs",
            vec![userpool::store::Write::PutUser { user: record.value, keys, expect: Some(record.version) }],
        )
        .unwrap();
    assert_eq!(f.pool.admin_get_user(&alice).unwrap().username, "alice");
    assert_eq!(f.pool.admin_get_user(&alice.to_uppercase()).unwrap().username, "alice", "in any case");
    f.pool.create_group("admins", None, None).unwrap();
    f.pool.admin_add_user_to_group(&alice, "admins").unwrap();
    assert_eq!(f.pool.admin_get_user("alice").unwrap().groups, ["admins"]);
    assert!(f.pool.admin_get_user("mallory").unwrap().groups.is_empty(), "mallory joined nothing");
}

/// A count read from a damaged record neither panics nor starts over: a code whose stored
/// wrong answers are at `u32::MAX` is used up, where adding one wrapped to a fresh set of
/// guesses (and panicked in a debug build).
#[test]
fn a_code_with_the_largest_count_of_wrong_answers_is_used_up() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = open(Arc::clone(&store), config("pool_id = 'counts'"), None);
    let sub =
        f.pool.sign_up("alice", PW, [("email".to_owned(), "alice@example.com".to_owned())].into()).unwrap().user_sub;
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    let mut record = store.user("counts", &sub).unwrap().unwrap();
    record.value.sign_up_code.as_mut().unwrap().attempts = u32::MAX;
    let write = userpool::store::Write::PutUser {
        user: record.value,
        keys: vec!["u:alice".into()],
        expect: Some(record.version),
    };
    store.commit("counts", vec![write]).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let err = f.pool.confirm_sign_up("alice", wrong).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooManyFailedAttempts, "{err}");
    let err = f.pool.confirm_sign_up("alice", &code).unwrap_err();
    assert_ne!(err.code(), ErrorCode::CodeMismatch, "the code is gone, not given new guesses");
}

/// Nor may a `preferred_username` stand for another user's address. A name shaped as an
/// email finds the user who verified that email; with nobody verified yet, it fell through to
/// the `preferred_username` alias, so a user who took `alice@corp.com` as theirs was found
/// in Alice's place while her address waited for its code: an administrator adding her to a
/// group added them.
#[test]
fn a_preferred_username_cannot_stand_for_another_users_address() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let f = open(
        Arc::clone(&store),
        config("pool_id = 'shapes'\n[sign_in]\nalias_attributes = ['email', 'phone_number', 'preferred_username']"),
        None,
    );
    let mallory = sign_up_and_in(&f, "mallory");
    for (attribute, value) in [("email", "alice@corp.com"), ("phone", "+14325551212")] {
        let taken: Attributes = [("preferred_username".to_owned(), value.to_owned())].into();
        let refused = f.pool.update_user_attributes(&mallory.access_token, taken.clone()).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{attribute}: {refused}");
        let refused = f.pool.admin_update_user_attributes("mallory", taken).unwrap_err();
        assert_eq!(refused.code(), ErrorCode::InvalidParameter, "{attribute}: {refused}");
    }

    // A value stored before the rule stands for nobody.
    let record = store.user("shapes", &f.pool.admin_get_user("mallory").unwrap().sub).unwrap().unwrap();
    let keys = vec!["u:mallory".to_owned(), "a:preferred_username:alice@corp.com".to_owned()];
    let write = userpool::store::Write::PutUser { user: record.value, keys, expect: Some(record.version) };
    store.commit("shapes", vec![write]).unwrap();
    f.pool.sign_up("alice", PW, [("email".to_owned(), "alice@corp.com".to_owned())].into()).unwrap();
    f.pool.create_group("admins", None, None).unwrap();
    let err = f.pool.admin_add_user_to_group("alice@corp.com", "admins").unwrap_err();
    assert_eq!(err.code(), ErrorCode::UserNotFound, "nobody has verified alice@corp.com");
    assert!(f.pool.admin_get_user("mallory").unwrap().groups.is_empty(), "mallory joined nothing");
    assert_eq!(f.pool.sign_in("alice@corp.com", PW).unwrap_err().code(), ErrorCode::NotAuthorized);
}

/// The same for a username that is not an address: with the recovery address of a user
/// used up by strangers' sign-ups, a reset or a resend asked for by that user's name is
/// answered as one asked for by a name no user has, sends nothing, and leaves the code the
/// user holds good. Else `LimitExceeded` would tell that the name is a user's, and whose
/// address it is.
#[test]
fn a_used_up_address_does_not_tell_whose_it_is_by_username() {
    let f = open(
        Arc::new(MemoryStore::new()),
        config("pool_id = 'enum_username'\n[codes]\nmax_per_destination_per_hour = 3"),
        None,
    );
    confirmed(&f, "alice");
    let email = |address: &str| -> Attributes { [("email".to_owned(), address.to_owned())].into() };
    f.pool.sign_up("carol", PW, email("carol@example.com")).unwrap();
    f.clock.advance_secs(3600);
    f.pool.forgot_password("alice").unwrap();
    let held = f.delivery.last_code_to("alice@example.com").unwrap();
    f.pool.sign_up("mallory1", PW, email("alice@example.com")).unwrap();
    f.pool.sign_up("mallory2", PW, email("alice@example.com")).unwrap();
    f.pool.sign_up("trudy1", PW, email("carol@example.com")).unwrap();
    f.pool.sign_up("trudy2", PW, email("carol@example.com")).unwrap();
    f.pool.sign_up("trudy3", PW, email("carol@example.com")).unwrap();
    let sent = f.delivery.messages().len();
    let real = f.pool.forgot_password("alice").map(|d| (d.channel, d.destination.len())).map_err(|e| e.code());
    let unknown = f.pool.forgot_password("nobody").map(|d| (d.channel, d.destination.len())).map_err(|e| e.code());
    assert!(real.is_ok(), "{real:?}");
    assert_eq!(real, unknown, "alice and a name no user has must be told apart by nothing");
    let resend = f.pool.resend_sign_up_code("carol").map(|d| d.channel).map_err(|e| e.code());
    let unknown = f.pool.resend_sign_up_code("nobody").map(|d| d.channel).map_err(|e| e.code());
    assert!(resend.is_ok(), "{resend:?}");
    assert_eq!(resend, unknown, "carol and a name no user has must be told apart by nothing");
    assert_eq!(f.delivery.messages().len(), sent, "nothing went out");
    f.pool.confirm_forgot_password("alice", &held, "a brand new passphrase here").unwrap();
    let last = &f.pool.admin_list_user_auth_events("alice", Some(2)).unwrap()[1];
    assert!(!last.success && last.detail.contains("not sent"), "the unsent reset is audited: {last:?}");

    // Each such request is counted, as an unknown name's is: both meet the hourly limit
    // (5 requests) at the same request.
    confirmed(&f, "dora");
    f.pool.sign_up("mallory3", PW, email("dora@example.com")).unwrap();
    f.pool.sign_up("mallory4", PW, email("dora@example.com")).unwrap();
    let answers = |name: &str| -> Vec<Result<(), ErrorCode>> {
        (0..6).map(|_| f.pool.forgot_password(name).map(drop).map_err(|e| e.code())).collect()
    };
    let (real, unknown) = (answers("dora"), answers("ghost"));
    assert_eq!(real, unknown, "dora and a name no user has must be told apart by nothing");
    assert_eq!(real.last(), Some(&Err(ErrorCode::LimitExceeded)), "{real:?}");
}

/// Anyone may ask for codes in an invited user's name and use up their hour. The code their
/// first sign-in sends (a required email given with the new password) is not one they asked
/// for, so it goes out anyway, as the sign-up's own code does.
#[test]
fn a_strangers_code_requests_do_not_block_a_first_sign_in() {
    let f = open(
        Arc::new(MemoryStore::new()),
        config("pool_id = 'invited'\n[sign_up]\nrequired_attributes = ['email']"),
        None,
    );
    f.pool.admin_create_user("bob", Attributes::new(), Some("Temp-Passw0rd!"), false).unwrap();
    for _ in 0..5 {
        f.pool.forgot_password("bob").unwrap();
    }
    assert_eq!(f.pool.forgot_password("bob").unwrap_err().code(), ErrorCode::LimitExceeded);
    let challenge = f.pool.sign_in("bob", "Temp-Passw0rd!").unwrap();
    let session = challenge.session.unwrap();
    let email: Attributes = [("email".to_owned(), "bob@example.com".to_owned())].into();
    let done = f.pool.confirm_sign_in(&session, PW, email).unwrap();
    assert!(done.is_signed_in(), "{done:?}");
    assert!(f.delivery.last_code_to("bob@example.com").is_some(), "the new address gets its code");
}

/// Lockout would reveal which accounts exist if only real ones locked: unknown names lock on
/// the same schedule.
/// An imported user without a password, under user-existence protection, is answered and
/// locked out as a wrong password is (without it they are told to reset: scenario 50).
#[test]
fn unknown_names_lock_out_like_real_accounts() {
    let f = open(Arc::new(MemoryStore::new()), config("pool_id = 'enum_lockout'"), None);
    sign_up_and_in(&f, "alice");
    let imported = userpool::ImportUser { username: "imported".into(), ..Default::default() };
    assert!(f.pool.admin_import_users(vec![imported]).unwrap()[0].is_ok());
    for name in ["alice", "nobody", "imported"] {
        for attempt in 1..=5 {
            let err = f.pool.sign_in(name, "wrong password here").unwrap_err();
            assert_eq!(err.message(), "Incorrect username or password.", "{name} attempt {attempt}");
        }
        let err = f.pool.sign_in(name, "wrong password here").unwrap_err();
        assert_eq!(err.message(), "Password attempts exceeded", "{name} is locked like a real account");
    }
    f.clock.advance_secs(1);
    assert!(f.pool.sign_in("alice", PW).unwrap().is_signed_in());
}

// ── secrets at rest and in output ───────────────────────────────────────────────────────

/// Runs the whole journey, MFA included, returning every secret that passed through.
fn journey(f: &Fixture) -> Vec<Vec<u8>> {
    let mut secrets: Vec<Vec<u8>> = vec![PW.into(), b"a brand new passphrase".to_vec()];
    let t = sign_up_and_in(f, "alice");
    for m in f.delivery.messages() {
        secrets.push(m.code.as_bytes().to_vec());
    }
    secrets.extend([t.refresh_token.as_bytes().to_vec(), t.access_token.clone().into_bytes()]);
    let r = f.pool.refresh(&t.refresh_token).unwrap();
    secrets.push(r.refresh_token.as_bytes().to_vec());
    let setup = f.pool.associate_software_token(&r.access_token).unwrap();
    secrets.push(setup.secret.as_bytes().to_vec());
    secrets.push(userpool::scenario::base32_decode(&setup.secret).unwrap());
    let code = userpool::scenario::totp_code(&setup.secret, 1_700_000_000).unwrap();
    f.pool.verify_software_token(&r.access_token, &code, None).unwrap();
    f.pool.forgot_password("alice").unwrap();
    let reset = f.delivery.last_code_to("alice@example.com").unwrap();
    secrets.push(reset.clone().into_bytes());
    f.pool.confirm_forgot_password("alice", &reset, "a brand new passphrase").unwrap();
    f.clock.advance_secs(30);
    let challenge = f.pool.sign_in("alice", "a brand new passphrase").unwrap();
    let code = userpool::scenario::totp_code(&setup.secret, 1_700_000_030).unwrap();
    let done = f.pool.confirm_sign_in(challenge.session.as_deref().unwrap(), &code, Attributes::new()).unwrap();
    secrets.push(done.tokens.unwrap().refresh_token.as_bytes().to_vec());
    secrets.push(challenge.session.unwrap().as_bytes().to_vec());
    // A password typed in the name field: neither it nor a bare hash of it (which a
    // dictionary run would find) is kept by the bookkeeping of a name no user has.
    let typed = "Tr0ub4dor&3-correct-horse";
    assert!(f.pool.sign_in(typed, "whatever").is_err());
    secrets.push(typed.as_bytes().to_vec());
    secrets.push(sha256_hex(&typed.to_lowercase()).into_bytes());
    // Nor an address's, by which its messages are counted.
    secrets.push(sha256_hex("alice@example.com").into_bytes());
    secrets
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() >= 6 && haystack.windows(needle.len()).any(|w| w == needle)
}

/// A pool with optional TOTP on a new SQLite file, sealed with an encryption key: the file's
/// directory, its path, and the pool.
fn sealed_totp_pool(pool_id: &str) -> (tempfile::TempDir, std::path::PathBuf, Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.sqlite3");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let config = config(&format!("pool_id = '{pool_id}'\n[mfa]\nmode = 'optional'\nmethods = ['totp']"));
    (dir, path, open(store, config, Some(&[9u8; 32])))
}

/// A TOTP secret altered at rest does not open with the pool's key. The pool opened, so the
/// key is the right one: the answer is an internal error naming the alteration, not the
/// configuration error of a wrong key, and no code is accepted.
#[test]
fn an_altered_totp_secret_is_an_internal_error() {
    let (_dir, path, f) = sealed_totp_pool("altered");
    let t = sign_up_and_in(&f, "alice");
    let setup = f.pool.associate_software_token(&t.access_token).unwrap();
    let code = userpool::scenario::totp_code(&setup.secret, 1_700_000_000).unwrap();
    f.pool.verify_software_token(&t.access_token, &code, None).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sealed: String = conn
        .query_row("SELECT json_extract(record, '$.mfa.totp.secret') FROM userpool_users", [], |r| r.get(0))
        .unwrap();
    let mut altered = sealed.into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    conn.execute("UPDATE userpool_users SET record = json_set(record, '$.mfa.totp.secret', ?1)", [&altered]).unwrap();

    f.clock.advance_secs(30);
    let challenge = f.pool.sign_in("alice", PW).unwrap();
    let code = userpool::scenario::totp_code(&setup.secret, 1_700_000_030).unwrap();
    let refused = f.pool.confirm_sign_in(challenge.session.as_deref().unwrap(), &code, Attributes::new()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InternalError, "{refused}");
    assert!(refused.message().contains("altered"), "{refused}");
}

#[test]
fn no_secret_is_stored_in_plain_form() {
    let (dir, _path, f) = sealed_totp_pool("at_rest");
    let secrets = journey(&f);
    drop(f);
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        raw.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(raw.len() > 10_000, "the database was written");
    for secret in &secrets {
        assert!(!contains(&raw, secret), "a secret is in the file: {}", String::from_utf8_lossy(secret));
    }
    // No private key: keys are stored as base64url PKCS#8 unless sealed, so neither its
    // P-256 header nor the raw OID appears.
    assert!(!contains(&raw, P256_PKCS8_BASE64URL));
    assert!(!contains(&raw, &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]));

    // The control: without an encryption key the same search finds the keys, so the
    // assertion above can fail.
    let unsealed_dir = tempfile::tempdir().unwrap();
    let unsealed = unsealed_dir.path().join("pool.sqlite3");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&unsealed).unwrap());
    drop(open(store, config("pool_id = 'at_rest'"), None));
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(unsealed_dir.path()).unwrap() {
        raw.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(contains(&raw, P256_PKCS8_BASE64URL), "an unsealed pool's keys are found by the search");
}

/// The start of a P-256 private key in PKCS#8 (as ring writes it), in base64url.
const P256_PKCS8_BASE64URL: &[u8] = b"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEH";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_secret_reaches_logs_or_debug_output() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || sink.clone()).finish();
    let f = open(
        Arc::new(MemoryStore::new()),
        config("pool_id = 'output'\n[mfa]\nmode = 'optional'\nmethods = ['totp']"),
        None,
    );
    let (secrets, mut output) = tracing::subscriber::with_default(subscriber, || {
        let secrets = journey(&f);
        // Everything a host might print: results, errors, messages, the pool itself.
        let mut output = String::new();
        output += &format!("{:?}", f.pool);
        output += &format!("{:?}", f.pool.config());
        for m in f.delivery.messages() {
            output += &format!("{m:?}");
        }
        let t = f.pool.sign_in("alice", "a brand new passphrase").unwrap();
        output += &format!("{t:?}");
        for err in [
            f.pool.sign_in("alice", PW).unwrap_err(),
            f.pool.confirm_sign_up("alice", "123456").unwrap_err(),
            f.pool.refresh("not-a-token").unwrap_err(),
            f.pool.verify_access_token("x.y.z").unwrap_err(),
        ] {
            output += &format!("{err:?} {err}");
        }
        (secrets, output)
    });
    output += &String::from_utf8_lossy(&captured.0.lock().unwrap());
    for secret in &secrets {
        assert!(!contains(output.as_bytes(), secret), "a secret was printed: {}", String::from_utf8_lossy(secret));
    }
}

/// The password policy refuses a new password that holds the username. Checked against the
/// username behind an address before the code, it told a stranger which username that is
/// (and that the address is someone's), with no hash spent and nothing counted.
#[test]
fn a_new_passwords_policy_does_not_name_the_user_behind_an_address() {
    let f = open(
        Arc::new(MemoryStore::new()),
        config("pool_id = 'enum_policy'\n[sign_in]\nalias_attributes = ['email']"),
        None,
    );
    confirmed(&f, "alice");
    let verified = [("email_verified".to_owned(), "true".to_owned())].into();
    f.pool.admin_update_user_attributes("alice", verified).unwrap();
    f.pool.forgot_password("alice@example.com").unwrap();
    f.pool.forgot_password("carol@example.com").unwrap();
    let new = "alice and carol went hiking";
    let real = f.pool.confirm_forgot_password("alice@example.com", "000000", new).unwrap_err();
    let ghost = f.pool.confirm_forgot_password("carol@example.com", "000000", new).unwrap_err();
    assert_eq!((real.code(), real.message()), (ghost.code(), ghost.message()));
    // With the right code, the user hears why, and the code still works for a better one.
    let code = f.delivery.last_code_to("alice@example.com").unwrap();
    let refused = f.pool.confirm_forgot_password("alice@example.com", &code, new).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidPassword);
    // The refusal is in the user's history, as a failed password change.
    let events = f.pool.admin_list_user_auth_events("alice", Some(1)).unwrap();
    assert_eq!((events[0].kind.as_str(), events[0].success), ("PasswordChange", false), "{events:?}");
    f.pool.confirm_forgot_password("alice@example.com", &code, "a brand new passphrase").unwrap();
}
