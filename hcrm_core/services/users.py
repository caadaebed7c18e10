"""Console users: creation and password checks (argon2id via argon2-cffi)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DuplicateRecord, NotFound, ValidationFailed
from hcrm_core.models import AuditAction, Role, User, utcnow
from hcrm_core.services.audit import add_audit

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a wrong username
# close to that of a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 10


class UserNotFound(NotFound):
    code = "user_not_found"


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "password", f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    return _hasher.hash(password)


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    extension: str | None = None,
) -> User:
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("_", "").replace("-", "").isalnum()
    ):
        raise ValidationFailed("username", "use 1-64 letters, digits, '.', '_' or '-'")
    existing = await session.scalar(select(User.id).where(User.username == username))
    if existing is not None:
        raise DuplicateRecord(f"a user named {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        extension=extension,
    )
    session.add(user)
    await session.flush()
    return user


def _matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    id: int
    username: str
    role: Role


async def verify_credentials(
    database: Database, username: str, password: str
) -> AuthenticatedUser | None:
    """Return the active user whose password matches, else None (never says which part failed).

    argon2id costs tens of milliseconds of CPU by design: it runs in a worker thread (the
    library releases the GIL), so a login never stalls calls and screen pops on the loop, and
    with no database transaction open: a burst of logins holds neither pooled connections nor
    SQLite's write lock while hashing. Only a matching password opens a short transaction
    (last login, a rehash when the parameters changed).
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
        await asyncio.to_thread(_matches, _DUMMY_HASH, password)
        return None
    if not await asyncio.to_thread(_matches, row.password_hash, password):
        return None
    rehashed = None
    if _hasher.check_needs_rehash(row.password_hash):
        rehashed = await asyncio.to_thread(_hasher.hash, password)
    async with database.transaction() as session:
        user = await session.get(User, row.id)
        if user is None or not user.active or user.password_hash != row.password_hash:
            return None  # disabled or given a new password while we were hashing
        if rehashed is not None:
            user.password_hash = rehashed
        user.last_login_at = utcnow()
        return AuthenticatedUser(user.id, user.username, user.role)


async def active_roles(database: Database, user_ids: Collection[int]) -> dict[int, Role]:
    """The current role of each of these users that still exists and is active.

    One indexed read, made for the console's per-request session check: a user missing from
    the answer was disabled or deleted.
    """
    if not user_ids:
        return {}
    async with database.session() as session:
        rows = await session.execute(
            select(User.id, User.role).where(User.id.in_(set(user_ids)), User.active.is_(True))
        )
        return {user_id: role for user_id, role in rows}


# What an agent's phone extension may be: the desk builds a dial string from it.
_EXTENSION_RE = re.compile(r"[0-9]{2,8}", re.ASCII)


async def set_extension(
    database: Database, user_id: int, extension: str | None, actor: Actor
) -> User:
    """Assign ``user_id`` the phone extension (None clears it); audited, one transaction.

    The desk signs a user in only on this extension: it is an admin's decision, and two users
    never share one (calls for one would ring the other's phone).
    """
    if extension is not None:
        extension = extension.strip()
        if not _EXTENSION_RE.fullmatch(extension):
            raise ValidationFailed("extension", "use 2-8 digits")
    async with database.transaction() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise UserNotFound(f"no user with id {user_id}")
        if extension is not None:
            holder = await session.scalar(
                select(User.username).where(User.extension == extension, User.id != user_id)
            )
            if holder is not None:
                raise DuplicateRecord(f"extension {extension} is already assigned to {holder!r}")
        before, user.extension = user.extension, extension
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "user",
            user_id,
            detail={"extension": extension, "previous_extension": before},
        )
    return user


async def user_by_name(database: Database, username: str) -> User:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise UserNotFound(f"no user named {username!r}")
    return user
