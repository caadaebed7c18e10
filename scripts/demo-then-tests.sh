#!/usr/bin/env bash
# Check that `callcenter demo` leaves nothing behind (issue 15): run the demo for a while,
# stop it with Ctrl-C (SIGINT), check its sandbox Asterisk stopped, then run the Asterisk test
# modules that used to fail after a demo, on the same sandbox.
#
# Everything runs in a network namespace of its own (own loopback: AMI 5038, web 8080 and SIP
# 5060 never meet the machine's shared sandbox) on a copy of the sandbox chroot, so it is safe
# while other test sessions use the shared sandbox. Root only.
#   bash scripts/demo-then-tests.sh [SECONDS]   (default 150 s of demo once it is live)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "demo-then-tests: needs root (chroot, netns)" >&2; exit 2; }
seconds=${1:-150}
work=${DEMO_CHECK_DIR:-/tmp/callcenter-demo-check}
shared=${CALLCENTER_ASTERISK__SANDBOX_DIR:-/var/cache/callcenter/asterisk-sandbox}
mkdir -p "$work/sandbox/root" "$work/var"
if [[ ! -e $work/sandbox/root/.callcenter-sandbox-built ]]; then
    echo "copying the sandbox chroot from $shared (about 500 MB)"
    tar -C "$shared/root" --one-file-system --exclude=./proc -cf - . | tar -C "$work/sandbox/root" -xf -
    mkdir -p "$work/sandbox/root/proc"
    rm -f "$work/sandbox/root/run/asterisk/asterisk.pid"
fi
cat > "$work/inside.sh" <<EOF
#!/usr/bin/env bash
set -uo pipefail
ip link set lo up
cd "$PWD"
export PATH="$PWD/.venv/bin:\$PATH"
export CALLCENTER_DATA_DIR="$work/var" CALLCENTER_ASTERISK__SANDBOX_DIR="$work/sandbox"
# Job control: without it a background job of a script ignores SIGINT (Ctrl-C) until Python
# installs its handler, and a cold demo spends minutes rendering prompts before that.
set -m
callcenter demo > "$work/demo.log" 2>&1 &
demo=\$!
for _ in \$(seq 600); do grep -q "demo: live" "$work/demo.log" && break; sleep 1; done
grep -q "demo: live" "$work/demo.log" || { echo "FAIL: the demo was not live in 600 s" >&2; kill -KILL \$demo; exit 1; }
sleep $seconds
kill -INT \$demo
for _ in \$(seq 120); do kill -0 \$demo 2>/dev/null || break; sleep 1; done
if kill -0 \$demo 2>/dev/null; then
    echo "FAIL: the demo still runs 120 s after Ctrl-C" >&2
    kill -KILL \$demo
    exit 1
fi
wait \$demo
echo "demo exited (\$?): \$(tail -1 "$work/demo.log")"
if pgrep -f "^/usr/sbin/asterisk" | while read -r pid; do
        [[ \$(readlink "/proc/\$pid/root") == "$work/sandbox/root" ]] && echo "\$pid"
    done | grep -q .; then
    echo "FAIL: the demo's Asterisk still runs after Ctrl-C" >&2
    exit 1
fi
export CALLCENTER_TEST_ASTERISK_DIR="$work/sandbox"
unset CALLCENTER_TEST_PG_URL
timeout 900 pytest -q -p no:cacheprovider tests/e2e/test_desk_chromium.py \
    "tests/integration/callcenter/agents/test_agent_desk_asterisk.py::test_queue_call_pops_the_callers_card_on_the_right_agent" \
    tests/integration/callcenter/agents/test_ivr_pop_asterisk.py
EOF
chmod +x "$work/inside.sh"
exec unshare --net --fork "$work/inside.sh"
