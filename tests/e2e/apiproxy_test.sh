#!/usr/bin/env bash
# Issue 14: the Engine API guard (eci-apiproxyd) through the real docker CLI, dockerd and eci-runc.
# The harness already puts the guard on DOCKER_HOST; dockerd listens only on $ECI_DOCKERD_SOCK.
#   1. pass-through: run -i/-it, attach, exec -i/-it, logs -f, events, wait, cp both ways,
#      build, save/load, docker-compose up, keep-alive;
#   2. framing: smuggling/malformed requests on the raw socket get 4xx and never reach dockerd;
#   3. decisions: socket-mount image allowlist (by digest/ID, retagging refused), runtime forced,
#      build networkmode=host refused, caller identity;
#   4. per-container sockets: command list, siblings isolated, raw curl.
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }
W="$ECI_T/work"
mkdir -p "$W"

# raw REQUEST-FILE [SOCKET]: send the bytes of REQUEST-FILE on one connection, print what comes
# back within 2 s (the guard closes after a refusal).
raw() {
  python3 - "$1" "${2:-$ECI_T/docker.sock}" <<'EOF'
import socket, sys
data = open(sys.argv[1], 'rb').read()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[2])
s.settimeout(2)
s.sendall(data)
out = b''
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except socket.timeout:
    pass
sys.stdout.write(out.decode('latin-1'))
EOF
}

# audit_count [JQ-ARGS] FILTER: how many audit records FILTER selects.
audit_count() {
  jq -c "$@" "$ECI_AUDIT_LOG" 2>/dev/null | wc -l
}
audit_at_least() {  # N [JQ-ARGS] FILTER
  local n=$1
  shift
  (($(audit_count "$@") >= n))
}

# --- 1. pass-through --------------------------------------------------------------------------
t_contains "guard answers docker version (server API)" "API version" "$(docker version 2>&1)"
t_ok "dockerd listens only on its private socket" grep -qF "unix://$ECI_DOCKERD_SOCK" /proc/"$ECI_DOCKERD_PID"/cmdline
t_eq "run -i: stdin reaches the container and EOF ends it" "hello-stdin" \
  "$(echo hello-stdin | docker run -i --rm busybox cat)"
out=$(script -qec "docker run -it --rm busybox sh -c 'tty; echo tty-ok'" /dev/null </dev/null)
t_contains "run -it: a tty" "/dev/pts/" "$out"
t_contains "run -it: output" "tty-ok" "$out"
docker run --rm busybox sh -c 'exit 3' >/dev/null 2>&1
t_eq "run: exit code through wait" "3" "$?"

docker run -d --name ticker busybox sh -c 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done' >/dev/null
sleep 0.5
# The last line before following, then 3 s of following: lines written meanwhile must come (a
# count fixed in advance, "line20", once depended on how fast a loaded machine ran the loop).
before_follow=$(docker logs ticker 2>&1 | tail -n 1 | tr -dc 0-9)
out=$(timeout 3 docker logs -f ticker 2>&1)
last_followed=$(tail -n 1 <<<"$out" | tr -dc 0-9)
t_ok "logs -f streams as lines come (line ${before_follow:-?} before, ${last_followed:-?} last)" \
  test "${last_followed:-0}" -gt "$((${before_follow:-0} + 2))"
t_eq "exec" "hello-exec" "$(docker exec ticker echo hello-exec)"
t_eq "exec -i: stdin and half-close" "abc" "$(echo abc | docker exec -i ticker cat)"
out=$(script -qec "docker exec -it ticker sh -c 'tty; echo exec-tty-ok'" /dev/null </dev/null)
t_contains "exec -it: a tty" "/dev/pts/" "$out"
t_contains "exec -it: output" "exec-tty-ok" "$out"
# exec whose output outlives its stdin (half-close must not end the stream)
t_eq "exec -i: output after stdin EOF" "late" \
  "$(echo x | docker exec -i ticker sh -c 'cat >/dev/null; sleep 1; echo late')"

docker run -d --name att busybox sh -c 'sleep 1; echo attached-out' >/dev/null
t_eq "attach: output until the container exits" "attached-out" "$(timeout 20 docker attach att)"

# The CLI's subscription cannot be seen from outside, so containers are started until one of their
# start events arrives on the open stream (a fixed second for the CLI to subscribe raced a loaded
# machine); a stream that never delivers still fails, after 10 tries.
timeout 60 docker events --filter type=container --filter event=start >"$W/events" 2>&1 &
evpid=$!
for i in $(seq 1 10); do
  docker run --rm --name "evtest$i" busybox true
  _eci_wait_for 2 grep -q evtest "$W/events" && break
done
kill "$evpid" 2>/dev/null
wait "$evpid" 2>/dev/null
t_contains "events: streamed while open" "evtest" "$(cat "$W/events")"

head -c 8M /dev/urandom >"$W/blob"
docker cp "$W/blob" ticker:/tmp/blob >/dev/null 2>&1
docker cp ticker:/tmp/blob "$W/blob.back" >/dev/null 2>&1
t_ok "cp both ways: 8 MiB round trip is identical" cmp "$W/blob" "$W/blob.back"

