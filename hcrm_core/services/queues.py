"""Call queues kept from the console: create, change, members by agent or skill, agents' skills.

Every change is one transaction with its audit row. The rules an Asterisk configuration and the
IVR rely on are checked here, each refusal naming the field: a queue name Asterisk accepts (it
becomes a queues.conf section and a dialplan extension), one of Asterisk's strategies, an IVR
key no other active queue uses, an overflow queue that exists, no active queue without
members (nobody would ever answer it), and the dialplan's fallback queue (``FALLBACK_QUEUE``,
where callers go when the IVR server is unreachable) kept active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from hcrm_core.actors import Actor
from hcrm_core.db import Database
from hcrm_core.errors import DuplicateRecord, NotFound, ValidationFailed
from hcrm_core.models import AuditAction, CallQueue, QueueAgent, QueueSkill, Skill, User, UserSkill
from hcrm_core.models.queues import FALLBACK_QUEUE
from hcrm_core.services.audit import add_audit

# Asterisk 22's queue strategies (queues.conf.sample).
STRATEGIES: Final = (
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "rrordered",
    "linear",
    "wrandom",
)
# hangup: a message, then the call ends; queue: on to overflow_queue; message: the IVR's
# "leave a message / call me back" menu (an after-hours request of the same kind, for this queue).
OVERFLOWS: Final = ("hangup", "queue", "message")
# 1 and 2 are the main menu's own (book, review); 0 is the agent key, pressed anywhere.
MENU_DIGITS: Final = ("0", "3", "4", "5", "6", "7", "8", "9")
# queues.conf's own section, and the dialplan's extensions for callers leaving a queue and for
# the message overflow (callcenter.asterisk.const.QUEUE_OVERFLOW_MESSAGE).
RESERVED_NAMES: Final = frozenset({"general", "after-queue", "leave-message"})
_NAME = re.compile(r"[a-z][a-z0-9_-]{1,31}")
_SKILL = re.compile(r"[a-z0-9][a-z0-9 _-]{0,39}")
_LIMITS: Final = {
    "ring_timeout": (1, 300),
    "wrapup_seconds": (0, 3600),
    "max_wait_seconds": (0, 86400),
    "announce_frequency": (0, 3600),
}


class QueueNotFound(NotFound):
    code = "queue_not_found"


@dataclass(slots=True)
class QueueSettings:
    """Everything about a queue but its members; for a change, None leaves a field as it is."""

    display_name: str | None = None
    strategy: str | None = None
    ring_timeout: int | None = None
    wrapup_seconds: int | None = None
    max_wait_seconds: int | None = None
    overflow: str | None = None
    overflow_queue: str | None = None
    announce_position: bool | None = None
    announce_holdtime: bool | None = None
    announce_frequency: int | None = None
    menu_digit: str | None = None
    active: bool | None = None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True, slots=True)
class Members:
    """Who answers a queue: everyone, named agents (user ids) and agents holding a skill."""

    everyone: bool = False
    agents: tuple[int, ...] = ()
    skills: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.everyone or self.agents or self.skills)


@dataclass(frozen=True, slots=True)
class QueueView:
    id: int
    name: str
    display_name: str
    strategy: str
    ring_timeout: int
    wrapup_seconds: int
    max_wait_seconds: int
    overflow: str
    overflow_queue: str | None
    announce_position: bool
    announce_holdtime: bool
    announce_frequency: int
    menu_digit: str | None
    active: bool
    members: Members = field(default_factory=Members)

    def as_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "members"}
        data["members"] = {
            "everyone": self.members.everyone,
            "agents": list(self.members.agents),
            "skills": list(self.members.skills),
        }
        return data


# -- reads -------------------------------------------------------------------------------------


async def list_queues(database: Database, *, active_only: bool = False) -> list[QueueView]:
    """Every queue (or the active ones), by name, with its members."""
    async with database.session() as session:
        statement = select(CallQueue).order_by(CallQueue.name)
        if active_only:
            statement = statement.where(CallQueue.active.is_(True))
        rows = list(await session.scalars(statement))
        members = await _members_of(session, [r.id for r in rows])
    return [_view(r, members.get(r.id, Members(everyone=r.everyone))) for r in rows]


async def get_queue(database: Database, name: str) -> QueueView:
    async with database.session() as session:
        row = await _find(session, name)
        members = await _members_of(session, [row.id])
    return _view(row, members.get(row.id, Members(everyone=row.everyone)))


async def queues_for_user(database: Database, user_id: int) -> tuple[str, ...] | None:
    """The active queues an agent answers (everyone's, their own, their skills'), by name.

    None when no queue is kept in the database at all: the caller keeps its old default.
    """
    async with database.session() as session:
        queues = list(await session.scalars(select(CallQueue).order_by(CallQueue.name)))
        if not queues:
            return None
        named = set(
            await session.scalars(select(QueueAgent.queue_id).where(QueueAgent.user_id == user_id))
        )
        by_skill = set(
            await session.scalars(
                select(QueueSkill.queue_id)
                .join(UserSkill, UserSkill.skill_id == QueueSkill.skill_id)
                .where(UserSkill.user_id == user_id)
            )
        )
    return tuple(
        q.name for q in queues if q.active and (q.everyone or q.id in named or q.id in by_skill)
    )


async def list_skills(database: Database) -> list[str]:
    async with database.session() as session:
        return list(await session.scalars(select(Skill.name).order_by(Skill.name)))


async def user_skills(database: Database) -> dict[int, list[str]]:
    """Every agent's skills by user id (only users holding at least one)."""
    async with database.session() as session:
        rows = await session.execute(
            select(UserSkill.user_id, Skill.name)
            .join(Skill, Skill.id == UserSkill.skill_id)
            .order_by(Skill.name)
        )
        result: dict[int, list[str]] = {}
        for user_id, name in rows:
            result.setdefault(user_id, []).append(name)
    return result


