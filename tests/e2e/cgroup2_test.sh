#!/usr/bin/env bash
# eci on a cgroup v2 (unified) host (issue 15): the container's cgroup is delegated to it, and what
# is set on it from outside stays out of its reach. This machine boots hybrid (v1 controllers, a
# controller-less cgroup2 at /sys/fs/cgroup/unified), so the suite re-executes itself in a private
# mount namespace where /sys/fs/cgroup IS that cgroup2 hierarchy: containerd, dockerd and runc
# decide their cgroup mode by statfs of /sys/fs/cgroup, so the whole real stack (harness: dockerd,
# containerd, eci-runc, the real runc, eci-enforcerd, the guard) runs in v2 mode. No controller
# of the host is bound to v2 here but hugetlb, so limits Docker maps to memory/pids/cpu are not
# available (dockerd discards --memory/--pids-limit with a warning and refuses --cpus: printed as
# notes, they are Docker's, not eci's). The cgroup2 core files (cgroup.max.depth,
# cgroup.max.descendants, cgroup.freeze, cgroup.type) and hugetlb.*.max are the limits here.
# Proven, each by a check that fails when it breaks:
#   A  the stack is in v2 mode; containers start under eci (range uid_map, own cgroup namespace);
#      a container that is not --privileged gets nothing delegated
#   B  a --privileged container's cgroup is delegated (eci-runc's cgroup_delegation.h, v2 branch):
#      the directory and cgroup.procs/threads/subtree_control are its root's on the host, every
#      other file and the parent stay root's; inside, it makes a child cgroup and moves into it
#   C  it cannot change what is set on it from outside: writes to its own cgroup.max.depth,
#      cgroup.max.descendants, cgroup.freeze, cgroup.type, hugetlb.2MB.max are refused (attempts
#      shown), a cgroup.max.descendants set from outside holds on the host and bounds its
#      children; its root's uid cannot write the parent's cgroup.procs or the host's root cgroup;
#      its own `mount -t cgroup2` shows only its cgroup (eci's seccomp worker makes it from the
#      caller's cgroup namespace), a v1 mount (the host's whole hierarchy here) is refused
#   D  Docker-in-Docker: an inner dockerd on the delegated cgroup in v2 mode ("cgroupfs 2") runs
#      `docker run`; the inner container's cgroup is below the outer one on the host
#   E  the host's real /sys/fs/cgroup (outside the namespace) is unchanged from the engine's
#      first container on (runc enables the root's controllers then, as systemd does), and after
#      the harness stops nothing is left: no cgroup below the suite's cgroup parent, no mount,
#      no run dir.
# Exit 77 (ctest: skipped, never passed) only when the kernel has no cgroup2 filesystem.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)

