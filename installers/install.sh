#!/usr/bin/env bash
# Installs eci from a build directory on a Debian host without the package: the same steps as
# the .deb (prefer `apt install ./eci_*.deb`, README "Install"). The layout is `cmake --install`'s
# (installers/CMakeLists.txt describes it); this script only adds what dpkg would do: divert
# Debian's runc, put /usr/sbin/runc -> eci-runc, merge daemon.json, enable/start the units.
#
#   install.sh [--build-dir DIR] [--no-docker] [--no-systemd]
#   install.sh --uninstall [--build-dir DIR]     (undo: runc back, eci's daemon.json keys removed)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir="$here/../build"
do_docker=1
do_systemd=1
uninstall=0
while (($#)); do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --no-docker) do_docker=0; shift ;;
    --no-systemd) do_systemd=0; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "install.sh: must run as root" >&2; exit 1; }
[[ -f $build_dir/cmake_install.cmake ]] || { echo "install.sh: $build_dir is not a build dir" >&2; exit 1; }

if ((uninstall)); then
  ((do_systemd)) && [[ -d /run/systemd/system ]] && systemctl disable --now eci-enforcerd.service || true
  # Remove exactly what cmake --install installed (its manifests), then give runc its name back.
  cat "$build_dir"/install_manifest*.txt 2>/dev/null | sort -u | xargs -r rm -f
  dpkg-divert --local --remove --rename --divert /usr/sbin/runc.distrib /usr/sbin/runc
  [[ -x /var/lib/eci/configure-docker ]] && /var/lib/eci/configure-docker unmerge
  [[ -d /run/systemd/system ]] && systemctl daemon-reload
  echo "install.sh: uninstalled; restart containerd and dockerd"
  exit 0
fi

# The real runc moves aside first (dpkg-divert: Debian's runc upgrades follow it), then the layout.
dpkg-divert --local --add --rename --divert /usr/sbin/runc.distrib /usr/sbin/runc
cmake --install "$build_dir" --prefix /usr
cmake --install "$build_dir" --prefix /usr --component runc_link
systemd-tmpfiles --create /usr/lib/tmpfiles.d/eci.conf 2>/dev/null ||
  install -d -m 0700 /run/eci /var/lib/eci
((do_docker)) && /usr/libexec/eci/configure-docker merge
if ((do_systemd)) && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
  systemctl enable --now eci-enforcerd.service
  echo "install.sh: restart containerd and docker so that they run through eci"
else
  echo "install.sh: systemd is not running; start eci-enforcerd before containerd and dockerd"
fi
echo "install.sh: done"
