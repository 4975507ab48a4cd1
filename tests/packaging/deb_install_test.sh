#!/usr/bin/env bash
# The .deb installed and removed for real with dpkg, in a chroot of a Debian 12 root built by
# mmdebstrap from Debian's registry (debian-root.sh; Debian's runc, docker.io, systemd inside):
#   - the package holds exactly what `cmake --install` installs (one description of the layout);
#   - the runc diversion: Debian's runc moved to /usr/sbin/runc.distrib unchanged, /usr/sbin/runc
#     is eci-runc, and eci-runc reaches the real one; `eci-admin status` says so;
#   - daemon.json merged with the admin's keys (every one kept), reinstall idempotent;
#   - remove: runc back, eci's daemon.json key kept; purge: daemon.json exactly the admin's again;
#   - no daemon.json before -> none after purge; units enabled (deb-systemd-helper) and gone;
#   - upgrade and downgrade (the package repacked under a higher and a lower version) keep the
#     wiring; a purge after the downgrade restores runc and daemon.json;
#   - installers/install.sh --root: the same files and wiring without the package, idempotent,
#     and --uninstall undoes it exactly.
#
#   deb_install_test.sh DEB|PACKAGES_DIR BUILD_DIR CACHE_DIR
# Exit 77 (CTest: skipped) with the reason when the Debian root cannot be built here.
set -u
deb=${1:?usage: deb_install_test.sh DEB BUILD_DIR CACHE_DIR} build=${2:?} cache=${3:?}
here=$(cd "$(dirname "$0")" && pwd)
[[ -d $deb ]] && deb=$(ls "$deb"/eci_*.deb 2>/dev/null | head -n1)  # a packages dir: its eci_*.deb
. "$here/../e2e/lib/harness.sh"   # assertions only (t_ok, t_eq, ...)

