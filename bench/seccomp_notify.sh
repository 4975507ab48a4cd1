#!/bin/bash
# Seccomp-notify cost (owner: seccomp): a static probe times N iterations inside a container under
# plain runc (no filter) and under runc + eci's merged filter + eci-seccompd, interleaved, R rounds;
# prints medians and eci/runc ratios. Gates (issue 4): getppid <= 1.01 (nothing on the data path is
# trapped), tmpfs mount+umount pair <= 1.5. Needs root, /usr/sbin/runc, busybox-static.
# Usage: seccomp_notify.sh SECCOMPD PROBE SPECGEN [ROUNDS] [GETPPID_N] [MOUNT_N]
set -u
SECCOMPD=$1 PROBE=$2 SPECGEN=$3 R=${4:-7} NG=${5:-2000000} NM=${6:-2000}
RUNC=${RUNC:-/usr/sbin/runc}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
T=$(mktemp -d /tmp/eci-seccomp-bench.XXXXXX); chmod 755 $T
SUP=
trap '[ -n "$SUP" ] && kill $SUP 2>/dev/null; rm -rf $T' EXIT
R_=$T/rootfs; mkdir -p $R_/{bin,proc,sys,dev,tmp}
cp "$(command -v busybox)" $R_/bin/busybox; ln -s busybox $R_/bin/sh; mkdir -p $R_/tmp/m
cp "$PROBE" $R_/bin/probe; chown -R 100000:100000 $R_
(cd $T && "$RUNC" spec)
jq --arg root "$R_" '.process.terminal=false | .root.path=$root | .root.readonly=false |
  .process.capabilities.bounding += ["CAP_SYS_ADMIN"] | .process.capabilities.effective += ["CAP_SYS_ADMIN"] |
  .process.capabilities.permitted += ["CAP_SYS_ADMIN"] |
  .linux.namespaces += [{"type":"user"}] |
  .linux.uidMappings=[{"containerID":0,"hostID":100000,"size":65536}] |
  .linux.gidMappings=[{"containerID":0,"hostID":100000,"size":65536}]' $T/config.json > $T/runc.json
"$SPECGEN" $T/run/seccomp.sock bench < $T/runc.json > $T/eci.json
"$SECCOMPD" --socket $T/run/seccomp.sock > $T/sd.out 2>&1 & SUP=$!
for _ in $(seq 50); do grep -q ready $T/sd.out && break; sleep 0.1; done
i=0
run() {  # run SPEC ARGS... -> ns/op
  i=$((i + 1)); mkdir -p $T/b$i
  jq --argjson a "$(printf '%s\n' "$@" | tail -n +2 | jq -R . | jq -s .)" '.process.args=(["/bin/probe"] + $a)' "$1" > $T/b$i/config.json
  (cd $T/b$i && "$RUNC" --root $T/rr run "b$i" < /dev/null 2>&1) | awk '/ns\/op/ {print $2}'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
: > $T/g.runc; : > $T/g.eci; : > $T/m.runc; : > $T/m.eci
for r in $(seq $R); do
  run $T/runc.json getppid $NG >> $T/g.runc
  run $T/eci.json getppid $NG >> $T/g.eci
  run $T/runc.json mountloop /tmp/m $NM >> $T/m.runc
  run $T/eci.json mountloop /tmp/m $NM >> $T/m.eci
done
for f in g.runc g.eci m.runc m.eci; do [ "$(wc -l < $T/$f)" = "$R" ] || { echo "bench: $f has $(wc -l < $T/$f)/$R samples" >&2; exit 1; }; done
gr=$(median < $T/g.runc); ge=$(median < $T/g.eci); mr=$(median < $T/m.runc); me=$(median < $T/m.eci)
awk -v gr=$gr -v ge=$ge -v mr=$mr -v me=$me -v R=$R -v NG=$NG -v NM=$NM 'BEGIN {
  g = ge / gr; m = me / mr
  printf "getppid (%d rounds x %d):          runc %.1f ns/op  eci %.1f ns/op  ratio %.3f (gate <= 1.01: %s)\n", R, NG, gr, ge, g, g <= 1.01 ? "ok" : "OVER"
  printf "tmpfs mount+umount (%d rounds x %d): runc %.0f ns/op  eci %.0f ns/op  ratio %.3f (gate <= 1.5: %s)\n", R, NM, mr, me, m, m <= 1.5 ? "ok" : "OVER"
}'
