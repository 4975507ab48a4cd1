#!/usr/bin/env bash
# Docker-in-Docker start cost under eci (issue 15): median wall time of the INNER
# `docker run --rm busybox true` in a --privileged DinD container started by eci (dockerd's `runc`
# = eci-runc) vs the same DinD image started with the real runc (--runtime plain-runc), both on the
# same private outer dockerd, side by side, interleaved round by round in one run so machine noise
# hits both alike. Prints both medians and the ratio (target <= 1.3). Needs root.
#
#   bench/dind_start.sh [ROUNDS]       (default 20; ECI_BUILD_DIR = the build dir)
#
# Each inner run is timed inside its DinD container (busybox `time`, 10 ms resolution), so the
# outer `docker exec` is not part of the figure. The inner engines use their defaults (overlay2 on
# a named volume, bridge + iptables).
# Plain runc cannot start `--privileged` on a machine whose bounding set lacks a capability
# (CAP_SYS_RESOURCE on the eci VM: "unable to apply caps"); eci drops such a capability
# itself. Then the plain-runc side is --privileged as far as the machine allows: every capability
# the machine has, seccomp/AppArmor unconfined, /proc and /sys unmasked, every device allowed,
# /sys and the cgroup mounts remounted read-write before dockerd starts. The script says which.
set -uo pipefail
rounds=${1:-20}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/e2e/lib/harness.sh"
. "$here/../tests/e2e/lib/dind_image.sh"
export ECI_HARNESS_PLAIN_RUNC=1 ECI_HARNESS_NO_RUNC_LOG=1
eci_up >/dev/null || { echo "dind_start.sh: engine did not start" >&2; exit 1; }
eci_dind_image || { echo "dind_start.sh: DinD image failed" >&2; exit 1; }
# The guard in front of the public socket forces the default runtime: plain-runc is reachable
# only on dockerd's private socket (bench_apiproxy measures the guard).
export DOCKER_HOST="unix://$ECI_DOCKERD_SOCK"

die() {
  echo "dind_start.sh: $*" >&2
  eci_down
  exit 1
}
ready() {  # CONTAINER: its inner engine answers and has busybox
  local i
  for ((i = 0; i < 120; i++)); do
    docker exec "$1" docker version >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker exec "$1" docker load -i /images/busybox.tar >/dev/null 2>&1
}

docker run -d --privileged --name dind-eci -v dind-eci:/var/lib/docker eci-dind:local dockerd \
  >/dev/null || die "eci DinD container did not start"
plain_mode="--privileged"
if ! docker run --rm --runtime "$ECI_PLAIN_RUNTIME" --privileged busybox true >/dev/null 2>&1; then
  plain_mode="privileged-equivalent (plain runc cannot start --privileged here: $(docker run --rm \
    --runtime "$ECI_PLAIN_RUNTIME" --privileged busybox true 2>&1 | grep -o 'unable to apply caps[^:]*' | head -n1))"
  caps=(--cap-add ALL)
  bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
  ((((0x$bnd >> 24) & 1) == 0)) && caps+=(--cap-drop SYS_RESOURCE)
  docker run -d --name dind-runc --runtime "$ECI_PLAIN_RUNTIME" "${caps[@]}" \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm' \
    -v dind-runc:/var/lib/docker eci-dind:local sh -c \
    'for d in /sys /sys/fs/cgroup /sys/fs/cgroup/*; do mount -o remount,bind,rw "$d" || exit 1; done
     exec dockerd' >/dev/null || die "plain-runc DinD container did not start"
else
  docker run -d --privileged --name dind-runc --runtime "$ECI_PLAIN_RUNTIME" \
    -v dind-runc:/var/lib/docker eci-dind:local dockerd >/dev/null ||
    die "plain-runc DinD container did not start"
fi
ready dind-eci || die "eci DinD: inner engine not ready: $(docker logs dind-eci 2>&1 | tail -n3)"
ready dind-runc || die "plain-runc DinD: inner engine not ready: $(docker logs dind-runc 2>&1 | tail -n3)"

once() {  # CONTAINER: prints the inner run's wall time in ms, fails if the inner run failed
  local out
  out=$(docker exec "$1" sh -c 'time docker run --rm busybox true' 2>&1) || {
    echo "$out" >&2
    return 1
  }
  awk '$1 == "real" {split($2, a, "m"); sub("s", "", $NF); print int(($NF + a[1] * 60) * 1000 + 0.5)}' <<<"$out"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# warm-up: page cache, first-run costs. If the inner run fails under eci, the plain-runc side is
# still measured and printed, and the bench fails with the reason.
once dind-runc >/dev/null || die "plain-runc DinD: inner docker run failed"
eci_ok=1
once dind-eci >/dev/null 2>"$ECI_T/eci-err" || eci_ok=0
eci_times=() runc_times=()
for ((i = 0; i < rounds; i++)); do
  if ((i % 2)); then
    ((eci_ok)) && t=$(once dind-eci) && eci_times+=("$t")
    t=$(once dind-runc) && runc_times+=("$t")
  else
    t=$(once dind-runc) && runc_times+=("$t")
    ((eci_ok)) && t=$(once dind-eci) && eci_times+=("$t")
  fi
done
if ((!eci_ok)); then
  printf 'inner docker run --rm busybox true in DinD, %d rounds
' "$rounds"
  printf '  plain-runc side: %s
' "$plain_mode"
  printf '  median DinD under plain runc: %6d ms
' "$(printf '%s\n' "${runc_times[@]}" | median)"
  die "eci DinD: the inner docker run fails: $(grep -m1 -i error "$ECI_T/eci-err")"
fi
((${#eci_times[@]} && ${#runc_times[@]})) || die "no successful rounds"
eci_med=$(printf '%s\n' "${eci_times[@]}" | median)
runc_med=$(printf '%s\n' "${runc_times[@]}" | median)
docker rm -f dind-eci dind-runc >/dev/null 2>&1
docker volume rm dind-eci dind-runc >/dev/null 2>&1
eci_down
printf 'inner docker run --rm busybox true in DinD, %d interleaved rounds (%d eci / %d runc ok)\n' \
  "$rounds" "${#eci_times[@]}" "${#runc_times[@]}"
printf '  plain-runc side: %s\n' "$plain_mode"
printf '  median DinD under eci       : %6d ms\n' "$eci_med"
printf '  median DinD under plain runc: %6d ms\n' "$runc_med"
printf '  ratio eci/runc: %.3f (target <= 1.3)\n' "$(bc -l <<<"$eci_med/$runc_med")"
