#!/usr/bin/env bash
# Issue 3's eci-runc bullets through a real dockerd -> containerd -> eci-runc -> runc: user
# namespaces and ranges, host-namespace refusals, restricted host mounts, the engine's own files
# and named volumes, `docker exec` in the same user namespace. Needs root.
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }

MARK="$ECI_T/mark"
mkdir -p "$MARK"
NS_MSG_TAIL="with the host (because they use the linux user-namespace for isolation): unknown"
PREFIX="docker: Error response from daemon: failed to create shim task: OCI runtime create failed: error in the container spec:"

# docker run that must be refused: exit != 0, the message, and the container never ran (it would
# have created $MARK/<name>).
refused() {  # NAME WANT_MESSAGE docker-run-args...   (WANT may list alternatives: "a || b")
  local name=$1 want=$2
  shift 2
  rm -f "$MARK/$name"
  local err rc alt matched=0
  err=$(docker run --rm -v "$MARK:/mark" "$@" busybox touch "/mark/$name" 2>&1 >/dev/null)
  rc=$?
  while IFS= read -r alt; do
    [[ -n "$alt" && "$err" == *"$alt"* ]] && matched=1
  done <<<"${want// || /$'\n'}"
  if [[ $rc -ne 0 && $matched -eq 1 && ! -e "$MARK/$name" ]]; then
    t_pass "$name refused"
  else
    t_fail "$name refused" "rc=$rc ran=$([[ -e $MARK/$name ]] && echo yes || echo no) err=${err:0:500}"
  fi
}

# --- user namespace and exclusive ranges -----------------------------------------------------
docker run -d --name first busybox sleep 1000 >/dev/null
t_eq "first container maps 0 100000 65536" "0 100000 65536" \
  "$(docker exec first cat /proc/1/uid_map | tr -s ' ' | sed 's/^ //')"
t_eq "first container gid_map 0 100000 65536" "0 100000 65536" \
  "$(docker exec first cat /proc/1/gid_map | tr -s ' ' | sed 's/^ //')"
t_eq "second container maps 0 165536 65536" "0 165536 65536" \
  "$(docker run --rm busybox cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
init_pid=$(docker inspect -f '{{.State.Pid}}' first)
t_eq "container root is host uid 100000" "100000" "$(stat -c %u "/proc/$init_pid")"
t_eq "--userns=host ignored" "0 165536 65536" \
  "$(docker run --rm --userns=host busybox cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
t_not_contains "plain runc would give the identity map" "4294967295" \
  "$(docker run --rm busybox cat /proc/self/uid_map)"

# docker exec joins the same user namespace (runc exec enters /proc/<init>/ns/user).
t_eq "docker exec in the container's user namespace" \
  "$(readlink "/proc/$init_pid/ns/user")" "$(docker exec first readlink /proc/self/ns/user)"
t_eq "docker exec uid_map" "0 100000 65536" \
  "$(docker exec first cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
t_not_contains "docker exec not in the host user namespace" "$(readlink /proc/self/ns/user)" \
  "$(docker exec first readlink /proc/self/ns/user)"
exec_pid=$(docker exec -d first sleep 30; sleep 0.5; pgrep -n -f "^sleep 30$" || true)
[[ -n "$exec_pid" ]] && t_eq "docker exec process is host uid 100000" "100000" \
  "$(stat -c %u "/proc/$exec_pid")"

# --- host namespaces refused ------------------------------------------------------------------
refused pid-host "$PREFIX invalid or unsupported container spec: containers can't share namespaces [pid] $NS_MSG_TAIL" --pid=host
refused ipc-host "containers can't share namespaces [ipc] $NS_MSG_TAIL" --ipc=host
refused uts-host "containers can't share namespaces [uts] $NS_MSG_TAIL" --uts=host
refused pid-ipc-host "containers can't share namespaces [pid ipc] $NS_MSG_TAIL" --pid=host --ipc=host
refused net-host "$PREFIX invalid or unsupported container spec: containers can't share a network namespace with the host (because they use the linux user-namespace for isolation): unknown" --network=host
refused privileged-pid-host "can't share namespaces [pid]" --privileged --pid=host
refused privileged-net-host "can't share a network namespace" --privileged --network=host

# --- restricted host mounts -------------------------------------------------------------------
created_daemon_json=""
if [[ ! -e /etc/docker/daemon.json ]]; then
  # The seed's example; -v would make dockerd create it as a directory. Removed at the end.
  mkdir -p /etc/docker && echo '{}' >/etc/docker/daemon.json && created_daemon_json=1
fi
etc_before=$(ls -la /etc/docker; md5sum /etc/docker/daemon.json)
refused daemon-json "$PREFIX can't mount /etc/docker/daemon.json because it's configured as a restricted host mount: unknown" \
  -v /etc/docker/daemon.json:/mnt/daemon.json
