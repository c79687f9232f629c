#!/usr/bin/env bash
# The whole test suite, as `make check` runs it:
#   1. normal build + unit tests
#   2. clang ASan+UBSan build + unit tests + every fuzz corpus replayed
#   3. end-to-end scenarios (real Postfix, Dovecot, nginx, HAProxy) against
#      the ASan+UBSan binary
#   4. each fuzz target for FUZZ_SECONDS (default 30) on a copy of its corpus
# Prints the time of each stage and ends with one line "N passed, N failed".
# STAGES="unit asan e2e fuzz" selects stages; E2E="t_a t_b" selects scenarios.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
STAGES=${STAGES:-"unit asan e2e fuzz"}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
BUILD=${BUILD:-build}
ASAN=${ASAN:-build-asan}
passed=0
failed=0
skipped=0
failures=()
log=$(mktemp -d /tmp/tw-check.XXXXXX)

stage_start() { stage_name=$1; stage_t0=$(date +%s); echo "=== stage $1"; }
stage_end() { echo "=== stage $stage_name: $(($(date +%s) - stage_t0)) s"; }
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); failures+=("$1"); echo "FAIL: $1"; }

# Runs every cmocka test binary of a build dir, counting cases.
run_unit() {
	local dir=$1 tag=$2
	for t in "$dir"/tests/unit/*_test; do
		[ -x "$t" ] || continue
		local name out p f
		name=$(basename "$t")
		out="$log/$tag-$name.log"
		CMOCKA_MESSAGE_OUTPUT=stdout timeout 300 "$t" >"$out" 2>&1
		local rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$out" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$out" | tail -1)
		p=${p:-0}
		f=${f:-0}
		passed=$((passed + p))
		if [ "$f" -gt 0 ] || { [ $rc -ne 0 ] && [ "$p" -eq 0 ]; }; then
			[ "$f" -gt 0 ] || f=1
			failed=$((failed + f))
			failures+=("$tag $name")
			echo "FAIL: $tag $name (exit $rc)"
			grep -E '^\[  (FAILED|  ERROR) \]|ERROR:|runtime error' "$out" | head -20
		elif [ $rc -ne 0 ]; then
			fail "$tag $name: exit $rc after passing (sanitizer report?)"
			grep -E 'ERROR:|runtime error' "$out" | head -5
		fi
		echo "$tag $name: $p passed, $f failed"
	done
}

if [[ " $STAGES " == *" unit "* ]]; then
	stage_start unit
	if [ ! -f "$BUILD/build.ninja" ]; then meson setup "$BUILD" --buildtype=debugoptimized >"$log/setup.log" 2>&1 || cat "$log/setup.log"; fi
	if ninja -C "$BUILD" >"$log/build.log" 2>&1; then
		pass
		run_unit "$BUILD" unit
	else
		tail -30 "$log/build.log"
		fail "build ($BUILD)"
	fi
	stage_end
fi

if [[ " $STAGES " == *" asan "* || " $STAGES " == *" e2e "* || " $STAGES " == *" fuzz "* ]]; then
	if [ ! -f "$ASAN/build.ninja" ]; then
		CC=clang meson setup "$ASAN" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
			--buildtype=debug >"$log/setup-asan.log" 2>&1 || cat "$log/setup-asan.log"
	fi
	asan_built=0
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [[ " $STAGES " == *" asan "* ]]; then
	stage_start asan
	if ninja -C "$ASAN" >"$log/build-asan.log" 2>&1; then
		asan_built=1
		pass
		run_unit "$ASAN" asan
		# Every fuzz corpus replayed once as a regression test.
		for f in "$ASAN"/tests/fuzz/fuzz_*; do
			[ -f "$f" ] && [ -x "$f" ] || continue
			n=$(basename "$f")
			c="tests/fuzz/corpus/${n#fuzz_}"
			[ -d "$c" ] || { fail "corpus for $n missing ($c)"; continue; }
			if timeout 300 "$f" -runs=0 "$c" >"$log/replay-$n.log" 2>&1; then
				pass
				echo "replay $n: ok ($(ls "$c" | wc -l) inputs)"
			else
				fail "replay $n"
				tail -20 "$log/replay-$n.log"
			fi
		done
	else
		tail -30 "$log/build-asan.log"
		fail "build ($ASAN)"
	fi
	stage_end
fi

if [[ " $STAGES " == *" e2e "* ]]; then
	stage_start e2e
	[ "${asan_built:-0}" = 1 ] || ninja -C "$ASAN" >"$log/build-asan.log" 2>&1 || fail "build ($ASAN)"
	export TAILWART="$root/$ASAN/tailwart"
	# The daemon's leak check at exit is on; e2e runs many instances.
	out="$log/e2e.log"
	timeout 2400 bash tests/e2e/run.sh ${E2E:-} 2>&1 | tee "$out"
	p=$(grep '^ok ' "$out" | grep -vc '# SKIP')
	k=$(grep '^ok ' "$out" | grep -c '# SKIP')
	f=$(grep -c '^not ok ' "$out")
	passed=$((passed + p))
	skipped=$((skipped + k))
	failed=$((failed + f))
	[ "$f" -gt 0 ] && failures+=("e2e: $f scenario checks")
	if [ $((p + f)) -eq 0 ]; then fail "e2e ran no test"; fi
	stage_end
fi

if [[ " $STAGES " == *" fuzz "* ]]; then
	stage_start fuzz
	for f in "$ASAN"/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		n=$(basename "$f")
		c="tests/fuzz/corpus/${n#fuzz_}"
		work="$log/corpus-$n"
		mkdir -p "$work" "$log/crash-$n"
		cp -r "$c"/. "$work"/ 2>/dev/null
		if timeout $((FUZZ_SECONDS + 120)) "$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$log/crash-$n/" "$work" >"$log/fuzz-$n.log" 2>&1; then
			pass
			echo "fuzz $n: ok, $(grep -o 'stat::number_of_executed_units: [0-9]*' "$log/fuzz-$n.log" | awk '{print $2}') runs in ${FUZZ_SECONDS}s"
		else
			fail "fuzz $n (artifacts in $log/crash-$n)"
			tail -30 "$log/fuzz-$n.log"
		fi
	done
	stage_end
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo "logs: $log"
if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
