"""The IVR slice: what a patient hears and presses when they call the hospital.

``flows/`` holds the dialogs, read like the menu map (``main_menu.py`` -> ``identify.py``,
``book.py``, ``cancel.py``, ``language.py``); ``prompts.py`` the IVR's prompt catalogue,
``build_prompts.py`` and ``cli.py`` render it (``callcenter prompts build``); ``speech.py`` and
``speech_input.py`` the Vosk second input; ``classic.py`` the classic-AGI entry point
(``callcenter-agi``); ``plugin.py`` the wiring (routes, speech). See docs/ivr.md.
"""
