#!/usr/bin/env bash
# Docker-in-Docker and a kind-style containerd node under eci (issue 15), through the harness's real
# dockerd + eci. The outer containers are started by a developer (uid $CU, on the guard socket), the
# adversary of the threat model: `docker run --privileged` of an image made from this host's own
# files (tests/e2e/lib/dind_image.sh; no registry), with an inner dockerd on its DEFAULTS: overlay2
# on a named volume at /var/lib/docker, bridge networking with iptables (nft) in the container's
# netns, cgroupfs on the cgroups eci-runc delegates to a --privileged container.
# Proven here, each by a check that fails when it breaks:
#   A  the inner engine: starts on overlay2 + bridge/iptables, runs the real runc, loads images,
#      builds (classic and BuildKit) without RUN; nothing of it reaches the host (rules, links)
#   B  inner containers: uid map inside the outer range, own pid namespace (ps), RUN in builds,
#      a user-defined bridge between two inner containers, a published port
#   C  protections hold while it runs, from an inner --privileged container: container uptime,
#      masked /proc/keys (also in its own `mount -t proc`), no host devices, a host bind written
#      as the developer (never host root) and root's 0600 file unreadable; cgroups: the inner
#      engine's cgroups are the outer root's, the outer limit holds and cannot be raised
#   D  a kind-style node: containerd (no dockerd) with the real runc, `ctr image import`, a nested
#      `ctr run --rm` showing its uid map and ps
#   E  the host afterwards: rules, links, /proc/sys knobs unchanged; volumes, containers, images
#      the suite made are gone.
#
#   dind_test.sh          all of it (ctest e2e_dind, in the default run)
#   dind_test.sh engine   only what needs no inner container
set -u
FULL=1
[[ "${1:-}" == engine ]] && FULL=0
. "$(dirname "$0")/lib/harness.sh"
. "$(dirname "$0")/lib/dind_image.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }

CU=1000 CG=1000
W=$ECI_T/dind-work
mkdir -p "$W/home" && chown "$CU:$CG" "$W/home"
as_dev() { setpriv --reuid "$CU" --regid "$CG" --groups 0 env HOME="$W/home" "$@"; }
trim() { tr -s ' \t' ' ' | sed 's/^ //; s/ $//'; }
# "inner-host-start inner-len" lies within "outer-host-start outer-len" (maps: "0 H L" lines).
map_within() {  # INNER-MAP OUTER-MAP
  local is il os ol
  read -r _ is il <<<"$1"
  read -r _ os ol <<<"$2"
  [[ "$is$il$os$ol" =~ ^[0-9]+$ ]] && ((is >= os && is + il <= os + ol))
}
host_state() {  # what an inner engine must never change on the host (counters left out)
  {
    iptables-nft-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
    iptables-legacy-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
    ip link show docker0 2>&1 | head -n1 | cut -d: -f2-
    cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/core_pattern /proc/sys/vm/overcommit_memory
  } 2>&1
}

t_ok "the DinD image is built from this host's files" eci_dind_image eci-dind:local
# eci-runc would pass `--version` through: compare the bytes with the real runc's.
t_eq "  ... its runc is the real runc, byte for byte" \
  "$(sha256sum <"$(readlink -f "${ECI_REAL_RUNC:-/usr/sbin/runc}")" | cut -d' ' -f1)" \
  "$(docker run --rm eci-dind:local sh -c 'sha256sum < "$(command -v runc)"' 2>&1 | cut -d' ' -f1)"
t_ok "  ... and busybox's saved image" docker run --rm eci-dind:local test -s /images/busybox.tar

host_before=$(host_state)
had_docker0=$(ip link show docker0 >/dev/null 2>&1 && echo yes || echo no)
# A shared host directory the developer owns, with root's secret and a root-only directory in it.
share=$ECI_T/share
mkdir -p "$share/rootdir" && chown "$CU:$CG" "$share" && chmod 0755 "$share/rootdir"
echo secret >"$share/root-secret" && chmod 0600 "$share/root-secret"

