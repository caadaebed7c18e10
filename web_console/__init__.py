"""The web console (aiohttp + jinja2): pages, the /api/v1 JSON API, /ws, /healthz, /metrics.

Given its dependencies, typed, by the composition root (``deps.py``, one ``AppKey`` each in
``keys.py``); it calls hcrm_core services and callcenter slices, never Asterisk directly.
"""
