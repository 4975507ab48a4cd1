#!/usr/bin/env bash
# Installs eci from a build directory on a Debian host without the package: the same steps as
# the .deb (prefer `apt install ./eci_*.deb`, README "Install"). The layout is `cmake --install`'s
# (installers/CMakeLists.txt describes it); this script only adds what dpkg would do: divert
# Debian's runc, put /usr/sbin/runc -> eci-runc, merge daemon.json, enable/start the units.
# --root installs into a mounted system image instead (a VM image being prepared; units are
# enabled offline, nothing is started).
#
#   install.sh [--build-dir DIR] [--root DIR] [--no-docker] [--no-systemd]
#   install.sh --uninstall [--build-dir DIR] [--root DIR]   (runc back, eci's daemon.json keys out)
# Tested by tests/packaging/deb_install_test.sh ("install.sh"), in a Debian 12 root.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir="$here/../build"
root=""
do_docker=1
do_systemd=1
uninstall=0
while (($#)); do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --root) root=$(cd "$2" && pwd); shift 2 ;;
    --no-docker) do_docker=0; shift ;;
    --no-systemd) do_systemd=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "install.sh: must run as root" >&2; exit 1; }
[[ -f $build_dir/cmake_install.cmake ]] || { echo "install.sh: $build_dir is not a build dir" >&2; exit 1; }
[[ $root == / ]] && root=""

units=(eci-enforcerd.service eci-apiproxyd.service)
# A command as the target system runs it (its own tools, its own paths).
in_target() {
  if [[ -n $root ]]; then chroot "$root" "$@"; else "$@"; fi
}
divert() {
  dpkg-divert ${root:+--root "$root"} --local --rename --divert /usr/sbin/runc.distrib "$@" /usr/sbin/runc
}
# systemd is driven live only on this machine with systemd running; an image is enabled offline.
systemd_live() { [[ -z $root && -d /run/systemd/system ]]; }

# What cmake --install puts where, as paths on the target (staged, never from a stale manifest).
installed_files() {
  local stage
  stage=$(mktemp -d)
  DESTDIR=$stage cmake --install "$build_dir" --prefix /usr >/dev/null
  DESTDIR=$stage cmake --install "$build_dir" --prefix /usr --component runc_link >/dev/null
  (cd "$stage" && find . ! -type d | sed 's#^\.##')
  rm -rf "$stage"
}

if ((uninstall)); then
  if ((do_systemd)); then
    if systemd_live; then
      systemctl disable --now "${units[@]}" || true
    elif [[ -n $root ]]; then
      systemctl --root="$root" disable "${units[@]}" || true
    fi
  fi
  installed_files | while read -r f; do rm -f "$root$f"; done
  divert --remove
  # configure-docker keeps a copy of itself in /var/lib/eci for exactly this (the package's purge).
  if ((do_docker)) && [[ -x $root/var/lib/eci/configure-docker ]]; then
    in_target /var/lib/eci/configure-docker unmerge
  fi
  rm -rf "$root/var/lib/eci"
  systemd_live && systemctl daemon-reload
  echo "install.sh: uninstalled; restart containerd and dockerd"
  exit 0
fi

# The real runc moves aside first (dpkg-divert: Debian's runc upgrades follow it), then the layout.
divert --add
DESTDIR=$root cmake --install "$build_dir" --prefix /usr
DESTDIR=$root cmake --install "$build_dir" --prefix /usr --component runc_link
systemd-tmpfiles ${root:+--root="$root"} --create /usr/lib/tmpfiles.d/eci.conf 2>/dev/null ||
  install -d -m 0700 "$root/run/eci" "$root/var/lib/eci"
((do_docker)) && in_target /usr/libexec/eci/configure-docker merge
if ((do_systemd)); then
  if systemd_live; then
    systemctl daemon-reload
    systemctl enable --now "${units[@]}"
    echo "install.sh: restart containerd and docker so that they run through eci"
  elif [[ -n $root ]]; then
    systemctl --root="$root" enable "${units[@]}"
    echo "install.sh: installed into $root; its eci starts before its engine at boot"
  else
    echo "install.sh: systemd is not running; start eci-enforcerd and eci-apiproxyd before" \
      "containerd and dockerd"
  fi
fi
echo "install.sh: done"
