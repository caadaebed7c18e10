"""The agent desk's telephony: queue membership, pause, agent state, screen pops, click-to-dial.

Wazo-style roles: ``member_events.py`` turns queue member events into desk events,
``state.py`` is the pure state machine, ``services.py`` the membership service (with
``roster.py`` who is signed in, ``desk_apply.py`` other processes' desk changes, ``wrapup.py``
the wrap-up hold and ``member_actions.py`` the AMI queue-member actions), ``pops.py``
the screen-pop assembly (``pop_card.py`` the card), ``dial.py`` click-to-dial, ``notifier.py``
what goes out on the bus, ``bus_consume.py`` what comes in, ``plugin.py`` the wiring.
"""