if [[ "${ECI_CG2_INNER:-}" != 1 ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
  if ! grep -qw cgroup2 /proc/filesystems; then
    echo "SKIP - this kernel has no cgroup2 filesystem (not in /proc/filesystems): nothing to test"
    exit 77
  fi
  # The inner run reads the host's real view through this process' root (/proc/<pid>/root),
  # which stays in the host's mount namespace while it waits.
  rc=0
  ECI_CG2_INNER=1 ECI_CG2_HOST_PID=$$ unshare -m --propagation private bash "$0" "$@" || rc=$?
  exit "$rc"
fi

. "$HERE/lib/harness.sh"
. "$HERE/lib/dind_image.sh"
HOST_CG=/proc/$ECI_CG2_HOST_PID/root/sys/fs/cgroup
trim() { tr -s ' \t' ' ' | sed 's/^ //; s/ $//'; }

# What no container may change on the host: the cgroup mounts, every file in each hierarchy's
# root (owner, mode) and the values that matter for an escape or a limit (release_agent,
# notify_on_release, the v2 root's subtree_control and max.* files).
host_cgroup_state() {
  grep -E ' - (cgroup|cgroup2|tmpfs) ' "/proc/$ECI_CG2_HOST_PID/mountinfo" | grep ' /sys/fs/cgroup' |
    awk '{print $5, $9}'
  # (this suite's own cgroup parents left out: on a unified host they are in the root)
  find "$HOST_CG" -mindepth 1 -maxdepth 2 -name 'eci-e2e-cg2-*' -prune -o -type f \
    -printf '%P %U:%G %m\n' 2>&1 | sort
  local f
  for f in "$HOST_CG"/*/release_agent "$HOST_CG"/*/notify_on_release \
    "$HOST_CG"/unified/cgroup.subtree_control "$HOST_CG"/unified/cgroup.max.* \
    "$HOST_CG"/cgroup.subtree_control "$HOST_CG"/cgroup.max.*; do
    [[ -e "$f" ]] && echo "${f#"$HOST_CG"/}=$(cat "$f" 2>&1)"
  done
}

# v2 mode: the v1 tree goes (in this namespace only), the host's cgroup2 hierarchy comes in its
# place, mounted at its root as a v2 host mounts it.
if ! umount -R /sys/fs/cgroup || ! mount -t cgroup2 cgroup2 /sys/fs/cgroup; then
  echo "FAIL - could not mount cgroup2 on /sys/fs/cgroup in a private mount namespace"
  exit 1
fi
t_eq "in the suite's namespace /sys/fs/cgroup is cgroup2" "cgroup2fs" "$(stat -f -c %T /sys/fs/cgroup)"
echo "note: controllers of the cgroup2 hierarchy here: [$(cat /sys/fs/cgroup/cgroup.controllers)]"

# Every container's cgroup under one parent of this run, so the suite finds its own and checks
# that none is left (the engine's default /docker is shared with other engines on this host).
PARENT=eci-e2e-cg2-$$
export ECI_HARNESS_DOCKERD_ARGS="--cgroup-parent /$PARENT"
eci_up || { echo "FAIL - harness did not start"; exit 1; }
run_t=$ECI_T run_dir=$ECI_RUN_DIR
# The parent is made by runc (mkdir -p) and outlives the containers: removed at the end, only
# if empty (a cgroup left in it is a leftover, checked below).
trap 'eci_down; rmdir "/sys/fs/cgroup/$PARENT" 2>/dev/null' EXIT

# --- A: containers start under eci in v2 mode -------------------------------------------------
t_eq "dockerd runs in cgroup v2 mode (cgroupfs driver)" "cgroupfs 2" \
  "$(docker info -f '{{.CgroupDriver}} {{.CgroupVersion}}' 2>&1)"
out=$(docker run --rm busybox sh -c 'cat /proc/self/uid_map; cat /proc/self/cgroup' 2>&1)
# The host's state to compare against (section E), taken once the engine has made its first
# cgroup: runc (the engine, as root) enables every controller of the hierarchy at its root
# (`+hugetlb` in the root's cgroup.subtree_control here) the first time it makes a cgroup in v2
# mode, as systemd does at boot on a v2 host. On a freshly booted machine that one change made
# section E fail, though no container did anything; what containers do comes after this point.
host_before=$(host_cgroup_state)
t_ok "docker run busybox: in a range user namespace" \
  grep -qE '^ *0 +[1-9][0-9]{5,} +65536$' <<<"$out"
t_eq "  ... in its own cgroup namespace (its cgroup is its root)" "0::/" "$(grep '^0::' <<<"$out")"
for flag in "--memory 64m" "--pids-limit 50"; do
  # shellcheck disable=SC2086
  echo "note: docker run $flag without the controller: $(docker run --rm $flag busybox true 2>&1 | head -n1)"
done
echo "note: docker run --cpus 0.5: $(docker run --rm --cpus 0.5 busybox true 2>&1 | head -n1)"

cid=$(docker run -d busybox sleep 300)
pid=$(docker inspect -f '{{.State.Pid}}' "$cid")
cg=$(awk -F: '$1 == 0 {print $3}' "/proc/$pid/cgroup")
t_eq "its v2 cgroup is under the suite's parent" "/$PARENT/$cid" "$cg"
t_eq "not --privileged: its cgroup directory stays root's" "0" "$(stat -c %u "/sys/fs/cgroup$cg")"
out=$(docker exec "$cid" sh -c 'mkdir /sys/fs/cgroup/inner 2>&1; echo rc=$?')
t_contains "  ... and it cannot make a child cgroup (its /sys/fs/cgroup is read-only)" \
  "Read-only file system" "$out"
docker rm -f "$cid" >/dev/null

# --- B: a --privileged container's cgroup is delegated ------------------------------------------
cid=$(docker run -d --privileged busybox sleep 300)
pid=$(docker inspect -f '{{.State.Pid}}' "$cid")
t_eq "--privileged container runs" "true" "$(docker inspect -f '{{.State.Running}}' "$cid")"
cuid=$(awk '$1 == 0 {print $2}' "/proc/$pid/uid_map")
cgid=$(awk '$1 == 0 {print $2}' "/proc/$pid/gid_map")
t_ok "  ... in a range user namespace (root is host uid $cuid)" test "${cuid:-0}" -ge 100000
cg=$(awk -F: '$1 == 0 {print $3}' "/proc/$pid/cgroup")
dir=/sys/fs/cgroup$cg
t_eq "  ... its v2 cgroup is under the suite's parent" "/$PARENT/$cid" "$cg"
t_eq "delegated: its cgroup directory is its root's on the host" "$cuid" "$(stat -c %u "$dir")"
for f in cgroup.procs cgroup.threads cgroup.subtree_control; do
  t_eq "  ... $f is its root's" "$cuid:$cgid" "$(stat -c %u:%g "$dir/$f")"
done
others=$(find "$dir" -maxdepth 1 -type f ! -name cgroup.procs ! -name cgroup.threads \
  ! -name cgroup.subtree_control ! -uid 0 -printf '%f ')
t_eq "  ... every other file of it stays root's (limits, freeze, kill, type)" "" "$others"
t_ok "  ... (there are such files: cgroup.max.depth)" test -f "$dir/cgroup.max.depth"
t_eq "  ... the engine's parent cgroup stays root's" "0" "$(stat -c %u "$(dirname "$dir")")"
t_eq "  ... and so do the parent's cgroup.procs" "0" "$(stat -c %u "$(dirname "$dir")/cgroup.procs")"

# Limits set on it from outside (cgroup.max.descendants/depth: core v2 limits, no controller needed).
echo 2 >"$dir/cgroup.max.descendants"
echo 3 >"$dir/cgroup.max.depth"
huge_before=$(cat "$dir/hugetlb.2MB.max" 2>/dev/null)
# Bounded: were cgroup.freeze writable, the shell would freeze itself (thawed below).
out=$(timeout 60 docker exec "$cid" sh -c '
  mkdir /sys/fs/cgroup/a && echo mkdir=ok
  echo $$ > /sys/fs/cgroup/a/cgroup.procs && echo moved=ok
  cat /proc/self/cgroup
  mkdir /sys/fs/cgroup/a/b && echo nested=ok
  mkdir /sys/fs/cgroup/c 2>&1; echo third=$?
  echo $$ > /sys/fs/cgroup/cgroup.procs && rmdir /sys/fs/cgroup/a/b /sys/fs/cgroup/a && echo rmdir=ok
  for f in cgroup.max.depth cgroup.max.descendants cgroup.type hugetlb.2MB.max cgroup.freeze; do
    [ -e /sys/fs/cgroup/$f ] || continue
    case $f in cgroup.freeze) v=1;; cgroup.type) v=threaded;; hugetlb*) v=0;; *) v=max;; esac
    if err=$( { echo $v > /sys/fs/cgroup/$f; } 2>&1 ); then echo own:$f=written
    else case $err in *"Permission denied"*) echo own:$f=denied;; *) echo "own:$f=[$err]";; esac; fi
  done
