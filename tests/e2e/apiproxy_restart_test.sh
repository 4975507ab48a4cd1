#!/usr/bin/env bash
# Issue 14: per-container engine sockets survive a restart of the Engine API guard
# (eci-apiproxyd). Through the real docker CLI, dockerd, containerd and eci-runc:
#   1. an allowlisted container (created by a non-root user) talks to the engine through its own
#      socket; the guard is SIGKILLed (its socket is then dead inside the container) and started
#      again with the same flags;
#   2. inside the SAME container (docker exec, no restart) the socket works again, the command
#      list still applies, requests still carry the container's identity, and a sibling created
#      through it still acts as the original creator (host file owner) and may bind only what the
#      container binds;
#   3. a stopped allowlisted container started after the restart gets a working socket;
#   4. a forged or missing grant record: that socket is not served again (stays dead);
#   5. a container removed while the guard was down: its socket directory is removed;
#   6. boot order: the guard started before the engine serves them once the engine is there;
#   7. a graceful restart (SIGTERM) keeps them too;
#   8. a reboot (the guard stopped, its run directory wiped, as /run is after a reboot): the grant
#      records in the guard's state directory serve the sockets again; a `docker restart` of the
#      socket-mounting container gets a working socket with the command list; a corrupt record
#      fails closed naming its file; a grant whose image the current policy no longer allows is
#      not served; at boot (engine after the guard) the sockets are bound from the records but
#      not answered until the engine confirms them;
#   9. the time from guard start to all sockets served again, with 10 more running containers;
#  10. an upgrade from a guard older than the state directory: a record in the old layout
#      (<socket-dir>/<token>/grant.json, as that guard wrote it) is migrated at start and its
#      container's socket served again; a tampered one (not root's) is refused, its socket dead.
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }
W="$ECI_T/work"
mkdir -p "$W"
SOCK="$ECI_T/docker.sock"
PRIV=(env DOCKER_HOST="unix://$ECI_DOCKERD_SOCK")  # the engine directly, while the guard is down
N=10

# An image holding the machine's docker CLI and busybox, allowlisted by image ID.
mkdir -p "$W/cliroot"
tar -C "$ECI_T/busybox-root" -cf - . | tar -C "$W/cliroot" -xf -
cp "$(command -v docker)" "$W/cliroot/bin/docker"
tar -C "$W/cliroot" --numeric-owner -cf "$W/cli.tar" .
docker import "$W/cli.tar" dockercli:1 >/dev/null
CLI_ID=$(docker image inspect -f '{{.Id}}' dockercli:1)
policy=$(jq -nc --arg img "docker.io/library/dockercli@$CLI_ID" '{"enabled": true,
  "locked": true, "socketMount": {"images": [$img], "allowDerivedImages": false},
  "commandList": {"type": "deny", "commands": ["volume*"]}, "restrictedHostMounts": [],
  "allowedOrgs": [], "inputsDigest": ""}')
t_ok "allowlist policy pushed (dockercli by ID, volume* denied on container sockets)" \
  eci_push_policy "$policy"
BLOCKED='is blocked; if you wish to allow it, configure the docker socket command list in the Docker Desktop settings.'

# The creator of the main container: uid 1000:1000 (supplementary group 0 reaches the 0660
# root:0 public socket; the peer credentials the guard records are 1000:1000).
mkdir -p "$W/home1000" "$W/shared" "$W/other"
chown 1000:1000 "$W/home1000" "$W/shared" "$W/other"
as1000() { setpriv --reuid 1000 --regid 1000 --groups 0 env HOME="$W/home1000" DOCKER_HOST="unix://$SOCK" "$@"; }
run_sock() {  # NAME [docker run args...]: a long-running allowlisted container with the socket
  local name=$1
  shift
  docker run -d --name "$name" -v "$SOCK:/var/run/docker.sock" "$@" dockercli:1 sleep 100000 >/dev/null
}
sock_of() {  # NAME: the host path of its per-container socket
  docker inspect -f '{{range .Mounts}}{{if eq .Destination "/var/run/docker.sock"}}{{.Source}}{{end}}{{end}}' "$1"
}
inside_ps() {  # NAME: `docker ps` from inside the container, names only
  docker exec "$1" docker ps --format '{{.Names}}' 2>&1
}
# audit_count [JQ-ARGS] FILTER: how many audit records FILTER selects.
audit_count() {
  jq -c "$@" "$ECI_AUDIT_LOG" 2>/dev/null | wc -l
}
# reserve_audited ID: the audit records of a failed re-serve of container ID (rule socket-reserve).
reserve_audited() {
  audit_count --arg id "$1" 'select(.container == $id and .event == "reserve-failed" and .rule == "socket-reserve")'
}

