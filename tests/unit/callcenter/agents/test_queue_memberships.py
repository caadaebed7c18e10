"""Agents join the queues their skills lead to (queues kept in the database), and follow a change
of those queues; without queue data, or with ``agents.queues`` set, every agent joins them all."""

from __future__ import annotations

from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.services import AgentService
from callcenter.agents.state import AgentStatus
from callcenter.settings import AgentsSettings

ALL = ("appointments", "enquiries")


class _Phones:
    def __init__(self) -> None:
        self.actions: list[dict[str, object]] = []

    def members(self, action: str) -> list[object]:
        return [a["Queue"] for a in self.actions if a["Action"] == action]

    async def send_action(self, headers: dict[str, object]) -> None:
        self.actions.append(headers)


class _Quiet(AgentNotifier):
    def __init__(self) -> None:
        self.changed = 0

    def state_changed(self, status: AgentStatus) -> None:
        self.changed += 1


def _service(
    phones: _Phones, answers: dict[int, tuple[str, ...] | None], **settings: object
) -> AgentService:
    async def queues_for(user_id: int) -> tuple[str, ...] | None:
        return answers[user_id]

    return AgentService(
        phones,  # type: ignore[arg-type]
        AgentsSettings(interface="Local/{extension}@sim-agents", **settings),
        ALL,
        _Quiet(),
        queues_for=queues_for,
    )


async def test_an_agent_joins_the_queues_of_their_skills_and_follows_a_change() -> None:
    phones = _Phones()
    answers: dict[int, tuple[str, ...] | None] = {1: ("cardio", "enquiries")}
    service = _service(phones, answers)
    status = await service.sign_in(1, "alice", "1001")
    assert phones.members("QueueAdd") == ["cardio", "enquiries"]
    assert status.queues == {"cardio", "enquiries"}

    phones.actions.clear()
    answers[1] = ("billing", "enquiries")
    await service.refresh_memberships()
    assert phones.members("QueueAdd") == ["billing", "enquiries"]  # enquiries: "already there"
    assert phones.members("QueueRemove") == ["cardio"]

    phones.actions.clear()
    await service.sign_out("alice")
    assert phones.members("QueueRemove") == ["billing", "enquiries"]


async def test_without_queue_data_or_with_configured_queues_every_agent_joins_them_all() -> None:
    phones = _Phones()
    await _service(phones, {1: None}).sign_in(1, "alice", "1001")
    assert phones.members("QueueAdd") == list(ALL)

    phones = _Phones()
    await _service(phones, {1: ("cardio",)}, queues=["enquiries"]).sign_in(1, "alice", "1001")
    assert phones.members("QueueAdd") == ["enquiries"]
