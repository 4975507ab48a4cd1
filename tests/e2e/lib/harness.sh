# shellcheck shell=bash
# eci end-to-end harness: a private eci-enforcerd + containerd + dockerd per test suite, on paths
# under one mktemp dir, so several suites run side by side. Wired as installed (contract 1): the
# daemons find eci-runc as `runc` ($ECI_T/bin/runc -> eci-runc is FIRST in the PATH of containerd
# and dockerd), so dockerd's built-in `runc` runtime, the containerd shim and BuildKit all run
# eci-runc; eci-runc runs the real runc by absolute path (ECI_RUNC_REAL_RUNC). No `eci` runtime
# entry, no default-runtime: `docker info` says runc.
#
# Source it from a bash test script (`set -u` friendly), then:
#   eci_up                 start everything; exports DOCKER_HOST and the variables below;
#                          imports busybox:latest (Debian's busybox-static + /etc/passwd, a file
#                          /home/u1000/owned owned by 1000:1000). Registers eci_down on EXIT.
#   eci_enforcer_up        only ECI_T, the variables and a private eci-enforcerd (no engine).
#   eci_busybox_rootfs [DIR]  a busybox rootfs (default $ECI_T/busybox-root), e.g. for OCI bundles.
#   eci_down               stop everything, remove every mount and dir it made (idempotent).
#   eci_push_policy JSON   sign the policy JSON with the test key (eci-admin policy sign) and push
#                          it (eci-admin policy push); prints the push output, returns its status.
#   eci_enforcer_start / eci_enforcer_stop / eci_enforcer_kill9
#                          (re)start, stop (SIGTERM) or SIGKILL the private eci-enforcerd.
#   eci_enforcer_status    eci-enforcerd's status JSON (eci-admin status --json, if available).
#   eci_guard_start / eci_guard_stop / eci_guard_kill9
#                          (re)start, stop (SIGTERM) or SIGKILL the Engine API guard (eci-apiproxyd): it serves
#                          $ECI_T/docker.sock (DOCKER_HOST) and forwards to dockerd's private
#                          $ECI_DOCKERD_SOCK; per-container sockets under $ECI_GUARD_SOCKET_DIR,
#                          their grant records under $ECI_GUARD_STATE_DIR/grants.
#   eci_leftovers          prints mounts and directories eci left under its run dir (empty = clean).
#   eci_allocation_count   number of uid/gid ranges eci-enforcerd has allocated (from its state).
# Variables: ECI_T (the tmp dir), ECI_DATA_ROOT (dockerd's data-root), ECI_CONTROL_SOCK,
#   ECI_PUSH_SOCK, ECI_STATE_DIR, ECI_RUN_DIR (eci-runc's ID-mapped mounts), ECI_RUNC_LOG
#   (eci-runc's debug log), ECI_RUNC_BIN, ECI_ENFORCERD_BIN, ECI_ADMIN_BIN, ECI_AUDIT_LOG
#   (eci-enforcerd's audit log, $ECI_T/audit/audit.log).
# Binaries: ECI_RUNC_BIN / ECI_ENFORCERD_BIN / ECI_ADMIN_BIN, else found under ECI_BUILD_DIR.
# ECI_REAL_RUNC: the real runc eci-runc calls (default /usr/sbin/runc).
# ECI_HARNESS_PLAIN_RUNC=1 before eci_up (benchmarks, and tests that show what plain runc does):
#   adds a runtime "plain-runc" whose path is the real runc by ABSOLUTE path, i.e. a way around eci
#   on that daemon only; exported as ECI_PLAIN_RUNTIME. Never set it where isolation is tested.
# ECI_HARNESS_NO_RUNC_LOG=1 before eci_up (benchmarks): eci-runc keeps no debug log, as installed.
# ECI_HARNESS_DOCKERD_ARGS before eci_up: more dockerd flags, split on spaces (e.g.
#   "--cgroup-parent /eci-e2e-x": a suite that must find its containers' cgroups, and only them).
#   ECI_DOCKERD_SOCK (dockerd's private socket), ECI_GUARD_SOCKET_DIR, ECI_GUARD_STATE_DIR,
#   ECI_GUARD_LOG;
#   ECI_APIPROXYD_BIN (the guard, found like the other binaries).
#
# Assertions (count into `N passed, N failed`; t_summary's exit status fails the script):
#   t_ok NAME CMD...          CMD succeeds            t_fails NAME CMD...   CMD fails
#   t_eq NAME WANT GOT        t_contains NAME NEEDLE HAYSTACK       t_not_contains ...
#   t_summary                 prints the counts; returns 1 if anything failed or nothing ran

