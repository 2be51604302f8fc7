"""Type stub of ``userpool._native``, the compiled engine (checked by ``mypy.stubtest``).

Import from :mod:`userpool` rather than from here.
"""

import enum
from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any, Optional, Union, final

__all__ = [
    "__version__",
    "UserPool",
    "Message",
    "CodeDelivery",
    "SignUpResult",
    "SignInResult",
    "Tokens",
    "User",
    "UserList",
    "CreatedUser",
    "AttributeUpdate",
    "AuthEvent",
    "TotpSetup",
    "Group",
    "GroupList",
    "ImportUser",
    "backup_file",
    "secret_hash",
    "SignUpStep",
    "SignInStep",
    "UserStatus",
    "AuthError",
    "AliasExistsError",
    "CodeDeliveryFailureError",
    "CodeMismatchError",
    "EnableSoftwareTokenMFAError",
    "ExpiredCodeError",
    "GroupExistsError",
    "InternalErrorError",
    "InvalidParameterError",
    "InvalidPasswordError",
    "InvalidUserPoolConfigurationError",
    "LimitExceededError",
    "MFAMethodNotFoundError",
    "NotAuthorizedError",
    "OperationNotEnabledError",
    "PasswordResetRequiredError",
    "RefreshTokenReuseError",
    "ResourceNotFoundError",
    "SoftwareTokenMFANotFoundError",
    "TooManyFailedAttemptsError",
    "TooManyRequestsError",
    "UserNotConfirmedError",
    "UserNotFoundError",
    "UsernameExistsError",
    "ERROR_CODES",
]

__version__: str

ERROR_CODES: list[str]
"""Every Cognito exception name the engine can raise, one ``AuthError`` subclass each."""

class SignUpStep(str, enum.Enum):
    """The next step after ``sign_up`` (Amplify v6's ``signUpStep``)."""

    def __new__(cls, value: str) -> SignUpStep: ...

    CONFIRM_SIGN_UP = "CONFIRM_SIGN_UP"
    DONE = "DONE"

class SignInStep(str, enum.Enum):
    """The next step of a sign-in (Amplify v6's ``signInStep``)."""

    def __new__(cls, value: str) -> SignInStep: ...

    DONE = "DONE"
    CONFIRM_SIGN_UP = "CONFIRM_SIGN_UP"
    RESET_PASSWORD = "RESET_PASSWORD"
    CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED = "CONFIRM_SIGN_IN_WITH_NEW_PASSWORD_REQUIRED"
    CONFIRM_SIGN_IN_WITH_TOTP_CODE = "CONFIRM_SIGN_IN_WITH_TOTP_CODE"
    CONFIRM_SIGN_IN_WITH_SMS_CODE = "CONFIRM_SIGN_IN_WITH_SMS_CODE"
    CONFIRM_SIGN_IN_WITH_EMAIL_CODE = "CONFIRM_SIGN_IN_WITH_EMAIL_CODE"
    CONTINUE_SIGN_IN_WITH_MFA_SELECTION = "CONTINUE_SIGN_IN_WITH_MFA_SELECTION"
    CONTINUE_SIGN_IN_WITH_TOTP_SETUP = "CONTINUE_SIGN_IN_WITH_TOTP_SETUP"

class UserStatus(str, enum.Enum):
    """A user's account status (Cognito's ``UserStatusType``)."""

    def __new__(cls, value: str) -> UserStatus: ...

    UNCONFIRMED = "UNCONFIRMED"
    CONFIRMED = "CONFIRMED"
    FORCE_CHANGE_PASSWORD = "FORCE_CHANGE_PASSWORD"
    RESET_REQUIRED = "RESET_REQUIRED"