# -- changes -----------------------------------------------------------------------------------


async def create_queue(
    database: Database,
    name: str,
    settings: QueueSettings,
    members: Members,
    actor: Actor,
) -> QueueView:
    """Add a queue (active unless ``settings.active`` is False) with its members."""
    name = _check_name(name)
    values = _defaults() | settings.given()
    if not values.get("display_name"):
        raise ValidationFailed("display_name", "is required")
    async with database.transaction() as session:
        if await session.scalar(select(CallQueue.id).where(CallQueue.name == name)) is not None:
            raise DuplicateRecord(f"a queue named {name!r} exists already")
        row = CallQueue(name=name, everyone=members.everyone, **values)
        await _check(session, row, members)
        session.add(row)
        await session.flush()
        await _store_members(session, row, members)
        add_audit(
            session, actor, AuditAction.CREATE, "queue", row.id, detail=_audit_detail(row, members)
        )
    return await get_queue(database, name)


async def update_queue(
    database: Database,
    name: str,
    changes: QueueSettings,
    actor: Actor,
    *,
    members: Members | None = None,
) -> QueueView:
    """Change a queue's settings (and its members, when given) in one transaction."""
    given = changes.given()
    async with database.transaction() as session:
        row = await _find(session, name)
        before = (await _members_of(session, [row.id])).get(row.id, Members(row.everyone))
        changed = {k: v for k, v in given.items() if getattr(row, k) != v}
        if changes.overflow in ("hangup", "message") and row.overflow_queue is not None:
            changed["overflow_queue"] = None
        for key, value in changed.items():
            setattr(row, key, value)
        detail: dict[str, Any] = {"queue": row.name, "changed": sorted(changed)}
        if members is not None and members != before:
            row.everyone = members.everyone
            await session.execute(delete(QueueAgent).where(QueueAgent.queue_id == row.id))
            await session.execute(delete(QueueSkill).where(QueueSkill.queue_id == row.id))
            await _store_members(session, row, members)
            detail["members"] = _members_detail(members)
        await _check(session, row, members if members is not None else before)
        if changed or "members" in detail:
            add_audit(session, actor, AuditAction.UPDATE, "queue", row.id, detail=detail)
    return await get_queue(database, name)


async def set_members(database: Database, name: str, members: Members, actor: Actor) -> QueueView:
    """Replace a queue's members; an active queue cannot be left without any."""
    async with database.transaction() as session:
        row = await _find(session, name)
        row.everyone = members.everyone
        await _check(session, row, members)
        await session.execute(delete(QueueAgent).where(QueueAgent.queue_id == row.id))
        await session.execute(delete(QueueSkill).where(QueueSkill.queue_id == row.id))
        await _store_members(session, row, members)
        add_audit(
            session,
            actor,
            AuditAction.UPDATE,
            "queue",
            row.id,
            detail={"queue": row.name, "members": _members_detail(members)},
        )
    return await get_queue(database, name)


