#!/bin/sh
# eci's changes to dockerd's daemon.json, merged with the admin's keys and undone exactly.
#
#   configure-docker merge   [--daemon-json PATH] [--state-dir DIR] [--dry-run]
#   configure-docker unmerge [--daemon-json PATH] [--state-dir DIR] [--dry-run]
#
# merge: adds each of eci's keys the admin has NOT set (an admin's value always wins, whatever it
#   is) and records what it added, and whether it created the file, in STATE_DIR/daemon-json.json;
#   the first merge keeps a copy of the admin's original as STATE_DIR/daemon.json.pre-eci. A
#   daemon.json that is not a JSON object is left alone (exit 1). Atomic (temp + rename),
#   idempotent (a second merge changes nothing). It also copies itself to STATE_DIR so the
#   package's postrm can unmerge after the package's files are gone.
# unmerge (package purge): removes exactly the keys merge added whose value is still eci's; removes
#   the file if merge created it and nothing else is left. Every other key stays.
#
# eci's keys: "live-restore": true -- running containers survive a dockerd restart, which the
#   vendor drop-ins trigger whenever eci-enforcerd restarts (upgrade, crash: Requires=).
#   "builder": {"entitlements": {"network-host": false, "security-insecure": false}} -- BuildKit
#   refuses build steps in the host's network namespace and privileged build steps, also over
#   /grpc where the API guard does not read the build's options (eci-runc contains both anyway:
#   this is the engine's own, earlier refusal). An admin's own "builder" key wins, as any key.
# No runtime entries and no default-runtime: dockerd's own `runc` is eci-runc (the diversion).
set -eu

eci_keys='{"live-restore": true, "builder": {"entitlements": {"network-host": false, "security-insecure": false}}}'
daemon_json=/etc/docker/daemon.json
state_dir=/var/lib/eci
dry_run=0
cmd=${1:-}
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case $1 in
    --daemon-json) daemon_json=$2; shift 2 ;;
    --state-dir) state_dir=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    *) echo "configure-docker: unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v jq >/dev/null || { echo "configure-docker: jq is required" >&2; exit 2; }
state=$state_dir/daemon-json.json

read_current() {
  if [ -s "$daemon_json" ]; then
    if ! jq -e 'type == "object"' "$daemon_json" >/dev/null 2>&1; then
      echo "configure-docker: $daemon_json is not a JSON object; left unchanged" >&2
      exit 1
    fi
    jq . "$daemon_json"
  else
    echo '{}'
  fi
}

write_json() {  # CONTENT
  if [ "$dry_run" = 1 ]; then printf '%s\n' "$1"; return 0; fi
  mkdir -p "$(dirname "$daemon_json")"
  tmp=$(mktemp "$(dirname "$daemon_json")/.daemon.json.XXXXXX")
  printf '%s\n' "$1" >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$daemon_json"
}

case $cmd in
  merge)
    current=$(read_current)
    existed=0
    [ -e "$daemon_json" ] && existed=1
    prev='{"added": {}, "created": false}'
    [ -s "$state" ] && prev=$(cat "$state")
    # Keys to add: eci's keys the file does not have. Keys added before stay recorded.
    new_state=$(jq -n --argjson cur "$current" --argjson eci "$eci_keys" --argjson prev "$prev" \
      --argjson existed "$existed" '
      ($eci | with_entries(select(.key as $k | ($cur | has($k)) | not))) as $add
      | {added: ($prev.added + $add),
         created: (if ($prev.added | length) > 0 then $prev.created else ($existed == 0) end)}')
    merged=$(jq -n --argjson cur "$current" --argjson st "$new_state" '$cur + $st.added')
    if [ "$dry_run" = 1 ]; then printf '%s\n' "$merged"; exit 0; fi
    mkdir -p "$state_dir"
    chmod 0700 "$state_dir"
    if [ "$existed" = 1 ] && [ ! -e "$state_dir/daemon.json.pre-eci" ]; then
      cp -p "$daemon_json" "$state_dir/daemon.json.pre-eci"
    fi
    printf '%s\n' "$new_state" >"$state"
    cp "$0" "$state_dir/configure-docker" 2>/dev/null && chmod 0700 "$state_dir/configure-docker"
    if [ "$merged" != "$current" ] || [ "$existed" = 0 ]; then
      write_json "$merged"
      echo "configure-docker: $daemon_json: merged $(jq -c .added <<EOF
$new_state
EOF
) (restart dockerd to apply)"
    fi
    ;;
  unmerge)
    [ -s "$state" ] || { echo "configure-docker: nothing recorded in $state"; exit 0; }
    [ -e "$daemon_json" ] || { [ "$dry_run" = 1 ] || rm -f "$state"; exit 0; }
    current=$(read_current)
    st=$(cat "$state")
    result=$(jq -n --argjson cur "$current" --argjson st "$st" '
      reduce ($st.added | to_entries[]) as $e ($cur;
        if has($e.key) and .[$e.key] == $e.value then del(.[$e.key]) else . end)')
    created=$(jq -r .created <<EOF
$st
EOF
)
    if [ "$dry_run" = 1 ]; then printf '%s\n' "$result"; exit 0; fi
    if [ "$created" = true ] && [ "$result" = '{}' ]; then
      rm -f "$daemon_json"
    else
      write_json "$result"
    fi
    rm -f "$state"
    echo "configure-docker: $daemon_json: eci's keys removed"
    ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
