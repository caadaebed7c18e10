#!/usr/bin/env bash
# The main job on a fresh machine: install, start the sandboxed Asterisk (when root), seed the
# demo hospital into SQLite under ./var, and serve the console on http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
if [[ $(id -u) -eq 0 ]]; then
    callcenter asterisk sandbox up
    callcenter seed --demo --if-empty   # the prompts speak the departments' and doctors' names
    callcenter prompts build --sandbox
else
    echo "run: not root, so the Asterisk sandbox cannot start; the server will keep retrying" \
         "its AMI connection (see /healthz). Point CALLCENTER_AMI__* at your own Asterisk." >&2
fi
exec callcenter serve --seed-demo "$@"