@final
class Message:
    """A message the pool asks the host's ``delivery`` callable to send. Its ``repr`` hides the code, the destination and the username."""

    @property
    def channel(self) -> str:
        """``"EMAIL"`` or ``"SMS"``."""
    @property
    def destination(self) -> str:
        """The email address or phone number (unmasked)."""
    @property
    def purpose(self) -> str:
        """``sign_up``, ``forgot_password``, ``verify_attribute``, ``invitation`` or ``mfa``."""
    @property
    def username(self) -> str:
        """The username the message concerns."""
    @property
    def code(self) -> str:
        """The code or temporary password (a secret)."""
    @property
    def subject(self) -> str:
        """The email subject (empty for SMS)."""
    @property
    def text(self) -> str:
        """The rendered text, containing the code."""

@final
class CodeDelivery:
    """Where a code was sent, with the destination masked (Amplify's ``codeDeliveryDetails``)."""

    @property
    def channel(self) -> str:
        """``"EMAIL"`` or ``"SMS"`` (Cognito's ``DeliveryMedium``)."""
    @property
    def destination(self) -> str:
        """The masked destination, e.g. ``a***@e***``."""
    @property
    def attribute(self) -> str:
        """The attribute delivered to: ``email`` or ``phone_number``."""

@final
class SignUpResult:
    """The outcome of ``sign_up``."""

    @property
    def user_sub(self) -> str:
        """The new user's ``sub``."""
    @property
    def confirmed(self) -> bool:
        """Whether the account is already confirmed."""
    @property
    def next_step(self) -> SignUpStep:
        """``CONFIRM_SIGN_UP`` (a code was sent) or ``DONE``."""
    @property
    def code_delivery(self) -> Optional[CodeDelivery]:
        """Where the confirmation code went."""

@final
class Tokens:
    """ID, access and refresh tokens. Its ``repr`` hides them."""

    @property
    def id_token(self) -> str:
        """The ID token (a JWT): who the user is."""
    @property
    def access_token(self) -> str:
        """The access token (a JWT): what the bearer may do."""
    @property
    def refresh_token(self) -> str:
        """The opaque refresh token; after a rotation, the new one."""
    @property
    def expires_in(self) -> int:
        """Seconds until the access token expires."""
    @property
    def token_type(self) -> str:
        """Always ``"Bearer"``."""

@final
class SignInResult:
    """The outcome of ``sign_in`` and ``confirm_sign_in``."""

    @property
    def next_step(self) -> SignInStep:
        """``DONE`` (tokens are attached) or the challenge to answer next."""
    @property
    def tokens(self) -> Optional[Tokens]:
        """The tokens, when ``next_step`` is ``DONE``."""
    @property
    def session(self) -> Optional[str]:
        """The opaque challenge session to pass to ``confirm_sign_in``."""
    @property
    def missing_attributes(self) -> list[str]:
        """Required attributes to give with a new password."""
    @property
    def code_delivery(self) -> Optional[CodeDelivery]:
        """Where an SMS or email sign-in code went."""
    @property
    def allowed_mfa_types(self) -> list[str]:
        """The methods to choose from (``TOTP``, ``SMS``, ``EMAIL``) at ``CONTINUE_SIGN_IN_WITH_MFA_SELECTION``."""
    @property
    def totp_setup(self) -> Optional[TotpSetup]:
        """The authenticator to add at ``CONTINUE_SIGN_IN_WITH_TOTP_SETUP``."""
    @property
    def is_signed_in(self) -> bool:
        """Whether ``next_step`` is ``DONE``."""

@final
class TotpSetup:
    """A new authenticator: show ``uri`` as a QR code, or ``secret`` for typing in. Its ``repr`` hides both."""

    @property
    def secret(self) -> str:
        """The shared secret, base32."""
    @property
    def uri(self) -> str:
        """``otpauth://totp/{pool name}:{username}?secret=…&issuer={pool name}``."""

@final
class Group:
    """A group of users (its name is what the ``cognito:groups`` claim carries)."""

    @property
    def name(self) -> str:
        """The group's name."""
    @property
    def description(self) -> Optional[str]:
        """A description."""
    @property
    def precedence(self) -> Optional[int]:
        """Lower comes first in ``cognito:groups``."""
    @property
    def created_ms(self) -> int:
        """Creation time (unix milliseconds)."""
    @property
    def updated_ms(self) -> int:
        """Last change (unix milliseconds)."""

