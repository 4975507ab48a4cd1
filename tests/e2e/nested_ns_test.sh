#!/bin/bash
# Issue 15, nested namespaces inside a container (what every inner dockerd, containerd or
# `unshare --pid --fork --mount-proc` does), through a real dockerd + eci-runc + eci-enforcerd:
#  H1. a proc for a nested pid namespace is a fresh procfs of that namespace (its own processes
#      only) carrying the container's masks and emulation, which cannot be removed;
#  H2. `unshare -pf --mount-proc` works and keeps the masks;
#  H3. a sysfs for a nested network namespace shows that namespace's devices, masks on it;
#  H4. the masks of a fresh tree may be covered (runc's maskedPaths/readonlyPaths do), but a
#      fresh tree made below such a cover still gets the real masks;
#  H5. without CAP_SYS_ADMIN nothing changes (the kernel refuses the nested namespace).
# Each check proves the container ran and the host is unchanged (uptime stays the container's).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/harness.sh
. "$HERE/lib/harness.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not come up"; exit 1; }

host_up=$(cut -d. -f1 /proc/uptime)
# A container's uptime (eci's emulation) is seconds; the VM's is far longer.
container_uptime() {  # NAME VALUE
  t_ok "$1 (${2:-?}s, host ${host_up}s)" test -n "$2" -a "${2:-99999}" -lt 120 -a "$host_up" -gt $((${2:-0} + 60))
}
host_keys=$(wc -c </proc/keys)

