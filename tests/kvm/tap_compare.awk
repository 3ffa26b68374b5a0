# Compare one self-test guest's TAP output on the emu and the kvm backend,
# result by result (README "Cross-backend comparison"). POSIX awk: it also
# runs under busybox inside the QEMU environment of kvm_qemu.sh.
#
#   awk -f tap_compare.awk -v env=ENV -v guest=NAME -v table=DIVERGENCES \
#       -v emu=EMU.out -v kvm=KVM.out -v emu_rc=N -v kvm_rc=N
#
# The two runs agree when:
#   - the emu run is complete (results 1..N in order, then the plan 1..N),
#     and the kvm run has the same plan and the same numbered results;
#   - every result is ok on both or not ok on both ("# SKIP" counts as ok;
#     a "# TODO" result, a known emu bug tracked elsewhere, is not compared);
#   - each backend's exit status is (its failures << 1) | 1, the self-test
#     convention (guests/lib/include/guest/tap.h).
# Exceptions come only from the divergence table (tests/kvm/divergences.txt),
# for this environment (or "any") and this guest:
#   N[-M][,...] result   these results may differ;
#   N stop         the kvm run may end before result N (the VM cannot go on
#                  there); later results, the plan and the status are not
#                  compared.
#   K[,...] lines  (guests compared by output, not TAP: kvm_tests.sh) output
#                  lines "PREFIX.K VALUE" are not compared; ignored here.
# Prints one "# " line per finding; exits 0 when the runs agree.

function note(s) { print "# " s }
function bad(s) { note("FAIL: " s); failed = 1 }