' 2>&1)
t_contains "inside: it makes a child cgroup" "mkdir=ok" "$out"
t_contains "  ... moves itself into it" "moved=ok" "$out"
t_contains "  ... and sees itself there" "0::/a" "$out"
t_contains "  ... makes a grandchild (its children are its own)" "nested=ok" "$out"
t_contains "  ... and removes them again" "rmdir=ok" "$out"
t_contains "the outside limit bounds its children (a 3rd descendant refused)" "third=1" "$out"
for f in cgroup.max.depth cgroup.max.descendants cgroup.type cgroup.freeze; do
  t_contains "its own $f: the write ran and was refused (not its file)" "own:$f=denied" "$out"
done
if [[ -e "$dir/hugetlb.2MB.max" ]]; then
  t_contains "its own hugetlb.2MB.max (a controller limit): refused" "own:hugetlb.2MB.max=denied" \
    "$out"
  t_eq "  ... unchanged on the host" "$huge_before" "$(cat "$dir/hugetlb.2MB.max")"
fi
t_eq "the outside cgroup.max.descendants holds on the host" "2" "$(cat "$dir/cgroup.max.descendants")"
t_eq "  ... cgroup.max.depth too" "3" "$(cat "$dir/cgroup.max.depth")"
t_eq "  ... it is not frozen" "0" "$(cat "$dir/cgroup.freeze")"
echo 0 >"$dir/cgroup.freeze"
# Its parent is outside its cgroup namespace (not in its /sys/fs/cgroup); even named by path, the
# kernel refuses its root's uid the parent's and the host root's cgroup.procs (file owners).
as_croot() {  # FILE VALUE: write as the container root's host uid, no capabilities
  # shellcheck disable=SC2016 # the inner sh expands them
  setpriv --reuid "$cuid" --regid "$cgid" --clear-groups sh -c 'echo "$2" > "$1"' - "$1" "$2" 2>&1
}
out=$(as_croot "$(dirname "$dir")/cgroup.procs" "$pid")
t_contains "its root's uid cannot move a process into the parent cgroup" "Permission denied" "$out"
t_contains "  ... nor into the host's root cgroup" "Permission denied" \
  "$(as_croot /sys/fs/cgroup/cgroup.procs "$pid")"
