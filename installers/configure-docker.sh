#!/usr/bin/env bash
# Registers eci-runc with dockerd: merges
#   "runtimes": {"eci": {"path": <eci-runc>}}  and  "default-runtime": "eci"
# into daemon.json, keeping every other key the admin set (other runtimes included). Atomic
# (temp file + rename), idempotent, and refuses a daemon.json that is not a JSON object rather than
# overwrite it.
#
#   configure-docker.sh [--daemon-json PATH] [--eci-runc PATH] [--runtime-arg ARG]... [--dry-run]
set -euo pipefail

daemon_json=/etc/docker/daemon.json
eci_runc=/usr/bin/eci-runc
runtime_args=()
dry_run=0
while (($#)); do
  case $1 in
    --daemon-json) daemon_json=$2; shift 2 ;;
    --eci-runc) eci_runc=$2; shift 2 ;;
    --runtime-arg) runtime_args+=("$2"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "configure-docker.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

command -v jq >/dev/null || { echo "configure-docker.sh: jq is required" >&2; exit 2; }

current='{}'
if [[ -s "$daemon_json" ]]; then
  if ! current=$(jq -e 'if type == "object" then . else error("not a JSON object") end' \
      "$daemon_json" 2>&1); then
    echo "configure-docker.sh: $daemon_json: not a valid JSON object ($current); not changed" >&2
    exit 1
  fi
fi

args_json=$(printf '%s\n' "${runtime_args[@]+"${runtime_args[@]}"}" | jq -R . | jq -s 'map(select(. != ""))')
merged=$(jq --arg path "$eci_runc" --argjson args "$args_json" '
  .runtimes = ((.runtimes // {}) + {"eci": ({"path": $path} +
                (if ($args | length) > 0 then {"runtimeArgs": $args} else {} end))})
  | ."default-runtime" = "eci"' <<<"$current")

if ((dry_run)); then
  printf '%s\n' "$merged"
  exit 0
fi
mkdir -p "$(dirname "$daemon_json")"
tmp=$(mktemp "$(dirname "$daemon_json")/.daemon.json.XXXXXX")
trap 'rm -f "$tmp"' EXIT
printf '%s\n' "$merged" >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$daemon_json"
trap - EXIT
echo "configure-docker.sh: $daemon_json: runtime eci -> $eci_runc, default-runtime eci (restart dockerd to apply)"
