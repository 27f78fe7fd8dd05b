#!/usr/bin/env bash
# Installs the Debian packages nstack's build, tests and demo need, only the
# missing ones. Needs root (apt-get) when something is missing.
set -euo pipefail

pkgs=(
	build-essential pkg-config libpcap-dev libbsd-dev check
	iproute2 ethtool iputils-ping tcpdump nftables mandoc
	socat netcat-openbsd python3 curl wget iperf3
	nginx redis-server redis-tools wrk openssl git
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "nstack: missing Debian packages: ${missing[*]}" >&2
	echo "nstack: run as root (or: sudo apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "nstack: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
