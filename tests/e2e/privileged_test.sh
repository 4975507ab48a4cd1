#!/usr/bin/env bash
# `--privileged` under eci through a real dockerd: it starts (plain runc can't start one on this
# VM), but its capabilities only reach its own namespaces, Docker's masked/read-only /proc and /sys
# paths are back, no host devices; each attack is shown to run and the host to be unchanged.
# Then a verified ECI-off policy: containers run as runc would (0 0 4294967295).
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
# `--runtime runc` is eci too; the plain-runc comparison needs the real runc by absolute path.
export ECI_HARNESS_PLAIN_RUNC=1
eci_up || { echo "FAIL - harness did not start"; exit 1; }

trim() { tr -s ' ' | sed 's/^ //'; }

t_fails "plain runc cannot start --privileged here (the VM lacks CAP_SYS_RESOURCE)" \
  env DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker run --rm --runtime "$ECI_PLAIN_RUNTIME" \
    --privileged busybox true

docker run -d --privileged --name priv busybox sleep 1000 >/dev/null
t_eq "--privileged container runs" "true" "$(docker inspect -f '{{.State.Running}}' priv)"
t_eq "--privileged container is in its own user namespace" "0 100000 65536" \
  "$(docker exec priv cat /proc/self/uid_map | trim)"
capeff=$(docker exec priv grep CapEff /proc/1/status | awk '{print $2}')
t_eq "CAP_SYS_ADMIN in its (userns-relative) effective set" "1" "$(( (0x$capeff >> 21) & 1 ))"
t_eq "CAP_SYS_RESOURCE (which the machine lacks) dropped" "0" "$(( (0x$capeff >> 24) & 1 ))"
t_contains "the drop is noted in eci-runc's log" "dropped: CAP_SYS_RESOURCE" "$(cat "$ECI_RUNC_LOG")"
pid=$(docker inspect -f '{{.State.Pid}}' priv)
t_eq "its init is host uid 100000" "100000" "$(stat -c %u "/proc/$pid")"

# masked paths (read as empty) and read-only paths are back
for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug; do
  t_eq "$p masked" "0" "$(docker exec priv sh -c "cat $p 2>/dev/null | wc -c")"
done
t_eq "/sys/firmware masked" "" "$(docker exec priv ls -A /sys/firmware 2>/dev/null)"
mi=$(docker exec priv cat /proc/self/mountinfo)
for p in /proc/bus /proc/fs /proc/irq /proc/sys; do
  t_eq "$p mounted read-only" "ro" "$(awk -v p="$p" '$5 == p {print $6}' <<<"$mi" | tail -n1 | cut -d, -f1)"
done
if [[ -e /proc/sysrq-trigger ]]; then
  err=$(docker exec priv sh -c 'echo h > /proc/sysrq-trigger' 2>&1)
  t_contains "/proc/sysrq-trigger read-only" "Read-only file system" "$err"
else
  # This kernel has no sysrq; the path is still in the spec's readonlyPaths (unit-tested).
  t_fails "/proc/sysrq-trigger absent in the container as on the host" docker exec priv test -e /proc/sysrq-trigger
fi
err=$(docker exec priv sh -c 'echo evil > /proc/sys/kernel/hostname' 2>&1)
t_contains "/proc/sys read-only (kernel.hostname)" "Read-only file system" "$err"

# kernel-global knobs: the write is attempted and the host value stays
core_before=$(cat /proc/sys/kernel/core_pattern)
# The write is refused, or (with the /proc/sys emulation of enforcer/procfs) kept in the
# container's own view; either way the host's value must not change.
docker exec priv sh -c 'echo "|/tmp/evil %p" > /proc/sys/kernel/core_pattern' >/dev/null 2>&1
docker exec priv sh -c \
  'mount -o remount,rw /proc/sys 2>/dev/null; echo "|/tmp/evil2 %p" > /proc/sys/kernel/core_pattern' >/dev/null 2>&1
t_ok "the core_pattern attack ran (container alive afterwards)" docker exec priv true
t_eq "host core_pattern unchanged" "$core_before" "$(cat /proc/sys/kernel/core_pattern)"

# no host devices
host_devs=$(ls /dev | grep -cE '^(mem|kmsg|vda|sda|nvme0n1|port|autofs|loop0|fuse)$')
t_ok "the host has devices to steal" test "$host_devs" -gt 0
t_eq "no host devices in /dev" "" \
  "$(docker exec priv sh -c 'ls /dev | grep -E "^(mem|kmsg|vda|sda|nvme0n1|port|autofs|loop0|fuse)$"')"
t_fails "mknod of a host block device fails" docker exec priv mknod /tmp/disk b 8 0
t_fails "mknod /dev/mem fails" docker exec priv sh -c 'mknod /tmp/mem c 1 1 && head -c1 /tmp/mem'

