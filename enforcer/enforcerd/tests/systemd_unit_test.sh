#!/usr/bin/env bash
# Checks the shipped systemd unit and tmpfiles snippet with systemd's own tools. PID 1 is not
# systemd here, so `systemd-analyze verify` runs offline against a copy of the unit whose
# ExecStart points at the freshly built binary (verify refuses a missing executable).
# usage: systemd_unit_test.sh INSTALLERS_SYSTEMD_DIR ECI_ENFORCERD_BIN
set -euo pipefail
src=$1 bin=$2
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze not installed"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unit=$src/eci-enforcerd.service

# Ordering and install contract, as ARCHITECTURE.md fixes it.
grep -qx 'Before=docker.service containerd.service' "$unit" || { echo "FAIL: Before= missing"; exit 1; }
grep -qx 'WantedBy=multi-user.target' "$unit" || { echo "FAIL: WantedBy= missing"; exit 1; }

sed "s#^ExecStart=/usr/sbin/eci-enforcerd#ExecStart=$bin#" "$unit" >"$work/eci-enforcerd.service"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$work/eci-enforcerd.service" 2>&1) || {
  echo "FAIL: systemd-analyze verify:"; echo "$out"; exit 1; }
# verify exits 0 on some warnings; any line about our unit is a finding.
if grep -q 'eci-enforcerd.service' <<<"$out"; then
  echo "FAIL: systemd-analyze verify reported:"; echo "$out"; exit 1
fi

# A unit with a broken directive must fail the same check (the check is not hollow).
sed 's/^Type=notify/Type=bogus/' "$work/eci-enforcerd.service" >"$work/broken.service"
if bad=$(systemd-analyze verify --man=no "$work/broken.service" 2>&1) && ! grep -q 'broken.service' <<<"$bad"; then
  echo "FAIL: verify accepted a broken unit"; exit 1
fi

# The binary the unit starts accepts the unit's flags.
"$bin" --help | grep -q -- '--trusted-keys' || { echo "FAIL: eci-enforcerd --help"; exit 1; }

# tmpfiles snippet: create into a private root and check modes.
root=$work/root
systemd-tmpfiles --create --root="$root" "$src/eci.tmpfiles.conf"
[[ $(stat -c %a "$root/run/eci") == 700 ]] || { echo "FAIL: /run/eci mode"; exit 1; }
[[ $(stat -c %a "$root/var/lib/eci") == 700 ]] || { echo "FAIL: /var/lib/eci mode"; exit 1; }
[[ $(stat -c %a "$root/var/log/eci") == 700 ]] || { echo "FAIL: /var/log/eci mode"; exit 1; }
"$bin" --help | grep -q -- '--audit-log' || { echo "FAIL: eci-enforcerd --audit-log"; exit 1; }
[[ -d $root/etc/eci/trusted-keys ]] || { echo "FAIL: trusted-keys dir"; exit 1; }
echo "PASS: unit verified, tmpfiles applied"
