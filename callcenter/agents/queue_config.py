"""Queues kept in the database, applied to Asterisk: queues.conf re-rendered, then QueueReload.

AMI ``QueueReload`` (no ``command`` class needed) re-reads queues.conf: new queues appear,
changed settings apply, removed ones go once their callers have left. Callers waiting keep
their place and dynamic members (our agents, added with QueueAdd) stay; static members would be
re-read, but queues.conf lists none. Afterwards every signed-in agent joins the queues their
skills now lead to.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from callcenter.agents.errors import TelephonyUnavailable
from callcenter.agents.notifier import AgentNotifier
from callcenter.agents.services import AgentService
from callcenter.ami.bridge import AmiBridge
from callcenter.ami.errors import AmiError
from callcenter.asterisk.queues import queue_specs
from callcenter.asterisk.render import write_queues_conf
from hcrm_core.db import Database
from hcrm_core.errors import StorageUnavailable
from hcrm_core.services.queues import list_queues

_LOG = logging.getLogger(__name__)
RELOAD = {"Action": "QueueReload", "Members": "yes", "Rules": "no", "Parameters": "yes"}


class QueueConfig:
    """Writes queues.conf into ``conf_dir`` (Asterisk's configuration directory) and reloads."""

    def __init__(
        self,
        ami: AmiBridge,
        database: Database,
        agents: AgentService,
        *,
        conf_dir: Path | None,
        hospital_name: str,
        sandbox: bool = False,
        notifier: AgentNotifier | None = None,
    ) -> None:
        self._ami = ami
        self._database = database
        self._agents = agents
        self._conf_dir = conf_dir
        self._hospital_name = hospital_name
        self._sandbox = sandbox
        self._notifier = notifier
        self._lock = asyncio.Lock()
        self._applied_once = False

    @property
    def writes_config(self) -> bool:
        """False when no configuration directory is set: changes wait for a render and reload."""
        return self._conf_dir is not None

    async def apply_once(self) -> None:
        """At the first AMI resync: Asterisk gets the database's queues (the file on disk may
        have been rendered before they changed). Later resyncs find the file as we wrote it."""
        if self._applied_once or self._conf_dir is None:
            return
        try:
            await self.apply()
        except (TelephonyUnavailable, StorageUnavailable) as exc:
            _LOG.warning("queues not applied at start-up: %s; next resync", exc.message)
            return
        self._applied_once = True

    async def apply(self) -> bool:
        """Render and reload (when a directory is set), then move agents; True once Asterisk
        has the new queues. Raises :class:`TelephonyUnavailable` when Asterisk refused."""
        async with self._lock:  # two changes at once must not interleave file and reload
            queues = await list_queues(self._database)
            if self._notifier is not None:  # the board shows the active queues
                self._notifier.queues_changed(
                    tuple((q.name, q.display_name) for q in queues if q.active)
                )
            applied = False
            if self._conf_dir is not None:
                specs = queue_specs(queues)
                await asyncio.to_thread(
                    write_queues_conf,
                    self._hospital_name,
                    self._conf_dir,
                    specs,
                    sandbox=self._sandbox,
                )
                try:
                    await self._ami.send_action(RELOAD)
                except AmiError as exc:
                    raise TelephonyUnavailable(
                        f"Asterisk did not reload the queues: {exc}"
                    ) from exc
                _LOG.info("queues applied: %s", ", ".join(s.name for s in specs))
                applied = True
            await self._agents.refresh_memberships()
            return applied
