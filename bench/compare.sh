#!/usr/bin/env bash
# eci vs plain runc, side by side, the way the issue asks for the figures: ONE private dockerd
# (tests/e2e/lib/harness.sh; dockerd finds eci-runc as `runc`, its default; plain runc is
# `--runtime plain-runc`, the real runc by absolute path, on this daemon only), ONE run,
# eci and runc samples interleaved round by round, medians. Both runtimes get the same dockerd
# defaults (Docker's default seccomp profile included), so the ratio is what eci adds on top.
#
#   bench/compare.sh SECCOMP_PROBE UPTIME_PROBE [ROUNDS]
#     SECCOMP_PROBE  eci-seccomp-probe (enforcer/seccomp/tests/probe.c), static
#     UPTIME_PROBE   procfs_uptime_probe (enforcer/procfs/bench/uptime_probe.c), static
#     ROUNDS         default $ECI_BENCH_ROUNDS, else 7
#   ECI_BUILD_DIR            where the harness finds eci-runc / eci-enforcerd (cmake sets it)
#   ECI_BENCH_GETPPID_N      getppid calls per sample                  (default 2000000)
#   ECI_BENCH_MOUNT_N        tmpfs mount+umount pairs per sample       (default 2000)
#   ECI_BENCH_UPTIME_N       /proc/uptime open+read+close per inner round (default 3000)
#   ECI_BENCH_UPTIME_ROUNDS  inner rounds of the uptime probe (it prints their median; default 5)
#   ECI_BENCH_START_N        `docker run --rm busybox true` per runtime per round (default 3)
#   ECI_NOTIFY_FLOOR         bench/notify_floor (default $ECI_BUILD_DIR/bench/notify_floor): when
#                            it is there, each round also times the floor of a trapped pair (a
#                            supervisor that only performs the call) and the report gives issue
#                            15's figure, eci's trapped pair / that floor (target <= 1.5)
#
# Prints a table (figure | runc median | eci median | ratio | target | met?) plus loadavg and
# kernel. Exit status: 0 when every sample was measured, even if targets are missed (this is a
# report, not a gate); 1 when a measurement failed (a failed probe is never counted as a sample);
# 2 on usage errors. Needs root (the harness starts its own containerd and dockerd).
set -euo pipefail

