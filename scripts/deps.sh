#!/usr/bin/env bash
# Installs what tailwart needs from Debian 12, only what is missing.
# Usage: scripts/deps.sh build|check|demo|bench
# Packages never start their system daemons here (policy-rc.d), and
# postfix's debconf questions are preseeded, so this runs as root on a
# fresh machine without systemd and without a terminal.
set -euo pipefail
what=${1:-build}

build_pkgs="gcc make meson ninja-build pkg-config libuv1-dev libfyaml-dev libsystemd-dev libcap-dev libsqlite3-dev libpq-dev libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libssl-dev libldns-dev"
check_pkgs="$build_pkgs libcmocka-dev clang libclang-rt-14-dev postfix dovecot-imapd haproxy nginx-light
 openssl iproute2 procps swaks python3 python3-yaml curl systemd util-linux psmisc xxd strace postgresql
 chromium knot knot-dnsutils ldnsutils"
demo_pkgs="$build_pkgs postfix nginx-light openssl swaks curl procps iproute2"
bench_pkgs="$check_pkgs libnginx-mod-stream sqlite3 time"

case "$what" in
build) pkgs=$build_pkgs ;;
check) pkgs=$check_pkgs ;;
demo) pkgs=$demo_pkgs ;;
bench) pkgs=$bench_pkgs ;;
*) echo "deps.sh: unknown set '$what' (build|check|demo|bench)" >&2; exit 2 ;;
esac

missing=()
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 3
fi

export DEBIAN_FRONTEND=noninteractive
# Keep maintainer scripts from starting daemons (no systemd here; tests
# start their own private instances).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
echo "deps.sh: installing ${missing[*]}" >&2
apt-get update -qq || apt-get update
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
