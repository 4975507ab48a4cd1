#!/usr/bin/env bash
# Installs every build, test and runtime dependency of eci from Debian's packages (and the OpenID
# Provider used by the agent's end-to-end tests from the npm registry). Idempotent; safe to re-run.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang clang-format clang-tidy libclang-rt-14-dev
  # libraries
  nlohmann-json3-dev libvalijson-dev libssl-dev libcurl4-openssl-dev libseccomp-dev libfuse3-dev
  libcli11-dev libcap-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev libboost-dev
  qt6-base-dev libgl-dev fonts-dejavu-core xauth
  # real components the tests drive
  docker.io containerd runc busybox-static fuse3 uidmap xvfb iproute2 iptables procps
  psmisc jq curl openssl ca-certificates systemd libpugixml-dev python3 docker-compose socat
  # packaging tests: a Debian 12 root from Debian's registry, booted with systemd-nspawn; lintian
  mmdebstrap systemd-container lintian dpkg-dev
  # checks of the MDM exports (xmllint: profiles, ADMX/ADML)
  libxml2-utils
)
# Node.js and npm come with the machine (NodeSource's nodejs, which conflicts with Debian's npm);
# install Debian's only where neither is present.
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  # policy-rc.d keeps the package scripts from trying to start docker/containerd services: PID 1 is
  # not systemd here, and the tests start the daemons themselves.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