# A bulk download gets a wide send buffer to the client (DownloadSendBuffer: 2 MiB in the kernel,
# `ss` shows it as tb2097152), at most 8 connections at a time. Nine `docker cp` out, each read for
# 3 MiB (so the guard wrote more than the 1 MiB that claims one) and then held still until go.N
# appears; each from a container of its own (dockerd streams one archive of a container at a time).
wide_guard_sockets() {
  ss -xmp 2>/dev/null | grep -A1 "pid=$ECI_GUARD_PID," | grep -c 'tb2097152'
}
stalled_cp() {  # N (run in the background: pipefail is the subshell's own)
  set -o pipefail
  docker cp "bulk$1:/blob" - | {
    dd bs=1M count=3 iflag=fullblock of=/dev/null 2>/dev/null
    touch "$W/read.$1"
    until [[ -e "$W/go.$1" ]]; do sleep 0.1; done
    wc -c >"$W/rest.$1"
  }
}
all_read() { [[ $(find "$W" -maxdepth 1 -name 'read.*' | wc -l) -eq 9 ]]; }
cppids=()
for n in 1 2 3 4 5 6 7 8 9; do
  docker create --name "bulk$n" busybox true >/dev/null
  docker cp "$W/blob" "bulk$n:/blob" >/dev/null
done
for n in 1 2 3 4 5 6 7 8 9; do
  stalled_cp "$n" &
  cppids+=($!)
done
t_ok "bulk downloads: nine docker cp out, each past its first 3 MiB" _eci_wait_for 60 all_read
t_eq "bulk downloads: 8 of the 9 client sockets hold a wide send buffer, not more" "8" \
  "$(wide_guard_sockets)"
for n in 1 2 3 4 5 6 7 8 9; do touch "$W/go.$n"; done
cps_ok=0
for p in "${cppids[@]}"; do wait "$p" && cps_ok=$((cps_ok + 1)); done
t_eq "bulk downloads: all nine finished" "9" "$cps_ok"
# The rest of each tar stream (the 8 MiB blob in it, less the 3 MiB read first).
short=0
for n in 1 2 3 4 5 6 7 8 9; do
  rest=$(cat "$W/rest.$n" 2>/dev/null || echo 0)
  ((rest >= 5 * 1024 * 1024)) || short=$((short + 1))
done
t_eq "bulk downloads: every stream came whole" "0" "$short"
no_wide() { [[ $(wide_guard_sockets) -eq 0 ]]; }
t_ok "bulk downloads: no wide send buffer is left after them" _eci_wait_for 10 no_wide
docker rm -f bulk1 bulk2 bulk3 bulk4 bulk5 bulk6 bulk7 bulk8 bulk9 >/dev/null

mkdir -p "$W/ctx"
printf 'FROM busybox\nRUN echo built-in-run >/built\nCMD cat /built\n' >"$W/ctx/Dockerfile"
head -c 2M /dev/urandom >"$W/ctx/payload"
DOCKER_BUILDKIT=0 docker build -q -t built:1 "$W/ctx" >"$W/build.out" 2>&1
t_eq "build (classic, context streamed): runs" "built-in-run" "$(docker run --rm built:1 2>/dev/null)"

docker save built:1 -o "$W/built.tar"
docker rmi built:1 >/dev/null
t_contains "save/load" "built:1" "$(docker load -i "$W/built.tar" 2>&1)"
t_eq "loaded image runs" "built-in-run" "$(docker run --rm built:1 2>/dev/null)"

mkdir -p "$W/compose"
cat >"$W/compose/docker-compose.yml" <<'EOF'
version: "3"
services:
  hello:
    image: busybox
    command: sh -c 'echo compose-says-hi'
    network_mode: none
EOF
out=$(cd "$W/compose" && timeout 120 docker-compose -p ecitest up --abort-on-container-exit 2>&1)
t_contains "docker-compose up through the guard" "compose-says-hi" "$out"
(cd "$W/compose" && docker-compose -p ecitest down >/dev/null 2>&1)

# keep-alive: several requests on one connection, each answered
printf 'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\nGET /v1.41/version HTTP/1.1\r\nHost: d\r\n\r\nGET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n' >"$W/ka"
t_eq "keep-alive: three answers on one connection" "3" "$(raw "$W/ka" | grep -o 'HTTP/1.1 200' | wc -l)"

# Spare engine connections (relay.h): each client connection's request goes out on a connection
# made ahead and never used before, replaced in the background; none serves a second client.
# Many `docker` invocations one after another and at once all work, and the guard holds no more
# sockets after them than before (a connection kept or leaked per client would show).
guard_sockets() { find /proc/"$ECI_GUARD_PID"/fd -lname 'socket:*' 2>/dev/null | wc -l; }
sleep 1.5  # the sweep has filled the spares
sockets_before=$(guard_sockets)
ok=0
for ((i = 0; i < 40; i++)); do
  [[ $(docker version --format '{{.Server.APIVersion}}' 2>/dev/null) == 1.* ]] && ok=$((ok + 1))
done
t_eq "spares: 40 docker version one after another, all answered" "40" "$ok"
burst=()
for ((i = 0; i < 24; i++)); do
  (docker ps -q >/dev/null 2>&1 && docker info --format '{{.ID}}' >/dev/null 2>&1 && echo ok) \
    >"$W/burst.$i" &
  burst+=($!)
