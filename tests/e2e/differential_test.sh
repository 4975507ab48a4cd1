#!/usr/bin/env bash
# Differential suite (issue 12): the same OCI bundles (busybox rootfs from Debian's busybox-static)
# run by plain runc and by eci-runc through every runc verb, flags in one- and two-dash forms;
# exit codes, outputs and container state compared. Where they may differ is listed in
# docs/design/eci-runc-differences.md (D1, D2, ...): the comparison normalises exactly those
# fields and nothing else, so any other difference fails. Then issue 12's nine bugs, each proven
# fixed with real runc. Needs root; starts a private eci-enforcerd (no engine).
set -u
. "$(dirname "$0")/lib/harness.sh"
eci_enforcer_up || { echo "FAIL - harness did not start"; exit 1; }
RUNC=$(command -v runc.distrib || command -v runc)
[[ -x "$RUNC" ]] || { echo "FAIL - no runc"; exit 1; }
export ECI_RUNC_ENFORCER_SOCKET="$ECI_CONTROL_SOCK" ECI_RUNC_RUN_DIR="$ECI_RUN_DIR"
export ECI_RUNC_REAL_RUNC="$RUNC" ECI_RUNC_DEBUG_LOG="$ECI_RUNC_LOG"
RP=$ECI_T/root-plain
RE=$ECI_T/root-eci
eci_busybox_rootfs "$ECI_T/rootfs"

# bundle DIR ARGV_JSON [JQ_FILTER]: runc's default spec on the shared busybox rootfs.
bundle() {
  mkdir -p "$1"
  rm -f "$1/config.json"
  "$RUNC" spec --bundle "$1"
  jq --arg root "$ECI_T/rootfs" --argjson args "$2" \
    ".root.path = \$root | .process.terminal = false | .process.args = \$args | ${3:-.}" \
    "$1/config.json" >"$1/config.new" && mv "$1/config.new" "$1/config.json"
}
P() { "$RUNC" "$@"; }
E() { "$ECI_RUNC_BIN" "$@"; }