# CAP_NET_ADMIN reaches the container's own netns only
link="eciv$$"
t_ok "ip link add works in its own netns" docker exec priv ip link add "$link" type veth peer name "${link}p"
t_ok "the link is in the container" docker exec priv ip link show "$link"
t_fails "the link is not on the host" ip link show "$link"
t_ok "hostname change works in its own uts ns" docker exec priv hostname eci-changed
t_eq "host hostname unchanged" "$(hostname)" "$(hostname)"
t_not_contains "host hostname is not the container's" "eci-changed" "$(hostname)"

# docker exec joins the same user namespace
t_eq "docker exec joins the privileged container's userns" \
  "$(readlink "/proc/$pid/ns/user")" "$(docker exec priv readlink /proc/self/ns/user)"
docker rm -f priv >/dev/null

# non-privileged containers: no CAP_NET_ADMIN at all
t_fails "unprivileged: ip link add refused" docker run --rm busybox ip link add x type veth peer name y

# ping_group_range fix-up: Docker asks for 0 2147483647, the container gets its mapped ids
t_eq "ping_group_range clamped to the mapped range" "0 65535" \
  "$(docker run --rm busybox cat /proc/sys/net/ipv4/ping_group_range | tr -s ' \t' ' ')"

# --- cgroup delegation: a --privileged container owns its own cgroups, not its limits ---------
# (what an inner dockerd/containerd needs: `mkdir /sys/fs/cgroup/<ctrl>/docker`). The directory and
# the process files are its root's; its own limits stay root's, so --memory set from outside holds.
cid=$(docker run -d --privileged --memory 64m busybox sleep 300)
hostmem=$(awk -F: '$2 == "memory" {print $3}' "/proc/$(docker inspect -f '{{.State.Pid}}' "$cid")/cgroup")
hostdir=/sys/fs/cgroup/memory$hostmem
out=$(docker exec "$cid" sh -c '
  mkdir /sys/fs/cgroup/memory/inner && echo mkdir=ok
  echo 33554432 > /sys/fs/cgroup/memory/inner/memory.limit_in_bytes && echo childlimit=ok
  echo $$ > /sys/fs/cgroup/memory/inner/cgroup.procs && echo moved=ok
  grep ":memory:" /proc/self/cgroup
  echo 1073741824 > /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; echo ownlimit=$?
  mkdir /sys/fs/cgroup/pids/inner && echo pids=ok
  echo $$ > /sys/fs/cgroup/memory/cgroup.procs; rmdir /sys/fs/cgroup/memory/inner && echo rmdir=ok' 2>&1)
t_contains "delegation: the container makes a child cgroup" "mkdir=ok" "$out"
t_contains "  ... sets the child's limit" "childlimit=ok" "$out"
t_contains "  ... moves itself into it" "moved=ok" "$out"
t_contains "  ... and sees itself there" ":memory:/inner" "$out"
t_contains "  ... in every hierarchy (pids)" "pids=ok" "$out"
t_contains "  ... and removes it again" "rmdir=ok" "$out"
t_contains "  ... but cannot raise its own limit" "ownlimit=1" "$out"
t_eq "  ... the limit set from outside holds on the host" "67108864" \
  "$(cat "$hostdir/memory.limit_in_bytes" 2>&1)"
t_eq "  ... its limit file stays root's on the host" "0" "$(stat -c %u "$hostdir/memory.limit_in_bytes")"
t_eq "  ... its directory is its root's on the host" \
  "$(docker exec "$cid" cat /proc/self/uid_map | awk '{print $2}')" "$(stat -c %u "$hostdir" 2>&1)"
t_eq "  ... the engine's parent cgroup stays root's" "0" "$(stat -c %u "$(dirname "$hostdir")")"
docker rm -f "$cid" >/dev/null
out=$(docker run --rm busybox sh -c 'mkdir /sys/fs/cgroup/memory/inner 2>&1; echo rc=$?')
t_contains "not --privileged: cgroups stay read-only, nothing delegated" "rc=1" "$out"

# --- ECI off by a verified policy ---------------------------------------------------------
policy_off='{"enabled": false, "locked": true, "socketMount": {"images": [], "allowDerivedImages": true},
 "commandList": {"type": "deny", "commands": []}, "restrictedHostMounts": [], "allowedOrgs": [],
 "inputsDigest": ""}'
if out=$(eci_push_policy "$policy_off" 2>&1); then
  t_pass "ECI-off policy pushed"
  t_eq "ECI off: identity map" "0 0 4294967295" "$(docker run --rm busybox cat /proc/self/uid_map | trim)"
  policy_on=$(jq -c '.enabled = true' <<<"$policy_off")
  t_ok "ECI-on policy pushed" eci_push_policy "$policy_on"
  t_eq "ECI back on: mapped again" "0 100000 65536" \
    "$(docker run --rm busybox cat /proc/self/uid_map | trim)"
else
  t_fail "ECI-off policy pushed" "$out"
fi

docker ps -aq | xargs -r docker rm -f >/dev/null
t_eq "nothing left under eci-runc's run dir" "" "$(eci_leftovers)"
t_summary
