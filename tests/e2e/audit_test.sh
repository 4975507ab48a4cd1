#!/usr/bin/env bash
# Issue 15, audit log: every refusal and policy push is one JSON line in eci-enforcerd's root-only
# audit file ($ECI_AUDIT_LOG here), with the right container, image and rule, and
# `eci-admin audit --container` shows it. Through the real guard, dockerd, eci-runc and
# eci-enforcerd:
#   1. the guard refuses a docker socket bind (rule socket-mount) for `docker run --name ...`;
#   2. eci-runc refuses --pid=host at create (dockerd's private socket, past the guard);
#   3. a policy push accepted, then one refused (old serial);
#   4. a flood of refusals stays bounded and does not crowd out another container's record: at
#      the guard (each caller's share, its surplus summarised), and at eci-enforcerd's own rate
#      limit (a root sender flooding the audit op: suppressed count reported later).
#   5. a --privileged container hammering a denied mount: the seccomp worker's denials, bounded.
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }
W="$ECI_T/work"
mkdir -p "$W"
A=$ECI_AUDIT_LOG
admin_audit() { "$ECI_ADMIN_BIN" audit --file "$A" "$@"; }
# lines SOURCE [JQ-FILTER]: the audit lines from SOURCE (as JSON objects) that match the filter.
lines() { jq -c --arg s "$1" "select(.source == \$s) | ${2:-.}" "$A" 2>/dev/null; }
wait_line() {  # SOURCE JQ-FILTER: the sender is fire-and-forget; give it a moment
  local i
  for i in $(seq 1 50); do
    [[ -n "$(lines "$1" "$2")" ]] && return 0
    sleep 0.1
  done
  return 1
}

# --- 1. the guard's refusal ------------------------------------------------------------------
err=$(docker run --rm --name guardref -v "$ECI_T/docker.sock:/var/run/docker.sock" busybox \
  touch /ran 2>&1)
t_contains "guard refused the socket bind" "enhanced container isolation" "$err"
t_eq "the refused container was never created" "" "$(docker ps -aq --filter name=guardref)"
t_ok "guard refusal is in the audit log" wait_line eci-apiproxyd 'select(.name == "guardref")'
rec=$(lines eci-apiproxyd 'select(.name == "guardref")' | head -n1)
t_eq "guard record: event" "refused" "$(jq -r .event <<<"$rec")"
t_eq "guard record: rule" "socket-mount" "$(jq -r .rule <<<"$rec")"
t_contains "guard record: image" "busybox" "$(jq -r .image <<<"$rec")"
t_eq "guard record: caller uid" "0" "$(jq -r .extra.uid <<<"$rec")"
t_contains "guard record: time is RFC 3339 UTC with ms" "Z" "$(jq -r .time <<<"$rec")"
t_ok "guard record: time parses" date -d "$(jq -r .time <<<"$rec")"
out=$(admin_audit --container guardref)
t_contains "eci-admin audit --container NAME shows it" "socket-mount" "$out"
t_not_contains "eci-admin audit --container NAME shows only it" "policy-push" "$out"

# --- 2. eci-runc's spec refusal (past the guard, on dockerd's private socket) ----------------
err=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker run --name runcref --pid=host busybox \
  touch /ran 2>&1)
t_contains "eci-runc refused --pid=host" "error in the container spec" "$err"
rid=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc --filter name=runcref)
t_ok "the refused container exists at dockerd (created, never started)" test -n "$rid"
t_ok "eci-runc refusal is in the audit log" wait_line eci-runc "select(.container == \"$rid\")"
rec=$(lines eci-runc "select(.container == \"$rid\")" | head -n1)
t_eq "runc record: event" "refused" "$(jq -r .event <<<"$rec")"
t_eq "runc record: rule" "spec" "$(jq -r .rule <<<"$rec")"
t_contains "runc record: reason names the host namespace" "pid" "$(jq -r .reason <<<"$rec")"
out=$(admin_audit --container "${rid:0:12}" --format json)
t_eq "eci-admin audit --container ID-PREFIX shows exactly it" "$rid" \
  "$(jq -r .container <<<"$out" | sort -u)"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker rm -f runcref >/dev/null 2>&1

# --- 3. policy pushes, accepted and refused --------------------------------------------------
pol='{"enabled": true, "locked": true, "socketMount": {"images": [], "allowDerivedImages": false},
 "commandList": {"type": "deny", "commands": []}, "restrictedHostMounts": [], "allowedOrgs": [],
 "inputsDigest": ""}'
t_ok "policy pushed" eci_push_policy "$pol"
accepted_serial=$(cat "$ECI_T/serial")
# The same serial again: refused (serials only grow).
echo $((accepted_serial - 1)) >"$ECI_T/serial"
t_fails "a push with a stale serial is refused" eci_push_policy "$pol"
t_eq "accepted push audited with its serial" "$accepted_serial" \
  "$(lines eci-enforcerd 'select(.event == "policy-accepted") | .extra.serial' | tail -n1)"
t_contains "refused push audited with the reason" "serial" \
  "$(lines eci-enforcerd 'select(.event == "policy-refused") | .reason' | tail -n1)"
