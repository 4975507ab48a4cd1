#!/usr/bin/env bash
# Issue 15, "Restarts keep protection", through a real dockerd + eci-runc + eci-enforcerd
# (lib/harness.sh): containers that were running when eci-enforcerd was SIGKILLed (or stopped for
# an upgrade) get their mount vetting back when it is back, in the SAME process tree that runc
# started (no container restart, no new filter): the fd holder kept their seccomp notify fds.
#  - during the gap a trapped call is never performed: it stays pending (blocked) in the kernel,
#    and is vetted by the new worker once eci-enforcerd is back (a vetted mount then succeeds, a
#    protected one is refused);
#  - after the restart: vetted mounts work, protected ones (umount of /proc/uptime's emulation,
#    remount rw of /proc/sys) are refused, never ENOSYS; `docker exec` works;
#  - the holder holds nothing of containers that are gone (removed while eci-enforcerd runs, or
#    exited during the gap and reconciled at the restart);
#  - the restart gap (eci-enforcerd start -> every container served again) is printed;
#  - /proc emulation (enforcer/procfs, README "Restarts"): in the SAME containers (plain and
#    --privileged) /proc/uptime reads again after the restart and is still the container's (small,
#    advancing, not the host's), and a knob the container wrote keeps its value; during the gap a
#    read blocks or fails, never shows a host value; a container whose held state was garbled
#    during a stop is not resumed (ENOTCONN, never host values);
#  - a request eci-enforcerd had read from /dev/fuse but not answered when SIGKILLed (caught with
#    SIGSTOP, see below) is sent again by the kernel after the restart and answered: every reader
#    finishes with the container's value; knob files opened before the kill keep working (read the
#    container's value, take a valid write, refuse an invalid one; the host's value unchanged).
# ECI_RESTART_PRIV (default 3, at least 3): how many --privileged containers (the gap figure in
# bench/README.md is with 20).
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }

HOLDER_PIDFILE="$(dirname "$ECI_CONTROL_SOCK")/fdholder.sock.pid"
CTL="$ECI_T/ctl"
# Each container's main process (its init, pid 1) runs the commands written to its fifo, each as
# its own child: the process tree runc started, with the filter and listener it got at create.
SERVE='while :; do read -r cmd < /ctl/in || continue; sh -c "$cmd" > /ctl/out.tmp 2>&1; echo "rc=$?" >> /ctl/out.tmp; mv /ctl/out.tmp /ctl/out; done'