ECI_PASSED=0
ECI_FAILED=0
ECI_FAILED_NAMES=()

t_pass() { ECI_PASSED=$((ECI_PASSED + 1)); echo "ok   - $1"; }
t_fail() {
  ECI_FAILED=$((ECI_FAILED + 1))
  ECI_FAILED_NAMES+=("$1")
  echo "FAIL - $1${2:+: $2}"
}
t_ok() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then t_pass "$name"; else t_fail "$name" "command failed: $* -> ${out:0:600}"; fi
}
t_fails() {
  local name=$1
  shift
  local out
  if out=$("$@" 2>&1); then t_fail "$name" "command succeeded: $* -> ${out:0:600}"; else t_pass "$name"; fi
}
t_eq() {
  if [[ "$2" == "$3" ]]; then t_pass "$1"; else t_fail "$1" "want [$2] got [${3:0:600}]"; fi
}
t_contains() {
  if [[ "$3" == *"$2"* ]]; then t_pass "$1"; else t_fail "$1" "[${3:0:800}] lacks [$2]"; fi
}
t_not_contains() {
  if [[ "$3" != *"$2"* ]]; then t_pass "$1"; else t_fail "$1" "[${3:0:800}] contains [$2]"; fi
}
t_summary() {
  echo "${ECI_PASSED} passed, ${ECI_FAILED} failed"
  local n
  for n in "${ECI_FAILED_NAMES[@]}"; do echo "  failed: $n"; done
  [[ $ECI_FAILED -eq 0 && $ECI_PASSED -gt 0 ]]
}

_eci_find_bin() {  # VAR NAME
  local var=$1 name=$2 found=""
  if [[ -n "${!var:-}" ]]; then return 0; fi
  if [[ -n "${ECI_BUILD_DIR:-}" ]]; then
    # Not the package's staging copies (CPack's tree, the boot test's cache): they are whatever
    # the last package build held, not this build.
    found=$(find "$ECI_BUILD_DIR" \( -name _CPack_Packages -o -name packaging-cache \) -prune \
      -o -type f -name "$name" -perm -u+x -print 2>/dev/null | head -n1)
  fi
  [[ -n "$found" ]] || found=$(command -v "$name" || true)
  printf -v "$var" '%s' "$found"
  export "${var?}"
}

