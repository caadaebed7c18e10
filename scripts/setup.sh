#!/usr/bin/env bash
# Install everything the project needs on a fresh Debian 12 machine; quick when already done.
#   - Debian packages (as root): debootstrap for the Asterisk sandbox, ffmpeg and espeak-ng for
#     audio and prompts, chromium for the console's browser tests
#   - a Python 3.11 virtual environment in .venv with the project and its dev tools
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(debootstrap debian-archive-keyring ffmpeg espeak-ng chromium fonts-noto-cjk)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]]; then
        echo "setup: installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "setup: not root; please install: sudo apt-get install ${missing[*]}" >&2
    fi
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "setup: Python 3.11 is required (found $("$PYTHON" --version))" >&2
    exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
