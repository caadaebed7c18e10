"""``callcenter demo``: the whole product on the sandboxed Asterisk with simulated patients.

``run.py`` prepares the sandbox, the demo hospital and the logins and runs the server;
``callers.py`` places the simulated calls (book by IVR, ask for an agent, unknown numbers,
abandons).
"""
