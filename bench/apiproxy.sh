#!/usr/bin/env bash
# eci-apiproxyd vs dockerd's socket directly, side by side on one private dockerd (the harness),
# interleaved rounds. Prints one table:
#   added latency per plain request (/_ping, /version, /containers/json), medians of N curls each;
#   docker run --rm busybox true, median of R runs each (guard / direct ratio);
#   docker cp out of a container, docker cp into one and docker logs of SIZE_MB MiB, MB/s each,
#   with the bare relay (the floor) next to them;
#   guard RSS with 100 open attach streams.
# Usage: ECI_BUILD_DIR=build bash bench/apiproxy.sh [N=300] [R=10] [SIZE_MB=1024]
# ECI_BENCH_PARTS: which parts run (default "latency pause run cp cpin logs rss").
# ECI_BENCH_SAMPLES: samples per throughput row and socket (default 3).
# ECI_BENCH_CPIN_ON_DISK=1: `docker cp` into writes to the container's overlay on disk instead of
#   a tmpfs bound into it (see the cpin row below).
set -u
. "$(dirname "$0")/../tests/e2e/lib/harness.sh"
N=${1:-300}
R=${2:-10}
SIZE_MB=${3:-1024}
SAMPLES=${ECI_BENCH_SAMPLES:-3}
PARTS=" ${ECI_BENCH_PARTS:-latency pause run cp cpin logs rss} "
part() { [[ "$PARTS" == *" $1 "* ]]; }
eci_up >/dev/null || { echo "harness did not start"; exit 1; }
G="$ECI_T/docker.sock"
D="$ECI_DOCKERD_SOCK"

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print a[int((NR+1)/2)]}'; }

# curl on one fresh connection per request; time_total in seconds -> microseconds
lat() {  # SOCK PATH
  curl -s -o /dev/null --unix-socket "$1" -w '%{time_total}\n' "http://d$2" |
    awk '{printf "%d\n", $1 * 1000000}'
}
# The floor: a bare relay (bench/relay_floor.c) in front of the same dockerd. What it adds is the
# extra hop itself, which any guard pays; the guard's own work is what it adds beyond that.
RELAY=${ECI_RELAY_FLOOR:-${ECI_BUILD_DIR:-build}/bench/relay_floor}
F=""
if [[ -x "$RELAY" ]]; then
  "$RELAY" "$ECI_T/floor.sock" "$D" &
  relay_pid=$!
  # Killed with the harness however the script ends: an orphaned relay would keep the bench
  # lock (bench/README) held through the fd it inherited.
  trap 'kill "$relay_pid" 2>/dev/null; eci_down' EXIT
  _eci_wait_for 10 test -S "$ECI_T/floor.sock" && F="$ECI_T/floor.sock"
