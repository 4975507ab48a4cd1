#!/bin/bash
# End-to-end: the seccomp-notify supervisor (eci-seccompd) behind Debian's runc 1.1.5, containers
# in a user namespace (0 -> 100000) with a busybox-static rootfs and every capability.
# Usage: e2e_runc.sh ECI_SECCOMPD PROBE SPECGEN
# Each check proves the attack ran (the call reached the kernel/supervisor) and that the host or
# the container's locked state is unchanged. Missing prerequisites FAIL the test.
set -u
SECCOMPD=$1 PROBE=$2 SPECGEN=$3
RUNC=${RUNC:-/usr/sbin/runc}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
need() { command -v "$1" >/dev/null || { echo "FAIL: $1 not installed"; exit 1; }; }
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root"; exit 1; }
need jq
[ -x "$RUNC" ] || { echo "FAIL: $RUNC missing"; exit 1; }
BUSYBOX=$(command -v busybox) || { echo "FAIL: busybox-static missing"; exit 1; }
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' || ldd "$BUSYBOX" 2>&1 | grep -q 'not a dynamic' ||
  { echo "FAIL: $BUSYBOX is not static (install busybox-static)"; exit 1; }

T=$(mktemp -d /tmp/eci-seccomp-e2e.XXXXXX)
chmod 755 "$T"  # container root (host uid 100000) must reach the rootfs and volumes
RROOT=$T/runc-root
SOCK=$T/run/seccomp.sock
SUP_PID=
cleanup() {
  for id in $("$RUNC" --root "$RROOT" list -q 2>/dev/null); do
    "$RUNC" --root "$RROOT" delete -f "$id" >/dev/null 2>&1
  done
  [ -n "$SUP_PID" ] && kill "$SUP_PID" 2>/dev/null && wait "$SUP_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

# ---- rootfs and host fixtures -----------------------------------------------------------------
R=$T/rootfs
mkdir -p $R/{bin,proc,sys,dev,tmp,mnt,etc,root,data}
cp "$BUSYBOX" $R/bin/busybox
for a in sh mount umount cat ls mkdir unshare grep echo sleep touch rm head wc seq test true; do
  ln -s busybox $R/bin/$a
done
cp "$PROBE" $R/bin/probe
mkdir -p $T/host-ro $T/host-rw
echo host > $T/host-ro/file
chown -R 100000:100000 $R $T/host-ro $T/host-rw
BLOCKDEV=$(findmnt -no SOURCE / 2>/dev/null)
[ -b "$BLOCKDEV" ] || { echo "FAIL: no block device behind / to offer the container"; exit 1; }

(cd $T && "$RUNC" spec) || { echo "FAIL: runc spec"; exit 1; }
CAPS=$(jq -c -n '[range(0;41)] | map(
  ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_DAC_READ_SEARCH","CAP_FOWNER","CAP_FSETID","CAP_KILL",
   "CAP_SETGID","CAP_SETUID","CAP_SETPCAP","CAP_LINUX_IMMUTABLE","CAP_NET_BIND_SERVICE",
   "CAP_NET_BROADCAST","CAP_NET_ADMIN","CAP_NET_RAW","CAP_IPC_LOCK","CAP_IPC_OWNER",
   "CAP_SYS_MODULE","CAP_SYS_RAWIO","CAP_SYS_CHROOT","CAP_SYS_PTRACE","CAP_SYS_PACCT",
   "CAP_SYS_ADMIN","CAP_SYS_BOOT","CAP_SYS_NICE","CAP_SYS_RESOURCE","CAP_SYS_TIME",
   "CAP_SYS_TTY_CONFIG","CAP_MKNOD","CAP_LEASE","CAP_AUDIT_WRITE","CAP_AUDIT_CONTROL",
   "CAP_SETFCAP","CAP_MAC_OVERRIDE","CAP_MAC_ADMIN","CAP_SYSLOG","CAP_WAKE_ALARM",
   "CAP_BLOCK_SUSPEND","CAP_AUDIT_READ","CAP_PERFMON","CAP_BPF","CAP_CHECKPOINT_RESTORE"][.])
  | map(select(. != "CAP_SYS_RESOURCE"))')  # the VM's bounding set lacks CAP_SYS_RESOURCE
