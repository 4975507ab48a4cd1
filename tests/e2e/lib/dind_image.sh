# shellcheck shell=bash
# A Docker-in-Docker image built from the HOST's own files, for tests/e2e/dind_test.sh and
# bench/dind_start.sh. There is no registry: everything an inner engine runs comes from this
# machine, and the one image it runs (busybox) is a `docker save` tarball inside the image.
#
# Source it after tests/e2e/lib/harness.sh, then, once eci_up is done (DOCKER_HOST set,
# busybox:latest imported):
#   eci_dind_image [TAG]   makes TAG (default eci-dind:local) on the harness's engine with
#                          `docker import` of a cached root tarball; prints nothing, non-zero on error.
# What the image holds (paths as on the host):
#   /bin, /sbin           busybox-static and its applets (the harness's busybox rootfs)
#   dockerd, docker-proxy, docker-init (tini), containerd, containerd-shim-runc-v2, ctr
#   runc                  the REAL runc ($ECI_REAL_RUNC resolved; refused if it is eci-runc)
#   docker                the CLI that matches dockerd (Debian's /usr/bin/docker, 20.10: it has
#                         the built-in BuildKit client; else `command -v docker`)
#   iptables              xtables-nft-multi (the default, as on the host) and xtables-legacy-multi
#                         with their iptables/ip6tables[-nft|-legacy][-save|-restore] links and the
#                         xtables extension modules
#   every shared library they need (ldd, at the path ldd names), /etc/passwd, /etc/group
#   /images/busybox.tar   `docker save busybox:latest` for the inner `docker load`/`ctr image import`
# The root tarball is cached in $ECI_DIND_CACHE (default $ECI_BUILD_DIR/dind-cache, else
# /var/tmp/eci-dind-cache) under a name fingerprinting its inputs (paths, sizes, mtimes of the host
# files and this script), so it is rebuilt only when missing or when an input changed. The tarball
# is deterministic for fixed inputs (sorted, mtime 0, numeric owners).

ECI_DIND_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The docker CLI to put in the image: the one that matches the host's dockerd if there is one.
_eci_dind_cli() {
  if [[ -x /usr/bin/docker ]] && /usr/bin/docker --version 2>/dev/null | grep -q "$(dockerd --version |
    awk '{print $3}' | cut -d. -f1-2)"; then
    echo /usr/bin/docker
  else
    command -v docker
  fi
}

# The executables copied as they are (their libraries follow by ldd). Optional ones are skipped
# when the host lacks them (docker-proxy: dockerd then needs --userland-proxy=false).
_eci_dind_executables() {
  local f
  for f in /usr/sbin/dockerd /usr/bin/containerd /usr/bin/containerd-shim-runc-v2 /usr/bin/ctr \
    /usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi /usr/sbin/docker-proxy \
    /usr/bin/tini-static; do
    [[ -x "$f" ]] && echo "$f"
  done
}

# The real runc: ECI_REAL_RUNC (default /usr/sbin/runc) resolved. Inside the image it must be the
# runtime itself, never eci-runc (an inner eci-runc would have no eci-enforcerd to talk to).
_eci_dind_real_runc() {
  local runc
  runc=$(readlink -f "${ECI_REAL_RUNC:-/usr/sbin/runc}") || return 1
  if [[ -n "${ECI_RUNC_BIN:-}" && "$runc" == "$(readlink -f "$ECI_RUNC_BIN")" ]]; then
    echo "dind_image: $runc is eci-runc, not the real runc" >&2
    return 1
  fi
  "$runc" --version 2>/dev/null | head -n1 | grep -q '^runc version' || {
    echo "dind_image: $runc does not answer like runc" >&2
    return 1
  }
  echo "$runc"
}

# Copies FILE (dereferenced) to ROOT at PATH-IN-ROOT (default: its own path).
_eci_dind_copy() {  # ROOT FILE [PATH-IN-ROOT]
  local root=$1 file=$2 dest=${3:-$2}
  mkdir -p "$root$(dirname "$dest")" && cp -L --preserve=mode "$file" "$root$dest"
}

# Every library ELF... needs, at the path the loader is told (ldd's "=> path", and the
# interpreter line), once.
_eci_dind_libs() {  # ELF...
  ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && NF > 1 {print $1}' | sort -u
}

