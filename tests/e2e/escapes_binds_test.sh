#!/usr/bin/env bash
# Issue 13 "bind sources are an allowlist" and issue 12 item 4 through a real dockerd ->
# containerd -> eci-runc -> runc: only the user areas (/home, /tmp, /var/tmp, /mnt, /media, /srv)
# and the admin's shares may be bind-mounted, after symlinks, `..`, /proc/*/root and /proc/*/fd
# are resolved; local volumes that bind or overlay a host path get the same rule; every attack is
# tried with and without --privileged, shown refused (the container never ran) with the host
# unchanged. Allowed binds keep working, and host binds act with the caller's rights once the
# guard recorded who asked (contract 4: setCaller). Needs root.
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }
# Every attack runs twice: on dockerd's private socket, which proves the runtime layer (eci-runc)
# on its own and must give eci-runc's message, and on the public socket behind the guard, which
# may refuse first with its own "enhanced container isolation: ..." message. The rest of the
# suite (volumes made for the attacks, allowed binds, caller mapping) uses the private socket;
# the caller-mapping checks set the caller themselves.
GUARD_HOST=$DOCKER_HOST
export DOCKER_HOST="unix://$ECI_DOCKERD_SOCK"

MSG="because it's configured as a restricted host mount"
W=$(mktemp -d /tmp/eci-binds.XXXXXX)            # a shared scratch dir (under /tmp)
HOMEDIR=$(mktemp -d /home/eci-binds-home.XXXXXX)  # a HOME-like dir under /home
chmod 0755 "$W" "$HOMEDIR"
MARK="$W/mark"
mkdir -p "$MARK"
holder_pid=
cleanup_binds() {
  [[ -n "$holder_pid" ]] && kill "$holder_pid" 2>/dev/null
  docker ps -aq 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1
  docker volume ls -q 2>/dev/null | xargs -r docker volume rm -f >/dev/null 2>&1
  rm -rf "$W" "$HOMEDIR"
  eci_down
}
trap cleanup_binds EXIT

# What the host looked like before: nothing may change in these (other suites may run beside
# this one, so only places no test writes to are compared whole).
snapshot() {
  ls -la --time-style=+%s /usr/local/bin /usr/local /boot 2>/dev/null | md5sum
}
BEFORE=$(snapshot)
# Every attack writes a file named eci-pwn-<attack> wherever it was pointed.
planted() {
  find / /etc /etc/docker /usr /usr/local /usr/local/bin /var /var/lib /boot /run /dev /root \
    "$ECI_T" -maxdepth 1 -name 'eci-pwn-*' 2>/dev/null
}

# refused NAME SRC_IN_MESSAGE docker-run-args... : the run is refused with Docker's message, the
# container never ran (it would have made $MARK/NAME) and wrote nothing where it was pointed.
refused() {
  local name=$1 src=$2
  shift 2
  local priv host
  for host in "$DOCKER_HOST" "$GUARD_HOST"; do
    for priv in "" "--privileged"; do
      local tag="$name${priv:+ (privileged)}"
      local why="can't mount $src $MSG"
      if [[ $host == "$GUARD_HOST" ]]; then tag+=" [guard]"; fi
      rm -f "$MARK/$name"
      local err rc
      # shellcheck disable=SC2086
      err=$(DOCKER_HOST=$host docker run --rm $priv -v "$MARK:/mark" "$@" busybox sh -c \
        "touch /mark/$name; for d in /x /hp /v /host; do echo pwn > \$d/eci-pwn-$name 2>/dev/null; done; true" \
        2>&1 >/dev/null)
      rc=$?
      if [[ $rc -ne 0 && ! -e "$MARK/$name" ]] &&
        [[ "$err" == *"$why"* || ($host == "$GUARD_HOST" && "$err" == *"enhanced container isolation: "*) ]]; then
        t_pass "$tag refused"
      else
        t_fail "$tag refused" "rc=$rc ran=$([[ -e $MARK/$name ]] && echo yes || echo no) err=${err:0:400}"
      fi
    done
  done
}

