#!/bin/bash
# Issue 13, mount classes, through a real dockerd + eci-runc + eci-enforcerd (lib/harness.sh):
#  A. mount propagation cannot undo protections (make-shared + rbind copies + lazy umount,
#     mount_setattr propagation, MOVE_MOUNT_SET_GROUP, attach below a shared mount, moves,
#     `rshared` binds of a shared host directory, which make the engine ask for shared propagation);
#  B. read-only stays read-only (open_tree clone + recursive mount_setattr, remounts of copies,
#     open_tree_attr, fspick);
#  C. the worker fails closed on a mount table it cannot bound (10k+ mounts);
#  D. the per-container worker cannot be read or ptraced by the container it serves.
# Every attack runs with --privileged and with --cap-add SYS_ADMIN; each proves it ran (container
# started, the steps that should succeed did) and that the host is unchanged afterwards.
# Needs root. Env: ECI_BUILD_DIR (eci-runc, eci-enforcerd, eci-seccomp-probe), or ECI_PROBE.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/harness.sh
. "$HERE/lib/harness.sh"
[ "$(id -u)" = 0 ] || { echo "FAIL - needs root"; exit 1; }
_eci_find_bin ECI_PROBE eci-seccomp-probe
PROBE=$ECI_PROBE
[ -x "$PROBE" ] || { echo "FAIL - eci-seccomp-probe not found (ECI_BUILD_DIR?)"; exit 1; }
eci_up || { echo "FAIL - harness did not come up"; exit 1; }

# The probe (static) reaches containers through a read-only bind of an allowed directory.
mkdir -p "$ECI_T/bin" && cp "$PROBE" "$ECI_T/bin/probe" && chmod 755 "$ECI_T/bin" "$ECI_T/bin/probe"
# A host directory shared read-only: nothing may ever be written into it.
HOSTDIR=$ECI_T/x
mkdir -p "$HOSTDIR" && echo host >"$HOSTDIR/file" && chmod 777 "$HOSTDIR"
host_unchanged() { [ "$(ls -A "$HOSTDIR" | tr '\n' ' ')$(cat "$HOSTDIR/file")" = "file host" ]; }
P=(-v "$ECI_T/bin:/eci:ro")
# A shared host mount (what every path is on a systemd host): dockerd accepts `rshared` binds only
# from one. eci_down unmounts it with the rest of $ECI_T.
SHARED=$ECI_T/shared
mkdir -p "$SHARED" && mount --bind "$SHARED" "$SHARED" && mount --make-shared "$SHARED" ||
  { echo "FAIL - could not make a shared host mount"; exit 1; }
# Control: a mount made in a peer of it shows up under it on the host, so A7's check can see one.
mkdir -p "$ECI_T/peer" && mount --bind "$SHARED" "$ECI_T/peer" && mkdir -p "$SHARED/ctl" &&
  mount -t tmpfs ctl "$ECI_T/peer/ctl"
t_contains "control: a mount in a peer of the shared host dir propagates to it" " $SHARED/ctl " \
  "$(cat /proc/self/mountinfo)"
umount "$ECI_T/peer/ctl" 2>/dev/null; umount "$ECI_T/peer"; rmdir "$SHARED/ctl"

# The container's uptime comes from eci's emulation: seconds since the container started. A
# removed emulation mount shows the host's (the VM has been up far longer than these tests).
# Prints "fuse=<emulation mounts> up=<container uptime, whole seconds> sysro=<ro|rw>".
STATE='echo "fuse=$(awk "\$5 ~ /^\/(proc|sys)(\/|\$)/ && / - fuse.eci /" /proc/self/mountinfo | wc -l) up=$(cut -d. -f1 /proc/uptime) sysro=$(awk "\$5==\"/proc/sys\"{split(\$6,o,\",\"); print o[1]}" /proc/self/mountinfo)"'
host_up=$(cut -d. -f1 /proc/uptime)
# state_ok NAME OUTPUT: the emulation counts before/after are equal, uptime is the container's.
state_ok() {
  local name=$1 out=$2 before after
  before=$(grep -m1 -o 'fuse=[0-9]*' <<<"$out")
  after=$(grep -o 'fuse=[0-9]*' <<<"$out" | tail -n1)
  t_ok "$name: emulation mounts intact ($before -> $after)" test -n "$before" -a "$before" = "$after" -a "$before" != fuse=0
  local up
  up=$(grep -o 'up=[0-9]*' <<<"$out" | tail -n1 | cut -d= -f2)
  t_ok "$name: /proc/uptime still the container's (${up:-?}s, host ${host_up}s)" \
    test -n "$up" -a "${up:-99999}" -lt 120 -a "$host_up" -gt $((${up:-0} + 60))
}