@final
class ImportUser:
    """One user for ``admin_import_users`` (a row of Cognito's user-import CSV)."""

    def __new__(
        cls, username: str, attributes: Optional[dict[str, str]] = None, password_hash: Optional[str] = None
    ) -> ImportUser:
        """``password_hash``: an argon2id PHC string (the user is imported ``CONFIRMED``), or
        ``None`` (imported ``RESET_REQUIRED``: they set a password through ``forgot_password``)."""
    @property
    def username(self) -> str:
        """The username."""
    @property
    def attributes(self) -> dict[str, str]:
        """Attributes, including ``email_verified`` / ``phone_number_verified``, set as given."""
    @property
    def password_hash(self) -> Optional[str]:
        """The argon2id PHC string, if any."""

@final
class User:
    """A user as ``get_user``, ``admin_get_user`` and ``list_users`` report it."""

    @property
    def username(self) -> str:
        """The username (the ``sub`` when email or phone is the username)."""
    @property
    def sub(self) -> str:
        """The immutable unique id."""
    @property
    def status(self) -> UserStatus:
        """The account status."""
    @property
    def enabled(self) -> bool:
        """Whether the account may sign in."""
    @property
    def attributes(self) -> dict[str, str]:
        """Attributes, including ``sub``, as the client may read them."""
    @property
    def created_ms(self) -> int:
        """Creation time (unix milliseconds)."""
    @property
    def updated_ms(self) -> int:
        """Last change (unix milliseconds)."""
    @property
    def mfa_enabled(self) -> list[str]:
        """Second factors enabled for sign-in (``TOTP``, ``SMS``, ``EMAIL``)."""
    @property
    def preferred_mfa(self) -> Optional[str]:
        """The preferred second factor."""
    @property
    def groups(self) -> list[str]:
        """Groups, ordered by precedence then name."""
    @property
    def username_attribute(self) -> Optional[str]:
        """In a pool whose ``username_attributes`` hold both ``email`` and ``phone_number``, the
        one this user signed up with: their username. ``None`` otherwise."""

@final
class GroupList:
    """A page of ``list_groups``."""

    @property
    def groups(self) -> list[Group]:
        """The groups of this page, by name."""
    @property
    def pagination_token(self) -> Optional[str]:
        """Pass to the next ``list_groups`` call for the next page; ``None`` on the last page."""

@final
class UserList:
    """A page of ``list_users``."""

    @property
    def users(self) -> list[User]:
        """The users of this page."""
    @property
    def pagination_token(self) -> Optional[str]:
        """Pass to the next ``list_users`` call for the next page; ``None`` on the last page."""

@final
class CreatedUser:
    """The outcome of ``admin_create_user``."""

    @property
    def user(self) -> User:
        """The new user (``FORCE_CHANGE_PASSWORD``)."""
    @property
    def code_delivery(self) -> Optional[CodeDelivery]:
        """Where the invitation went, if one was sent."""

@final
class AttributeUpdate:
    """What ``update_user_attributes`` did with one attribute."""

    @property
    def attribute(self) -> str:
        """The attribute."""
    @property
    def needs_code(self) -> bool:
        """Whether the new value waits for a code (``CONFIRM_ATTRIBUTE_WITH_CODE``) or is done."""
    @property
    def code_delivery(self) -> Optional[CodeDelivery]:
        """Where the verification code went."""

@final
class AuthEvent:
    """An authentication event from ``admin_list_user_auth_events``."""

    @property
    def sub(self) -> str:
        """The user's ``sub``."""
    @property
    def kind(self) -> str:
        """What happened: ``SignIn``, ``SignUp``, ``PasswordChange``, ``Lockout``, …"""
    @property
    def success(self) -> bool:
        """Whether it succeeded."""
    @property
    def at_ms(self) -> int:
        """When (unix milliseconds)."""
    @property
    def detail(self) -> str:
        """A short reason for failures (never a secret)."""