# --- 1. before: sockets work, records are the guard's ----------------------------------------
as1000 docker run -d --name holder -v "$SOCK:/var/run/docker.sock" -v "$W/shared:/shared" \
  dockercli:1 sleep 100000 >/dev/null
HOLDER_ID=$(docker inspect -f '{{.Id}}' holder)
t_contains "holder created by uid 1000 with its own socket" "$ECI_GUARD_SOCKET_DIR/" "$(sock_of holder)"
t_contains "before: docker ps from inside works" "holder" "$(inside_ps holder)"
out=$(docker exec holder docker run --rm -v "$W/shared:/d" busybox sh -c 'echo x > /d/before' 2>&1)
[[ -e "$W/shared/before" ]] || echo "# sibling: $out"
t_eq "before: a sibling's file on the host bind is the creator's (uid 1000)" "1000" \
  "$(stat -c %u "$W/shared/before" 2>&1)"
rec_of() {  # NAME: its grant record, in the guard's state directory (kept across reboots)
  echo "$ECI_GUARD_STATE_DIR/grants/$(basename "$(dirname "$(sock_of "$1")")").json"
}
rec=$(rec_of holder)
t_eq "grant record: root's, 0600" "0:600" "$(stat -c %u:%a "$rec" 2>&1)"
t_eq "  ... in a root-only directory (0700)" "0:700" "$(stat -c %u:%a "$ECI_GUARD_STATE_DIR/grants" 2>&1)"
t_ok "  ... not next to the socket (/run is empty after a reboot)" \
  test ! -e "$(dirname "$(sock_of holder)")/grant.json"
t_eq "grant record: names the container and its creator" "$HOLDER_ID 1000" \
  "$(jq -r '"\(.containerId) \(.uid)"' "$rec" 2>&1)"
t_eq "grant record: invisible inside the container (only the socket is bound)" "docker.sock" \
  "$(docker exec holder ls /var/run | tr '\n' ' ' | xargs)"

run_sock stopped
docker stop -t 0 stopped >/dev/null
run_sock forged
run_sock norecord
run_sock gone
for i in $(seq 1 $N); do run_sock "many$i"; done
FORGED_ID=$(docker inspect -f '{{.Id}}' forged)
# A record with good ownership and mode, naming another container (what a forger would aim for).
frec=$(rec_of forged)
jq -c --arg id "$HOLDER_ID" '.containerId = $id' "$frec" >"$W/forged.json"
install -m 0600 -o root -g root "$W/forged.json" "$frec"
rm -f "$(rec_of norecord)"
GONE_DIR=$(dirname "$(sock_of gone)")
GONE_REC=$(rec_of gone)
# A container that moves its socket's parent away and puts a symlink to /proc in its place: the
# re-injection must not take eci's /proc/uptime emulation off (it is not a socket).
docker run -d --name trick -v "$SOCK:/x/uptime" dockercli:1 sleep 100000 >/dev/null
out=$(docker exec trick sh -c 'mv /x /y && ln -s /proc /x && readlink /x' 2>&1)
t_eq "trick: the socket's parent is now a symlink to /proc" "/proc" "$out"
MANY1_SOCK=$(sock_of many1)

# --- 2. SIGKILL: the sockets die --------------------------------------------------------------
eci_guard_kill9
out=$("${PRIV[@]}" docker exec holder docker ps 2>&1)
t_contains "guard killed: the container's socket is dead (the defect's precondition)" \
  "Cannot connect to the Docker daemon" "$out"
"${PRIV[@]}" docker rm -f gone >/dev/null
t_ok "  ... a container removed meanwhile leaves its socket directory" test -d "$GONE_DIR"

# --- 3. restart with the same flags, timed -----------------------------------------------------
lines_before=$(wc -l <"$ECI_GUARD_LOG")
t0=$(date +%s%N)
eci_guard_start
_eci_wait_for 30 curl -sf --unix-socket "$SOCK" http://d/_ping
t1=$(date +%s%N)
t_ok "guard restarted" kill -0 "$ECI_GUARD_PID"
alive=0
for i in $(seq 1 $N); do
  curl -sf --unix-socket "$(sock_of "many$i")" http://d/_ping >/dev/null && alive=$((alive + 1))
