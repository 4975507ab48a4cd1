#!/usr/bin/env bash
# The README's main job: builds eci, starts eci-enforcerd + containerd + Debian's dockerd wired as
# installed -- the daemons find eci-runc as `runc` (a directory holding runc -> eci-runc first in
# their PATH), dockerd listens on a private socket and eci-apiproxyd (the Engine API guard) owns
# the public one (private paths, via tests/e2e/lib/harness.sh) --, imports a busybox image
# made from Debian's busybox-static, shows what ECI does to every container, and stops everything
# it started. Needs root (it runs a container engine).
#
#   scripts/demo.sh [BUILD_DIR]        (default: ./build)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${ECI_BUILD_DIR:-$repo/build}}
[[ $(id -u) -eq 0 ]] || { echo "demo.sh: needs root (it starts dockerd)" >&2; exit 1; }

echo "== installing dependencies (Debian packages)"
"$repo/installers/install-deps.sh" || exit 1
echo "== building eci in $build"
cmake -S "$repo" -B "$build" -G Ninja -DECI_BUILD_GUI=OFF >/dev/null || exit 1
cmake --build "$build" -j2 --target eci-runc eci-enforcerd eci-procfs-hook eci-admin eci-apiproxyd || exit 1

build=$(realpath -m "$build")
export ECI_BUILD_DIR=$build
# shellcheck source=../tests/e2e/lib/harness.sh
. "$repo/tests/e2e/lib/harness.sh"
echo "== starting eci-enforcerd, containerd, dockerd (\`runc\` in their PATH is eci-runc) and eci-apiproxyd"
eci_up || { echo "demo.sh: could not start the engine" >&2; exit 1; }
docker info --format '   runtimes: {{range $k, $v := .Runtimes}}{{$k}} {{end}}; default: {{.DefaultRuntime}}' 2>/dev/null
echo "   $ECI_T/bin/runc -> $(readlink "$ECI_T/bin/runc") (first in PATH of containerd and dockerd)"
echo "   DOCKER_HOST=$DOCKER_HOST is eci-apiproxyd; dockerd listens on $ECI_DOCKERD_SOCK (root only)"

show() {
  echo
  echo "\$ $*"
  "$@" 2>&1 | grep -v '^WARNING: IPv4 forwarding'
}
status=0
show docker run --rm busybox cat /proc/self/uid_map
out=$(docker run --rm busybox cat /proc/self/uid_map 2>/dev/null | tr -s ' ' | sed 's/^ //')
[[ "$out" == "0 100000 65536" ]] || { echo "demo.sh: expected 0 100000 65536, got $out" >&2; status=1; }
show docker run --rm --runtime=runc busybox cat /proc/self/uid_map
out=$(docker run --rm --runtime=runc busybox cat /proc/self/uid_map 2>/dev/null | tr -s ' ' | sed 's/^ //')
[[ "$out" =~ ^0\ [1-9][0-9]*\ 65536$ ]] || { echo "demo.sh: --runtime=runc not isolated: $out" >&2; status=1; }
show docker run --rm --privileged busybox sh -c 'cat /proc/self/uid_map; cat /proc/uptime; mount -o remount,rw /proc/sys'
show docker run --rm --pid=host busybox true
docker run --rm --pid=host busybox true >/dev/null 2>&1 && { echo "demo.sh: --pid=host was not refused" >&2; status=1; }
created=""
[[ -e /etc/docker/daemon.json ]] || { mkdir -p /etc/docker; echo '{}' >/etc/docker/daemon.json; created=1; }
show docker run --rm -v /etc/docker/daemon.json:/mnt/daemon.json busybox cat /mnt/daemon.json
docker run --rm -v /etc/docker/daemon.json:/mnt/daemon.json busybox true >/dev/null 2>&1 &&
  { echo "demo.sh: the restricted mount was not refused" >&2; status=1; }
[[ -n "$created" ]] && rm -f /etc/docker/daemon.json
show docker run --rm -v "$ECI_T/docker.sock:/var/run/docker.sock" busybox true
docker run --rm -v "$ECI_T/docker.sock:/var/run/docker.sock" busybox true >/dev/null 2>&1 &&
  { echo "demo.sh: the engine socket mount was not refused" >&2; status=1; }

echo
echo "== stopping everything"
eci_down
[[ $status -eq 0 ]] && echo "demo.sh: OK" || echo "demo.sh: FAILED"
exit $status