refused etc-parent "can't mount /etc because it's configured as a restricted host mount" -v /etc:/mnt
# A source that reaches the engine socket is refused by the guard first (socket-mount rule); eci-runc
# behind it is checked too, through dockerd's private socket.
refused root-parent "docker socket mount denied" -v /:/host
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" refused root-parent-runtime \
  "can't mount / because it's configured as a restricted host mount" -v /:/host
ln -sfn /etc/docker "$ECI_T/innocent"
refused symlink "can't mount $ECI_T/innocent because it's configured as a restricted host mount" \
  -v "$ECI_T/innocent:/mnt"
# dockerd cleans `..` out of -v sources before the runtime sees them, so the message names the
# cleaned path; eci-runc resolves `..` itself too (unit-tested) for specs from other engines.
refused dotdot "can't mount /etc/docker because it's configured as a restricted host mount" \
  -v /tmp/../etc/docker:/mnt
mkdir -p "$ECI_T/sub"
ln -sfn .. "$ECI_T/sub/up"
refused symlink-dotdot "can't mount $ECI_T/sub/up/innocent because" \
  -v "$ECI_T/sub/up/innocent/../innocent:/mnt"
refused engine-socket "docker socket mount denied" -v "$ECI_T/docker.sock:/var/run/docker.sock"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" refused engine-socket-runtime \
  "can't mount $ECI_T/docker.sock because it's configured as a restricted host mount" \
  -v "$ECI_T/docker.sock:/var/run/docker.sock"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" refused private-engine-socket-runtime \
  "can't mount $ECI_DOCKERD_SOCK because it's configured as a restricted host mount" \
  -v "$ECI_DOCKERD_SOCK:/var/run/docker.sock"
refused data-root "can't mount $ECI_DATA_ROOT because it's configured as a restricted host mount" \
  -v "$ECI_DATA_ROOT:/mnt"
refused other-containers-files "because it's configured as a restricted host mount" \
  -v "$ECI_DATA_ROOT/containers:/mnt"
first_id=$(docker inspect -f '{{.Id}}' first)
refused other-containers-config "because it's configured as a restricted host mount" \
  -v "$ECI_DATA_ROOT/containers/$first_id/config.v2.json:/mnt/c.json"
refused enforcer-socket "because it's configured as a restricted host mount" \
  -v "$ECI_T/eci:/mnt"
refused privileged-daemon-json "can't mount /etc/docker/daemon.json because" --privileged \
  -v /etc/docker/daemon.json:/mnt/daemon.json
refused mount-flag "can't mount /etc/docker because" --mount type=bind,src=/etc/docker,dst=/mnt
t_eq "host /etc/docker unchanged" "$etc_before" "$(ls -la /etc/docker; md5sum /etc/docker/daemon.json)"
[[ -n "$created_daemon_json" ]] && rm -f /etc/docker/daemon.json

# --- the engine's own files and named volumes keep working ------------------------------------
out=$(docker run --rm --hostname eci-host busybox sh -c \
  'cat /etc/hostname; grep -c eci-host /etc/hosts; test -s /etc/resolv.conf && echo resolv; echo 1.2.3.4 x >> /etc/hosts && echo hosts-writable; df /dev/shm >/dev/null && echo shm' 2>/dev/null)
t_contains "hostname file" "eci-host" "$out"
t_contains "resolv.conf present" "resolv" "$out"
t_contains "/etc/hosts writable by container root" "hosts-writable" "$out"
t_contains "/dev/shm works" "shm" "$out"

docker volume create vol1 >/dev/null
t_ok "named volume written by one container" docker run --rm -v vol1:/data busybox sh -c \
  'echo from-first > /data/f && mkdir /data/d && chown 1000:1000 /data/d'
vol_path="$ECI_DATA_ROOT/volumes/vol1/_data"
t_eq "volume file on disk owned by 0 (not the range)" "0:0" "$(stat -c %u:%g "$vol_path/f")"
t_eq "volume dir chowned 1000 inside is 1000 on disk" "1000:1000" "$(stat -c %u:%g "$vol_path/d")"
# `first` still holds 100000, so this one gets a different range and must still own the files.
out=$(docker run --rm -v vol1:/data busybox sh -c \
  'cat /proc/self/uid_map; cat /data/f; echo again >> /data/f && stat -c %u /data/f /data/d' 2>/dev/null)
t_contains "next container has a different range" "165536" "$out"
t_contains "next container reads the volume" "from-first" "$out"
t_eq "next container writes the volume" "$(printf 'from-first\nagain')" "$(cat "$vol_path/f")"
t_contains "volume owners preserved across ranges" "$(printf '0\n1000')" "$out"

# host bind mounts of a container without a known caller (made on dockerd's private socket, not
# through the guard) show host owners; what the container writes there lands as 0 on disk
hostdir="$ECI_T/hostdir"
mkdir -p "$hostdir" && echo hi >"$hostdir/userfile" && chown 1234:4321 "$hostdir/userfile"
out=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker run --rm -v "$hostdir:/h" busybox \
  sh -c 'stat -c %u:%g /h/userfile; echo w > /h/new' 2>/dev/null)
