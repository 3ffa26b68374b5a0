# Sourced by kvm_tests.sh (POSIX sh; uses its trun, rc, has, check, pass,
# fail, skip, $T, $CLI, $GUESTS, $VMT, $LIMIT): KVM's nested and SMM
# tracepoints, mapped by tracing/tortuga.bpf.c to the event schema
# (include/tortuga/event_kinds.def), checked on real workloads.
#
#   nested SVM  guests/svmhv.elf, an L1 hypervisor, runs an L2 that executes
#               CPUID n times, VMMCALL, HLT, all intercepted by L1 (AMD APM
#               Vol. 2 15.9, 15.13.1). Recorded with --trace-bpf while a
#               second, untraced svmhv VM runs the same workload in another
#               process: the process filter must keep its events out.
#   SMM         test_kvm_vm smm raises KVM_SMI; its handler returns with RSM.
#               kvm_smm_transition must give one SMI then one RSM event with
#               SMBASE in aux.
#
# trace_nested_skip REASON   skip every case (no KVM here)
# trace_nested_cases         run them; a case skips, with the reason, when
#                            the host's KVM has no nested SVM (VMX hosts) or
#                            no SMM, or eBPF cannot record -- except where
#                            kvm_tests.sh's KVM_EXPECT_NESTED=svm and
#                            KVM_STRICT=1 say the host has them (kvm-qemu)
TRACE_NESTED_CASES="eBPF: KVM's nested SVM tracepoints (svmhv)|eBPF: nested SVM: the report's per-level attribution|eBPF: KVM's SMM tracepoint (SMI, RSM)"
TRACE_NESTED_N=100

trace_nested_skip() {
	tn_ifs=$IFS
	IFS='|'
	for c in $TRACE_NESTED_CASES; do
		skip "kvm: $c" "$1"
	done
	IFS=$tn_ifs
}

# Counts from a CSV trace (columns: tracing/writer.c; flags bit 0 KVM, bit 1
# SVM). For KVM events only: exits by level and reason, and each nested
# event checked against the schema's conventions: a nested-exit (level 2,
# handler 0) and a reflect (level 2, handler 1) name as parent the L2 exit
# with their reason; a nested-entry (level 1) names L1's VMRUN exit and
# carries its reason (SVM exit code 80h), the VMCB address in qual and L2's
# RIP in aux.
tn_counts() {
	awk -F, 'NR == 1 || !($13 % 2) { next }
		{ kind[$1] = $14; reason[$1] = $8; level[$1] = $11; svm = int($13 / 2) % 2 }
		!svm { nonsvm++ }
		$14 == "exit" && $11 == 2 && $8 == 114 { l2cpuid++ }
		$14 == "exit" && $11 == 1 && $8 == 128 { vmrun++ }
		$14 == "nested-exit" { ne[$8]++
			if ($11 != 2 || $12 != 0 || kind[$7] != "exit" || reason[$7] != $8 || level[$7] != 2) bad++ }
		$14 == "reflect" { rf[$8]++
			if ($11 != 2 || $12 != 1 || kind[$7] != "exit" || reason[$7] != $8 || level[$7] != 2) bad++ }
		$14 == "nested-entry" { en++; vmcb[$4] = 1
			if ($11 != 1 || $8 != 128 || kind[$7] != "exit" || reason[$7] != 128 || level[$7] != 1 || $6 == 0) bad++ }
		END { nv = 0; for (v in vmcb) nv++
			printf "%d %d %d %d %d %d %d %d %d %d %d\n", ne[114], rf[114], rf[129], rf[120], en, vmrun, l2cpuid,
				nv, bad, nonsvm, ne[1024] }' "$1"
}

# count and reflected_to_l1 of one (source, level, reason) of a report --json.
tn_report_row() {
	tr '{' '\n' <"$1" | awk -v src="$2" -v lvl="$3" -v rsn="$4" '
		/^"source":/ { split($0, a, "\""); s = a[4] }
		/^"level":/ { split($0, a, /[:,]/); l = a[2] }
		s == src && l == lvl && index($0, "\"reason\":" rsn ",") == 1 {
			match($0, /"count":[0-9]+/); c = substr($0, RSTART + 8, RLENGTH - 8)
			match($0, /"reflected_to_l1":[0-9]+/); r = substr($0, RSTART + 18, RLENGTH - 18)
			print c, r }'
}

