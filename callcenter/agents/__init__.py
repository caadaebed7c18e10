"""The agent desk's telephony: queue membership, pause, agent state, screen pops, click-to-dial.

Wazo-style roles: ``member_events.py`` parses AMI at the edge, ``state.py`` is the pure state
machine, ``services.py`` the membership service, ``pops.py`` the screen-pop assembly,
``dial.py`` click-to-dial, ``notifier.py`` what goes out on the bus, ``bus_consume.py`` what
comes in, ``plugin.py`` the wiring.
"""
