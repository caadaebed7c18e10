"""PostgreSQL roles: one owns the schema and migrates it, the other serves and cannot rewrite
the audit log.

A server that migrates with its own credentials owns every table, ``audit_log`` included, and
an owner can drop the append-only triggers (or the table). So on PostgreSQL the schema belongs
to an *owner* role, used only by migrations (``database.migrate_url``), and the server runs
as an *app* role (``database.url``) that has the DML it needs on every table but only
``SELECT`` and ``INSERT`` on ``audit_log``: no ``UPDATE``, ``DELETE``, ``TRUNCATE``, no
``ALTER``/``DROP TRIGGER`` (those belong to the owner alone).

:func:`role_statements` is the SQL (``callcenter db roles`` prints or applies it); every
statement is idempotent, so it is run again after a migration adds tables (default
privileges cover tables the owner creates later anyway). Roles are created without a
password: the administrator sets one (``ALTER ROLE ... PASSWORD``) or uses another method
from ``pg_hba.conf``; nothing secret passes through here.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from hcrm_core.errors import ValidationFailed
from hcrm_core.models.audit import AUDIT_TABLE

_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_VERSION_TABLE = "alembic_version"
# Objects an extension created (pgcrypto's functions, PostGIS's tables) stay as they are.
_NOT_EXTENSION = "NOT EXISTS (SELECT FROM pg_depend e WHERE e.objid = c.oid AND e.deptype = 'e')"
_APP_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_APP_SEQUENCE_PRIVILEGES = "USAGE, SELECT, UPDATE"


def check_role_name(name: str, field: str) -> str:
    """``name`` if it is a plain lower-case PostgreSQL identifier; ValidationFailed if not."""
    if not _ROLE_NAME.match(name) or name.startswith("pg_"):
        raise ValidationFailed(
            field, "use a lower-case role name of letters, digits and '_' (not 'pg_...')"
        )
    return name


def role_statements(owner: str, app: str, schema: str = "public") -> list[str]:
    """The SQL that sets up ``owner`` (owns and migrates the schema) and ``app`` (serves)."""
    owner = check_role_name(owner, "owner")
    app = check_role_name(app, "app")
    schema = check_role_name(schema, "schema")
    if owner == app:
        raise ValidationFailed("app", "must differ from the owner (an owner can drop triggers)")
    return [
        *(_create_role(name) for name in (owner, app)),
        f'REVOKE CREATE ON SCHEMA "{schema}" FROM PUBLIC',
        f'GRANT USAGE, CREATE ON SCHEMA "{schema}" TO "{owner}"',
        f'GRANT USAGE ON SCHEMA "{schema}" TO "{app}"',
        _grant_connect(owner, app),
        _take_ownership(owner, schema),
        f'GRANT {_APP_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA "{schema}" TO "{app}"',
        f'GRANT {_APP_SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{app}"',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" '
        f'GRANT {_APP_TABLE_PRIVILEGES} ON TABLES TO "{app}"',
        f'ALTER DEFAULT PRIVILEGES FOR ROLE "{owner}" IN SCHEMA "{schema}" '
        f'GRANT {_APP_SEQUENCE_PRIVILEGES} ON SEQUENCES TO "{app}"',
        # The audit log: read and append, nothing else. (The triggers refuse UPDATE, DELETE
        # and TRUNCATE for the owner too; the app cannot even reach them.)
        _if_table_exists(
            schema,
            AUDIT_TABLE,
            f'REVOKE ALL ON "{schema}".{AUDIT_TABLE} FROM "{app}"; '
            f'GRANT SELECT, INSERT ON "{schema}".{AUDIT_TABLE} TO "{app}"',
        ),
        # The schema version is the owner's to move; the app only reads it at start.
        _if_table_exists(
            schema,
            _VERSION_TABLE,
            f'REVOKE ALL ON "{schema}".{_VERSION_TABLE} FROM "{app}"; '
            f'GRANT SELECT ON "{schema}".{_VERSION_TABLE} TO "{app}"',
        ),
    ]


def seal_audit_log(connection: Connection) -> None:
    """Take every right to change ``audit_log`` from every role but its owner (PostgreSQL).

    Run after each migration, by the migrating role: the default privileges grant the app
    role DML on each table the owner creates, ``audit_log`` included."""
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql(_SEAL_AUDIT_LOG)


def role_script(owner: str, app: str, schema: str = "public") -> str:
    """:func:`role_statements` as one script to read or pipe into ``psql``."""
    return "".join(f"{statement};\n" for statement in role_statements(owner, app, schema))


async def apply_roles(admin_url: str, owner: str, app: str, schema: str = "public") -> None:
    """Run :func:`role_statements` in one transaction as ``admin_url``'s role (a superuser,
    or a role allowed to create roles that is a member of both)."""
    engine = create_async_engine(admin_url)
    try:
        if engine.dialect.name != "postgresql":
            raise ValidationFailed("url", "database roles exist on PostgreSQL only")
        async with engine.begin() as connection:
            for statement in role_statements(owner, app, schema):
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


_SEAL_AUDIT_LOG = (
    "DO $$ DECLARE grantee text; BEGIN "
    f"IF to_regclass('{AUDIT_TABLE}') IS NULL THEN RETURN; END IF; "
    "FOR grantee IN SELECT DISTINCT r.rolname FROM pg_class c "
    "CROSS JOIN LATERAL aclexplode(c.relacl) a JOIN pg_roles r ON r.oid = a.grantee "
    f"WHERE c.oid = '{AUDIT_TABLE}'::regclass AND a.grantee <> c.relowner "
    "AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER', 'REFERENCES') LOOP "
    f"EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {AUDIT_TABLE} "
    "FROM %I', grantee); END LOOP; "
    f"REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {AUDIT_TABLE} FROM PUBLIC; "
    "END $$"
)


def _create_role(name: str) -> str:
    return (
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
        f'CREATE ROLE "{name}" LOGIN; '
        "END IF; END $$"
    )


def _grant_connect(owner: str, app: str) -> str:
    return (
        "DO $$ BEGIN "
        f'EXECUTE format(\'GRANT CONNECT ON DATABASE %I TO "{owner}", "{app}"\', '
        "current_database()); END $$"
    )


def _take_ownership(owner: str, schema: str) -> str:
    # A database migrated before the split belongs to whoever ran the migrations (perhaps the
    # very role that will serve): hand every table, sequence and function to the owner.
    return (
        "DO $$ DECLARE item record; BEGIN "
        "FOR item IN SELECT c.relname, c.relkind FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = '{schema}' AND c.relkind IN ('r', 'p', 'v', 'm') AND {_NOT_EXTENSION} "
        "LOOP "
        f"EXECUTE format('ALTER TABLE %I.%I OWNER TO \"{owner}\"', '{schema}', item.relname); "
        "END LOOP; "
        "FOR item IN SELECT c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        f"WHERE n.nspname = '{schema}' AND c.relkind = 'S' "
        # Sequences a column owns (serial, identity) follow their table.
        "AND NOT EXISTS (SELECT FROM pg_depend d "
        "WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) "
        f"AND {_NOT_EXTENSION} "
        "LOOP "
        f"EXECUTE format('ALTER SEQUENCE %I.%I OWNER TO \"{owner}\"', '{schema}', item.relname); "
        "END LOOP; "
        "FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        f"WHERE n.nspname = '{schema}' AND {_NOT_EXTENSION.replace('c.oid', 'p.oid')} LOOP "
        f"EXECUTE format('ALTER FUNCTION %s OWNER TO \"{owner}\"', item.signature); "
        "END LOOP; END $$"
    )


def _if_table_exists(schema: str, table: str, statements: str) -> str:
    return (
        "DO $$ BEGIN "
        f"IF to_regclass('\"{schema}\".{table}') IS NOT NULL THEN {statements}; "
        "END IF; END $$"
    )
