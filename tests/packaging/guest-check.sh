#!/bin/bash
# Runs INSIDE the booted Debian 12 guest (boot_test.sh), as the oneshot unit eci-boot-check.service
# after multi-user.target. Writes "ok - ..." / "FAIL - ..." lines to /root/boot-check.log; the
# host counts them. Phase 1 (first boot) ends with a reboot, phase 2 with a poweroff.
set -u
log=/root/boot-check.log
phase=$(cat /root/boot-phase 2>/dev/null || echo 1)
ok() { echo "ok   - [boot $phase] $1" >>"$log"; }
no() { echo "FAIL - [boot $phase] $1${2:+: $2}" >>"$log"; }
check() { local n=$1; shift; local o; if o=$("$@" 2>&1); then ok "$n"; else no "$n" "${o:0:300}"; fi; }
eq() { if [[ "$2" == "$3" ]]; then ok "$1"; else no "$1" "want [$2] got [${3:0:300}]"; fi; }
remapped() {  # NAME UID_MAP
  if [[ "$2" =~ ^0\ ([0-9]+)\ 65536$ ]] && ((BASH_REMATCH[1] >= 100000)); then ok "$1 ($2)"; else
    no "$1" "uid_map [$2]"; fi
}
trim() { tr -s ' ' | sed 's/^ //'; }
mono() { systemctl show -p "$2" --value "$1"; }
uidmap() { timeout 120 docker run --rm "$@" busybox cat /proc/self/uid_map 2>&1 | trim; }

import_busybox() {
  docker image inspect busybox >/dev/null 2>&1 && return 0
  local r=/root/bb
  mkdir -p "$r"/{bin,etc,tmp,root,proc,sys,dev}
  cp /bin/busybox "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do [[ $a == busybox ]] || ln -sf busybox "$r/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
  tar -C "$r" --numeric-owner -cf /root/bb.tar . && docker import /root/bb.tar busybox:latest >/dev/null
}

echo "--- boot $phase" >>"$log"
for u in eci-enforcerd.service containerd.service docker.service; do
  eq "$u active" active "$(systemctl is-active "$u")"
done
eq "eci-enforcerd is Type=notify" notify "$(systemctl show -p Type --value eci-enforcerd)"
ready=$(mono eci-enforcerd ActiveEnterTimestampMonotonic)
for u in containerd docker; do
  began=$(mono "$u" InactiveExitTimestampMonotonic)
  if ((ready > 0 && began >= ready)); then ok "eci-enforcerd ready ($ready us) before $u started ($began us)"
  else no "eci-enforcerd ready before $u started" "ready=$ready $u began=$began"; fi
done
# The same order as the journal tells it (systemd logs "Started" of a notify unit on READY=1).
j=$(journalctl -b -o short-monotonic --no-pager 2>/dev/null)
ln_eci=$(grep -n 'Started eci-enforcerd.service' <<<"$j" | head -n1 | cut -d: -f1)
for u in containerd docker; do
  ln_u=$(grep -n "Starting $u.service" <<<"$j" | head -n1 | cut -d: -f1)
  if [[ -n $ln_eci && -n $ln_u ]] && ((ln_eci < ln_u)); then ok "journal: eci-enforcerd ready before $u starts"
  else no "journal: eci-enforcerd ready before $u starts" "eci line ${ln_eci:-none}, $u line ${ln_u:-none}"; fi
done
grep 'Started eci-enforcerd.service\|Starting containerd.service\|Starting docker.service' <<<"$j" |
  head -n 3 >>"$log"

import_busybox || no "busybox imported" "docker import failed"
remapped "docker run --rm busybox: remapped" "$(uidmap)"
remapped "docker run --rm --runtime=runc busybox: remapped" "$(uidmap --runtime=runc)"
# The guard owns the public socket (contract 2): it refuses an engine-socket mount with Docker's
# message, which dockerd itself never says.
if out=$(docker run --rm -v /var/run/docker.sock:/var/run/docker.sock busybox true 2>&1); then
  no "guard refuses a socket mount" "the container ran"
elif grep -qF "docker socket mount denied" <<<"$out"; then ok "guard refuses a socket mount"
else no "guard refuses a socket mount" "$out"; fi
st=$(eci-admin status 2>&1)
for w in "ok       runc diversion" "ok       /usr/sbin/runc is eci-runc" "ok       engine uses eci: dockerd" \
  "ok       engine uses eci: containerd" "ok       engine API guard"; do
  if grep -qF "$w" <<<"$st"; then ok "status: ${w#ok       }"; else no "status: ${w#ok       }" "$(grep -A20 '^Wiring' <<<"$st")"; fi
done

