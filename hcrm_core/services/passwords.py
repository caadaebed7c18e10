"""Passwords: argon2id hashes, the strength rule, and temporary passwords an admin hands over.

argon2id costs tens of milliseconds of CPU by design, so every hash and check made while the
server runs goes through :func:`hash_off_loop` / :func:`matches_off_loop`: a worker thread (the
library releases the GIL) and, by the callers' contract, no database transaction open.
"""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hcrm_core.errors import ValidationFailed

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing of a wrong username
# close to that of a wrong password.
DUMMY_HASH = _hasher.hash("not-a-real-password")
MIN_PASSWORD_LENGTH = 12
# Far above any typed password; argon2 would hash megabytes, which only an attacker sends.
MAX_PASSWORD_LENGTH = 256
# Read aloud or copied from a screen: no 0/o, 1/l/i.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_TEMPORARY_GROUPS, _TEMPORARY_GROUP_LENGTH = 4, 4  # 16 characters of 31: about 79 bits


def password_problem(password: str, *, username: str, previous: str | None = None) -> str | None:
    """What is wrong with ``password`` as a new password of ``username``, or None.

    ``previous`` is the password it replaces (a temporary one must not simply be kept).
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    if password.strip().lower() == username.strip().lower():
        return "must not be the username"
    if previous is not None and password == previous:
        return "must differ from the current (temporary) password"
    return None


def check_password(
    password: str, *, username: str, previous: str | None = None, field: str = "password"
) -> None:
    """Raise :class:`ValidationFailed` naming ``field`` unless ``password`` may be used."""
    problem = password_problem(password, username=username, previous=previous)
    if problem is not None:
        raise ValidationFailed(field, problem)


def temporary_password() -> str:
    """A random password to hand over once, like ``k7pq-3mzt-x9wd-h2rf``."""
    groups = (
        "".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(_TEMPORARY_GROUP_LENGTH))
        for _ in range(_TEMPORARY_GROUPS)
    )
    return "-".join(groups)


def hash_password(password: str) -> str:
    """The argon2id hash (blocking: tens of ms; on the loop use :func:`hash_off_loop`)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "password", f"must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    return _hasher.hash(password)


async def hash_off_loop(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


def matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def matches_off_loop(password_hash: str, password: str) -> bool:
    return await asyncio.to_thread(matches, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
