#!/bin/sh
# run_fuzzer.sh FUZZER WORK_CORPUS SEED_CORPUS SECONDS
# libFuzzer writes new inputs into the first corpus dir, so the seeds in the source tree stay
# untouched. Exits non-zero (test fails) on any crash, leak, timeout or OOM.
set -eu
fuzzer=$1 work=$2 seeds=$3 secs=$4
mkdir -p "$work"
[ -n "$(ls -A "$seeds")" ] || { echo "seed corpus $seeds is empty" >&2; exit 1; }
exec "$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work" "$seeds"