done
wait "${burst[@]}"  # only these: a bare `wait` would wait for the harness's daemons too
t_eq "spares: 24 clients at once (ps, info), all answered" "24" "$(cat "$W"/burst.* | grep -c '^ok$')"
t_ok "spares: no socket left behind by 88 client connections (before: $sockets_before)" \
  _eci_wait_for 10 eval 'test "$(guard_sockets)" -le "$sockets_before"'

# --- 2. framing: smuggling and malformed requests ---------------------------------------------
smuggle() {  # NAME WANT-STATUS BYTES (printf format); a create named smug-NAME must never exist
  local name=$1 want=$2
  # shellcheck disable=SC2059
  printf "$3" >"$W/req"
  local out
  out=$(raw "$W/req")
  t_contains "framing: $name -> $want" "HTTP/1.1 $want" "$out"
  t_eq "framing: $name never reached dockerd" "" \
    "$(curl -s --unix-socket "$ECI_DOCKERD_SOCK" 'http://d/containers/json?all=1' | grep -o 'smug-[a-z]*' | sort -u | tr '\n' ' ')"
}
CREATE='{"Image":"busybox","Cmd":["true"]}'
smuggle cl-te 400 "POST /v1.41/containers/create?name=smug-clte HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /v1.41/containers/create?name=smug-inner HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${#CREATE}\r\n\r\n$CREATE"
smuggle te-cl 400 "POST /v1.41/containers/create?name=smug-tecl HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
smuggle two-cl 400 "POST /v1.41/containers/create?name=smug-twocl HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${#CREATE}\r\nContent-Length: 0\r\n\r\n$CREATE"
smuggle te-gzip 501 "POST /v1.41/containers/create?name=smug-tegzip HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip\r\n\r\n"
smuggle te-obsfold 400 "POST /v1.41/containers/create?name=smug-fold HTTP/1.1\r\nHost: d\r\nX-A: b\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
smuggle bare-lf 400 "POST /v1.41/containers/create?name=smug-lf HTTP/1.1\nHost: d\nContent-Length: ${#CREATE}\n\n$CREATE"
smuggle absolute-form 400 "POST http://d/v1.41/containers/create?name=smug-abs HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${#CREATE}\r\n\r\n$CREATE"
smuggle bad-chunk 400 "POST /v1.41/containers/create?name=smug-chunk HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n$(printf %x ${#CREATE})\r\n$CREATE\r\nzz\r\n\r\n"
big=$(head -c 1100000 /dev/zero | tr '\0' a)
printf 'GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: %s\r\n\r\n' "$big" >"$W/req"
t_contains "framing: oversized head -> 431" "HTTP/1.1 431" "$(raw "$W/req")"

# --- 3. decisions -------------------------------------------------------------------------------
# An image holding the machine's own docker CLI (static) + busybox, made locally: no RepoDigests,
# so the allowlist pins it by image ID (our documented extension).
DOCKER_CLI=$(command -v docker)
mkdir -p "$W/cliroot"
tar -C "$ECI_T/busybox-root" -cf - . | tar -C "$W/cliroot" -xf -
cp "$DOCKER_CLI" "$W/cliroot/bin/docker"
tar -C "$W/cliroot" --numeric-owner -cf "$W/cli.tar" .
docker import "$W/cli.tar" dockercli:1 >/dev/null
CLI_ID=$(docker image inspect -f '{{.Id}}' dockercli:1)
t_contains "docker CLI image built" "sha256:" "$CLI_ID"
docker tag busybox allowedtag:latest

policy() {  # IMAGES-JSON COMMANDLIST-JSON
  jq -nc --argjson images "$1" --argjson cl "$2" '{"enabled": true, "locked": true,
    "socketMount": {"images": $images, "allowDerivedImages": false}, "commandList": $cl,
    "restrictedHostMounts": [], "allowedOrgs": [], "inputsDigest": ""}'
}
t_ok "allowlist policy pushed" eci_push_policy "$(policy \
  "[\"docker.io/library/dockercli@$CLI_ID\", \"docker.io/library/allowedtag:latest\"]" \
  '{"type": "deny", "commands": ["volume*", "push"]}')"
SOCK="$ECI_T/docker.sock"
DENY_TAIL='; image is not in the allowed list; if you wish to allow it, configure the docker socket image list in the Docker Desktop settings.'

rm -f "$W/ran"
err=$(docker run --rm -v "$SOCK:/var/run/docker.sock" -v "$W:/w" busybox touch /w/ran 2>&1)
t_contains "socket mount by a non-allowlisted image: Docker's exact message" \
  "docker: Error response from daemon: enhanced container isolation: docker socket mount denied for container with image \"docker.io/library/busybox\"$DENY_TAIL" "$err"
t_ok "  ... and the container never ran" test ! -e "$W/ran"
err=$(docker run --rm -v "$ECI_T:/t" busybox true 2>&1)
t_contains "a parent directory of the socket is refused too" "enhanced container isolation" "$err"
ln -sf "$SOCK" "$W/sock-link"
err=$(docker run --rm -v "$W/sock-link:/var/run/docker.sock" busybox true 2>&1)
t_contains "a symlink to the socket is refused too" "docker socket mount denied" "$err"
err=$(docker run --rm -v "$SOCK:/var/run/docker.sock" allowedtag:latest true 2>&1)
t_contains "retagging (docker tag busybox allowedtag) is refused: no registry digest" \
  "docker socket mount denied for container with image \"docker.io/library/allowedtag\"" "$err"