for mode in privileged sysadmin; do
  if [ $mode = privileged ]; then F=(--privileged); else F=(--cap-add SYS_ADMIN); fi

  # ---- A. propagation --------------------------------------------------------------------------
  # A1, the issue's row: make /proc rshared, rbind it, lazily unmount the copy.
  out=$(docker run --rm "${F[@]}" busybox sh -c "$STATE"'
    mount --make-rshared /proc; echo shared=$?
    mkdir -p /mnt/p && mount --rbind /proc /mnt/p; echo rbind=$?
    test -r /mnt/p/uptime && echo copy-readable
    umount -l /mnt/p; echo lazy=$?
    '"$STATE" 2>&1)
  t_contains "$mode A1: container ran, make-rshared /proc refused" "shared=1" "$out"
  t_contains "$mode A1: rbind copy of /proc made" "rbind=0" "$out"
  t_contains "$mode A1: copy readable" "copy-readable" "$out"
  t_contains "$mode A1: lazy umount of the copy done" "lazy=0" "$out"
  state_ok "$mode A1" "$out"
  t_contains "$mode A1: /proc/sys still read-only" "sysro=ro" "$(grep -o 'sysro=[a-z]*' <<<"$out" | tail -n1)"

  # A2: the rootfs and its parents: make-rshared / (and non-recursive), rbind /, umount -l.
  out=$(docker run --rm "${F[@]}" busybox sh -c "$STATE"'
    mount --make-rshared /; echo rs=$?; mount --make-shared /; echo s=$?; mount --make-shared /sys; echo sy=$?
    mkdir -p /mnt/r && mount --rbind / /mnt/r; echo rbind=$?
    umount -l /mnt/r; echo lazy=$?
    mount --make-rslave /; echo slave=$?; mount --make-private /proc; echo priv=$?
    ls / >/dev/null && echo root-ok
    '"$STATE" 2>&1)
  for k in rs s sy; do t_contains "$mode A2: make-shared refused ($k)" "$k=1" "$out"; done
  t_contains "$mode A2: rbind of / made" "rbind=0" "$out"
  t_contains "$mode A2: its lazy umount done" "lazy=0" "$out"
  t_contains "$mode A2: make-rslave / (cuts propagation) allowed" "slave=0" "$out"
  t_contains "$mode A2: make-private /proc allowed" "priv=0" "$out"
  t_contains "$mode A2: rootfs still there" "root-ok" "$out"
  state_ok "$mode A2" "$out"

  # A3: a shared mount of the container's own: fine, but no proc copy may be attached below it
  # (it would be shared with the copies in the mount's peers).
  out=$(docker run --rm "${F[@]}" "${P[@]}" busybox sh -c "$STATE"'
    mkdir -p /t && mount -t tmpfs t /t && mount --make-shared /t; echo own=$?
    mkdir -p /t/p /t/q /t/d /t2 && mount --bind /t /t2; echo peer=$?
    mount --rbind /proc /t/p; echo rbind=$?
    mount -t proc proc /t/q; echo newproc=$?
    /eci/probe clone-attach /proc /t/d
    mkdir -p /u && mount -t tmpfs u /u && mount --rbind /proc /u && mount --move /u /t/d; echo move=$?
    mkdir -p /t/e /own && mount -t tmpfs o /own && mount --rbind /own /t/e; echo own2=$?
    mount --rbind /etc /t/e; echo etc=$?
    umount -l /t2; echo lazy=$?
    mkdir -p /pp && mount -t proc proc /pp; echo ownproc=$?; umount -l /pp
    '"$STATE" 2>&1)
  t_contains "$mode A3: own tmpfs made shared" "own=0" "$out"
  t_contains "$mode A3: peer bind made" "peer=0" "$out"
  t_contains "$mode A3: rbind /proc below a shared mount refused" "rbind=1" "$out"
  t_contains "$mode A3: new proc below a shared mount refused" "newproc=1" "$out"
  t_contains "$mode A3: open_tree clone of /proc made" "open_tree_clone_rec: ok" "$out"
  t_contains "$mode A3: ... its move_mount below a shared mount refused" "move_mount_clone: EPERM" "$out"
  t_contains "$mode A3: mount --move of a proc copy below a shared mount refused" "move=1" "$out"
  t_contains "$mode A3: rbind of an own tmpfs there allowed" "own2=0" "$out"
  # Conservative: the rbind of a rootfs directory is refused (the rootfs mount holds /proc).
  t_contains "$mode A3: rbind of a rootfs dir there refused" "etc=1" "$out"
  t_contains "$mode A3: lazy umount of the peer done" "lazy=0" "$out"
  t_contains "$mode A3: proc on a private mount still works" "ownproc=0" "$out"
  state_ok "$mode A3" "$out"

  # A4: the other ways into a peer group: mount_setattr's propagation field, MOVE_MOUNT_SET_GROUP,
  # and make-shared from a nested mount namespace (unshare -m) or through a copy.
  out=$(docker run --rm "${F[@]}" "${P[@]}" busybox sh -c "$STATE"'
    /eci/probe setattr-shared /proc; /eci/probe setattr-shared /
    mkdir -p /t && mount -t tmpfs t /t && mount --make-shared /t
    /eci/probe set-group /t /proc; /eci/probe set-group /t /sys
    unshare -m sh -c "mount --make-rshared /proc; echo ns=\$?; mkdir -p /mnt/p; mount --rbind /proc /mnt/p; umount -l /mnt/p; echo nslazy=\$?"
    mkdir -p /c && mount --rbind /proc /c && mount --make-rshared /c; echo copy=$?
    mount --move /proc /mnt; echo mv=$?; umount -l /proc; echo up=$?; umount -l /sys; echo us=$?
    '"$STATE" 2>&1)
  t_contains "$mode A4: mount_setattr(propagation=shared) /proc refused" "mount_setattr_shared_rec: EPERM" "$out"
  t_not_contains "$mode A4: ... and / refused" "mount_setattr_shared_rec: ok" "$out"
  t_contains "$mode A4: MOVE_MOUNT_SET_GROUP into /proc refused" "move_mount_set_group: EPERM" "$out"
  t_not_contains "$mode A4: ... and into /sys" "move_mount_set_group: ok" "$out"
  t_contains "$mode A4: make-rshared in unshare -m refused" "ns=1" "$out"
  t_contains "$mode A4: lazy umount of the copy there done" "nslazy=0" "$out"
  t_contains "$mode A4: make-rshared of a /proc copy refused" "copy=1" "$out"
  for k in mv up us; do t_contains "$mode A4: $k of /proc or /sys refused" "$k=1" "$out"; done
  state_ok "$mode A4" "$out"

  # A5: pivot_root in a nested mount namespace, then the old root's copies: what is protected
  # stays so by type (emulation, children of proc trees), the rest is the namespace's own.
  out=$(docker run --rm "${F[@]}" busybox sh -c "$STATE"'
    mkdir -p /nr && mount -t tmpfs nr /nr && mkdir -p /nr/old /nr/bin && cp /bin/busybox /nr/bin/
    unshare -m sh -c "cd /nr && pivot_root . old; echo pivot=\$?; /bin/busybox umount /old/proc/uptime; echo up=\$?
      /bin/busybox mount --make-rshared /old/proc; echo sh=\$?; /bin/busybox umount -l /old; echo old=\$?"
    '"$STATE" 2>&1)
  if [ $mode = privileged ]; then
    t_contains "$mode A5: pivot_root in unshare -m done" "pivot=0" "$out"
    t_contains "$mode A5: emulation below the old root still protected" "up=1" "$out"
    t_contains "$mode A5: old /proc still never shared" "sh=1" "$out"
    t_contains "$mode A5: the namespace's own old root may go" "old=0" "$out"
  else
    t_contains "$mode A5: pivot_root refused by the engine's profile" "pivot=1" "$out"
  fi
  state_ok "$mode A5" "$out"

  # A6: targets named as runc names them, /proc/self/fd/<n> (nested runc, containerd): the worker
  # takes the caller's fd and judges that file like any other target.
  out=$(docker run --rm "${F[@]}" "${P[@]}" busybox sh -c "$STATE"'
    mkdir -p /w && /eci/probe fdmount /w
    grep -q " /w .* - tmpfs " /proc/self/mountinfo && echo fdmounted-tmpfs
    /eci/probe fdmount /proc | sed "s/^/proc-/"
    /eci/probe fdmount / | sed "s/^/root-/"
    '"$STATE" 2>&1)
  t_contains "$mode A6: tmpfs onto /proc/self/fd/<n> of a directory of its own" "fdmount: ok" "$out"
  t_contains "  ... it landed on that directory" "fdmounted-tmpfs" "$out"
  t_contains "$mode A6: onto /proc named by fd: refused" "proc-fdmount: EPERM" "$out"
  t_contains "$mode A6: onto / named by fd: refused" "root-fdmount: EPERM" "$out"
  state_ok "$mode A6" "$out"

  # A7, a variant the issue does not list: the ENGINE asks for propagation. A bind of a shared host
  # directory with `rshared` (both spellings) makes dockerd set the spec's rootfsPropagation to
  # shared. Mounts made below the bind must not reach the host, and A1's copy-and-lazy-unmount must
  # still leave the emulation in place.
  for spelling in volume mount; do
    if [ $spelling = volume ]; then B=(-v "$SHARED:/x:rshared")
    else B=(--mount "type=bind,src=$SHARED,dst=/x,bind-propagation=rshared"); fi
    out=$(docker run --rm "${F[@]}" "${B[@]}" busybox sh -c "$STATE"'
      mkdir -p /x/sub && mount -t tmpfs t /x/sub; echo sub=$?
      mkdir -p /mnt/q && mount -t tmpfs t /mnt/q && mount --make-private /mnt/q && mkdir /mnt/q/p
      mount --rbind /proc /mnt/q/p; echo rbind=$?
      umount -l /mnt/q/p; echo lazy=$?
      '"$STATE" 2>&1)
    t_contains "$mode A7 ($spelling rshared): container ran, a tmpfs mounted below the bind" \
      "sub=0" "$out"
    t_eq "  ... that mount never reached the host" "" "$(grep -F " $SHARED/" /proc/self/mountinfo)"
    state_ok "$mode A7 ($spelling rshared)" "$out"
  done

  # ---- B. read-only stays read-only -------------------------------------------------------------
  # B1, the issue's row: ro bind of a host dir, rbind into a tmpfs, recursive open_tree clone,
  # recursive mount_setattr clearing ro, openat through the clone.
  out=$(docker run --rm "${F[@]}" "${P[@]}" -v "$HOSTDIR:/data:ro" busybox sh -c '
    mkdir -p /t && mount -t tmpfs t /t && mkdir /t/d && mount --rbind /data /t/d; echo rbind=$?
    cat /t/d/file
    /eci/probe opentree-rw-rec /t d/pwned
    /eci/probe opentree-attr /t d/pwned2
    /eci/probe opentree-rw /data /mnt
    touch /data/pwned3 /t/d/pwned4 2>&1' 2>&1)
  t_contains "$mode B1: rbind of the ro volume made" "rbind=0" "$out"
  t_contains "$mode B1: volume readable through the copy" "host" "$out"
  t_contains "$mode B1: recursive open_tree clone made" "open_tree_clone_rec: ok" "$out"
  t_contains "$mode B1: recursive rw of the clone refused" "mount_setattr_rec_clear_ro: EPERM" "$out"
  t_contains "$mode B1: openat through the clone read-only" "openat_through_clone: EROFS" "$out"
  t_not_contains "$mode B1: open_tree_attr clear-ro never works" "open_tree_attr: ok" "$out"
  t_contains "$mode B1: detached clone of the volume stays ro" "mount_setattr_detached_clear_ro: EPERM" "$out"
  t_ok "$mode B1: host dir unchanged" host_unchanged

  # B2: the old API on copies: remount,bind,rw of an rbind/bind copy, remount rw, bind again.
  out=$(docker run --rm "${F[@]}" "${P[@]}" -v "$HOSTDIR:/data:ro" busybox sh -c '
    mkdir -p /t /b /c && mount -t tmpfs t /t && mkdir /t/d && mount --rbind /data /t/d
    mount -o remount,bind,rw /t/d; echo r1=$?
    mount --bind /data /b; echo bind=$?; mount -o remount,rw /b; echo r2=$?
    mount --bind /b /c; mount -o remount,bind,rw /c; echo r3=$?
    /eci/probe setattr-rw /c; /eci/probe fspick-rw /data
    unshare -m sh -c "mount -o remount,bind,rw /t/d; echo r4=\$?"
    mount --move /t/d /mnt; echo mv=$?; mount -o remount,bind,rw /mnt; echo r5=$?
    touch /t/d/a /b/a /c/a /mnt/a 2>&1' 2>&1)
  t_contains "$mode B2: bind copy made" "bind=0" "$out"
  for k in r1 r2 r3 r4 r5; do t_contains "$mode B2: rw remount of a copy refused ($k)" "$k=1" "$out"; done
  t_contains "$mode B2: mount_setattr rw of a copy refused" "mount_setattr_clear_ro: EPERM" "$out"
  t_contains "$mode B2: fspick of the volume's superblock refused" "fspick: EPERM" "$out"
  t_contains "$mode B2: writes fail" "Read-only file system" "$out"
  t_ok "$mode B2: host dir unchanged" host_unchanged

  # ---- C. fail closed beyond the mount-table bound ------------------------------------------------
  out=$(docker run --rm "${F[@]}" "${P[@]}" busybox sh -c '
    mkdir -p /m /s && mount -t tmpfs m /m && mount -t tmpfs s /s
    mount --make-shared /s; echo before=$?
    /eci/probe manymounts /m 10050
    mount --make-private /s; mount --make-shared /s; echo after=$?
    umount /proc/uptime; echo up=$?
    mkdir -p /m2 && mount -t tmpfs n /m2; echo hot=$?
    '"$STATE" 2>&1)
  t_contains "$mode C: make-shared with a small table works" "before=0" "$out"
  t_contains "$mode C: 10050 mounts made" "mounted 10050" "$out"
  t_contains "$mode C: a call that needs the table is refused beyond the bound" "after=1" "$out"
  t_contains "$mode C: protected mounts still refused" "up=1" "$out"
  t_contains "$mode C: a plain new mount (no table needed) still works" "hot=0" "$out"
  t_ok "$mode C: uptime still the container's" grep -Eq 'up=[0-9]{1,2}$' <<<"$(grep -o 'up=[0-9]*$' <<<"$out" | tail -n1)"
done

# ---- E. no device node planted on a host path (the kernel refuses device mknod in a user namespace)
HOSTRW=$ECI_T/rw
mkdir -p "$HOSTRW" && chmod 777 "$HOSTRW"
for mode in privileged sysadmin; do
  if [ $mode = privileged ]; then F=(--privileged); else F=(--cap-add SYS_ADMIN --cap-add MKNOD); fi
  out=$(docker run --rm "${F[@]}" -v "$HOSTRW:/data" busybox sh -c '
    mknod /data/null c 1 3; echo c=$?; mknod /data/sda b 254 0; echo b=$?; mknod /data/fifo p; echo p=$?
    mknod /tmp/null c 1 3; echo own=$?' 2>&1)
  t_contains "$mode E: container ran (a fifo is fine)" "p=0" "$out"
  for k in c b own; do t_contains "$mode E: device mknod refused ($k)" "$k=1" "$out"; done
  t_eq "$mode E: no device node on the host path" "" "$(find "$HOSTRW" \( -type c -o -type b \) -print)"
  rm -f "$HOSTRW"/*
done

# ---- F. no set-id file planted on a host path through chmod (the rootfs and volumes keep it) --------
for mode in privileged sysadmin plain; do
  case $mode in privileged) F=(--privileged) ;; sysadmin) F=(--cap-add SYS_ADMIN) ;; *) F=() ;; esac
  out=$(docker run --rm "${F[@]}" -v "$HOSTRW:/data" -v "ecivol$mode:/vol" busybox sh -c '
    cp /bin/busybox /data/sh; echo cp=$?
    chmod u+s /data/sh; echo h=$?; chmod 2755 /data/sh; echo g=$?; chmod 6755 /data/sh; echo hg=$?
    chmod 700 /data/sh; echo plain=$?
    cp /bin/busybox /tmp/sh && chmod u+s /tmp/sh; echo root=$?; ls -l /tmp/sh
    cp /bin/busybox /vol/sh && chmod 4755 /vol/sh; echo vol=$?
    mkdir -p /b && mount --bind /data /b 2>/dev/null && { chmod u+s /b/sh; echo copy=$?; }
    su u1000 -c "cp /bin/busybox /home/u1000/x && chmod u+s /home/u1000/x; echo user=\$?; chmod u+s /tmp/sh; echo notowner=\$?"
    ' 2>&1)
  t_contains "$mode F: container ran, file copied to the host path" "cp=0" "$out"
  for k in h g hg; do t_contains "$mode F: set-id chmod on a host bind refused ($k)" "$k=1" "$out"; done
  t_contains "$mode F: plain chmod on a host bind works" "plain=0" "$out"
  t_contains "$mode F: setuid in the rootfs works" "root=0" "$out"
  t_contains "$mode F: ... and shows" "-rwsr-xr-x" "$out"
  t_contains "$mode F: setuid in a named volume works" "vol=0" "$out"
  [ $mode = plain ] || t_contains "$mode F: set-id chmod through a bind copy refused" "copy=1" "$out"
  t_contains "$mode F: a user's own file in the rootfs" "user=0" "$out"
  t_contains "$mode F: not the owner: refused as the kernel would" "notowner=1" "$out"
  t_eq "$mode F: no set-id file on the host path" "" "$(find "$HOSTRW" -perm /6000 -print)"
  rm -f "$HOSTRW"/*
done

# ---- G. no set-id file created on a host path in one call (cp -p, tar -xp, raw open/creat/mknod/
# O_TMPFILE with a set-id mode); the rootfs and named volumes keep them (apk, tar -xp of su) -------
for mode in privileged sysadmin plain; do
  case $mode in privileged) F=(--privileged) ;; sysadmin) F=(--cap-add SYS_ADMIN) ;; *) F=() ;; esac
  out=$(docker run --rm "${F[@]}" "${P[@]}" -v "$HOSTRW:/data" -v "ecivolg$mode:/vol" busybox sh -c '
    cp /bin/busybox /tmp/su && chmod 4755 /tmp/su; echo prep=$?
    cp -p /tmp/su /data/cpp; echo cpp=$?
    tar -C /tmp -cf /tmp/su.tar su && tar -C /data -xpf /tmp/su.tar; echo tar=$?
    /eci/probe setid-create /data
    mkdir /tmp/own && /eci/probe setid-create /tmp/own | sed "s/^/own-/"
    cp -p /tmp/su /vol/su && ls -l /vol/su; tar -C /tmp/own -xpf /tmp/su.tar && ls -l /tmp/own/su
    for f in openat creat mknodat tmpfile; do stat -c "mode-$f=%a" /tmp/own/$f; done
    mkdir /tmp/race && /eci/probe setid-race /tmp/race/f /data/raced 4000
    mkdir /tmp/race2 /data/h && /eci/probe setid-race-link /tmp/race2 /data/h 4000
    ' 2>&1)
  t_contains "$mode G: container ran, a setuid file in its rootfs" "prep=0" "$out"
  for k in openat_creat open_creat creat mknod_reg mknodat_reg tmpfile; do
    t_contains "$mode G: set-id $k on a host bind refused" "$k: EPERM" "$out"
  done
  t_contains "$mode G: a plain create on the host bind works" "openat_plain: ok" "$out"
  # Calls a filter cannot inspect answer ENOSYS (programs fall back to openat/fchmodat), on the
  # host bind and in the container's own files alike.
  for k in openat2_creat io_uring_setup own-openat2_creat own-io_uring_setup; do
    t_contains "$mode G: $k answers ENOSYS" "$k: ENOSYS" "$out"
  done
  t_not_contains "$mode G: fchmodat2 of a set-id mode on the host bind refused" "fchmodat2: ok" \
    "$(grep '^fchmodat2' <<<"$out")"
  t_contains "$mode G: fchmodat2 reached the probe" "fchmodat2: E" "$(grep '^fchmodat2' <<<"$out")"
  for k in openat_creat creat mknodat_reg; do
    t_contains "$mode G: set-id $k in the container's own files works" "own-$k: ok" "$out"
  done
  t_contains "$mode G: cp -p of a setuid file into a named volume keeps it" "-rwsr-xr-x" \
    "$(grep /vol/su <<<"$out")"
  t_contains "$mode G: tar -xp of a setuid file in the rootfs keeps it" "-rwsr-xr-x" \
    "$(grep /tmp/own/su <<<"$out")"
  # The set-id creates in the container's own files are emulated (made plain as the caller, the
  # bits added on the new file's fd): the modes are exactly what the kernel would have given.
  for k in openat=4755 creat=6755 mknodat=4755 tmpfile=4755; do
    t_contains "$mode G: emulated set-id create gives mode ${k#*=} (${k%=*})" "mode-$k" "$out"
  done
  # A racer flipping the name between the check and the walk: the create lands where the walk
  # leads, but the set-id bits go only onto a file whose own fd shows the container's files.
  race=$(grep '^setid-race:' <<<"$out")
  echo "#    $mode $race"
  t_contains "$mode G: the set-id race ran (creates in the own files succeeded)" "ok=" "$race"
  t_ok "$mode G: ... and some of them kept their set-id bit" \
    test "$(sed -n 's/.*own_setid=\([0-9]*\).*/\1/p' <<<"$race")" -gt 0
  t_contains "$mode G: the race never left a set-id file on the host bind" "host_setid=0" "$race"
  # The same with a symlink swapped under the path (the supervisor's copy of the path is fixed,
  # the file system is not): only the new file's own fd can tell where it is.
  race=$(grep '^setid-race-link:' <<<"$out")
  echo "#    $mode $race"
  t_ok "$mode G: the symlink race ran, set-id creates in the own files kept their bit" \
    test "$(sed -n 's/.*own_setid=\([0-9]*\).*/\1/p' <<<"$race")" -gt 0
  t_contains "$mode G: ... and never left a set-id file on the host bind" "host_setid=0" "$race"
  t_eq "$mode G: no set-id file on the host path" "" "$(find "$HOSTRW" -perm /6000 -print)"
  rm -rf "${HOSTRW:?}"/*
done

# ---- G3. a set-id create that finds something there opens only a regular file ----------------------
# The worker acts outside the container's device cgroup and serves the whole container: a device
# node is refused, a FIFO never blocks it, an existing file keeps its mode.
out=$(docker run --rm --privileged "${P[@]}" busybox sh -c '
  mkfifo /tmp/ff; mkdir /tmp/dd; echo x > /tmp/reg; chmod 644 /tmp/reg; ln -s /tmp/reg /tmp/lnk
  /eci/probe setid-existing /tmp/ff /dev/null /tmp/dd /tmp/reg /tmp/lnk; echo probe=$?
  stat -c "reg-mode=%a" /tmp/reg; mkdir /m && mount -t tmpfs t /m && echo mounts-after=ok
  ' 2>&1)
t_contains "G3: the probe ran to the end (nothing blocked)" "probe=0" "$out"
t_contains "G3: a FIFO is refused, not opened (the worker never blocks)" "existing /tmp/ff: EPERM" "$out"
t_contains "G3: a device node is refused (no device open outside its cgroup)" "existing /dev/null: EPERM" "$out"
t_contains "G3: a directory gives EISDIR, as the kernel does" "existing /tmp/dd: EISDIR" "$out"
t_contains "G3: an existing regular file opens" "existing /tmp/reg: ok" "$out"
t_contains "G3: ... through a final symlink too" "existing /tmp/lnk: ok" "$out"
t_contains "G3: ... and keeps its mode (only a new file gets one)" "reg-mode=644" "$out"
t_contains "G3: the container's trapped calls still work afterwards" "mounts-after=ok" "$out"

# ---- G2. a set-id create is made with the caller's ids, umask and group rules -----------------------
out=$(docker run --rm -u 1000:1000 "${P[@]}" -v "$HOSTRW:/data" busybox sh -c '
  umask 077; mkdir /tmp/u && /eci/probe setid-create /tmp/u
  for f in openat creat mknodat; do stat -c "u-$f=%a %u:%g" /tmp/u/$f; done
  /eci/probe setid-create /etc 2>&1 | grep "^openat_creat"
  ' 2>&1)
t_contains "G2: a non-root caller's set-id create in its own files works" "openat_creat: ok" "$out"
t_contains "G2: the file is the caller's, with its umask applied (openat)" "u-openat=4700 1000:1000" "$out"
t_contains "G2: ... (creat, setgid kept: the caller is in the group)" "u-creat=6700 1000:1000" "$out"
t_contains "G2: ... (mknodat)" "u-mknodat=4700 1000:1000" "$out"
# The worker acts as the caller, not as container root: no more rights than the caller has.
t_contains "G2: a directory the caller may not write stays unwritable (EACCES)" "openat_creat: EACCES" "$out"
t_eq "G2: nothing on the host path" "" "$(find "$HOSTRW" -mindepth 1 -print)"

# ---- D. the worker cannot be read or ptraced by its container -------------------------------------
cid=$(docker run -d --privileged "${P[@]}" busybox sleep 300)
docker exec "$cid" sh -c 'mkdir -p /w && mount -t tmpfs w /w' # starts the container's worker
wpid=$(pgrep -f -- "--eci-seccomp-worker $cid" | head -n1)
t_ok "D: the container's worker runs (pid ${wpid:-none})" test -n "$wpid"
if [ -n "$wpid" ]; then
  wuid=$(awk '/^Uid:/{print $3}' "/proc/$wpid/status")
  t_ok "D: worker runs as the container's root (host uid $wuid)" test "$wuid" -gt 0
  # Not visible: the worker is in the host's pid namespace only.
  inside=$(docker exec "$cid" sh -c "cat /proc/$wpid/cmdline 2>/dev/null | tr '\\0' ' '; for p in /proc/[0-9]*; do tr '\\0' ' ' <\$p/cmdline; echo; done" 2>&1)
  t_not_contains "D: no process in the container's pid namespace is the worker" "eci-seccomp-worker" "$inside"
  # And not readable even by a process with its uid (what a container with the same uid could
  # try if it ever saw the pid): non-dumpable.
  out=$(setpriv --reuid "$wuid" --regid "$wuid" --clear-groups "$ECI_T/bin/probe" peek "$wpid" 2>&1)
  for k in open_mem open_fd process_vm_readv pidfd_getfd ptrace_attach; do
    t_contains "D: $k on the worker refused" "$k: E" "$out"
  done
  t_not_contains "D: environ unreadable" "read_environ: ok" "$out"
  # The same probe against a dumpable process of that uid succeeds (the refusal is the worker's).
  # Its output goes nowhere (an orphan holding the test's stdout would keep ctest waiting) and it
  # is SIGKILLed: the probe's ptrace attach can leave it stopped, where SIGTERM stays pending.
  setpriv --reuid "$wuid" --regid "$wuid" --clear-groups sleep 30 >/dev/null 2>&1 </dev/null &
  spid=$!
  sleep 0.2
  ctl=$(setpriv --reuid "$wuid" --regid "$wuid" --clear-groups "$ECI_T/bin/probe" peek "$spid" 2>&1)
  kill -9 "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  t_contains "D: control: the same uid can read a dumpable process" "open_mem: ok" "$ctl"
fi
docker rm -f "$cid" >/dev/null 2>&1

t_ok "host dir unchanged at the end" host_unchanged
t_summary