@final
class UserPool:
    """An open user pool. Safe to share between threads; every call releases the GIL while
    the engine hashes, signs or touches the store."""

    @staticmethod
    def open(
        path: Union[str, PathLike[str], None] = None,
        config: Union[str, dict[str, Any], None] = None,
        delivery: Optional[Callable[[Message], object]] = None,
        clock: Optional[Callable[[], float]] = None,
        encryption_key: Union[bytes, bytearray, None] = None,
        existing_only: bool = False,
    ) -> UserPool:
        """Opens a pool.

        ``path``: a SQLite file (created if missing); in memory when ``None``.
        ``config``: TOML or JSON text, or a dict of the same keys; the defaults when ``None``.
        ``delivery``: called with each :class:`Message`; raising fails the operation with
        :class:`CodeDeliveryFailureError` (the exception chained), and so does returning
        ``False`` (not sent; any other answer means sent); nothing has changed but the hourly
        counts the message took. Without one, every operation that sends a code fails that
        way.
        ``clock``: returns unix milliseconds (tests move time with it); the system clock when ``None``.
        ``encryption_key``: 32 bytes (``bytes``, or a ``bytearray`` the caller may wipe after
        ``open``) that seal signing keys and secrets at rest.
        ``existing_only``: for tools that administer a pool that must be there already. A
        missing file, one without userpool's tables, or one an older userpool wrote (its app
        upgrades it) raises :class:`InvalidParameterError` and is left as it is; a pool id the file does not hold raises
        :class:`ResourceNotFoundError`. Nothing is created either way.
        """
    def with_client(self, client_id: str, client_secret: Optional[str] = None) -> UserPool:
        """The same pool acting as another app client (a client with a secret needs it)."""
    def with_client_secret_hash(self, client_id: str, secret_hash: str) -> UserPool:
        """The same pool acting as a client with a secret, proven per call by Cognito's
        ``SECRET_HASH`` (see :func:`secret_hash`) for the username each call names; a challenge
        answer takes the one the call that started the challenge gave (the sign-in, or the answer
        before), a refresh one over the internal username."""
    @property
    def pool_id(self) -> str:
        """The pool id."""
    @property
    def issuer(self) -> str:
        """The token issuer (``iss``)."""
    def config(self) -> str:
        """The configuration the pool runs on, as TOML text; client secrets show as ``"<redacted>"``."""
    def close(self) -> None:
        """Closes this handle: later calls on it raise :class:`InvalidParameterError`, while
        calls already running finish. The pool (its file, its delivery and clock) is released
        once every handle on it is closed or collected: this one and those ``with_client``
        made. A delivery or clock that refers to its pool keeps it alive until then: the
        references the pool holds to them are not ones Python's cycle collector sees.
        Closing twice does nothing. ``with UserPool.open(...) as pool:`` closes on exit."""
    def __enter__(self) -> UserPool: ...
    def __exit__(self, *exc: object) -> bool: ...
    def sign_up(self, username: str, password: str, attributes: Optional[dict[str, str]] = None) -> SignUpResult:
        """Registers a user; the confirmation code goes out through ``delivery``."""
    def confirm_sign_up(self, username: str, code: str) -> None:
        """Confirms a new account with the code it was sent."""
    def resend_sign_up_code(self, username: str) -> CodeDelivery:
        """Sends a new confirmation code (the old one stops working)."""
    def sign_in(self, username: str, password: str) -> SignInResult:
        """Signs in with a password: tokens (``DONE``) or the next step to take."""
    def confirm_sign_in(
        self, session: str, answer: str, attributes: Optional[dict[str, str]] = None
    ) -> SignInResult:
        """Answers a sign-in challenge with its ``session``; for a new password, ``attributes``
        carries the missing required attributes."""
    def refresh(self, refresh_token: str) -> Tokens:
        """New ID and access tokens; the refresh token rotates, and reusing a rotated one
        revokes the session (:class:`RefreshTokenReuseError`)."""
    def sign_out(self, refresh_token: str) -> None:
        """Ends the session the refresh token belongs to."""
    def global_sign_out(self, access_token: str) -> None:
        """Ends every session of the token's user."""
    def jwks(self) -> str:
        """The public keys as a JWKS JSON document (serve it at ``/.well-known/jwks.json``)."""
    def rotate_signing_keys(self) -> None:
        """Replaces the signing keys; tokens signed by the old ones verify until they expire."""
    def revoke_signing_keys(self) -> None:
        """Replaces the signing keys and drops the old ones at once, for a key that leaked:
        every token they signed stops verifying here now, and in the pool's other processes
        within a minute. Sessions go on: clients refresh to get tokens under the new keys."""
    def verify_access_token(self, token: str, client_id: Optional[str] = None) -> dict[str, Any]:
        """Verifies an access token (signature, issuer, use, expiry, client, revocation) and
        returns its claims: a token of ``client_id`` only, or of any of the pool's clients when
        ``None``."""
    def verify_id_token(self, token: str, client_id: Optional[str] = None) -> dict[str, Any]:
        """Verifies an ID token for ``client_id`` (this pool view's client when ``None``)."""
    def associate_software_token(self, access_token: str) -> TotpSetup:
        """Starts adding an authenticator app for the signed-in user; finish with ``verify_software_token``."""
    def associate_software_token_with_session(self, session: str) -> TotpSetup:
        """During ``CONTINUE_SIGN_IN_WITH_TOTP_SETUP``: a new secret for the setup session; answer
        the session with ``confirm_sign_in(session, code)``."""
    def verify_software_token(self, access_token: str, code: str, friendly_name: Optional[str] = None) -> None:
        """Finishes adding an authenticator with its first code (a wrong one raises
        :class:`EnableSoftwareTokenMFAError`); TOTP is then enabled for sign-in."""
    def set_mfa_preference(
        self,
        access_token: str,
        totp: Optional[str] = None,
        sms: Optional[str] = None,
        email: Optional[str] = None,
    ) -> None:
        """Sets the signed-in user's second factors (Amplify's ``updateMFAPreference``): each is
        ``ENABLED``, ``DISABLED``, ``PREFERRED``, ``NOT_PREFERRED`` or ``None`` (unchanged)."""
    def admin_set_user_mfa_preference(
        self,
        username: str,
        totp: Optional[str] = None,
        sms: Optional[str] = None,
        email: Optional[str] = None,
    ) -> None:
        """Sets a user's second factors as an administrator (values as ``set_mfa_preference``)."""
    def create_group(
        self, name: str, description: Optional[str] = None, precedence: Optional[int] = None
    ) -> Group:
        """Creates a group."""
    def update_group(
        self, name: str, description: Optional[str] = None, precedence: Optional[int] = None
    ) -> Group:
        """Changes a group's description or precedence; what is ``None`` stays as it is."""
    def get_group(self, name: str) -> Group:
        """A group by name."""
    def list_groups(self, limit: Optional[int] = None, pagination_token: Optional[str] = None) -> GroupList:
        """The groups by name, a page at a time (``limit``: 1 to 60, 60 when ``None``)."""
    def delete_group(self, name: str) -> None:
        """Deletes a group and removes every user from it."""
    def admin_add_user_to_group(self, username: str, group: str) -> None:
        """Adds a user to a group."""
    def admin_remove_user_from_group(self, username: str, group: str) -> None:
        """Removes a user from a group."""
    def admin_list_groups_for_user(self, username: str) -> list[Group]:
        """The groups a user belongs to, by precedence."""
    def list_users_in_group(
        self, group: str, limit: Optional[int] = None, pagination_token: Optional[str] = None
    ) -> UserList:
        """The users of a group, paged like ``list_users``."""
    def admin_import_users(self, users: Sequence[ImportUser]) -> list[Union[str, AuthError]]:
        """Imports users in one transaction, sending nothing and hashing nothing. Returns, per
        user in order, its new ``sub`` or the :class:`AuthError` (returned, not raised) saying
        why it was skipped; raises only when the store fails."""
    def get_user(self, access_token: str) -> User:
        """The user an access token belongs to."""
    def change_password(self, access_token: str, old_password: str, new_password: str) -> None:
        """Changes the signed-in user's password after checking the old one."""
    def update_user_attributes(self, access_token: str, attributes: dict[str, str]) -> list[AttributeUpdate]:
        """Updates the signed-in user's attributes; a changed email or phone may wait for a code."""
    def get_user_attribute_verification_code(self, access_token: str, attribute: str) -> CodeDelivery:
        """Sends a verification code for ``email`` or ``phone_number``."""
    def verify_user_attribute(self, access_token: str, attribute: str, code: str) -> None:
        """Verifies an attribute with its code."""
    def delete_user_attributes(self, access_token: str, names: Sequence[str]) -> None:
        """Deletes attributes of the signed-in user."""
    def delete_user(self, access_token: str) -> None:
        """Deletes the signed-in user and every session."""
    def forgot_password(self, username: str) -> CodeDelivery:
        """Sends a password-reset code."""
    def confirm_forgot_password(self, username: str, code: str, new_password: str) -> None:
        """Sets a new password with the reset code; every session of the user ends."""
    def admin_create_user(
        self,
        username: str,
        attributes: Optional[dict[str, str]] = None,
        temporary_password: Optional[str] = None,
        *,
        send_invitation: bool,
    ) -> CreatedUser:
        """Creates a user in ``FORCE_CHANGE_PASSWORD`` with a temporary password (generated
        when ``None``); the invitation is sent when ``send_invitation`` is true."""
    def admin_get_user(self, username: str) -> User:
        """A user by username, alias or ``sub``."""
    def admin_delete_user(self, username: str) -> None:
        """Deletes a user and every session."""
    def admin_disable_user(self, username: str) -> None:
        """Disables a user and revokes every session."""
    def admin_enable_user(self, username: str) -> None:
        """Re-enables a user."""
    def admin_confirm_sign_up(self, username: str) -> None:
        """Confirms a user without a code."""
    def admin_reset_user_password(self, username: str) -> Optional[CodeDelivery]:
        """Puts the user in ``RESET_REQUIRED``, ends their sessions and sends a reset code to a
        verified recovery channel if there is one. ``None`` when no code went out (no such
        channel, or the delivery failed or met the address's hourly limit): the reset holds
        either way."""
    def admin_set_user_password(self, username: str, password: str, permanent: bool) -> None:
        """Sets a password: permanent (``CONFIRMED``) or temporary (``FORCE_CHANGE_PASSWORD``)."""
    def admin_update_user_attributes(self, username: str, attributes: dict[str, str]) -> None:
        """Updates attributes as an administrator (immediate; verification flags allowed)."""
    def admin_delete_user_attributes(self, username: str, names: Sequence[str]) -> None:
        """Deletes attributes as an administrator."""
    def admin_user_global_sign_out(self, username: str) -> None:
        """Ends every session of a user."""
    def list_users(
        self, filter: Optional[str] = None, limit: Optional[int] = None, pagination_token: Optional[str] = None
    ) -> UserList:
        """Lists users, optionally filtered (``email ^= "ali"``, ``cognito:user_status = "CONFIRMED"``),
        at most ``limit`` (1-60) per page."""
    def admin_list_user_auth_events(self, username: str, limit: Optional[int] = None) -> list[AuthEvent]:
        """A user's most recent authentication events, newest first."""
    def backup_to(self, dest: Union[str, PathLike[str]]) -> None:
        """Copies the pool's file, as of one moment, into the new file ``dest`` (owner-only,
        synced, named only once whole) while the pool goes on serving. Raises
        :class:`InvalidParameterError` when ``dest`` exists or its directory does not, and for
        a pool in memory."""