done
t2=$(date +%s%N)
newlog=$(tail -n +"$((lines_before + 1))" "$ECI_GUARD_LOG")
pass=$(grep -o 'per-container sockets (guard start).*' <<<"$newlog" | head -n1)
echo "# re-serve timing: $((N + 2)) running containers with sockets (+1 stopped, 2 refused, 1 stale, 1 not put back):"
echo "#   guard launch -> public socket answers (pass done before it accepts): $(((t1 - t0) / 1000000)) ms"
echo "#   guard launch -> all $N host-side sockets checked: $(((t2 - t0) / 1000000)) ms"
echo "#   guard's own report: ${pass:-none}"
grep -E "error:|warning:" <<<"$newlog" | head -n 3 | sed 's/^/# guard: /'
t_eq "all $N extra sockets answer on the host path" "$N" "$alive"
t_contains "the pass ran before the public socket accepted, and reports its count" \
  "$((N + 3)) served again ($((N + 1)) put back into running containers), 2 left dead (no valid grant record), 1 not put back" "$pass"

# --- 4. the same container, no restart ---------------------------------------------------------
t_contains "after: docker ps from inside the same container works again" "holder" "$(inside_ps holder)"
ok=0
for i in $(seq 1 $N); do [[ "$(inside_ps "many$i")" == *"many$i"* ]] && ok=$((ok + 1)); done
t_eq "after: docker ps works inside all $N other running containers" "$N" "$ok"
out=$(docker exec holder docker volume ls 2>&1)
t_contains "after: the command list still applies (volume ls: Docker's 403 message)" \
  "$BLOCKED" "$out"
t_contains "after: the refusal is logged for the container's socket (its identity)" \
  "from container ${HOLDER_ID:0:12}'s socket" "$(cat "$ECI_GUARD_LOG")"
docker exec holder docker run --rm -v "$W/shared:/d" busybox sh -c 'echo x > /d/after' >/dev/null 2>&1
t_eq "after: a sibling created through it acts as the creator (host file uid 1000)" "1000" \
  "$(stat -c %u "$W/shared/after" 2>&1)"
out=$(docker exec holder docker run --rm -v "$W/other:/o" busybox touch /o/x 2>&1)
t_contains "after: a sibling may still bind only what the container binds" \
  "enhanced container isolation" "$out"
t_ok "  ... and did not run" test ! -e "$W/other/x"
sib=$(docker exec holder docker create -v "$W/shared:/d" busybox true 2>/dev/null | tail -n1)
t_eq "after: the sibling's caller record in eci-enforcerd is uid 1000" "1000" \
  "$(jq -r --arg id "$sib" '.. | objects | select(.id? == $id) | .uid' "$ECI_STATE_DIR"/*.json 2>/dev/null | head -n1)"

out=$(docker exec trick sh -c 'test -S /proc/uptime && echo socket; cut -d. -f1 /proc/uptime' 2>&1)
t_not_contains "trick: /proc/uptime was not replaced by the socket" "socket" "$out"
t_ok "trick: /proc/uptime is still the container's (${out}s, host $(cut -d. -f1 /proc/uptime)s)" \
  test -n "$out" -a "${out:-99999}" -lt "$(($(cut -d. -f1 /proc/uptime) - 60))"
t_contains "trick: the refused injection is logged" "not a socket" "$newlog"
# ... and audited: one record per container (the start pass and the events watcher's pass both
# fail it; it is recorded once), with the container's name and why.
TRICK_ID=$(docker inspect -f '{{.Id}}' trick)
# eval: the count is read again on every try (a plain $(...) would be read once, before waiting).
_eci_wait_for 5 eval 'test "$(reserve_audited "$TRICK_ID")" -ge 1'
t_eq "trick: the refused injection is audited once (rule socket-reserve)" "1" "$(reserve_audited "$TRICK_ID")"
t_eq "  ... naming the container and why (not a socket)" "1" \
  "$(audit_count --arg id "$TRICK_ID" 'select(.container == $id and .rule == "socket-reserve" and .name == "trick" and (.reason | test("not put back at /x/uptime.*not a socket")))')"