err=$(docker run --rm -v "$SOCK:/var/run/docker.sock" -v "$ECI_GUARD_SOCKET_DIR:/s" dockercli:1 true 2>&1)
t_contains "binds under the per-container socket dir are refused" "enhanced container isolation" "$err"

# More ways to reach the socket, each with and without --privileged; the container must never
# run (it would touch $W/ran-NAME), and the socket must be the guard's afterwards.
sock_refused() {  # NAME docker-run-args...
  local name=$1 priv err
  shift
  for priv in "" "--privileged"; do
    rm -f "$W/ran-$name"
    # shellcheck disable=SC2086
    err=$(docker run --rm $priv "$@" -v "$W:/w" busybox touch "/w/ran-$name" 2>&1)
    if [[ $? -ne 0 && ! -e "$W/ran-$name" && "$err" == *"enhanced container isolation"* ]]; then
      t_pass "socket reach refused: $name${priv:+ (privileged)}"
    else
      t_fail "socket reach refused: $name${priv:+ (privileged)}" "ran=$([[ -e $W/ran-$name ]] && echo yes || echo no) ${err:0:300}"
    fi
  done
}
sock_refused mount-type-bind --mount "type=bind,src=$SOCK,dst=/var/run/docker.sock"
sock_refused proc-self-root -v "/proc/self/root$SOCK:/var/run/docker.sock"
sock_refused dotdot -v "$ECI_T/eci/../docker.sock:/var/run/docker.sock"
sock_refused private-socket -v "$ECI_DOCKERD_SOCK:/var/run/docker.sock"
sock_refused containerd-socket -v "$ECI_T/containerd.sock:/c.sock"
if ln "$SOCK" "$W/sock-hardlink" 2>/dev/null; then
  sock_refused hard-link -v "$W/sock-hardlink:/var/run/docker.sock"
  rm -f "$W/sock-hardlink"
fi
# A local volume whose device= is the socket's directory: the guard refuses to create it, and one
# that exists anyway (made on dockerd's private socket) is refused at create.
out=$(docker volume create -o type=none -o o=bind -o device="$ECI_T" v-sockdir 2>&1)
t_contains "volume create with device= the socket's directory: refused" "enhanced container isolation" "$out"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker volume create -o type=none -o o=bind \
  -o device="$ECI_T" v-sockdir >/dev/null
sock_refused volume-device-sockdir -v v-sockdir:/v
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker volume rm -f v-sockdir >/dev/null 2>&1
# The same bind over the raw API with Go's case-insensitive keys and the legacy top-level form.
for body in "{\"Image\":\"busybox\",\"hostconfig\":{\"binds\":[\"$SOCK:/s\"]}}" \
  "{\"Image\":\"busybox\",\"Binds\":[\"$SOCK:/s\"]}" \
  "{\"Image\":\"busybox\",\"HostConfig\":{\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"$SOCK\",\"Target\":\"/s\"}]}}"; do
  out=$(curl -sS --unix-socket "$SOCK" -H 'Content-Type: application/json' -d "$body" \
    "http://localhost/v1.41/containers/create")
  t_contains "raw API create refused: $body" "enhanced container isolation" "$out"
done
t_eq "no container was created by the refused attempts" "" \
  "$(docker ps -aq --filter ancestor=busybox --filter status=created)"
t_eq "the public socket is still the guard's" "eci-apiproxyd" \
  "$(ss -xlpn 2>/dev/null | grep -F " $SOCK " | grep -o 'eci-apiproxyd' | head -n1)"

# Logging drivers that dockerd connects, as root, to a host unix socket of the caller's choosing
# (syslog-address=unix://…, fluentd-address=unix://…): the guard refuses every spelling. The
# control on dockerd's private socket shows the attack is real: the container's output lands in
# a host socket's listener.
socat -u "UNIX-LISTEN:$W/log.sock,fork" "OPEN:$W/log.got,creat,append" &
socatpid=$!
_eci_wait_for 10 test -S "$W/log.sock"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker run --rm --log-driver syslog \
  --log-opt "syslog-address=unix://$W/log.sock" busybox echo marker-direct >/dev/null 2>&1
_eci_wait_for 10 grep -q marker-direct "$W/log.got"
t_contains "control: without the guard, dockerd writes a container's output into a host socket" \
  "marker-direct" "$(cat "$W/log.got" 2>/dev/null)"
before=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc | sort)
for opt in "--log-driver syslog --log-opt syslog-address=unix://$W/log.sock" \
  "--log-driver syslog --log-opt syslog-address=UNIX://$W/log.sock" \
  "--log-driver syslog --log-opt syslog-address=unixgram://$W/log.sock" \
  "--log-driver syslog --log-opt syslog-address=unix:$W/log.sock" \
  "--log-driver fluentd --log-opt fluentd-address=unix://$W/log.sock --log-opt fluentd-async=true" \
  "--log-driver syslog --log-opt syslog-address=unix://$ECI_CONTROL_SOCK"; do
  for priv in "" "--privileged"; do
    # shellcheck disable=SC2086
    err=$(docker run --rm $priv $opt busybox echo marker-guard 2>&1)
    t_contains "log driver to a host socket refused: ${opt#--log-driver } ${priv}" \
      "names a host unix socket" "$err"
  done