_eci_wait_for() {  # SECONDS CMD...
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Starts CMD... in the background (its pid into the variable PIDVAR), waits until SOCKET is
# there, and shows the end of LOG if it does not come.
_eci_daemon_start() {  # NAME PIDVAR SOCKET LOG CMD...
  local name=$1 pidvar=$2 sock=$3 log=$4
  shift 4
  [[ -x "$1" ]] || { echo "harness: $name not found" >&2; return 1; }
  rm -f "$sock"
  "$@" >>"$log" 2>&1 &
  printf -v "$pidvar" '%s' "$!"
  _eci_wait_for 20 test -S "$sock" || {
    echo "harness: $name did not start:" >&2
    tail -n 20 "$log" >&2
    return 1
  }
}

_eci_daemon_stop() {  # PIDVAR [SIGNAL]
  local pidvar=$1 sig=${2:-TERM}
  if [[ -n "${!pidvar:-}" ]]; then
    kill -"$sig" "${!pidvar}" 2>/dev/null || true
    wait "${!pidvar}" 2>/dev/null || true
    printf -v "$pidvar" '%s' ""
  fi
}

eci_enforcer_start() {
  rm -f "$ECI_PUSH_SOCK"
  _eci_daemon_start eci-enforcerd ECI_ENFORCERD_PID "$ECI_CONTROL_SOCK" "$ECI_T/enforcerd.log" \
    "${ECI_ENFORCERD_BIN:-}" --control-socket "$ECI_CONTROL_SOCK" --push-socket "$ECI_PUSH_SOCK" \
    --state-dir "$ECI_STATE_DIR" --trusted-keys "$ECI_T/trusted-keys" \
    --engine-data-root "$ECI_DATA_ROOT" --audit-log "$ECI_AUDIT_LOG"
}

eci_enforcer_stop() { _eci_daemon_stop ECI_ENFORCERD_PID; }
eci_enforcer_kill9() { _eci_daemon_stop ECI_ENFORCERD_PID KILL; }

eci_guard_start() {
  _eci_daemon_start eci-apiproxyd ECI_GUARD_PID "$ECI_T/docker.sock" "$ECI_GUARD_LOG" \
    "${ECI_APIPROXYD_BIN:-}" --listen "$ECI_T/docker.sock" --socket-mode 0660 --socket-group 0 \
    --upstream "$ECI_DOCKERD_SOCK" --control-socket "$ECI_CONTROL_SOCK" \
    --socket-dir "$ECI_GUARD_SOCKET_DIR" --state-dir "$ECI_GUARD_STATE_DIR" \
    --protect-socket "$ECI_T/containerd.sock" --protect-socket "$ECI_T/containerd.sock.ttrpc"
}

eci_guard_stop() { _eci_daemon_stop ECI_GUARD_PID; }
eci_guard_kill9() { _eci_daemon_stop ECI_GUARD_PID KILL; }

eci_enforcer_status() {
  "$ECI_ADMIN_BIN" status --control-socket "$ECI_CONTROL_SOCK" --format json
}

eci_push_policy() {  # JSON
  [[ -x "${ECI_ADMIN_BIN:-}" ]] || { echo "harness: eci-admin not found" >&2; return 1; }
  # The serial must only grow; kept in a file because callers often run this in a subshell.
  local serial
  serial=$(($(cat "$ECI_T/serial" 2>/dev/null || echo 0) + 1))
  echo "$serial" >"$ECI_T/serial"
  ECI_SERIAL=$serial
  printf '%s\n' "$1" >"$ECI_T/policy.json"
  "$ECI_ADMIN_BIN" policy sign --key "$ECI_T/keys/eci-policy.key" --serial "$ECI_SERIAL" \
    --policy "$ECI_T/policy.json" -o "$ECI_T/policy.bundle" || return 1
  "$ECI_ADMIN_BIN" policy push --push-socket "$ECI_PUSH_SOCK" "$ECI_T/policy.bundle"
}

# A busybox rootfs (Debian's busybox-static) at DIR (default $ECI_T/busybox-root).
eci_busybox_rootfs() {
  local root=${1:-$ECI_T/busybox-root} bb
  bb=$(command -v busybox)
  [[ -n "$bb" ]] && file -L "$bb" 2>/dev/null | grep -q "statically linked" || bb=/bin/busybox
  mkdir -p "$root"/{bin,etc,tmp,root,home/u1000,proc,sys,dev}
  cp "$bb" "$root/bin/busybox"
  local applet
  for applet in $("$root/bin/busybox" --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nu1000:x:1000:1000::/home/u1000:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nu1000:x:1000:\nnogroup:x:65534:\n' >"$root/etc/group"
  chmod 1777 "$root/tmp"
  echo owned >"$root/home/u1000/owned"
  chown -R 1000:1000 "$root/home/u1000"
}

_eci_make_busybox() {
  local root="$ECI_T/busybox-root"
  eci_busybox_rootfs "$root"
  tar -C "$root" --numeric-owner -cf "$ECI_T/busybox.tar" .
  docker import "$ECI_T/busybox.tar" busybox:latest >/dev/null
}

# eci_up's first half: ECI_T, the variables and keys, and a private eci-enforcerd (no engine).
eci_enforcer_up() {
  set +e
  _eci_find_bin ECI_RUNC_BIN eci-runc
  _eci_find_bin ECI_ENFORCERD_BIN eci-enforcerd
  _eci_find_bin ECI_ADMIN_BIN eci-admin
  _eci_find_bin ECI_APIPROXYD_BIN eci-apiproxyd
  [[ -x "$ECI_RUNC_BIN" ]] || { echo "harness: eci-runc not found (ECI_BUILD_DIR?)" >&2; return 1; }
  ECI_T=$(mktemp -d /tmp/eci-e2e.XXXXXX)
  # runc's init walks ECI_RUN_DIR as root of the container's user namespace: needs o+x.
  chmod 0711 "$ECI_T"
  export ECI_T
  export ECI_DATA_ROOT="$ECI_T/docker" ECI_CONTROL_SOCK="$ECI_T/eci/enforcer.sock"
  export ECI_PUSH_SOCK="$ECI_T/eci/push.sock" ECI_STATE_DIR="$ECI_T/eci-state"
  export ECI_AUDIT_LOG="$ECI_T/audit/audit.log"
  export ECI_RUN_DIR="$ECI_T/eci-runc" ECI_RUNC_LOG="$ECI_T/eci-runc.log"
  export ECI_DOCKERD_SOCK="$ECI_T/dockerd.sock" ECI_GUARD_SOCKET_DIR="$ECI_T/apiproxy/sockets"
  export ECI_GUARD_STATE_DIR="$ECI_T/apiproxy-state"
  export ECI_GUARD_LOG="$ECI_T/apiproxyd.log"
  mkdir -p "$ECI_T/trusted-keys" "$ECI_T/keys" "$ECI_T/containerd" "$ECI_T/exec"
  trap eci_down EXIT

  if [[ -x "${ECI_ADMIN_BIN:-}" ]]; then
    "$ECI_ADMIN_BIN" keygen --out "$ECI_T/keys" >/dev/null 2>&1 &&
      cp "$ECI_T/keys/eci-policy.pub" "$ECI_T/trusted-keys/test.pub"
  fi
  eci_enforcer_start || return 1
}

eci_up() {
  eci_enforcer_up || return 1

  # containerd: private root, state and sockets; only what dockerd needs.
  cat >"$ECI_T/containerd/config.toml" <<EOF
version = 2
root = "$ECI_T/containerd/root"
state = "$ECI_T/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ECI_T/containerd.sock"
[ttrpc]
  address = "$ECI_T/containerd.sock.ttrpc"
[debug]
  address = "$ECI_T/containerd-debug.sock"
EOF
  # The engine finds eci-runc as `runc`: a directory holding runc -> eci-runc goes FIRST in the
  # PATH of containerd (its shim resolves the runtime binary "runc" through the PATH it inherits)
  # and of dockerd (BuildKit runs `runc` itself, from dockerd's PATH). eci-runc's settings reach it
  # through the same environment (ECI_RUNC_*), set on both daemons; a real runc by absolute path.
  # Absolute: a relative ECI_BUILD_DIR would leave a dangling link, and a PATH lookup skips it
  # and finds the real runc further down (fail open). Refuse to start unless it resolves.
  ECI_RUNC_BIN=$(readlink -f "$ECI_RUNC_BIN")
  mkdir -p "$ECI_T/bin"
  ln -sf "$ECI_RUNC_BIN" "$ECI_T/bin/runc"
  [[ -x "$ECI_T/bin/runc" ]] || { echo "harness: $ECI_T/bin/runc does not resolve" >&2; return 1; }
  export ECI_REAL_RUNC=${ECI_REAL_RUNC:-/usr/sbin/runc}
  local eci_env=(PATH="$ECI_T/bin:$PATH" ECI_RUNC_REAL_RUNC="$ECI_REAL_RUNC"
    ECI_RUNC_ENFORCER_SOCKET="$ECI_CONTROL_SOCK" ECI_RUNC_RUN_DIR="$ECI_RUN_DIR"
    # Every engine socket and state dir of this private engine: they live under /tmp, a shared
    # directory, where the built-in list (/run/containerd, /var/lib/containerd...) does not reach.
    ECI_RUNC_RESTRICT="$ECI_T/docker.sock:$ECI_DOCKERD_SOCK:$ECI_T/eci:$ECI_T/containerd.sock:$ECI_T/containerd.sock.ttrpc:$ECI_T/containerd-debug.sock:$ECI_T/containerd:$ECI_T/exec"
    ECI_RUNC_GUARD_SOCKET_DIR="$ECI_GUARD_SOCKET_DIR")
  # Benchmarks measure eci as installed, which keeps no debug log.
  [[ "${ECI_HARNESS_NO_RUNC_LOG:-}" == 1 ]] || eci_env+=(ECI_RUNC_DEBUG_LOG="$ECI_RUNC_LOG")
  env "${eci_env[@]}" \
    containerd --config "$ECI_T/containerd/config.toml" >>"$ECI_T/containerd.log" 2>&1 &
  ECI_CONTAINERD_PID=$!
  _eci_wait_for 30 test -S "$ECI_T/containerd.sock" || {
    echo "harness: containerd did not start" >&2; tail -n 20 "$ECI_T/containerd.log" >&2; return 1; }

  # dockerd: no runtime entries of its own (its built-in "runc" IS eci-runc through PATH). Only
  # when asked (benchmarks), "plain-runc" reaches the real runc by absolute path.
  local bridge="eci${ECI_T##*.}" net=$((RANDOM % 200 + 20)).$((RANDOM % 250))
  bridge=${bridge:0:15}
  # BuildKit's host-network and insecure entitlements off, as installers/configure-docker.sh sets.
  local builder='{"builder": {"entitlements": {"network-host": false, "security-insecure": false}}}'
  if [[ "${ECI_HARNESS_PLAIN_RUNC:-}" == 1 ]]; then
    export ECI_PLAIN_RUNTIME=plain-runc
    jq -n --arg runc "$ECI_REAL_RUNC" --argjson b "$builder" \
      '$b + {"runtimes": {"plain-runc": {"path": $runc}}}' >"$ECI_T/daemon.json"
  else
    echo "$builder" >"$ECI_T/daemon.json"
  fi
  # dockerd warns on every bridge-network run while the host does not forward IPv4 ("Networking
  # will not work"), and tests compare that output: forward while the harness runs, restore after.
  ECI_IP_FORWARD_WAS=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || true)
  [[ "$ECI_IP_FORWARD_WAS" == 0 ]] && echo 1 >/proc/sys/net/ipv4/ip_forward
  local netargs=(--bridge none)
  if ip link add "$bridge" type bridge 2>/dev/null && ip addr add "10.$net.1/24" dev "$bridge" &&
    ip link set "$bridge" up; then
    ECI_BRIDGE=$bridge
    netargs=(--bridge "$bridge")
  fi
  # shellcheck disable=SC2086 # ECI_HARNESS_DOCKERD_ARGS is a list of flags: split on purpose
  env "${eci_env[@]}" dockerd --config-file "$ECI_T/daemon.json" --data-root "$ECI_DATA_ROOT" \
    --exec-root "$ECI_T/exec" --host "unix://$ECI_DOCKERD_SOCK" --pidfile "$ECI_T/docker.pid" \
    --containerd "$ECI_T/containerd.sock" "${netargs[@]}" --iptables=false --ip-masq=false \
    --ip-forward=false --userland-proxy=false --storage-driver overlay2 \
    ${ECI_HARNESS_DOCKERD_ARGS:-} >>"$ECI_T/dockerd.log" 2>&1 &
  ECI_DOCKERD_PID=$!
  # Clients reach dockerd only through the guard (CONTRACTS.md 2).
  _eci_wait_for 60 test -S "$ECI_DOCKERD_SOCK"
  eci_guard_start || return 1
  export DOCKER_HOST="unix://$ECI_T/docker.sock"
  _eci_wait_for 60 docker version || {
    echo "harness: dockerd did not start" >&2; tail -n 30 "$ECI_T/dockerd.log" >&2; return 1; }
  _eci_make_busybox || { echo "harness: busybox import failed" >&2; return 1; }
  return 0
}

eci_leftovers() {
  [[ -n "${ECI_RUN_DIR:-}" ]] || return 0
  grep -F " $ECI_RUN_DIR/" /proc/self/mountinfo | awk '{print "mount: " $5}'
  if [[ -d "$ECI_RUN_DIR" ]]; then
    find "$ECI_RUN_DIR" -mindepth 1 -maxdepth 1 -printf 'dir: %p\n'
  fi
}

eci_allocation_count() {
  local f="$ECI_STATE_DIR/allocations.json"
  [[ -s "$f" ]] || { echo 0; return; }
  jq '[.. | objects | select(has("start") and has("id"))] | length' "$f"
}

_eci_umount_under() {
  local dir=$1 m
  [[ -n "$dir" ]] || return 0
  # deepest first
  for m in $(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo |
    awk '{print length, $0}' | sort -rn | cut -d' ' -f2-); do
    umount -l "$m" 2>/dev/null || true
  done
}

eci_down() {
  trap - EXIT
  [[ -n "${ECI_T:-}" && -d "$ECI_T" ]] || return 0
  if [[ -n "${ECI_DOCKERD_PID:-}" ]]; then
    local ids
    ids=$(docker ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -z "$ids" ]] || docker rm -f $ids >/dev/null 2>&1
    kill "$ECI_DOCKERD_PID" 2>/dev/null
    wait "$ECI_DOCKERD_PID" 2>/dev/null
    ECI_DOCKERD_PID=""
  fi
  eci_guard_stop
  if [[ -n "${ECI_CONTAINERD_PID:-}" ]]; then
    kill "$ECI_CONTAINERD_PID" 2>/dev/null
    wait "$ECI_CONTAINERD_PID" 2>/dev/null
    ECI_CONTAINERD_PID=""
  fi
  # shims of this containerd (they outlive it by design)
  local p
  for p in $(pgrep -f "containerd-shim.*-address $ECI_T/containerd.sock" 2>/dev/null); do
    kill -9 "$p" 2>/dev/null
  done
  eci_enforcer_stop
  # Any eci-enforcerd of this run the pid variable lost (one started in a subshell).
  pkill -f -- "--control-socket $ECI_CONTROL_SOCK" 2>/dev/null
  # eci-enforcerd's fd holder outlives it by design (it keeps the containers' seccomp fds across
  # restarts); this run's is the one whose pid file is under $ECI_T and whose argv names it.
  local holder
  holder=$(cat "$(dirname "$ECI_CONTROL_SOCK")/fdholder.sock.pid" 2>/dev/null)
  if [[ -n "$holder" ]] && tr '\0' ' ' <"/proc/$holder/cmdline" 2>/dev/null |
    grep -qF -- "--eci-fd-holder $(dirname "$ECI_CONTROL_SOCK")/fdholder.sock"; then
    kill "$holder" 2>/dev/null
  fi
  [[ -n "${ECI_BRIDGE:-}" ]] && ip link del "$ECI_BRIDGE" 2>/dev/null
  [[ "${ECI_IP_FORWARD_WAS:-}" == 0 ]] && echo 0 >/proc/sys/net/ipv4/ip_forward
  _eci_umount_under "$ECI_T"
  rm -rf "$ECI_T" 2>/dev/null || { sleep 1; _eci_umount_under "$ECI_T"; rm -rf "$ECI_T"; }
  ECI_T=""
}