# --- A: the inner engine on its defaults ------------------------------------------------------
vol=eci-dind-vol-$$
as_dev docker volume create "$vol" >/dev/null
as_dev docker run -d --privileged --name dind --memory 1g -v "$vol:/var/lib/docker" \
  -v "$share:/hostshare" eci-dind:local dockerd >/dev/null
t_ok "inner dockerd answers (no storage/iptables flags)" _eci_wait_for 60 docker exec dind docker version
dlog() { docker logs dind 2>&1; }
t_eq "inner storage driver: overlay2 (the default) on the volume" "overlay2" \
  "$(docker exec dind docker info -f '{{.Driver}}' 2>&1)"
t_eq "inner cgroup driver on the delegated v1 hierarchy" "cgroupfs 1" \
  "$(docker exec dind docker info -f '{{.CgroupDriver}} {{.CgroupVersion}}' 2>&1)"
t_contains "inner bridge + iptables (nft, the default): MASQUERADE in the container's netns" \
  "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" \
  "$(docker exec dind iptables -t nat -S POSTROUTING 2>&1)"
t_contains "  ... through the nft backend" "nf_tables" "$(docker exec dind iptables -V 2>&1)"
t_ok "  ... docker0 is in the container" docker exec dind ip link show docker0
[[ $had_docker0 == no ]] && t_fails "  ... and not on the host" ip link show docker0
t_not_contains "  ... the host's rules lack it" "172.17.0.0/16" \
  "$(iptables-nft-save 2>&1; iptables-legacy-save 2>&1)"
t_eq "inner dockerd logged no error while starting" "" "$(dlog | grep -E 'level=(error|fatal)')"
t_contains "docker load of the saved busybox" "Loaded image: busybox:latest" \
  "$(docker exec dind docker load -i /images/busybox.tar 2>&1)"
# A build without RUN needs no inner container: both builders, layers on overlay2.
docker exec dind sh -c 'mkdir -p /b1 && cd /b1 && echo hi > f &&
  printf "FROM busybox\nCOPY f /f\nENV BUILT=1\n" > Dockerfile'
t_ok "classic build (COPY, no RUN)" docker exec -e DOCKER_BUILDKIT=0 -w /b1 dind docker build -q -t copy1 .
t_ok "BuildKit build (COPY, no RUN)" docker exec -e DOCKER_BUILDKIT=1 -w /b1 dind docker build -t copy2 .
t_contains "  ... both images listed" "copy1 copy2" \
  "$(docker exec dind docker images --format '{{.Repository}}' 2>&1 | sort | xargs)"

outer_pid=$(docker inspect -f '{{.State.Pid}}' dind)
outer_map=$(trim <"/proc/$outer_pid/uid_map")
t_ok "the outer container has its own range (not the identity map)" test "$outer_map" != "0 0 4294967295"
cg=$(awk -F: '$2 == "memory" {print $3}' "/proc/$outer_pid/cgroup")
cgdir=/sys/fs/cgroup/memory$cg
# The outer container's limit (--memory 1g), set from outside, holds.
out=$(docker exec dind sh -c 'echo 4294967296 > /sys/fs/cgroup/memory/memory.limit_in_bytes && echo RAISED' 2>&1)
t_not_contains "the outer container cannot raise its own limit" "RAISED" "$out"
t_eq "  ... the outer limit holds on the host" "1073741824" "$(cat "$cgdir/memory.limit_in_bytes")"
t_eq "  ... and stays root's" "0" "$(stat -c %u "$cgdir/memory.limit_in_bytes")"

# --- D: a kind-style node: containerd + the real runc, no dockerd --------------------------------
nvol=eci-node-vol-$$
as_dev docker volume create "$nvol" >/dev/null
as_dev docker run -d --privileged --name node -v "$nvol:/var/lib/containerd" eci-dind:local \
  containerd >/dev/null
