#!/usr/bin/env bash
# `eci-admin selftest` through the real engine: every check passes with ECI on, the same run fails
# (exit 1, the isolation checks named) with ECI off, and nothing is left behind either way.
set -u
source "$(dirname "$0")/lib/harness.sh"
eci_up || { echo "FAIL - harness did not start"; exit 1; }

tmp_before=$(ls -d /tmp/eci-selftest.* 2>/dev/null | wc -l)

out=$("$ECI_ADMIN_BIN" selftest --format json 2>&1)
rc=$?
t_eq "selftest passes with ECI on (exit 0)" 0 "$rc"
t_eq "every check passed" 0 "$(jq -r '.failed' <<<"$out" 2>/dev/null || echo parse-error)"
t_eq "seven checks ran" 7 "$(jq -r '.checks | length' <<<"$out" 2>/dev/null || echo 0)"
for c in remapped-range privileged-remapped runtime-runc-remapped host-pid-refused \
  restricted-mount-refused readonly-bind emulated-uptime; do
  t_eq "check $c passed" true "$(jq -r --arg c "$c" '.checks[] | select(.name == $c) | .ok' <<<"$out")"
done
[[ $rc -eq 0 ]] || echo "$out"

text=$("$ECI_ADMIN_BIN" selftest 2>&1)
t_contains "text table has a header" "CHECK" "$text"
t_contains "text table counts" "7 of 7 checks passed" "$text"

t_eq "no selftest container left" "" "$(docker ps -aq --filter label=eci.selftest)"
t_eq "no probe directory left" "$tmp_before" "$(ls -d /tmp/eci-selftest.* 2>/dev/null | wc -l)"

# ECI off: the same checks must fail, or the selftest proves nothing.
t_ok "policy with ECI off pushed" eci_push_policy '{"enabled": false, "locked": true, "socketMount": {"images": [], "allowDerivedImages": true}, "commandList": {"type": "deny", "commands": []}, "restrictedHostMounts": [], "allowedOrgs": [], "inputsDigest": ""}'
off=$("$ECI_ADMIN_BIN" selftest --format json 2>&1)
rc=$?
t_eq "selftest fails with ECI off (exit 1)" 1 "$rc"
t_eq "remapped-range fails with ECI off" false \
  "$(jq -r '.checks[] | select(.name == "remapped-range") | .ok' <<<"$off")"
t_eq "host-pid-refused fails with ECI off" false \
  "$(jq -r '.checks[] | select(.name == "host-pid-refused") | .ok' <<<"$off")"
t_eq "no selftest container left (ECI off)" "" "$(docker ps -aq --filter label=eci.selftest)"

out=$("$ECI_ADMIN_BIN" selftest --image no-such-image:1 2>&1)
t_eq "missing image is a usage error (exit 2)" 2 "$?"
t_contains "missing image is named" "no-such-image:1" "$out"

t_summary