t_contains "  ... nor change its own cgroup.max.descendants from the host side" "Permission denied" \
  "$(as_croot "$dir/cgroup.max.descendants" max)"
t_eq "  ... the process is still in its cgroup" "0::$cg" "$(grep '^0::' "/proc/$pid/cgroup")"
# A cgroup2 mount of its own (systemd, an inner runc): eci's seccomp worker makes it from the
# caller's cgroup namespace, so it is rooted at the container's own cgroup, owners as they are.
out=$(docker exec "$cid" sh -c '
  mkdir -p /tmp/cg && mount -t cgroup2 cgroup2 /tmp/cg && echo mounted=ok
  [ "$(ls /tmp/cg)" = "$(ls /sys/fs/cgroup)" ] && echo same=ok
  ls /tmp/cg
  echo max > /tmp/cg/cgroup.max.descendants 2>/dev/null; echo fresh:maxdesc=$?
  umount /tmp/cg' 2>&1)
t_contains "a fresh cgroup2 mount inside works" "mounted=ok" "$out"
t_contains "  ... it is its own cgroup (the same files as its /sys/fs/cgroup)" "same=ok" "$out"
t_not_contains "  ... not the host's tree (no $PARENT in it)" "$PARENT" "$out"
t_contains "  ... and its limits stay refused there" "fresh:maxdesc=1" "$out"
t_eq "  ... the outside limit still holds" "2" "$(cat "$dir/cgroup.max.descendants")"
# A v1 hierarchy it was never put in (a v2 engine on this hybrid kernel): its cgroup there is the
# hierarchy's root, so a v1 mount from its cgroup namespace would show the host's whole tree
# (every host pid in cgroup.procs). Refused: eci's worker makes v1 mounts from its own namespace.
t_eq "  ... (its v1 pids cgroup is the hierarchy's root)" "8:pids:/" \
  "$(grep -E '^[0-9]+:pids:' "/proc/$pid/cgroup" | sed 's/^[0-9]*/8/')"
out=$(docker exec "$cid" sh -c 'mkdir -p /tmp/cg1 && mount -t cgroup -o pids cgroup /tmp/cg1 && echo v1mounted && wc -l < /tmp/cg1/cgroup.procs' 2>&1)
t_not_contains "a v1 cgroup mount of the host's hierarchy root is refused" "v1mounted" "$out"
t_contains "  ... (the mount was attempted)" "mount: permission denied" "$out"

# What docker:dind's entrypoint does on a v2 host: every process into a child "init", then the
# controllers it has enabled for its children (no-internal-process rule).
ctrls=$(cat "$dir/cgroup.controllers")
out=$(docker exec "$cid" sh -c '
  mkdir /sys/fs/cgroup/init && xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs && echo evac=ok
  c=$(cat /sys/fs/cgroup/cgroup.controllers)
  if [ -n "$c" ]; then echo "+$c" | sed "s/ / +/g" > /sys/fs/cgroup/cgroup.subtree_control && echo enable=ok; fi
  cat /proc/1/cgroup' 2>&1)
t_contains "dind's v2 entrypoint: every process moved into a child" "evac=ok" "$out"
t_contains "  ... its init too" "0::/init" "$out"
if [[ -n "$ctrls" ]]; then
  t_contains "  ... its controllers ($ctrls) enabled for its children" "enable=ok" "$out"
  t_eq "  ... the child has them" "$ctrls" "$(cat "$dir/init/cgroup.controllers" 2>&1)"
  t_eq "  ... and is the container's own" "$cuid" "$(stat -c %u "$dir/init" 2>&1)"
else
  echo "note: no controller in this cgroup2 hierarchy: subtree_control not exercised"
fi
docker rm -f "$cid" >/dev/null
t_fails "its cgroup, with the children it made, is gone with it" test -d "$dir"

# --- D: Docker-in-Docker with an inner dockerd in v2 mode -----------------------------------------
if eci_dind_image eci-dind:local >/dev/null 2>&1; then
  vol=eci-cg2-vol-$$
  docker volume create "$vol" >/dev/null
  docker run -d --privileged --name dind -v "$vol:/var/lib/docker" eci-dind:local dockerd >/dev/null
  t_ok "DinD: the inner dockerd answers" _eci_wait_for 60 docker exec dind docker version
  t_eq "  ... in cgroup v2 mode on the delegated cgroup" "cgroupfs 2" \
    "$(docker exec dind docker info -f '{{.CgroupDriver}} {{.CgroupVersion}}' 2>&1)"
  docker exec dind docker load -i /images/busybox.tar >/dev/null 2>&1
  out=$(docker exec dind docker run --rm busybox cat /proc/self/uid_map 2>&1 | trim)
  dpid=$(docker inspect -f '{{.State.Pid}}' dind)
  t_eq "  ... an inner docker run works, in the outer range" "$(trim <"/proc/$dpid/uid_map")" "$out"
  icid=$(docker exec dind docker run -d busybox sleep 300 2>&1)
  ocg=$(awk -F: '$1 == 0 {print $3}' "/proc/$dpid/cgroup")
  t_ok "  ... its cgroup is below the outer container's on the host" \
    test -d "/sys/fs/cgroup$ocg/docker/$icid"
  t_eq "  ... owned by the outer container's root" "$(awk '$1 == 0 {print $2}' "/proc/$dpid/uid_map")" \
    "$(stat -c %u "/sys/fs/cgroup$ocg/docker/$icid" 2>&1)"
  docker exec dind docker rm -f "$icid" >/dev/null 2>&1
  docker rm -f dind >/dev/null
  docker volume rm "$vol" >/dev/null
else
  t_fail "the DinD image is built from this host's files" "eci_dind_image failed"
fi

# --- E: the host unchanged; nothing left after the harness stops -----------------------------------
t_eq "the host's real /sys/fs/cgroup is unchanged while it runs" "$host_before" "$(host_cgroup_state)"
eci_down
t_eq "after the harness stops: no cgroup left below the suite's parent" "" \
  "$(find "/sys/fs/cgroup/$PARENT" -mindepth 1 -type d 2>/dev/null)"
rmdir "/sys/fs/cgroup/$PARENT" 2>/dev/null
t_eq "  ... no mount left under its run dir" "" "$(grep -F " $run_dir" /proc/self/mountinfo)"
t_fails "  ... its tmp dir is gone" test -e "$run_t"
t_eq "  ... and the host's /sys/fs/cgroup is as before" "$host_before" "$(host_cgroup_state)"
t_summary
