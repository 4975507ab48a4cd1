#!/usr/bin/env bash
# End-to-end tests of the /proc and /sys emulation through the real parts: a real FUSE mount
# served by eci-procfs-testd (eci::procfs::Manager), real containers run by Debian's runc
# (/usr/sbin/runc) in a user namespace 0->100000 on a busybox-static rootfs, with the spec
# additions and the createRuntime hook eci-runc adds (addProcfsToSpec).
#
# usage: e2e_runc.sh TESTD HOOK SCENARIO
# Every scenario asserts outcomes; anything that cannot run here FAILS (exit 1), never skips.
set -euo pipefail

TESTD=$1
HOOK=$2
SCENARIO=$3
RUNC=${ECI_TEST_RUNC:-/usr/sbin/runc}
HOST_UID=100000

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ $EUID -eq 0 ]] || fail "needs root"
[[ -x $RUNC ]] || fail "runc not found at $RUNC"
[[ -x /bin/busybox ]] || fail "busybox-static not installed (/bin/busybox)"
[[ -c /dev/fuse ]] || fail "/dev/fuse missing"

WORK=$(mktemp -d /tmp/eci-procfs-e2e.XXXXXX)
chmod 755 "$WORK"  # container root (uid 100000) must reach the rootfs
BASE=$WORK/procfs
RUNC_ROOT=$WORK/runc-root
TESTD_PID=
CONTAINERS=()

