#!/usr/bin/env bash
# /proc and /sys emulation through a real dockerd + containerd + eci-runc + eci-enforcerd (the
# procfs module), with and without --privileged, against plain runc on the same daemon.
#   e2e_docker.sh   (ECI_BUILD_DIR = the build dir; needs root)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../../tests/e2e/lib/harness.sh"
# `--runtime runc` is eci too; plain runc for the comparison is reached by absolute path.
export ECI_HARNESS_PLAIN_RUNC=1
eci_up >/dev/null || { echo "e2e_docker.sh: engine did not start" >&2; exit 1; }

base="$(dirname "$ECI_CONTROL_SOCK")/procfs"

# uptime_pair_ok TEXT: two whole /proc/uptime lines, the second one later.
uptime_pair_ok() {
  local re='^([0-9]+)\.([0-9]{2}) [0-9]+\.[0-9]{2}$' a b
  { IFS= read -r a && IFS= read -r b; } <<<"$1" || return 1
  [[ $a =~ $re ]] || return 1
  a=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
  [[ $b =~ $re ]] || return 1
  b=$((10#${BASH_REMATCH[1]}${BASH_REMATCH[2]}))
  ((b > a))
}
host_before=$(for f in kernel/core_pattern vm/overcommit_memory kernel/panic fs/protected_symlinks; do
  echo "$f=$(cat /proc/sys/$f)"; done)

for priv in "" "--privileged"; do
  tag=${priv:-default}
  up=$(docker run --rm $priv busybox cut -d' ' -f1 /proc/uptime 2>&1)
  host=$(cut -d' ' -f1 /proc/uptime)
  t_ok "$tag: /proc/uptime is a number ($up)" awk -v u="$up" 'BEGIN{exit !(u ~ /^[0-9]+\.[0-9][0-9]$/)}'
  t_ok "$tag: /proc/uptime small ($up s, host $host s)" awk -v u="$up" 'BEGIN{exit !(u < 30)}'
  # Served from the page cache between 10 ms refreshes: it must still advance within one
  # container, and cat (sendfile) must print whole lines.
  two=$(docker run --rm $priv busybox sh -c 'cat /proc/uptime; usleep 30000; cat /proc/uptime' 2>&1)
  t_ok "$tag: /proc/uptime whole lines, advancing 30 ms later ($(echo $two))" uptime_pair_ok "$two"
  t_eq "$tag: /proc/swaps header only" 1 "$(docker run --rm $priv busybox sh -c 'wc -l < /proc/swaps' 2>&1)"
  out=$(docker run --rm $priv busybox sh -c 'echo 1 > /proc/sys/vm/overcommit_memory &&
      echo 77 > /proc/sys/kernel/panic && echo "|/bin/pwn %p" > /proc/sys/kernel/core_pattern &&
      cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/core_pattern' 2>&1)
  t_eq "$tag: sysctl writes read back in the container" $'1\n77\n|/bin/pwn %p' "$out"
  t_eq "$tag: /sys/kernel/security empty" "" "$(docker run --rm $priv busybox ls -A /sys/kernel/security 2>&1)"
  t_eq "$tag: /sys/kernel/debug empty" "" "$(docker run --rm $priv busybox ls -A /sys/kernel/debug 2>&1)"
  t_contains "$tag: emulation is a FUSE mount" "fuse.eci" \
    "$(docker run --rm $priv busybox grep ' /proc/uptime ' /proc/self/mountinfo 2>&1)"
done

host_after=$(for f in kernel/core_pattern vm/overcommit_memory kernel/panic fs/protected_symlinks; do
  echo "$f=$(cat /proc/sys/$f)"; done)
t_eq "host sysctls unchanged (core_pattern among them)" "$host_before" "$host_after"

# Plain runc on the same daemon sees the host's uptime: the emulation is what changes it.
# plain runc by absolute path, through dockerd's private socket (the guard would force the
# default runtime on the public one).
rup=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker run --rm --runtime "$ECI_PLAIN_RUNTIME" busybox cut -d' ' -f1 /proc/uptime 2>&1)
t_ok "runc (no eci) shows host uptime ($rup)" awk -v u="$rup" -v h="$(cut -d' ' -f1 /proc/uptime)" \
  'BEGIN{exit !(u > h - 5)}'

# Removed containers leave no emulation mounts behind; a running one has exactly two (the static
# connection and the knobs connection on its proc/sys).
t_eq "no FUSE mounts left after --rm" 0 "$(grep -c " $base/" /proc/self/mountinfo)"
cid=$(docker run -d busybox sleep 60)
t_eq "two FUSE mounts per running container" 2 "$(grep -c " $base/" /proc/self/mountinfo)"
docker rm -f "$cid" >/dev/null
sleep 1
t_eq "mount gone after docker rm -f" 0 "$(grep -c " $base/" /proc/self/mountinfo)"
# eci-runc binds the /proc/sys knobs after `runc create`. If it cannot, the container must never
# start and nothing may be left: here the knobs' FUSE connection of the next container is aborted
# (fusectl) as soon as eci-enforcerd has mounted it, well before runc has created the container.
fusectl=/sys/fs/fuse/connections
mountpoint -q "$fusectl" || mount -t fusectl none "$fusectl"
(for _ in $(seq 1000); do
  dev=$(awk -v b="$base/" 'index($5, b) == 1 && $5 ~ /\/proc\/sys$/ {print $3; exit}' /proc/self/mountinfo)
  if [[ -n $dev ]]; then echo 1 >"$fusectl/${dev#0:}/abort" && echo aborted; exit 0; fi
  sleep 0.01
done) >"$ECI_T/abort.out" 2>&1 &
watcher=$!
out=$(docker run --rm --name knobfail busybox echo container-ran 2>&1)
rc=$?
wait "$watcher"
t_eq "the knobs' connection was aborted during the create" "aborted" "$(cat "$ECI_T/abort.out")"
t_ok "the start fails when the knobs cannot be bound (rc $rc)" test "$rc" -ne 0
t_not_contains "the container never ran" "container-ran" "$out"
t_contains "the error says why" "binding the /proc/sys knobs" "$out"
t_eq "no container left" "" "$(docker ps -aq --filter name=knobfail)"
t_eq "no FUSE mounts left" 0 "$(grep -c " $base/" /proc/self/mountinfo)"
t_eq "no ID-mapped mounts or dirs left" "" "$(eci_leftovers)"
t_eq "no range left" 0 "$(eci_allocation_count)"
t_eq "the next container starts" "ok" "$(docker run --rm busybox echo ok 2>&1)"
# `runc run` (runc starts the container itself, eci-runc has no moment between create and start):
# runc's createRuntime hook, eci-procfs-hook, binds the knobs instead.
b=$ECI_T/run-bundle
mkdir -p "$b/rootfs"
tmp=$(docker create busybox true)
docker export "$tmp" | tar -x -C "$b/rootfs"
docker rm "$tmp" >/dev/null
(cd "$b" && runc spec)
jq '.process.terminal = false | .process.args = ["sh", "-c",
  "grep -q \" /proc/sys/kernel/panic .* - fuse.eci \" /proc/self/mountinfo && echo bound; echo 9 >/proc/sys/kernel/panic; cat /proc/sys/kernel/panic"]' \
  "$b/config.json" >"$b/config.new" && mv "$b/config.new" "$b/config.json"
panic_before=$(cat /proc/sys/kernel/panic)
out=$(ECI_RUNC_ENFORCER_SOCKET="$ECI_CONTROL_SOCK" ECI_RUNC_RUN_DIR="$ECI_RUN_DIR" \
  "$ECI_RUNC_BIN" --root "$ECI_T/runc-root" run --bundle "$b" eci-run-1 </dev/null 2>&1)
t_eq "runc run: the hook bound the knob, which is the container's own" $'bound\n9' "$out"
t_eq "runc run: host kernel.panic unchanged" "$panic_before" "$(cat /proc/sys/kernel/panic)"
t_eq "runc run: nothing left after the run" "" "$(eci_leftovers)"
t_eq "runc run: no FUSE mounts left" 0 "$(grep -c " $base/" /proc/self/mountinfo)"
t_summary