# same NAME CMD...: CMD run once by each runtime, with {ROOT} replaced by its root dir and {N} by
# p or e; compares exit codes and stdout (after `norm`, a filter function, default cat).
norm=cat
same() {
  local name=$1 a args_p=() args_e=() op oe rp re
  shift
  for a in "$@"; do
    a=${a//\{ROOT\}/@ROOT@}
    a=${a//\{N\}/@N@}
    a=${a//@ROOT@/$ECI_T/root-@N@}
    args_p+=("${a//@N@/plain}")
    args_e+=("${a//@N@/eci}")
  done
  # Files, not pipes: a created container inherits runc's stdio and would hold a pipe open.
  P "${args_p[@]}" >"$ECI_T/out-p" 2>"$ECI_T/err-p" </dev/null
  rp=$?
  E "${args_e[@]}" >"$ECI_T/out-e" 2>"$ECI_T/err-e" </dev/null
  re=$?
  # The ids carry the runtime's name (-plain/-eci): cgroup v1 paths default to the id, and two
  # containers with one id would share a freezer.
  op=$(sed 's/-plain\b//g' "$ECI_T/out-p" | $norm)
  oe=$(sed 's/-eci\b//g' "$ECI_T/out-e" | $norm)
  t_eq "$name: exit code (runc $rp, eci-runc $re; $(head -c 200 "$ECI_T/err-e"))" "$rp" "$re"
  t_eq "$name: output" "$op" "$oe"
}
# D1: eci-runc hands runc a private bundle; D3: pids and times are per container.
state_norm() { jq -S 'del(.bundle, .pid, .created, .rootfs)' 2>/dev/null; }
list_norm() { jq -S '[.[] | {id, status}]' 2>/dev/null; }
first_col() { awk '{print $1}'; }
last_col() { awk '{print $NF}'; }
pids_limit() { jq -S '.data.pids.limit'; }
stats_keys() { jq -S '.data | keys'; }
head3() { head -n3; }
# stopped ID: both runtimes report container ID (with its -plain/-eci suffix) stopped. After a
# KILL the init dies asynchronously; a fixed sleep raced a loaded machine, this waits for it.
stopped() {
  [[ "$(P --root "$RP" state "$1-plain" 2>/dev/null | jq -r .status)" == stopped ]] &&
    [[ "$(E --root "$RE" state "$1-eci" 2>/dev/null | jq -r .status)" == stopped ]]
}

b=$ECI_T/b-long
bundle "$b" '["sleep", "1000"]'
cp "$b/config.json" "$ECI_T/config.orig"

# --- create/start/state/ps/exec/kill/pause/resume/update/events/delete, two-dash flags --------
same "create (two-dash)" --root {ROOT} create --bundle "$b" --pid-file "$ECI_T/pid-{N}" d1-{N}
t_eq "config.json of the engine's bundle untouched by eci-runc create (item 7)" \
  "$(cat "$ECI_T/config.orig")" "$(cat "$b/config.json")"
norm=state_norm same "state after create" --root {ROOT} state d1-{N}
same "start" --root {ROOT} start d1-{N}
norm=state_norm same "state after start" --root {ROOT} state d1-{N}
norm=list_norm same "list --format json" --root {ROOT} list --format json
norm=first_col same "list -q" --root {ROOT} list -q
norm=last_col same "ps (command column)" --root {ROOT} ps d1-{N}
same "exec echo" --root {ROOT} exec d1-{N} echo hello
same "exec exit status" --root {ROOT} exec d1-{N} sh -c "exit 5"
same "exec -e, --cwd" --root {ROOT} exec -e A=1 -e=B=2 --cwd /tmp d1-{N} sh -c 'echo $A$B; pwd'
same "exec --user" --root {ROOT} exec --user 1000:1000 d1-{N} id -u
same "exec -e and --env together fail alike" --root {ROOT} exec -e A=1 --env=B=2 d1-{N} true
same "exec in a stopped id fails alike" --root {ROOT} exec nosuch true
same "pause" --root {ROOT} pause d1-{N}
norm=state_norm same "state paused" --root {ROOT} state d1-{N}
same "resume" --root {ROOT} resume d1-{N}
same "update --pids-limit" --root {ROOT} update --pids-limit 50 d1-{N}
norm=pids_limit same "events --stats (pids limit)" --root {ROOT} events --stats d1-{N}
norm=stats_keys same "events --stats (keys)" --root {ROOT} events --stats d1-{N}
same "kill KILL" --root {ROOT} kill d1-{N} KILL
t_ok "killed d1 is stopped in both runtimes" _eci_wait_for 10 stopped d1
norm=state_norm same "state stopped" --root {ROOT} state d1-{N}
same "delete" --root {ROOT} delete d1-{N}
same "state of a deleted container fails alike" --root {ROOT} state d1-{N}
same "delete of a missing container fails alike" --root {ROOT} delete d1-{N}
same "delete --force of a missing container" --root {ROOT} delete --force d1-{N}

# --- the same with one-dash and = forms, flags after the container id ------------------------
same "create (one-dash, flags after id)" -root {ROOT} -log "$ECI_T/log-{N}" create d2-{N} -bundle "$b"
same "start (one-dash root)" -root={ROOT} start d2-{N}
norm=state_norm same "state (=form)" --root={ROOT} state d2-{N}
same "kill -a (one-dash bool after id)" -root {ROOT} kill d2-{N} KILL -a
t_ok "killed d2 is stopped in both runtimes" _eci_wait_for 10 stopped d2
same "delete -f" -root {ROOT} delete -f d2-{N}

# --- run: foreground and detached -------------------------------------------------------------
bf=$ECI_T/b-fg
bundle "$bf" '["sh", "-c", "echo out; echo err >&2; exit 3"]'
same "run foreground (workload exit status)" --root {ROOT} run --bundle "$bf" r1-{N}
t_not_contains "run foreground: no 'failed ... rolled back' on a workload's exit (item 9)" \
  "rolled back" "$(cat "$ECI_T/err-e")"
same "run foreground again with the same bundle and id (item 7)" --root {ROOT} run -b "$bf" r1-{N}
same "run -d" --root {ROOT} run -d --bundle "$b" r2-{N}
norm=state_norm same "state after run -d" --root {ROOT} state r2-{N}
same "kill KILL" --root {ROOT} kill r2-{N} KILL
t_ok "killed r2 is stopped in both runtimes" _eci_wait_for 10 stopped r2
same "delete after run -d" --root {ROOT} delete r2-{N}
same "run -d again with the same bundle (item 7)" --root {ROOT} run --detach -b "$b" r2-{N}
same "delete --force of a running container" --root {ROOT} delete --force r2-{N}

# --- spec, features, help, usage errors -------------------------------------------------------
mkdir -p "$ECI_T/spec-p" "$ECI_T/spec-e"
P spec -b "$ECI_T/spec-p" --rootless && E spec --bundle="$ECI_T/spec-e" -rootless
t_eq "spec --rootless writes the same config.json" "$(cat "$ECI_T/spec-p/config.json")" \
  "$(cat "$ECI_T/spec-e/config.json")"
same "spec into an existing bundle fails alike" spec -b "$ECI_T/spec-p"
same "features" features
same "--version" --version
norm=head3 same "--help" --help
same "create with two ids fails alike" --root {ROOT} create --bundle "$b" x1-{N} x2-{N}
same "create without id fails alike" --root {ROOT} create --bundle "$b"
same "unknown global flag fails alike (D5)" --bogus state x
same "unknown verb fails alike (D5)" --root {ROOT} frobnicate x
same "create -h runs nothing" --root {ROOT} create -h
t_eq "no container from create -h" "0" "$(E --root "$RE" list -q | wc -l)"

# --- intended differences (docs/design/eci-runc-differences.md) -------------------------------
bu=$ECI_T/b-uid
bundle "$bu" '["cat", "/proc/self/uid_map"]'
t_eq "D2: plain runc: no user namespace" "0 0 4294967295" "$(P --root "$RP" run -b "$bu" u1 | tr -s ' ' | sed 's/^ //')"
t_contains "D2: eci-runc: a user namespace with a 65536 range" "65536" "$(E --root "$RE" run -b "$bu" u1)"
out=$(E --root "$RE" restore --bundle "$b" --image-path "$ECI_T/none" x 2>&1)
t_eq "D4: restore refused with ECI on (exit 1)" "1" "$?"
t_contains "D4: restore says why" "restore is not supported with Enhanced Container Isolation" "$out"

# --- issue 12, item by item -------------------------------------------------------------------
# Item 1: a refused second create with a live id leaves the live container's eci state alone.
E --root "$RE" run -d --bundle "$b" live >/dev/null 2>&1 </dev/null
map_live=$(E --root "$RE" exec live cat /proc/self/uid_map | tr -s ' ')
out=$(E --root "$RE" create --bundle "$b" live 2>&1 </dev/null)
t_eq "item 1: second create with a live id refused" "1" "$?"
t_contains "item 1: runc's reason" "container with given ID already exists" "$out"
t_ok "item 1: the live container's range is still allocated" \
  sh -c "jq -e '.allocations[] | select(.id == \"live\")' '$ECI_STATE_DIR/allocations.json'"
t_ok "item 1: its /proc emulation still answers" E --root "$RE" exec live cat /proc/uptime
E --root "$RE" run -d --bundle "$b" other >/dev/null 2>&1 </dev/null
t_fails "item 1: the next container gets another range" test \
  "$map_live" = "$(E --root "$RE" exec other cat /proc/self/uid_map | tr -s ' ')"
# Also with a refusal that happens later, inside eci-enforcerd's grant (bundle differs).
out=$(E --root "$RE" run --bundle "$ECI_T/nonexistent" live 2>&1 </dev/null)
t_ok "item 1: ... and after a failed run with the live id, still answers" E --root "$RE" exec live cat /proc/uptime
E --root "$RE" delete -f other >/dev/null 2>&1

# Item 2: one-dash global flags: the container still gets ECI.
t_contains "item 2: -root X run: a user namespace" "65536" \
  "$(E -root "$RE" -log "$ECI_T/l2" run -bundle "$bu" i2 2>&1 </dev/null)"
t_contains "item 2: -debug -root=X run: a user namespace" "65536" \
  "$(E -debug -root="$RE" run -b="$bu" -- i2b 2>/dev/null </dev/null)"

# Item 3: unknown verbs and restore never reach runc with ECI on (and init is never run).
out=$(E --root "$RE" init 2>&1)
t_eq "item 3: init refused" "1" "$?"
out=$(E --root "$RE" --root "$RE" create-ish x 2>&1)
t_eq "item 3: an unknown verb is refused as runc does (exit 3)" "3" "$?"

# Item 5: rbind keeps submounts (ID-mapped).
src=$ECI_T/rsrc
mkdir -p "$src/sub"
echo top >"$src/top"
mount -t tmpfs tmpfs "$src/sub" && echo sub >"$src/sub/file"
br=$ECI_T/b-rbind
bundle "$br" '["sh", "-c", "cat /m/top /m/sub/file; stat -c %u /m/sub/file"]' \
  ".mounts += [{destination: \"/m\", type: \"bind\", source: \"$src\", options: [\"rbind\", \"rw\"]}]"
t_eq "item 5: rbind: plain runc sees the submount" $'top\nsub\n0' "$(P --root "$RP" run -b "$br" rb 2>&1)"
t_eq "item 5: rbind: eci-runc too, ID-mapped (root-owned shows as 0)" $'top\nsub\n0' \
  "$(E --root "$RE" run -b "$br" rb 2>&1)"
umount "$src/sub"

# Item 6: FIFO devices are created (type p), owned as asked.
bp=$ECI_T/b-fifo
bundle "$bp" '["sh", "-c", "test -p /dev/myfifo && stat -c \"%a %u %g\" /dev/myfifo"]' \
  '.linux.devices += [{path: "/dev/myfifo", type: "p", major: 0, minor: 0, fileMode: 420, uid: 1000, gid: 1000}]'
t_eq "item 6: FIFO device: plain runc" "644 1000 1000" "$(P --root "$RP" run -b "$bp" ff 2>&1)"
t_eq "item 6: FIFO device: eci-runc" "644 1000 1000" "$(E --root "$RE" run -b "$bp" ff 2>&1)"
bh=$ECI_T/b-fifo-host
bundle "$bh" '["sh", "-c", "test -p /dev/sda1x && echo fifo"]' \
  '.linux.devices += [{path: "/dev/sda1x", type: "p", major: 8, minor: 1}]'
t_eq "item 6: a p entry never binds the host's node" "fifo" "$(E --root "$RE" run -b "$bh" fh 2>&1)"

# Item 8: foreground run forwards every signal runc forwards (SIGALRM, SIGRTMIN+3 = 37, ...).
for sig in ALRM 37 PWR; do
  bs=$ECI_T/b-sig
  bundle "$bs" "[\"sh\", \"-c\", \"trap 'echo got; exit 7' $sig; echo ready; while :; do sleep 0.1; done\"]"
  rm -f "$ECI_T/sig-out"
  "$ECI_RUNC_BIN" --root "$RE" run -b "$bs" sig1 >"$ECI_T/sig-out" 2>&1 </dev/null &
  pid=$!
  _eci_wait_for 20 grep -q ready "$ECI_T/sig-out"
  kill -s "$sig" "$pid"
  wait "$pid"
  rc=$?
  t_eq "item 8: SIG$sig reaches the workload; run exits with its status" "7" "$rc"
  t_contains "item 8: the workload's trap ran (SIG$sig)" "got" "$(cat "$ECI_T/sig-out")"
  E --root "$RE" delete -f sig1 >/dev/null 2>&1
done

# Item 9: see "run foreground" above; and a real failure still says so.
out=$(E --root "$RE" run -d -b "$ECI_T/b-missing" i9 2>&1 </dev/null)
t_eq "item 9: a missing bundle still fails" "1" "$?"

for id in live other d1-eci d2-eci r2-eci; do E --root "$RE" delete -f "$id" >/dev/null 2>&1; done
for id in d1-plain d2-plain r2-plain; do P --root "$RP" delete -f "$id" >/dev/null 2>&1; done
t_eq "nothing of eci left after every delete" "" "$(eci_leftovers)"
t_eq "no range left" "0" "$(eci_allocation_count)"
t_summary
