//! The driver's side of second factors: TOTP secrets are generated, sealed and checked here
//! (the flow only sees sealed secrets and the step a code matched), then the transitions
//! decide.

use zeroize::Zeroizing;

use super::{Target, UserPool, backend};
use crate::crypto::{self, totp};
use crate::error::{Error, ErrorCode, Result};
use crate::flow::{Input, MfaPreference};
use crate::results::TotpSetup;

/// A fresh TOTP secret: the plaintext to show once, the sealed form to store.
pub(super) struct NewTotpSecret {
    pub(super) plain: Zeroizing<Vec<u8>>,
    pub(super) sealed: String,
}

fn totp_label(pool: &str, sub: &str) -> String {
    format!("totp:{pool}:{sub}")
}

impl UserPool {
    pub(super) fn new_totp_secret(&self, sub: &str) -> Result<NewTotpSecret> {
        let plain = totp::new_secret(&mut crypto::os_rng());
        let sealed = self.shared.sealer.seal(&totp_label(self.pool_id(), sub), &plain)?;
        Ok(NewTotpSecret { plain, sealed: crypto::b64url(&sealed) })
    }

    /// The step `code` matches for a sealed secret at the pool's current time.
    pub(super) fn totp_step(&self, sub: &str, sealed: &str, code: &str) -> Result<Option<u64>> {
        // Without an encryption key, the stored form is the secret itself.
        let bytes = Zeroizing::new(
            crypto::b64url_decode(sealed).ok_or_else(|| Error::internal("stored TOTP secret is corrupt"))?,
        );
        let secret = self.shared.sealer.open(&totp_label(self.pool_id(), sub), &bytes)?;
        Ok(totp::matched_step(&secret, code, self.now()))
    }

    pub(super) fn totp_setup(&self, secret: &[u8], account: &str) -> Result<TotpSetup> {
        let issuer = &self.shared.settings.raw.name;
        Ok(TotpSetup {
            secret: Zeroizing::new(totp::base32(secret)),
            uri: Zeroizing::new(totp::otpauth_uri(secret, issuer, account)?),
        })
    }

    /// Starts adding an authenticator app for the signed-in user: returns the secret and the
    /// `otpauth://` URI to show as a QR code. Finish with [`UserPool::verify_software_token`].
    pub fn associate_software_token(&self, access_token: &str) -> Result<TotpSetup> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        let sub = found.value.sub.clone();
        let secret = self.new_totp_secret(&sub)?;
        pool.drive(Target::Sub(&sub), &Input::AssociateTotp { secret: secret.sealed })?;
        let account = crate::flow::display_username(&self.shared.settings, &found.value);
        self.totp_setup(&secret.plain, &account)
    }

    /// During `CONTINUE_SIGN_IN_WITH_TOTP_SETUP`: a new secret for the setup session (the
    /// one in the sign-in result stops working). Answer the session with
    /// `confirm_sign_in(session, code)`.
    pub fn associate_software_token_with_session(&self, session: &str) -> Result<TotpSetup> {
        if session.is_empty() || session.len() > 2048 {
            return Err(Error::invalid("session must be 1-2048 characters"));
        }
        let invalid = || Error::not_authorized("Invalid session for the user, session is expired.");
        let sub = crate::flow::mfa::session_sub(session).ok_or_else(invalid)?;
        let found = self.store().user(self.pool_id(), &sub).map_err(backend)?.ok_or_else(invalid)?;
        // As for an answer (`confirm_sign_in`), with the client's proof.
        self.answerable_challenge(&found.value, session)?;
        let secret = self.new_totp_secret(&sub)?;
        let input = Input::ReplaceSetupSecret { session: Zeroizing::new(session.to_owned()), secret: secret.sealed };
        self.drive(Target::Sub(&sub), &input)?;
        let account = crate::flow::display_username(&self.shared.settings, &found.value);
        self.totp_setup(&secret.plain, &account)
    }

    /// Finishes adding an authenticator with its first code; TOTP is then enabled for
    /// sign-in. A wrong code is `EnableSoftwareTokenMFAException`.
    pub fn verify_software_token(&self, access_token: &str, code: &str, friendly_name: Option<&str>) -> Result<()> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        let name = friendly_name.unwrap_or("authenticator");
        if name.is_empty() || name.len() > 128 {
            return Err(Error::invalid("friendly_name must be 1-128 characters"));
        }
        let sub = found.value.sub.clone();
        let Some(pending) = &found.value.mfa.pending_totp else {
            return Err(Error::new(
                ErrorCode::SoftwareTokenMfaNotFound,
                "No software token is being associated; call associate_software_token first.",
            ));
        };
        let step = self.totp_step(&sub, &pending.secret, code)?;
        let input = Input::VerifyTotp { step, secret_checked: pending.secret.clone(), friendly_name: name.to_owned() };
        pool.drive(Target::Sub(&sub), &input)?;
        Ok(())
    }

    /// Sets the signed-in user's second factors (Amplify's `updateMFAPreference`); `None`
    /// leaves a method as it is. SMS needs a verified phone number, email a verified email,
    /// TOTP a verified authenticator.
    pub fn set_mfa_preference(
        &self,
        access_token: &str,
        totp: Option<MfaPreference>,
        sms: Option<MfaPreference>,
        email: Option<MfaPreference>,
    ) -> Result<()> {
        let (pool, found) = self.user_from_access_token(access_token)?;
        pool.drive(Target::Sub(&found.value.sub), &Input::SetMfaPreference { totp, sms, email }).map(drop)
    }

    /// Sets a user's second factors as an administrator.
    pub fn admin_set_user_mfa_preference(
        &self,
        username: &str,
        totp: Option<MfaPreference>,
        sms: Option<MfaPreference>,
        email: Option<MfaPreference>,
    ) -> Result<()> {
        self.admin_drive(username, &Input::SetMfaPreference { totp, sms, email }).map(drop)
    }
}
