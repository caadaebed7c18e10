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
if [[ $# -gt 0 || ${CALLCENTER_TEST_SPLIT:-1} == 0 ]]; then
    exec pytest "$@"
fi
# The real-time Asterisk tests (marked, or using the sandbox fixture) mostly wait on calls: they
# run in a pytest process of their own beside the rest, so the run takes about as long as the
# longer half. Each half has its own PostgreSQL template and data dir; they share the one
# Asterisk (the sandbox fixture counts its sessions). Fault tests that stop or kill Asterisk
# are in the Asterisk half, which runs one test at a time.
asterisk_log=$(mktemp -t callcenter-pytest-asterisk.XXXXXX.log)
pytest -m asterisk -p no:cacheprovider >"$asterisk_log" 2>&1 &
asterisk_pid=$!
trap 'kill "$asterisk_pid" 2>/dev/null || true' INT TERM
set +e
pytest -m "not asterisk"
rest_status=$?
echo "== pytest (Asterisk half, waiting for it to finish; log: $asterisk_log)"
wait "$asterisk_pid"
asterisk_status=$?
set -e
cat "$asterisk_log"
echo "== pytest: rest exit $rest_status, Asterisk half exit $asterisk_status"
[[ $rest_status == 0 && $asterisk_status == 0 ]]
