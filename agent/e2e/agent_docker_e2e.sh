#!/bin/bash
# eci-agent + a real dockerd (D1's harness: containerd, dockerd with eci-runc as default runtime,
# eci-enforcerd): a member signs in through the real oidc-provider device flow, and the admin file
# going from ECI off to ECI on changes the NEXT container (uid_map) without restarting anything.
# Usage: agent_docker_e2e.sh AGENT ADMIN NODE_DIR BUILD_DIR
set -u
AGENT=$1 ADMIN=$2 NODE_DIR=$3
export ECI_BUILD_DIR=$4
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=../../tests/e2e/lib/harness.sh
source "$HERE/../../tests/e2e/lib/harness.sh"

die() { echo "agent_docker_e2e: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root"
[[ -f "$NODE_DIR/node_modules/oidc-provider/package.json" ]] ||
  npm install --prefix "$NODE_DIR" --no-audit --no-fund oidc-provider@8.8.1 >&2 || die "npm install"
cp "$HERE"/*.mjs "$NODE_DIR/"

eci_up || die "harness eci_up failed"
W=$(mktemp -d /tmp/eci-agent-docker.XXXXXX); chmod 755 "$W"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done; wait "${PIDS[@]}" 2>/dev/null; rm -rf "$W"; eci_down' EXIT

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.pem" -days 1 \
  -subj "/CN=eci agent e2e CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$W/srv.key" -out "$W/srv.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf "subjectAltName=IP:127.0.0.1\n" >"$W/ext.cnf"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
  -out "$W/srv.pem" -days 1 -extfile "$W/ext.cnf" 2>/dev/null
(cd "$NODE_DIR" && node keys.mjs "$W/idp-jwks.json") || die "provider keys"
PORT=$((20000 + RANDOM % 20000)); ISSUER="https://127.0.0.1:$PORT"
(cd "$NODE_DIR" && exec node provider.mjs "$PORT" "$W/srv.pem" "$W/srv.key" "$W/idp-jwks.json") \
  >"$W/provider.log" 2>&1 &
PIDS+=($!)
wait_until 30 curl -sf --cacert "$W/ca.pem" "$ISSUER/.well-known/openid-configuration" || die "provider"

mkdir -p "$W/dd/registry"
SETTINGS="$W/dd/admin-settings.json" REGISTRY="$W/dd/registry/registry.json"
put() { printf '%s' "$2" >"$1.tmp" && chmod 644 "$1.tmp" && mv -f "$1.tmp" "$1"; }
put "$SETTINGS" '{"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": false, "locked": true}}'
put "$REGISTRY" '{"allowedOrgs": ["myorg"]}'
cat >"$W/agent.json" <<JSON
{"issuer": "$ISSUER", "client_id": "eci-agent", "org_claim": "orgs", "ca_file": "$W/ca.pem",
 "scope": "openid offline_access email orgs", "state_dir": "$W/agent-state",
 "control_socket": "$W/agent.sock", "enforcer_push_socket": "$ECI_PUSH_SOCK",
 "enforcer_control_socket": "$ECI_CONTROL_SOCK", "poll_seconds": 1}
JSON
chmod 644 "$W/agent.json"
"$AGENT" --config "$W/agent.json" --init >/dev/null || die "agent --init"
cp "$W/agent-state/eci-policy.pub" "$ECI_T/trusted-keys/agent.pub"
eci_enforcer_stop; eci_enforcer_start || die "enforcer restart"
"$AGENT" --config "$W/agent.json" --settings "$SETTINGS" --registry "$REGISTRY" >"$W/agent.log" 2>&1 &
PIDS+=($!)
wait_until 20 test -S "$W/agent.sock" || die "agent did not start"

uidmap() { docker run --rm busybox cat /proc/self/uid_map | awk '{print $1, $2, $3}'; }
a_eq "not signed in: container isolated (fail closed)" "0 100000 65536" "$(uidmap)"

"$ADMIN" login --agent-socket "$W/agent.sock" >"$W/login.out" 2>&1 &
lp=$!
wait_until 30 grep -q "enter the code" "$W/login.out" || die "no code: $(cat "$W/login.out")"
code=$(grep -o 'enter the code [A-Z0-9-]*' "$W/login.out" | awk '{print $4}')
device_approve "$ISSUER" "$code" alice "$W/ca.pem" || die "device flow"
wait $lp; a_eq "member login" "0" "$?"
wait_until 15 bash -c "[[ \$(sock_call '$ECI_CONTROL_SOCK' '{\"op\":\"status\"}') == *'\"eci\":\"off\"'* ]]"
a_eq "admin's ECI off applied: next container not remapped" "0 0 4294967295" "$(uidmap)"

put "$SETTINGS" '{"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": true, "locked": true}}'
wait_until 15 bash -c "[[ \$(sock_call '$ECI_CONTROL_SOCK' '{\"op\":\"status\"}') == *'\"eci\":\"on\"'* ]]"
a_eq "file off->on: next container isolated, nothing restarted" "0 100000 65536" "$(uidmap)"

a_summary
