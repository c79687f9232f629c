#!/usr/bin/env bash
# run.sh - runs the end-to-end scenarios: all of tests/e2e/t_*.sh, or the
# ones named (t_bulk, bulk, t_bulk.sh all work). Prints each scenario's
# TAP-like lines as they come, a PASS/FAIL line per scenario, and at the end
# `N passed, N failed` (scenarios).
#
#   tests/e2e/run.sh [-q] [SCENARIO...]
#     -q   quiet: only the PASS/FAIL lines and the failures with diagnostics
#   env: TAILWART, EDGE_IMPL=tailwart|haproxy, E2E_TIMEOUT (per scenario,
#        seconds, default 240), E2E_KEEP=1 (keep temp dirs)
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
verbose=1
args=()
for a in "$@"; do
	case $a in
	-q) verbose=0 ;;
	-v) verbose=1 ;;
	-h | --help)
		sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) args+=("$a") ;;
	esac
done

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: the scenarios need root (private servers, network namespaces)" >&2
	exit 2
fi

tests=()
if [ ${#args[@]} -eq 0 ]; then
	for f in "$here"/t_*.sh; do tests+=("$f"); done
else
	for a in "${args[@]}"; do
		a=$(basename "$a" .sh)
		a=${a#t_}
		[ -f "$here/t_$a.sh" ] || {
			echo "run.sh: no scenario '$a' (have: $(cd "$here" && ls t_*.sh | sed 's/^t_//; s/\.sh$//' | xargs))" >&2
			exit 2
		}
		tests+=("$here/t_$a.sh")
	done
fi

limit=${E2E_TIMEOUT:-240}
outdir=$(mktemp -d /tmp/tw-e2e-run.XXXXXX)
edge=${EDGE_IMPL:-tailwart}
echo "tailwart e2e: ${#tests[@]} scenario(s), edge=$edge${TAILWART:+ ($TAILWART)}, logs in $outdir"
passed=0
failed=0
failed_names=()
t_start=$(date +%s)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out=$outdir/$name.out
	s0=$(date +%s%3N)
	if [ "$verbose" = 1 ]; then
		timeout -k 15 "$limit" bash "$t" 2>&1 | tee "$out"
		rc=${PIPESTATUS[0]}
	else
		timeout -k 15 "$limit" bash "$t" >"$out" 2>&1
		rc=$?
	fi
	ms=$(($(date +%s%3N) - s0))
	n_ok=$(grep -c '^ok - ' "$out")
	n_skip=$(grep -c '^ok - .*# SKIP' "$out")
	n_bad=$(grep -c '^not ok - ' "$out")
	secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
	extra=""
	[ "$n_skip" -gt 0 ] && extra=", $n_skip skipped"
	if [ $rc = 0 ] && [ "$n_bad" = 0 ]; then
		passed=$((passed + 1))
		printf 'PASS  %-22s %6ss  (%d ok%s)\n' "$name" "$secs" "$n_ok" "$extra"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		why="exit $rc"
		[ $rc = 124 ] || [ $rc = 137 ] && why="timed out after ${limit}s"
		printf 'FAIL  %-22s %6ss  (%d ok, %d not ok%s; %s)\n' "$name" "$secs" "$n_ok" "$n_bad" "$extra" "$why"
		if [ "$verbose" = 0 ]; then
			# The failures with their diagnostics, and where the logs are.
			awk '/^# logs kept in/{print "      " $0; next} /^not ok - /{p=1; print "      " $0; next} /^ok - /{p=0} p && /^#/{print "      " $0}' "$out" | head -n 60
		fi
	fi
done
total=$(($(date +%s) - t_start))
echo "$passed passed, $failed failed  (${total}s; per-scenario output in $outdir)"
[ "$failed" = 0 ] || {
	echo "failed: ${failed_names[*]}"
	exit 1
}
exit 0