if [[ $phase == 1 ]]; then
  check "signed policy pushed (serial 7)" eci-admin policy push /root/policy.bundle
  eq "status: serial 7 verified" "7 true" \
    "$(eci-admin status --format json | jq -r '"\(.enforcer.serial) \(.enforcer.verified)"')"
  echo 2 >/root/boot-phase
  systemctl reboot --no-block
  exit 0
fi

# phase 2: after a reboot
eq "after reboot: serial 7 still verified" "7 true" \
  "$(eci-admin status --format json | jq -r '"\(.enforcer.serial) \(.enforcer.verified)"')"
# Upgrade while a container runs (dpkg -i of the package again: preinst upgrade, postinst configure
# with the old version): eci-enforcerd is replaced; systemd try-restarts the engine with it
# (Requires=), live-restore keeps the container running in its range, new containers are
# protected, the policy stays.
id=$(docker run -d busybox sleep 600)
eci_pid=$(systemctl show -p MainPID --value eci-enforcerd)
check "upgrade: dpkg -i eci.deb while a container runs" dpkg -i /root/eci.deb
for _ in $(seq 100); do
  new_pid=$(systemctl show -p MainPID --value eci-enforcerd)
  [[ $new_pid != "$eci_pid" && $new_pid != 0 && $(systemctl is-active eci-enforcerd) == active ]] && break
  sleep 0.2
done
if [[ $new_pid != "$eci_pid" && $new_pid != 0 ]]; then ok "upgrade: eci-enforcerd replaced (pid $eci_pid -> $new_pid)"
else no "upgrade: eci-enforcerd replaced" "pid $eci_pid -> $new_pid"; fi
for _ in $(seq 150); do [[ $(systemctl is-active docker.service) == active ]] && break; sleep 0.2; done
eq "upgrade: dockerd running" active "$(systemctl is-active docker.service)"
eq "upgrade: the container still runs" true "$(docker inspect -f '{{.State.Running}}' "$id" 2>&1)"
remapped "upgrade: the running container keeps its range" "$(docker exec "$id" cat /proc/self/uid_map | trim)"
remapped "upgrade: a new container is remapped" "$(uidmap --runtime=runc)"
eq "upgrade: serial 7 still verified" "7 true" \
  "$(eci-admin status --format json | jq -r '"\(.enforcer.serial) \(.enforcer.verified)"')"
docker rm -f "$id" >/dev/null 2>&1

# Stopping eci stops the engine with it (drop-in Requires=).
systemctl stop eci-enforcerd.service
eq "stopping eci-enforcerd stops dockerd" inactive "$(systemctl is-active docker.service)"
eq "... and containerd" inactive "$(systemctl is-active containerd.service)"
# docker.socket may start the engine again: it then pulls eci-enforcerd up first (never runs
# without it). With eci unable to start, `docker run` fails instead of running unprotected.
out=$(uidmap)
if [[ $out == "0 0 4294967295" ]]; then no "after stopping eci: never an unprotected container" "$out"
else ok "after stopping eci: no unprotected container ($out)"; fi
systemctl mask --runtime eci-enforcerd.service >/dev/null 2>&1
systemctl stop eci-enforcerd.service docker.service containerd.service
if out=$(timeout 60 docker run --rm busybox cat /proc/self/uid_map 2>&1); then
  no "eci unable to start: docker run fails" "it ran: $out"
else ok "eci unable to start: docker run fails (${out:0:120})"; fi
eq "eci unable to start: dockerd not running" inactive "$(systemctl is-active docker.service)"

# Purge: the engine works again, as plain Docker (runc back, drop-ins gone, daemon.json restored).
systemctl unmask --runtime eci-enforcerd.service >/dev/null 2>&1
check "purge: dpkg -P eci" dpkg -P eci
eq "purge: /usr/sbin/runc is Debian's again" "" "$(dpkg-divert --list /usr/sbin/runc)"
systemctl start containerd.service docker.service
for _ in $(seq 60); do [[ $(systemctl is-active docker.service) == active ]] && break; sleep 1; done
eq "purge: dockerd runs without eci" active "$(systemctl is-active docker.service)"
if [[ $(systemctl is-active docker.service) != active ]]; then
  { systemctl status docker.socket --no-pager; ls -la /run/docker.sock /run/eci; journalctl -b -u docker.socket -o cat -n 20 --no-pager; } 2>&1 | sed 's/^/    socket: /' >>"$log"
  journalctl -b -u docker.service -u containerd.service -o cat -n 40 --no-pager 2>&1 |
    sed 's/^/    dockerd: /' >>"$log"
fi
eq "purge: docker run works, as plain Docker (no remapping)" "0 0 4294967295" "$(uidmap)"
echo "done" >/root/boot-phase
systemctl poweroff --no-block