# --- 5. stopped, forged, missing, stale --------------------------------------------------------
docker start stopped >/dev/null
t_contains "a stopped allowlisted container started after the restart: socket works" "stopped" \
  "$(inside_ps stopped)"
out=$(inside_ps forged)
t_not_contains "forged record (names another container): socket not served" "forged" "$out"
t_contains "  ... it stays dead" "Cannot connect to the Docker daemon" "$out"
t_contains "  ... logged" "not re-serving its engine socket" "$(grep "${FORGED_ID:0:12}" <<<"$newlog")"
t_fails "  ... nothing listens on its host path either" curl -sf --unix-socket "$(sock_of forged)" http://d/_ping
t_eq "  ... audited once (rule socket-reserve)" "1" "$(reserve_audited "$FORGED_ID")"
t_contains "  ... the record says why (the record names another container)" \
  "the grant record names container ${HOLDER_ID:0:12}" \
  "$(jq -r --arg id "$FORGED_ID" 'select(.container == $id and .rule == "socket-reserve") | .reason' "$ECI_AUDIT_LOG")"
out=$(inside_ps norecord)
t_contains "missing record: socket stays dead" "Cannot connect to the Docker daemon" "$out"
t_eq "  ... audited once (rule socket-reserve, no usable grant record)" "1" \
  "$(audit_count --arg id "$(docker inspect -f '{{.Id}}' norecord)" 'select(.container == $id and .rule == "socket-reserve" and (.reason | test("no usable grant record")))')"
t_eq "containers served again leave no socket-reserve record (holder)" "0" "$(reserve_audited "$HOLDER_ID")"
t_ok "a removed container's socket directory is removed" test ! -e "$GONE_DIR"
t_ok "  ... and its grant record (the grant is dropped)" test ! -e "$GONE_REC"

# --- 6. boot order: the engine comes after the guard ------------------------------------------
# The guard starts while its upstream path does not exist yet (as at boot, where dockerd starts
# after it); the events watcher serves the sockets once the engine appears (here: a symlink to
# dockerd's socket made later).
eci_guard_kill9
rm -f "$W/late.sock"
"$ECI_APIPROXYD_BIN" --listen "$SOCK" --socket-mode 0660 --socket-group 0 \
  --upstream "$W/late.sock" --control-socket "$ECI_CONTROL_SOCK" \
  --socket-dir "$ECI_GUARD_SOCKET_DIR" --state-dir "$ECI_GUARD_STATE_DIR" >>"$ECI_GUARD_LOG" 2>&1 &
bootpid=$!
_eci_wait_for 20 test -S "$SOCK"
sleep 1
# (-m: the socket is bound from its record already, and a client waits in its backlog.)
t_fails "boot order: no engine yet, the container's socket is not served yet" \
  curl -sf -m 2 --unix-socket "$MANY1_SOCK" http://d/_ping
ln -s "$ECI_DOCKERD_SOCK" "$W/late.sock"
t_ok "boot order: once the engine is there, the events watcher serves it again" \
  _eci_wait_for 10 "${PRIV[@]}" docker exec many1 docker version
kill "$bootpid" 2>/dev/null
wait "$bootpid" 2>/dev/null
eci_guard_start

# --- 7. graceful restart keeps them too ---------------------------------------------------------
eci_guard_stop
t_ok "SIGTERM leaves the per-container socket and record" test -e "$rec"
eci_guard_start
t_contains "after SIGTERM + start: docker ps from inside works" "holder" "$(inside_ps holder)"
t_contains "  ... and the stopped-then-started container's too" "stopped" "$(inside_ps stopped)"

# --- 8. reboot: /run is empty, the records in the state directory are not -------------------
# A container restarted by the engine itself (restart policy) after a reboot never passes the
# guard: its socket must be there before, with the identity and the command list of its grant.
as1000 docker run -d --name reboot --restart always -v "$SOCK:/var/run/docker.sock" \
  -v "$W/shared:/shared" dockercli:1 sleep 100000 >/dev/null
