#!/bin/bash
# eci-agent end to end, through real parts: oidc-provider (npm) over TLS with the device flow,
# eci-enforcerd, eci-agent and `eci-admin login`. A user completes the sign-in with curl against
# the provider's own pages. Usage: agent_e2e.sh AGENT ENFORCERD ADMIN NODE_DIR
set -u
AGENT=$1 ENFORCERD=$2 ADMIN=$3 NODE_DIR=$4
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

die() { echo "agent_e2e: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "must run as root (creates root-owned locked files and chowns to 1000)"
for t in node npm openssl curl python3; do command -v $t >/dev/null || die "$t not installed"; done

# The provider comes from the npm registry, pinned (8.x supports Node 18/20).
if [[ ! -f "$NODE_DIR/node_modules/oidc-provider/package.json" ]]; then
  mkdir -p "$NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund oidc-provider@8.8.1 >&2 ||
    die "npm install oidc-provider failed"
fi
cp "$HERE"/*.mjs "$NODE_DIR/"

# /tmp is root-owned and sticky, so a root-owned 0755 dir below it passes the locked-file check.
W=$(mktemp -d /tmp/eci-agent-e2e.XXXXXX)
chmod 755 "$W"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait "${PIDS[@]}" 2>/dev/null
  if [[ ${KEEP:-0} == 1 ]]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
dump_logs() {
  echo "--- agent log"; tail -n 40 "$W/agent.log"
  echo "--- enforcerd log"; tail -n 20 "$W/enforcerd.log"
  echo "--- provider log"; tail -n 20 "$W/provider.log"
}

# --- TLS: a CA made here, a server cert for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.pem" -days 1 \
  -subj "/CN=eci agent e2e CA" 2>/dev/null || die "openssl CA"
openssl req -newkey rsa:2048 -nodes -keyout "$W/srv.key" -out "$W/srv.csr" -subj "/CN=127.0.0.1" \
  2>/dev/null || die "openssl csr"
printf "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" \
  >"$W/ext.cnf"
openssl x509 -req -in "$W/srv.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
  -out "$W/srv.pem" -days 1 -extfile "$W/ext.cnf" 2>/dev/null || die "openssl sign"
(cd "$NODE_DIR" && node keys.mjs "$W/idp-jwks.json" && node keys.mjs "$W/other-jwks.json") ||
  die "generating provider keys"

PORT=$((20000 + RANDOM % 20000))
ISSUER="https://127.0.0.1:$PORT"
start_provider() {  # [ID token TTL]
  (cd "$NODE_DIR" && exec node provider.mjs "$PORT" "$W/srv.pem" "$W/srv.key" "$W/idp-jwks.json" \
    "${1:-3600}") >>"$W/provider.log" 2>&1 &
  PROVIDER_PID=$!
  PIDS+=("$PROVIDER_PID")
  wait_until 30 curl -sf --cacert "$W/ca.pem" "$ISSUER/.well-known/openid-configuration" ||
    { dump_logs; die "oidc-provider did not start"; }
}
stop_provider() { kill "$PROVIDER_PID" 2>/dev/null; wait "$PROVIDER_PID" 2>/dev/null; }

# --- Admin files: root-owned, 0644, in root-owned 0755 dirs (a "locked" deployment).
mkdir -p "$W/dd/registry"
SETTINGS="$W/dd/admin-settings.json" REGISTRY="$W/dd/registry/registry.json"
put() {  # put FILE CONTENT: atomic replace, as MDM tools do
  printf '%s' "$2" >"$1.tmp.$$" && chmod 644 "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}
ECI_OFF='{"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": false, "locked": true}}'
ECI_ON='{"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": true, "locked": true, "dockerSocketMount": {"imageList": {"images": ["docker.io/library/e2emarker:1"]}}}}'
put "$SETTINGS" "$ECI_OFF"
put "$REGISTRY" '{"allowedOrgs": ["myorg"]}'

# --- eci-enforcerd on private paths, trusting the agent's key (created by --init, as at install).
cat >"$W/agent.json" <<JSON
{"issuer": "$ISSUER", "client_id": "eci-agent", "org_claim": "orgs", "ca_file": "$W/ca.pem",
 "scope": "openid offline_access email orgs", "state_dir": "$W/agent-state",
 "control_socket": "$W/agent.sock", "enforcer_push_socket": "$W/push.sock",
 "enforcer_control_socket": "$W/enforcer.sock", "poll_seconds": 1}
JSON
chmod 644 "$W/agent.json"
"$AGENT" --config "$W/agent.json" --init >/dev/null || die "eci-agent --init"
a_eq "agent key is root-only" "600" "$(stat -c %a "$W/agent-state/eci-policy.key")"
a_eq "agent state dir is root-only" "700" "$(stat -c %a "$W/agent-state")"
mkdir -p "$W/trusted-keys"
cp "$W/agent-state/eci-policy.pub" "$W/trusted-keys/agent.pub"
start_enforcer() {
  "$ENFORCERD" --control-socket "$W/enforcer.sock" --push-socket "$W/push.sock" \
    --state-dir "$1" --trusted-keys "$W/trusted-keys" >>"$W/enforcerd.log" 2>&1 &
  ENFORCER_PID=$!
  PIDS+=("$ENFORCER_PID")
  wait_until 20 test -S "$W/enforcer.sock" || { dump_logs; die "eci-enforcerd did not start"; }
}
start_enforcer "$W/enforcer-state"
estatus() { sock_call "$W/enforcer.sock" '{"op":"status"}'; }

start_agent() {
  "$AGENT" --config "$W/agent.json" --settings "$SETTINGS" --registry "$REGISTRY" \
    >>"$W/agent.log" 2>&1 &
  AGENT_PID=$!
  PIDS+=("$AGENT_PID")
  wait_until 20 test -S "$W/agent.sock" || { dump_logs; die "eci-agent did not start"; }
}
stop_agent() { kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; rm -f "$W/agent.sock"; }
astatus() { "$ADMIN" agent-status --agent-socket "$W/agent.sock" --format json; }
signin_state() { jget "$(astatus)" 'd["signIn"]["state"]'; }
enf() { jget "$(estatus)" "$1"; }

# login_as USER: runs `eci-admin login`, then completes the device flow as USER.
login_as() {
  local out="$W/login-$1.out"
  : >"$out"
  "$ADMIN" login --agent-socket "$W/agent.sock" >"$out" 2>&1 &
  local lp=$!
  wait_until 30 grep -q "enter the code" "$out" || { cat "$out"; return 99; }
  local url code
  url=$(grep -o 'open https://[^ ]* and' "$out" | awk '{print $2}')
  code=$(grep -o 'enter the code [A-Z0-9-]*' "$out" | awk '{print $4}')
  device_approve "${url%/device}" "$code" "$1" "$W/ca.pem" || { kill $lp; return 98; }
  wait $lp
}

start_provider 3600
start_agent

# 1. Nobody signed in: nothing pushed, status says so, the enforcer stays fail-closed.
wait_until 10 bash -c "[[ \$('$ADMIN' agent-status --agent-socket '$W/agent.sock') == *'sign-in: sign in required'* ]]"
a_eq "not signed in: sign in required" "sign in required" "$(signin_state)"
a_eq "not signed in: nothing pushed" "" "$(jget "$(astatus)" 'd["lastPush"]["at"]')"
a_eq "not signed in: enforcer ECI on (fail closed)" "on" "$(enf 'd["eci"]')"
a_eq "not signed in: enforcer has no verified policy" "false" "$(enf 'd["verified"]')"
txt=$("$ADMIN" agent-status --agent-socket "$W/agent.sock")
a_contains "agent-status text shows locked+valid file" "admin-settings: $SETTINGS locked, valid" "$txt"

# 2. Non-members are refused with the orgs checked; nothing pushed.
login_as bob; rc=$?
a_eq "non-member login exits 1" "1" "$rc"
a_contains "non-member refused naming allowedOrgs" "not a member of an allowed organisation (allowedOrgs: myorg; the user's 'orgs' claim: otherorg)" "$(cat "$W/login-bob.out")"
login_as carol; rc=$?
a_eq "user without org claim refused" "1" "$rc"
a_eq "after refusals: enforcer still unverified defaults" "false" "$(enf 'd["verified"]')"

# 3. A member signs in: the admin's policy (ECI off) is signed, pushed and applied.
login_as alice; rc=$?
a_eq "member login exits 0" "0" "$rc"
a_contains "login says who and which org" "Signed in as alice@example.test (member of myorg)" "$(cat "$W/login-alice.out")"
a_contains "login shows URL and code" "To sign in, open $ISSUER/device and enter the code" "$(cat "$W/login-alice.out")"
wait_until 10 bash -c "[[ \$(sock_call '$W/enforcer.sock' '{\"op\":\"status\"}') == *'\"verified\":true'* ]]" 2>/dev/null
es=$(estatus)
a_eq "member: enforcer policy verified" "true" "$(jget "$es" 'd["verified"]')"
a_eq "member: signed with the agent's key" "$(jget "$(astatus)" 'd["keyId"]')" "$(jget "$es" 'd["keyId"]')"
a_eq "member: admin's ECI off applied" "off" "$(jget "$es" 'd["eci"]')"
a_eq "member: allowedOrgs carried in policy" '["myorg"]' "$(jget "$es" 'd["policy"]["allowedOrgs"]')"
a_eq "agent status: signed in" "signed in" "$(signin_state)"
grep -q "eyJ" "$W/agent.log" && a_fail "tokens never logged" || a_pass "tokens never logged"
a_eq "token store is root-only" "600" "$(stat -c %a "$W/agent-state/tokens.json")"
serial1=$(jget "$es" 'd["serial"]')

# 4. File changed from ECI off to on: picked up through inotify, no restart.
put "$SETTINGS" "$ECI_ON"
wait_until 15 bash -c "[[ \$(sock_call '$W/enforcer.sock' '{\"op\":\"status\"}') == *'\"eci\":\"on\"'* ]]"
es=$(estatus)
a_eq "off->on: enforcer ECI on without restart" "on" "$(jget "$es" 'd["eci"]')"
a_eq "off->on: new policy's image list" '["docker.io/library/e2emarker:1"]' "$(jget "$es" 'd["policy"]["socketMount"]["images"]')"
serial2=$(jget "$es" 'd["serial"]')
a_eq "serial grows" "1" "$(( serial2 > serial1 ))"

# 5. Broken JSON: refused, the last good policy stays.
put "$SETTINGS" '{"configurationFileVersion": 2, "enhancedContainerIsolation": {'
sleep 3
as=$(astatus)
a_eq "broken JSON: file invalid" "false" "$(jget "$as" 'd["files"][0]["valid"]')"
a_contains "broken JSON: last good kept (reported)" "the last good policy stays in force" "$(jget "$as" 'd["policyError"]')"
a_contains "broken JSON: finding names the file" "$SETTINGS" "$(jget "$as" 'd["files"][0]["findings"][0]')"
a_eq "broken JSON: enforcer serial unchanged" "$serial2" "$(enf 'd["serial"]')"
a_eq "broken JSON: enforcer still ECI on" "on" "$(enf 'd["eci"]')"

# 6. Group-writable admin file: refused with the exact reason.
# The replacement arrives group-writable (tmp prepared, then renamed in), so no locked ECI-off
# version ever exists for the agent to pick up.
printf '%s' "$ECI_OFF" >"$W/dd/.gw.tmp"; chgrp 50 "$W/dd/.gw.tmp"; chmod 664 "$W/dd/.gw.tmp"
mv -f "$W/dd/.gw.tmp" "$SETTINGS"
sleep 3
as=$(astatus)
a_eq "group-writable: not locked" "false" "$(jget "$as" 'd["files"][0]["locked"]')"
a_eq "group-writable: exact reason" "$SETTINGS: writable by group 50 (staff); MDM-deployed settings must be writable by root only" "$(jget "$as" 'd["files"][0]["lockProblems"][0]')"
a_eq "group-writable: its ECI off never applied" "on" "$(enf 'd["eci"]')"
a_eq "group-writable: serial unchanged" "$serial2" "$(enf 'd["serial"]')"

# 7. Symlinked to a user-owned file: refused.
printf '%s' "$ECI_OFF" >"$W/user-settings.json"; chown 1000:1000 "$W/user-settings.json"
rm -f "$SETTINGS"; ln -s "$W/user-settings.json" "$SETTINGS"
sleep 3
as=$(astatus)
a_contains "symlink: refused as symlink" "is a symlink (to $W/user-settings.json)" "$(jget "$as" 'd["files"][0]["lockProblems"][0]')"
a_eq "symlink: enforcer unchanged" "on" "$(enf 'd["eci"]')"
rm -f "$SETTINGS"; put "$SETTINGS" "$ECI_ON"
sleep 3
a_eq "restored file: no new push for the same policy" "$serial2" "$(enf 'd["serial"]')"

# 8. The enforcer restarts with empty state (defaults): the agent re-pushes.
kill "$ENFORCER_PID"; wait "$ENFORCER_PID" 2>/dev/null; rm -f "$W/enforcer.sock"
start_enforcer "$W/enforcer-state2"
wait_until 20 bash -c "[[ \$(sock_call '$W/enforcer.sock' '{\"op\":\"status\"}') == *'\"verified\":true'* ]]"
es=$(estatus)
a_eq "enforcer restart: policy re-pushed" "true" "$(jget "$es" 'd["verified"]')"
a_eq "enforcer restart: admin policy back" '["docker.io/library/e2emarker:1"]' "$(jget "$es" 'd["policy"]["socketMount"]["images"]')"
serial3=$(jget "$es" 'd["serial"]')
a_eq "enforcer restart: serial still grows" "1" "$(( serial3 > serial2 ))"

# 9. Provider unreachable: the agent restarts with no JWKS cached; last state kept, retried.
stop_provider
stop_agent
start_agent
sleep 3
as=$(astatus)
a_eq "provider down: state reported" "provider unreachable" "$(jget "$as" 'd["signIn"]["state"]')"
a_eq "provider down: last policy kept" "$serial3" "$(enf 'd["serial"]')"
a_eq "provider down: enforcer still verified" "true" "$(enf 'd["verified"]')"
start_provider 3600
wait_until 20 bash -c "[[ \$('$ADMIN' agent-status --agent-socket '$W/agent.sock') == *'sign-in: signed in'* ]]"
a_eq "provider back: signed in again (retried)" "signed in" "$(signin_state)"

# 10. Refresh before expiry: a provider issuing short ID tokens; the agent refreshes.
stop_provider; start_provider 125
"$ADMIN" logout --agent-socket "$W/agent.sock" >/dev/null
wait_until 10 bash -c "[[ \$(sock_call '$W/enforcer.sock' '{\"op\":\"status\"}') == *'\"images\":[]'* ]]"
a_eq "logout: enforcer back to defaults (no admin images)" "[]" "$(enf 'd["policy"]["socketMount"]["images"]')"
a_eq "logout: ECI on" "on" "$(enf 'd["eci"]')"
a_eq "logout: sign in required" "sign in required" "$(signin_state)"
login_as alice; rc=$?
a_eq "member login (short tokens)" "0" "$rc"
exp1=$(jget "$(astatus)" 'd["signIn"]["expiresAt"]')
sleep 8
exp2=$(jget "$(astatus)" 'd["signIn"]["expiresAt"]')
a_eq "ID token refreshed before expiry" "1" "$(( exp2 > exp1 ))"
a_eq "still signed in after refresh" "signed in" "$(signin_state)"

# 11. Tokens the agent must refuse (planted in its token store, as a compromised or misconfigured
#     IdP would hand them out). Each time the admin policy is withdrawn (defaults pushed).
mint() { (cd "$NODE_DIR" && node mint.mjs "$@"); }
plant() {  # plant NAME TOKEN WANT_STATE WANT_DETAIL WANT_IMAGES
  stop_agent
  python3 -c 'import base64,json,sys
t=sys.argv[1]; p=t.split(".")[1]; c=json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))
json.dump({"id_token":t,"refresh_token":"","access_token":"","expires_at":c["exp"]},open(sys.argv[2],"w"))' \
    "$2" "$W/agent-state/tokens.json"
  chmod 600 "$W/agent-state/tokens.json"
  start_agent
  sleep 2
  local as; as=$(astatus)
  a_eq "$1: state" "$3" "$(jget "$as" 'd["signIn"]["state"]')"
  a_contains "$1: reason" "$4" "$(jget "$as" 'd["signIn"]["detail"]')"
  wait_until 5 bash -c "[[ \$(sock_call '$W/enforcer.sock' '{\"op\":\"status\"}') == *'\"images\":$5'* ]]"
  a_eq "$1: images in force" "$5" "$(enf 'd["policy"]["socketMount"]["images"]')"
}
ADMIN_IMAGES='["docker.io/library/e2emarker:1"]'
plant "control: valid minted member token" "$(mint "$W/idp-jwks.json" "$ISSUER" eci-agent alice myorg 3600)" "signed in" "member of myorg" "$ADMIN_IMAGES"
plant "wrong issuer" "$(mint "$W/idp-jwks.json" https://evil.example eci-agent alice myorg 3600)" "refused" "issuer 'https://evil.example' is not the configured issuer" "[]"
plant "wrong audience" "$(mint "$W/idp-jwks.json" "$ISSUER" other-app alice myorg 3600)" "refused" "does not include 'eci-agent'" "[]"
plant "signed by another key" "$(mint "$W/other-jwks.json" "$ISSUER" eci-agent alice myorg 3600)" "refused" "no key in the issuer's JWKS matches kid" "[]"
plant "expired token" "$(mint "$W/idp-jwks.json" "$ISSUER" eci-agent alice myorg -600)" "sign in required" "session expired" "[]"

a_summary; rc=$?
[[ $rc -ne 0 ]] && dump_logs
exit $rc