done
out=$(curl -sS --unix-socket "$SOCK" -H 'Content-Type: application/json' \
  -d "{\"Image\":\"busybox\",\"logconfig\":{\"type\":\"syslog\",\"config\":{\"syslog-address\":\"unix://$W/log.sock\"}}}" \
  "http://localhost/v1.41/containers/create")
t_contains "raw API, legacy top-level lowercase logconfig: refused" "names a host unix socket" "$out"
t_eq "  ... no container was created by the refused attempts" "$before" \
  "$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc | sort)"
sleep 1
t_eq "  ... and nothing reached the host socket through the guard" "" \
  "$(grep marker-guard "$W/log.got")"
out=$(docker run --rm --log-driver json-file --log-opt max-size=1m busybox echo plain-log 2>&1)
t_eq "ordinary log options keep working" "plain-log" "$out"
kill "$socatpid" 2>/dev/null
wait "$socatpid" 2>/dev/null

# Networks whose subnet shadows a host network: the bridge driver adds a route for the subnet, and
# the longer prefix wins, so a developer could capture the host's traffic to its LAN, its DNS or
# its gateway. A test bridge stands in for the host's LAN (198.51.100.0/24, TEST-NET-2).
lan="ecilan${RANDOM}"
lan=${lan:0:15}
ip link add "$lan" type bridge && ip addr add 198.51.100.1/24 dev "$lan" && ip link set "$lan" up
t_contains "the host has a LAN route for the test" "dev $lan" "$(ip route get 198.51.100.7)"
# Control on the private socket: the attack is real (the host's route for .7 goes to the bridge).
ctl=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker network create --subnet 198.51.100.0/28 \
  --gateway 198.51.100.2 netctl 2>&1)
t_contains "control: without the guard, the host routes its LAN address into a docker network" \
  "dev br-${ctl:0:12}" "$(ip route get 198.51.100.7)"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker network rm netctl >/dev/null 2>&1
hostnet=$(awk 'NR>1 && $2!="00000000" {print $1; exit}' /proc/net/route)
hostcidr=$(ip -4 -o addr show dev "$hostnet" 2>/dev/null | awk '{print $4; exit}')
nets_before=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker network ls -q | sort)
for args in "--subnet 198.51.100.0/28 --gateway 198.51.100.2" "--subnet 198.51.0.0/16" \
  "--subnet 198.51.100.7/32" "--ipv6 --subnet fd00:ec1::/64 --subnet 198.51.100.0/28" \
  "--subnet 127.0.0.0/24" ${hostcidr:+"--subnet $hostcidr"} \
  "--ipv6 --subnet fe80::/64" "-o com.docker.network.bridge.name=$lan"; do
  # shellcheck disable=SC2086
  err=$(docker network create $args netattack 2>&1)
  t_contains "network create refused: $args" "enhanced container isolation: network" "$err"
done
out=$(curl -sS --unix-socket "$SOCK" -H 'Content-Type: application/json' \
  -d '{"name":"netattack","ipam":{"config":[{"subnet":"198.51.100.0/28"}]}}' \
  "http://localhost/v1.41/networks/create")
t_contains "raw API, lower-case keys: refused" "overlaps the host's network 198.51.100.0/24 ($lan)" "$out"
# The subnet may also arrive through a config-only network (any driver) and --config-from.
err=$(docker network create --config-only -d macvlan --subnet 198.51.100.0/28 netcfg 2>&1)
t_contains "config-only network (macvlan) over the host's LAN refused" "overlaps the host's network" "$err"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker network create --config-only \
  --subnet 198.51.100.0/28 netcfgold >/dev/null 2>&1 # made past the guard (ECI off back then)
nets_before=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker network ls -q | sort)
err=$(docker network create --config-from netcfgold netfrom 2>&1)
t_contains "--config-from a network holding the host's LAN refused" "overlaps the host's network" "$err"
t_eq "  ... no network was created by the refused attempts" "$nets_before" \
  "$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker network ls -q | sort)"
t_contains "  ... and the host still routes its LAN to the LAN" "dev $lan" "$(ip route get 198.51.100.7)"
t_ok "a network with a free subnet is created" docker network create --subnet 203.0.113.0/24 netok
t_eq "  ... and a container runs on it" "ok" "$(docker run --rm --network netok busybox echo ok 2>&1)"
t_ok "a network with an engine-chosen subnet is created" docker network create netpool
docker network rm netok netpool netcfgold >/dev/null 2>&1
ip link del "$lan"

# runtime forced to the engine's default
docker create --name rt --runtime=runc busybox true >/dev/null 2>&1
t_eq "create --runtime=runc: the engine's default runtime is used" \
  "$(docker info -f '{{.DefaultRuntime}}')" "$(docker inspect -f '{{.HostConfig.Runtime}}' rt 2>&1)"
docker rm rt >/dev/null 2>&1
err=$(DOCKER_BUILDKIT=0 docker build --network=host -t hostnet "$W/ctx" 2>&1)
t_contains "classic build --network=host is refused" "enhanced container isolation" "$err"

# --- 4. per-container sockets ---------------------------------------------------------------------
out=$(docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 docker ps --format '{{.Names}}' 2>&1)
t_contains "allowlisted image talks to the engine through its socket" "ticker" "$out"
out=$(docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 \
  docker run --rm busybox cat /proc/self/uid_map 2>&1)