def backup_file(path: Union[str, PathLike[str]], dest: Union[str, PathLike[str]]) -> None:
    """Copies the pool file at ``path`` into the new file ``dest``, as :meth:`UserPool.backup_to`
    does, without opening it as a pool: nothing in it changes, even a file an older userpool
    wrote. For a copy taken before a new version of the app opens (and so migrates) the file.
    Raises :class:`InvalidParameterError` when ``path`` is missing or holds no pools, or
    ``dest`` is refused as ``backup_to`` refuses it. Blocks: from async code, run it with
    ``asyncio.to_thread``."""

def secret_hash(client_secret: str, username: str, client_id: str) -> str:
    """Cognito's ``SECRET_HASH``: base64(HMAC-SHA256(client_secret, username + client_id))."""

class AuthError(Exception):
    """Base of every userpool error: ``code`` is the Cognito exception name (as Amplify's
    ``error.code``), ``message`` a text for people, free of secrets."""

    code: str
    message: str

class AliasExistsError(AuthError):
    """`AliasExistsException`: An email, phone number or preferred username that another user already
    holds (as a verified alias, or as the username where users sign in by email or phone number)."""

class CodeDeliveryFailureError(AuthError):
    """`CodeDeliveryFailureException`: A message carrying a code could not be delivered."""

