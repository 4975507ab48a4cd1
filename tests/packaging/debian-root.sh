#!/usr/bin/env bash
# Builds (once, then reuses) a Debian 12 root tarball from Debian's registry with mmdebstrap: the
# packages eci's .deb depends on plus Debian's engine and systemd, for the install/uninstall test
# (chroot) and the boot test (systemd-nspawn -b). Prints the tarball's path.
#
#   debian-root.sh CACHE_DIR
# The tarball is named after a hash of the package list, so a changed list builds a new one; CI
# keeps CACHE_DIR for the whole run (both tests use the same tarball).
set -euo pipefail
cache=${1:?usage: debian-root.sh CACHE_DIR}
pkgs=(systemd systemd-sysv dbus docker.io containerd runc jq fuse3 busybox-static iproute2
  procps ca-certificates libseccomp2 libfuse3-3 libssl3 libcurl4 libsystemd0 libpugixml1v5
  libstdc++6)
command -v mmdebstrap >/dev/null || { echo "debian-root.sh: mmdebstrap not installed" >&2; exit 3; }
key=$(printf '%s\n' bookworm minbase "${pkgs[@]}" | sha256sum | cut -c1-12)
out=$cache/debian12-$key.tar
mkdir -p "$cache"
# One builder at a time per cache dir; the others wait and reuse its tarball.
exec 9>"$cache/.lock"
flock 9
if [[ ! -s $out ]]; then
  # policy-rc.d: no service starts while the root is built.
  mmdebstrap --variant=minbase --format=tar --include="$(IFS=,; echo "${pkgs[*]}")" \
    --customize-hook='rm -f "$1/etc/machine-id"; : > "$1/etc/machine-id"' \
    bookworm "$out.tmp" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main" >&2
  mv "$out.tmp" "$out"
fi
echo "$out"
