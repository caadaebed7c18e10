#!/usr/bin/env bash
# The main job on a fresh machine: install, then `callcenter demo`: start the sandboxed Asterisk
# (root), migrate and seed the demo hospital into SQLite under ./var, create the demo logins,
# render the IVR prompts, and serve the console on http://127.0.0.1:8080/ while simulated
# patients call in. Extra arguments go to `callcenter demo` (e.g. --mean-gap 10).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
if [[ $(id -u) -ne 0 ]]; then
    echo "run: not root, so the Asterisk sandbox (and the demo's simulated calls) cannot start;" \
         "serving the console alone, which keeps retrying its AMI connection (see /healthz)." \
         "Point CALLCENTER_AMI__* at your own Asterisk." >&2
    exec callcenter serve --seed-demo
fi
exec callcenter demo "$@"