fi
# A long-lived client next to curl's one process per request (bench/ping_client.c).
PING=${ECI_PING_CLIENT:-${ECI_BUILD_DIR:-build}/bench/ping_client}
# client_rows LABEL [VAR=VALUE...]: ping_client on GET $path against direct, guard and relay;
# prints the guard's row and the relay's, or why it failed.
client_rows() {
  local label=$1 wa wb wf
  shift
  if env "$@" "$PING" "$path" "$N" "$D" "$G" ${F:+"$F"} >"$ECI_T/w" 2>"$ECI_T/w.err"; then
    wa=$(awk -v s="$D" '$1 == s {print $2}' "$ECI_T/w")
    wb=$(awk -v s="$G" '$1 == s {print $2}' "$ECI_T/w")
    printf '%-34s %10sus %10sus %10sus\n' "  $label" "$wa" "$wb" "$((wb - wa))"
    if [[ -n "$F" ]]; then
      wf=$(awk -v s="$F" '$1 == s {print $2}' "$ECI_T/w")
      printf '%-34s %10sus %10sus %10sus\n' "  $label, bare relay" "$wa" "$wf" "$((wf - wa))"
    fi
  else
    echo "  $label: failed: $(head -c 200 "$ECI_T/w.err")"
  fi
}
printf '%-34s %12s %12s %12s\n' "measure" "direct" "guard" "added/ratio"
part latency && for path in /_ping /v1.41/version /v1.41/containers/json; do
  : >"$ECI_T/a" && : >"$ECI_T/b" && : >"$ECI_T/f"
  for ((i = 0; i < N; i++)); do
    lat "$D" "$path" >>"$ECI_T/a"
    lat "$G" "$path" >>"$ECI_T/b"
    [[ -n "$F" ]] && lat "$F" "$path" >>"$ECI_T/f"
  done
  a=$(median <"$ECI_T/a")
  b=$(median <"$ECI_T/b")
  printf '%-34s %10sus %10sus %10sus\n' "GET $path (median)" "$a" "$b" "$((b - a))"
  if [[ -n "$F" ]]; then
    f=$(median <"$ECI_T/f")
    printf '%-34s %10sus %10sus %10sus\n' "  floor: bare relay, same GET" "$a" "$f" "$((f - a))"
    printf '%-34s %12s %12s %10sus\n' "  guard beyond the floor" "" "" "$((b - f))"
  fi
  # The same GET from one long-lived client (an SDK's view: a fresh connection per request, no
  # process start before each one; bench/ping_client.c), the sockets sampled round-robin; then the
  # same client idle 5 ms before each request (no process start): what idleness alone costs each
  # side, apart from what a new process costs (the curl rows above).
  if [[ -x "$PING" ]]; then
    client_rows "warm client"
    client_rows "idle client, 5 ms" ECI_PING_IDLE_US=5000
  fi
done

# An interactive user: `docker ps` after a pause. The guard keeps its policy fresh in the
# background while clients come (Gate::refreshDecisionCaches); without that, the first GET after a
# second's pause waited for eci-enforcerd. 10 samples per socket, 1.5 s apart (ECI_BENCH_PAUSES).
PAUSES=${ECI_BENCH_PAUSES:-10}
part pause && {
  : >"$ECI_T/a" && : >"$ECI_T/b"
  for ((i = 0; i < PAUSES; i++)); do
    sleep 1.5
    lat "$D" /v1.41/containers/json >>"$ECI_T/a"
    sleep 1.5
    lat "$G" /v1.41/containers/json >>"$ECI_T/b"
  done
  a=$(median <"$ECI_T/a")
  b=$(median <"$ECI_T/b")
  printf '%-34s %10sus %10sus %10sus\n' "GET /containers/json, 1.5 s pauses" "$a" "$b" "$((b - a))"
}

runtime() {  # SOCK -> ms
  local s e
  s=$(date +%s%N)
  DOCKER_HOST="unix://$1" docker run --rm busybox true >/dev/null 2>&1
  e=$(date +%s%N)
  echo $(((e - s) / 1000000))
}
: >"$ECI_T/a" && : >"$ECI_T/b"
part run && for ((i = 0; i < R; i++)); do
  runtime "$D" >>"$ECI_T/a"
  runtime "$G" >>"$ECI_T/b"
done
if part run; then
  a=$(median <"$ECI_T/a")
  b=$(median <"$ECI_T/b")
  printf '%-34s %10sms %10sms %11s\n' "docker run --rm true (median)" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3fx", b / a}')"
fi

# Throughput: a container holding SIZE_MB MiB in a file and having written it to its log.
# Log lines of printable text: NULs would be JSON-escaped sixfold in the json-file log.
# Sizes in bytes: busybox head takes no M suffix ("invalid number '64M'").
BYTES=$((SIZE_MB * 1048576))
# `docker cp` into lands on a tmpfs bound into the container at /dst (a host bind under /tmp,
# allowed): written into the overlay on disk, samples of the same socket spread over a factor of
# four as the page cache's writeback decided (bench/README.md, twelfth session), which hid the
# guard's cost. In memory, dockerd's extraction runs at CPU speed and the relay is what differs.
# eci_down unmounts it with the rest of $ECI_T.
cpin_dst=/upload cpin_bind=()
if part cpin && [[ "${ECI_BENCH_CPIN_ON_DISK:-}" != 1 ]]; then
  mkdir -p "$ECI_T/cpin" &&
    mount -t tmpfs -o size=$((2 * SIZE_MB + 64))m eci-bench-cpin "$ECI_T/cpin" &&
    cpin_dst=/dst/upload cpin_bind=(-v "$ECI_T/cpin:/dst")
