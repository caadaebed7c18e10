"""The supervisor board: live queues and agents, today's totals, pushed as snapshots.

``queue_events.py`` parses the queue events it reads, ``state.py`` is the pure board,
``agents.py`` one member's view, ``services.py`` (``BoardService``) follows the bus and
publishes coalesced ``BoardChanged`` snapshots, ``plugin.py`` the wiring.
"""
