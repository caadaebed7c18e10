"""Console users: creation and password checks (argon2id via argon2-cffi)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.errors import DuplicateRecord, ValidationFailed
from hcrm_core.models import Role, User, utcnow

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a wrong username
# close to that of a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 10


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


async def verify_credentials(session: AsyncSession, username: str, password: str) -> User | None:
    """Return the active user whose password matches, else None (never says which part failed).

    argon2id costs tens of milliseconds of CPU by design: it runs in a worker thread (the
    library releases the GIL), so a login never stalls calls and screen pops on the loop.
    """
    user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active:
        # The same work as a real check, so timing does not tell which usernames exist.
        await asyncio.to_thread(_matches, _DUMMY_HASH, password)
        return None
    if not await asyncio.to_thread(_matches, user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(_hasher.hash, password)
    user.last_login_at = utcnow()
    return user
