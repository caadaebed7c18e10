"""Asterisk itself: the configuration rendered from the settings, and the sandbox.

``render.py`` renders ``asterisk_conf/`` (``callcenter asterisk render``), ``const.py`` the names
shared with the dialplan (contexts, queues, AGI routes), ``recording_policy.py`` the recording
globals, ``sandbox.py`` the debootstrapped Asterisk 22 used by the demo and the tests.
"""
