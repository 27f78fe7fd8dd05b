#!/usr/bin/env bash
# Installs the Debian packages nstack's build, tests and demo need, only the
# missing ones. Needs root (apt-get) when something is missing.
#
# Some are servers the multi-process lab cases (case_multiproc.sh) start
# themselves, inside the lab's namespaces only. Nothing here may leave a
# service running on the host: the binary-only packages are used where Debian
# has them (apache2-bin, dnsmasq-base); for the others (openssh-server,
# postgresql) the install runs with a policy-rc.d that forbids starting
# services (unless one already exists), and their services are then disabled.
set -euo pipefail

pkgs=(
	build-essential pkg-config libpcap-dev libbsd-dev libc-ares-dev check
	iproute2 ethtool iputils-ping tcpdump nftables mandoc
	socat netcat-openbsd python3 curl wget iperf3
	nginx redis-server redis-tools wrk openssl git hping3
	apache2-bin media-types postgresql postgresql-client openssh-server openssh-client
	rsync dnsmasq-base bind9-dnsutils procps util-linux radvd ndisc6
	# case_evlibs.sh builds small programs on these event libraries
	# (Boost.Asio is header-only: libboost-dev is enough).
	libevent-dev libglib2.0-dev libboost-dev
	# make fuzz / fuzz-check: clang, and libFuzzer with the sanitizer runtimes
	# (clang-14 only recommends it, and recommends are not installed here).
	clang libclang-rt-14-dev
)
# Packages that ship a service started on install, and the service's name.
declare -A services=([openssh-server]=ssh [postgresql]=postgresql [nginx]=nginx [redis-server]=redis-server [rsync]=rsync [radvd]=radvd)

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
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	# invoke-rc.d and deb-systemd-invoke ask this before starting a service;
	# 101 means "not allowed". Removed again below, also on failure.
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The lab cases run their own instances; the host gets none (now or at boot).
for p in "${missing[@]}"; do
	svc=${services[$p]:-}
	[ -n "$svc" ] || continue
	if [ -d /run/systemd/system ]; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
		[ "$svc" != ssh ] || systemctl disable --now ssh.socket >/dev/null 2>&1 || true
	elif [ -x "/etc/init.d/$svc" ]; then
		service "$svc" stop >/dev/null 2>&1 || true
		update-rc.d "$svc" disable >/dev/null 2>&1 || true
	fi
done
