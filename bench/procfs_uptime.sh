#!/usr/bin/env bash
# /proc/uptime open+read+close inside a container: eci (FUSE emulation) vs plain runc (host
# procfs) on the SAME private dockerd, interleaved. A static probe (enforcer/procfs/bench/
# uptime_probe.c) prints its median ns/op; this prints the median of those per runtime and the
# ratio (target <= 2.0). Needs root.
#   bench/procfs_uptime.sh PROBE [ROUNDS]     (ECI_BUILD_DIR = the build dir)
set -uo pipefail
probe=$1
rounds=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/e2e/lib/harness.sh"
# Plain runc is reachable only by absolute path now (`runc` IS eci-runc on this daemon).
export ECI_HARNESS_PLAIN_RUNC=1 ECI_HARNESS_NO_RUNC_LOG=1
eci_up >/dev/null || { echo "procfs_uptime.sh: engine did not start" >&2; exit 1; }
# eci-runc against plain runc on the same dockerd, both through dockerd's private socket: the
# guard in front of the public one forces the default runtime (bench_apiproxy measures the guard).
export DOCKER_HOST="unix://$ECI_DOCKERD_SOCK"
mkdir -p "$ECI_T/probe" && cp "$probe" "$ECI_T/probe/probe" && chmod 0755 "$ECI_T/probe" "$ECI_T/probe/probe"

once() {  # runtime-args...
  docker run --rm -v "$ECI_T/probe:/probe:ro" "$@" busybox /probe/probe "${ECI_PROBE_ITERS:-3000}" 5 2>&1 |
    sed -n 's/^median_ns_per_op=\([0-9]*\).*/\1/p'
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
eci=() runc=()
for ((i = 0; i < rounds; i++)); do
  e=$(once) r=$(once --runtime plain-runc)
  [[ -n $e ]] && eci+=("$e")
  [[ -n $r ]] && runc+=("$r")
  echo "round $i: eci ${e:-failed} ns/op, runc ${r:-failed} ns/op" >&2
done
eci_down
((${#eci[@]} && ${#runc[@]})) || { echo "procfs_uptime.sh: probe failed" >&2; exit 1; }
em=$(printf '%s\n' "${eci[@]}" | median) rm=$(printf '%s\n' "${runc[@]}" | median)
printf '/proc/uptime open+read+close, %d interleaved rounds (loadavg %s)\n' "$rounds" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '  median eci (FUSE) : %7d ns/op   (%s)\n' "$em" "${eci[*]}"
printf '  median runc (host): %7d ns/op   (%s)\n' "$rm" "${runc[*]}"
ratio=$(bc -l <<<"$em/$rm")
printf '  ratio eci/runc    : %.2f (target <= 2.0)\n' "$ratio"
(($(bc <<<"$ratio <= 2.0"))) || exit 1