REBOOT_ID=$(docker inspect -f '{{.Id}}' reboot)
REBOOT_SOCK=$(sock_of reboot)
t_contains "reboot: before, docker ps from inside works" "reboot" "$(inside_ps reboot)"
# A corrupt record (a torn write of some other tool, a bad disk): that socket fails closed.
run_sock corrupt
CORRUPT_REC=$(rec_of corrupt)
printf '{"containerId": "%s", "imag' "$(docker inspect -f '{{.Id}}' corrupt)" >"$CORRUPT_REC"
reboot_guard() {  # stop the guard, wipe its run directory (what a reboot does to /run), start it
  eci_guard_stop
  rm -rf "$ECI_GUARD_SOCKET_DIR"
  lines_before=$(wc -l <"$ECI_GUARD_LOG")
  eci_guard_start
  _eci_wait_for 30 curl -sf --unix-socket "$SOCK" http://d/_ping
  newlog=$(tail -n +"$((lines_before + 1))" "$ECI_GUARD_LOG")
}
reboot_guard
t_ok "reboot: the run directory was wiped and the socket made again" test -S "$REBOOT_SOCK"
docker restart -t 0 reboot >/dev/null
t_contains "reboot: after docker restart the container's socket works" "reboot" "$(inside_ps reboot)"
t_contains "  ... the command list still applies (volume ls: Docker's 403 message)" \
  "$BLOCKED" "$(docker exec reboot docker volume ls 2>&1)"
t_contains "  ... with the container's identity" "from container ${REBOOT_ID:0:12}'s socket" \
  "$(tail -n +"$((lines_before + 1))" "$ECI_GUARD_LOG")"
docker exec reboot docker run --rm -v "$W/shared:/d" busybox sh -c 'echo x > /d/reboot' >/dev/null 2>&1
t_eq "  ... a sibling created through it acts as the creator (host file uid 1000)" "1000" \
  "$(stat -c %u "$W/shared/reboot" 2>&1)"
t_contains "reboot: the corrupt record fails closed, logged with its file" \
  "$CORRUPT_REC is corrupt" "$newlog"
t_contains "  ... its socket stays dead (fail closed)" "Cannot connect to the Docker daemon" \
  "$(inside_ps corrupt)"

# The policy no longer allows the image: a grant served again is checked as a start would be.
nopolicy=$(jq -c '.socketMount.images = []' <<<"$policy")
eci_push_policy "$nopolicy" >/dev/null
reboot_guard
docker restart -t 0 reboot >/dev/null 2>&1
out=$("${PRIV[@]}" docker exec reboot docker ps 2>&1)
t_contains "reboot, image no longer allowed: the socket is not served" \
  "Cannot connect to the Docker daemon" "$out"
t_contains "  ... logged: the current policy refuses its start" \
  "the current policy refuses its start (rule socket-mount" "$(grep "${REBOOT_ID:0:12}" <<<"$newlog")"
t_ok "  ... its record is kept (the container still exists)" test -e "$(rec_of reboot)"
eci_push_policy "$policy" >/dev/null

# Boot order after a reboot: the guard comes first, the engine later. The sockets are bound from
# the records at once (the engine's restart policy needs the files), but nothing is answered on
# them until the engine confirmed each container (and the policy its image).
eci_guard_stop
rm -rf "$ECI_GUARD_SOCKET_DIR" "$W/late.sock"
"$ECI_APIPROXYD_BIN" --listen "$SOCK" --socket-mode 0660 --socket-group 0 \
  --upstream "$W/late.sock" --control-socket "$ECI_CONTROL_SOCK" \
  --socket-dir "$ECI_GUARD_SOCKET_DIR" --state-dir "$ECI_GUARD_STATE_DIR" >>"$ECI_GUARD_LOG" 2>&1 &
bootpid=$!
_eci_wait_for 20 test -S "$SOCK"
t_ok "boot: the socket file is bound from the record before the engine is there" \
  _eci_wait_for 10 test -S "$REBOOT_SOCK"
t_fails "  ... but not answered yet (no engine to confirm the grant)" \
  curl -sf -m 2 --unix-socket "$REBOOT_SOCK" http://d/_ping
ln -s "$ECI_DOCKERD_SOCK" "$W/late.sock"
t_ok "boot: once the engine is there, the socket answers" \
  _eci_wait_for 10 curl -sf -m 2 --unix-socket "$REBOOT_SOCK" http://d/_ping
kill "$bootpid" 2>/dev/null
wait "$bootpid" 2>/dev/null
eci_guard_start
docker restart -t 0 reboot >/dev/null
t_contains "  ... and after a restart of the container too" "reboot" "$(inside_ps reboot)"
REBOOT_REC=$(rec_of reboot)
docker rm -f reboot corrupt >/dev/null
t_ok "removing the container drops its grant record" _eci_wait_for 5 test ! -e "$REBOOT_REC"