# allowed NAME CMD docker-run-args... : the container runs and CMD succeeds in it.
allowed() {
  local name=$1 cmd=$2
  shift 2
  local out
  if out=$(docker run --rm "$@" busybox sh -c "$cmd" 2>&1); then
    t_pass "$name allowed"
  else
    t_fail "$name allowed" "${out:0:400}"
  fi
}

# --- the issue's rows ------------------------------------------------------------------------
refused usr-local-bin /usr/local/bin -v /usr/local/bin:/x
t_eq "no file planted in /usr/local/bin" "" "$(ls /usr/local/bin | grep eci-pwn)"
refused proc /proc -v /proc:/hp
refused etc-docker-volume /etc/docker --mount "type=volume,src=v-etcdocker,dst=/v,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc/docker"
docker volume create -o type=none -o o=bind -o device=/etc/docker v-etc >/dev/null
refused etc-docker-volume-create /etc/docker -v v-etc:/v
# device= the directory of the engine socket (and of the enforcer's): reaches the socket.
docker volume create -o type=none -o o=bind -o device="$ECI_T" v-sockdir >/dev/null
refused socket-dir-volume "$ECI_T" -v v-sockdir:/v

# --- class: system directories, directly -----------------------------------------------------
refused root / -v /:/host
refused etc /etc -v /etc:/x
refused usr /usr -v /usr:/x
refused var-lib /var/lib -v /var/lib:/x
refused boot /boot -v /boot:/x
refused dev /dev -v /dev:/x
refused sys /sys -v /sys:/x
refused run /run -v /run:/x
refused etc-passwd /etc/passwd -v /etc/passwd:/x/passwd
# a parent of a shared dir is no share; a parent of the engine socket is refused even in /tmp
refused parent-of-var-tmp /var -v /var:/x
refused tmp-parent-of-socket /tmp -v /tmp:/x

# --- class: indirections (symlinks, .., /proc/*/root, /proc/*/fd) ------------------------------
ln -s /etc "$W/etc-link"
ln -s /usr/local "$HOMEDIR/usr-link"
refused symlink-to-etc "$W/etc-link" -v "$W/etc-link:/x"
refused symlink-in-home "$HOMEDIR/usr-link/bin" -v "$HOMEDIR/usr-link/bin:/x"
refused proc-self-root /proc/self/root/etc -v /proc/self/root/etc:/x
# A host process (here one holding /usr/local/bin open): its /proc root and fds lead anywhere.
sleep 1000 3</usr/local/bin &
holder_pid=$!
refused proc-pid-root "/proc/$holder_pid/root/usr/local/bin" -v "/proc/$holder_pid/root/usr/local/bin:/x"
refused proc-pid-fd "/proc/$holder_pid/fd/3" -v "/proc/$holder_pid/fd/3:/x"
refused proc-self-root-dotdot /proc/self/root/etc -v /proc/self/root/tmp/../etc:/x
# dockerd cleans `..` itself; the message names what it asked the runtime for
refused dotdot-from-tmp /usr/local/bin -v /tmp/../usr/local/bin:/x
refused dotdot-from-home /usr -v "$HOMEDIR/../../usr:/x"

# --- class: every way to ask for a bind ----------------------------------------------------------
refused mount-type-bind /usr/local/bin --mount type=bind,src=/usr/local/bin,dst=/x
refused mount-type-bind-proc /proc --mount type=bind,src=/proc,dst=/hp
refused mount-type-bind-ro /etc --mount type=bind,src=/etc,dst=/x,readonly