for mode in privileged sysadmin; do
  if [ $mode = privileged ]; then F=(--privileged); else F=(--cap-add SYS_ADMIN --security-opt apparmor=unconfined); fi

  # ---- H1 ---------------------------------------------------------------------------------------
  out=$(docker run --rm "${F[@]}" busybox sh -c 'mkdir -p /tmp/p; unshare -p -f sh -c "
    mount -t proc proc /tmp/p; echo mount=\$?
    echo pids=\$(ls /tmp/p | grep -c \"^[0-9]*\$\") one=\$(cat /tmp/p/1/comm)
    echo keys=\$(wc -c < /tmp/p/keys) tl=\$(wc -c < /tmp/p/timer_list) up=\$(cut -d. -f1 /tmp/p/uptime)
    awk \"\\\$5==\\\"/tmp/p/sys\\\"{split(\\\$6,o,\\\",\\\"); print \\\"sys=\\\" o[1]}\" /proc/self/mountinfo
    echo 1 > /tmp/p/sys/kernel/sysrq 2>/dev/null; echo sysrq=\$?
    umount /tmp/p/keys; echo ukeys=\$?; umount -l /tmp/p/uptime; echo uup=\$?; umount /tmp/p/sys; echo usys=\$?
    mkdir -p /tmp/q; mount --bind /tmp/p /tmp/q; echo nonrec=\$?
    mount -o remount,bind,rw /tmp/p/sys; echo sysrw=\$?
    echo keys2=\$(wc -c < /tmp/p/keys) up2=\$(cut -d. -f1 /tmp/p/uptime)
    umount -l /tmp/p; echo whole=\$?"' 2>&1)
  t_contains "$mode H1: container ran, proc for a nested pid namespace mounted" "mount=0" "$out"
  t_ok "$mode H1: it shows only the nested namespace's processes ($(grep -o 'pids=[0-9]*' <<<"$out"))" \
    grep -Eq 'pids=[1-4] one=sh' <<<"$out"
  t_contains "$mode H1: /proc/keys masked on it" "keys=0" "$out"
  t_contains "$mode H1: /proc/timer_list masked on it" "tl=0" "$out"
  t_contains "$mode H1: /proc/sys read-only on it" "sys=ro" "$out"
  t_contains "$mode H1: sysctl write refused" "sysrq=1" "$out"
  container_uptime "$mode H1: /proc/uptime on it is the container's" "$(grep -o 'up=[0-9]*' <<<"$out" | head -n1 | cut -d= -f2)"
  for k in ukeys uup usys nonrec sysrw; do t_contains "$mode H1: $k refused" "$k=1" "$out"; done
  t_contains "$mode H1: masks still there afterwards" "keys2=0" "$out"
  container_uptime "$mode H1: uptime still the container's afterwards" "$(grep -o 'up2=[0-9]*' <<<"$out" | cut -d= -f2)"
  t_contains "$mode H1: the fresh tree itself may go" "whole=0" "$out"

  # ---- H2 ---------------------------------------------------------------------------------------
  out=$(docker run --rm "${F[@]}" busybox sh -c 'unshare -p -f -m --mount-proc sh -c "
    echo ps=\$(ps -o pid | grep -c \"^ *[0-9]\") keys=\$(wc -c < /proc/keys) up=\$(cut -d. -f1 /proc/uptime)
    umount /proc/keys; echo ukeys=\$?"; echo after=$(wc -c < /proc/keys)
    unshare -p -f sh -c "mount -t proc proc /proc; echo first=\$?"; echo pid1=$(cat /proc/1/comm)' 2>&1)
  t_ok "$mode H2: unshare --mount-proc: only its own processes ($(grep -o 'ps=[0-9]*' <<<"$out"))" \
    grep -Eq 'ps=[1-5] keys=0' <<<"$out"
  container_uptime "$mode H2: uptime the container's" "$(grep -o 'up=[0-9]*' <<<"$out" | cut -d= -f2)"
  t_contains "$mode H2: masks cannot go" "ukeys=1" "$out"
  t_contains "$mode H2: the container's own /proc untouched" "after=0" "$out"
  t_contains "$mode H2: not over /proc in the container's first mount namespace" "first=1" "$out"
  t_contains "$mode H2: ... whose /proc is still the container's" "pid1=sh" "$out"

  # ---- H3 ---------------------------------------------------------------------------------------
  # runc mounts sysfs read-only where the container's own is (not --privileged): so do we here.
  if [ $mode = privileged ]; then RO=rw; else RO=ro; fi
  out=$(docker run --rm "${F[@]}" busybox sh -c 'mkdir -p /tmp/s; echo outer=$(ls /sys/class/net | wc -l)
    unshare -n sh -c "ip link add d0 type dummy 2>/dev/null; mount -t sysfs -o '$RO' sysfs /tmp/s; echo mount=\$?
    echo net=\$(ls /tmp/s/class/net | tr \"\n\" \" \")
    echo fw=\$(ls -A /tmp/s/firmware | wc -l) fwdir=\$(test -d /tmp/s/firmware && echo yes)
    umount /tmp/s/firmware; echo ufw=\$? fwm=\$(grep -c \" /tmp/s/firmware \" /proc/self/mountinfo)
    umount -l /tmp/s/fs/cgroup; echo ucg=\$? cgm=\$(grep -c \" /tmp/s/fs/cgroup \" /proc/self/mountinfo)
    mount -t sysfs sysfs /sys/firmware; echo fresh-on-mask=\$?"' 2>&1)
  t_contains "$mode H3: sysfs ($RO) for a nested network namespace mounted" "mount=0" "$out"
  t_ok "$mode H3: it shows the nested namespace's devices ($(grep -o 'net=.*' <<<"$out"), container: $(grep -o 'outer=[0-9]*' <<<"$out"))" \
    grep -Eq '^net=(d0 )?lo$' <<<"$out"
  t_contains "$mode H3: /sys/firmware masked on it" "fw=0 fwdir=yes" "$out"
  t_contains "$mode H3: its masks cannot go (firmware)" "ufw=1 fwm=1" "$out"
  t_contains "$mode H3: its masks cannot go (cgroup)" "ucg=1 cgm=1" "$out"
  t_contains "$mode H3: a fresh tree is not put on the container's own masks" "fresh-on-mask=1" "$out"

  # ---- H4 ---------------------------------------------------------------------------------------
  # Cover the fresh tree's uptime and keys with files of our own, then make a further fresh proc
  # from a root whose /proc is that covered tree: it must still carry the container's masks.
  out=$(docker run --rm "${F[@]}" busybox sh -c 'mkdir -p /r && mount -t tmpfs r /r &&
    mkdir -p /r/bin /r/proc /r/tmp && cp /bin/busybox /r/bin/ && echo 999999.00 1.00 > /r/fake &&
    echo secret > /r/fakekeys && unshare -p -f sh -c "
    mount -t proc proc /r/proc; echo m1=\$?
    mount --bind /r/fake /r/proc/uptime; echo cover-up=\$?
    mount --bind /r/fakekeys /r/proc/keys; echo cover-keys=\$?
    mount --bind /dev/null /r/proc/kcore 2>/dev/null
    mount --rbind /r/proc/sys /r/proc/sys && mount -o remount,bind,ro /r/proc/sys; echo ro-self=\$?
    echo covered=\$(cut -d. -f1 /r/proc/uptime)
    chroot /r /bin/busybox unshare -p -f /bin/busybox sh -c \"/bin/busybox mount -t proc proc /tmp; echo m2=\\\$?
      echo up2=\\\$(/bin/busybox cut -d. -f1 /tmp/uptime) keys2=\\\$(/bin/busybox wc -c < /tmp/keys)
      /bin/busybox umount /tmp/uptime; echo rm2=\\\$?\"
    umount /r/proc/uptime; echo uncover=\$?; echo back=\$(cut -d. -f1 /r/proc/uptime)"' 2>&1)
  t_contains "$mode H4: fresh proc made" "m1=0" "$out"
  t_contains "$mode H4: its uptime emulation may be covered" "cover-up=0" "$out"
  t_contains "$mode H4: its keys mask may be covered" "cover-keys=0" "$out"
  t_contains "$mode H4: a read-only path bound onto itself (runc's readonlyPaths)" "ro-self=0" "$out"
  t_contains "$mode H4: the cover shows" "covered=999999" "$out"
  t_contains "$mode H4: a fresh proc below the covered tree made" "m2=0" "$out"
  container_uptime "$mode H4: it still has the container's uptime" "$(grep -o 'up2=[0-9]*' <<<"$out" | cut -d= -f2)"
  t_contains "$mode H4: it still has the keys mask" "keys2=0" "$out"
  t_contains "$mode H4: its emulation cannot go" "rm2=1" "$out"
  t_contains "$mode H4: removing the cover brings the mask back" "uncover=0" "$out"
  container_uptime "$mode H4: uptime under the cover still the container's" "$(grep -o 'back=[0-9]*' <<<"$out" | cut -d= -f2)"
done

# ---- H5 -----------------------------------------------------------------------------------------
out=$(docker run --rm busybox sh -c 'echo ran; unshare -p -f true; echo unshare=$?; mkdir -p /tmp/p; mount -t proc proc /tmp/p; echo mount=$? procs=$(grep -c " /tmp/p " /proc/self/mountinfo)' 2>&1)
t_contains "plain H5: container ran" "ran" "$out"
t_contains "plain H5: no nested pid namespace without CAP_SYS_ADMIN" "unshare=1" "$out"
t_contains "plain H5: no proc mount without CAP_SYS_ADMIN" "mount=1 procs=0" "$out"

t_eq "host: /proc/keys unchanged" "$host_keys" "$(wc -c </proc/keys)"
t_ok "host: nothing eci made is left mounted in the host's namespace" test -z "$(grep -E ' /tmp/(p|q|s)( |/)' /proc/self/mountinfo)"
t_summary
