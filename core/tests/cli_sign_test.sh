#!/bin/bash
# End to end through the real eci-admin binary: keygen -> policy sign -> policy verify ->
# tamper -> verify refuses (exit 1, with the reason). No root needed.
# Usage: cli_sign_test.sh /path/to/eci-admin [SOURCE_DIR]
set -euo pipefail
admin=$1
src=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
work=$(mktemp -d /tmp/eci-cli-sign.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect CODE CMD... : runs CMD, checks its exit code, leaves stdout+stderr in $work/out.
expect() {
  local want=$1; shift
  set +e
  "$@" >"$work/out" 2>&1
  local got=$?
  set -e
  [ "$got" -eq "$want" ] || { cat "$work/out" >&2; fail "exit $got (want $want): $*"; }
}
contains() { grep -qF -- "$1" "$work/out" || { cat "$work/out" >&2; fail "output lacks '$1'"; }; }

# keygen: files, modes, refusal to overwrite.
expect 0 "$admin" keygen --out "$work/keys"
contains "key id:"
[ "$(stat -c %a "$work/keys/eci-policy.key")" = 600 ] || fail "private key mode is not 0600"
[ "$(stat -c %a "$work/keys/eci-policy.pub")" = 644 ] || fail "public key mode is not 0644"
grep -q "BEGIN PRIVATE KEY" "$work/keys/eci-policy.key" || fail "private key is not PKCS#8 PEM"
keyid=$(sed -n 's/^key id: *//p' "$work/out")
[ ${#keyid} -eq 16 ] || fail "key id '$keyid' is not 16 hex digits"
expect 1 "$admin" keygen --out "$work/keys"
contains "refusing to replace"
expect 0 "$admin" keygen --out "$work/other"

cat >"$work/policy.json" <<'JSON'
{"enabled": true, "locked": true,
 "socketMount": {"images": ["docker.io/library/docker:cli"], "allowDerivedImages": false},
 "commandList": {"type": "deny", "commands": ["push"]},
 "restrictedHostMounts": ["/etc/docker", "/var/lib/eci"],
 "allowedOrgs": ["myorg"], "inputsDigest": "sha256:abc"}
JSON

# sign + verify.
expect 0 "$admin" policy sign --key "$work/keys/eci-policy.key" --policy "$work/policy.json" \
  --serial 5 -o "$work/bundle.json"
contains "serial 5"
expect 0 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/bundle.json"
contains "signature OK"
contains "serial:     5"
contains "key id:     $keyid"
contains "ECI:        on (locked)"
contains "allowed orgs: myorg"
contains "command list: deny push"

# A directory of trusted keys works like /etc/eci/trusted-keys.
mkdir "$work/trust"
cp "$work/other/eci-policy.pub" "$work/trust/a.pub"
cp "$work/keys/eci-policy.pub" "$work/trust/b.pub"
expect 0 "$admin" policy verify --pub "$work/trust" "$work/bundle.json"

# Tampering with the policy: ECI switched off without re-signing.
sed 's/"enabled":true/"enabled":false/' "$work/bundle.json" >"$work/tampered.json"
! cmp -s "$work/bundle.json" "$work/tampered.json" || fail "tampering did not change the bundle"
expect 1 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/tampered.json"
contains "does not verify"
contains "signature does not verify"

# Replayed serial bumped by hand.
sed 's/"serial":5/"serial":6/' "$work/bundle.json" >"$work/serial.json"
expect 1 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/serial.json"
contains "signature does not verify"

# Signed by another key: not trusted.
expect 1 "$admin" policy verify --pub "$work/other/eci-policy.pub" "$work/bundle.json"
contains "not a trusted key"

# Truncated.
head -c 100 "$work/bundle.json" >"$work/trunc.json"
expect 1 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/trunc.json"
contains "malformed JSON"

# From settings (engineer A's settings library): the bundle carries exactly the policy that
# `eci-admin policy --format json` shows for the same files.
ex=$src/settings-schema/examples
expect 0 "$admin" policy sign --key "$work/keys/eci-policy.key" --settings "$ex/admin-settings.json" \
  --registry "$ex/registry.json" --serial 9 -o "$work/from-settings.json"
expect 0 "$admin" policy --settings "$ex/admin-settings.json" --registry "$ex/registry.json" \
  --format json
cp "$work/out" "$work/effective.json"
expect 0 "$admin" policy sign --key "$work/keys/eci-policy.key" --policy "$work/effective.json" \
  --serial 9 -o "$work/from-policy.json"
expect 0 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/from-settings.json"
grep -v '^issued at\|signature OK' "$work/out" >"$work/v1"
expect 0 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/from-policy.json"
grep -v '^issued at\|signature OK' "$work/out" >"$work/v2"
cmp -s "$work/v1" "$work/v2" || { diff "$work/v1" "$work/v2" >&2; fail "settings and policy paths differ"; }
grep -q "sha256:" "$work/v1" || fail "no inputs digest from settings"
# --settings with a broken file: exit 1 and nothing written.
echo '{"configurationFileVersion": 2, "enhancedContainerIsolation": {"locked": true, "value": "yes"}}' \
  >"$work/admin-settings.json"
expect 1 "$admin" policy sign --key "$work/keys/eci-policy.key" --settings "$work/admin-settings.json" \
  --serial 10 -o "$work/y.json"
contains "/enhancedContainerIsolation/value"
[ ! -e "$work/y.json" ] || fail "a bundle was written for invalid settings"
expect 2 "$admin" policy sign --key "$work/keys/eci-policy.key" --policy "$work/policy.json" \
  --settings "$ex/admin-settings.json" --serial 1 -o "$work/y.json"
contains "exactly one of"

# Bad inputs to sign: exit 1 for invalid content, 2 for usage / I/O.
echo '{"enabled": "yes"}' >"$work/bad-policy.json"
expect 1 "$admin" policy sign --key "$work/keys/eci-policy.key" --policy "$work/bad-policy.json" \
  --serial 1 -o "$work/x.json"
contains "/enabled"
[ ! -e "$work/x.json" ] || fail "a bundle was written for an invalid policy"
expect 2 "$admin" policy sign --key "$work/keys/eci-policy.key" --policy "$work/policy.json" \
  --serial 0 -o "$work/x.json"
expect 2 "$admin" policy sign --key "$work/keys/eci-policy.key" --policy "$work/policy.json" \
  --serial -3 -o "$work/x.json"
expect 2 "$admin" policy sign --key "$work/missing.key" --policy "$work/policy.json" \
  --serial 1 -o "$work/x.json"
expect 1 "$admin" policy sign --key "$work/keys/eci-policy.pub" --policy "$work/policy.json" \
  --serial 1 -o "$work/x.json"
expect 2 "$admin" policy verify --pub "$work/keys/eci-policy.pub" "$work/missing.json"
# No internal names (exception classes, CLI11 types) in any message.
for f in "$work"/out; do ! grep -q "exception\|CLI::" "$f" || fail "internal names leaked"; done

echo "PASS: keygen, sign (policy and settings), verify, tamper/serial/wrong-key/truncated refused, bad inputs"