class CodeMismatchError(AuthError):
    """`CodeMismatchException`: A confirmation, reset or MFA code is wrong."""

class EnableSoftwareTokenMFAError(AuthError):
    """`EnableSoftwareTokenMFAException`: The TOTP code given to `verify_software_token` is wrong."""

class ExpiredCodeError(AuthError):
    """`ExpiredCodeException`: A code has expired, or none was requested."""

class GroupExistsError(AuthError):
    """`GroupExistsException`: A group with that name already exists."""

class InternalErrorError(AuthError):
    """`InternalErrorException`: An unexpected internal failure (a bug, or a store that failed)."""

class InvalidParameterError(AuthError):
    """`InvalidParameterException`: An input is malformed, out of range or not allowed."""

class InvalidPasswordError(AuthError):
    """`InvalidPasswordException`: A password breaks the pool's password policy."""

class InvalidUserPoolConfigurationError(AuthError):
    """`InvalidUserPoolConfigurationException`: The pool configuration is invalid."""

class LimitExceededError(AuthError):
    """`LimitExceededException`: A per-user or per-pool limit was reached (codes sent, attempts)."""

class MFAMethodNotFoundError(AuthError):
    """`MFAMethodNotFoundException`: The MFA method asked for is not available to this user."""

class NotAuthorizedError(AuthError):
    """`NotAuthorizedException`: Authentication failed: wrong password, revoked or expired token, disabled user, …"""

class OperationNotEnabledError(AuthError):
    """`OperationNotEnabledException`: The pool's configuration does not allow this operation."""

class PasswordResetRequiredError(AuthError):
    """`PasswordResetRequiredException`: The user must reset their password before signing in."""

class RefreshTokenReuseError(AuthError):
    """`RefreshTokenReuseException`: A rotated-out refresh token was presented again; its whole family is now revoked."""

class ResourceNotFoundError(AuthError):
    """`ResourceNotFoundException`: A group or other named resource does not exist."""

class SoftwareTokenMFANotFoundError(AuthError):
    """`SoftwareTokenMFANotFoundException`: TOTP is not set up for this user."""

class TooManyFailedAttemptsError(AuthError):
    """`TooManyFailedAttemptsException`: Too many wrong answers for one code; the code is now invalid."""

class TooManyRequestsError(AuthError):
    """`TooManyRequestsException`: Too many requests."""

class UserNotConfirmedError(AuthError):
    """`UserNotConfirmedException`: The user has not confirmed their account."""

class UserNotFoundError(AuthError):
    """`UserNotFoundException`: The user does not exist."""

class UsernameExistsError(AuthError):
    """`UsernameExistsException`: The username is taken."""
