#!/usr/bin/env bash
# No runtime escapes eci (issue 13, contract 1): the engine finds eci-runc as `runc` (harness:
# runc -> eci-runc first in the PATH of containerd and dockerd), so whatever name a developer
# picks -- the default, `--runtime=runc`, a containerd shim name, HostConfig.Runtime over the
# Engine API, a classic `docker build` RUN step, a BuildKit RUN step -- the container gets its
# exclusive range in /proc/self/uid_map, never the host's identity map `0 0 4294967295`, or it is
# refused. With ECI off by a verified policy: exactly runc (identity map).
set -u
. "$(dirname "$0")/lib/harness.sh"

[[ $(id -u) -eq 0 ]] || { echo "FAIL - needs root"; exit 1; }
eci_up || { echo "FAIL - harness did not start"; exit 1; }

trim() { tr -s ' ' | sed 's/^ //'; }
# "0 <start> 65536" with start >= 100000: the container's own range (eci), not the host's map.
t_remapped() {  # NAME UID_MAP
  if [[ "$2" =~ ^0\ ([0-9]+)\ 65536$ ]] && ((BASH_REMATCH[1] >= 100000)); then
    t_pass "$1 ($2)"
  else
    t_fail "$1" "uid_map [$2] is not a 65536 range of eci"
  fi
}
# eci-runc really handled the container: its debug log names the container id.
t_through_eci() {  # NAME ID
  if [[ -n "$2" ]] && grep -q -- "$2" "$ECI_RUNC_LOG" 2>/dev/null; then t_pass "$1"; else
    t_fail "$1" "container [$2] not in eci-runc's log"
  fi
}
api() {  # METHOD PATH [JSON]
  curl -sS --unix-socket "${DOCKER_HOST#unix://}" -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://localhost/v1.41$2"
}