t_not_contains "a sibling started from inside is isolated (mapped range)" "4294967295" "$out"
t_contains "  ... and did run" "65536" "$out"
out=$(docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 \
  docker run --rm -v /var/run/docker.sock:/var/run/docker.sock busybox true 2>&1)
t_contains "a sibling gets no socket unless allowed" "enhanced container isolation" "$out"
out=$(docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 docker volume ls 2>&1)
t_contains "command list: volume* denied with Docker's message" \
  'enhanced container isolation: docker command "/v1.41/volumes' "$out"
t_contains "command list: ... is blocked" \
  'is blocked; if you wish to allow it, configure the docker socket command list in the Docker Desktop settings.' "$out"
t_ok "command list applies only to container sockets (host: volume ls works)" docker volume ls

# raw curl against a container's socket (the path the guard bound for it)
docker run -d --name sockholder -v "$SOCK:/var/run/docker.sock" dockercli:1 sleep 1000 >/dev/null
csock=$(docker inspect -f '{{range .Mounts}}{{if eq .Destination "/var/run/docker.sock"}}{{.Source}}{{end}}{{end}}' sockholder)
t_contains "the container's socket is a per-container one" "$ECI_GUARD_SOCKET_DIR/" "$csock"
out=$(curl -s -XPOST --unix-socket "$csock" 'http://d/v1.41/images/busybox/push?tag=latest' -w ' %{http_code}')
t_contains "raw curl push on the container socket: 403" " 403" "$out"
t_contains "raw curl push: Docker's message quoting the path" \
  'docker command \"/v1.41/images/busybox/push?tag=latest\" is blocked' "$out"
out=$(curl -s --unix-socket "$csock" 'http://d/v1.41/containers/json' -w ' %{http_code}')
t_contains "raw curl ps on the container socket: allowed" " 200" "$out"
docker rm -f sockholder >/dev/null 2>&1
# Removed on the engine's destroy event, which comes a moment after `docker rm` returns.
t_ok "the container's socket is removed with it" _eci_wait_for 10 test ! -e "$csock"

# Refusals the guard answers itself are audited too (docs/audit.md). The per-container socket
# cannot be made (its directory replaced by a file, as a full or tampered /run would fail it): a
# create granted one is refused with 500, on the public socket and on a container's own socket,
# and each leaves a socket-create record, the latter with that container's id.
docker run -d --name sockholder2 -v "$SOCK:/var/run/docker.sock" dockercli:1 sleep 1000 >/dev/null
holder=$(docker inspect -f '{{.Id}}' sockholder2)
mv "$ECI_GUARD_SOCKET_DIR" "$ECI_GUARD_SOCKET_DIR.aside"
touch "$ECI_GUARD_SOCKET_DIR"
before=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc | sort)
out=$(docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 true 2>&1)
t_contains "socket dir unusable: a granted socket mount is refused" \
  "cannot create the container's engine socket" "$out"
out=$(docker exec sockholder2 docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 true 2>&1)
t_contains "  ... also a sibling's, asked on a container's own socket" \
  "cannot create the container's engine socket" "$out"
t_eq "  ... and no container was made" "$before" \
  "$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc | sort)"
rm -f "$ECI_GUARD_SOCKET_DIR"
mv "$ECI_GUARD_SOCKET_DIR.aside" "$ECI_GUARD_SOCKET_DIR"
_eci_wait_for 5 audit_at_least 2 'select(.rule == "socket-create")'
t_eq "  ... audited: socket-create on the public socket (uid 0, no container)" "1" \
  "$(audit_count 'select(.rule == "socket-create" and .container == "" and .extra.uid == 0 and .extra.status == 500)')"
t_eq "  ... audited: socket-create on the container's socket, with its id" "1" \
  "$(audit_count --arg id "$holder" 'select(.rule == "socket-create" and .container == $id)')"
docker rm -f sockholder2 >/dev/null 2>&1

# A create body too large for the guard to inspect: with a Content-Length the decision refuses it
# (413, rule body-size, audited before this change); a chunked one is cut off by the relay when it
# passes 4 MiB, now audited under the same rule.
head -c 5M /dev/zero | tr '\0' ' ' >"$W/big-create"
out=$(curl -s --unix-socket "$SOCK" -H 'Content-Type: application/json' \
  -H 'Transfer-Encoding: chunked' --data-binary "@$W/big-create" \
  'http://d/v1.41/containers/create?name=too-big-chunked' -w ' %{http_code}')
t_contains "a chunked create body over 4 MiB: 413" " 413" "$out"
_eci_wait_for 5 grep -q '"name":"too-big-chunked"' "$ECI_AUDIT_LOG"
t_eq "  ... audited: body-size, with the name asked for" "1" \
  "$(audit_count 'select(.rule == "body-size" and .name == "too-big-chunked" and .extra.status == 413)')"
# Malformed requests are not audited (a flood of them costs nothing): only the guard log has them.
t_eq "  ... framing refusals (section 2) left no audit record" "0" \
  "$(audit_count 'select(.source == "eci-apiproxyd" and (.extra.target | test("smug-")))')"
t_contains "  ... but are in the guard log" "refused a malformed request" "$(cat "$ECI_GUARD_LOG")"