# --- 9. an older guard's records: migrated at start --------------------------------------------
# Before the state directory (commit e496217) the guard kept each record next to its socket:
# <socket-dir>/<token>/grant.json, the same JSON, root:root 0600, written atomically into the
# root 0711 token directory. An upgrade finds those; each is moved into the state directory at
# start, before the pass reads the records (which checks it against the engine and the policy
# like any other), or refused if it is not exactly what that guard wrote.
run_sock oldrec
run_sock oldtamper
OLDREC_SOCK=$(sock_of oldrec)
OLDREC_NEW=$(rec_of oldrec)
OLDREC_OLD="$(dirname "$OLDREC_SOCK")/grant.json"
OLDREC_TEXT=$(cat "$OLDREC_NEW")
TAMPER_SOCK=$(sock_of oldtamper)
TAMPER_NEW=$(rec_of oldtamper)
TAMPER_OLD="$(dirname "$TAMPER_SOCK")/grant.json"
eci_guard_stop
# What the old guard left: its record file where and as it wrote it; none in the state directory.
install -m 0600 -o root -g root "$OLDREC_NEW" "$OLDREC_OLD" && rm -f "$OLDREC_NEW"
install -m 0600 -o root -g root "$TAMPER_NEW" "$TAMPER_OLD" && rm -f "$TAMPER_NEW"
chown 1000:1000 "$TAMPER_OLD"  # tampered: a user's file (content and mode as the guard wrote)
t_eq "old layout: the record is the old guard's (root 0600, next to the socket), none in the state dir" \
  "0:600 absent" "$(stat -c %u:%a "$OLDREC_OLD" 2>&1) $(test -e "$OLDREC_NEW" && echo present || echo absent)"
lines_before=$(wc -l <"$ECI_GUARD_LOG")
eci_guard_start
_eci_wait_for 30 curl -sf --unix-socket "$SOCK" http://d/_ping
newlog=$(tail -n +"$((lines_before + 1))" "$ECI_GUARD_LOG")
t_contains "old layout: the guard logs what it migrated and refused" \
  "grant records migrated from $ECI_GUARD_SOCKET_DIR: 1, refused: 1" "$newlog"
t_ok "old layout: the container's socket answers again on its host path" \
  curl -sf -m 5 --unix-socket "$OLDREC_SOCK" http://d/_ping
t_contains "  ... and inside the same running container (docker ps)" "oldrec" "$(inside_ps oldrec)"
t_contains "  ... the command list still applies (volume ls: Docker's 403 message)" \
  "$BLOCKED" "$(docker exec oldrec docker volume ls 2>&1)"
t_eq "  ... its record is now in the state directory, the old content" "$OLDREC_TEXT" \
  "$(cat "$OLDREC_NEW" 2>&1)"
t_eq "  ... root's, 0600" "0:600" "$(stat -c %u:%a "$OLDREC_NEW" 2>&1)"
t_ok "  ... the old grant.json is gone" test ! -e "$OLDREC_OLD"
out=$(inside_ps oldtamper)
t_contains "old layout, tampered record (a user's file): the socket stays dead" \
  "Cannot connect to the Docker daemon" "$out"
t_fails "  ... nothing answers on its host path either" \
  curl -sf -m 2 --unix-socket "$TAMPER_SOCK" http://d/_ping
t_ok "  ... no record was made from it" test ! -e "$TAMPER_NEW"
t_ok "  ... the file is left in place for the admin" test -e "$TAMPER_OLD"
t_contains "  ... refused, logged with its file and why" \
  "old grant record $TAMPER_OLD refused (left in place, its socket is not served again): $TAMPER_OLD is not owned by root" \
  "$newlog"
docker rm -f oldrec oldtamper >/dev/null

# --- 10. removal still cleans up -----------------------------------------------------------------
hs=$(sock_of holder)
docker rm -f holder >/dev/null
# Removed on the engine's destroy event, which comes a moment after `docker rm` returns.
t_ok "a re-served socket is removed with its container" _eci_wait_for 10 test ! -e "$(dirname "$hs")"

t_eq "no sanitizer/crash in the guard log" "" "$(grep -E 'runtime error|AddressSanitizer|terminate' "$ECI_GUARD_LOG")"
t_summary