t_eq "host bind mount shows host owner (unknown caller)" "1234:4321" "$out"
t_eq "file written into a bind mount is 0 on the host (unknown caller)" "0:0" \
  "$(stat -c %u:%g "$hostdir/new")"
# through the guard the caller (root here) is known: container root acts as that caller only, so a
# third user's file is "other" (nobody) inside, and what it writes is the caller's
rm -f "$hostdir/new"
out=$(docker run --rm -v "$hostdir:/h" busybox sh -c 'stat -c %u:%g /h/userfile; echo w > /h/new' 2>/dev/null)
t_eq "through the guard: a third user's file shows as nobody" "65534:65534" "$out"
t_eq "through the guard: the written file is the caller's" "0:0" "$(stat -c %u:%g "$hostdir/new")"

# --- ID-mapped rootfs ----------------------------------------------------------------------
out=$(docker run --rm busybox sh -c 'stat -c %u:%g /bin/busybox /etc/passwd /home/u1000/owned' 2>/dev/null)
t_eq "image files keep their owners inside" "$(printf '0:0\n0:0\n1000:1000')" "$out"
docker run -d --name fs busybox sleep 1000 >/dev/null
t_ok "root writes its rootfs" docker exec fs sh -c 'echo x > /etc/newfile && echo y > /bin/newbin && rm /etc/group'
t_ok "uid 1000 writes /tmp" docker exec -u 1000 fs sh -c 'echo u > /tmp/u1000file'
upper=$(docker inspect -f '{{.GraphDriver.Data.UpperDir}}' fs)
t_eq "rootfs write lands as 0:0 in the upper dir" "0:0" "$(stat -c %u:%g "$upper/etc/newfile")"
t_eq "uid 1000 write lands as 1000 in the upper dir" "1000:1000" "$(stat -c %u:%g "$upper/tmp/u1000file")"
echo copied >"$ECI_T/cpfile"
t_ok "docker cp into the container" docker cp "$ECI_T/cpfile" fs:/cpfile
t_eq "docker cp'd file is root-owned inside" "0:0 copied" \
  "$(docker exec fs sh -c 'echo $(stat -c %u:%g /cpfile) $(cat /cpfile)')"
t_eq "docker cp'd file is 0:0 in the upper dir" "0:0" "$(stat -c %u:%g "$upper/cpfile")"
# docker cp keeps the tar's owner (as with plain runc): a host file of 4242 shows as 4242.
echo other >"$ECI_T/cpfile2" && chown 4242:4242 "$ECI_T/cpfile2"
docker cp "$ECI_T/cpfile2" fs:/cpfile2
t_eq "docker cp keeps other owners as plain runc does" "4242:4242" \
  "$(docker exec fs stat -c %u:%g /cpfile2)"
t_eq "deleted lower file stays deleted" "gone" "$(docker exec fs sh -c 'test -e /etc/group || echo gone')"

# --- everyday docker options keep working under the user namespace ------------------------------
compat() {  # NAME WANT docker-run-args... -- command...
  local name=$1 want=$2
  shift 2
  local out
  out=$(docker run --rm "$@" 2>&1 | grep -v '^WARNING: IPv4')
  t_contains "compat: $name" "$want" "$out"
}
docker run -d --name shareable --ipc=shareable busybox sleep 1000 >/dev/null
compat read-only "Read-only file system" --read-only busybox touch /x
compat user-1000 "uid=1000" -u 1000 busybox id
compat tmpfs "tmpfs" --tmpfs /run busybox sh -c 'grep " /run " /proc/mounts'
compat network-none "lo" --network none busybox ip -o link
compat cap-add-sys-admin "mounted" --cap-add SYS_ADMIN busybox sh -c 'mkdir -p /m && mount -t tmpfs t /m && echo mounted'
compat ipc-container "ok" --ipc container:shareable busybox sh -c 'echo ok'
compat pid-container "sleep 1000" --pid container:first busybox ps
compat net-container "ok" --network container:first busybox sh -c 'ip -o link >/dev/null && echo ok'
compat shm-size "131072" --shm-size 128m busybox sh -c "df -k /dev/shm | tail -n1 | awk '{print \$2}'"
compat sysctl "1" --sysctl net.ipv4.ip_forward=1 busybox cat /proc/sys/net/ipv4/ip_forward
compat ulimit "1024" --ulimit nofile=1024:2048 busybox sh -c 'ulimit -n'
compat oom-score-adj "0" --oom-score-adj -500 busybox cat /proc/self/oom_score_adj
compat workdir-env "/tmp bar" -w /tmp -e FOO=bar busybox sh -c 'echo $(pwd) $FOO'

docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
t_eq "after removal: no mounts or dirs left" "" "$(eci_leftovers)"
t_eq "after removal: no allocated ranges" "0" "$(eci_allocation_count)"
t_summary
