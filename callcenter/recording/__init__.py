"""Call recording: MixMonitor control, processing, encryption, transcripts and retention.

``bus_consume.py`` (MixMonitor events in), ``services.py`` (recordings of live calls, pause and
resume), ``jobs.py``/``processor.py``/``worker.py`` (the processing queue and its process pool:
``audio.py``, ``transcribe.py``, ``redact.py``, ``crypto.py``), ``paths.py`` (Asterisk's paths
to the host's), ``retention.py``, ``keys.py``, ``errors.py``, ``plugin.py`` the wiring. See
docs/recordings.md.
"""
