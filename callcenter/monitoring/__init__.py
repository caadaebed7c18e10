"""Live monitoring: a supervisor listens to, whispers to or barges into an agent's call.

``services.py`` (``MonitorService``: Originate to the supervisor's phone, then ``ChanSpy`` on
the agent's channel), ``errors.py``, ``plugin.py`` the wiring.
"""