# --- audit fairness: one caller's flood does not crowd out another's refusal (issue 14) ---------
# The guard sends its audit records from a few senders shared by every caller (kMaxAuditInFlight);
# each caller now has a share of them (audit_budget.h). eci-enforcerd is stopped for a moment
# (SIGSTOP), so every record the guard sends waits, as with a slow eci-enforcerd: an unprivileged
# user (uid 1000) floods one container's socket with denied requests (volume ls, command list)
# while another container makes one denied request. Before, the flood held every sender and the
# other container's refusal was dropped unrecorded.
docker run -d --name flooder -v "$SOCK:/var/run/docker.sock" dockercli:1 sleep 1000 >/dev/null
docker run -d --name victim -v "$SOCK:/var/run/docker.sock" dockercli:1 sleep 1000 >/dev/null
FLOOD_ID=$(docker inspect -f '{{.Id}}' flooder)
VICTIM_ID=$(docker inspect -f '{{.Id}}' victim)
sock_of() {
  docker inspect -f '{{range .Mounts}}{{if eq .Destination "/var/run/docker.sock"}}{{.Source}}{{end}}{{end}}' "$1"
}
fsock=$(sock_of flooder)
vsock=$(sock_of victim)
FLOODS=4
PER_FLOOD=3000
urls=$(for i in $(seq 1 "$PER_FLOOD"); do printf 'http://d/v1.41/volumes?flood=%d ' "$i"; done)
floodpids=()
flood_t0=$SECONDS
for k in $(seq 1 "$FLOODS"); do
  # One keep-alive connection each, one status code per request.
  # shellcheck disable=SC2086
  setpriv --reuid 1000 --regid 1000 --clear-groups curl -s -o /dev/null -w '%{http_code}\n' \
    --unix-socket "$fsock" $urls >"$W/flood.$k" 2>&1 &
  floodpids+=($!)
done
sleep 0.5
kill -STOP "$ECI_ENFORCERD_PID"
sleep 0.1
# In the background: its decision may need a policy read from eci-enforcerd, stopped right now.
curl -s --max-time 20 --unix-socket "$vsock" 'http://d/v1.41/volumes?victim=1' -w ' %{http_code}' \
  >"$W/victim.out" 2>&1 &
victimpid=$!
sleep 0.3
kill -CONT "$ECI_ENFORCERD_PID"
wait "$victimpid"
wait "${floodpids[@]}"
flood_secs=$((SECONDS - flood_t0 + 1))
t_contains "audit fairness: the other container's denied request is answered 403" " 403" \
  "$(cat "$W/victim.out")"
t_eq "  ... and every one of the flood's $((FLOODS * PER_FLOOD)) requests is answered 403" \
  "$((FLOODS * PER_FLOOD))" "$(cat "$W"/flood.* | grep -c '^403$')"
_eci_wait_for 5 audit_at_least 1 --arg id "$VICTIM_ID" 'select(.container == $id)'
t_eq "  ... the other container's single refusal is in the audit log, with its rule" "1" \
  "$(audit_count --arg id "$VICTIM_ID" 'select(.container == $id and .rule == "command-list" and (.extra.target | test("victim=1")))')"
# Nothing is lost silently: what the flooder had recorded plus what its summaries count is every
# refusal it got (the last summary comes at most 5 s after its last refusal, plus the 1 s tick).
flood_accounted() {
  local rec sum
  rec=$(audit_count --arg id "$FLOOD_ID" 'select(.container == $id and .event == "refused")')
  sum=$(jq -s --arg id "$FLOOD_ID" \
    '[.[] | select(.container == $id and .event == "suppressed") | .extra.count] | add // 0' \
    "$ECI_AUDIT_LOG")
  echo "$rec $sum"
  ((rec + sum == FLOODS * PER_FLOOD))
}
_eci_wait_for 20 flood_accounted >/dev/null
read -r flood_rec flood_sum <<<"$(flood_accounted)"
echo "# audit fairness: the flood took ${flood_secs} s; the flooder had $flood_rec refusals recorded, $flood_sum summarised"
# Its share: 10 at once, then 1 a second.
t_ok "  ... the flooder's own records stay within its share ($flood_rec of $((FLOODS * PER_FLOOD)), ≤ 10 + ${flood_secs})" \
  test "$flood_rec" -le $((10 + flood_secs))
t_contains "  ... its surplus is summarised (event suppressed, rule audit-share)" \
  "refusals from container ${FLOOD_ID:0:12}'s socket not recorded" \
  "$(jq -r --arg id "$FLOOD_ID" 'select(.container == $id and .event == "suppressed" and .rule == "audit-share") | .reason' "$ECI_AUDIT_LOG")"
t_eq "  ... and recorded + summarised = every refusal of the flood" "$((FLOODS * PER_FLOOD))" \
  "$((flood_rec + flood_sum))"
docker rm -f flooder victim >/dev/null 2>&1

# policy change applies to the next request
t_ok "allowlist emptied" eci_push_policy "$(policy '[]' '{"type": "deny", "commands": []}')"
err=$(docker run --rm -v "$SOCK:/var/run/docker.sock" dockercli:1 true 2>&1)
t_contains "next create after the push is refused" "docker socket mount denied" "$err"

