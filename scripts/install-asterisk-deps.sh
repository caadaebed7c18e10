#!/bin/sh
# Host packages the Asterisk sandbox needs on Debian 12: debootstrap builds the Debian unstable
# chroot, the archive keyring lets it verify what it downloads, mount/coreutils provide
# mount, umount and chroot. Idempotent: returns at once when everything is installed.
set -eu

packages="debootstrap debian-archive-keyring mount coreutils"

missing=""
for package in $packages; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    echo "asterisk sandbox dependencies: already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages:$missing; run this script as root to install them" >&2
    exit 1
fi

echo "installing:$missing"
apt-get update -qq
# $missing is a list of package names: word splitting is intended.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