fi
if part cp || part cpin || part logs; then
  docker run -d --name big "${cpin_bind[@]}" busybox sh -c "head -c $BYTES /dev/zero > /big.tmp && mv /big.tmp /big; yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde | head -c $BYTES; sleep 100000" >/dev/null
  until docker exec big sh -c "test \$(stat -c %s /big) -eq $BYTES" 2>/dev/null; do sleep 1; done
  sleep 2
fi
mbps() {  # SOCK CMD... -> MB/s
  local sock=$1 s e
  shift
  s=$(date +%s%N)
  DOCKER_HOST="unix://$sock" "$@" >/dev/null 2>&1
  e=$(date +%s%N)
  awk -v mb="$SIZE_MB" -v ns=$((e - s)) 'BEGIN {printf "%.0f\n", mb / (ns / 1e9)}'
}
# docker cp INTO the container: an upload (PUT .../archive, a chunked tar body) of a file of
# SIZE_MB MiB (sparse: reading it costs no disk), to the same path each time.
truncate -s "$BYTES" "$ECI_T/upload"
for what in cp cpin logs; do
  part "$what" || continue
  case $what in
    cp) cmd=(docker cp big:/big -) label="docker cp out" ;;
    cpin) cmd=(docker cp "$ECI_T/upload" "big:$cpin_dst") label="docker cp into${cpin_bind:+ (tmpfs)}" ;;
    logs) cmd=(docker logs big) label="docker logs" ;;
  esac
  : >"$ECI_T/a" && : >"$ECI_T/b" && : >"$ECI_T/f"
  for ((i = 0; i < SAMPLES; i++)); do
    mbps "$D" "${cmd[@]}" >>"$ECI_T/a"
    mbps "$G" "${cmd[@]}" >>"$ECI_T/b"
    [[ -n "$F" ]] && mbps "$F" "${cmd[@]}" >>"$ECI_T/f"
  done
  a=$(median <"$ECI_T/a")
  b=$(median <"$ECI_T/b")
  printf '%-34s %8sMB/s %8sMB/s %11s\n' "$label ${SIZE_MB} MiB (median of $SAMPLES)" "$a" "$b" \
    "$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3fx", b / a}')"
  if [[ -n "$F" ]]; then
    f=$(median <"$ECI_T/f")
    printf '%-34s %8sMB/s %8sMB/s %11s\n' "  floor: bare relay, same" "$a" "$f" \
      "$(awk -v a="$a" -v b="$f" 'BEGIN {printf "%.3fx", b / a}')"
  fi
  echo "  samples direct: $(tr '\n' ' ' <"$ECI_T/a")guard: $(tr '\n' ' ' <"$ECI_T/b")floor: $(tr '\n' ' ' <"$ECI_T/f")"
done
[[ -n "${relay_pid:-}" ]] && kill "$relay_pid" 2>/dev/null
docker rm -f big >/dev/null 2>&1

# RSS with 100 open attach streams through the guard.
part rss || exit 0
docker run -d --name att -i busybox sh -c 'while true; do sleep 1; done' >/dev/null
pids=()
for ((i = 0; i < 100; i++)); do
  DOCKER_HOST="unix://$G" docker attach --no-stdin --sig-proxy=false att >/dev/null 2>&1 &
  pids+=($!)
done
sleep 5
streams=$(ls -l /proc/"$ECI_GUARD_PID"/fd 2>/dev/null | grep -c socket)
rss=$(awk '/VmRSS/ {print $2}' /proc/"$ECI_GUARD_PID"/status)
printf '%-34s %12s %10sKiB %11s\n' "guard RSS, 100 attach streams" "-" "$rss" "${streams} sockets"
# KILL: docker attach outlives TERM (proxied or not), and the wait below would never return.
for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
# Only these: a bare `wait` would wait for the harness's daemons too, forever.
wait "${pids[@]}" 2>/dev/null
docker rm -f att >/dev/null