usage() { echo "usage: $0 SECCOMP_PROBE UPTIME_PROBE [ROUNDS]" >&2; exit 2; }
(($# >= 2)) || usage
seccomp_probe=$1 uptime_probe=$2
rounds=${3:-${ECI_BENCH_ROUNDS:-7}}
n_getppid=${ECI_BENCH_GETPPID_N:-2000000}
n_mount=${ECI_BENCH_MOUNT_N:-2000}
n_uptime=${ECI_BENCH_UPTIME_N:-3000}
uptime_rounds=${ECI_BENCH_UPTIME_ROUNDS:-5}
n_start=${ECI_BENCH_START_N:-3}
for v in "$rounds" "$n_getppid" "$n_mount" "$n_uptime" "$uptime_rounds" "$n_start"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: not a positive count: $v" >&2; usage; }
done
[[ -x $seccomp_probe && -x $uptime_probe ]] || { echo "compare.sh: probe not executable" >&2; usage; }
[[ $(id -u) == 0 ]] || { echo "compare.sh: needs root (private dockerd)" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../tests/e2e/lib/harness.sh
. "$here/../tests/e2e/lib/harness.sh"
export ECI_HARNESS_PLAIN_RUNC=1 ECI_HARNESS_NO_RUNC_LOG=1

# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  # eci_down is written for `set +e` (kill/wait of daemons return non-zero by design); under -e
  # the first failing kill would abandon the rest of the teardown.
  set +e
  eci_down
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
eci_up >/dev/null || { echo "compare.sh: engine did not start" >&2; exit 1; }
# eci-runc against plain runc on the same dockerd, both through dockerd's private socket: the
# guard in front of the public one forces the default runtime (bench_apiproxy measures the guard).
export DOCKER_HOST="unix://$ECI_DOCKERD_SOCK"
# eci_up turns errexit off and installs its own EXIT trap; take both back.
set -e
trap cleanup EXIT

# Samples live under the harness dir, which eci_down removes.
W=$ECI_T/bench
mkdir -p "$W" "$ECI_T/probe"
# The probes are bind-mounted read-only; eci runs the container in a user namespace, so they
# must be world-readable/executable (ECI_T itself is 0711).
cp "$seccomp_probe" "$ECI_T/probe/probe"
cp "$uptime_probe" "$ECI_T/probe/uptime"
chmod 0755 "$ECI_T/probe" "$ECI_T/probe/probe" "$ECI_T/probe/uptime"

# The rows are only comparable if "no flag" really means eci and both runtimes get dockerd's
# default seccomp profile; refuse to report numbers for a different setup.
map_eci=$(docker run --rm busybox cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')
map_runc=$(docker run --rm --runtime plain-runc busybox cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')
[[ $map_eci =~ ^0\ [1-9][0-9]*\ 65536$ && $map_runc == "0 0 4294967295" ]] ||
  { echo "compare.sh: default runtime not eci ($map_eci) or plain-runc not runc ($map_runc)" >&2; exit 1; }
secopts=$(docker info --format '{{join .SecurityOptions ","}}')
[[ $secopts == *name=seccomp* ]] ||
  { echo "compare.sh: dockerd has no seccomp profile ($secopts)" >&2; exit 1; }
# Docker's default AppArmor profile denies mount even with CAP_SYS_ADMIN.
mount_opts=(--cap-add SYS_ADMIN)
[[ $secopts != *name=apparmor* ]] || mount_opts+=(--security-opt apparmor=unconfined)

vol=(-v "$ECI_T/probe:/probe:ro")
mount_cmd=(sh -c "mkdir -p /tmp/m && exec /probe/probe mountloop /tmp/m $n_mount")

# --privileged rows. For runc, --privileged means no seccomp filter at all (and every capability).
# runc cannot grant a capability the host itself lacks (sandboxed CI hosts often run without
# CAP_SYS_RESOURCE in their bounding set) and Docker ignores --cap-drop with --privileged; then
# the closest runc can do is what matters for these rows: no filter, CAP_SYS_ADMIN for mount.
priv_eci=(--privileged)
priv_runc=(--privileged)
priv_note=""
if ! err=$(docker run --rm --runtime plain-runc --privileged busybox true 2>&1); then
  priv_runc=(--security-opt seccomp=unconfined "${mount_opts[@]}")
  # The innermost "unable to ...: reason" of runc's error chain (greedy .* skips the outer ones).
  why=$(sed -n 's/.*\(unable to [^:]*: [^:]*\).*/\1/p' <<<"$err" | head -n1)
  priv_note="runc --privileged fails on this host (${why:-${err:0:120}}); its (info) rows use"
  priv_note+=" runc ${priv_runc[*]}"
fi

# Figures, in table order: id|label|unit|target ('-' = informational).
figures=(
  "getppid|getppid, default seccomp profile|ns/op|1.01"
  "getppid_priv|getppid, --privileged (info)|ns/op|-"
  "mount|tmpfs mount+umount, --cap-add SYS_ADMIN|ns/op|1.5"
  "mount_priv|tmpfs mount+umount, --privileged (info)|ns/op|-"
  "uptime|/proc/uptime open+read+close|ns/op|2.0"
  "start|docker run --rm busybox true|ms|1.10"
)

failed=0
fail_sample() {  # FIGURE RUNTIME WHY OUTPUT-FILE
  failed=1
  : >"$W/$1.failed"
  {
    echo "compare.sh: $1 ($2) failed: $3"
    sed 's/^/  | /' "$4" | head -n 20
  } >&2
  # Without the engine every later sample fails too. This is also how a Ctrl-C ends the run:
  # it stops the private dockerd (same process group), but bash runs no INT trap because the
  # docker client exits normally instead of dying of the signal.
  if ! kill -0 "${ECI_DOCKERD_PID:-0}" 2>/dev/null; then
    echo "compare.sh: the private dockerd is gone; stopping" >&2
    exit 1
  fi
}

# One sample of FIGURE under RUNTIME (eci|runc): appends a number to $W/FIGURE.RUNTIME, or marks
# the figure failed. A figure that failed once is not sampled again (its median would be built
# from a biased subset).
sample() {
  local fig=$1 rt=$2 rtargs=() priv out=$W/out val t0 t1
  [[ ! -e $W/$fig.failed ]] || return 0
  priv=("${priv_eci[@]}")
  [[ $rt == eci ]] || { rtargs=(--runtime plain-runc); priv=("${priv_runc[@]}"); }
  case $fig in
    getppid) set -- "${vol[@]}" busybox /probe/probe getppid "$n_getppid" ;;
    getppid_priv) set -- "${priv[@]}" "${vol[@]}" busybox /probe/probe getppid "$n_getppid" ;;
    mount) set -- "${mount_opts[@]}" "${vol[@]}" busybox "${mount_cmd[@]}" ;;
    mount_priv) set -- "${priv[@]}" "${vol[@]}" busybox "${mount_cmd[@]}" ;;
    uptime) set -- "${vol[@]}" busybox /probe/uptime "$n_uptime" "$uptime_rounds" ;;
    start)
      # Wall time of the whole client command, as a user sees it. EPOCHREALTIME avoids forking
      # date(1) around the measurement; strip the decimal point (',' in some locales) -> µs.
      t0=${EPOCHREALTIME//[.,]/}
      if ! docker run --rm "${rtargs[@]}" busybox true >"$out" 2>&1; then
        fail_sample "$fig" "$rt" "docker run exited non-zero" "$out"
        return 0
      fi
      t1=${EPOCHREALTIME//[.,]/}
      awk -v d=$((t1 - t0)) 'BEGIN { printf "%.3f\n", d / 1000 }' >>"$W/$fig.$rt"
      return 0
      ;;
  esac
  if ! docker run --rm "${rtargs[@]}" "$@" >"$out" 2>&1; then
    fail_sample "$fig" "$rt" "container exited non-zero" "$out"
    return 0
  fi
  # Only a well-formed timing line counts; anything else (an errno line, nothing) is a failure.
  val=$(sed -En 's/^(ns\/op |median_ns_per_op=)([0-9]+(\.[0-9]+)?)( .*)?$/\2/p' "$out")
  if [[ ! $val =~ ^[0-9]+(\.[0-9]+)?$ ]] || awk -v v="$val" 'BEGIN { exit !(v <= 0) }'; then
    fail_sample "$fig" "$rt" "no timing in the probe's output" "$out"
    return 0
  fi
  echo "$val" >>"$W/$fig.$rt"
}

median() {  # FILE
  sort -g "$1" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# Sanity of the setup, shown in the report: which seccomp mode and uid map each configuration
# really gets (runc --privileged: mode 0, identity map; eci: always mode 2 and a shifted map).
setup_line() {  # LABEL DOCKER-RUN-ARGS...
  local label=$1 got
  shift
  if got=$(docker run --rm "$@" busybox cat /proc/self/status /proc/self/uid_map 2>&1); then
    got=$(awk '/^Seccomp:/ { s = $2 } END { printf "Seccomp mode %s, uid_map %s:%s:%s", s, $1, $2, $3 }' <<<"$got")
  else
    got="FAILED: ${got:0:200}"
  fi
  printf '  %-18s %s\n' "$label" "$got"
}

# Warm-up (image layers, page cache, first-start costs of each runtime); not counted.
for rt in runc eci; do
  rtargs=()
  [[ $rt == eci ]] || rtargs=(--runtime plain-runc)
  for cmd in "/probe/probe getppid 1000" "/probe/uptime 10 1" "true"; do
    # shellcheck disable=SC2086  # cmd is a word list on purpose
    docker run --rm "${rtargs[@]}" "${vol[@]}" busybox $cmd >/dev/null 2>&1 ||
      { echo "compare.sh: warm-up ($cmd) failed under $rt" >&2; exit 1; }
  done
done

setup=$(
  setup_line "runc" --runtime plain-runc
  setup_line "eci"
  setup_line "runc (info rows)" --runtime plain-runc "${priv_runc[@]}"
  setup_line "eci (info rows)" "${priv_eci[@]}"
)

# The floor of a trapped pair, sampled in the same rounds as eci's (bench/notify_floor.c: a
# seccomp-notify supervisor that does nothing but make the caller's mount and umount itself, on
# the host in a private mount namespace). Its "no filter" line is kept too: set next to runc's
# in-container pair it shows how much of a gap is the container's mount table, not the supervisor.
notify_floor=${ECI_NOTIFY_FLOOR:-${ECI_BUILD_DIR:-build}/bench/notify_floor}
[[ -x $notify_floor ]] || notify_floor=""
floor_sample() {
  local out=$W/floor.out acts plain
  [[ -n $notify_floor && ! -e $W/floor.failed ]] || return 0
  if ! "$notify_floor" "$n_mount" 1 >"$out" 2>&1; then
    failed=1
    : >"$W/floor.failed"
    echo "compare.sh: notify_floor failed" >&2
    sed 's/^/  | /' "$out" | head -n 10 >&2
    return 0
  fi
  acts=$(sed -En 's/^ *notify \+ supervisor mounts itself +([0-9]+) ns\/pair.*/\1/p' "$out")
  plain=$(sed -En 's/^ *no filter +([0-9]+) ns\/pair.*/\1/p' "$out")
  if [[ ! $acts =~ ^[1-9][0-9]*$ || ! $plain =~ ^[1-9][0-9]*$ ]]; then
    failed=1
    : >"$W/floor.failed"
    echo "compare.sh: no timing in notify_floor's output" >&2
    return 0
  fi
  echo "$acts" >>"$W/floor.acts"
  echo "$plain" >>"$W/floor.plain"
}

# Rounds: every figure once per runtime per round; who goes first alternates so a drift in
# machine load (other users of the 2 cores) does not favour one runtime.
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order=(runc eci); else order=(eci runc); fi
  for f in "${figures[@]}"; do
    fig=${f%%|*}
    reps=1
    [[ $fig != start ]] || reps=$n_start
    for ((k = 0; k < reps; k++)); do
      for rt in "${order[@]}"; do sample "$fig" "$rt"; done
    done
    [[ $fig != mount ]] || floor_sample
  done
  echo "compare.sh: round $r/$rounds done (loadavg $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Report.
echo
echo "eci vs runc, one private dockerd (dockerd $(docker version --format '{{.Server.Version}}')), $rounds interleaved rounds"
echo "kernel $(uname -r), $(nproc) CPUs, loadavg before $load_before, after $load_after"
echo "dockerd security options: $secopts"
printf 'iterations: getppid %s, mount+umount %s, uptime %s x %s (probe median), start %s x %s rounds\n' \
  "$n_getppid" "$n_mount" "$n_uptime" "$uptime_rounds" "$n_start" "$rounds"
echo "setup check (what each container sees):"
echo "$setup"
echo
fmt='%-42s | %15s | %15s | %6s | %6s | %s\n'
# shellcheck disable=SC2059  # fmt is ours
printf "$fmt" "figure" "runc median" "eci median" "ratio" "target" "met?"
printf '%s\n' "-------------------------------------------+-----------------+-----------------+--------+--------+-----"
for f in "${figures[@]}"; do
  IFS='|' read -r fig label unit target <<<"$f"
  if [[ -e $W/$fig.failed ]]; then
    # shellcheck disable=SC2059
    printf "$fmt" "$label" "-" "-" "-" "${target/#-/info}" "MEASUREMENT FAILED"
    continue
  fi
  rm_=$(median "$W/$fig.runc") em=$(median "$W/$fig.eci")
  ratio=$(awk -v e="$em" -v r="$rm_" 'BEGIN { printf "%.3f", e / r }')
  if [[ $target == - ]]; then
    met="info, no target"
  elif awk -v x="$ratio" -v t="$target" 'BEGIN { exit !(x <= t) }'; then
    met=yes
  else
    met=NO
  fi
  # shellcheck disable=SC2059
  printf "$fmt" "$label" "$(printf '%.1f %s' "$rm_" "$unit")" "$(printf '%.1f %s' "$em" "$unit")" \
    "$ratio" "$target" "$met"
done
echo
echo "(info) rows: --privileged drops Docker's seccomp profile for runc (no filter at all) while eci"
echo "       keeps its own filter, so they show eci's full cost, not a like-for-like ratio."
[[ -z $priv_note ]] || echo "       note: $priv_note."
if [[ -n $notify_floor && ! -e $W/floor.failed && ! -e $W/mount.failed ]]; then
  fa=$(median "$W/floor.acts") fp=$(median "$W/floor.plain") em=$(median "$W/mount.eci")
  rm_=$(median "$W/mount.runc")
  ratio=$(awk -v e="$em" -v f="$fa" 'BEGIN { printf "%.3f", e / f }')
  met=NO
  ! awk -v x="$ratio" 'BEGIN { exit !(x <= 1.5) }' || met=yes
  echo
  echo "trapped tmpfs mount+umount pair against the floor of any seccomp-notify supervisor"
  echo "(bench/notify_floor.c, same rounds; issue 15's figure: eci / floor <= 1.5):"
  printf '  floor, supervisor only performs the call  %9.0f ns/pair\n' "$fa"
  printf '  eci, --cap-add SYS_ADMIN                  %9.0f ns/pair   eci / floor = %s  met? %s\n' \
    "$em" "$ratio" "$met"
  printf '  untrapped pair: floor host ns %.0f ns, runc container %.0f ns (the container'"'"'s own\n' \
    "$fp" "$rm_"
  echo "  mount table's share of any gap)"
elif [[ -z $notify_floor ]]; then
  echo
  echo "(no bench/notify_floor built: the trapped pair's ratio to the floor is not reported)"
fi
echo
echo "samples (runc / eci):"
for f in "${figures[@]}"; do
  fig=${f%%|*}
  [[ ! -e $W/$fig.failed ]] || continue
  printf '  %-13s runc: %s\n  %-13s eci:  %s\n' "$fig" "$(paste -sd' ' "$W/$fig.runc")" "" \
    "$(paste -sd' ' "$W/$fig.eci")"
done

((failed == 0)) || { echo "compare.sh: some measurements failed (see above)" >&2; exit 1; }
exit 0
