"""What admins do to console users: create, edit, disable and enable, reset a password.

Each change is one transaction with its audit row; bad input raises :class:`ValidationFailed`
naming the field (a username or extension someone else holds: :class:`Taken`, a 409). A
password an admin chose or was given (created or reset) is temporary: ``must_change_password``
makes the console allow nothing else until the user has changed it. Generated passwords are
returned once and never stored or audited in clear. Hashing runs before the transaction opens.

Two rules keep the console administrable: an admin cannot disable themselves, and the last
active admin can be neither disabled nor given another role (the admin rows are locked while
this is checked, so two admins cannot remove each other at the same moment).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import ValidationFailed
from hcrm_core.models import AuditAction, Role, User, utcnow
from hcrm_core.services.audit import add_audit
from hcrm_core.services.passwords import check_password, hash_off_loop, temporary_password
from hcrm_core.services.users import (
    UserNotFound,
    ensure_extension_free,
    ensure_username_free,
    valid_display_name,
    valid_extension,
    valid_role,
    valid_username,
)

# "Leave this field as it is" in an edit (None means "clear" for the extension).
UNCHANGED: Any = object()


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    role: str | Role
    display_name: str | None = None
    extension: str | None = None
    # None: generate a temporary password and return it once.
    password: str | None = None


@dataclass(frozen=True, slots=True)
class Created:
    user: User
    # The generated password, to show once; None when the admin typed one.
    temporary_password: str | None


async def list_users(database: Database) -> list[User]:
    async with database.session() as session:
        return list(await session.scalars(select(User).order_by(User.username)))


async def get_user(database: Database, user_id: int) -> User:
    async with database.session() as session:
        user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"no user with id {user_id}")
    return user


async def add_user(database: Database, new: NewUser, actor: Actor) -> Created:
    """Create a user who must change the initial password at first login."""
    username = valid_username(new.username)
    display_name = valid_display_name(new.display_name, username)
    role = valid_role(new.role)
    extension = valid_extension(new.extension)
    generated = None
    if new.password is None or not new.password:
        generated = temporary_password()
    else:
        check_password(new.password, username=username)
    password_hash = await hash_off_loop(generated or new.password or "")
    async with database.transaction() as session:
        await ensure_username_free(session, username)
        await ensure_extension_free(session, extension, 0)
        user = User(
            username=username,
            display_name=display_name,
            role=role,
            password_hash=password_hash,
            extension=extension,
            active=True,
            must_change_password=True,
            created_at=utcnow(),
        )
        session.add(user)
        await session.flush()
        add_audit(
            session,
            actor,
            AuditAction.CREATE,
            "user",
            user.id,
            detail={
                "username": username,
                "display_name": display_name,
                "role": role.value,
                "extension": extension,
                "password": "generated" if generated else "typed",
            },
        )
    return Created(user, generated)


async def update_user(
    database: Database,
    user_id: int,
    actor: Actor,
    *,
    display_name: Any = UNCHANGED,
    role: Any = UNCHANGED,
    extension: Any = UNCHANGED,
) -> tuple[User, dict[str, Any]]:
    """Change the fields given (``UNCHANGED`` leaves one); returns the user and what changed
    as ``{field: [before, after]}`` (empty: nothing did, and nothing is audited)."""
    wanted: dict[str, Any] = {}
    if role is not UNCHANGED:
        wanted["role"] = valid_role(role)
    if extension is not UNCHANGED:
        wanted["extension"] = valid_extension(extension)
    async with database.transaction() as session:
        user = await _locked_user(session, user_id)
        if display_name is not UNCHANGED:
            wanted["display_name"] = valid_display_name(display_name, user.username)
        changes = {
            name: [getattr(user, name), value]
            for name, value in wanted.items()
            if getattr(user, name) != value
        }
        if "role" in changes and user.role is Role.ADMIN and user.active:
            await _keep_an_admin(session, "role", "the last active admin must stay an admin")
        if "extension" in changes and user.active:
            await ensure_extension_free(session, wanted["extension"], user_id)
        for name, (_before, after) in changes.items():
            setattr(user, name, after)
        if changes:
            detail = {name: [_plain(b), _plain(a)] for name, (b, a) in changes.items()}
            add_audit(session, actor, AuditAction.UPDATE, "user", user_id, detail=detail)
    return user, changes


async def disable_user(database: Database, user_id: int, actor: Actor) -> User:
    """Disable the user (they cannot log in; the console ends their sessions). Audited."""
    if actor.user_id == user_id:
        raise ValidationFailed("active", "you cannot disable yourself")
    async with database.transaction() as session:
        user = await _locked_user(session, user_id)
        if not user.active:
            return user
        if user.role is Role.ADMIN:
            await _keep_an_admin(session, "active", "the last active admin cannot be disabled")
        user.active = False
        add_audit(session, actor, AuditAction.UPDATE, "user", user_id, detail={"active": False})
    return user


async def enable_user(database: Database, user_id: int, actor: Actor) -> User:
    """Enable the user again; refused (naming ``extension``) when their extension was given to
    someone else meanwhile. Audited."""
    async with database.transaction() as session:
        user = await _locked_user(session, user_id)
        if user.active:
            return user
        await ensure_extension_free(session, user.extension, user_id)
        user.active = True
        add_audit(session, actor, AuditAction.UPDATE, "user", user_id, detail={"active": True})
    return user


async def reset_password(database: Database, user_id: int, actor: Actor) -> tuple[User, str]:
    """Give the user a new temporary password (returned once; they must change it at next
    login). The caller ends the user's sessions. Audited without the password."""
    user = await get_user(database, user_id)
    password = temporary_password()
    password_hash = await hash_off_loop(password)
    async with database.transaction() as session:
        user = await _locked_user(session, user_id)
        user.password_hash = password_hash
        user.must_change_password = True
        add_audit(
            session, actor, AuditAction.UPDATE, "user", user_id, detail={"change": "reset_password"}
        )
    return user, password


async def _locked_user(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise UserNotFound(f"no user with id {user_id}")
    return user


async def _keep_an_admin(session: AsyncSession, field: str, message: str) -> None:
    """Refuse (naming ``field``) unless another active admin remains besides the one locked."""
    admins = await session.scalars(
        select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).with_for_update()
    )
    if len(admins.all()) <= 1:
        raise ValidationFailed(field, message)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Role) else value
