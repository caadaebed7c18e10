"""Console users: the rules of a user's fields, logging in, and changing one's own password.

What admins do to users (create, edit, disable, reset a password) is in
:mod:`hcrm_core.services.user_admin`; both keep argon2 off the event loop and outside any
database transaction (:mod:`hcrm_core.services.passwords`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DuplicateRecord, NotFound, ValidationFailed
from hcrm_core.models import AuditAction, Role, User, utcnow
from hcrm_core.services.audit import add_audit
from hcrm_core.services.passwords import (
    DUMMY_HASH,
    check_password,
    hash_off_loop,
    hash_password,
    matches_off_loop,
    needs_rehash,
)
from hcrm_core.services.passwords import matches as _matches

MAX_USERNAME = 64
MAX_DISPLAY_NAME = 120
_USERNAME_RE = re.compile(r"[a-z0-9._-]{1,64}", re.ASCII)
# What an agent's phone extension may be: the desk builds a dial string from it.
_EXTENSION_RE = re.compile(r"[0-9]{2,8}", re.ASCII)


class UserNotFound(NotFound):
    code = "user_not_found"


class Taken(ValidationFailed, DuplicateRecord):
    """A username or extension someone else holds: a 409 that names the field."""

    code = "duplicate"
    http_status = 409


def valid_username(raw: str) -> str:
    username = raw.strip().lower()
    if not _USERNAME_RE.fullmatch(username):
        raise ValidationFailed("username", "use 1-64 letters, digits, '.', '_' or '-'")
    return username


def valid_extension(raw: str | None) -> str | None:
    """The extension as stored (None: no extension), or :class:`ValidationFailed`."""
    if raw is None or not raw.strip():
        return None
    extension = raw.strip()
    if not _EXTENSION_RE.fullmatch(extension):
        raise ValidationFailed("extension", "use 2-8 digits")
    return extension


def valid_display_name(raw: str | None, username: str) -> str:
    name = " ".join((raw or "").split())
    if len(name) > MAX_DISPLAY_NAME:
        raise ValidationFailed("display_name", f"at most {MAX_DISPLAY_NAME} characters")
    return name or username


def valid_role(raw: str | Role) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise ValidationFailed("role", "choose agent, supervisor or admin") from None


async def ensure_username_free(session: AsyncSession, username: str) -> None:
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Taken("username", f"a user named {username!r} already exists")


async def ensure_extension_free(session: AsyncSession, extension: str | None, user_id: int) -> None:
    """Refuse ``extension`` when another active user holds it (a unique index backs this)."""
    if extension is None:
        return
    holder = await session.scalar(
        select(User.username).where(
            User.extension == extension, User.active.is_(True), User.id != user_id
        )
    )
    if holder is not None:
        raise Taken("extension", f"extension {extension} is already assigned to {holder!r}")


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    extension: str | None = None,
) -> User:
    """A user who keeps ``password`` (the command line and seeds; hashes in the caller's
    transaction). Admins in the console use :func:`hcrm_core.services.user_admin.add_user`."""
    username = valid_username(username)
    extension = valid_extension(extension)
    await ensure_username_free(session, username)
    await ensure_extension_free(session, extension, 0)
    user = User(
        username=username,
        display_name=valid_display_name(display_name, username),
        role=role,
        password_hash=hash_password(password),
        extension=extension,
        must_change_password=False,
    )
    session.add(user)
    await session.flush()
    return user


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    id: int
    username: str
    role: Role
    # The password was set by someone else: the console allows nothing but changing it.
    must_change_password: bool = False


async def verify_credentials(
    database: Database, username: str, password: str
) -> AuthenticatedUser | None:
    """Return the active user whose password matches, else None (never says which part failed).

    argon2id runs in a worker thread, so a login never stalls calls and screen pops on the
    loop, and with no database transaction open: a burst of logins holds neither pooled
    connections nor SQLite's write lock while hashing. Only a matching password opens a short
    transaction (last login, a rehash when the parameters changed).
    """
    username = username.strip().lower()
    async with database.session() as session:
        row = (
            await session.execute(
                select(User.id, User.password_hash, User.active).where(User.username == username)
            )
        ).one_or_none()
    if row is None or not row.active:
        # The same work as a real check, so timing does not tell which usernames exist.
        await asyncio.to_thread(_matches, DUMMY_HASH, password)
        return None
    if not await asyncio.to_thread(_matches, row.password_hash, password):
        return None
    rehashed = None
    if needs_rehash(row.password_hash):
        rehashed = await hash_off_loop(password)
    async with database.transaction() as session:
        user = await session.get(User, row.id)
        if user is None or not user.active or user.password_hash != row.password_hash:
            return None  # disabled or given a new password while we were hashing
        if rehashed is not None:
            user.password_hash = rehashed
        user.last_login_at = utcnow()
        return AuthenticatedUser(user.id, user.username, user.role, user.must_change_password)


async def change_password(
    database: Database, user_id: int, current: str, new: str, actor: Actor
) -> None:
    """The user changes their own password (audited; clears ``must_change_password``).

    ``current`` must match; ``new`` follows the strength rule and differs from ``current``.
    Refusals name ``current_password`` or ``new_password``.
    """
    async with database.session() as session:
        user = await session.get(User, user_id)
    if user is None or not user.active:
        raise UserNotFound(f"no user with id {user_id}")
    if not await matches_off_loop(user.password_hash, current):
        raise ValidationFailed("current_password", "is not your current password")
    check_password(new, username=user.username, previous=current, field="new_password")
    new_hash = await hash_off_loop(new)
    async with database.transaction() as session:
        row = await session.get(User, user_id)
        if row is None or not row.active or row.password_hash != user.password_hash:
            # Reset or disabled while we were hashing: the current password is not it any more.
            raise ValidationFailed("current_password", "changed meanwhile; log in again")
        row.password_hash = new_hash
        row.must_change_password = False
        row.password_changed_at = utcnow()
        add_audit(
            session, actor, AuditAction.UPDATE, "user", user_id, detail={"change": "password"}
        )


async def active_roles(database: Database, user_ids: Collection[int]) -> dict[int, Role]:
    """The current role of each of these users that still exists and is active."""
    accounts = await active_accounts(database, user_ids)
    return {user_id: account.role for user_id, account in accounts.items()}


@dataclass(frozen=True, slots=True)
class AccountState:
    role: Role
    must_change_password: bool


async def active_accounts(database: Database, user_ids: Collection[int]) -> dict[int, AccountState]:
    """The role and password state of each of these users that still exists and is active.

    One indexed read, made for the console's per-request session check: a user missing from
    the answer was disabled or deleted.
    """
    if not user_ids:
        return {}
    async with database.session() as session:
        rows = await session.execute(
            select(User.id, User.role, User.must_change_password).where(
                User.id.in_(set(user_ids)), User.active.is_(True)
            )
        )
        return {user_id: AccountState(role, must) for user_id, role, must in rows}


async def set_extension(
    database: Database, user_id: int, extension: str | None, actor: Actor
) -> User:
    """Assign ``user_id`` the phone extension (None clears it); audited, one transaction.

    The desk signs a user in only on this extension: it is an admin's decision, and two active
    users never share one (calls for one would ring the other's phone).
    """
    extension = valid_extension(extension)
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        if user.active:
            await ensure_extension_free(session, extension, user_id)
        before, user.extension = user.extension, extension
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "user",
            user_id,
            detail={"extension": [before, extension]},
        )
    return user


async def user_by_name(database: Database, username: str) -> User:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise UserNotFound(f"no user named {username!r}")
    return user
