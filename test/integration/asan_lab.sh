#!/bin/bash
# The lab's real-program cases on an ASan/UBSan build of libnstack.so:
#
#   test/integration/asan_lab.sh ASAN_BUILD_DIR [CASE...]
#
# Programs from Debian are not built with ASan; they load its runtime first
# through LD_PRELOAD (the nstack wrapper keeps a sanitizer runtime at the
# head of LD_PRELOAD), then the instrumented libnstack.so, then
# libasan_early.so (test/tools/asan_early.c: why). Only programs
# started under nstack get the runtime. Every report goes to a log file;
# at the end the reports are listed, and the run fails if any has a frame in
# libnstack.so (reports about the programs themselves are listed as such).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: asan_lab.sh ASAN_BUILD_DIR [CASE...]}
shift
BUILD=$(cd "$BUILD" && pwd)
runtime=$(readlink -f "$(gcc -print-file-name=libasan.so)")
[ -f "$BUILD/libasan_early.so" ] || {
	echo "asan_lab: $BUILD/libasan_early.so missing (make asan-lab builds it)" >&2
	exit 1
}
[ -f "$runtime" ] || {
	echo "asan_lab: no ASan runtime (gcc -print-file-name=libasan.so)" >&2
	exit 1
}
logs=$(mktemp -d /tmp/nstack-asan.XXXXXX)
chmod 1777 "$logs" # programs run as other users too
wrapper="$logs/nstack"
cat >"$wrapper" <<EOW
#!/bin/sh
LD_PRELOAD="$runtime:$BUILD/libasan_early.so\${LD_PRELOAD:+:\$LD_PRELOAD}" exec "$BUILD/nstack" "\$@"
EOW
chmod 0755 "$wrapper"

# Leaks at exit are the programs' business; a libnstack.so loaded without
# the runtime first (cases that set LD_PRELOAD themselves) still runs.
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:log_path=$logs/asan:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan:halt_on_error=1"
NSTACK_WRAPPER="$wrapper" "$here/run.sh" "$BUILD" "$@"
rc=$?

ours=0 theirs=0
for f in "$logs"/asan.* "$logs"/ubsan.*; do
	[ -f "$f" ] || continue
	# Frames of ours show as libnstack.so, or (symbolized) as our sources.
	if grep -qE 'libnstack\.so| (preload|stack|pcap_io)/[a-z0-9_/]+\.[ch]:[0-9]' "$f"; then
		ours=$((ours + 1))
		echo "=== $f (libnstack.so)"
		head -n 40 "$f"
	else
		theirs=$((theirs + 1))
		echo "=== $f (not in libnstack.so)"
		head -n 12 "$f"
	fi
done
echo "asan_lab: $ours sanitizer reports in libnstack.so, $theirs elsewhere (logs: $logs)"
[ $ours -eq 0 ] && [ $rc -eq 0 ]