t_contains "eci-admin audit shows the pushes" "policy-refused" "$(admin_audit --since 10m)"
t_eq "eci-admin audit --since in the future shows nothing" "0" \
  "$(admin_audit --since 2200-01-01T00:00:00Z --format json | wc -l)"

# --- root-only file ----------------------------------------------------------------------------
t_eq "audit dir is 0700 root" "700 0" "$(stat -c '%a %u' "$(dirname "$A")")"
t_eq "audit file is 0600 root" "600 0" "$(stat -c '%a %u' "$A")"
t_fails "a non-root user cannot read it" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$ECI_ADMIN_BIN" audit --file "$A"

# --- 4. a flood stays bounded ------------------------------------------------------------------
# 300 refused creates on the guard's socket as fast as one client can send them (raw HTTP, one
# connection each). The guard refuses every one (the decision never changes); its caller (uid 0)
# has a share of the guard's audit records (10 at once, then 1 a second: enforcer/apiproxy/daemon/
# README.md), and the rest is counted in one "suppressed" summary per 5 s.
flood() {
  python3 - "$ECI_T/docker.sock" "$1" <<'EOF'
import json, socket, sys, time
sock, n = sys.argv[1], int(sys.argv[2])
body = json.dumps({"Image": "busybox", "Cmd": ["true"],
                   "HostConfig": {"Binds": [sock + ":/var/run/docker.sock"]}}).encode()
req = (b"POST /v1.41/containers/create?name=flood HTTP/1.1\r\nHost: docker\r\n"
       b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode() +
       b"\r\nConnection: close\r\n\r\n" + body)
refused = 0
t0 = time.time()
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(req)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    if out.startswith(b"HTTP/1.1 403"):
        refused += 1
print(refused, round(time.time() - t0, 2))
EOF
}
before=$(lines eci-apiproxyd 'select(.name == "flood")' | wc -l)
size_before=$(stat -c %s "$A")
lines_before=$(wc -l <"$A")
read -r refused secs < <(flood 300)
t_eq "the guard refused all 300 flood requests" "300" "$refused"
sleep 1.5  # the fire-and-forget senders finish
flood_lines=$(($(lines eci-apiproxyd 'select(.name == "flood")' | wc -l) - before))
# The guard's share: 10 + 1/s over the flood and the wait, with slack; without it 300.
max=$((10 + (${secs%.*} + 3) + 5))
if ((flood_lines >= 1 && flood_lines <= max)); then
  t_pass "flood: $flood_lines of 300 refusals logged (bound $max, ${secs}s)"
else
  t_fail "flood: $flood_lines of 300 refusals logged (bound $max, ${secs}s)"
fi
growth=$(($(stat -c %s "$A") - size_before))
if ((growth < 100 * 1024)); then t_pass "flood: the file grew by $growth bytes only"; else
  t_fail "flood: the file grew by $growth bytes"; fi
# Nothing lost silently: the guard's summaries for uid 0 count every refusal it did not record.
flood_summarised() {
  tail -n +"$((lines_before + 1))" "$A" | jq -s '[.[] | select(.source == "eci-apiproxyd" and
    .event == "suppressed" and .rule == "audit-share" and .extra.uid == 0) | .extra.count] | add // 0'
}
# eval: the sum is read again on every try (a plain $(...) would be read once, before waiting).
_eci_wait_for 10 eval 'test "$(flood_summarised)" -eq $((300 - flood_lines))'
t_eq "flood: the guard's suppressed summaries count the rest (uid 0, rule audit-share)" \
  "$((300 - flood_lines))" "$(flood_summarised)"
# Another container is not crowded out: eci-runc's refusal right after the flood is written.
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker run --name runcref2 --pid=host busybox true \
  >/dev/null 2>&1
rid2=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc --filter name=runcref2)
t_ok "another container's refusal right after the flood is logged" \
  wait_line eci-runc "select(.container == \"$rid2\")"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker rm -f runcref2 >/dev/null 2>&1

# eci-enforcerd's own rate limit, for any sender: a root process floods the audit op directly
# (what a guard without its per-caller share, or a buggy sender, would do): the log gets the
# burst (20), then about 5 a second, and counts the rest.
direct() {  # N: N audit ops for one caller (uid 4242), one connection each
  python3 - "$ECI_CONTROL_SOCK" "$1" <<'EOF'
import json, socket, struct, sys, time
sock, n = sys.argv[1], int(sys.argv[2])
rec = {"source": "eci-apiproxyd", "event": "refused", "container": "", "name": "direct-flood",
       "image": "busybox", "rule": "socket-mount", "reason": "direct flood",
       "extra": {"uid": 4242}}
body = json.dumps({"op": "audit", "record": rec}).encode()
t0 = time.time()
for i in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(struct.pack(">I", len(body)) + body)
    hdr = s.recv(4)
    s.close()
print(round(time.time() - t0, 2))
EOF
}
read -r dsecs < <(direct 300)
direct_lines=$(lines eci-apiproxyd 'select(.name == "direct-flood")' | wc -l)
dmax=$((20 + 5 * (${dsecs%.*} + 1) + 5))
if ((direct_lines >= 1 && direct_lines <= dmax)); then
  t_pass "direct flood: $direct_lines of 300 records written (bound $dmax, ${dsecs}s)"