# --- how the daemons are wired ---------------------------------------------------------------
t_eq "dockerd's default runtime is its built-in runc" "runc" "$(docker info --format '{{.DefaultRuntime}}')"
runtimes=$(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')
t_not_contains "dockerd has no runtime entry of eci's own (no default-runtime trick)" "eci" "$runtimes"
for d in "$ECI_CONTAINERD_PID" "$ECI_DOCKERD_PID"; do
  path=$(tr '\0' '\n' <"/proc/$d/environ" | sed -n 's/^PATH=//p')
  t_eq "$(cat "/proc/$d/comm"): first PATH entry holds runc -> eci-runc" "$ECI_RUNC_BIN" \
    "$(readlink "${path%%:*}/runc")"
done

# --- every runtime name a developer can pick --------------------------------------------------
# Two layers stop a runtime escape: the guard on the public socket rewrites any runtime to the
# default, and below it the engine finds eci-runc as `runc` whatever name is chosen. Each check
# runs on both sockets, so the runtime layer is proven on its own (dockerd's private socket,
# which no developer can reach) and behind the guard.
runtime_checks() {  # LABEL (DOCKER_HOST is set by the caller)
  local L=$1 id pid out cid rt
  t_remapped "$L default runtime: remapped" "$(docker run --rm busybox cat /proc/self/uid_map | trim)"
  id=$(docker run -d --runtime=runc busybox sleep 60)
  t_remapped "$L --runtime=runc: remapped" "$(docker exec "$id" cat /proc/self/uid_map | trim)"
  t_through_eci "$L --runtime=runc: container created by eci-runc" "$id"
  pid=$(docker inspect -f '{{.State.Pid}}' "$id")
  t_eq "$L --runtime=runc: its init is not host root" "1" "$(( $(stat -c %u "/proc/$pid") >= 100000 ))"
  docker rm -f "$id" >/dev/null
  # Another spelling (separate argument) and --privileged, which must not buy a way around eci.
  t_remapped "$L --runtime runc --privileged: remapped" \
    "$(docker run --rm --runtime runc --privileged busybox cat /proc/self/uid_map | trim)"

  # Every runtime name dockerd lists (20.10 adds the containerd shim names io.containerd.runc.v2
  # and io.containerd.runtime.v1.linux to `runc`), plus shim names it may not know: each one
  # either runs the container remapped or is refused. None runs it with the host's identity map.
  local refused='nknown runtime specified|nknown or invalid runtime name'
  for rt in $(printf '%s\n' $runtimes io.containerd.runc.v1 io.containerd.runc.v2 \
    io.containerd.runtime.v1.linux | sort -u); do
    if out=$(docker run --rm --privileged --runtime="$rt" busybox cat /proc/self/uid_map 2>"$ECI_T/err"); then
      t_remapped "$L --privileged --runtime=$rt accepted: remapped" "$(trim <<<"$out")"
    else
      out=$(cat "$ECI_T/err")
      if [[ $out =~ $refused ]]; then t_pass "$L --runtime=$rt refused by dockerd"; else
        t_fail "$L --runtime=$rt: neither remapped nor refused as unknown" "$out"; fi
    fi
    # The same name straight through the Engine API, as a client library would send it: in
    # HostConfig, in the legacy top-level form, and with a lower-case key (Go matches JSON keys
    # case-insensitively, so dockerd reads all three).
    local body
    for body in "{\"HostConfig\":{\"Runtime\":\"$rt\"}}" "{\"Runtime\":\"$rt\"}" \
      "{\"hostconfig\":{\"runtime\":\"$rt\"}}"; do
      out=$(api POST /containers/create \
        "$(jq -c '. + {"Image":"busybox","Cmd":["cat","/proc/self/uid_map"]}' <<<"$body")")
      cid=$(jq -r '.Id // empty' <<<"$out" 2>/dev/null)
      if [[ -n "$cid" ]]; then
        api POST "/containers/$cid/start" >/dev/null
        api POST "/containers/$cid/wait" >/dev/null
        t_remapped "$L API $body: remapped" "$(docker logs "$cid" 2>/dev/null | trim)"
        t_through_eci "$L API $body: created by eci-runc" "$cid"
        docker rm -f "$cid" >/dev/null
      elif [[ $out =~ $refused ]]; then
        t_pass "$L API $body refused"
      else
        t_fail "$L API $body: neither created nor refused as unknown" "$out"
      fi
    done
  done
}
runtime_checks "[guard]"
DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" runtime_checks "[dockerd direct]"

# --- builds: RUN steps are containers too ------------------------------------------------------
ctx=$ECI_T/build-ctx
mkdir -p "$ctx"
printf 'FROM busybox\nRUN cat /proc/self/uid_map > /uid_map.txt\n' >"$ctx/Dockerfile"
if out=$(DOCKER_BUILDKIT=0 docker build --no-cache -q -t eci-classic "$ctx" 2>&1); then
  t_remapped "classic docker build RUN step: remapped" \
    "$(docker run --rm eci-classic cat /uid_map.txt | trim)"
else
  t_fail "classic docker build ran" "$out"
fi

# BuildKit inside dockerd runs `runc` itself from dockerd's PATH (not through containerd). The
# client must speak BuildKit's session protocol: Debian's docker CLI 20.10 does it built in; a
# newer CLI needs the buildx plugin.
bk_cli=docker
[[ -x /usr/bin/docker ]] && bk_cli=/usr/bin/docker
printf 'FROM busybox\nRUN cat /proc/self/uid_map > /uid_map.txt\nRUN cat /proc/self/uid_map\n' \
  >"$ctx/Dockerfile"
if out=$(DOCKER_BUILDKIT=1 "$bk_cli" build --no-cache --progress=plain -t eci-buildkit "$ctx" 2>&1); then
  t_remapped "BuildKit RUN step: remapped" "$(docker run --rm eci-buildkit cat /uid_map.txt | trim)"
else
  # BuildKit's executor runs `runc run` from dockerd's PATH, i.e. eci-runc; its resolv.conf/hosts
  # binds from <data-root>/buildkit/executor are the only data-root files allowed for it.
  t_fail "BuildKit build ran through eci-runc" "${out: -800}"
fi
t_not_contains "BuildKit RUN step never saw the host's identity map" "4294967295" "$out"
# The engine's own refusal of BuildKit's network.host entitlement (daemon.json builder
# entitlements, as the package merges them): straight on dockerd's private socket, past the guard
# (which refuses networkmode=host first), the build is refused by BuildKit itself.
out=$(DOCKER_HOST="unix://$ECI_DOCKERD_SOCK" DOCKER_BUILDKIT=1 "$bk_cli" build --no-cache \
  --network=host --progress=plain -t eci-hostnet "$ctx" 2>&1)
t_contains "BuildKit build with network.host refused by the engine's entitlements" \
  "network.host is not allowed" "$out"
t_fails "  ... and no image was built" docker image inspect eci-hostnet

# --- ECI off: exactly runc ---------------------------------------------------------------------
policy_off='{"enabled": false, "locked": true, "socketMount": {"images": [], "allowDerivedImages": true},
 "commandList": {"type": "deny", "commands": []}, "restrictedHostMounts": [], "allowedOrgs": [],
 "inputsDigest": ""}'
if out=$(eci_push_policy "$policy_off" 2>&1); then
  t_pass "ECI-off policy pushed"
  t_eq "ECI off, default runtime: identity map" "0 0 4294967295" \
    "$(docker run --rm busybox cat /proc/self/uid_map | trim)"
  t_eq "ECI off, --runtime=runc: identity map" "0 0 4294967295" \
    "$(docker run --rm --runtime=runc busybox cat /proc/self/uid_map | trim)"
  t_ok "ECI-on policy pushed" eci_push_policy "$(jq -c '.enabled = true' <<<"$policy_off")"
  t_remapped "ECI back on, --runtime=runc: remapped" \
    "$(docker run --rm --runtime=runc busybox cat /proc/self/uid_map | trim)"
else
  t_fail "ECI-off policy pushed" "$out"
fi

docker ps -aq | xargs -r docker rm -f >/dev/null
t_eq "nothing left under eci-runc's run dir" "" "$(eci_leftovers)"
t_summary