t_ok "node: containerd answers" _eci_wait_for 30 docker exec node ctr version
out=$(docker exec node ctr image import /images/busybox.tar 2>&1)
t_contains "node: ctr image import of the saved busybox" "docker.io/library/busybox:latest" "$out"

# --- the nested half (FULL): everything that needs inner containers ----------------------------
# B: inner containers.
inner_containers() {
  # Every inner sandbox is a netns pinned by a bind mount of /proc/<pid>/ns/net (libnetwork's
  # netns-create and setkey; CNI and `ip netns add` do the same), in the container's own netns and
  # in a new one.
  t_eq "a netns is pinned by a bind of /proc/self/ns/net (libnetwork, CNI)" "pinned pinned" \
    "$(docker exec dind sh -c 'touch /tmp/ns1 /tmp/ns2
      mount --bind /proc/self/ns/net /tmp/ns1 && echo pinned
      unshare -n sh -c "mount --bind /proc/\$\$/ns/net /tmp/ns2" && echo pinned' 2>&1 | xargs)"
  # What runc does for every inner container, one by one (docs/design/dind.md, "What waits").
  t_eq "mqueue mounts in a new ipc namespace (runc's /dev/mqueue)" "mounted" \
    "$(docker exec dind unshare -i sh -c 'mkdir -p /tmp/mq && mount -t mqueue mqueue /tmp/mq &&
      echo mounted' 2>&1)"
  t_eq "a nested netns writes its own net sysctl (Docker's ip_unprivileged_port_start)" "written" \
    "$(docker exec dind unshare -m -n -p -f --mount-proc sh -c \
      'echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start && echo written' 2>&1)"
  out=$(docker exec dind docker run --rm busybox cat /proc/self/uid_map 2>&1)
  inner_map=$(trim <<<"$out")
  if map_within "$inner_map" "$outer_map"; then
    t_pass "inner container's uid map [$inner_map] within the outer [$outer_map]"
  else
    t_fail "inner container's uid map within the outer [$outer_map]" "$out"
  fi
  out=$(docker exec dind docker run --rm busybox ps -o pid,comm 2>&1)
  t_eq "inner ps: only its own process (own pid namespace)" "PID COMMAND|1 ps" \
    "$(trim <<<"$out" | paste -sd'|')"
  docker exec dind sh -c 'mkdir -p /b2 && printf "FROM busybox\nRUN echo built > /f\n" > /b2/Dockerfile'
  out=$(docker exec -e DOCKER_BUILDKIT=0 -w /b2 dind docker build -q -t run1 . 2>&1)
  t_contains "classic build with RUN" "sha256:" "$out"
  t_eq "  ... its RUN ran" "built" "$(docker exec dind docker run --rm run1 cat /f 2>&1)"
  out=$(docker exec -e DOCKER_BUILDKIT=1 -w /b2 dind docker build -t run2 . 2>&1)
  t_contains "BuildKit build with RUN" "naming to docker.io/library/run2" "$out"
  t_eq "  ... its RUN ran" "built" "$(docker exec dind docker run --rm run2 cat /f 2>&1)"
  # A user-defined bridge: one inner container serves, another reaches it by name (embedded DNS).
  docker exec dind docker network create innernet >/dev/null 2>&1
  docker exec dind docker run -d --name web --network innernet -p 8081:8080 busybox sh -c \
    'mkdir /www && echo served-inside > /www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null 2>&1
  t_ok "inner web container runs" _eci_wait_for 20 docker exec dind docker exec web wget -qO- http://127.0.0.1:8080/
  t_eq "inner bridge: another container reaches it by name" "served-inside" \
    "$(docker exec dind docker run --rm --network innernet busybox wget -qO- http://web:8080/ 2>&1)"
  t_ok "  ... and pings it" docker exec dind docker run --rm --network innernet busybox ping -c1 -W2 web
  t_eq "published port: reached from the DinD container" "served-inside" \
    "$(docker exec dind wget -qO- http://127.0.0.1:8081/ 2>&1)"
  t_contains "  ... by a DNAT rule in the container's netns" "--dport 8081 -j DNAT" \
    "$(docker exec dind iptables -t nat -S DOCKER 2>&1)"

}

