"""The AGI dialogue kit, shared by the IVR and the campaign dialogs.

``server.py`` is the FastAGI server (one session per call, drained at stop), ``transport.py``
carries AGI over a socket or classic pipes, ``channel.py`` builds commands and parses replies
(``AgiChannel``), ``dialog.py`` holds the menu, retry and hang-up helpers (``Ivr``),
``localised.py`` speaks them in the caller's language, ``context.py`` publishes each step for
the call log and the screen pop, ``prompts.py``/``speech_prompts.py`` the shared prompts,
``prompt_audio.py`` renders prompts to sound files, ``listening.py`` the speech-input
protocol. Knows no slice: flows live in ``ivr/`` and ``outbound/``.
"""
