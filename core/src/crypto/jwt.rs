//! Compact JWS (JWT) signing and strict parsing.
//!
//! Parsing follows RFC 8725: the algorithm comes from the key (pinned per `kid`), never from
//! the header; `none`, unknown header parameters (`jku`, `jwk`, `x5u`, `x5c`, `crit`, …),
//! oversized and malformed tokens are refused before any signature work.

use ring::rand::SystemRandom;
use serde_json::{Map, Value};

use super::keys::{PrivateKey, PublicKey};
use super::{b64url, b64url_decode};
use crate::config::SigningAlgorithm;
use crate::error::{Error, Result};

/// Longest token accepted (ID tokens carry attributes, up to 2 KiB each).
pub(crate) const MAX_TOKEN_LEN: usize = 64 * 1024;

/// Most bytes of JSON a user's own claims (attributes and groups) may take, so that every ID
/// token the pool issues is one it accepts: 45 KiB of JSON is 60 KiB in base64url, which
/// leaves 4 KiB for the header, the other claims and the signature.
pub(crate) const MAX_USER_CLAIMS_LEN: usize = 45 * 1024;

/// Signs `claims` with `key`, putting `kid` and the key's algorithm in the header.
pub(crate) fn sign(key: &PrivateKey, kid: &str, alg: SigningAlgorithm, claims: &Value) -> Result<String> {
    let header = serde_json::json!({"kid": kid, "alg": alg.as_str(), "typ": "JWT"});
    let mut input = b64url(header.to_string().as_bytes());
    input.push('.');
    input.push_str(&b64url(claims.to_string().as_bytes()));
    let fail = || Error::internal("token signing failed");
    let rng = SystemRandom::new();
    let sig = match key {
        PrivateKey::Rsa(k) => {
            let mut sig = vec![0; k.public().modulus_len()];
            k.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig).map_err(|_| fail())?;
            sig
        }
        PrivateKey::Ec(k) => k.sign(&rng, input.as_bytes()).map_err(|_| fail())?.as_ref().to_vec(),
        PrivateKey::Ed(k) => k.sign(input.as_bytes()).as_ref().to_vec(),
    };
    input.push('.');
    input.push_str(&b64url(&sig));
    Ok(input)
}

/// A token split and decoded, signature not yet checked. Not `Debug`: the signing input
/// and the signature together are the bearer token.
pub(crate) struct Parsed<'a> {
    pub(crate) kid: String,
    pub(crate) alg: String,
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
    pub(crate) claims: Map<String, Value>,
}

/// Splits and decodes a compact JWS, refusing anything unusual.
pub(crate) fn parse(token: &str) -> Result<Parsed<'_>> {
    let invalid = Error::invalid_token;
    if token.len() > MAX_TOKEN_LEN || token.is_empty() {
        return Err(invalid());
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let header: Map<String, Value> =
        b64url_decode(h).and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(invalid)?;
    for name in header.keys() {
        if !matches!(name.as_str(), "alg" | "kid" | "typ") {
            return Err(invalid());
        }
    }
    let alg = header.get("alg").and_then(Value::as_str).ok_or_else(invalid)?;
    let kid = header.get("kid").and_then(Value::as_str).ok_or_else(invalid)?;
    if alg.eq_ignore_ascii_case("none") || kid.is_empty() || kid.len() > 128 {
        return Err(invalid());
    }
    if let Some(typ) = header.get("typ")
        && typ.as_str() != Some("JWT")
    {
        return Err(invalid());
    }
    let claims: Map<String, Value> =
        b64url_decode(c).and_then(|b| serde_json::from_slice(&b).ok()).ok_or_else(invalid)?;
    let signature = b64url_decode(s).ok_or_else(invalid)?;
    if signature.is_empty() {
        return Err(invalid());
    }
    Ok(Parsed {
        kid: kid.to_owned(),
        alg: alg.to_owned(),
        signing_input: &token[..h.len() + 1 + c.len()],
        signature,
        claims,
    })
}

/// Checks the signature with the key's own algorithm; the header's `alg` must agree.
pub(crate) fn check_signature(parsed: &Parsed<'_>, key: &PublicKey, alg: SigningAlgorithm) -> Result<()> {
    if parsed.alg != alg.as_str() || !key.verify(parsed.signing_input.as_bytes(), &parsed.signature) {
        return Err(Error::invalid_token());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys;

    #[test]
    fn sign_and_verify_every_algorithm() {
        for alg in [SigningAlgorithm::RS256, SigningAlgorithm::ES256, SigningAlgorithm::EdDSA] {
            let key = keys::load(alg, &keys::generate(alg).unwrap()).unwrap();
            let token = sign(&key, "k1", alg, &serde_json::json!({"sub": "x"})).unwrap();
            let parsed = parse(&token).unwrap();
            assert_eq!(parsed.kid, "k1");
            check_signature(&parsed, &key.public(), alg).unwrap();
            let forged = sign(&key, "k1", alg, &serde_json::json!({"sub": "y"})).unwrap();
            let spliced =
                format!("{}.{}", &forged[..forged.rfind('.').unwrap()], &token[token.rfind('.').unwrap() + 1..]);
            let parsed = parse(&spliced).unwrap();
            assert!(check_signature(&parsed, &key.public(), alg).is_err(), "{alg:?} accepted a spliced signature");
        }
    }

    #[test]
    fn refuses_dangerous_headers() {
        let claims = b64url(b"{}");
        for header in [
            r#"{"alg":"none","kid":"k"}"#,
            r#"{"alg":"RS256"}"#,
            r#"{"alg":"RS256","kid":""}"#,
            r#"{"alg":"RS256","kid":"k","jku":"https://evil"}"#,
            r#"{"alg":"RS256","kid":"k","jwk":{}}"#,
            r#"{"alg":"RS256","kid":"k","x5u":"https://evil"}"#,
            r#"{"alg":"RS256","kid":"k","typ":"at+jwt+evil"}"#,
        ] {
            let token = format!("{}.{claims}.c2ln", b64url(header.as_bytes()));
            assert!(parse(&token).is_err(), "{header}");
        }
        assert!(parse("a.b").is_err());
        assert!(parse(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