async def set_user_skills(
    database: Database, user_id: int, skills: list[str], actor: Actor
) -> list[str]:
    """Replace an agent's skills (new skill names are created); returns them sorted."""
    names = sorted({_check_skill(s) for s in skills})
    async with database.transaction() as session:
        if await session.get(User, user_id) is None:
            raise ValidationFailed("user_id", f"no user {user_id}")
        ids = await _skill_ids(session, names, create=True)
        await session.execute(delete(UserSkill).where(UserSkill.user_id == user_id))
        session.add_all(UserSkill(user_id=user_id, skill_id=i) for i in ids)
        add_audit(
            session, actor, AuditAction.UPDATE, "user_skills", user_id, detail={"skills": names}
        )
    return names


# -- checks ------------------------------------------------------------------------------------


def _defaults() -> dict[str, Any]:
    # Today's queues.conf values ([callcenter-queue] template).
    return {
        "strategy": "rrmemory",
        "ring_timeout": 15,
        "wrapup_seconds": 10,
        "max_wait_seconds": 0,
        "overflow": "hangup",
        "announce_position": True,
        "announce_holdtime": False,
        "announce_frequency": 60,
        "active": True,
    }


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise ValidationFailed(
            "name", "use 2-32 lower-case letters, digits, '-' or '_', starting with a letter"
        )
    if name in RESERVED_NAMES:
        raise ValidationFailed("name", f"{name!r} is reserved by Asterisk's configuration")
    return name


def _check_skill(name: str, field: str = "skills") -> str:
    name = " ".join(name.split()).lower()
    if not _SKILL.fullmatch(name):
        raise ValidationFailed(field, f"{name!r}: use 1-40 letters, digits, spaces, '-' or '_'")
    return name


