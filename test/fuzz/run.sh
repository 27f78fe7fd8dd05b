#!/usr/bin/env bash
# Runs libFuzzer targets one after the other, each for SECONDS on its
# checked-in seed corpus (test/fuzz/corpus/<target>, read only) plus a
# working corpus under BUILD/corpus/<target> that keeps what runs find.
# Prints each target's executions and the total; exits 1 if any target
# crashed, leaked or hit a sanitizer report (the input is saved under
# BUILD/artifacts/ and named in the output).
#
#   test/fuzz/run.sh BUILD SECONDS TARGET...
#
# FUZZ_CHECK=1 (make fuzz-check): a fixed libFuzzer seed, so a short run
# repeats. FUZZ_ARGS adds libFuzzer options.
set -uo pipefail

build=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
total=0 failed=()

for t in "$@"; do
	bin=$build/$t
	seeds=$here/corpus/$t
	work=$build/corpus/$t
	log=$build/logs/$t.log
	mkdir -p "$work" "$build/artifacts" "$build/logs"
	args=(-max_total_time="$secs" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1
		-artifact_prefix="$build/artifacts/$t-")
	[ -f "$here/$t.dict" ] && args+=(-dict="$here/$t.dict")
	[ "${FUZZ_CHECK:-}" = 1 ] && args+=(-seed=1)
	# shellcheck disable=SC2086
	nice -n 19 "$bin" "${args[@]}" ${FUZZ_ARGS:-} "$work" "$seeds" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ $rc -ne 0 ]; then
		failed+=("$t")
		echo "fuzz: $t FAILED after $execs executions (exit $rc); log $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|nstack fuzz:|.*runtime error)' "$log" | head -5 | sed 's/^/fuzz:   /'
		grep -E 'Test unit written to' "$log" | sed 's/^/fuzz:   /'
	else
		echo "fuzz: $t ok: $execs executions in ${secs}s (${rate:-?}/s), corpus $(ls "$work" | wc -l) new + $(ls "$seeds" | wc -l) seeds"
	fi
done
echo "fuzz: $total executions in total"
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failures: ${failed[*]}"; exit 1; }