# --- class: local volumes that bind or overlay a host path --------------------------------------
docker volume create -o type=none -o o=rbind -o device=/usr/local/bin v-rbind >/dev/null
refused volume-rbind /usr/local/bin -v v-rbind:/v
docker volume create -o type=none -o o=bind -o device=/ v-root >/dev/null
refused volume-root / -v v-root:/v
ln -s /etc "$W/etc-link2"
docker volume create -o type=none -o o=bind -o device="$W/etc-link2" v-symlink >/dev/null
refused volume-symlink /etc -v v-symlink:/v
mkdir -p "$W/ovl/upper" "$W/ovl/work"
docker volume create -o type=overlay -o o="lowerdir=/etc,upperdir=$W/ovl/upper,workdir=$W/ovl/work" \
  -o device=overlay v-overlay >/dev/null
refused volume-overlay-lowerdir /etc -v v-overlay:/v
mkdir -p "$W/ovl2/lower" "$W/ovl2/upper" "$W/ovl2/work"
docker volume create -o type=overlay \
  -o o="lowerdir=$W/ovl2/lower:/usr/local/bin,upperdir=$W/ovl2/upper,workdir=$W/ovl2/work" \
  -o device=overlay v-overlay-second-layer >/dev/null
refused volume-overlay-second-layer /usr/local/bin -v v-overlay-second-layer:/v
t_eq "no file planted in /usr/local/bin after the volume attacks" "" "$(ls /usr/local/bin | grep eci-pwn)"

# --- the host is unchanged ---------------------------------------------------------------------
t_eq "host /usr/local/bin, /usr/local, /boot unchanged" "$BEFORE" "$(snapshot)"
t_eq "no file planted in any system directory" "" "$(planted)"

# --- allowed binds keep working ----------------------------------------------------------------
mkdir -p "$HOMEDIR/project" && echo src >"$HOMEDIR/project/main.c"
allowed home-project 'cat /src/main.c && echo built > /src/out' -v "$HOMEDIR/project:/src"
t_eq "the container wrote into \$HOME/project" "built" "$(cat "$HOMEDIR/project/out" 2>/dev/null)"
mkdir -p /tmp/eci-binds-x.$$ && echo x >/tmp/eci-binds-x.$$/f
allowed tmp-x 'cat /x/f && echo y > /x/g' -v "/tmp/eci-binds-x.$$:/x"
t_eq "the container wrote into /tmp/x" "y" "$(cat /tmp/eci-binds-x.$$/g 2>/dev/null)"
rm -rf /tmp/eci-binds-x.$$
allowed mount-type-bind-home 'test -f /src/main.c' --mount "type=bind,src=$HOMEDIR/project,dst=/src"
ln -s "$HOMEDIR/project" "$W/project-link"
allowed symlink-to-share 'test -f /src/main.c' -v "$W/project-link:/src"
allowed named-volume 'echo v > /data/f && cat /data/f' -v named1:/data
allowed named-volume-again 'cat /data/f' -v named1:/data
mkdir -p "$W/voldev" && echo dev >"$W/voldev/f"
docker volume create -o type=none -o o=bind -o device="$W/voldev" v-ok >/dev/null
allowed bind-volume-in-share 'cat /v/f' -v v-ok:/v
docker volume create -o type=tmpfs -o device=tmpfs -o o=size=1m v-tmpfs >/dev/null
allowed tmpfs-volume 'echo t > /v/t && cat /v/t' -v v-tmpfs:/v
allowed privileged-home-project 'cat /src/main.c' --privileged -v "$HOMEDIR/project:/src"
docker run -d --name cpme busybox sleep 100 >/dev/null
echo copied >"$W/cp-in"
t_ok "docker cp into a container" docker cp "$W/cp-in" cpme:/tmp/cp-in
t_ok "docker cp out of a container" docker cp cpme:/tmp/cp-in "$W/cp-out"
t_eq "docker cp round trip" "copied" "$(cat "$W/cp-out" 2>/dev/null)"
docker rm -f cpme >/dev/null

