#!/usr/bin/env bash
# Golden tests: runs the real `eci-admin validate` on every input under cases/ and compares its
# text output and exit code with cases/<name>.expected (first line "exit N", then the output).
# ECI_GOLDEN_UPDATE=1 rewrites the expectations (review the diff before committing).
set -u
admin=$(realpath "${1:?usage: run_golden.sh ECI_ADMIN GOLDEN_DIR}")
dir=${2:?usage: run_golden.sh ECI_ADMIN GOLDEN_DIR}
cd "$dir/cases" || exit 2
fail=0
count=0
for input in *.json; do
  name=${input%.json}
  expected="$name.expected"
  args=(validate)
  [[ -f "$name.args" ]] && read -r -a extra <"$name.args" && args+=("${extra[@]}")
  actual=$("$admin" "${args[@]}" "$input" 2>&1; echo "exit $?")
  # The exit code goes first so a reader sees the verdict at the top of the file.
  actual=$(printf '%s\n' "$actual" | tail -n 1; printf '%s\n' "$actual" | sed '$d')
  count=$((count + 1))
  if [[ "${ECI_GOLDEN_UPDATE:-0}" == 1 ]]; then
    printf '%s\n' "$actual" >"$expected"
    continue
  fi
  if [[ ! -f "$expected" ]]; then
    echo "FAIL $name: no $expected"
    fail=1
    continue
  fi
  if ! diff -u "$expected" <(printf '%s\n' "$actual"); then
    echo "FAIL $name"
    fail=1
  fi
done
# Also the JSON output of one multi-file run must be valid JSON with the right verdict.
json=$("$admin" validate --format json admin-settings-valid-full.json registry-valid.json)
rc=$?
if [[ $rc -ne 0 ]] || ! printf '%s' "$json" | jq -e '.valid == true and (.files | length) == 2' >/dev/null; then
  echo "FAIL json output (exit $rc): $json"
  fail=1
fi
# `policy`: the effective policy of the docs' full example, and the exit codes of its failures.
policy=$("$admin" policy --settings admin-settings-valid-full.json --registry registry-valid.json --format json)
rc=$?
if [[ $rc -ne 0 ]] || ! jq -e '.enabled and .locked and .socketMount.allowDerivedImages
      and .socketMount.images == ["docker.io/library/docker:cli", "docker.io/localstack/localstack:*", "docker.io/testcontainers/ryuk:*"]
      and .commandList == {"type": "deny", "commands": ["build", "push"]}
      and .allowedOrgs == ["myorg"] and (.restrictedHostMounts | index("/var/run/docker.sock") != null)
      and (.inputsDigest | test("^sha256:[0-9a-f]{64}$"))' <<<"$policy" >/dev/null; then
  echo "FAIL policy output (exit $rc): $policy"
  fail=1
fi
"$admin" policy --settings admin-settings-type-error.json >/dev/null 2>&1
rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL policy on an invalid file: exit $rc, expected 1"; fail=1; }
"$admin" policy --settings does-not-exist.json >/dev/null 2>&1
rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL policy on a missing file: exit $rc, expected 2"; fail=1; }
"$admin" validate --no-such-flag registry-valid.json >/dev/null 2>&1
rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL validate with a bad flag: exit $rc, expected 2"; fail=1; }
"$admin" validate does-not-exist.json registry-valid.json >/dev/null 2>&1
rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL validate on a missing file: exit $rc, expected 2"; fail=1; }
for sub in "" validate policy; do
  # shellcheck disable=SC2086
  if ! "$admin" $sub --help >/dev/null 2>&1; then
    echo "FAIL eci-admin $sub --help"
    fail=1
  fi
done

# --check-permissions: a file anyone can write is reported (and makes the run fail), the same
# content in a root-only file is not. Needs root to create a root-owned file.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0755 "$tmp"
cp registry-valid.json "$tmp/registry.json"
chmod 0666 "$tmp/registry.json"
out=$("$admin" validate --check-permissions "$tmp/registry.json" 2>&1)
rc=$?
if [[ $rc -ne 1 ]] || ! grep -q "writable" <<<"$out"; then
  echo "FAIL --check-permissions on a world-writable file (exit $rc): $out"
  fail=1
fi
chmod 0644 "$tmp/registry.json"
if [[ $(id -u) -eq 0 ]]; then
  out=$("$admin" validate --check-permissions "$tmp/registry.json" 2>&1)
  rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL --check-permissions on a root-only file (exit $rc): $out"
    fail=1
  fi
fi
if ((count < 10)); then
  echo "FAIL: only $count golden cases found in $dir/cases"
  fail=1
fi
((fail == 0)) && echo "golden: $count cases passed"
exit $fail
