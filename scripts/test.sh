#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, lint, type-check, then every test
# (unit, SQLite and PostgreSQL integration, the real Asterisk sandbox, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

# The local PostgreSQL, unless the caller named one.
if [[ -z ${CALLCENTER_TEST_PG_URL:-} ]] && command -v pg_isready >/dev/null \
    && pg_isready -q -h 127.0.0.1 -p 5432; then
    export CALLCENTER_TEST_PG_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
fi

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy
echo "== import contracts (pyproject.toml [tool.importlinter], docs/architecture.md)"
lint-imports --no-cache
echo "== pytest"
exec pytest "$@"
