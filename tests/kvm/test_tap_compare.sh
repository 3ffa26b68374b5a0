#!/bin/sh
# tap_compare.awk on made-up TAP runs and divergence tables (TAP output):
# the judge of the cross-backend comparison must itself fail when it should.
#   test_tap_compare.sh TAP_COMPARE_AWK DIVERGENCES_TXT
set -u
AWK_PROG=${1:?tap_compare.awk}
TABLE=${2:?divergences.txt}
T=$(mktemp -d "${TMPDIR:-/tmp}/tortuga-tapcmp.XXXXXX")
trap 'rm -rf "$T"' EXIT
n=0

# cmp_case NAME WANT_STATUS ENV KVM_RC [grep pattern the output must contain]
# compares $T/emu (status 3: one failure) with $T/kvm under $T/table.
cmp_case() {
	n=$((n + 1))
	awk -f "$AWK_PROG" -v env="$3" -v guest=g -v table="$T/table" -v emu="$T/emu" -v kvm="$T/kvm" \
		-v emu_rc=3 -v kvm_rc="$4" >"$T/out" 2>&1
	st=$?
	if [ $st -eq "$2" ] && { [ $# -lt 5 ] || grep -q -- "$5" "$T/out"; }; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1 (status $st, want $2)"
		sed 's/^/# /' "$T/out"
	fi
}

cat >"$T/emu" <<'EOF'
ok 1 - one
not ok 2 - two # got 1 want 2
ok 3 - three # SKIP not here
not ok 4 - four # TODO known emu bug
1..4
# 1 of 4 failed
EOF
: >"$T/table"

cp "$T/emu" "$T/kvm"
cmp_case "identical runs agree" 0 pvm 3 "3 results agree"
sed 's/^ok 3 - three # SKIP not here/ok 3 - three/; s/^not ok 4 /ok 4 /' "$T/emu" >"$T/kvm"
cmp_case "SKIP counts as ok; TODO results are not compared" 0 pvm 3 "1 TODO not compared"
sed 's/^ok 1 /not ok 1 /' "$T/emu" >"$T/kvm"
cmp_case "an unrecorded difference fails" 1 pvm 5 "result 1 ok on emu, not ok on kvm"
printf 'pvm g 1 result\n    a reason\n' >"$T/table"
cmp_case "a recorded difference passes and says why" 0 pvm 5 "recorded (pvm): a reason"
cmp_case "an entry for another environment does not apply" 1 qemu-tcg-svm 5
printf 'any g 1,3 result\n    every kvm\n' >"$T/table"
cmp_case "an 'any' entry applies everywhere" 0 hardware 5 "recorded (any)"
cmp_case "... and says when it did not happen" 0 hardware 5 "result 3 agrees; the recorded"
cmp_case "the kvm status must match its failures" 1 pvm 3 "kvm status 3"

head -2 "$T/emu" >"$T/kvm"
: >"$T/table"
cmp_case "a kvm run that stops is a failure" 1 pvm 10 "ends after result 2 of 4"
printf 'pvm g 3 stop\n    the VM cannot go on\n' >"$T/table"
cmp_case "a recorded stop passes; later results are not compared" 0 pvm 10 "2 after the stop"
printf 'pvm g 2 stop\n    elsewhere\n' >"$T/table"
cmp_case "a stop elsewhere than recorded fails" 1 pvm 10 "did not happen"
printf 'pvm g 3 stop\n    x\n' >"$T/table"
cp "$T/emu" "$T/kvm"
cmp_case "a recorded stop that did not happen is a note" 0 pvm 3 "recorded stop before result 3 did not happen"
{ head -2 "$T/emu"; echo "Bail out! unexpected exception 6"; } >"$T/kvm"
cmp_case "a bail-out is a stop" 0 pvm 255 "as recorded"

cp "$T/emu" "$T/kvm"
printf 'pvm g 9 result\n    beyond the plan\n' >"$T/table"
cmp_case "an entry beyond the guest's plan fails" 1 pvm 3 "has no result 9"
printf 'pvm g 1 result\n' >"$T/table"
cmp_case "an entry without a reason fails" 1 pvm 3 "gives no reason"
printf 'pvm g one result\n    x\n' >"$T/table"
cmp_case "a malformed entry fails" 1 pvm 3 "malformed"
printf 'elsewhere g 1 result\n    x\n' >"$T/table"
cmp_case "an unknown environment fails" 1 pvm 3 "malformed"
printf '    orphan\n' >"$T/table"
cmp_case "a continuation without an entry fails" 1 pvm 3 "without an entry"
: >"$T/table"
sed '$d' "$T/emu" | sed '$d' >"$T/emu.cut" && mv "$T/emu.cut" "$T/emu"
cmp_case "an incomplete emu run fails" 1 pvm 3 "not a complete TAP run"

# The shipped table parses: no malformed entry for any environment.
n=$((n + 1))
printf 'ok 1 - x\n1..1\n' >"$T/one"
bad=0
for env in qemu-tcg-svm pvm hardware any; do
	awk -f "$AWK_PROG" -v env=$env -v guest=none -v table="$TABLE" -v emu="$T/one" -v kvm="$T/one" \
		-v emu_rc=1 -v kvm_rc=1 >"$T/out" 2>&1 || bad=1
	grep -q 'divergences:' "$T/out" && bad=1
done
if [ $bad -eq 0 ]; then echo "ok $n - tests/kvm/divergences.txt parses"; else
	echo "not ok $n - tests/kvm/divergences.txt parses"
	sed 's/^/# /' "$T/out"
fi
echo "1..$n"