async def _check(session: AsyncSession, row: CallQueue, members: Members) -> None:
    display = (row.display_name or "").strip()
    if not display or len(display) > 100 or any(c in display for c in "\r\n\x00;"):
        raise ValidationFailed("display_name", "1-100 characters, no line breaks or ';'")
    row.display_name = display
    if row.strategy not in STRATEGIES:
        raise ValidationFailed("strategy", f"choose one of: {', '.join(STRATEGIES)}")
    for key, (low, high) in _LIMITS.items():
        value = getattr(row, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationFailed(key, f"a whole number from {low} to {high}")
    await _check_overflow(session, row)
    if row.menu_digit is not None:
        if row.menu_digit == "":
            row.menu_digit = None
        elif row.menu_digit not in MENU_DIGITS:
            raise ValidationFailed("menu_digit", f"one of {', '.join(MENU_DIGITS)} (or none)")
    if row.active and row.menu_digit is not None:
        other = await session.scalar(
            select(CallQueue.name).where(
                CallQueue.active.is_(True),
                CallQueue.menu_digit == row.menu_digit,
                CallQueue.name != row.name,
            )
        )
        if other is not None:
            raise ValidationFailed("menu_digit", f"key {row.menu_digit} already leads to {other}")
    if row.name == FALLBACK_QUEUE and not row.active:
        raise ValidationFailed(
            "active",
            f"{FALLBACK_QUEUE} stays active: the dialplan sends callers there when the IVR "
            "server cannot be reached",
        )
    if row.active and members.empty:
        raise ValidationFailed("members", "an active queue needs agents, skills or everyone")


async def _check_overflow(session: AsyncSession, row: CallQueue) -> None:
    if row.overflow not in OVERFLOWS:
        raise ValidationFailed("overflow", f"choose one of: {', '.join(OVERFLOWS)}")
    if row.overflow != "queue":
        row.overflow_queue = None
        if row.overflow == "message" and row.max_wait_seconds == 0:
            raise ValidationFailed(
                "max_wait_seconds", "set a maximum wait for the message overflow to apply"
            )
        return
    target = row.overflow_queue
    if not target or target == row.name:
        raise ValidationFailed("overflow_queue", "name another queue for callers who wait too long")
    exists = await session.scalar(select(CallQueue.id).where(CallQueue.name == target))
    if exists is None:
        raise ValidationFailed("overflow_queue", f"no queue named {target!r}")
    if row.max_wait_seconds == 0:
        raise ValidationFailed("max_wait_seconds", "set a maximum wait for the overflow to apply")


async def _find(session: AsyncSession, name: str) -> CallQueue:
    row = await session.scalar(select(CallQueue).where(CallQueue.name == name))
    if row is None:
        raise QueueNotFound(f"no queue named {name!r}")
    return row


async def _skill_ids(session: AsyncSession, names: list[str], *, create: bool) -> list[int]:
    found = dict(
        (await session.execute(select(Skill.name, Skill.id).where(Skill.name.in_(names)))).all()
    )
    missing = [n for n in names if n not in found]
    if missing and not create:
        raise ValidationFailed("members.skills", f"no skill named {missing[0]!r}")
    for name in missing:
        skill = Skill(name=name)
        session.add(skill)
        await session.flush()
        found[name] = skill.id
    return [found[n] for n in names]


async def _store_members(session: AsyncSession, row: CallQueue, members: Members) -> None:
    agents = sorted(set(members.agents))
    if agents:
        known = set(await session.scalars(select(User.id).where(User.id.in_(agents))))
        unknown = [a for a in agents if a not in known]
        if unknown:
            raise ValidationFailed("members.agents", f"no user {unknown[0]}")
    skills = sorted({_check_skill(s, "members.skills") for s in members.skills})
    session.add_all(QueueAgent(queue_id=row.id, user_id=a) for a in agents)
    ids = await _skill_ids(session, skills, create=False)
    session.add_all(QueueSkill(queue_id=row.id, skill_id=i) for i in ids)


async def _members_of(session: AsyncSession, queue_ids: list[int]) -> dict[int, Members]:
    if not queue_ids:
        return {}
    everyone = dict(
        (
            await session.execute(
                select(CallQueue.id, CallQueue.everyone).where(CallQueue.id.in_(queue_ids))
            )
        ).all()
    )
    agents: dict[int, list[int]] = {}
    for queue_id, user_id in await session.execute(
        select(QueueAgent.queue_id, QueueAgent.user_id)
        .where(QueueAgent.queue_id.in_(queue_ids))
        .order_by(QueueAgent.user_id)
    ):
        agents.setdefault(queue_id, []).append(user_id)
    skills: dict[int, list[str]] = {}
    for queue_id, name in await session.execute(
        select(QueueSkill.queue_id, Skill.name)
        .join(Skill, Skill.id == QueueSkill.skill_id)
        .where(QueueSkill.queue_id.in_(queue_ids))
        .order_by(Skill.name)
    ):
        skills.setdefault(queue_id, []).append(name)
    return {
        q: Members(bool(everyone[q]), tuple(agents.get(q, ())), tuple(skills.get(q, ())))
        for q in queue_ids
    }


def _view(row: CallQueue, members: Members) -> QueueView:
    return QueueView(
        id=row.id,
        name=row.name,
        display_name=row.display_name,
        strategy=row.strategy,
        ring_timeout=row.ring_timeout,
        wrapup_seconds=row.wrapup_seconds,
        max_wait_seconds=row.max_wait_seconds,
        overflow=row.overflow,
        overflow_queue=row.overflow_queue,
        announce_position=row.announce_position,
        announce_holdtime=row.announce_holdtime,
        announce_frequency=row.announce_frequency,
        menu_digit=row.menu_digit,
        active=row.active,
        members=members,
    )


def _members_detail(members: Members) -> dict[str, Any]:
    return {
        "everyone": members.everyone,
        "agents": sorted(set(members.agents)),
        "skills": sorted(set(members.skills)),
    }


def _audit_detail(row: CallQueue, members: Members) -> dict[str, Any]:
    return {"queue": row.name, "members": _members_detail(members)}


# Asterisk's QUEUE_PRIO: callers of a higher priority are answered first.
PRIORITY_VIP: Final = 10
PRIORITY_CHRONIC_CARE: Final = 5


def caller_priority(vip: bool, chronic_care: bool) -> int:
    """The queue priority of an identified patient: VIP first, then chronic care, then others."""
    if vip:
        return PRIORITY_VIP
    return PRIORITY_CHRONIC_CARE if chronic_care else 0


@dataclass(frozen=True, slots=True)
class AgentRef:
    id: int
    username: str
    display_name: str


async def list_agents(database: Database) -> list[AgentRef]:
    """Active console users who may answer queues, by username."""
    async with database.session() as session:
        rows = await session.execute(
            select(User.id, User.username, User.display_name)
            .where(User.active.is_(True))
            .order_by(User.username)
        )
        return [AgentRef(*row) for row in rows]
