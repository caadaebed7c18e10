"""The AMI bridge: where Asterisk's events enter and its actions leave.

``connection.py`` keeps the TCP session (login, reconnect with backoff, Ping watchdog, TLS),
``protocol.py`` frames messages and parses headers (panoramisk's defects fixed), ``events.py``
and ``queue_members.py`` turn them into small typed objects at the edge, ``bridge.py`` sends
actions, resyncs live state after every (re)connect and publishes every event on the bus,
``errors.py`` the typed failures. Nothing past this package reads raw AMI headers.
"""