# Prints the cache file for the current inputs.
_eci_dind_cache_file() {
  local cache=${ECI_DIND_CACHE:-}
  if [[ -z "$cache" ]]; then
    if [[ -n "${ECI_BUILD_DIR:-}" ]]; then cache=$ECI_BUILD_DIR/dind-cache; else cache=/var/tmp/eci-dind-cache; fi
  fi
  local runc cli sum
  runc=$(_eci_dind_real_runc) || return 1
  cli=$(_eci_dind_cli)
  sum=$({
    # shellcheck disable=SC2046
    stat -L -c '%n %s %Y' $(_eci_dind_executables) "$runc" "$cli" "$(command -v busybox)"
    cat "${BASH_SOURCE[0]}"
  } | sha256sum | cut -c1-16)
  echo "$cache/eci-dind-$sum.tar"
}

# Builds the root tarball into OUT (needs the engine: docker save busybox:latest).
_eci_dind_build_root() {  # OUT
  local out=$1 work root runc cli f
  runc=$(_eci_dind_real_runc) || return 1
  cli=$(_eci_dind_cli)
  [[ -x "$cli" ]] || { echo "dind_image: no docker CLI" >&2; return 1; }
  work=$(mktemp -d "${ECI_T:-/tmp}/dind-root.XXXXXX") || return 1
  root=$work/root
  eci_busybox_rootfs "$root" || return 1
  # dockerd's socket group; the data root and the run dir are made by the engine.
  echo 'docker:x:999:' >>"$root/etc/group"
  mkdir -p "$root"/{run,var/lib/docker,images,usr/sbin,usr/bin}
  ln -s ../run "$root/var/run"

  local elves=()
  while read -r f; do
    _eci_dind_copy "$root" "$f" || return 1
    elves+=("$f")
  done < <(_eci_dind_executables)
  _eci_dind_copy "$root" "$runc" /usr/sbin/runc || return 1
  _eci_dind_copy "$root" "$cli" /usr/bin/docker || return 1
  elves+=("$runc" "$cli")
  [[ -x "$root/usr/bin/tini-static" ]] && ln -s tini-static "$root/usr/bin/docker-init"

  # iptables: the nft backend is the default, as the host's alternatives have it; both backends
  # under their explicit names so a test can pick one.
  local nft=xtables-nft-multi legacy=xtables-legacy-multi t s
  for t in iptables ip6tables; do
    for s in "" -save -restore; do
      ln -s "$nft" "$root/usr/sbin/$t$s"
      ln -s "$nft" "$root/usr/sbin/$t-nft$s"
      [[ -x "$root/usr/sbin/$legacy" ]] && ln -s "$legacy" "$root/usr/sbin/$t-legacy$s"
    done
  done
  # the extensions iptables dlopen()s (-m conntrack, -j MASQUERADE, DNAT...)
  local xt=/usr/lib/x86_64-linux-gnu/xtables
  [[ -d "$xt" ]] || xt=$(dirname "$(ldd /usr/sbin/xtables-nft-multi | awk '/libxtables/ {print $3}')")/xtables
  if [[ -d "$xt" ]]; then
    mkdir -p "$root$xt" && cp -L --preserve=mode "$xt"/*.so "$root$xt/" || return 1
    elves+=("$xt"/*.so)
  fi
  while read -r f; do
    _eci_dind_copy "$root" "$f" || return 1
  done < <(_eci_dind_libs "${elves[@]}")

  docker save busybox:latest >"$root/images/busybox.tar" || return 1
  mkdir -p "$(dirname "$out")"
  tar -C "$root" --sort=name --mtime=@0 --numeric-owner -cf "$out.tmp" . && mv "$out.tmp" "$out"
  local rc=$?
  rm -rf "$work"
  return $rc
}

eci_dind_image() {  # [TAG]
  local tag=${1:-eci-dind:local} cache
  docker image inspect "$tag" >/dev/null 2>&1 && return 0
  cache=$(_eci_dind_cache_file) || return 1
  if [[ ! -s "$cache" ]]; then
    _eci_dind_build_root "$cache" || { echo "dind_image: building $cache failed" >&2; return 1; }
  fi
  docker import --change "ENV PATH=$ECI_DIND_PATH" --change 'CMD ["dockerd"]' "$cache" "$tag" >/dev/null
}