else
  t_fail "direct flood: $direct_lines of 300 records written (bound $dmax, ${dsecs}s)"
fi
suppressed=$(eci_enforcer_status | jq -r '.enforcer.audit.suppressed')
if ((suppressed > 0)); then t_pass "status counts $suppressed suppressed records"; else
  t_fail "status counts suppressed records" "$suppressed"; fi
# Once the bucket refills, the next record carries the count of those suppressed before it.
sleep 1
direct 1 >/dev/null
t_ok "the next record reports how many were suppressed" \
  wait_line eci-apiproxyd 'select(.name == "direct-flood" and (.extra.suppressed // 0) > 0)'
out=$(admin_audit --container direct-flood)
t_contains "eci-admin audit shows the suppressed count" "more suppressed before this" "$out"

# --- --follow sees new records -------------------------------------------------------------------
# The binary itself in the background, not the admin_audit function: $! would be a subshell, and
# killing it would leave eci-admin following the log after the suite.
"$ECI_ADMIN_BIN" audit --file "$A" --follow --format json --container followme >"$W/follow.out" 2>&1 &
fpid=$!
# The record must come while it follows: wait until it holds the log open (a fixed sleep raced a
# loaded machine's process start).
following() { find "/proc/$fpid/fd" -lname "$A" 2>/dev/null | grep -q .; }
t_ok "eci-admin audit --follow opened the log" _eci_wait_for 10 following
docker run --rm --name followme -v "$ECI_T/docker.sock:/s" busybox true >/dev/null 2>&1
_eci_wait_for 15 grep -q followme "$W/follow.out"
kill "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
t_contains "eci-admin audit --follow prints a new refusal" '"name":"followme"' "$(cat "$W/follow.out")"

# --- 5. denied trapped calls (the seccomp worker), bounded -------------------------------------
# A --privileged container's mount of a new proc below a shared mount is refused by the worker;
# it then hammers the same call 300 times. The worker never waits for the log (a 16-slot ring,
# the rest counted); eci-enforcerd rate-limits per container as for every source.
out=$(docker run --name secden --privileged busybox sh -c '
  mkdir -p /t && mount -t tmpfs t /t && mount --make-shared /t && mkdir -p /t/q
  mount -t proc proc /t/q 2>/dev/null; echo newproc=$?
  i=0; while [ $i -lt 300 ]; do mount -t proc proc /t/q 2>/dev/null; i=$((i+1)); done; echo hammered' 2>&1)
t_contains "seccomp: the mount was refused in the container" "newproc=1" "$out"
t_contains "seccomp: the container ran its 300 refused calls" "hammered" "$out"
sid=$(docker inspect -f '{{.Id}}' secden 2>/dev/null)
t_ok "seccomp: the denied call is in the audit log" \
  wait_line seccomp "select(.container == \"$sid\" and .rule == \"mount\")"
sec_lines=$(lines seccomp "select(.container == \"$sid\")" | wc -l)
if ((sec_lines >= 1 && sec_lines <= 60)); then
  t_pass "seccomp: 301 denials gave $sec_lines lines (bounded)"
else
  t_fail "seccomp: 301 denials gave $sec_lines lines (bounded)"
fi
t_contains "eci-admin audit --container shows the seccomp denial" "seccomp" \
  "$(admin_audit --container secden 2>&1; admin_audit --container "${sid:0:12}")"
docker rm -f secden >/dev/null 2>&1

# What the kernel would have answered the caller anyway (a path that does not exist, an unmount of
# what is no mount point) is answered with the kernel's errno and not recorded; the policy's own
# refusal in the same container is, naming its path. Inner engines make hundreds of the former.
out=$(docker run --name seckern --privileged busybox sh -c '
  umount /no/such/dir 2>/dev/null; echo gone=$?
  mkdir -p /plain; umount /plain 2>/dev/null; echo plain=$?
  umount /proc/uptime 2>/dev/null; echo protected=$?' 2>&1)
t_contains "seccomp: the kernel-equivalent unmounts failed in the container" "gone=1 plain=1" \
  "$(tr '\n' ' ' <<<"$out")"
t_contains "seccomp: ... and the protected one was refused" "protected=1" "$out"
kid=$(docker inspect -f '{{.Id}}' seckern 2>/dev/null)
t_ok "seccomp: the policy refusal is recorded with its path" \
  wait_line seccomp "select(.container == \"$kid\" and (.reason | contains(\"/proc/uptime\")))"
# Recorded in call order by one worker: the protected one seen, the two before it would be too.
t_eq "seccomp: ... the kernel-equivalent failures are not (the container's only line)" "1" \
  "$(lines seccomp "select(.container == \"$kid\")" | wc -l)"
docker rm -f seckern >/dev/null 2>&1

t_eq "every line of the audit log parses" "0" \
  "$(admin_audit --format json 2>&1 >/dev/null | grep -c malformed)"

t_summary
