#!/bin/bash
# End-to-end through a real dockerd (tests/e2e/lib/harness.sh): eci-runc merges the seccomp rules
# from eci-enforcerd's grant, and the enforcer's seccomp module vets the mount calls.
# Usage: e2e_docker.sh PROBE   (ECI_BUILD_DIR points at the build tree)
set -u
PROBE=$1
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../../tests/e2e/lib/harness.sh
. "$HERE/../../../tests/e2e/lib/harness.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root"; exit 1; }
eci_up || { echo "FAIL: harness did not come up"; exit 1; }

VOL=$ECI_T/vol
mkdir -p "$VOL" && echo host > "$VOL/file" && chmod 755 "$VOL"
cp "$PROBE" "$ECI_T/probe" && chmod 755 "$ECI_T/probe"
SA=(--cap-add SYS_ADMIN)

# The seed: docker run --cap-add SYS_ADMIN -v $HOME:/mnt:ro, then mount -o remount,rw /mnt.
out=$(docker run --rm "${SA[@]}" -v "$VOL:/mnt:ro" busybox sh -c 'mount -o remount,rw /mnt /mnt; echo rc=$?; touch /mnt/x' 2>&1)
t_contains "seed: remount,rw of a ro volume (SYS_ADMIN)" "mount: permission denied (are you root?)" "$out"
t_contains "seed: volume still read-only" "Read-only file system" "$out"
out=$(docker run --rm --privileged -v "$VOL:/mnt:ro" busybox sh -c 'mount -o remount,rw /mnt /mnt; echo rc=$?;
  mkdir /x; mount --bind /mnt /x; mount -o remount,bind,rw /x; echo rc2=$?; touch /mnt/x /x/x' 2>&1)
t_contains "--privileged: remount,rw refused" "mount: permission denied (are you root?)" "$out"
t_contains "--privileged: bind copy remount refused" "rc2=1" "$out"
t_eq "host volume unchanged" "file host" "$(ls "$VOL" | tr '\n' ' ')$(cat "$VOL/file")"

for mode in sysadmin privileged; do
  if [ $mode = privileged ]; then F=(--privileged); else F=("${SA[@]}"); fi
  out=$(docker run --rm "${F[@]}" -v "$VOL:/mnt:ro" -v "$ECI_T/probe:/probe:ro" busybox sh -c '
    umount /proc; echo p=$?; umount -l /sys; echo s=$?; mount -t tmpfs t /proc; echo op=$?
    unshare -m sh -c "mount -o remount,rw /mnt; echo u=\$?"
    /probe setattr-rw /mnt
    mkdir -p /root/t; mount -t tmpfs tmpfs /root/t && echo mounted
    mount -o remount,bind,ro /root/t && touch /root/t/a 2>&1; mount -o remount,bind,rw /root/t && touch /root/t/a && echo rw-again
    umount /root/t && echo unmounted
    /probe global | grep -c EPERM' 2>&1)
  t_contains "$mode: umount /proc refused" "p=1" "$out"
  t_contains "$mode: umount /sys refused" "s=1" "$out"
  t_contains "$mode: overmount /proc refused" "op=1" "$out"
  t_contains "$mode: unshare -m remount refused" "u=1" "$out"
  t_contains "$mode: mount_setattr clear ro refused" "mount_setattr_clear_ro: EPERM" "$out"
  t_contains "$mode: own tmpfs mounts" "mounted" "$out"
  t_contains "$mode: own tmpfs ro" "Read-only file system" "$out"
  t_contains "$mode: own tmpfs back to rw" "rw-again" "$out"
  t_contains "$mode: own tmpfs unmounted" "unmounted" "$out"
  t_contains "$mode: 17 kernel-global calls EPERM" $'\n17' "$out"
done

# The /proc and /sys emulation mounts (FUSE, type fuse.eci) can be neither removed nor covered:
# what lies beneath is the host's (or an empty sysfs directory where eci shows its own view).
for mode in sysadmin privileged; do
  if [ $mode = privileged ]; then F=(--privileged); else F=("${SA[@]}"); fi
  out=$(docker run --rm "${F[@]}" busybox sh -c '
    n0=$(grep -c " - fuse.eci " /proc/self/mountinfo)
    umount /sys/kernel/security; echo sec=$?; umount -l /sys/kernel/tracing; echo trl=$?
    umount /proc/uptime; echo up=$?; umount -l /proc/swaps; echo swl=$?
    umount /proc/sys/kernel/panic; echo hn=$?; umount -l /proc/sys/vm/overcommit_memory; echo ovl=$?
    mount --bind /tmp /sys/kernel/debug; echo dbg=$?; mount -t tmpfs t /sys/kernel/security; echo sect=$?
    mount --bind /etc/hostname /proc/sys/kernel/panic; echo hnb=$?
    n1=$(grep -c " - fuse.eci " /proc/self/mountinfo); echo "fuse mounts $n0 -> $n1"
    ls -A /sys/kernel/debug | wc -l' 2>&1)
  for k in sec trl up swl hn ovl dbg sect hnb; do
    t_contains "$mode: emulation mount: $k refused" "$k=1" "$out"
  done
  t_ok "$mode: every emulation mount still there ($(grep -o 'fuse mounts.*' <<<"$out"))" \
    grep -Eq 'fuse mounts ([1-9][0-9]*) -> \1$' <<<"$out"
  t_eq "$mode: /sys/kernel/debug still shown empty" "0" "$(tail -n1 <<<"$out")"
done

# docker exec processes are supervised too.
cid=$(docker run -d "${SA[@]}" -v "$VOL:/mnt:ro" busybox sleep 300)
out=$(docker exec "$cid" sh -c 'mount -o remount,rw /mnt /mnt; echo rc=$?' 2>&1)
t_contains "docker exec: remount,rw refused" "mount: permission denied (are you root?)" "$out"
docker rm -f "$cid" >/dev/null 2>&1

# Host-global knobs from --privileged leave the host unchanged.
before=$(cat /proc/sys/kernel/core_pattern)
docker run --rm --privileged busybox sh -c 'echo "|/tmp/pwn" > /proc/sys/kernel/core_pattern; echo h > /proc/sysrq-trigger' >/dev/null 2>&1
t_eq "core_pattern unchanged on the host" "$before" "$(cat /proc/sys/kernel/core_pattern)"

t_eq "enforcer's seccomp socket is 0600" "600" "$(stat -c %a "$ECI_T/eci/seccomp.sock" 2>&1)"
t_summary
