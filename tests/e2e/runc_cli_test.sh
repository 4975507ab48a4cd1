#!/usr/bin/env bash
# eci-runc's command line without an engine: eci's flags are stripped and everything else reaches
# the real runc unchanged; a create that can't reach eci-enforcerd fails in runc's log format
# (json and text), never runs runc, and leaves config.json untouched. The command line is read as
# runc reads it (one- and two-dash flags, --flag=value, flags after the verb, --): whatever form
# names create/run/restore never reaches runc without eci, and what runc would not understand is
# refused. The real runc is never eci-runc itself (contract 1).
set -u
. "$(dirname "$0")/lib/harness.sh"
_eci_find_bin ECI_RUNC_BIN eci-runc
[[ -x "$ECI_RUNC_BIN" ]] || { echo "FAIL - eci-runc not found"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

cat >"$T/fake-runc" <<STUB
#!/bin/sh
echo "\$@" >>"$T/runc-argv"
exit \${FAKE_RC:-0}
STUB
chmod +x "$T/fake-runc"

out=$("$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --eci-enforcer-socket /nonexistent.sock \
  --root /r --log /l --log-format json --systemd-cgroup --debug state abc && cat "$T/runc-argv")
t_eq "global flags and verb pass through, eci flags stripped" \
  "--root /r --log /l --log-format json --systemd-cgroup --debug state abc" "$out"
rm -f "$T/runc-argv"
"$ECI_RUNC_BIN" --eci-runc="$T/fake-runc" --eci-run-dir=/x --eci-restrict /y --root=/r kill abc KILL
t_eq "--flag=value forms" "--root=/r kill abc KILL" "$(cat "$T/runc-argv")"
rm -f "$T/runc-argv"
FAKE_RC=3 "$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" exec --process /p.json abc
t_eq "exit status of runc passed on" "3" "$?"
for verb in start pause resume ps update features events list checkpoint spec; do
  rm -f "$T/runc-argv"
  "$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --root /r "$verb" x >/dev/null
  t_eq "verb $verb passes through" "--root /r $verb x" "$(cat "$T/runc-argv")"
done
"$ECI_RUNC_BIN" --eci-bogus 1 state x 2>/dev/null
t_eq "unknown eci flag is a usage error (runc's exit 1)" "1" "$?"

mkdir -p "$T/bundle"
echo '{"ociVersion":"1.0.2","linux":{"namespaces":[{"type":"pid"}]}}' >"$T/bundle/config.json"
cp "$T/bundle/config.json" "$T/orig.json"
rm -f "$T/runc-argv"
err=$("$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --eci-enforcer-socket "$T/none.sock" \
  --root "$T/root" --log "$T/log.json" --log-format json create --bundle "$T/bundle" c1 2>&1)
t_eq "create without eci-enforcerd fails" "1" "$?"
t_contains "stderr says so" "eci-enforcerd is not reachable" "$err"
t_fails "runc never ran" test -e "$T/runc-argv"
t_eq "config.json untouched" "$(cat "$T/orig.json")" "$(cat "$T/bundle/config.json")"
last=$(tail -n1 "$T/log.json")
t_eq "json log entry is an error" "error" "$(jq -r .level <<<"$last")"
t_contains "json log msg (what containerd shows)" "refusing to create a container without Enhanced Container Isolation" "$(jq -r .msg <<<"$last")"
t_ok "json log entry has a time" jq -e '.time | test("^[0-9]{4}-")' <<<"$last"
(cd "$T/bundle" && "$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --eci-enforcer-socket "$T/none.sock" \
  --log "$T/log.txt" create c2 2>/dev/null)
t_contains "text log format (bundle = cwd)" 'level=error msg="eci-enforcerd is not reachable' "$(cat "$T/log.txt")"

# Issue 12 items 2 and 3: every spelling of create/run reaches eci (here: refused, no enforcer),
# never the real runc; unknown flags and verbs are refused; restore is refused with ECI unknown.
B=$T/bundle
nope() {  # NAME ARGS...: eci-runc refuses, the real runc never ran
  local name=$1
  shift
  rm -f "$T/runc-argv"
  "$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --eci-enforcer-socket "$T/none.sock" "$@" >/dev/null 2>&1
  local rc=$?
  t_fails "$name: refused (exit $rc)" test "$rc" = 0
  # Only to print its help (`runc [verb] --help` runs nothing), as runc answers a usage error.
  t_fails "$name: the real runc never ran (but for --help)" grep -qv -- '--help$' "$T/runc-argv"
}
nope "one-dash -root/-log before create" -root /r -log /l create --bundle "$B" c1
nope "one-dash -root=X before run" -root=/r run -b "$B" c1
nope "-debug -root X before run -d" -debug -root /r run -d -b "$B" c1
nope "--root X -- create" --root /r -- create c1
nope "flags after the id" --root /r create c1 --bundle "$B"
nope "-log-format json -criu x" -log-format json -criu /x -systemd-cgroup create c1
nope "restore (ECI state unknown)" --root /r restore --bundle "$B" c1
nope "restore one-dash" -root /r restore -image-path /i c1
nope "unknown global flag" --root /r --bogus create c1
nope "unknown one-dash global flag" -bogus x create c1
nope "unknown verb" --root /r frobnicate c1
nope "a value-taking flag's value is not the verb" --root create c1
nope "init" init
nope "create with an unknown flag" create --bogus c1
nope "create with two ids" create -b "$B" c1 c2
"$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --root /r frobnicate c1 2>/dev/null
t_eq "unknown verb: runc's exit status (3)" "3" "$?"
err=$("$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --eci-enforcer-socket "$T/none.sock" \
  --root "$T/root" --log "$T/log3.json" --log-format=json create c5 --bundle "$B" 2>&1)
t_contains "flags after the id: the bundle is read from --bundle" "eci-enforcerd is not reachable" "$err"
rm -f "$T/runc-argv"
"$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" -root /r -log=/l state abc
t_eq "one-dash globals pass through unchanged for other verbs" "-root /r -log=/l state abc" "$(cat "$T/runc-argv")"
rm -f "$T/runc-argv"
"$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --help >/dev/null
t_eq "--help goes to runc" "--help" "$(cat "$T/runc-argv")"

# Contract 1: the real runc is never eci-runc itself (directly, through a symlink such as a PATH
# entry runc -> eci-runc, or through anything that runs eci-runc again).
ln -s "$ECI_RUNC_BIN" "$T/runc"
for real in "$ECI_RUNC_BIN" "$T/runc"; do
  err=$("$ECI_RUNC_BIN" --eci-runc "$real" state x 2>&1)
  t_eq "real runc = eci-runc ($real) refused" "1" "$?"
  t_contains "... and says why" "is eci-runc itself" "$err"
done
err=$(ECI_RUNC_REAL_RUNC="$T/runc" "$ECI_RUNC_BIN" state x 2>&1)
t_contains "ECI_RUNC_REAL_RUNC = eci-runc refused" "is eci-runc itself" "$err"
cat >"$T/wrapper" <<W
#!/bin/sh
exec "$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" "\$@"
W
chmod +x "$T/wrapper"
rm -f "$T/runc-argv"
err=$("$ECI_RUNC_BIN" --eci-runc "$T/wrapper" state x 2>&1)
t_contains "a wrapper that runs eci-runc again is refused (no loop)" "refusing to loop" "$err"
t_fails "... and the fake runc behind it never ran" test -e "$T/runc-argv"

# The same settings from the environment (what the harness and a containerd unit use: dockerd runs
# a runtime with runtimeArgs through a generated script, one more exec per call). A flag wins.
rm -f "$T/runc-argv"
ECI_RUNC_REAL_RUNC="$T/fake-runc" "$ECI_RUNC_BIN" --root /r kill abc KILL
t_eq "ECI_RUNC_REAL_RUNC names the real runc" "--root /r kill abc KILL" "$(cat "$T/runc-argv")"
rm -f "$T/runc-argv"
err=$(ECI_RUNC_REAL_RUNC="$T/fake-runc" ECI_RUNC_ENFORCER_SOCKET="$T/env.sock" \
  ECI_RUNC_DEBUG_LOG="$T/debug.log" "$ECI_RUNC_BIN" --root "$T/root" create --bundle "$T/bundle" c3 2>&1)
t_contains "ECI_RUNC_ENFORCER_SOCKET is the socket dialled" "$T/env.sock" "$err"
t_contains "ECI_RUNC_DEBUG_LOG gets the trace" "create c3 bundle=$T/bundle" "$(cat "$T/debug.log")"
t_fails "runc never ran (env)" test -e "$T/runc-argv"
err=$(ECI_RUNC_REAL_RUNC="$T/fake-runc" ECI_RUNC_ENFORCER_SOCKET="$T/env.sock" "$ECI_RUNC_BIN" \
  --eci-enforcer-socket "$T/flag.sock" --root "$T/root" create --bundle "$T/bundle" c4 2>&1)
t_contains "a flag wins over the environment" "$T/flag.sock" "$err"
t_not_contains "the environment's socket is not dialled then" "$T/env.sock" "$err"

# The engine's second `delete --force <id>` of every container, once runc has removed it, is
# answered without runc when runc's own answer is certain (exit 0, no output, its --log opened);
# whenever anything could make runc answer otherwise, runc answers. The real runc's side of this
# (same exit status and output for the same command lines) is in differential_test.sh.
D=$T/droot
mkdir -p "$D"
del() {  # EXPECT(ran|skipped) NAME ARGS...: eci-runc delete; whether the real runc ran
  local expect=$1 name=$2
  shift 2
  rm -f "$T/runc-argv"
  "$ECI_RUNC_BIN" --eci-runc "$T/fake-runc" --eci-enforcer-socket "$T/none.sock" \
    --eci-run-dir "$T/run" "$@" >/dev/null 2>&1
  local rc=$?
  if [[ $expect == skipped ]]; then
    t_fails "$name: runc not started" test -e "$T/runc-argv"
    t_eq "$name: exit 0, as runc's" "0" "$rc"
  else
    t_ok "$name: runc answers" test -e "$T/runc-argv"
  fi
}
del skipped "delete --force of an id runc has no directory for" --root "$D" delete --force gone1
del skipped "-force=true spelling" --root "$D" --log "$T/dl.json" delete -force=true gone2
t_ok "its --log is opened (created) as runc opens it" test -e "$T/dl.json"
del ran "delete without --force (runc prints 'container does not exist', exit 1)" --root "$D" delete gone3
mkdir -p "$D/half"
del ran "delete --force of an id whose directory exists (runc removes it)" --root "$D" delete --force half
del ran "delete --force of an id runc would refuse" --root "$D" delete --force "a:b"
del ran "delete --force of '..'" --root "$D" delete --force ..
del ran "delete --force with --debug (runc logs)" --root "$D" --debug delete --force gone4
del ran "delete --force under a root that does not exist (runc 1.1 makes it)" --root "$T/noroot" delete --force gone5
del ran "delete --force with a --log runc cannot open (runc fails)" --root "$D" --log /nonexistent/l.json delete --force gone6

t_summary