# No TCP without TLS while ECI is on: an "engine" (a stand-in process holding the upstream socket
# and TCP listeners) behind a second guard. A listener that answers the Engine API in plain HTTP
# gets every request refused with 503; one that speaks something else (swarm mode's mutual-TLS
# cluster port, its gossip port) does not: counting those made `docker swarm init` brick the
# guard.
fake_engine() {  # UPSTREAM-SOCKET HTTP(1|0)
  python3 - "$1" "$2" <<'PYEOF' &
import socket, sys, threading, time
u = socket.socket(socket.AF_UNIX); u.bind(sys.argv[1]); u.listen(8)
def serve(t, http):
    while True:
        c, _ = t.accept()
        if http:
            c.recv(4096)
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
        c.close()
other = socket.socket(); other.bind(("127.0.0.1", 0)); other.listen(4)
threading.Thread(target=serve, args=(other, False), daemon=True).start()
if sys.argv[2] == "1":
    api = socket.socket(); api.bind(("127.0.0.1", 0)); api.listen(4)
    threading.Thread(target=serve, args=(api, True), daemon=True).start()
time.sleep(60)
PYEOF
}
for http in 1 0; do
  rm -rf "$W/fake-up.sock" "$W/g2.sock" "$W/g2-sockets"
  fake_engine "$W/fake-up.sock" "$http"
  fakepid=$!
  _eci_wait_for 10 test -S "$W/fake-up.sock"
  "$ECI_APIPROXYD_BIN" --listen "$W/g2.sock" --socket-group 0 --upstream "$W/fake-up.sock" \
    --control-socket "$ECI_CONTROL_SOCK" --socket-dir "$W/g2-sockets" \
    --state-dir "$W/g2-state" >"$W/g2.log" 2>&1 &
  g2pid=$!
  _eci_wait_for 10 test -S "$W/g2.sock"
  out=$(curl -s -m 5 --unix-socket "$W/g2.sock" http://d/v1.41/containers/json -w ' %{http_code}')
  if [[ $http == 1 ]]; then
    t_contains "engine on TCP without TLS: 503" " 503" "$out"
    t_contains "  ... with the reason" "listens on TCP port" "$out"
    t_contains "  ... reported in the guard log" "without TLS" "$(cat "$W/g2.log")"
    _eci_wait_for 5 grep -q '"rule":"tcp-without-tls"' "$ECI_AUDIT_LOG"
    t_contains "  ... and in the audit log" '"rule":"tcp-without-tls"' "$(cat "$ECI_AUDIT_LOG" 2>&1)"
  else
    t_not_contains "a TCP listener that is not the Engine API (swarm-like): not refused" \
      "without TLS" "$out"
    t_not_contains "  ... nothing about it in the guard log" "without TLS" "$(cat "$W/g2.log")"
  fi
  kill "$g2pid" "$fakepid" 2>/dev/null
  wait "$g2pid" "$fakepid" 2>/dev/null
done

# The engine not reachable (a guard whose upstream socket is not there): 502, audited once as
# engine-unreachable however many requests fail (one outage, one record per 10 s).
rm -rf "$W/g3.sock" "$W/g3-sockets"
"$ECI_APIPROXYD_BIN" --listen "$W/g3.sock" --socket-group 0 --upstream "$W/no-engine.sock" \
  --control-socket "$ECI_CONTROL_SOCK" --socket-dir "$W/g3-sockets" \
  --state-dir "$W/g3-state" >"$W/g3.log" 2>&1 &
g3pid=$!
_eci_wait_for 10 test -S "$W/g3.sock"
for i in 1 2 3; do
  out=$(curl -s -m 5 --unix-socket "$W/g3.sock" "http://d/v1.41/containers/json?n=$i" -w ' %{http_code}')
done
t_contains "engine not reachable: 502" " 502" "$out"
_eci_wait_for 5 grep -q '"rule":"engine-unreachable"' "$ECI_AUDIT_LOG"
t_eq "  ... audited once as engine-unreachable for three failed requests" "1" \
  "$(audit_count 'select(.rule == "engine-unreachable" and .extra.status == 502)')"
kill "$g3pid" 2>/dev/null
wait "$g3pid" 2>/dev/null

# Fail closed when the caller cannot be recorded: without a caller record eci-runc would map host
# binds as the container's root, so a create whose setCaller fails (eci-enforcerd down) is refused
# and leaves no container behind, even if eci-enforcerd is back before anyone starts it.
mkdir -p "$W/nocaller"
before=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc | sort)
eci_enforcer_stop
out=$(docker create -v "$W/nocaller:/d" busybox sh -c 'echo x > /d/f' 2>&1)
t_contains "eci-enforcerd down: the create is refused" "could not record who created container" "$out"
t_contains "  ... and the container it made removed" "the container was removed" "$out"
t_eq "  ... no container left behind" "$before" \
  "$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" docker ps -aq --no-trunc | sort)"
eci_enforcer_start  # not under t_ok: its $(...) subshell would keep the new pid from eci_down
t_ok "eci-enforcerd started again" test -S "$ECI_CONTROL_SOCK"
out=$(docker run --rm -v "$W/nocaller:/d" busybox sh -c 'echo back > /d/f && cat /d/f' 2>&1)
t_contains "with eci-enforcerd back, the same bind runs" "back" "$out"

t_eq "no sanitizer/crash in the guard log" "" "$(grep -E 'runtime error|AddressSanitizer|terminate' "$ECI_GUARD_LOG")"
t_ok "guard still running" kill -0 "$ECI_GUARD_PID"
t_summary
