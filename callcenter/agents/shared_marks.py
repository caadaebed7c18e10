"""Call control's marks per agent (the call on hold, the conference), kept on every process.

Call control on one process puts a call on hold; the agent's next click (resume) may reach
another process behind the load balancer, which must know the channels it held. A
:class:`SharedMarks` is the per-agent mapping call control keeps, announcing each change as a
:class:`~callcenter.agents.notifier.DeskChanged` that the other processes apply to their own
copy (:meth:`SharedMarks.apply`, from bus_consume) without announcing it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from callcenter.agents.notifier import AgentNotifier, DeskChange, DeskChanged

V = TypeVar("V")
_MISSING: Any = object()


class SharedMarks(Generic[V]):
    """username -> mark; ``encode``/``decode`` turn a mark into plain data and back."""

    def __init__(
        self,
        kind: DeskChange,
        notifier: AgentNotifier,
        encode: Callable[[V], dict[str, Any]],
        decode: Callable[[dict[str, Any]], V],
    ) -> None:
        self._kind = kind
        self._notifier = notifier
        self._encode = encode
        self._decode = decode
        self._marks: dict[str, V] = {}

    def get(self, username: str) -> V | None:
        return self._marks.get(username)

    def __contains__(self, username: object) -> bool:
        return username in self._marks

    def __setitem__(self, username: str, mark: V) -> None:
        self._marks[username] = mark
        self._notifier.desk_changed(self._kind, username, data={"mark": self._encode(mark)})

    def pop(self, username: str, default: V | None = None) -> V | None:
        mark = self._marks.pop(username, _MISSING)
        if mark is _MISSING:
            return default
        self._notifier.desk_changed(self._kind, username, data={"mark": None})
        return mark

    def apply(self, change: DeskChanged) -> None:
        """Another process set or cleared the agent's mark; idempotent, own changes skipped."""
        if change.kind is not self._kind or self._notifier.is_own(change):
            return
        mark = change.data.get("mark")
        if isinstance(mark, dict):
            self._marks[change.username] = self._decode(mark)
        else:
            self._marks.pop(change.username, None)
