#!/usr/bin/env bash
# Container start cost of eci: median wall time of `docker run --rm busybox true` with eci-runc
# (the default runtime, found by dockerd as `runc`) vs plain runc (--runtime plain-runc: the real
# runc by absolute path) on the SAME private dockerd, interleaved in one run so machine noise hits
# both alike. Prints both medians and the ratio (issue 13: target <= 1.05). Needs root.
#
#   bench/runc_start.sh [ROUNDS]       (default 30; ECI_BUILD_DIR = the build dir)
set -uo pipefail
rounds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/e2e/lib/harness.sh"
# Plain runc is reachable only by absolute path now (`runc` IS eci-runc on this daemon).
export ECI_HARNESS_PLAIN_RUNC=1 ECI_HARNESS_NO_RUNC_LOG=1
eci_up >/dev/null || { echo "runc_start.sh: engine did not start" >&2; exit 1; }
# eci-runc against plain runc on the same dockerd, both through dockerd's private socket: the
# guard in front of the public one forces the default runtime (bench_apiproxy measures the guard).
export DOCKER_HOST="unix://$ECI_DOCKERD_SOCK"

now_ns() { date +%s%N; }
once() {  # runtime-args...
  local t0 t1
  t0=$(now_ns)
  docker run --rm "$@" busybox true >/dev/null 2>&1 || return 1
  t1=$(now_ns)
  echo $(((t1 - t0) / 1000))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# warm-up: page cache, image, first-run costs
once >/dev/null; once --runtime plain-runc >/dev/null
eci_times=() runc_times=()
for ((i = 0; i < rounds; i++)); do
  if ((i % 2)); then
    t=$(once) && eci_times+=("$t"); t=$(once --runtime plain-runc) && runc_times+=("$t")
  else
    t=$(once --runtime plain-runc) && runc_times+=("$t"); t=$(once) && eci_times+=("$t")
  fi
done
eci_med=$(printf '%s\n' "${eci_times[@]}" | median)
runc_med=$(printf '%s\n' "${runc_times[@]}" | median)
eci_down
printf 'docker run --rm busybox true, %d interleaved rounds (%d eci / %d runc ok)\n' \
  "$rounds" "${#eci_times[@]}" "${#runc_times[@]}"
printf '  median eci : %8.1f ms\n' "$(bc -l <<<"$eci_med/1000")"
printf '  median runc: %8.1f ms\n' "$(bc -l <<<"$runc_med/1000")"
printf '  ratio eci/runc: %.3f (issue 13: target <= 1.05)\n' "$(bc -l <<<"$eci_med/$runc_med")"