jq --argjson caps "$CAPS" --arg root "$R" --arg ro "$T/host-ro" --arg rw "$T/host-rw" --arg blk "$BLOCKDEV" '
  .process.terminal=false | .root.path=$root | .root.readonly=false |
  .process.capabilities = {bounding:$caps,effective:$caps,permitted:$caps} |
  .linux.namespaces += [{"type":"user"},{"type":"cgroup"}] |
  .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}] |
  .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}] |
  .mounts += [{"destination":"/mnt","type":"bind","source":$ro,"options":["rbind","ro"]},
              {"destination":"/data","type":"bind","source":$rw,"options":["rbind","rw"]},
              {"destination":"/dev/blk","type":"bind","source":$blk,"options":["bind"]}]' \
  $T/config.json > $T/base.json || { echo "FAIL: jq"; exit 1; }
"$SPECGEN" "$SOCK" e2e < $T/base.json > $T/eci.json || { echo "FAIL: specgen"; exit 1; }
jq -e '.linux.seccomp.listenerPath and (.linux.seccomp.syscalls | map(select(.action=="SCMP_ACT_NOTIFY" and (.names | index("mount")))) | length == 1)' \
  $T/eci.json >/dev/null || { echo "FAIL: merged spec has no notify rule"; exit 1; }

start_supervisor() {
  "$SECCOMPD" --socket "$SOCK" > $T/seccompd.out 2>> $T/seccompd.err &
  SUP_PID=$!
  for _ in $(seq 1 100); do grep -q ready $T/seccompd.out 2>/dev/null && return 0; sleep 0.1; done
  echo "FAIL: supervisor did not start"; cat $T/seccompd.err; exit 1
}
start_supervisor
[ "$(stat -c %a "$SOCK")" = 600 ] && ok "socket is 0600" || bad "socket mode $(stat -c %a "$SOCK")"

n=0
# run_c SPEC SCRIPT: runs the script in a fresh container, prints its output.
run_c() {
  n=$((n + 1))
  local b=$T/bundle$n
  mkdir -p $b
  jq --arg s "$2" '.process.args=["/bin/sh","-c",$s]' "$1" > $b/config.json
  (cd $b && timeout 120 "$RUNC" --root "$RROOT" run "e2e$n" < /dev/null 2>&1)
}
expect() {  # expect NAME OUTPUT PATTERN...: every pattern (grep -E) must be in OUTPUT
  local name=$1 out=$2; shift 2
  for p in "$@"; do
    if ! grep -qE -- "$p" <<< "$out"; then bad "$name: missing '$p'"; echo "$out" | sed 's/^/    | /'; return; fi
  done
  ok "$name"
}

# ---- read-only initial mounts stay read-only ------------------------------------------------------
out=$(run_c $T/eci.json 'mount -o remount,rw /mnt; echo rc=$?; touch /mnt/new 2>&1; cat /mnt/file')
expect "remount,rw of ro volume refused with the seed's message" "$out" \
  '^mount: permission denied \(are you root\?\)$' '^rc=1$' 'Read-only file system' '^host$'