[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (chroot, dpkg)"; exit 77; }
[[ -s $deb ]] || { echo "FAIL - no package at $deb (cmake --build BUILD --target package)"; exit 1; }
if ! tarball=$("$here/debian-root.sh" "$cache"); then
  # CI has Debian's registry: there the install test must run, never skip.
  [[ ${CI:-} == true ]] && { echo "FAIL - could not build the Debian 12 root (CI)"; exit 1; }
  echo "SKIP: could not build a Debian 12 root with mmdebstrap from Debian's registry"; exit 77
fi

W=$(mktemp -d /tmp/eci-deb.XXXXXX)
R=$W/root
cleanup() {
  umount -l "$R/proc" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$R"
tar -C "$R" -xf "$tarball"
mount -t proc proc "$R/proc"
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
cp "$deb" "$R/tmp/eci.deb"

# --- the package is cmake --install's layout -----------------------------------------------------
stage=$W/stage
DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
DESTDIR=$stage cmake --install "$build" --prefix /usr --component runc_link >/dev/null
want=$(cd "$stage" && find . ! -type d | sed 's#^\.##' | sort)
got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's#^\.##' | sort)
t_eq "package files == cmake --install's files" "$want" "$got"

# --- install over an admin's daemon.json ------------------------------------------------------
admin='{"log-level":"warn","registry-mirrors":["https://mirror.example"],"runtimes":{"custom":{"path":"/usr/local/bin/custom-runc"}}}'
mkdir -p "$R/etc/docker"
printf '%s\n' "$admin" >"$R/etc/docker/daemon.json"
runc_sum=$(sha256sum <"$R/usr/sbin/runc")
runc_ver=$(in_root /usr/sbin/runc --version | head -n1)

t_ok "dpkg -i eci" in_root dpkg -i /tmp/eci.deb
t_eq "runc diverted to /usr/sbin/runc.distrib" "/usr/sbin/runc.distrib" \
  "$(in_root dpkg-divert --truename /usr/sbin/runc)"
t_eq "the diversion belongs to eci" "eci" "$(in_root dpkg-divert --listpackage /usr/sbin/runc)"
t_eq "Debian's runc unchanged as runc.distrib" "$runc_sum" "$(sha256sum <"$R/usr/sbin/runc.distrib")"
t_eq "/usr/sbin/runc -> eci-runc" "/usr/bin/eci-runc" "$(in_root readlink -f /usr/sbin/runc)"
t_eq "/usr/bin/runc (Debian's link) -> eci-runc too" "/usr/bin/eci-runc" "$(in_root readlink -f /usr/bin/runc)"
t_eq "eci-runc reaches the real runc (as the units set it)" "$runc_ver" \
  "$(in_root env ECI_RUNC_REAL_RUNC=/usr/sbin/runc.distrib runc --version 2>&1 | head -n1)"
for f in /usr/sbin/eci-enforcerd /usr/bin/eci-admin /usr/sbin/eci-agent \
  /usr/libexec/eci/eci-procfs-hook /lib/systemd/system/eci-enforcerd.service \
  /lib/systemd/system/eci-agent.service /lib/systemd/system/eci-apiproxyd.service \
  /lib/systemd/system/docker.service.d/eci.conf /lib/systemd/system/containerd.service.d/eci.conf \
  /usr/lib/tmpfiles.d/eci.conf; do
  t_ok "installed: $f" test -e "$R$f"
done
t_ok "eci-enforcerd enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/eci-enforcerd.service"
t_eq "daemon.json: every admin key kept" "$(jq -S . <<<"$admin")" \
  "$(jq -S 'del(."live-restore", .builder)' "$R/etc/docker/daemon.json")"
t_eq "daemon.json: eci's live-restore added" "true" "$(jq '."live-restore"' "$R/etc/docker/daemon.json")"
t_eq "daemon.json: BuildKit's host-network and insecure entitlements off" \
  '{"entitlements":{"network-host":false,"security-insecure":false}}' "$(jq -c .builder "$R/etc/docker/daemon.json")"
t_eq "no default-runtime (dockerd's runc is eci-runc)" "null" \
  "$(jq '."default-runtime"' "$R/etc/docker/daemon.json")"
t_ok "tmpfiles created /run/eci-runc 0711" test "$(stat -c %a "$R/run/eci-runc" 2>&1)" = 711

# eci-admin status (the enforcer is not running in a chroot: exit 2, the wiring is still shown)
st=$(in_root eci-admin status 2>&1)
t_contains "status: diversion ok" "ok       runc diversion: /usr/sbin/runc diverted to /usr/sbin/runc.distrib by package eci" "$st"
t_contains "status: /usr/sbin/runc is eci-runc" "ok       /usr/sbin/runc is eci-runc" "$st"
t_contains "status: real runc present" "ok       real runc: /usr/sbin/runc.distrib" "$st"
t_contains "status: flags the admin's runtime that bypasses eci" \
  "PROBLEM  daemon.json runtimes: runtimes bypassing eci: custom (/usr/local/bin/custom-runc)" "$st"

# --- idempotent: reinstall (dpkg runs preinst upgrade / postinst configure again) ---------------
before=$(cat "$R/etc/docker/daemon.json")
t_ok "dpkg -i eci again" in_root dpkg -i /tmp/eci.deb
t_eq "reinstall: daemon.json unchanged" "$before" "$(cat "$R/etc/docker/daemon.json")"
t_eq "reinstall: one diversion of runc" "1" "$(in_root dpkg-divert --list | grep -c '/usr/sbin/runc ')"
t_eq "reinstall: runc.distrib still Debian's" "$runc_sum" "$(sha256sum <"$R/usr/sbin/runc.distrib")"

# --- remove: runc back, daemon.json keeps eci's key ---------------------------------------------
t_ok "dpkg -r eci" in_root dpkg -r eci
t_eq "remove: no diversion" "" "$(in_root dpkg-divert --list '/usr/sbin/runc')"
t_eq "remove: /usr/sbin/runc is Debian's again" "$runc_sum" "$(sha256sum <"$R/usr/sbin/runc" 2>&1)"
t_fails "remove: no runc.distrib left" test -e "$R/usr/sbin/runc.distrib"
t_fails "remove: drop-in gone (engine runs as plain Docker)" test -e "$R/lib/systemd/system/docker.service.d/eci.conf"
t_eq "remove: daemon.json kept as configured" "true" "$(jq '."live-restore"' "$R/etc/docker/daemon.json")"

# --- purge: the admin's daemon.json exactly ------------------------------------------------------
t_ok "dpkg -P eci" in_root dpkg -P eci
t_eq "purge: daemon.json is the admin's again" "$(jq -S . <<<"$admin")" "$(jq -S . "$R/etc/docker/daemon.json")"
t_fails "purge: eci state gone" test -e "$R/var/lib/eci"
t_fails "purge: unit enablement gone" test -e "$R/etc/systemd/system/multi-user.target.wants/eci-enforcerd.service"

# --- no daemon.json before: none after purge; an admin's own live-restore wins ----------------
rm -f "$R/etc/docker/daemon.json"
t_ok "dpkg -i eci (no daemon.json)" in_root dpkg -i /tmp/eci.deb
t_eq "created daemon.json holds eci's keys only" '{"live-restore":true,"builder":{"entitlements":{"network-host":false,"security-insecure":false}}}' \
  "$(jq -c . "$R/etc/docker/daemon.json")"
t_ok "dpkg -P eci (no daemon.json before)" in_root dpkg -P eci
t_fails "purge: the daemon.json eci created is gone" test -e "$R/etc/docker/daemon.json"
printf '{"live-restore": false}\n' >"$R/etc/docker/daemon.json"
t_ok "dpkg -i eci (admin set live-restore false)" in_root dpkg -i /tmp/eci.deb
t_eq "the admin's live-restore=false wins" "false" "$(jq '."live-restore"' "$R/etc/docker/daemon.json")"
t_ok "dpkg -P eci" in_root dpkg -P eci
t_eq "purge keeps the admin's value" '{"live-restore":false}' "$(jq -c . "$R/etc/docker/daemon.json")"
t_eq "runc is Debian's after the purges" "$runc_sum" "$(sha256sum <"$R/usr/sbin/runc")"

# The wiring every installed state must show (package upgraded, downgraded, or install.sh).
check_wired() {  # LABEL
  t_eq "$1: runc diverted to runc.distrib" "/usr/sbin/runc.distrib" \
    "$(in_root dpkg-divert --truename /usr/sbin/runc)"
  t_eq "$1: one diversion of runc" "1" "$(in_root dpkg-divert --list | grep -c '/usr/sbin/runc ')"
  t_eq "$1: Debian's runc unchanged as runc.distrib" "$runc_sum" \
    "$(sha256sum <"$R/usr/sbin/runc.distrib" 2>&1)"
  t_eq "$1: /usr/sbin/runc -> eci-runc" "/usr/bin/eci-runc" "$(in_root readlink -f /usr/sbin/runc)"
  t_eq "$1: daemon.json: every admin key kept, eci's live-restore and builder added" \
    "$(jq -S '. + {"live-restore": true, "builder": {"entitlements":{"network-host":false,"security-insecure":false}}}' <<<"$admin")" \
    "$(jq -S . "$R/etc/docker/daemon.json")"
  for u in eci-enforcerd eci-apiproxyd; do
    t_ok "$1: $u enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/$u.service"
  done
  t_contains "$1: eci-admin status sees the diversion" "ok       /usr/sbin/runc is eci-runc" \
    "$(in_root eci-admin status 2>&1)"
}

# --- upgrade and downgrade: the same package under a higher and a lower version -------------------
ver=$(dpkg-deb -f "$deb" Version)
repack() {  # VERSION OUT
  rm -rf "$W/repack"
  dpkg-deb -R "$deb" "$W/repack" &&
    sed -i "s/^Version: .*/Version: $1/" "$W/repack/DEBIAN/control" &&
    dpkg-deb -b "$W/repack" "$2" >/dev/null
}
t_ok "package repacked as $ver+up1" repack "$ver+up1" "$R/tmp/eci-newer.deb"
t_ok "package repacked as ${ver}~down1" repack "${ver}~down1" "$R/tmp/eci-older.deb"
printf '%s\n' "$admin" >"$R/etc/docker/daemon.json"
t_ok "dpkg -i eci $ver" in_root dpkg -i /tmp/eci.deb
t_ok "upgrade: dpkg -i eci $ver+up1" in_root dpkg -i /tmp/eci-newer.deb
t_eq "upgrade: the newer version is installed" "$ver+up1" "$(in_root dpkg-query -W -f '${Version}' eci)"
check_wired "upgrade"
t_ok "downgrade: dpkg -i eci ${ver}~down1" in_root dpkg -i /tmp/eci-older.deb
t_eq "downgrade: the older version is installed" "${ver}~down1" \
  "$(in_root dpkg-query -W -f '${Version}' eci)"
check_wired "downgrade"
t_ok "purge after the downgrade" in_root dpkg -P eci
t_eq "  ... runc is Debian's again" "$runc_sum" "$(sha256sum <"$R/usr/sbin/runc")"
t_eq "  ... daemon.json is the admin's again" "$(jq -S . <<<"$admin")" \
  "$(jq -S . "$R/etc/docker/daemon.json")"

# --- install.sh --root: the same layout and wiring without the package --------------------------
install_sh=$here/../../installers/install.sh
printf '%s\n' "$admin" >"$R/etc/docker/daemon.json"
t_ok "install.sh --root (into the Debian root)" bash "$install_sh" --build-dir "$build" --root "$R"
missing=""
for f in $want; do [[ -e $R$f || -L $R$f ]] || missing+=" $f"; done
t_eq "install.sh: every file cmake --install names is in place" "" "$missing"
check_wired "install.sh"
t_ok "install.sh again (idempotent)" bash "$install_sh" --build-dir "$build" --root "$R"
check_wired "install.sh twice"
t_ok "install.sh --uninstall --root" bash "$install_sh" --uninstall --build-dir "$build" --root "$R"
t_eq "uninstall: no diversion" "" "$(in_root dpkg-divert --list '/usr/sbin/runc')"
t_eq "uninstall: /usr/sbin/runc is Debian's again" "$runc_sum" "$(sha256sum <"$R/usr/sbin/runc" 2>&1)"
left=""
for f in $want; do
  [[ $f == /usr/sbin/runc ]] && continue  # Debian's is back at that path
  [[ -e $R$f || -L $R$f ]] && left+=" $f"
done
t_eq "uninstall: none of eci's files left" "" "$left"
t_eq "uninstall: daemon.json is the admin's again" "$(jq -S . <<<"$admin")" \
  "$(jq -S . "$R/etc/docker/daemon.json")"
t_fails "uninstall: eci-enforcerd no longer enabled" \
  test -e "$R/etc/systemd/system/multi-user.target.wants/eci-enforcerd.service"
t_summary