# --- host files with the caller's rights (contract 4) ------------------------------------------
# A tiny client for eci-enforcerd's control socket (4-byte big-endian length + JSON), as the
# guard uses it: setCaller after the create, before the start.
set_caller() {  # ID UID GID
  python3 - "$ECI_CONTROL_SOCK" "$1" "$2" "$3" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
body = json.dumps({"op": "setCaller", "id": sys.argv[2], "uid": int(sys.argv[3]), "gid": int(sys.argv[4])}).encode()
s.sendall(struct.pack(">I", len(body)) + body)
n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
reply = json.loads(s.recv(n, socket.MSG_WAITALL))
print(json.dumps(reply))
sys.exit(0 if reply.get("ok") else 1)
PY
}
CU=4242
CG=4343
share="$HOMEDIR/caller"
mkdir -p "$share/rootdir"
chown "$CU:$CG" "$share"
echo secret >"$share/root-secret" && chmod 0600 "$share/root-secret"   # root's, 0600
echo mine >"$share/mine" && chown "$CU:$CG" "$share/mine" && chmod 0600 "$share/mine"
chmod 0755 "$share/rootdir"                                             # root's, 0755
# Root's world-writable directory and file, and a sticky directory with root's file in it: the
# caller may write the first two on the host, and may not remove the third; nor may the container.
mkdir -p "$share/open" "$share/sticky" && chmod 0777 "$share/open" && chmod 1777 "$share/sticky"
for priv in "" "--privileged"; do
  tag="caller${priv:+ (privileged)}"
  rm -f "$share/new" "$share/rootdir/new" "$share/open/made"
  echo s >"$share/shared" && chmod 0666 "$share/shared"
  echo r >"$share/sticky/roots" && chmod 0666 "$share/sticky/roots"
  # shellcheck disable=SC2086
  id=$(docker create $priv -v "$share:/c" busybox sh -c \
    'echo new > /c/new; stat -c %u:%g /c/mine; cat /c/mine;
     cat /c/root-secret 2>/dev/null && echo READ-SECRET;
     echo x > /c/rootdir/new 2>/dev/null && echo WROTE-ROOTDIR;
     chown 0:0 /c/new; chown 1:1 /c/new 2>/dev/null && echo CHOWNED;
     echo o > /c/open/made && echo WROTE-OPEN; echo y >> /c/shared && echo APPENDED;
     chmod u+s /c/shared 2>/dev/null && echo SETUID-SHARED;
     rm -f /c/sticky/roots 2>/dev/null; test -e /c/sticky/roots || echo REMOVED-STICKY; true')
  t_ok "$tag: setCaller $CU:$CG recorded by eci-enforcerd" set_caller "$id" "$CU" "$CG"
  out=$(docker start -a "$id" 2>&1)
  t_contains "$tag: the container ran and reads the caller's 0600 file" "mine" "$out"
  t_contains "$tag: the caller's files show as container root's" "0:0" "$out"
  t_not_contains "$tag: root's 0600 file stays unreadable" "READ-SECRET" "$out"
  t_not_contains "$tag: root's 0755 directory stays unwritable" "WROTE-ROOTDIR" "$out"
  t_not_contains "$tag: chown to another id refused" "CHOWNED" "$out"
  t_eq "$tag: after chown 0:0 inside, the file is still the caller's" "$CU:$CG" \
    "$(stat -c %u:%g "$share/new" 2>/dev/null)"
  t_ok "$tag: nothing was written into root's directory" test ! -e "$share/rootdir/new"
  t_contains "$tag: root's 0777 directory is writable, as for the caller" "WROTE-OPEN" "$out"
  t_eq "$tag: ... and the new file is the caller's" "$CU:$CG" \
    "$(stat -c %u:%g "$share/open/made" 2>/dev/null)"
  t_contains "$tag: root's 0666 file is writable, as for the caller" "APPENDED" "$out"
  t_eq "$tag: ... and stays root's, not set-id" "0:0 666 s y" \
    "$(stat -c '%u:%g %a' "$share/shared") $(tr '\n' ' ' <"$share/shared" | sed 's/ $//')"
  t_not_contains "$tag: root's file cannot be made set-id" "SETUID-SHARED" "$out"
  t_not_contains "$tag: root's file in a sticky directory cannot be removed" "REMOVED-STICKY" "$out"
  t_ok "$tag: ... it is still there" test -e "$share/sticky/roots"
  docker rm -f "$id" >/dev/null
done
# The record survives a restart of the container (docker stop deletes runc's container).
id=$(docker create -v "$share:/c" busybox sh -c 'echo again > /c/again-$(cat /proc/self/uid_map | wc -l)')
set_caller "$id" "$CU" "$CG" >/dev/null
docker start -a "$id" >/dev/null 2>&1
rm -f "$share"/again-*
docker start -a "$id" >/dev/null 2>&1
t_eq "after a restart the container still writes as the caller" "$CU:$CG" \
  "$(stat -c %u:%g "$share"/again-* 2>/dev/null | head -n1)"
docker rm -f "$id" >/dev/null
# Without a caller: today's mapping (container root is 0 on disk), still under the allowlist.
docker run --rm -v "$share:/c" busybox sh -c 'echo n > /c/nocaller' >/dev/null 2>&1
t_eq "unknown caller: the default mapping" "0:0" "$(stat -c %u:%g "$share/nocaller" 2>/dev/null)"
# Named volumes keep the container's mapping even with a caller.
id=$(docker create -v callervol:/d busybox sh -c 'echo v > /d/f')
set_caller "$id" "$CU" "$CG" >/dev/null
docker start -a "$id" >/dev/null 2>&1
t_eq "named volume with a caller: container mapping (0 on disk)" "0:0" \
  "$(stat -c %u:%g "$ECI_DATA_ROOT/volumes/callervol/_data/f" 2>/dev/null)"
docker rm -f "$id" >/dev/null

# docker cp goes through dockerd, which copies into and out of the container's mounts as host root:
# through a host bind that would be root's access to the directory, around the caller's mapping.
# A developer (uid $CU, in the socket's group) on the guard: refused for a container with a host
# bind, in both directions; still fine for a container without one; root keeps it.
as_dev() {  # docker as uid $CU (group 0 opens the harness's guard socket)
  setpriv --reuid "$CU" --regid "$CG" --groups 0 env HOME="$W/dev-home" DOCKER_HOST="$GUARD_HOST" "$@"
}
mkdir -p "$W/dev-home" && chown "$CU:$CG" "$W/dev-home"
echo pwn >"$W/dev-home/pwn" && chown "$CU:$CG" "$W/dev-home/pwn"
id=$(docker create -v "$share:/c" busybox sleep 300)
set_caller "$id" "$CU" "$CG" >/dev/null
docker start "$id" >/dev/null
t_eq "docker cp, host bind: the container runs" "true" "$(docker inspect -f '{{.State.Running}}' "$id")"
out=$(as_dev docker cp "$id:/c/root-secret" - 2>&1)
t_contains "docker cp out through a host bind, as a developer: refused" "docker cp is not available" "$out"
t_not_contains "  ... root's 0600 file not read" "secret" "$out"
out=$(as_dev docker cp "$W/dev-home/pwn" "$id:/c/rootdir/pwn" 2>&1)
t_contains "docker cp into a host bind, as a developer: refused" "docker cp is not available" "$out"
t_ok "  ... nothing written into root's directory" test ! -e "$share/rootdir/pwn"
# The same request through a symlink in the container's rootfs (dockerd follows it in scope).
docker exec "$id" ln -s /c /link
out=$(as_dev docker cp "$W/dev-home/pwn" "$id:/link/rootdir/pwn" 2>&1)
t_contains "docker cp through a symlink to the bind: refused" "docker cp is not available" "$out"
t_ok "  ... nothing written" test ! -e "$share/rootdir/pwn"
out=$(DOCKER_HOST="$GUARD_HOST" docker cp "$id:/c/root-secret" - 2>/dev/null | tar -xO 2>/dev/null)
t_eq "docker cp through a host bind as root (the guard's caller is root): works" "secret" "$out"
docker rm -f "$id" >/dev/null
id=$(docker run -d -v callervol:/v busybox sleep 300)
t_ok "docker cp into the rootfs, as a developer: works" as_dev docker cp "$W/dev-home/pwn" "$id:/tmp/"
t_ok "docker cp into a named volume, as a developer: works" as_dev docker cp "$W/dev-home/pwn" "$id:/v/"
t_eq "  ... and back out" "pwn" "$(as_dev docker cp "$id:/v/pwn" - 2>/dev/null | tar -xO 2>/dev/null)"
docker rm -f "$id" >/dev/null

# A missing -v source: dockerd would create it at start as host root (a developer could make
# root-owned directories where they may not write, which their container root then cannot use).
# Through the guard it is made as the developer, or refused where they could not make it; root's
# requests stay dockerd's. With and without --privileged, at create and again at start.
for priv in "" "--privileged"; do
  tag="missing -v source, as a developer${priv:+ (privileged)}"
  rm -rf "$share/newdir$priv" "$share/rootdir/new$priv"
  # shellcheck disable=SC2086
  out=$(as_dev docker run --rm $priv -v "$share/newdir$priv/sub:/d" busybox sh -c \
    'echo made > /d/f && echo RAN' 2>&1)
  t_contains "$tag: the container ran" "RAN" "$out"
  t_eq "$tag: the new directories are the developer's" "$CU:$CG $CU:$CG" \
    "$(stat -c %u:%g "$share/newdir$priv" "$share/newdir$priv/sub" 2>&1 | xargs)"
  t_eq "$tag: and so is the file the container wrote" "$CU:$CG" \
    "$(stat -c %u:%g "$share/newdir$priv/sub/f" 2>&1)"
  # shellcheck disable=SC2086
  out=$(as_dev docker run --rm $priv -v "$share/rootdir/new$priv/x:/d" busybox echo RAN 2>&1)
  t_contains "$tag, in root's 0755 directory: refused" "cannot be created as uid $CU" "$out"
  t_not_contains "  ... the container never ran" "RAN" "$out"
  t_ok "  ... and nothing was made there" test ! -e "$share/rootdir/new$priv"
done
# Made again at start if it went away after create, still as the developer.
id=$(as_dev docker create -v "$share/again/d:/d" busybox sh -c 'echo RAN')
rm -rf "$share/again"
t_contains "a bind source removed after create: the start runs" "RAN" \
  "$(as_dev docker start -a "$id" 2>&1)"
t_eq "  ... and the directory it needed is the developer's" "$CU:$CG" \
  "$(stat -c %u:%g "$share/again/d" 2>&1)"
docker rm -f "$id" >/dev/null
rm -rf "$share/again"
# --mount without CreateMountpoint keeps dockerd's answer; root keeps dockerd's behaviour.
out=$(as_dev docker run --rm --mount "type=bind,src=$share/nomount,dst=/d" busybox true 2>&1)
t_contains "--mount of a missing source: dockerd's own error" "does not exist" "$out"
t_ok "  ... nothing made" test ! -e "$share/nomount"
rm -rf "$share/rootmade"
DOCKER_HOST="$GUARD_HOST" docker run --rm -v "$share/rootmade:/d" busybox true >/dev/null 2>&1
t_eq "control: a missing -v source of root's request is made by dockerd, as root" "0:0" \
  "$(stat -c %u:%g "$share/rootmade" 2>&1)"

# Swarm services: dockerd makes their task containers itself, past the guard, so none has a caller
# record and eci-runc maps its host files as the container's root (0 on disk). The control (root's
# service) shows what a developer would get; a developer's service with host files is refused.
DOCKER_HOST="$GUARD_HOST" timeout 60 docker swarm init --advertise-addr 127.0.0.1 >/dev/null 2>&1
t_eq "swarm initialised (through the guard, as root)" "active" \
  "$(DOCKER_HOST="$GUARD_HOST" docker info -f '{{.Swarm.LocalNodeState}}' 2>&1)"
mkdir -p "$share/svc" && chmod 0777 "$share/svc"
DOCKER_HOST="$GUARD_HOST" timeout 60 docker service create --detach --name eci-svc-root \
  --restart-condition none --mount "type=bind,src=$share/svc,dst=/c" busybox \
  sh -c 'echo x > /c/root-task; sleep 2' >/dev/null 2>&1
_eci_wait_for 60 test -e "$share/svc/root-task"
t_eq "control: root's service task writes host files as root (no caller record)" "0:0" \
  "$(stat -c %u:%g "$share/svc/root-task" 2>&1)"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker volume create -o type=none -o o=bind \
  -o device="$share/svc" svc-hostvol >/dev/null
for mnt in "type=bind,src=$share/svc,dst=/c" "type=bind,src=$share/svc,dst=/c,readonly" \
  "type=volume,src=svc-hostvol,dst=/c" \
  "type=volume,src=svc-new,dst=/c,volume-driver=local,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=$share/svc"; do
  out=$(as_dev timeout 60 docker service create --detach --name eci-svc-dev \
    --restart-condition none --mount "$mnt" busybox sh -c 'echo x > /c/dev-task' 2>&1)
  t_contains "a developer's service with host files is refused: ${mnt%%,dst=*}" \
    "swarm services cannot mount host files" "$out"
done
sleep 2
t_eq "  ... no such service exists" "" \
  "$(DOCKER_HOST="$GUARD_HOST" docker service ls -q --filter name=eci-svc-dev 2>&1)"
t_ok "  ... and no task wrote into the host directory" test ! -e "$share/svc/dev-task"
out=$(as_dev timeout 60 docker service create --detach --name eci-svc-plain \
  --restart-condition none --mount type=volume,src=svc-plain,dst=/v busybox true 2>&1)
t_not_contains "a developer's service with a plain named volume is allowed" "isolation" "$out"
for svc in eci-svc-root eci-svc-plain; do
  DOCKER_HOST="$GUARD_HOST" docker service rm "$svc" >/dev/null 2>&1
done
DOCKER_HOST="$GUARD_HOST" docker swarm leave --force >/dev/null 2>&1
_eci_wait_for 30 sh -c '[ -z "$(DOCKER_HOST=unix://'"$ECI_DOCKERD_SOCK"' docker ps -aq --filter label=com.docker.swarm.service.name)" ]'
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker volume rm -f svc-hostvol svc-plain >/dev/null 2>&1

# dockerd copies the image's files at a volume's mount point into the volume when it is empty, as
# host root with owners and modes kept: into a volume that binds a host directory that planted a
# setuid-root copy on the host. Through the guard such mounts get nocopy (as a bind never copies):
# docker volume create, inline --mount volume-opt=..., and --volumes-from, with and without
# --privileged.
printf 'FROM busybox\nRUN mkdir -p /opt && cp /bin/busybox /opt/suid && chmod 4755 /opt/suid\n' \
  >"$W/Dockerfile.suid"
DOCKER_BUILDKIT=0 docker build -q -t eci-suid -f "$W/Dockerfile.suid" "$W" >/dev/null 2>&1
t_contains "a setuid-root file in the image" "-rwsr-xr-x" \
  "$(docker run --rm eci-suid ls -l /opt/suid 2>&1)"
for priv in "" "--privileged"; do
  cu="$W/copyup$priv"
  mkdir -p "$cu" && chmod 0777 "$cu"
  DOCKER_HOST="$GUARD_HOST" docker volume create -o type=none -o o=bind -o device="$cu" \
    "cuvol$priv" >/dev/null
  inline="type=volume,src=cuinline$priv,dst=/opt,volume-driver=local,volume-opt=type=none"
  inline+=",volume-opt=o=bind,volume-opt=device=$cu"
  # shellcheck disable=SC2086
  for how in "-v cuvol$priv:/opt" "--mount $inline"; do
    out=$(DOCKER_HOST="$GUARD_HOST" docker run --rm $priv $how eci-suid sh -c 'echo started' 2>&1)
    t_contains "copy-up into a bind-backed volume ($how${priv:+, privileged}): the container ran" \
      "started" "$out"
    t_eq "  ... no file copied into the host directory" "" "$(ls -A "$cu")"
  done
  # shellcheck disable=SC2086
  holder=$(DOCKER_HOST="$GUARD_HOST" docker create $priv -v "cuvol$priv:/opt" busybox true)
  # shellcheck disable=SC2086
  out=$(DOCKER_HOST="$GUARD_HOST" docker run --rm $priv --volumes-from "$holder" eci-suid \
    sh -c 'echo started' 2>&1)
  t_contains "copy-up through --volumes-from${priv:+ (privileged)}: the container ran" "started" "$out"
  t_eq "  ... no file copied into the host directory" "" "$(ls -A "$cu")"
  t_eq "  ... no set-id file there at all" "" "$(find "$cu" -perm /6000 -print)"
  docker rm -f "$holder" >/dev/null
done

# A local volume that binds a host directory is a host bind too: the caller's mapping, never the
# container's (with it, container root would write as host root into the directory: another
# user's home, or a setuid-root file in /tmp). Created with `docker volume create` and inline with
# --mount volume-opt=..., with and without --privileged.
vdir="$HOMEDIR/caller-vol"
mkdir -p "$vdir" && chown 0:0 "$vdir" && chmod 0755 "$vdir"   # root's, 0755
docker volume create -o type=none -o o=bind -o device="$vdir" callerbindvol >/dev/null
inline="type=volume,src=callerinlinevol,dst=/v,volume-driver=local,volume-opt=type=none"
inline+=",volume-opt=o=bind,volume-opt=device=$vdir"
attack='echo started; echo x > /v/f 2>/dev/null && echo WROTE; cp /bin/busybox /tmp/s
  chmod 4755 /tmp/s; cp -p /tmp/s /v/s 2>/dev/null && echo PLANTED; true'
for how in named inline; do
  for priv in "" "--privileged"; do
    tag="bind-backed volume ($how${priv:+, privileged})"
    if [[ $how == named ]]; then vol=(-v callerbindvol:/v); else vol=(--mount "$inline"); fi
    # shellcheck disable=SC2086
    id=$(docker create $priv "${vol[@]}" busybox sh -c "$attack")
    set_caller "$id" "$CU" "$CG" >/dev/null
    out=$(docker start -a "$id" 2>&1)
    t_contains "$tag: the container ran" "started" "$out"
    t_not_contains "$tag: root's 0755 directory stays unwritable for the caller" "WROTE" "$out"
    t_not_contains "$tag: no setuid copy planted" "PLANTED" "$out"
    t_eq "$tag: the host directory is unchanged" "" "$(ls -A "$vdir")"
    docker rm -f "$id" >/dev/null
  done
done
chown "$CU:$CG" "$vdir"   # now the caller's: what container root writes lands as the caller
id=$(docker create -v callerbindvol:/v busybox sh -c "$attack")
set_caller "$id" "$CU" "$CG" >/dev/null
out=$(docker start -a "$id" 2>&1)
t_contains "bind-backed volume, the caller's directory: written" "WROTE" "$out"
t_eq "  ... as the caller" "$CU:$CG" "$(stat -c %u:%g "$vdir/f" 2>/dev/null)"
t_eq "  ... and nothing there is host root's" "" "$(find "$vdir" -mindepth 1 \( -uid 0 -o -gid 0 \) -print)"
docker rm -f "$id" >/dev/null
docker volume rm -f callerbindvol callerinlinevol >/dev/null 2>&1
rm -rf "$vdir"

docker ps -aq | xargs -r docker rm -f >/dev/null
t_eq "nothing left under eci-runc's run dir" "" "$(eci_leftovers)"
t_summary