out=$(run_c $T/eci.json 'mkdir -p /x; mount --bind /mnt /x && echo bind-ok;
  mount -o remount,bind,rw /x; echo rc=$?; touch /x/new 2>&1')
expect "bind copy of ro volume cannot be made rw" "$out" '^bind-ok$' 'permission denied' '^rc=1$' 'Read-only file system'
out=$(run_c $T/eci.json 'unshare -m sh -c "mount -o remount,rw /mnt; echo rc1=\$?;
  mount -o remount,bind,rw /mnt; echo rc2=\$?; mkdir -p /y; mount --bind /mnt /y; mount -o remount,bind,rw /y; echo rc3=\$?;
  touch /mnt/new /y/new 2>&1"')
expect "unshare -m: still locked" "$out" '^rc1=1$' '^rc2=1$' '^rc3=1$' 'Read-only file system'
out=$(run_c $T/eci.json 'probe setattr-rw /mnt; probe setattr-rw /sys; probe setattr-rw /proc/sys;
  mkdir -p /z; probe opentree-rw /mnt /z; touch /z/new 2>&1; probe fspick-rw /mnt; probe fspick-rw /sys; probe setattr-ro /data')
expect "new mount API cannot unlock ro" "$out" \
  '^mount_setattr_clear_ro: EPERM$' 'open_tree_clone_nonrecursive: EPERM' 'open_tree_clone: ok' 'mount_setattr_detached_clear_ro: EPERM' \
  'move_mount_clone: ok' 'Read-only file system' '^fspick: EPERM$' 'mount_setattr_set_ro: ok'
[ "$(grep -c 'mount_setattr_clear_ro: EPERM' <<< "$out")" = 3 ] && ok "mount_setattr rw refused on /mnt, /sys, /proc/sys" ||
  bad "mount_setattr: $(grep mount_setattr_clear_ro <<< "$out" | tr '\n' ' ')"
[ ! -e $T/host-ro/new ] && [ "$(cat $T/host-ro/file)" = host ] && ok "host ro dir unchanged" || bad "host ro dir was written"

# The race: a second thread flips the remount target between an own mount and the locked one.
out=$(run_c $T/eci.json 'mkdir -p /tmp/t; mount -t tmpfs t /tmp/t; probe race /tmp/t /mnt 3000; touch /mnt/raced 2>&1;
  grep " /mnt " /proc/self/mountinfo')
if grep -qE 'race: ok=[1-9][0-9]* eperm=[1-9]' <<< "$out" && grep -q 'Read-only file system' <<< "$out" &&
  grep -qE ' /mnt ro' <<< "$out"; then ok "racing target swap never unlocks /mnt ($(grep race: <<< "$out"))"
else bad "race"; echo "$out" | sed 's/^/    | /'; fi

# ---- protected mounts ------------------------------------------------------------------------------
out=$(run_c $T/eci.json 'umount /proc; echo p=$?; umount -l /sys; echo s=$?; umount -l /; echo r=$?;
  umount /proc/keys; echo k=$?; umount /proc/sys; echo ps=$?; mount -t tmpfs t /proc; echo op=$?;
  mount --bind /tmp /sys; echo os=$?; mount -t tmpfs t /; echo or=$?; mkdir -p /m; mount --move /proc /m; echo mv=$?;
  probe move /proc /m; wc -c < /proc/keys; grep -c " /proc " /proc/self/mountinfo')
expect "/, /proc, /sys and masks cannot be unmounted, overmounted or moved" "$out" \
  '^p=1$' '^s=1$' '^r=1$' '^k=1$' '^ps=1$' '^op=1$' '^os=1$' '^or=1$' '^mv=1$' '^move_mount: EPERM$' '^0$' '^1$'

# ---- the container's own mounts --------------------------------------------------------------------
out=$(run_c $T/eci.json 'mkdir -p /root/tmpfs; mount -t tmpfs tmpfs /root/tmpfs && echo mounted;
  mount -o remount,bind,ro /root/tmpfs && echo bro; touch /root/tmpfs/a 2>&1;
  mount -o remount,bind,rw /root/tmpfs && echo brw; touch /root/tmpfs/a && echo written;
  probe remount /root/tmpfs ro; touch /root/tmpfs/b 2>&1; probe remount /root/tmpfs rw; touch /root/tmpfs/b && echo written2;
  umount /root/tmpfs && echo unmounted;
  mkdir -p /tmp/p; mount -t proc proc /tmp/p && echo proc-ok; grep -qE '^[0-9]' /tmp/p/uptime && echo uptime-ok;
  wc -c < /tmp/p/keys; umount /tmp/p/keys; echo k=$?; probe setattr-rw /tmp/p/sys; umount -l /tmp/p && echo proc-gone;
  mkdir -p /o/l /o/u /o/w /o/m; echo low > /o/l/f; mount -t overlay overlay -o lowerdir=/o/l,upperdir=/o/u,workdir=/o/w /o/m && cat /o/m/f;
  mkdir -p /tmp/n; probe fsmount-tmpfs /tmp/n; touch /tmp/n/x && echo fsmount-writable')
expect "own tmpfs mounts, flips ro/rw, unmounts" "$out" '^mounted$' '^bro$' 'Read-only file system' '^brw$' \
  '^written$' '^remount_ro: ok$' '^remount_rw: ok$' '^written2$' '^unmounted$'
expect "new proc inside is a masked clone" "$out" '^proc-ok$' '^uptime-ok$' '^0$' '^k=1$' \
  '^mount_setattr_clear_ro: EPERM$' '^proc-gone$'
expect "overlay inside works" "$out" '^low$'
expect "new mount API: fsopen/fsconfig/fsmount/move_mount of tmpfs" "$out" '^fsopen_tmpfs: ok$' \
  '^fsconfig_create: ok$' '^fsmount: ok$' '^move_mount_new: ok$' '^fsmount-writable$'

# ---- block devices, kernel-global calls ----------------------------------------------------------
out=$(run_c $T/eci.json 'test -b /dev/blk && echo isblk; mkdir -p /b; mount /dev/blk /b; echo m1=$?;
  mount -t ext4 /dev/blk /b; echo m2=$?; mount -t tmpfs /dev/blk /b; echo m3=$?; probe fsopen ext4; ls /b | wc -l')
expect "block device cannot be mounted" "$out" '^isblk$' '^m1=1$' '^m2=1$' '^m3=1$' '^fsopen: EPERM$' '^0$'
out=$(run_c $T/eci.json 'grep CapEff /proc/self/status; probe global')
g=$(grep -c ': EPERM$' <<< "$out")
[ "$g" = 17 ] && grep -q 'CapEff:.*1ff' <<< "$out" && ok "17 kernel-global calls EPERM with all capabilities" ||
  { bad "kernel-global calls: $g/17 EPERM"; echo "$out" | sed 's/^/    | /'; }
privspec=$(jq 'del(.linux.seccomp)' $T/base.json | "$SPECGEN" "$SOCK" e2e-priv)
echo "$privspec" > $T/priv.json
out=$(run_c $T/priv.json 'probe global | grep -c EPERM; mount -o remount,rw /mnt; echo rc=$?')
expect "no engine profile (--privileged): same rules" "$out" '^17$' 'permission denied' '^rc=1$'

# ---- runc exec is supervised too; supervisor restart never hangs ----------------------------------
n=$((n + 1)); b=$T/bundle$n; mkdir -p $b
jq '.process.args=["/bin/sh","-c","while true; do if [ -e /tmp/go ]; then rm /tmp/go; mount -t tmpfs t /tmp 2>/tmp/err; echo rc=$? > /tmp/res; fi; sleep 0.1; done"]' \
  $T/eci.json > $b/config.json
(cd $b && "$RUNC" --root "$RROOT" run -d "e2e$n" < /dev/null > /dev/null 2>&1) &&
  "$RUNC" --root "$RROOT" state "e2e$n" | grep -q '"running"' || { bad "detached run"; exit 1; }
# Workers start on demand: a container that has not made a trapped call has none.
for _ in $(seq 1 20); do [ -z "$(pgrep -P "$SUP_PID" -f eci-seccomp-worker)" ] && break; sleep 0.1; done
[ -z "$(pgrep -P "$SUP_PID" -f eci-seccomp-worker)" ] && ok "no worker before the first trapped call" ||
  bad "a worker runs for a container that made no trapped call"
out=$("$RUNC" --root "$RROOT" exec "e2e$n" sh -c 'mount -o remount,rw /mnt; echo rc=$?' 2>&1)
expect "runc exec process is supervised" "$out" 'permission denied' '^rc=1$'
# The container's worker dies (a crash): the supervisor restarts it on the same notify fds, so
# the container's mount calls keep being vetted - not ENOSYS, not a hang.
w1=$(pgrep -P "$SUP_PID" -f eci-seccomp-worker | head -1)
if [ -n "$w1" ] && kill -9 "$w1"; then
  sleep 0.5
  out=$(timeout 20 "$RUNC" --root "$RROOT" exec "e2e$n" sh -c 'mkdir -p /tmp/w; mount -t tmpfs w /tmp/w && grep -c " /tmp/w " /proc/self/mountinfo; umount /tmp/w; echo rc=$?; mount -o remount,rw /mnt; echo ro=$?' 2>&1)
  w2=$(pgrep -P "$SUP_PID" -f eci-seccomp-worker | head -1)
  expect "worker killed: restarted, calls still vetted" "$out" '^1$' '^rc=0$' '^ro=1$'
  [ -n "$w2" ] && [ "$w2" != "$w1" ] && ok "a new worker ($w1 -> $w2)" || bad "no new worker after kill ($w1 -> $w2)"
else
  bad "no seccomp worker found under the supervisor ($SUP_PID)"
fi
# A caller in a nested user namespace holds CAP_SYS_ADMIN only there: eci will not perform its
# mounts with the container root's credentials (the kernel would not let it touch the container's
# mounts, and eci's copy would be made with more privilege than the caller has).
out=$("$RUNC" --root "$RROOT" exec "e2e$n" sh -c 'unshare -U -r sh -c "mkdir -p /tmp/n; mount -t tmpfs n /tmp/n; echo nested=\$?"' 2>&1)
expect "nested user namespace caller: emulated mount refused" "$out" '^nested=[1-9]'
kill "$SUP_PID"; wait "$SUP_PID" 2>/dev/null; SUP_PID=
touch $R/tmp/go
for _ in $(seq 1 50); do [ -e $R/tmp/res ] && break; sleep 0.2; done
if [ "$(cat $R/tmp/res 2>/dev/null)" = "rc=255" ] && grep -q 'Function not implemented' $R/tmp/err; then
  ok "supervisor gone: trapped call fails with ENOSYS, no hang"
else bad "after supervisor death: res=$(cat $R/tmp/res 2>/dev/null) err=$(cat $R/tmp/err 2>/dev/null)"; fi
out=$(timeout 30 "$RUNC" --root "$RROOT" exec "e2e$n" true 2>&1); rc=$?
if [ $rc != 0 ] && grep -q 'seccomp' <<< "$out"; then ok "exec without a supervisor is refused (fail closed)"
else bad "exec without supervisor: rc=$rc $out"; fi
"$RUNC" --root "$RROOT" delete -f "e2e$n" >/dev/null 2>&1
rm -f $R/tmp/res $R/tmp/err
start_supervisor

# ---- robustness: garbage arguments, no leaks ---------------------------------------------------
sleep 0.5
fd0=$(ls /proc/$SUP_PID/fd | wc -l); th0=$(ls /proc/$SUP_PID/task | wc -l)
out=$(run_c $T/eci.json 'probe garbage; echo alive')
expect "garbage/NULL sweep of every trapped call completes" "$out" 'garbage calls: [0-9]+' '^alive$'
kill -0 "$SUP_PID" 2>/dev/null && ok "supervisor survived the sweep" || bad "supervisor died"
for _ in $(seq 1 30); do [ "$(ls /proc/$SUP_PID/fd | wc -l)" = "$fd0" ] && break; sleep 0.2; done
fd1=$(ls /proc/$SUP_PID/fd | wc -l); th1=$(ls /proc/$SUP_PID/task | wc -l)
[ "$fd1" = "$fd0" ] && [ "$th1" = "$th0" ] && ok "no fd/thread leak (fds $fd0->$fd1, threads $th0->$th1)" ||
  bad "leak: fds $fd0->$fd1 threads $th0->$th1"
helpers=$(pgrep -P "$SUP_PID" | wc -l)
[ "$helpers" = 0 ] && ok "no helper left after containers exited" || bad "$helpers helper processes left"

# ---- 50 containers at once ---------------------------------------------------------------------
N=${E2E_CONCURRENT:-50}
pids=()
for i in $(seq 1 $N); do
  b=$T/c$i; mkdir -p $b
  jq '.process.args=["/bin/sh","-c","g=0; b=0; mkdir -p /tmp/c; for i in 1 2 3 4 5; do if mount -t tmpfs t /tmp/c && umount /tmp/c; then g=$((g+1)); else b=$((b+1)); fi; if mount -o remount,rw /mnt 2>/dev/null; then b=$((b+1)); else g=$((g+1)); fi; done; if umount /proc 2>/dev/null; then b=$((b+1)); else g=$((g+1)); fi; echo good=$g bad=$b"]' \
    $T/eci.json > $b/config.json
  (cd $b && timeout 300 "$RUNC" --root "$RROOT" run "par$i" < /dev/null > $b/out 2>&1) &
  pids+=($!)
done
for p in "${pids[@]}"; do wait $p; done
goodc=$(cat $T/c*/out | grep -c '^good=11 bad=0$')
[ "$goodc" = "$N" ] && ok "$N concurrent containers: every answer correct" ||
  { bad "concurrent: $goodc/$N correct"; cat $T/c*/out | sort | uniq -c | head; }
for _ in $(seq 1 50); do [ "$(ls /proc/$SUP_PID/fd | wc -l)" = "$fd0" ] && break; sleep 0.2; done
fd2=$(ls /proc/$SUP_PID/fd | wc -l); th2=$(ls /proc/$SUP_PID/task | wc -l)
[ "$fd2" = "$fd0" ] && [ "$th2" = "$th0" ] && [ "$(pgrep -P "$SUP_PID" | wc -l)" = 0 ] &&
  ok "after $N containers: fds $fd0->$fd2, threads $th0->$th2, no helpers" || bad "after $N: fds $fd0->$fd2 threads $th0->$th2"

# Workers log to the supervisor's stderr: the only worker exit must be the one we caused, and a
# sanitizer build must have reported nothing (a crashing worker would otherwise be restarted
# quietly).
exits=$(grep -c 'worker of .* exited' $T/seccompd.err)
killed=$(grep -c 'worker of .* exited (signal 9)' $T/seccompd.err)
[ "$exits" = 1 ] && [ "$killed" = 1 ] && ok "no worker exited except the one killed on purpose" ||
  { bad "worker exits: $exits (killed on purpose: $killed)"; grep 'exited' $T/seccompd.err | head; }
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' $T/seccompd.err; then
  bad "sanitizer report from the supervisor or a worker"; grep -E -A5 'Sanitizer|runtime error' $T/seccompd.err | head -20
else ok "no sanitizer report"; fi

echo "seccomp e2e: $pass passed, $fail failed"
[ $fail = 0 ]
