#!/usr/bin/env bash
# Proven by booting (issue 10): a Debian 12 root from Debian's registry (debian-root.sh: docker.io,
# runc, containerd, systemd, dbus), eci's .deb installed with dpkg, booted with
# `systemd-nspawn -b` twice (the first boot reboots). guest-check.sh runs inside as a unit after
# multi-user.target and checks: eci-enforcerd ready (Type=notify) before containerd and dockerd
# start (systemd's timestamps and the journal), `docker run` and `--runtime=runc` remapped,
# `eci-admin status` wiring, a pushed policy's serial kept across the reboot, an upgrade while a
# container runs (engine not restarted, container keeps its range), stopping eci stops the engine
# and `docker run` fails when eci cannot start; a purge gives the engine back as plain Docker.
#
#   boot_test.sh DEB|PACKAGES_DIR BUILD_DIR CACHE_DIR
# Exit 77 (CTest: skipped, NOT passed) with the exact reason when this machine cannot boot it.
# Floor when it cannot: tests/packaging/units_verify.sh (systemd-analyze verify of every unit).
set -u
deb=${1:?usage: boot_test.sh DEB BUILD_DIR CACHE_DIR} build=${2:?} cache=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
[[ -d $deb ]] && deb=$(ls "$deb"/eci_*.deb 2>/dev/null | head -n1)  # a packages dir: its eci_*.deb
t0=$SECONDS
skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn not installed (systemd-container)"
[[ -s $deb ]] || { echo "FAIL - no package at $deb"; exit 1; }
admin=$(find "$build" -type f -name eci-admin -perm -u+x | head -n1)
tarball=$("$here/debian-root.sh" "$cache") || skip "could not build a Debian 12 root with mmdebstrap"

W=$(mktemp -d /tmp/eci-boot.XXXXXX)
R=$W/root
cleanup() { umount -l "$R/proc" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$R"
tar -C "$R" -xf "$tarball"
echo "eci-boot" >"$R/etc/hostname"
# The guest's engine: no iptables/bridge inside nspawn's private network (an admin's keys, which
# the package must keep).
mkdir -p "$R/etc/docker"
echo '{"iptables": false, "ip-masq": false, "bridge": "none"}' >"$R/etc/docker/daemon.json"
cp "$deb" "$R/tmp/eci.deb"
cp "$deb" "$R/root/eci.deb"   # for the upgrade check inside (the guest's /tmp is a tmpfs)
mount -t proc proc "$R/proc"
chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg -i /tmp/eci.deb >"$W/dpkg.log" 2>&1 ||
  { echo "FAIL - dpkg -i in the guest root"; cat "$W/dpkg.log"; exit 1; }
umount "$R/proc"

# A signed policy for the guest (serial 7) and the key it trusts.
"$admin" keygen --out "$W/keys" >/dev/null
cp "$W/keys/eci-policy.pub" "$R/etc/eci/trusted-keys/boot-test.pub"
echo '{"enabled": true, "locked": true, "socketMount": {"images": [], "allowDerivedImages": true},
 "commandList": {"type": "deny", "commands": []}, "restrictedHostMounts": [], "allowedOrgs": [],
 "inputsDigest": ""}' >"$W/policy.json"
"$admin" policy sign --key "$W/keys/eci-policy.key" --serial 7 --policy "$W/policy.json" \
  -o "$R/root/policy.bundle" >/dev/null || { echo "FAIL - policy sign"; exit 1; }

install -m 0755 "$here/guest-check.sh" "$R/usr/local/sbin/eci-boot-check"
cat >"$R/etc/systemd/system/eci-boot-check.service" <<'EOF'
[Unit]
Description=eci boot test checks
After=multi-user.target docker.service
Wants=docker.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/eci-boot-check
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
ln -s /etc/systemd/system/eci-boot-check.service "$R/etc/systemd/system/multi-user.target.wants/"
echo 1 >"$R/root/boot-phase"
# No login prompts, no units this test does not need.
ln -sf /dev/null "$R/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$R/etc/systemd/system/systemd-networkd-wait-online.service"

# This machine runs cgroup v1 (tmpfs /sys/fs/cgroup) without systemd as PID 1. nspawn gets a
# cgroup2 hierarchy of its own in a private mount namespace (the host's mounts are untouched);
# runc/dockerd inside need keyctl and eci needs the new mount API, user namespaces and /dev/fuse.
boot() {
  unshare -m --propagation private bash -c '
    mount -t cgroup2 none /sys/fs/cgroup || exit 90
    mkdir -p /sys/fs/cgroup/eci-boot-$$ && echo $$ >/sys/fs/cgroup/eci-boot-$$/cgroup.procs
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 timeout 900 systemd-nspawn -q -D "$1" -b \
      --register=no --keep-unit --resolv-conf=off --private-network --capability=all \
      --system-call-filter="add_key keyctl bpf mount_setattr open_tree move_mount fsopen fsconfig fsmount fspick pidfd_getfd" \
      --bind=/dev/fuse </dev/null
    rc=$?
    # leave no cgroup behind in the (machine-wide) cgroup2 hierarchy
    echo $$ >/sys/fs/cgroup/cgroup.procs
    find /sys/fs/cgroup/eci-boot-$$ -depth -type d -exec rmdir {} + 2>/dev/null
    exit $rc' _ "$R"
}
boot >"$W/boot1.log" 2>&1
rc1=$?
rc2=skipped
if [[ $(cat "$R/root/boot-phase" 2>/dev/null) == 2 ]]; then
  boot >"$W/boot2.log" 2>&1
  rc2=$?
fi
dur=$((SECONDS - t0))
if [[ ! -s $R/root/boot-check.log ]]; then
  echo "boot 1 exit status $rc1; last lines of the console:"
  tail -n 40 "$W/boot1.log"
  [[ $rc1 == 90 ]] && skip "cannot mount a cgroup2 hierarchy for nspawn here"
  # The guest never got to multi-user: this machine cannot boot it (nspawn's own error says why).
  # A guest that booted but ran no check is a failure of ours.
  grep -q 'Reached target.*[Mm]ulti-[Uu]ser' "$W/boot1.log" ||
    skip "systemd-nspawn could not boot the guest here (exit $rc1): $(grep -v '^\s*$' "$W/boot1.log" | tail -n 3 | tr '\n' ' ')"
  echo "FAIL - the guest booted no check (see above); ${dur}s"
  exit 1
fi
cat "$R/root/boot-check.log"
echo "nspawn exit statuses: boot 1 $rc1 (133 = reboot), boot 2 $rc2"
[[ $(cat "$R/root/boot-phase") == "done" ]] || { echo "FAIL - the guest did not finish boot 2"; tail -n 40 "$W/boot2.log" 2>/dev/null; }
passed=$(grep -c '^ok ' "$R/root/boot-check.log")
failed=$(grep -c '^FAIL ' "$R/root/boot-check.log")
[[ $(cat "$R/root/boot-phase") == "done" ]] || failed=$((failed + 1))
echo "boot test took ${dur}s"
echo "$passed passed, $failed failed"
((failed == 0 && passed > 0))
