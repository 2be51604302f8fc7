"""The asyncio flavour of :class:`userpool.UserPool`: the same methods as ``async def``.

Each call runs the synchronous method in a worker thread (``asyncio.to_thread``), where the
engine releases the GIL while it hashes, signs or touches the store, so the event loop keeps
serving other requests. The ``delivery`` and ``clock`` callables therefore run in that worker
thread too. This module only forwards: the engine does the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from os import PathLike
from typing import Any, Optional, Union

from userpool import _native
from userpool._native import (
    AttributeUpdate,
    AuthError,
    AuthEvent,
    CodeDelivery,
    CreatedUser,
    Group,
    GroupList,
    ImportUser,
    Message,
    SignInResult,
    SignUpResult,
    Tokens,
    TotpSetup,
    User,
    UserList,
)

__all__ = ["UserPool"]


class UserPool:
    """An open user pool with ``async`` methods; wraps a :class:`userpool.UserPool`."""

    def __init__(self, pool: _native.UserPool) -> None:
        """Wraps an open synchronous pool (they share everything)."""
        self._pool = pool

    @classmethod
    async def open(
        cls,
        path: Union[str, PathLike[str], None] = None,
        config: Union[str, dict[str, Any], None] = None,
        delivery: Optional[Callable[[Message], object]] = None,
        clock: Optional[Callable[[], float]] = None,
        encryption_key: Union[bytes, bytearray, None] = None,
        existing_only: bool = False,
    ) -> UserPool:
        """Opens a pool off the event loop; the arguments are those of :meth:`userpool.UserPool.open`."""
        pool = await asyncio.to_thread(
            _native.UserPool.open, path, config, delivery, clock, encryption_key, existing_only
        )
        return cls(pool)

    @property
    def sync(self) -> _native.UserPool:
        """The synchronous pool this one wraps."""
        return self._pool

    def with_client(self, client_id: str, client_secret: Optional[str] = None) -> UserPool:
        """The same pool acting as another app client (no I/O, so not a coroutine)."""
        return UserPool(self._pool.with_client(client_id, client_secret))

    def with_client_secret_hash(self, client_id: str, secret_hash: str) -> UserPool:
        """The same pool acting as a client proven by Cognito's ``SECRET_HASH`` per call."""
        return UserPool(self._pool.with_client_secret_hash(client_id, secret_hash))

    @property
    def pool_id(self) -> str:
        """The pool id."""
        return self._pool.pool_id

    @property
    def issuer(self) -> str:
        """The token issuer (``iss``)."""
        return self._pool.issuer

    def config(self) -> str:
        """The configuration the pool runs on, as TOML text; client secrets show as ``"<redacted>"``."""
        return self._pool.config()

    def close(self) -> None:
        """Closes this handle, as :meth:`userpool.UserPool.close`. Closing a pool's last handle
        ends its store, a SQLite checkpoint and sync that blocks: in a coroutine, ``await
        aclose()``, which ``async with`` does on exit."""
        self._pool.close()

    async def aclose(self) -> None:
        """Closes this handle in a worker thread, off the event loop (see :meth:`close`)."""
        await asyncio.to_thread(self._pool.close)

    async def __aenter__(self) -> UserPool:
        return self

    async def __aexit__(self, *exc: object) -> bool:
        await self.aclose()
        return False

    async def sign_up(self, username: str, password: str, attributes: Optional[dict[str, str]] = None) -> SignUpResult:
        """Registers a user; the confirmation code goes out through ``delivery``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.sign_up, username, password, attributes)

    async def confirm_sign_up(self, username: str, code: str) -> None:
        """Confirms a new account with the code it was sent.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.confirm_sign_up, username, code)

    async def resend_sign_up_code(self, username: str) -> CodeDelivery:
        """Sends a new confirmation code (the old one stops working).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.resend_sign_up_code, username)

    async def sign_in(self, username: str, password: str) -> SignInResult:
        """Signs in with a password: tokens (``DONE``) or the next step to take.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.sign_in, username, password)

    async def confirm_sign_in(self, session: str, answer: str, attributes: Optional[dict[str, str]] = None) -> SignInResult:
        """Answers a sign-in challenge with its ``session``; for a new password, ``attributes`` carries the missing required attributes.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.confirm_sign_in, session, answer, attributes)

    async def refresh(self, refresh_token: str) -> Tokens:
        """New ID and access tokens; the refresh token rotates, and reusing a rotated one revokes the session (:class:`RefreshTokenReuseError`).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.refresh, refresh_token)

    async def sign_out(self, refresh_token: str) -> None:
        """Ends the session the refresh token belongs to.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.sign_out, refresh_token)

    async def global_sign_out(self, access_token: str) -> None:
        """Ends every session of the token's user.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.global_sign_out, access_token)

    async def jwks(self) -> str:
        """The public keys as a JWKS JSON document (serve it at ``/.well-known/jwks.json``).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.jwks)

    async def rotate_signing_keys(self) -> None:
        """Replaces the signing keys; tokens signed by the old ones verify until they expire.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.rotate_signing_keys)

    async def revoke_signing_keys(self) -> None:
        """Replaces the signing keys and drops the old ones at once, for a key that leaked:
        every token they signed stops verifying here now, and in the pool's other processes
        within a minute. Sessions go on: clients refresh to get tokens under the new keys.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.revoke_signing_keys)

    async def verify_access_token(self, token: str, client_id: Optional[str] = None) -> dict[str, Any]:
        """Verifies an access token (signature, issuer, use, expiry, client, revocation) and returns its claims:
        a token of ``client_id`` only, or of any of the pool's clients when ``None``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.verify_access_token, token, client_id)

    async def verify_id_token(self, token: str, client_id: Optional[str] = None) -> dict[str, Any]:
        """Verifies an ID token for ``client_id`` (this pool view's client when ``None``).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.verify_id_token, token, client_id)

    async def associate_software_token(self, access_token: str) -> TotpSetup:
        """Starts adding an authenticator app for the signed-in user; finish with ``verify_software_token``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.associate_software_token, access_token)

    async def associate_software_token_with_session(self, session: str) -> TotpSetup:
        """During ``CONTINUE_SIGN_IN_WITH_TOTP_SETUP``: a new secret for the setup session; answer the session with ``confirm_sign_in(session, code)``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.associate_software_token_with_session, session)

    async def verify_software_token(self, access_token: str, code: str, friendly_name: Optional[str] = None) -> None:
        """Finishes adding an authenticator with its first code (a wrong one raises :class:`EnableSoftwareTokenMFAError`); TOTP is then enabled for sign-in.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.verify_software_token, access_token, code, friendly_name)

    async def set_mfa_preference(self, access_token: str, totp: Optional[str] = None, sms: Optional[str] = None, email: Optional[str] = None) -> None:
        """Sets the signed-in user's second factors (Amplify's ``updateMFAPreference``): each is ``ENABLED``, ``DISABLED``, ``PREFERRED``, ``NOT_PREFERRED`` or ``None`` (unchanged).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.set_mfa_preference, access_token, totp, sms, email)

    async def admin_set_user_mfa_preference(self, username: str, totp: Optional[str] = None, sms: Optional[str] = None, email: Optional[str] = None) -> None:
        """Sets a user's second factors as an administrator (values as ``set_mfa_preference``).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_set_user_mfa_preference, username, totp, sms, email)

    async def create_group(self, name: str, description: Optional[str] = None, precedence: Optional[int] = None) -> Group:
        """Creates a group.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.create_group, name, description, precedence)

    async def update_group(self, name: str, description: Optional[str] = None, precedence: Optional[int] = None) -> Group:
        """Changes a group's description or precedence; what is ``None`` stays as it is.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.update_group, name, description, precedence)

    async def get_group(self, name: str) -> Group:
        """A group by name.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.get_group, name)

    async def list_groups(self, limit: Optional[int] = None, pagination_token: Optional[str] = None) -> GroupList:
        """The groups by name, a page at a time (``limit``: 1 to 60, 60 when ``None``).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.list_groups, limit, pagination_token)

    async def delete_group(self, name: str) -> None:
        """Deletes a group and removes every user from it.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.delete_group, name)

    async def admin_add_user_to_group(self, username: str, group: str) -> None:
        """Adds a user to a group.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_add_user_to_group, username, group)

    async def admin_remove_user_from_group(self, username: str, group: str) -> None:
        """Removes a user from a group.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_remove_user_from_group, username, group)

    async def admin_list_groups_for_user(self, username: str) -> list[Group]:
        """The groups a user belongs to, by precedence.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_list_groups_for_user, username)

    async def list_users_in_group(self, group: str, limit: Optional[int] = None, pagination_token: Optional[str] = None) -> UserList:
        """The users of a group, paged like ``list_users``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.list_users_in_group, group, limit, pagination_token)

    async def admin_import_users(self, users: Sequence[ImportUser]) -> list[Union[str, AuthError]]:
        """Imports users in one transaction, sending nothing and hashing nothing. Returns, per user in order, its new ``sub`` or the :class:`AuthError` (returned, not raised) saying why it was skipped; raises only when the store fails.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_import_users, users)

    async def get_user(self, access_token: str) -> User:
        """The user an access token belongs to.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.get_user, access_token)

    async def change_password(self, access_token: str, old_password: str, new_password: str) -> None:
        """Changes the signed-in user's password after checking the old one.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.change_password, access_token, old_password, new_password)

    async def update_user_attributes(self, access_token: str, attributes: dict[str, str]) -> list[AttributeUpdate]:
        """Updates the signed-in user's attributes; a changed email or phone may wait for a code.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.update_user_attributes, access_token, attributes)

    async def get_user_attribute_verification_code(self, access_token: str, attribute: str) -> CodeDelivery:
        """Sends a verification code for ``email`` or ``phone_number``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.get_user_attribute_verification_code, access_token, attribute)

    async def verify_user_attribute(self, access_token: str, attribute: str, code: str) -> None:
        """Verifies an attribute with its code.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.verify_user_attribute, access_token, attribute, code)

    async def delete_user_attributes(self, access_token: str, names: Sequence[str]) -> None:
        """Deletes attributes of the signed-in user.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.delete_user_attributes, access_token, names)

    async def delete_user(self, access_token: str) -> None:
        """Deletes the signed-in user and every session.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.delete_user, access_token)

    async def forgot_password(self, username: str) -> CodeDelivery:
        """Sends a password-reset code.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.forgot_password, username)

    async def confirm_forgot_password(self, username: str, code: str, new_password: str) -> None:
        """Sets a new password with the reset code; every session of the user ends.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.confirm_forgot_password, username, code, new_password)

    async def admin_create_user(self, username: str, attributes: Optional[dict[str, str]] = None, temporary_password: Optional[str] = None, *, send_invitation: bool) -> CreatedUser:
        """Creates a user in ``FORCE_CHANGE_PASSWORD`` with a temporary password (generated when ``None``); the invitation is sent when ``send_invitation`` is true.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_create_user, username, attributes, temporary_password, send_invitation=send_invitation)

    async def admin_get_user(self, username: str) -> User:
        """A user by username, alias or ``sub``.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_get_user, username)

    async def admin_delete_user(self, username: str) -> None:
        """Deletes a user and every session.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_delete_user, username)

    async def admin_disable_user(self, username: str) -> None:
        """Disables a user and revokes every session.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_disable_user, username)

    async def admin_enable_user(self, username: str) -> None:
        """Re-enables a user.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_enable_user, username)

    async def admin_confirm_sign_up(self, username: str) -> None:
        """Confirms a user without a code.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_confirm_sign_up, username)

    async def admin_reset_user_password(self, username: str) -> Optional[CodeDelivery]:
        """Puts the user in ``RESET_REQUIRED``, ends their sessions and sends a reset code to a verified recovery channel if there is one. ``None`` when no code went out (no such channel, or the delivery failed or met the address's hourly limit): the reset holds either way.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_reset_user_password, username)

    async def admin_set_user_password(self, username: str, password: str, permanent: bool) -> None:
        """Sets a password: permanent (``CONFIRMED``) or temporary (``FORCE_CHANGE_PASSWORD``).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_set_user_password, username, password, permanent)

    async def admin_update_user_attributes(self, username: str, attributes: dict[str, str]) -> None:
        """Updates attributes as an administrator (immediate; verification flags allowed).

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_update_user_attributes, username, attributes)

    async def admin_delete_user_attributes(self, username: str, names: Sequence[str]) -> None:
        """Deletes attributes as an administrator.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_delete_user_attributes, username, names)

    async def admin_user_global_sign_out(self, username: str) -> None:
        """Ends every session of a user.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_user_global_sign_out, username)

    async def list_users(self, filter: Optional[str] = None, limit: Optional[int] = None, pagination_token: Optional[str] = None) -> UserList:
        """Lists users, optionally filtered (``email ^= "ali"``, ``cognito:user_status = "CONFIRMED"``), at most ``limit`` (1-60) per page.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.list_users, filter, limit, pagination_token)

    async def admin_list_user_auth_events(self, username: str, limit: Optional[int] = None) -> list[AuthEvent]:
        """A user's most recent authentication events, newest first.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.admin_list_user_auth_events, username, limit)

    async def backup_to(self, dest: Union[str, PathLike[str]]) -> None:
        """Copies the pool's file, as of one moment, into the new file ``dest`` (owner-only,
        synced, named only once whole) while the pool goes on serving.

        Runs in a worker thread, off the event loop.
        """
        return await asyncio.to_thread(self._pool.backup_to, dest)