# tn_wait_for TEXT FILE PID: until FILE holds TEXT, PID ends, or 30 s pass.
tn_wait_for() {
	k=0
	while ! grep -q "$1" "$2" && kill -0 "$3" 2>/dev/null && [ $k -lt 300 ]; do
		sleep 0.1
		k=$((k + 1))
	done
}

trace_nested_cases() {
	nn=$TRACE_NESTED_N # (n is kvm_tests.sh's TAP counter)
	# The untraced neighbour: the same L1 hypervisor, looping much longer.
	timeout "$LIMIT" "$CLI" run -q --backend kvm --nested "$GUESTS/svmhv.elf" -- n=1000000000 \
		>"$T/tn-bg.out" 2>"$T/tn-bg.err" &
	bg=$!
	tn_wait_for "running L2" "$T/tn-bg.out" $bg
	# What the neighbour does meanwhile, recorded by a separate process
	# (tortuga trace record -p): the filter is tested only if its nested
	# exits happen while ours do.
	"$CLI" trace record -p $bg --no-usdt -o "$T/tn-bg.csv" 2>"$T/tn-rec.err" &
	rec=$!
	tn_wait_for "recording process" "$T/tn-rec.err" $rec
	trun tn --backend kvm --nested --trace-bpf "$T/tn.csv" "$GUESTS/svmhv.elf" -- n=$nn
	kill -INT $rec 2>/dev/null
	wait $rec 2>/dev/null
	kill $bg 2>/dev/null
	wait $bg 2>/dev/null
	why=
	if [ "$(rc tn)" = 2 ] && has tn "--nested on the kvm backend: "; then
		why=$(sed -n 's/^tortuga: //p' "$T/tn.err" | head -1)
	elif [ "$(rc tn)" = 5 ] && grep -q "^svmhv: no SVM" "$T/tn.out"; then
		why="the host's KVM offers nested VMX, not SVM: $(grep '^svmhv: no SVM' "$T/tn.out")"
	elif has tn "eBPF unavailable" || has tn "without eBPF support"; then
		why=$(sed -n 's/^tortuga: --trace-bpf: //p' "$T/tn.err" | cut -d';' -f1)
	fi
	if [ -n "$why" ] && [ "${KVM_EXPECT_NESTED:-}" = svm ]; then
		# kvm-qemu: the host is known to offer nested SVM and eBPF.
		echo "expected nested SVM with eBPF here (KVM_EXPECT_NESTED=svm): $why" >"$T/tn.why"
		fail "kvm: eBPF: KVM's nested SVM tracepoints (svmhv)" "$T/tn.why" "$T/tn.out" "$T/tn.err"
		fail "kvm: eBPF: nested SVM: the report's per-level attribution" "$T/tn.why"
	elif [ -n "$why" ]; then
		skip "kvm: eBPF: KVM's nested SVM tracepoints (svmhv)" "$why"
		skip "kvm: eBPF: nested SVM: the report's per-level attribution" "$why"
	else
		# The neighbour's nested CPUID exits: all recorded, and those
		# within the span of our KVM events.
		set -- $(awk -F, 'FNR == 1 { f++; next }
			f == 1 && $13 % 2 { if (!lo || $2 < lo) lo = $2; if ($2 > hi) hi = $2 }
			f == 2 && $14 == "nested-exit" && $8 == 114 { all++; if ($2 >= lo && $2 <= hi) during++ }
			END { print all + 0, during + 0 }' "$T/tn.csv" "$T/tn-bg.csv" 2>/dev/null)
		nball=${1:-0} nbduring=${2:-0}
		set -- $(tn_counts "$T/tn.csv")
		ne=$1 rf=$2 rfcall=$3 rfhlt=$4 en=$5 vmrun=$6 l2cpuid=$7 nv=$8 bad=$9 nonsvm=${10} npf=${11}
		{
			echo "svmhv n=$nn: status $(rc tn); the neighbour's nested CPUID exits: $nball, $nbduring during ours"
			echo "nested-exit CPUID $ne, reflect CPUID $rf VMMCALL $rfcall HLT $rfhlt, nested-entry $en,"
			echo "L1 VMRUN exits $vmrun, L2 CPUID exits $l2cpuid, VMCBs $nv, events breaking the schema $bad,"
			echo "KVM events without the SVM flag $nonsvm; nested-exit NPF (handled by L0) $npf"
			cat "$T/tn.out"
		} >"$T/tn.why"
		# L2's n CPUIDs are n exits from L2, each one reflected to L1 (L1
		# intercepts CPUID); L1 runs L2 n + 2 times (after each CPUID,
		# after VMMCALL, and first). A filter letting the neighbour in
		# would add its events to every count.
		st=1
		[ "$(rc tn)" = 1 ] && [ "$nbduring" -gt 0 ] && [ "$ne" = $nn ] && [ "$rf" = $nn ] && [ "$l2cpuid" = $nn ] &&
			[ "$rfcall" = 1 ] && [ "$rfhlt" = 1 ] && [ "$en" = $((nn + 2)) ] && [ "$vmrun" = $((nn + 2)) ] &&
			[ "$nv" = 1 ] && [ "$bad" = 0 ] && [ "$nonsvm" -le 1 ] && st=0
		check "kvm: eBPF: KVM's nested SVM tracepoints (svmhv): $ne nested exits and $rf reflections for $nn L2 CPUIDs, $en nested entries; none of the neighbour's $nbduring" \
			$st "$T/tn.why" "$T/tn.err" "$T/tn-bg.err" "$T/tn-rec.err"
		# The report attributes L2's CPUID exits (level 2) to L1 by the
		# reflect events' parent links, and L1's own CPUIDs to L0.
		"$CLI" trace report --json "$T/tn.csv" >"$T/tn.json" 2>"$T/tn-report.err"
		rrow=$(tn_report_row "$T/tn.json" kvm 2 114)
		st=1
		[ "$rrow" = "$nn $nn" ] && grep -q '"bad_parents":0,' "$T/tn.json" && st=0
		echo "report, kvm source, level 2 CPUID: count and reflected_to_l1 '$rrow'" >"$T/tn-report.why"
		check "kvm: eBPF: nested SVM: the report's per-level attribution (L2 CPUID: ${rrow:-none} count/reflected)" \
			$st "$T/tn-report.why" "$T/tn-report.err"
	fi

	# SMM: SMBASE is 30000H after reset (Intel SDM Vol. 3C 32.11, AMD APM
	# Vol. 2 10.2.3), which test_kvm_vm's handler leaves unchanged.
	timeout "$LIMIT" "$VMT" smm "$GUESTS" --trace-bpf "$T/smm.csv" >"$T/tn-smm.out" 2>&1
	st=$?
	if [ $st -eq 77 ] && [ "${KVM_STRICT:-0}" != 1 ]; then
		skip "kvm: eBPF: KVM's SMM tracepoint (SMI, RSM)" "$(head -1 "$T/tn-smm.out")"
		return 0
	fi
	set -- $(awk -F, 'NR == 1 || !($13 % 2) { next }
		$14 == "smi" { smi++; s = $1; if ($6 != 196608 || $11 != 1) bad++ }
		$14 == "rsm" { rsm++; r = $1; if ($6 != 196608 || !s || $1 < s) bad++ }
		$14 == "exit" && int($13 / 2) % 2 { svm = 1 }
		$14 == "exit" && int($13 / 2) % 2 && $8 == 115 { rsmexit[$1] = 1 }
		END { between = 0; for (x in rsmexit) if (x + 0 > s && x + 0 < r) between++
			printf "%d %d %d %d %d\n", smi, rsm, bad, svm, between }' "$T/smm.csv" 2>/dev/null)
	smi=$1 rsm=$2 bad=$3 svm=$4 between=$5
	echo "test_kvm_vm smm status $st; SMI events $smi, RSM events $rsm, wrong SMBASE/order $bad, SVM $svm, RSM exits between $between" \
		>"$T/tn-smm.why"
	# On SVM, KVM intercepts RSM (exit code 73h) and emulates it.
	[ $st -eq 0 ] && [ "$smi" = 1 ] && [ "$rsm" = 1 ] && [ "$bad" = 0 ] && { [ "$svm" = 0 ] || [ "$between" = 1 ]; } ||
		st=1
	check "kvm: eBPF: KVM's SMM tracepoint (SMI, RSM): $smi SMI, $rsm RSM, SMBASE 0x30000$([ "$svm" = 1 ] && echo ", RSM intercepted")" \
		$st "$T/tn-smm.why" "$T/tn-smm.out"
}
