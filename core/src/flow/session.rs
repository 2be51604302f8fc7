//! Transitions of a session's refresh-token family: rotation with a grace window, reuse
//! detection that revokes the whole family (RFC 9700 §4.14), and revocation.

use zeroize::Zeroizing;

use super::Ctx;
use super::state::{AuditEvent, EventKind, Family};
use crate::crypto::codes;
use crate::error::{Error, ErrorCode, Result};

/// What a family is asked to do.
#[derive(Debug)]
pub(crate) enum SessionInput<'a> {
    /// A refresh token whose SHA-256 is `presented_hash` was presented.
    Refresh { presented_hash: &'a str },
    /// Sign-out: end this session.
    Revoke,
}

/// The family's next state, the new refresh token (when rotated), and the answer.
#[derive(Debug)]
pub(crate) struct SessionStep {
    pub(crate) family: Option<Family>,
    pub(crate) new_token: Option<Zeroizing<String>>,
    pub(crate) audit: Option<AuditEvent>,
    pub(crate) reply: Result<()>,
}

fn revoked() -> Error {
    Error::not_authorized("Refresh Token has been revoked")
}

pub(crate) fn session_transition(family: &Family, input: SessionInput<'_>, ctx: &mut Ctx<'_>) -> SessionStep {
    let keep = |reply| SessionStep { family: None, new_token: None, audit: None, reply };
    match input {
        SessionInput::Revoke => {
            if family.revoked {
                return keep(Ok(()));
            }
            let mut next = family.clone();
            next.revoked = true;
            let audit = AuditEvent {
                sub: family.sub.clone(),
                kind: EventKind::SignOut,
                success: true,
                at_ms: ctx.now,
                detail: String::new(),
            };
            SessionStep { family: Some(next), new_token: None, audit: Some(audit), reply: Ok(()) }
        }
        SessionInput::Refresh { presented_hash } => {
            if family.revoked {
                return keep(Err(revoked()));
            }
            if ctx.now >= family.expires_ms {
                return keep(Err(Error::not_authorized("Refresh Token has expired")));
            }
            if family.client_id != ctx.client.id {
                return keep(Err(Error::not_authorized("Invalid Refresh Token")));
            }
            let current = presented_hash == family.current_hash || family.siblings.iter().any(|s| s == presented_hash);
            // The window reaches as far behind the rotation as after it: two hosts a few
            // milliseconds apart, or a clock stepped back a little, still see a retry, while
            // one stepped back further (or any step back, with no grace at all) sees reuse. A
            // negative age counted as within the window, however far back, forked the
            // session even with no grace.
            let grace = ctx.client.refresh_grace_ms;
            let in_grace = family.previous_hash.as_deref() == Some(presented_hash)
                && family.rotated_ms.is_some_and(|at| (1 - grace..grace).contains(&ctx.now.saturating_sub(at)));
            if !current && !in_grace {
                // A token of this family that was rotated out: someone replayed it. The
                // server cannot tell thief from owner, so the whole session ends.
                let mut next = family.clone();
                next.revoked = true;
                let audit = AuditEvent {
                    sub: family.sub.clone(),
                    kind: EventKind::RefreshTokenReuse,
                    success: false,
                    at_ms: ctx.now,
                    detail: format!("generation {}", family.generation),
                };
                let error =
                    Error::new(ErrorCode::RefreshTokenReuse, "Refresh token has been reused; the session is revoked.");
                return SessionStep { family: Some(next), new_token: None, audit: Some(audit), reply: Err(error) };
            }
            if !ctx.client.refresh_rotation {
                return keep(Ok(()));
            }
            let token = codes::refresh_token(ctx.rng);
            let new_hash = codes::refresh_token_hash(&token);
            let mut next = family.clone();
            let mut audit = None;
            if current {
                next.previous_hash = Some(presented_hash.to_owned());
                next.rotated_ms = Some(ctx.now);
                next.siblings.clear();
                next.current_hash = new_hash;
            } else {
                // A retry within the grace window (the grace window does not restart): the
                // token the rotation issued may not have been lost, only raced (two tabs
                // refreshing at once, the client keeping the answer that came last), so it
                // stays live beside the new one until one of them is used.
                next.siblings.push(std::mem::replace(&mut next.current_hash, new_hash));
                if next.siblings.len() > super::state::MAX_SIBLINGS {
                    next.siblings.remove(0);
                }
                // Written down: the session now has two live lines, and only one of them may
                // be its owner's (a thief's replay within the window looks the same).
                audit = Some(AuditEvent {
                    sub: family.sub.clone(),
                    kind: EventKind::RefreshTokenReuse,
                    success: true,
                    at_ms: ctx.now,
                    detail: format!("generation {}: retried within the grace window", family.generation),
                });
            }
            next.generation = next.generation.saturating_add(1);
            SessionStep { family: Some(next), new_token: Some(token), audit, reply: Ok(()) }
        }
    }
}
