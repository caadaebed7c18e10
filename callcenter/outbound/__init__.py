"""The campaign dialer: Originate with pacing and calling windows, outcomes, retries, dialogs.

Wazo-style roles: ``dialer.py`` (the dialer), ``bus_consume.py`` (AMI events in),
``reconcile.py`` (after a restart or reconnect), ``pacing.py`` (pure pacing rules),
``dialogs.py`` (the FastAGI reminder and survey dialogs), ``prompts.py``, ``errors.py``,
``plugin.py`` (the wiring). See docs/outbound.md.
"""
