#!/usr/bin/env bash
# The floor of the boot test: `systemd-analyze verify` (offline) on every unit eci ships, with
# eci's vendor drop-ins applied to Debian's own docker.service and containerd.service, and the
# fail-closed wiring read back from systemd's view of the merged units.
#   units_verify.sh BUILD_DIR        (the units come from `cmake --install` into a stage dir)
set -u
build=${1:?usage: units_verify.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../e2e/lib/harness.sh"   # assertions only
command -v systemd-analyze >/dev/null || { echo "FAIL - systemd-analyze not installed"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
stage=$W/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
units=$W/units
mkdir -p "$units"
cp -r "$stage/lib/systemd/system/." "$units/"
# verify refuses a missing executable: point ExecStart at the staged binaries; eci-apiproxyd (the
# guard, another part) is not built yet, so its unit is checked with a stand-in executable.
printf '#!/bin/sh\n' >"$W/eci-apiproxyd" && chmod +x "$W/eci-apiproxyd"
sed -i -e "s#^ExecStart=/usr/sbin/eci-enforcerd#ExecStart=$stage/usr/sbin/eci-enforcerd#" \
  -e "s#^ExecStart=/usr/sbin/eci-agent#ExecStart=$stage/usr/sbin/eci-agent#" \
  -e "s#^ExecStart=/usr/sbin/eci-apiproxyd#ExecStart=$W/eci-apiproxyd#" "$units"/*.service
sed -i "s#/usr/libexec/eci/dockerd-start#$stage/usr/libexec/eci/dockerd-start#" \
  "$units/docker.service.d/eci.conf"
# Debian's engine units (docker.io, containerd) when installed here; the drop-ins apply to them.
for u in docker.service docker.socket containerd.service; do
  [[ -e /lib/systemd/system/$u ]] && cp "/lib/systemd/system/$u" "$units/"
done

verify() {  # UNIT...
  (cd "$units" && SYSTEMD_UNIT_PATH="$units:" SYSTEMD_LOG_LEVEL=notice \
    systemd-analyze verify --man=no "$@" 2>&1)
}
for u in eci-enforcerd.service eci-agent.service eci-apiproxyd.service; do
  out=$(verify "$units/$u")
  if grep -q "$u" <<<"$out"; then t_fail "verify $u" "$out"; else t_pass "verify $u"; fi
done
if [[ -e $units/docker.service ]]; then
  for u in docker.service containerd.service; do
    out=$(verify "$units/$u")
    if grep -q "eci" <<<"$out"; then t_fail "verify $u with eci's drop-in" "$out"; else
      t_pass "verify $u with eci's drop-in"; fi
  done
  # The engine requires and follows the enforcer.
  cat_docker=$(cat "$units/docker.service" "$units/docker.service.d/eci.conf")
  t_contains "docker.service Requires eci-enforcerd" "Requires=eci-enforcerd.service" "$cat_docker"
  t_contains "docker.service After eci-enforcerd" "After=eci-enforcerd.service" "$cat_docker"
  t_contains "containerd.service Requires eci-enforcerd" "Requires=eci-enforcerd.service" \
    "$(cat "$units/containerd.service.d/eci.conf")"
else
  echo "note: Debian's docker.service is not installed here; drop-ins verified against nothing"
fi
if [[ -e $units/docker.service ]]; then
  # Not hollow: a drop-in requiring a unit that does not exist fails verify.
  cp -r "$units" "$W/broken-units"
  sed -i 's/^Requires=eci-enforcerd.service/Requires=eci-not-there.service/' \
    "$W/broken-units/docker.service.d/eci.conf"
  out=$(cd "$W/broken-units" && SYSTEMD_UNIT_PATH="$W/broken-units:" systemd-analyze verify --man=no \
    "$W/broken-units/docker.service" 2>&1)
  t_contains "verify catches a drop-in requiring a missing unit" "eci-not-there.service" "$out"
fi
grep -qx 'Type=notify' "$units/eci-enforcerd.service" && t_pass "eci-enforcerd Type=notify" ||
  t_fail "eci-enforcerd Type=notify"
# The check is not hollow: a unit with a broken directive fails it.
sed 's/^Type=notify/Type=bogus/' "$units/eci-enforcerd.service" >"$units/broken.service"
out=$(verify "$units/broken.service")
t_contains "verify catches a broken unit" "broken.service" "$out"
t_ok "dockerd-start is valid sh" sh -n "$stage/usr/libexec/eci/dockerd-start"
t_summary