# C: the outer container's protections hold for what runs inside.
inner_protections() {
  # Inner --privileged, or as close as this machine allows: a host whose own bounding set lacks a
  # capability (this VM: CAP_SYS_RESOURCE) fails every `--privileged` in the inner runc ("unable
  # to apply caps"), with or without eci. Then: every capability the machine has, no seccomp,
  # AppArmor or masked system paths of the inner engine's, every device allowed.
  IPRIV=(--privileged)
  if docker exec dind docker run --rm "${IPRIV[@]}" busybox true 2>&1 | grep -q 'unable to apply caps'; then
    IPRIV=(--cap-add ALL --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --security-opt systempaths=unconfined --device-cgroup-rule 'a *:* rwm')
    # ... minus what this machine's bounding set lacks (the DinD container's own shows them
    # inside its user namespace, yet the kernel refuses them); the names Debian's dockerd 20.10
    # knows (up to AUDIT_READ).
    local names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
      LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
      SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
      SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
      WAKE_ALARM BLOCK_SUSPEND AUDIT_READ) bit
    bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
    for ((bit = 0; bit < ${#names[@]}; bit++)); do
      ((((0x$bnd >> bit) & 1) == 0)) && IPRIV+=(--cap-drop "${names[bit]}")
    done
    echo "# inner --privileged cannot start on this machine: using ${IPRIV[*]}"
  fi
  host_up=$(cut -d. -f1 /proc/uptime)
  t_ok "the host has been up long enough to tell its uptime apart ($host_up s)" test "$host_up" -gt 300
  inner=$(docker exec dind docker run --rm "${IPRIV[@]}" busybox cut -d. -f1 /proc/uptime 2>&1)
  if [[ "$inner" =~ ^[0-9]+$ ]] && ((inner < host_up - 120)); then
    t_pass "inner --privileged: /proc/uptime is the container's ($inner s), not the host's"
  else
    t_fail "inner --privileged: /proc/uptime is the container's, not the host's ($host_up s)" "$inner"
  fi
  t_ok "the host's /proc/keys has content (what a mask hides)" test "$(wc -c </proc/keys)" -gt 0
  t_eq "inner --privileged: /proc/keys masked" "0" \
    "$(docker exec dind docker run --rm "${IPRIV[@]}" busybox sh -c 'wc -c < /proc/keys' 2>&1 | trim)"
  t_eq "inner --privileged: its own mount -t proc shows /proc/keys masked" "mounted 0" \
    "$(docker exec dind docker run --rm "${IPRIV[@]}" busybox sh -c \
      'mkdir /p && mount -t proc proc /p && echo mounted $(wc -c < /p/keys)' 2>&1 | trim)"
  out=$(docker exec dind docker run --rm "${IPRIV[@]}" busybox sh -c 'echo RAN
    ls /dev | grep -E "^(mem|kmsg|vda|sda|nvme0n1|port)$"; mknod /tmp/d b 8 0 2>/dev/null && echo MKNOD' 2>&1)
  t_eq "inner --privileged: the probe ran, no host devices in /dev, mknod of a host disk refused" \
    "RAN" "$out"
  out=$(docker exec dind docker run --rm "${IPRIV[@]}" -v /hostshare:/h busybox sh -c '
    echo inner > /h/inner-file && echo WROTE; cat /h/root-secret 2>/dev/null || echo NOREAD
    (echo x > /h/rootdir/pwn) 2>/dev/null || echo NOWRITE' 2>&1)
  t_eq "inner --privileged in a host bind: writes its own file, cannot read root's 0600 file nor write root's dir" \
    "WROTE NOREAD NOWRITE" "$(xargs <<<"$out")"
  t_eq "  ... the file is the developer's on the host, never host root's" "$CU:$CG" \
    "$(stat -c %u:%g "$share/inner-file" 2>&1)"
  if [[ "$out" == *WROTE* ]]; then
    t_ok "  ... nothing written into root's directory (host side)" test ! -e "$share/rootdir/pwn"
  else
    t_fail "  ... nothing written into root's directory (host side)" "the attack did not run: $out"
  fi

}

# C: cgroups delegated to the outer container, its limit set from outside.
inner_cgroups() {
  local run_out state
  run_out=$(docker exec dind docker run -d --name sleeper --memory 2g busybox sleep 300 2>&1)
  sleeper_id=$(docker exec dind docker inspect -f '{{.Id}}' sleeper 2>/dev/null)
  if [[ -n "$sleeper_id" && -d "$cgdir/docker/$sleeper_id" ]]; then
    t_pass "inner engine made its container's cgroup below the outer one"
  else
    # What the inner engine said and the container's state: a run that failed leaves a created,
    # never started container (an id, no cgroup); one that exited has a status and an error.
    state=$(docker exec dind docker inspect -f '{{.State.Status}} exit={{.State.ExitCode}} {{.State.Error}}' sleeper 2>&1)
    t_fail "inner engine made its container's cgroup below the outer one" \
      "no $cgdir/docker/$sleeper_id; run: ${run_out:0:400}; state: ${state:0:300}; below the outer cgroup: $(ls "$cgdir/docker" 2>&1 | head -c 300)"
  fi
  t_eq "  ... owned by the outer container's root" "$(awk '{print $2}' <<<"$outer_map")" \
    "$(stat -c %u "$cgdir/docker/$sleeper_id" 2>&1)"
  t_eq "  ... the inner --memory 2g is its own (child) limit" "2147483648" \
    "$(cat "$cgdir/docker/$sleeper_id/memory.limit_in_bytes" 2>&1)"
}

# D: the nested container of the kind-style node.
node_nested() {
  node_pid=$(docker inspect -f '{{.State.Pid}}' node)
  node_map=$(trim <"/proc/$node_pid/uid_map")
  out=$(docker exec node ctr run --rm docker.io/library/busybox:latest nested sh -c \
    'cat /proc/self/uid_map; ps -o pid,comm' 2>&1)
  nested_map=$(head -n1 <<<"$out" | trim)
  if map_within "$nested_map" "$node_map"; then
    t_pass "node: nested container's uid map [$nested_map] within the node's [$node_map]"
  else
    t_fail "node: nested container's uid map within the node's [$node_map]" "$out"
  fi
  # (busybox sh runs its last command in its own place: ps may be pid 1 itself)
  nested_ps=$(tail -n +2 <<<"$out" | trim | sed 's/^[0-9]* ps$/ps/' | paste -sd'|')
  t_ok "node: nested ps sees only its own processes [$nested_ps]" \
    grep -Eqx 'PID COMMAND\|(1 sh\|)?ps' <<<"$nested_ps"

}

if ((FULL)); then
  inner_containers
  inner_protections
  inner_cgroups
  node_nested
fi

# --- E: cleanup and the host afterwards ---------------------------------------------------------
docker rm -f dind node >/dev/null 2>&1
as_dev docker volume rm "$vol" "$nvol" >/dev/null
docker image rm eci-dind:local >/dev/null
t_eq "the suite's volumes are gone" "" "$(docker volume ls -q | grep -E "^eci-(dind|node)-vol-$$\$")"
t_fails "the DinD image is gone" docker image inspect eci-dind:local
t_eq "host rules, links and knobs unchanged" "$host_before" "$(host_state)"
t_eq "nothing left under eci-runc's run dir" "" "$(eci_leftovers)"
t_summary
