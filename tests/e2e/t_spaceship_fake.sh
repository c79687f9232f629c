#!/usr/bin/env bash
# t_spaceship_fake.sh - the fake Spaceship DNS API (tests/fakes/spaceship_fake.py) behaves as
# documented: runs its unittest module (tests/fakes/test_spaceship_fake.py) and turns each
# test's verbose result line into one `ok`/`not ok` line. The fake binds 127.0.0.1 only.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init spaceship_fake

fakes=$TW_ROOT/tests/fakes
out=$T_DIR/unittest.out
# The tests' temp dirs (fake state, logs) go under the scenario's dir.
(cd "$fakes" && TMPDIR=$T_DIR timeout 200 "$PY" -m unittest -v test_spaceship_fake) >"$out" 2>&1
rc=$?

# `test_x (module.Class.test_x) ... ok`; a docstring puts the result on the next line, so the
# name is remembered until a ` ... RESULT` line comes. A test with subtests prints ` ... ` with
# no result first, then an indented line per failed subtest, then its own result line.
map=$(awk '
	function emit(res) {
		if (subfail && res == "ok") res = "FAIL (subtest)"
		if (res == "ok" || res ~ /^expected failure/) print "ok\t" name
		else if (res ~ /^skipped/) print "skip\t" name "\t" res
		else print "bad\t" name "\t" res
		name = ""; subfail = 0
	}
	/^test[A-Za-z0-9_]* \([A-Za-z0-9_.]+\)/ {
		n = $1; c = $2; gsub(/[()]/, "", c); sub(/\.[^.]*$/, "", c); sub(/^.*\./, "", c)
		if (c "." n != name) {
			# A new test; the previous one had only failed subtests and no result line.
			if (name != "" && subfail) emit("FAIL (subtest)")
			name = c "." n; subfail = 0
		}
	}
	/^[ \t]+test.* \.\.\. (FAIL|ERROR)/ { subfail = 1; next }
	name != "" && / \.\.\. ?[^ ]/ { r = $0; sub(/^.* \.\.\. /, "", r); emit(r) }
	END { if (name != "" && subfail) emit("FAIL (subtest)") }
' "$out")

n=0
while IFS=$'\t' read -r kind name why; do
	[ -n "$kind" ] || continue
	n=$((n + 1))
	case $kind in
	ok) ok "fake: $name" ;;
	skip) skip "fake: $name" "$why" ;;
	*)
		not_ok "fake: $name" "$why"
		# The failure section of that test, as diagnostics.
		awk -v t="${name#*.}" '/^(FAIL|ERROR): / {p = index($0, " " t " (") > 0} /^Ran [0-9]+ tests? in / {p = 0} p' "$out" |
			head -n 25 | sed 's/^/#   /'
		;;
	esac
done <<<"$map"

ran=$(sed -n 's/^Ran \([0-9]*\) tests\? in .*/\1/p' "$out")
if [ -n "$ran" ] && [ "$ran" = "$n" ]; then
	ok "every one of the $ran unit tests reported a result"
else
	not_ok "every unit test reported a result" "parsed $n lines, unittest ran '${ran:-?}' (rc=$rc)"
	diag_file "$out" 30
fi
if [ "$rc" = 0 ]; then
	ok "unittest exit status 0"
else
	not_ok "unittest exit status 0" "rc=$rc"
	diag_file "$out" 30
fi
finish
