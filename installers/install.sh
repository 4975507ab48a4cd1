#!/usr/bin/env bash
# Installs eci on a Linux host (or the engine's VM): binaries from a build directory, the
# eci-enforcerd systemd unit and tmpfiles snippet, eci's directories, and registers eci-runc as
# dockerd's default runtime (configure-docker.sh). Restart containerd/dockerd afterwards.
#
#   install.sh [--build-dir DIR] [--prefix /usr] [--daemon-json PATH] [--no-docker] [--no-systemd]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build_dir="$here/../build"
prefix=/usr
daemon_json=/etc/docker/daemon.json
do_docker=1
do_systemd=1
while (($#)); do
  case $1 in
    --build-dir) build_dir=$2; shift 2 ;;
    --prefix) prefix=$2; shift 2 ;;
    --daemon-json) daemon_json=$2; shift 2 ;;
    --no-docker) do_docker=0; shift ;;
    --no-systemd) do_systemd=0; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "install.sh: must run as root" >&2; exit 1; }

find_bin() {
  local f
  f=$(find "$build_dir" -type f -name "$1" -perm -u+x 2>/dev/null | head -n1)
  [[ -n "$f" ]] || { echo "install.sh: $1 not found under $build_dir (build first)" >&2; exit 1; }
  printf '%s' "$f"
}

install -D -m 0755 "$(find_bin eci-runc)" "$prefix/bin/eci-runc"
install -D -m 0755 "$(find_bin eci-admin)" "$prefix/bin/eci-admin"
install -D -m 0755 "$(find_bin eci-enforcerd)" "$prefix/sbin/eci-enforcerd"
if agent=$(find "$build_dir" -type f -name eci-agent -perm -u+x 2>/dev/null | head -n1) && [[ -n "$agent" ]]; then
  install -D -m 0755 "$agent" "$prefix/bin/eci-agent"
fi

install -d -m 0700 /var/lib/eci /run/eci
install -d -m 0755 /etc/eci /etc/eci/trusted-keys
# eci-runc's ID-mapped mounts: every ancestor must be o+x (runc's init walks it as userns root).
install -d -m 0711 /run/eci-runc

if ((do_systemd)); then
  install -D -m 0644 "$here/systemd/eci-enforcerd.service" /lib/systemd/system/eci-enforcerd.service
  install -D -m 0644 "$here/systemd/eci.tmpfiles.conf" /usr/lib/tmpfiles.d/eci.conf
  if [[ -d /run/systemd/system ]]; then
    systemctl daemon-reload
    systemctl enable --now eci-enforcerd.service
  else
    echo "install.sh: systemd is not running; start eci-enforcerd yourself before dockerd"
  fi
fi

if ((do_docker)); then
  "$here/configure-docker.sh" --daemon-json "$daemon_json" --eci-runc "$prefix/bin/eci-runc"
fi
echo "install.sh: done"
