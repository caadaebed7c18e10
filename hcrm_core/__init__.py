"""The HCRM core: the hospital's domain and its database. No telephony, no HTTP.

``models/`` (SQLAlchemy 2), ``services/`` (one transaction per use case), ``migrations/``
(Alembic), ``errors.py`` (typed domain errors), ``phones.py`` (E.164), ``seed.py`` (the demo).
"""