# Parse a TAP stream (guests/lib/tap.c) into res_ok[pfx, n], res_todo[pfx, n]
# and res_name[pfx, n]; sets cnt[pfx], plan[pfx] (-1: none), order[pfx] (1:
# numbered 1..cnt) and bail[pfx] (the "Bail out!" line, if any).
function parse(file, pfx,    line, n, m, rest, ok) {
	cnt[pfx] = 0; plan[pfx] = -1; order[pfx] = 1; bail[pfx] = ""
	while ((getline line < file) > 0) {
		sub(/\r$/, "", line)
		if (line ~ /^(not )?ok [0-9]+ - /) {
			rest = line
			ok = 1
			if (rest ~ /^not /) { ok = 0; rest = substr(rest, 5) }
			rest = substr(rest, 4)
			n = rest; sub(/ .*/, "", n); n += 0
			cnt[pfx]++
			if (n != cnt[pfx]) order[pfx] = 0
			res_ok[pfx, n] = ok
			res_todo[pfx, n] = (line ~ / # TODO( |$)/)
			m = rest; sub(/^[0-9]+ - /, "", m)
			res_name[pfx, n] = m
		} else if (line ~ /^1\.\.[0-9]+$/) {
			plan[pfx] = substr(line, 4) + 0
		} else if (line ~ /^Bail out!/) {
			bail[pfx] = line
		}
	}
	close(file)
}

function failures(pfx,    i, f) {
	f = 0
	for (i = 1; i <= cnt[pfx]; i++)
		if (!res_ok[pfx, i] && !res_todo[pfx, i])
			f++
	return f
}

BEGIN {
	failed = 0
	# The table: environment, guest, result(s), kind, reason; indented
	# lines continue the reason of the entry above.
	nent = 0
	while ((getline line < table) > 0) {
		if (line ~ /^#/ || line ~ /^[ \t]*$/)
			continue
		if (line ~ /^[ \t]/) {
			if (nent == 0) {
				bad("divergences: continuation line without an entry: " line)
				continue
			}
			sub(/^[ \t]+/, "", line)
			ent_reason[nent] = ent_reason[nent] (ent_reason[nent] == "" ? "" : " ") line
			continue
		}
		nf = split(line, f, /[ \t]+/)
		keys_ok = f[4] == "lines" && f[3] ~ /^[a-z0-9_]+(,[a-z0-9_]+)*$/
		nums_ok = f[4] != "lines" && f[3] ~ /^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/
		if (nf < 4 || !(keys_ok || nums_ok) ||
		    (f[4] != "result" && f[4] != "stop" && f[4] != "lines") || (f[4] == "stop" && f[3] !~ /^[0-9]+$/) ||
		    (f[1] != "qemu-tcg-svm" && f[1] != "pvm" && f[1] != "hardware" && f[1] != "any")) {
			bad("divergences: malformed entry: " line)
			continue
		}
		reason = line
		for (i = 1; i <= 4; i++)
			sub(/^[ \t]*[^ \t]+[ \t]*/, "", reason)
		nent++
		ent_env[nent] = f[1]; ent_guest[nent] = f[2]; ent_kind[nent] = f[4]
		ent_results[nent] = f[3]; ent_reason[nent] = reason
	}
	for (k = 1; k <= nent; k++) {
		if (ent_reason[k] !~ /[^ ]/)
			bad("divergences: entry " ent_env[k] " " ent_guest[k] " " ent_results[k] " gives no reason")
		if ((ent_env[k] != env && ent_env[k] != "any") || ent_guest[k] != guest || ent_kind[k] == "lines")
			continue
		nr = split(ent_results[k], items, ",")
		for (r = 1; r <= nr; r++) {
			lo = items[r]; hi = items[r]
			if (lo ~ /-/) { sub(/-.*/, "", lo); sub(/.*-/, "", hi) }
			for (n = lo + 0; n <= hi + 0; n++) {
				if (ent_kind[k] == "result") { may_differ[n] = ent_reason[k]; entries[n] = ent_env[k] }
				else { stop_at[n] = ent_reason[k] }
			}
		}
	}
	close(table)

	parse(emu, "e")
	parse(kvm, "k")

	if (bail["e"] != "" || plan["e"] < 1 || plan["e"] != cnt["e"] || !order["e"]) {
		bad("the emu run is not a complete TAP run (plan " plan["e"] ", " cnt["e"] " results" \
		    (bail["e"] != "" ? ", " bail["e"] : "") ")")
		exit 1
	}
	N = plan["e"]
	for (n in may_differ)
		if (n + 0 > N) bad("divergences: " guest " has no result " n " (plan 1.." N ")")
	for (n in stop_at)
		if (n + 0 > N) bad("divergences: " guest " has no result " n " (plan 1.." N ")")
	if (!order["k"]) {
		bad("kvm results are not numbered 1.." cnt["k"])
		exit 1
	}

	# Where the kvm run ended: after its last result without a plan, a
	# bail-out or a stop of the VM.
	stopped = (plan["k"] < 0 || bail["k"] != "")
	upto = cnt["k"]
	if (stopped) {
		if ((upto + 1) in stop_at) {
			note("kvm run ends after result " upto " (status " kvm_rc "), as recorded: " stop_at[upto + 1])
		} else {
			bad("kvm run ends after result " upto " of " N ", status " kvm_rc \
			    (bail["k"] != "" ? " (" bail["k"] ")" : "") "; not in the divergence table")
		}
	} else if (plan["k"] != N || cnt["k"] != N) {
		bad("kvm plan 1.." plan["k"] " with " cnt["k"] " results; emu 1.." N)
	}
	for (n in stop_at)
		if (!stopped || n + 0 != upto + 1)
			note("recorded stop before result " n " did not happen")
	if (upto > N)
		upto = N

	agreed = 0; diverged = 0; todo = 0
	for (n = 1; n <= upto; n++) {
		if (res_todo["e", n] || res_todo["k", n]) {
			todo++
			continue
		}
		if (res_ok["e", n] == res_ok["k", n]) {
			agreed++
			if (n in may_differ)
				note("result " n " agrees; the recorded divergence did not happen this run")
			continue
		}
		what = "result " n " " (res_ok["e", n] ? "ok" : "not ok") " on emu, " (res_ok["k", n] ? "ok" : "not ok") \
		       " on kvm: " res_name["k", n]
		if (n in may_differ) {
			diverged++
			note(what)
			note("  recorded (" entries[n] "): " may_differ[n])
		} else {
			bad(what " -- not in the divergence table")
		}
	}
	note(agreed " results agree, " diverged " recorded divergences, " todo " TODO not compared" \
	     (stopped ? ", " N - upto " after the stop not compared" : ""))

	# Exit statuses: (failures << 1) | 1 on each side.
	if (emu_rc != failures("e") * 2 + 1)
		bad("emu status " emu_rc ", but its TAP has " failures("e") " failures")
	if (!stopped && kvm_rc != failures("k") * 2 + 1)
		bad("kvm status " kvm_rc ", but its TAP has " failures("k") " failures")
	exit failed
}
