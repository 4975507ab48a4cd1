#!/bin/bash
# eci-admin export for every target, checked with tools that are not ours: Python's plistlib and
# xmllint (DTD-validated, offline) for the profile and plist, xmllint for the ADMX/ADML, sh -n /
# bash -n for the installers, Python reading the .reg (UTF-16LE) and the sh installers run for
# real under DESTDIR (root only). The values carry quotes, $, backslashes, ]]>, CR and Unicode.
# Usage: run_tools.sh ECI_ADMIN  (prints "N passed, N failed")
set -u
admin=$1
here=$(cd "$(dirname "$0")" && pwd)
dtd=$here/PropertyList-1.0.dtd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { local what=$1; shift; if "$@" >"$tmp/out" 2>&1; then ok; else bad "$what"; cat "$tmp/out" >&2; fi; }

python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
s = {"configurationFileVersion": 2,
     "enhancedContainerIsolation": {"locked": True, "value": True},
     "x-note": "it's \"q\" $HOME `id` C:\\dir\\ ]]> <&> caf\u00e9 \U0001F600 \u2019 '' \r\n\t"}
open(d + "/admin-settings.json", "w", encoding="utf-8", newline="").write(
    json.dumps(s, indent=2, ensure_ascii=False).replace("\n", "\r\n") + "\r\n")
open(d + "/registry.json", "w").write('{"allowedOrgs": ["myorg1", "my-org_2"]}\n')
PY
org=$'Acme & "Sons" \'EU\' ]]> $x \\ caf\xc3\xa9\r\nIT'

for t in jamf intune gpo linux; do
  check "export $t" "$admin" export --target "$t" --settings "$tmp/admin-settings.json" \
    --registry "$tmp/registry.json" --organization "$org" --identifier com.acme.docker \
    -o "$tmp/$t"
done
check "unknown target refused with 2" bash -c "\"$admin\" export --target macos --settings \
  \"$tmp/admin-settings.json\" -o \"$tmp/x\" 2>/dev/null; test \$? = 2"
printf '{"configurationFileVersion": 2, "enhancedContainerIsolation": 3}' >"$tmp/bad.json"
check "invalid settings refused with 1, nothing written" bash -c "\"$admin\" export --target \
  linux --settings \"$tmp/bad.json\" -o \"$tmp/bad\" 2>/dev/null; test \$? = 1 && test ! -e \"$tmp/bad\""

# Profile and plist: DTD-valid, and plistlib sees the orgs and the organization unchanged.
for f in "$tmp/jamf/docker.mobileconfig" "$tmp/jamf/com.docker.config.plist"; do
  check "xmllint --dtdvalid $(basename "$f")" xmllint --noout --nonet --dtdvalid "$dtd" "$f"
done
check "plistlib reads the profile" python3 - "$tmp/jamf/docker.mobileconfig" "$org" <<'PY'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
org = sys.argv[2]
assert p["PayloadScope"] == "System" and p["PayloadType"] == "Configuration", p
inner = p["PayloadContent"][0]
assert inner["PayloadType"] == "com.docker.config"
assert inner["allowedOrgs"] == "myorg1;my-org_2", inner["allowedOrgs"]
assert p["PayloadOrganization"] == org and inner["PayloadOrganization"] == org, repr(inner)
ids = [p["PayloadIdentifier"], inner["PayloadIdentifier"]]
uuids = [p["PayloadUUID"], inner["PayloadUUID"]]
assert len(set(ids)) == 2 and len(set(uuids)) == 2, (ids, uuids)
PY
check "plistlib reads the bare plist" python3 -c '
import plistlib, sys
assert plistlib.load(open(sys.argv[1], "rb")) == {"allowedOrgs": "myorg1;my-org_2"}' \
  "$tmp/jamf/com.docker.config.plist"

for t in intune gpo; do
  check "xmllint $t ADMX" xmllint --noout --nonet "$tmp/$t/docker-desktop.admx"
  check "xmllint $t ADML" xmllint --noout --nonet "$tmp/$t/en-US/docker-desktop.adml"
  check "python reads the $t .reg" python3 - "$tmp/$t/allowed-orgs.reg" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read()
assert raw[:2] == b"\xff\xfe"
text = raw[2:].decode("utf-16-le")
assert text.startswith("Windows Registry Editor Version 5.00\r\n")
assert "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop]\r\n" in text
data = text.split('"allowedOrgs"=hex(7):', 1)[1].replace("\\\r\n", "").split("\r\n", 1)[0]
b = bytes(int(x, 16) for x in data.replace(" ", "").split(","))
assert b.decode("utf-16-le").split("\0")[:-2] == ["myorg1", "my-org_2"], b
PY
  check "$t install.ps1 is pure ASCII" python3 -c '
import sys; open(sys.argv[1], "rb").read().decode("ascii")' "$tmp/$t/install.ps1"
done

for t in jamf linux; do
  check "sh -n $t" sh -n "$tmp/$t/install-admin-settings.sh"
  check "bash -n $t" bash -n "$tmp/$t/install-admin-settings.sh"
done
if [ "$(id -u)" = 0 ]; then
  check "linux installer runs" env DESTDIR="$tmp/root" sh "$tmp/linux/install-admin-settings.sh"
  check "installed admin-settings.json is the input, byte for byte" \
    cmp "$tmp/admin-settings.json" "$tmp/root/usr/share/docker-desktop/admin-settings.json"
  check "installed registry.json is the input" \
    cmp "$tmp/registry.json" "$tmp/root/usr/share/docker-desktop/registry/registry.json"
  check "root:root 0644" test "$(stat -c '%U:%G %a' \
    "$tmp/root/usr/share/docker-desktop/admin-settings.json")" = "root:root 644"
  check "eci-admin validate accepts the installed file" "$admin" validate \
    "$tmp/root/usr/share/docker-desktop/admin-settings.json"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
