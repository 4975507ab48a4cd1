#!/usr/bin/env bash
# Ranges (issue 13): a uid/gid range is not handed out again while any container still runs in
# its user namespace. A container that joins X's namespaces (--network container:X) runs in X's
# user namespace; after X is deleted it still does, so X's range must stay taken until the last
# member of the group is gone. Through the real dockerd + containerd + runc.
set -u
. "$(dirname "$0")/lib/harness.sh"
eci_up || { echo "FAIL - harness did not start"; exit 1; }

umap() { docker exec "$1" cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //'; }
# Every map compared below is a real one (never two empty strings).
t_range() { [[ "$2" == "0 "*" 65536" ]] && t_pass "$1" || t_fail "$1" "uid_map [$2]"; }

docker run -d --name rx busybox sleep 1000 >/dev/null
docker run -d --name ry --network container:rx busybox sleep 1000 >/dev/null
t_eq "y started (joins x's network)" "true" "$(docker inspect -f '{{.State.Running}}' ry)"
map_x=$(umap rx)
t_range "x runs in a 65536 range" "$map_x"
t_eq "y runs in x's user namespace (x's range)" "$map_x" "$(umap ry)"
t_eq "y's range is x's in eci-enforcerd (one range for the group)" "1" \
  "$(jq '[.allocations[].start] | unique | length' "$ECI_STATE_DIR/allocations.json")"

docker rm -f rx >/dev/null
t_eq "y still runs after x is deleted" "true" "$(docker inspect -f '{{.State.Running}}' ry)"
docker run -d --name rz busybox sleep 1000 >/dev/null
map_z=$(umap rz)
t_range "z runs in a 65536 range" "$map_z"
t_fails "z does NOT get the range y still runs in" test "$map_z" = "$(umap ry)"
docker run -d --name rw --network container:rz busybox sleep 1000 >/dev/null
t_eq "a joiner of z shares z's range" "$map_z" "$(umap rw)"

# The last member gone, the range is free again: the next container may get it.
docker rm -f ry >/dev/null
docker run -d --name rv busybox sleep 1000 >/dev/null
t_eq "after y (the last in x's namespace) is deleted, its range is handed out again" \
  "$map_x" "$(umap rv)"
docker rm -f rz rw rv >/dev/null
t_eq "no range left" "0" "$(eci_allocation_count)"
t_eq "nothing of eci left" "" "$(eci_leftovers)"
t_summary