cleanup() {
  set +e
  for c in "${CONTAINERS[@]}"; do
    "$RUNC" --root "$RUNC_ROOT" kill "$c" KILL >/dev/null 2>&1
    "$RUNC" --root "$RUNC_ROOT" delete -f "$c" >/dev/null 2>&1
  done
  if [[ -n $TESTD_PID ]] && kill -0 "$TESTD_PID" 2>/dev/null; then
    exec 7>&-
    for _ in $(seq 50); do kill -0 "$TESTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$TESTD_PID" 2>/dev/null
  fi
  # Whatever is still mounted under our private base (dead FUSE connections after a kill).
  grep " $BASE/" /proc/self/mountinfo | awk '{print $5}' | while read -r m; do umount -l "$m"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap "exit 1" INT TERM  # so ctest timeouts still run cleanup

# --- the FUSE server -------------------------------------------------------------------------
start_testd() {
  rm -f "$WORK/testd.in"
  mkfifo "$WORK/testd.in"
  # The reply count starts before testd does: its "ready" may come at once (truncating its output
  # after the start lost that line now and then: "did not answer" after 10 s).
  echo 0 >"$WORK/replies"
  "$TESTD" "$BASE" <"$WORK/testd.in" >"$WORK/testd.out" 2>"$WORK/testd.err" &
  TESTD_PID=$!
  exec 7>"$WORK/testd.in"
  wait_reply >/dev/null  # "ready"
}
# Reads the next reply line of testd (with a deadline). The count lives in a file because
# callers run this inside $(...) subshells.
wait_reply() {
  local want
  want=$(($(cat "$WORK/replies") + 1))
  echo "$want" >"$WORK/replies"
  for _ in $(seq 100); do
    local n
    n=$(wc -l <"$WORK/testd.out")
    if ((n >= want)); then
      sed -n "${want}p" "$WORK/testd.out"
      return 0
    fi
    sleep 0.1
  done
  cat "$WORK/testd.err" >&2
  fail "eci-procfs-testd did not answer"
}
testd() {
  echo "$*" >&7
  local r
  r=$(wait_reply)
  [[ $r == ok* ]] || fail "testd '$*': $r"
  echo "${r#ok }"
}

# --- containers ------------------------------------------------------------------------------
make_rootfs() {
  local r=$WORK/rootfs
  [[ -d $r ]] && return 0
  mkdir -p "$r"/{bin,proc,sys,dev,tmp,etc}
  cp /bin/busybox "$r/bin/busybox"
  for a in sh cat echo ls sleep test wc head grep stat tr date seq usleep cut od; do
    ln -sf busybox "$r/bin/$a"
  done
  chown -R "$HOST_UID:$HOST_UID" "$r"
}

# make_bundle NAME CMD... : a bundle for container NAME running CMD under /bin/sh -c.
make_bundle() {
  local name=$1
  shift
  local b=$WORK/bundles/$name
  mkdir -p "$b"
  make_rootfs
  (cd "$b" && "$RUNC" spec)
  jq --arg rootfs "$WORK/rootfs" --arg cmd "$*" --argjson u "$HOST_UID" '
      .root = {path: $rootfs, readonly: true}
    | .process.terminal = false
    | .process.args = ["/bin/sh", "-c", $cmd]
    | .linux.namespaces += [{type: "user"}]
    | .linux.uidMappings = [{containerID: 0, hostID: $u, size: 65536}]
    | .linux.gidMappings = [{containerID: 0, hostID: $u, size: 65536}]
    | .mounts |= map(select(.destination != "/sys/fs/cgroup"))
  ' "$b/config.json" >"$b/config.json.new"
  mv "$b/config.json.new" "$b/config.json"
  "$TESTD" --spec "$b/config.json" "$name" "$BASE" "$HOOK" || fail "spec rewrite for $name"
  echo "$b"
}

# run_container NAME CMD... : runs to completion, prints the container's stdout.
run_container() {
  local name=$1
  shift
  local b
  b=$(make_bundle "$name" "$@")
  CONTAINERS+=("$name")
  "$RUNC" --root "$RUNC_ROOT" run --bundle "$b" "$name" </dev/null 2>"$WORK/$name.err" ||
    fail "runc run $name: $(cat "$WORK/$name.err")"
}

host_sysctls() {
  for f in kernel/panic kernel/panic_on_oops kernel/printk kernel/kptr_restrict \
    kernel/dmesg_restrict kernel/core_pattern fs/nr_open fs/protected_hardlinks \
    fs/protected_symlinks vm/overcommit_memory vm/mmap_min_addr; do
    printf '%s=%s\n' "$f" "$(tr '\t' ' ' </proc/sys/$f)"
  done
}

# Every container's emulation is two FUSE mounts: the static connection at $BASE/<id> and the
# knobs connection on its proc/sys.
fuse_mounts_under_base() { grep -c " $BASE/" /proc/self/mountinfo || true; }

# testd_ops ID CONN OP : how many OP requests connection CONN (static|knobs) of ID has served.
testd_ops() {
  testd status "$1" | jq -r --arg c "$2" --arg op "$3" '.connections[$c].ops[$op]'
}

# --- scenarios -------------------------------------------------------------------------------
scenario_uptime() {
  start_testd
  testd add up1 $HOST_UID $HOST_UID >/dev/null
  local out
  out=$(run_container up1 'cat /proc/uptime; sleep 1.2; cat /proc/uptime')
  echo "container: $out"
  local a b host
  a=$(echo "$out" | sed -n 1p | cut -d' ' -f1)
  b=$(echo "$out" | sed -n 2p | cut -d' ' -f1)
  host=$(cut -d' ' -f1 /proc/uptime)
  [[ $(echo "$out" | sed -n 1p) =~ ^[0-9]+\.[0-9]{2}\ [0-9]+\.[0-9]{2}$ ]] || fail "format: $out"
  awk -v a="$a" 'BEGIN{exit !(a < 10)}' || fail "uptime $a is not small (host $host)"
  awk -v a="$a" -v b="$b" 'BEGIN{exit !(b >= a + 1.0)}' || fail "uptime not increasing: $a -> $b"
  awk -v a="$a" -v h="$host" 'BEGIN{exit !(h > 30 ? a < h - 20 : 1)}' || fail "looks like host"
  echo "PASS uptime: $a -> $b (host $host)"
}

# /proc/uptime is served from the page cache between refreshes (attributes valid 10 ms): reads
# >= 20 ms apart in one container must still see it advance, every read must be a whole line
# (busybox cat = sendfile, the shell's read builtin = read(2) byte by byte), and concurrent
# readers crossing a change of length (9.99 -> 10.00) must never see a cut or padded text.
scenario_uptime_fresh() {
  start_testd
  testd add uf1 $HOST_UID $HOST_UID >/dev/null
  local out
  out=$(run_container uf1 '
    i=0
    while [ $i -lt 40 ]; do
      a=$(cat /proc/uptime); usleep 25000; read -r b < /proc/uptime
      echo "pair $a|$b"
      i=$((i + 1))
    done
    # Two readers until uptime 11 s, across the change of length at 10 s (the container started
    # < 10 s ago). tr keeps the newline visible: a text cut by a stale size loses it.
    for r in 1 2; do
      ( n=0; while [ $n -lt 20000 ]; do
          l=$(cat /proc/uptime | tr "\n" "#")
          case "$l" in
            [0-9]*.[0-9][0-9]\ [0-9]*.[0-9][0-9]#) ;;
            *) echo "torn [$l]";;
          esac
          n=$((n + 1)); [ "${l%%.*}" -ge 11 ] 2>/dev/null && break; done
        echo "reader $r $n $l" ) &
    done
    wait')
  local pairs bad=0
  pairs=$(echo "$out" | grep -c '^pair ')
  ((pairs == 40)) || fail "expected 40 pairs: $out"
  while IFS='|' read -r a b; do
    a=${a#pair }
    [[ $a =~ ^[0-9]+\.[0-9]{2}\ [0-9]+\.[0-9]{2}$ && $b =~ ^[0-9]+\.[0-9]{2}\ [0-9]+\.[0-9]{2}$ ]] ||
      fail "not a whole line: '$a' / '$b'"
    # b is refreshed at its read (nobody else reads meanwhile), >= 25 ms after a was rendered.
    awk -v a="${a%% *}" -v b="${b%% *}" 'BEGIN{exit !(int(b * 100 + 0.5) >= int(a * 100 + 0.5) + 2)}' || {
      echo "did not advance by >= 20 ms: $a -> $b"
      bad=$((bad + 1))
    }
  done < <(echo "$out" | grep '^pair ')
  ((bad == 0)) || fail "$bad of 40 reads 25 ms apart did not advance"
  echo "$out" | grep -q '^torn' && fail "torn reads: $(echo "$out" | grep '^torn' | head -5)"
  [[ $(echo "$out" | grep -c '^reader ') == 2 ]] || fail "readers did not finish: $out"
  echo "$out" | grep '^reader ' | awk '{if ($4 + 0 < 11) exit 1}' ||
    fail "the readers did not get past the 10 s boundary: $(echo "$out" | grep '^reader ')"
  echo "PASS uptime fresh: 40 reads 25 ms apart advanced; whole lines; $(echo "$out" | grep '^reader ' | tr '\n' ' ')"
}

# The static connection (uptime, swaps, ...) must cost no round trip per open+read+close: the
# kernel stops sending OPEN/FLUSH/RELEASE after the first OPEN (answered ENOSYS) and reads come
# from the page cache, refreshed at most every ~10-16 ms by a GETATTR (+ READ).
scenario_no_open_static() {
  start_testd
  testd add no1 $HOST_UID $HOST_UID >/dev/null
  local b
  b=$(make_bundle no1 'cat /proc/uptime /proc/swaps >/dev/null; echo warm;
     while [ ! -e /tmp/go ]; do usleep 20000; done
     t0=$(cut -d" " -f1 /proc/uptime)
     i=0; while [ $i -lt 2000 ]; do read -r l < /proc/uptime; read -r s < /proc/swaps; i=$((i + 1)); done
     echo "done $t0 $l"')
  jq '.mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"]}]' \
    "$b/config.json" >"$b/c.new" && mv "$b/c.new" "$b/config.json"
  CONTAINERS+=(no1)
  "$RUNC" --root "$RUNC_ROOT" run --bundle "$b" no1 </dev/null >"$WORK/no1.out" 2>"$WORK/no1.err" &
  local rpid=$!
  for _ in $(seq 100); do grep -q warm "$WORK/no1.out" && break; sleep 0.1; done
  grep -q warm "$WORK/no1.out" || fail "container did not start: $(cat "$WORK/no1.err")"
  local s0 o0 r0 g0 f0 k0
  s0=$(testd status no1)
  o0=$(jq '.connections.static.ops.open' <<<"$s0")
  r0=$(jq '.connections.static.ops.read' <<<"$s0")
  g0=$(jq '.connections.static.ops.getattr' <<<"$s0")
  f0=$(jq '.connections.static.ops.flush + .connections.static.ops.release' <<<"$s0")
  "$RUNC" --root "$RUNC_ROOT" exec no1 /bin/busybox touch /tmp/go || fail "runc exec"
  wait "$rpid" || fail "container failed: $(cat "$WORK/no1.err")"
  cat "$WORK/no1.out"
  grep -q '^done ' "$WORK/no1.out" || fail "loop did not finish"
  local s1 opens reads getattrs fr
  s1=$(testd status no1)
  echo "static ops: $(jq -c '.connections.static.ops' <<<"$s1")"
  opens=$(($(jq '.connections.static.ops.open' <<<"$s1") - o0))
  reads=$(($(jq '.connections.static.ops.read' <<<"$s1") - r0))
  getattrs=$(($(jq '.connections.static.ops.getattr' <<<"$s1") - g0))
  fr=$(($(jq '.connections.static.ops.flush + .connections.static.ops.release' <<<"$s1") - f0))
  ((o0 <= 1)) || fail "$o0 OPENs during warm-up (expected the one answered ENOSYS)"
  ((opens == 0)) || fail "$opens OPEN requests for 4000 opens after warm-up"
  ((fr == 0)) || fail "$fr FLUSH/RELEASE requests for 4000 closes"
  # 4000 open+read+close: only the periodic uptime refresh may reach us.
  ((reads + getattrs < 400)) || fail "$reads READs + $getattrs GETATTRs for 4000 open+read+close"
  echo "PASS no round trip per open: 4000 open+read+close -> $opens OPEN, $fr FLUSH/RELEASE, $getattrs GETATTR, $reads READ"
}

scenario_swaps() {
  start_testd
  testd add sw1 $HOST_UID $HOST_UID >/dev/null
  local out
  out=$(run_container sw1 'cat /proc/swaps; echo lines=$(wc -l < /proc/swaps)')
  echo "$out"
  echo "$out" | head -1 | grep -q '^Filename' || fail "no header: $out"
  echo "$out" | grep -qx 'lines=1' || fail "swaps has more than the header: $out"
  echo "PASS swaps"
}

scenario_sysctl() {
  start_testd
  local before after
  before=$(host_sysctls)
  testd add sa $HOST_UID $HOST_UID >/dev/null
  testd add sb $HOST_UID $HOST_UID >/dev/null
  local cmd='
    set -e
    echo $1 > /proc/sys/vm/overcommit_memory
    echo $2 > /proc/sys/kernel/panic
    echo $3 > /proc/sys/fs/protected_symlinks
    echo 2 > /proc/sys/kernel/printk
    echo 123456 > /proc/sys/kernel/panic_on_oops; echo 7 > /proc/sys/kernel/panic_on_oops
    echo "poo=[$(cat /proc/sys/kernel/panic_on_oops)]"
    echo "ovc=$(cat /proc/sys/vm/overcommit_memory) panic=$(cat /proc/sys/kernel/panic)"
    echo "sym=$(cat /proc/sys/fs/protected_symlinks) printk=$(cat /proc/sys/kernel/printk | tr "\t" " ")"
    if echo 7 > /proc/sys/vm/overcommit_memory; then echo bad-write-accepted; fi
    echo "after-bad=$(cat /proc/sys/vm/overcommit_memory)"
    if echo 1 > /proc/sys/kernel/sched_child_runs_first 2>/dev/null; then echo unemulated-writable; fi
    if echo 1 > /proc/sys/kernel/threads-max 2>/dev/null; then echo unemulated-writable; fi'
  local oa ob
  oa=$(run_container sa "set -- 1 41 1; $cmd")
  ob=$(run_container sb "set -- 2 42 0; $cmd")
  echo "A: $oa"
  echo "B: $ob"
  echo "$oa" | grep -qx 'ovc=1 panic=41' || fail "A read-back: $oa"
  echo "$oa" | grep -qx 'sym=1 printk=2 4 1 7' || fail "A read-back 2: $oa"
  echo "$ob" | grep -qx 'ovc=2 panic=42' || fail "B read-back: $ob"
  echo "$ob" | grep -qx 'sym=0 printk=2 4 1 7' || fail "B read-back 2: $ob"
  for o in "$oa" "$ob"; do
    echo "$o" | grep -q bad-write-accepted && fail "out-of-range write accepted"
    echo "$o" | grep -q unemulated-writable && fail "a non-emulated knob was writable"
  done
  echo "$oa" | grep -qx 'after-bad=1' || fail "bad write changed the value: $oa"
  for o in "$oa" "$ob"; do
    echo "$o" | grep -qx 'poo=\[7\]' || fail "shorter value not read back exactly: $o"
  done
  after=$(host_sysctls)
  [[ $before == "$after" ]] || fail "host values changed: $(diff <(echo "$before") <(echo "$after"))"
  # The emulated files of A still hold A's values (the FUSE side of container A).
  [[ $(cat "$BASE/sa/proc/sys/vm/overcommit_memory") == 1 ]] || fail "A's state lost"
  [[ $(cat "$BASE/sb/proc/sys/kernel/panic") == 42 ]] || fail "B's state lost"
  echo "PASS sysctl: per-container values, host unchanged"
}

scenario_core_pattern() {
  start_testd
  local before
  before=$(cat /proc/sys/kernel/core_pattern)
  testd add cp1 $HOST_UID $HOST_UID >/dev/null
  local out
  out=$(run_container cp1 'echo "|/tmp/pwn %p" > /proc/sys/kernel/core_pattern && cat /proc/sys/kernel/core_pattern
      echo c > /proc/sys/kernel/core_pattern && cat /proc/sys/kernel/core_pattern | od -An -c')
  echo "container: $out; host: $(cat /proc/sys/kernel/core_pattern)"
  [[ $(echo "$out" | sed -n 1p) == "|/tmp/pwn %p" ]] || fail "container did not read back its core_pattern: $out"
  # A shorter value reads back exactly: no leftover of the longer one (page cache, i_size).
  [[ $(echo "$out" | sed -n 2p | tr -s ' ') == " c \n" ]] || fail "shorter core_pattern: $out"
  [[ $(cat /proc/sys/kernel/core_pattern) == "$before" ]] || fail "HOST core_pattern changed!"
  echo "PASS core_pattern stays in the container"
}

scenario_sys_hidden() {
  start_testd
  testd add sk1 $HOST_UID $HOST_UID >/dev/null
  local out n d
  out=$(run_container sk1 'for d in debug tracing security config; do
      if [ -d /sys/kernel/$d ]; then
        echo "$d=$(ls -A /sys/kernel/$d | wc -l) fs=$(grep " /sys/kernel/$d " /proc/self/mountinfo | sed "s/.* - //" | cut -d" " -f1)"
      fi; done
      ls /sys/kernel | wc -l')
  echo "$out"
  # Each hidden dir must be OUR mount (so nothing the kernel or a later mount shows leaks) and
  # empty; only dirs the host kernel has are covered (runc cannot create dirs in sysfs).
  local covered=0
  for d in debug tracing security config; do
    [[ -d /sys/kernel/$d ]] || continue
    echo "$out" | grep -qx "$d=0 fs=fuse.eci" || fail "/sys/kernel/$d not an empty eci mount: $out"
    covered=$((covered + 1))
  done
  ((covered >= 1)) || fail "host has none of /sys/kernel/{debug,tracing,security,config}"
  n=$(echo "$out" | tail -1)
  ((n > 5)) || fail "the rest of /sys/kernel should be the kernel's ($n entries)"
  echo "PASS /sys/kernel: $covered dirs shown empty through eci mounts, rest untouched"
}

scenario_product_uuid() {
  start_testd
  local d1 d2 u1 u1b u2 mode owner
  d1=$(testd add pu1 $HOST_UID $HOST_UID)
  d2=$(testd add pu2 $HOST_UID $HOST_UID)
  local f=sys/devices/virtual/dmi/id/product_uuid
  u1=$(cat "$d1/$f")
  u1b=$(cat "$d1/$f")
  u2=$(cat "$d2/$f")
  mode=$(stat -c %a "$d1/$f")
  owner=$(stat -c %u "$d1/$f")
  [[ $u1 =~ ^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] || fail "uuid: $u1"
  [[ $u1 == "$u1b" ]] || fail "not stable"
  [[ $u1 != "$u2" ]] || fail "same uuid for two containers"
  [[ $mode == 400 && $owner == "$HOST_UID" ]] || fail "mode $mode owner $owner"
  # Re-created emulation for the same id: same uuid.
  testd remove pu1 >/dev/null
  d1=$(testd add pu1 $HOST_UID $HOST_UID)
  [[ $(cat "$d1/$f") == "$u1" ]] || fail "uuid changed across re-creation"
  if [[ -e /sys/$f ]]; then
    local in
    in=$(run_container pu1 "cat /$f")
    [[ $in == "$u1" ]] || fail "container sees $in, want $u1"
    echo "PASS product_uuid in container: $in"
  else
    # This VM has no DMI: runc cannot bind onto a path sysfs lacks, so no bind is added.
    local b
    b=$(make_bundle pu1x true)
    jq -e '[.mounts[].destination] | index("/sys/devices/virtual/dmi/id/product_uuid") == null' \
      "$b/config.json" >/dev/null || fail "bind added although the host has no DMI"
    echo "PASS product_uuid stable/distinct/0400 on the FUSE side ($u1 / $u2); host has no DMI, no bind"
  fi
}

scenario_kill_server() {
  start_testd
  testd add ks1 $HOST_UID $HOST_UID >/dev/null
  local b
  b=$(make_bundle ks1 'cat /proc/uptime; cat /proc/sys/vm/overcommit_memory;
     while [ ! -e /tmp/go ]; do usleep 50000; done;
     t0=$(date +%s); cat /proc/uptime; echo rc1=$?; cat /proc/sys/kernel/panic; echo rc2=$?;
     ls /sys/kernel/debug; echo rc3=$?; echo secs=$(( $(date +%s) - t0 ))')
  # /tmp is on the read-only rootfs: give the container a tmpfs for the signal file.
  jq '.mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["mode=1777"]}]' \
    "$b/config.json" >"$b/c.new" && mv "$b/c.new" "$b/config.json"
  CONTAINERS+=(ks1)
  "$RUNC" --root "$RUNC_ROOT" run --bundle "$b" ks1 </dev/null >"$WORK/ks1.out" 2>"$WORK/ks1.err" &
  local rpid=$!
  for _ in $(seq 100); do [[ $(wc -l <"$WORK/ks1.out") -ge 2 ]] && break; sleep 0.1; done
  [[ $(wc -l <"$WORK/ks1.out") -ge 2 ]] || fail "container did not start: $(cat "$WORK/ks1.err")"
  kill -9 "$TESTD_PID"
  wait "$TESTD_PID" 2>/dev/null || true
  TESTD_PID=
  "$RUNC" --root "$RUNC_ROOT" exec ks1 /bin/busybox touch /tmp/go || fail "runc exec"
  local start=$SECONDS
  wait "$rpid" || true
  local took=$((SECONDS - start))
  cat "$WORK/ks1.out"
  cat "$WORK/ks1.err"
  ((took <= 5)) || fail "reads after the server died took ${took}s"
  grep -q 'rc1=1' "$WORK/ks1.out" || fail "uptime read did not fail"
  grep -q 'rc2=1' "$WORK/ks1.out" || fail "knob read did not fail"
  grep -q 'rc3=1' "$WORK/ks1.out" || fail "/sys/kernel/debug did not fail"
  grep -q 'not connected' "$WORK/ks1.err" "$WORK/ks1.out" || fail "expected ENOTCONN"
  local host
  host=$(cut -d' ' -f1 /proc/uptime)
  # Only the first line (before the kill) may be an uptime; nothing after it.
  [[ $(grep -cE '^[0-9]+\.[0-9]{2} ' "$WORK/ks1.out") == 1 ]] || fail "a value was served after the kill"
  # A restarted manager cleans the dead mount away.
  start_testd
  [[ $(fuse_mounts_under_base) == 0 ]] || fail "stale mount left after restart"
  echo "PASS dead server: reads fail fast (ENOTCONN, ${took}s), no host values; restart cleans up"
}

scenario_no_leftovers() {
  start_testd
  testd add lo1 $HOST_UID $HOST_UID >/dev/null
  run_container lo1 'cat /proc/uptime >/dev/null' || fail "run failed: $(cat "$WORK/lo1.err")"
  "$RUNC" --root "$RUNC_ROOT" delete -f lo1 2>/dev/null || true
  [[ $(fuse_mounts_under_base) == 2 ]] || fail "expected the two mounts while the container exists"
  testd remove lo1 >/dev/null
  [[ $(fuse_mounts_under_base) == 0 ]] || fail "FUSE mount left after remove"
  [[ ! -e $BASE/lo1 ]] || fail "directory left after remove"
  testd remove lo1 >/dev/null  # idempotent
  echo "PASS no leftover mounts or dirs after delete"
}

scenario_concurrent50() {
  start_testd
  local n=${ECI_TEST_CONTAINERS:-50} i
  local fds0 thr0
  fds0=$(ls /proc/$TESTD_PID/fd | wc -l)
  thr0=$(ls /proc/$TESTD_PID/task | wc -l)
  local before
  before=$(host_sysctls)
  for i in $(seq 1 $n); do testd add cc$i $HOST_UID $HOST_UID >/dev/null; done
  [[ $(fuse_mounts_under_base) == $((2 * n)) ]] || fail "expected $((2 * n)) mounts (2 per container)"
  echo "$(date +%T) $n mounts up" >&2
  for i in $(seq 1 $n); do make_bundle cc$i "echo $((1000 + i)) > /proc/sys/kernel/panic;
      u=\$(cut -d' ' -f1 /proc/uptime); echo panic=\$(cat /proc/sys/kernel/panic) up=\$u" >/dev/null; done
  local pids=()
  for i in $(seq 1 $n); do
    CONTAINERS+=(cc$i)
    "$RUNC" --root "$RUNC_ROOT" run --bundle "$WORK/bundles/cc$i" cc$i </dev/null \
      >"$WORK/cc$i.out" 2>"$WORK/cc$i.err" &
    pids+=($!)
  done
  echo "$(date +%T) started" >&2
  wait "${pids[@]}" || true
  echo "$(date +%T) all exited" >&2
  local bad=0
  for i in $(seq 1 $n); do
    grep -qE "^panic=$((1000 + i)) up=[0-9]" "$WORK/cc$i.out" || {
      echo "cc$i: $(cat "$WORK/cc$i.out" "$WORK/cc$i.err")"
      bad=$((bad + 1))
    }
  done
  ((bad == 0)) || fail "$bad of $n containers answered wrong"
  for i in $(seq 1 $n); do "$RUNC" --root "$RUNC_ROOT" delete -f cc$i 2>/dev/null || true; done
  for i in $(seq 1 $n); do testd remove cc$i >/dev/null; done
  [[ $(fuse_mounts_under_base) == 0 ]] || fail "FUSE mounts left: $(fuse_mounts_under_base)"
  local fds1 thr1
  fds1=$(ls /proc/$TESTD_PID/fd | wc -l)
  thr1=$(ls /proc/$TESTD_PID/task | wc -l)
  [[ $fds1 == "$fds0" && $thr1 == "$thr0" ]] || fail "leak: fds $fds0->$fds1 threads $thr0->$thr1"
  [[ $before == "$(host_sysctls)" ]] || fail "host values changed"
  echo "PASS $n concurrent containers: all answers correct, no leaked fds/threads/mounts"
}

"scenario_$SCENARIO"