start_server() {  # NAME [docker run flags...]
  local name=$1
  shift
  mkdir -p "$CTL/$name" && chmod 0777 "$CTL/$name" && mkfifo -m 0666 "$CTL/$name/in"
  docker run -d --name "$name" "$@" -v "$CTL/$name:/ctl" busybox sh -c "$SERVE" >/dev/null
}
# Sends CMD to NAME's init without waiting for its answer.
send() { timeout 5 bash -c 'printf "%s\n" "$2" > "$1"' _ "$CTL/$1/in" "$2"; }
# Waits up to SECS for NAME's answer and prints it (nothing if none came).
answer() {  # NAME SECS
  local deadline=$((SECONDS + $2))
  until [[ -e "$CTL/$1/out" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
  cat "$CTL/$1/out"
}
run_in() {  # NAME CMD: runs CMD in NAME's init tree, prints its output and rc=N
  rm -f "$CTL/$1/out"
  send "$1" "$2" && answer "$1" 15
}
holder_pid() { cat "$HOLDER_PIDFILE" 2>/dev/null; }
# The user namespaces the holder keeps fds of (one line per fd).
holder_userns() { find "/proc/$(holder_pid)/fd" -type l -printf '%l\n' 2>/dev/null | grep '^user:'; }
holder_notify_fds() {
  find "/proc/$(holder_pid)/fd" -type l -printf '%l\n' 2>/dev/null | grep -c 'seccomp notify'
}
userns_of() { readlink "/proc/$(docker inspect -f '{{.State.Pid}}' "$1")/ns/user"; }
seccomp_status() { eci_enforcer_status | jq -c ".enforcer.modules.seccomp.$1"; }

VETTED='mkdir -p /m && mount -t tmpfs t /m && umount /m'
PROTECTED='umount /proc/uptime'
SYSRW='mount -o remount,rw /proc/sys'
# Without CAP_SYS_ADMIN Docker's profile refuses mount before eci's filter; what traps there is a
# chmod with a set-id bit: done by the worker on the container's own files, refused on a host bind.
SETID='touch /own && chmod 4755 /own && stat -c %a /own'
SETID_HOST='touch /ctl/planted && chmod 4755 /ctl/planted'
NPRIV=${ECI_RESTART_PRIV:-3}
((NPRIV >= 3)) || NPRIV=3
PRIV=$(seq -f 'p%g' 1 "$NPRIV" | tr '\n' ' ')
PLAIN="q1 q2"
for c in $PRIV; do start_server "$c" --privileged; done
for c in $PLAIN; do start_server "$c"; done
for c in $PRIV $PLAIN; do
  t_contains "$c: its init serves commands" "rc=0" "$(run_in "$c" 'echo ready')"
done

# --- before: what the listener decides while eci-enforcerd runs --------------------------------
for c in $PRIV; do
  t_contains "$c before: a vetted tmpfs mount works" "rc=0" "$(run_in "$c" "$VETTED")"
done
for c in $PLAIN; do
  t_contains "$c before: a set-id chmod of its own file is done (vetted)" "4755" \
    "$(run_in "$c" "$SETID")"
  t_not_contains "$c before: a set-id chmod on a host bind is refused" "rc=0" \
    "$(run_in "$c" "$SETID_HOST")"
done
# /proc emulation before the kill: the container's uptime, and a knob each one writes.
uptime_of() { run_in "$1" 'cat /proc/uptime' | head -1 | cut -d' ' -f1; }
procfs_status() { eci_enforcer_status | jq -c ".enforcer.modules.procfs.$1"; }
# A container's uptime: a number, below 300 s (this test's containers are younger), above MIN.
uptime_ok() { awk -v u="$1" -v m="$2" 'BEGIN{exit !(u ~ /^[0-9]+\.[0-9][0-9]$/ && u < 300 && u + 0 > m + 0)}'; }
host_up=$(cut -d' ' -f1 /proc/uptime)
declare -A UP_BEFORE
for c in p1 q1; do
  UP_BEFORE[$c]=$(uptime_of "$c")
  t_ok "$c before: /proc/uptime is the container's (${UP_BEFORE[$c]} s, host $host_up s)" \
    uptime_ok "${UP_BEFORE[$c]}" 0
done
t_contains "p1 before: writes kernel.panic=77 (emulated)" "77" \
  "$(run_in p1 'echo 77 > /proc/sys/kernel/panic && cat /proc/sys/kernel/panic')"
t_contains "q1 before: writes kernel.panic=78 (emulated)" "78" \
  "$(run_in q1 'echo 78 > /proc/sys/kernel/panic && cat /proc/sys/kernel/panic')"
host_panic=$(cat /proc/sys/kernel/panic)
hp=$(holder_pid)
t_ok "the holder holds /dev/fuse fds (2 per container)" \
  test "$(find "/proc/$hp/fd" -type l -printf '%l\n' | grep -c '^/dev/fuse$')" -ge $((2 * (NPRIV + 2)))
t_ok "the fd holder runs" test -n "$hp" -a -d "/proc/$hp"
t_ok "  ... not eci-enforcerd's child, in a session of its own" \
  test "$(ps -o ppid= -p "$hp" | tr -d ' ')" != "$ECI_ENFORCERD_PID" -a \
  "$(ps -o sid= -p "$hp" | tr -d ' ')" != "$(ps -o sid= -p "$ECI_ENFORCERD_PID" | tr -d ' ')"
t_ok "  ... it holds a notify fd of every container" test "$(holder_notify_fds)" -ge $((NPRIV + 2))
t_eq "  ... its socket is root-only" "600" \
  "$(stat -c %a "$(dirname "$ECI_CONTROL_SOCK")/fdholder.sock")"

# --- SIGKILL: the gap --------------------------------------------------------------------------
eci_enforcer_kill9
t_eq "the holder outlives eci-enforcerd's SIGKILL" "$hp" "$(holder_pid)"
t_ok "  ... and is alive" test -d "/proc/$hp"
p1pid=$(docker inspect -f '{{.State.Pid}}' p1)
rm -f "$CTL/p1/out" "$CTL/p2/out"
send p1 'mkdir -p /gap && mount -t tmpfs gap /gap && echo mounted'
send p2 "$PROTECTED"
sleep 1.5
t_fails "gap: the vetted mount is not answered while eci-enforcerd is down (pending)" \
  test -e "$CTL/p1/out"
t_eq "gap: ... and not performed" "" "$(awk '$5 == "/gap"' "/proc/$p1pid/mountinfo")"
t_fails "gap: the protected umount is not answered either" test -e "$CTL/p2/out"
t_ok "gap: /proc/uptime's emulation is still mounted in p2" \
  grep -q ' /proc/uptime .* - fuse' "/proc/$(docker inspect -f '{{.State.Pid}}' p2)/mountinfo"
# /proc/uptime during the gap, read from the host through q1's root: blocks (pending in the
# kernel) or fails; whatever comes out is never the host's.
q1pid=$(docker inspect -f '{{.State.Pid}}' q1)
sleep 0.1  # past the ~16 ms the last cached text may be served
gapup=$(timeout 2 cat "/proc/$q1pid/root/proc/uptime" 2>/dev/null | cut -d' ' -f1)
t_ok "gap: q1's /proc/uptime blocks or fails, no host value (got '${gapup}')" \
  bash -c "[[ -z '$gapup' ]] || awk -v u='$gapup' 'BEGIN{exit !(u < 300)}'"
# A container whose processes all exit during the gap: reconciled away at the restart.
q2userns=$(userns_of q2)
t_eq "the holder holds q2's user namespace" "$q2userns" "$(holder_userns | grep -Fx "$q2userns" | head -1)"
q2pid=$(docker inspect -f '{{.State.Pid}}' q2)
kill -9 "$q2pid"
for _ in $(seq 1 50); do
  [[ -d /proc/$q2pid ]] || break
  sleep 0.1
done
t_fails "q2's init exited during the gap" test -d "/proc/$q2pid"

# --- restart -----------------------------------------------------------------------------------
t0=$(date +%s%N)
eci_enforcer_start
tup=$(date +%s%N)  # its control socket is there (harness polls every 100 ms)
gap1=$(answer p1 20)
t_contains "after restart: the call blocked in the gap is served (vetted: mounted)" "mounted" "$gap1"
gap2=$(answer p2 20)
t_not_contains "after restart: the protected umount from the gap is refused" "rc=0" "$gap2"
t_not_contains "  ... with a refusal, not ENOSYS" "not implemented" "$gap2"
served=0
for c in $PRIV; do
  [[ $(run_in "$c" "$VETTED") == *rc=0* ]] && served=$((served + 1))
done
t1=$(date +%s%N)
t_eq "after restart: a vetted mount works again in every --privileged init tree" "$NPRIV" "$served"
echo "# restart gap, $((NPRIV + 1)) running containers: eci-enforcerd start -> every --privileged" \
  "one served again: $(((t1 - t0) / 1000000)) ms (up: $(((tup - t0) / 1000000)) ms; taking the" \
  "fds back: $(seccomp_status reattachMicros) us; then one trapped call per container, in turn)"
t_eq "the supervisor took back the $((NPRIV + 1)) running containers" "$((NPRIV + 1))" \
  "$(seccomp_status reattached)"
t_eq "  ... and dropped the one that exited in the gap" "1" "$(seccomp_status reattachDropped)"
# /proc emulation after the restart, in the same containers (no restart of theirs).
t_ok "procfs: the running containers' emulations were resumed ($(procfs_status resumed))" \
  test "$(procfs_status resumed)" -ge $((NPRIV + 1))
t_eq "procfs: none failed to resume" "0" "$(procfs_status resumeFailed)"
echo "# procfs: taking the FUSE sessions back: $(procfs_status resumeMicros) us"
for c in p1 q1; do
  up1=$(uptime_of "$c")
  t_ok "$c after restart: /proc/uptime reads, the container's ($up1 s > ${UP_BEFORE[$c]} s before)" \
    uptime_ok "$up1" "${UP_BEFORE[$c]}"
  sleep 0.05
  up2=$(uptime_of "$c")
  t_ok "$c after restart: /proc/uptime advances ($up1 -> $up2)" uptime_ok "$up2" "$up1"
done
t_contains "p1 after restart: kernel.panic keeps the 77 it wrote" "77" \
  "$(run_in p1 'cat /proc/sys/kernel/panic')"
t_contains "q1 after restart: kernel.panic keeps the 78 it wrote" "78" \
  "$(run_in q1 'cat /proc/sys/kernel/panic')"
t_contains "q1 after restart: writes kernel.panic again" "79" \
  "$(run_in q1 'echo 79 > /proc/sys/kernel/panic && cat /proc/sys/kernel/panic')"
t_eq "the host's kernel.panic never changed" "$host_panic" "$(cat /proc/sys/kernel/panic)"
for c in $PRIV; do
  out=$(run_in "$c" "$PROTECTED")
  t_not_contains "$c after restart: umount of /proc/uptime's emulation refused" "rc=0" "$out"
  t_not_contains "$c after restart:   ... by a vetting worker, not ENOSYS" "not implemented" "$out"
  t_not_contains "$c after restart: remount rw of /proc/sys refused" "rc=0" "$(run_in "$c" "$SYSRW")"
  t_contains "$c after restart: docker exec works" "ok" "$(docker exec "$c" echo ok 2>&1)"
done
t_ok "p2: /proc/uptime's emulation is still mounted" \
  grep -q ' /proc/uptime .* - fuse' "/proc/$(docker inspect -f '{{.State.Pid}}' p2)/mountinfo"
t_contains "q1 (not privileged) after restart: a set-id chmod of its own file is done" "4755" \
  "$(run_in q1 "rm -f /own; $SETID")"
out=$(run_in q1 "$SETID_HOST")
t_not_contains "q1 after restart: a set-id chmod on a host bind is refused" "rc=0" "$out"
t_not_contains "q1 after restart:   ... by a vetting worker, not ENOSYS" "not implemented" "$out"
t_eq "  ... and the host file has no set-id bit" "0" "$(( 0$(stat -c %a "$CTL/q1/planted") & 06000 ))"
t_eq "the holder holds nothing of q2 (exited during the gap)" "" \
  "$(holder_userns | grep -Fx "$q2userns")"

# --- removed while eci-enforcerd runs ----------------------------------------------------------
q1userns=$(userns_of q1)
t_ok "the holder holds q1's user namespace while it runs" \
  bash -c "find /proc/$(holder_pid)/fd -type l -printf '%l\n' | grep -Fxq '$q1userns'"
docker rm -f q1 >/dev/null
for _ in $(seq 1 40); do
  [[ -z $(holder_userns | grep -Fx "$q1userns") ]] && break
  sleep 0.1
done
t_eq "docker rm -f q1: the holder lets go of its fds" "" "$(holder_userns | grep -Fx "$q1userns")"

# --- the holder itself dies while eci-enforcerd runs ---------------------------------------------
# eci-enforcerd notices at its next put or drop (here: the notify fd of a `docker exec`), starts a
# new holder and hands it every fd again; a restart after that still finds them.
kill -9 "$hp"
for _ in $(seq 1 20); do [[ -d /proc/$hp ]] || break; sleep 0.1; done
docker exec p2 true
for _ in $(seq 1 30); do
  [[ -n $(holder_pid) && $(holder_pid) != "$hp" && -d /proc/$(holder_pid) ]] && break
  sleep 0.1
done
t_ok "a SIGKILLed holder is replaced by a new one" \
  test -n "$(holder_pid)" -a "$(holder_pid)" != "$hp" -a -d "/proc/$(holder_pid)"
t_eq "  ... which was handed p1's fds again" "$(userns_of p1)" \
  "$(holder_userns | grep -Fx "$(userns_of p1)" | head -1)"
holder_fuse() { find "/proc/$(holder_pid)/fd" -type l -printf '%l\n' 2>/dev/null | grep -c '^/dev/fuse$'; }
# The procfs module notices the lost holder within its 1 s health interval.
for _ in $(seq 1 30); do
  (($(holder_fuse) >= 2 * NPRIV)) && break
  sleep 0.1
done
t_ok "  ... and every running (--privileged) container's /dev/fuse fds ($(holder_fuse))" \
  test "$(holder_fuse)" -ge $((2 * NPRIV))
hp=$(holder_pid)
eci_enforcer_kill9
eci_enforcer_start
t_ok "  ... after one more SIGKILL + restart p1's /proc/uptime is its own" \
  uptime_ok "$(uptime_of p1)" "${UP_BEFORE[p1]}"
t_contains "  ... and after one more SIGKILL + restart p1's init tree is vetted again" "rc=0" \
  "$(run_in p1 "$VETTED")"
t_not_contains "  ... and its protected umount refused" "rc=0" "$(run_in p1 "$PROTECTED")"

# --- a stop and start (an upgrade) --------------------------------------------------------------
eci_enforcer_stop
t_eq "the holder outlives a graceful stop" "$hp" "$(holder_pid)"
# Fail closed: p2's held procfs state is garbled while no daemon runs (as root, through the
# holder's fd); that one emulation is then not resumed: ENOTCONN, never a host value.
p2id=$(docker inspect -f '{{.Id}}' p2)
p2state=$(find "/proc/$hp/fd" -type l -lname "/memfd:eci-procfs-state:$p2id*" | head -1)
t_ok "p2's procfs state memfd is in the holder" test -n "$p2state"
printf '{"garbled":' >"$p2state"
eci_enforcer_start
t_eq "after stop+start: p2's garbled state is refused (resumeFailed)" "1" \
  "$(procfs_status resumeFailed)"
out=$(run_in p2 'cat /proc/uptime; cat /proc/sys/kernel/panic')
t_contains "  ... p2's /proc/uptime fails with ENOTCONN" "not connected" "$out"
t_not_contains "  ... and shows no host uptime" "$(cut -d' ' -f1 /proc/uptime | cut -c1-3)" \
  "$(printf '%s' "$out" | grep -v rc=)"
t_contains "after stop+start: a vetted mount works in p3's init tree" "rc=0" \
  "$(run_in p3 "$VETTED")"
t_not_contains "after stop+start: umount of /proc/uptime still refused" "rc=0" \
  "$(run_in p3 "$PROTECTED")"
t_contains "after stop+start: p1's kernel.panic is still 77" "77" "$(run_in p1 'cat /proc/sys/kernel/panic')"
t_ok "after stop+start: p1's /proc/uptime is its own" uptime_ok "$(uptime_of p1)" "${UP_BEFORE[p1]}"

# --- in-flight requests and open knob files across a SIGKILL (enforcer/procfs README "Restarts") --
# (a) Requests the killed eci-enforcerd had READ but not answered: many readers in p3 hammer a
# knob (OPEN + one READ per byte + RELEASE: busybox `read` is a builtin, no fork) while
# eci-enforcerd is SIGKILLed with its FUSE thread between a read of /dev/fuse and its reply
# (caught with SIGSTOP, below). The new one asks the kernel to resend such requests
# (FUSE_NOTIFY_RESEND) and answers them; the status counts requests that came back with
# FUSE_UNIQUE_RESEND. Every reader must then finish, having seen only p3's value: none blocked,
# none a host value or an error.
# (b) Knob files opened (`exec 3<...`) before the SIGKILL in p1, used after the restart: a read
# gets p1's value, a valid write is taken, an invalid one refused (EINVAL), the host unchanged.
t_contains "p3: writes kernel.panic=66 (emulated; the readers' expected value)" "66" \
  "$(run_in p3 'echo 66 > /proc/sys/kernel/panic && cat /proc/sys/kernel/panic')"
NREADERS=16
cat >"$CTL/p3/reader.sh" <<'READER'
i=$1 n=0 bad=0
while [ ! -e /ctl/stop ]; do
  if read -r v < /proc/sys/kernel/panic && [ "$v" = 66 ]; then :; else
    bad=$((bad + 1))
    echo "got '$v'" >> /ctl/bad.$i
  fi
  n=$((n + 1))
done
echo "$n $bad" > /ctl/done.$i
READER
rm -f "$CTL"/p3/{stop,done.*,bad.*}
t_contains "p3: $NREADERS readers started" "rc=0" \
  "$(run_in p3 "for i in \$(seq 1 $NREADERS); do sh /ctl/reader.sh \$i </dev/null >/dev/null 2>&1 & done")"
# (b): three knob files of p1 opened before the kill, each used once after the restart by the
# same process (a child of p1's init, waiting for /ctl/go).
rm -f "$CTL"/p1/{go,knobfd.out,knobfd.opened}
send p1 '(exec 3</proc/sys/kernel/panic 4<>/proc/sys/kernel/panic 5<>/proc/sys/kernel/panic; echo opened > /ctl/knobfd.opened; while [ ! -e /ctl/go ]; do sleep 0.05; done; read -r v <&3; echo "read3=$v rc=$?"; echo 93 >&4; echo "write4 rc=$?"; echo 9x >&5; echo "write5 rc=$?"; read -r w < /proc/sys/kernel/panic; echo "fresh=$w") > /ctl/knobfd.tmp 2>&1 && mv /ctl/knobfd.tmp /ctl/knobfd.out &'
answer p1 10 >/dev/null
for _ in $(seq 1 50); do [[ -e $CTL/p1/knobfd.opened ]] && break; sleep 0.1; done
t_ok "p1: three kernel.panic files are open before the SIGKILL" test -e "$CTL/p1/knobfd.opened"
# Catching a request in flight, deterministically: eci-enforcerd is stopped (SIGSTOP) and
# continued until one of its threads is stopped right at the return of a read(2) of /dev/fuse
# that brought an OPEN or a READ, i.e. holding a request a reader waits for and that it has not
# answered (/proc/<tid>/syscall names the syscall a stopped thread is in: 0 = read, its fd and
# buffer; libfuse 3.14 reads with read(2), no splice without a write_buf handler; the opcode is
# the second u32 of the fuse_in_header in that buffer, read through /proc/<pid>/mem). It is
# SIGKILLed in that state. The status' resentRequests then shows the kernel sent it again (bit
# 63) to the new eci-enforcerd, and the reader must get its answer.
held_fuse_opcode() {  # PID: the opcode a thread of PID stopped right after reading from /dev/fuse
  local t nr fd buf op
  for t in /proc/"$1"/task/*; do
    read -r nr fd buf _ <"$t/syscall" 2>/dev/null || continue
    [[ $nr == 0 && $fd == 0x* && $buf == 0x* ]] || continue
    [[ $(readlink "/proc/$1/fd/$((fd))") == /dev/fuse ]] || continue
    op=$(dd if="/proc/$1/mem" bs=8 count=1 iflag=skip_bytes skip=$((buf)) 2>/dev/null |
      od -An -tu4 -j4 | tr -d ' ')
    [[ -n $op ]] && echo "$op" && return 0
  done
  return 1
}
sleep 1
tries=0
caught=0
while ((tries < 400)); do
  tries=$((tries + 1))
  kill -STOP "$ECI_ENFORCERD_PID"
  for _ in 1 2 3 4 5; do  # until every thread has stopped
    grep -q running /proc/"$ECI_ENFORCERD_PID"/task/*/syscall 2>/dev/null || break
    sleep 0.01
  done
  op=$(held_fuse_opcode "$ECI_ENFORCERD_PID")
  if [[ $op == 14 || $op == 15 ]]; then  # FUSE_OPEN, FUSE_READ: a reader waits for the answer
    caught=1
    break
  fi
  kill -CONT "$ECI_ENFORCERD_PID"
  sleep 0.01
done
t_eq "eci-enforcerd stopped holding a request it had read from /dev/fuse (opcode ${op:-?}, $tries tries)" \
  "1" "$caught"
eci_enforcer_kill9  # SIGKILL ends a stopped process too
sleep 0.3
eci_enforcer_start
for _ in $(seq 1 50); do
  [[ $(procfs_status resentRequests) =~ ^[1-9] ]] && break
  sleep 0.1
done
resent=$(procfs_status resentRequests)
echo "# in-flight: opcode $op caught after $tries SIGSTOP(s); $resent request(s) resent and answered;" \
  "$(procfs_status adoptedKnobHandles) knob handle(s) of the killed daemon served again"
t_ok "the kernel resent the unanswered request(s) to the new eci-enforcerd ($resent)" \
  test "${resent:-0}" -ge 1
t_eq "  ... every resumed connection was asked to resend (FUSE_NOTIFY_RESEND took)" "0" \
  "$(procfs_status resendFailed)"
touch "$CTL/p3/stop"
for _ in $(seq 1 100); do
  (($(find "$CTL/p3" -name 'done.*' | wc -l) >= NREADERS)) && break
  sleep 0.1
done
ndone=$(find "$CTL/p3" -name 'done.*' | wc -l)
t_eq "every reader of p3 finished (none blocked on an unanswered request)" "$NREADERS" "$ndone"
reads=$(cat "$CTL"/p3/done.* 2>/dev/null | awk '{n += $1} END {print n + 0}')
bad=$(cat "$CTL"/p3/done.* 2>/dev/null | awk '{b += $2} END {print b + 0}')
t_eq "  ... and every one of their $reads reads was p3's value 66 (no error, no host value)" "0" "$bad"
[[ -n $(cat "$CTL"/p3/bad.* 2>/dev/null) ]] && sort "$CTL"/p3/bad.* | uniq -c | head -5 | sed 's/^/#   /'
if ((ndone < NREADERS)); then
  # Blocked readers wait uninterruptibly for an answer: abort p3's FUSE connections so that the
  # suite can end (its containers can be removed).
  awk '$9 == "fuse.eci" {split($3, d, ":"); print d[2]}' \
    "/proc/$(docker inspect -f '{{.State.Pid}}' p3)/mountinfo" | sort -u |
    while read -r id; do echo 1 >"/sys/fs/fuse/connections/$id/abort" 2>/dev/null; done
fi
touch "$CTL/p1/go"
for _ in $(seq 1 50); do [[ -e $CTL/p1/knobfd.out ]] && break; sleep 0.1; done
knobfd=$(cat "$CTL/p1/knobfd.out" 2>/dev/null)
t_contains "p1: a knob file opened before the SIGKILL reads p1's value after it" "read3=77 rc=0" \
  "$knobfd"
t_contains "p1:   ... one takes a valid write after it" "write4 rc=0" "$knobfd"
t_contains "p1:   ... one refuses an invalid write (validated like any write)" "write5 rc=1" "$knobfd"
t_contains "p1:   ... and a fresh open reads the value written through the old file" "fresh=93" \
  "$knobfd"
t_ok "  ... the killed daemon's knob handles were served as freshly opened ($(procfs_status adoptedKnobHandles))" \
  test "$(procfs_status adoptedKnobHandles)" -ge 3
t_eq "the host's kernel.panic never changed (after the old files' writes)" "$host_panic" \
  "$(cat /proc/sys/kernel/panic)"

t_summary
