# shellcheck shell=bash
# Helpers for eci-agent's end-to-end tests: a real oidc-provider (npm) over TLS, a user completing
# the device flow with curl, and small JSON queries. Sourced by agent_e2e.sh.

A_PASSED=0
A_FAILED=0
A_FAILED_NAMES=()
a_pass() { A_PASSED=$((A_PASSED + 1)); echo "ok   - $1"; }
a_fail() {
  A_FAILED=$((A_FAILED + 1)); A_FAILED_NAMES+=("$1"); echo "FAIL - $1"
  shift; [[ $# -gt 0 ]] && echo "       $*"
}
a_eq() { if [[ "$2" == "$3" ]]; then a_pass "$1"; else a_fail "$1" "want [$2] got [$3]"; fi; }
a_contains() {
  if [[ "$3" == *"$2"* ]]; then a_pass "$1"; else a_fail "$1" "[$2] not in [${3:0:600}]"; fi
}
a_summary() {
  echo "$A_PASSED passed, $A_FAILED failed"
  [[ $A_FAILED -gt 0 ]] && printf '  failed: %s\n' "${A_FAILED_NAMES[@]}"
  [[ $A_FAILED -eq 0 && $A_PASSED -gt 0 ]]
}

# jq-like: jget JSON PYTHON-EXPR (the document is `d`).
jget() {
  python3 -c 'import json,sys
d=json.loads(sys.argv[1])
v=eval(sys.argv[2])
print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2" 2>/dev/null
}

# One framed-JSON request (4-byte big-endian length + JSON) to a unix socket.
sock_call() {
  python3 - "$1" "$2" <<'PY'
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
b = sys.argv[2].encode()
s.sendall(struct.pack(">I", len(b)) + b)
def rd(n):
    out = b""
    while len(out) < n:
        c = s.recv(n - len(out))
        if not c: raise SystemExit("eof")
        out += c
    return out
n = struct.unpack(">I", rd(4))[0]
print(rd(n).decode())
PY
}

export -f sock_call jget

# wait_until SECONDS CMD...: polls CMD every 0.5 s.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# Completes the device flow as USER would in a browser: the code page, the confirm page, the
# provider's login form and its consent form, following redirects by hand with a cookie jar.
device_approve() {
  local base=$1 code=$2 user=$3 ca=$4 jar
  jar=$(mktemp)
  local c=(curl -sS --fail-with-body --cacert "$ca" -c "$jar" -b "$jar")
  local page xsrf loc action hdr
  hdr=$(mktemp)
  page=$("${c[@]}" "$base/device") || { echo "GET /device failed" >&2; return 1; }
  xsrf=$(grep -o 'name="xsrf" value="[^"]*"' <<<"$page" | sed 's/.*value="//;s/"$//')
  page=$("${c[@]}" --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$code" "$base/device") ||
    { echo "POST user_code failed" >&2; return 1; }
  grep -q 'op.deviceConfirmForm' <<<"$page" || { echo "no confirm form: ${page:0:300}" >&2; return 1; }
  xsrf=$(grep -o 'name="xsrf" value="[^"]*"' <<<"$page" | sed 's/.*value="//;s/"$//')
  "${c[@]}" -D "$hdr" -o /dev/null --data-urlencode "xsrf=$xsrf" --data-urlencode "user_code=$code" \
    -d confirm=yes "$base/device" || { echo "POST confirm failed" >&2; return 1; }
  local i
  for i in 1 2 3 4 5 6 7 8; do
    loc=$(grep -i '^location:' "$hdr" | tr -d '\r' | awk '{print $2}')
    [[ -z "$loc" ]] && break
    [[ "$loc" == /* ]] && loc="$base$loc"
    page=$("${c[@]}" -D "$hdr" "$loc") || { echo "GET $loc failed" >&2; return 1; }
    action=$(grep -o 'action="[^"]*/interaction/[^"]*"' <<<"$page" | head -n1 | sed 's/action="//;s/"$//')
    if grep -q 'name="prompt" value="login"' <<<"$page"; then
      "${c[@]}" -D "$hdr" -o /dev/null -d prompt=login --data-urlencode "login=$user" \
        -d password=secret "$action" || return 1
    elif grep -q 'name="prompt" value="consent"' <<<"$page"; then
      "${c[@]}" -D "$hdr" -o /dev/null -d prompt=consent "$action" || return 1
    fi
  done
  rm -f "$jar" "$hdr"
  grep -q 'Sign-in Success' <<<"$page" || { echo "device flow did not finish: ${page: -300}" >&2; return 1; }
}
