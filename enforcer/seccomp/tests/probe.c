/* eci-seccomp-probe: runs inside a container (static, no libc beyond glibc's static build).
 * Prints one line per probe: "<name>: ok" or "<name>: <errno name>", or "ns/op <n>" for timings.
 * Used by tests/e2e_runc.sh and bench/; it makes the calls busybox has no applet for. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* ename(int e) {
  switch (e) {
    case 0:
      return "ok";
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case EFAULT:
      return "EFAULT";
    case EINVAL:
      return "EINVAL";
    case EBADF:
      return "EBADF";
    case ENOSYS:
      return "ENOSYS";
    case EBUSY:
      return "EBUSY";
    case EACCES:
      return "EACCES";
    case EISDIR:
      return "EISDIR";
    case ENOTDIR:
      return "ENOTDIR";
    case ENAMETOOLONG:
      return "ENAMETOOLONG";
    case EXDEV:
      return "EXDEV";
    case EROFS:
      return "EROFS";
    case ESRCH:
      return "ESRCH";
    default:
      return strerror(e);
  }
}

static void report(const char* name, long rc) {
  printf("%s: %s\n", name, rc < 0 ? ename(errno) : "ok");
}

/* One set-id race: n creates of `path` (O_CREAT|O_EXCL, 04755) while something flips where it
 * leads between `own` (the container's files) and `host` (a host bind); counts what landed where
 * after each try and removes it. */
static void setidRaceCount(const char* label, const char* path, const char* own, const char* host,
                           long n) {
  long ok = 0, eperm = 0, other = 0, ownSetid = 0, hostPlain = 0, hostSetid = 0;
  struct stat st;
  for (long i = 0; i < n; ++i) {
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_CREAT | O_EXCL | O_WRONLY, 04755);
    if (fd >= 0) {
      ++ok;
      close((int)fd);
    } else if (errno == EPERM) {
      ++eperm;
    } else {
      ++other;
    }
    if (lstat(own, &st) == 0) {
      if (st.st_mode & S_ISUID) ++ownSetid;
      unlink(own);
    }
    if (lstat(host, &st) == 0) {
      if (st.st_mode & 06000)
        ++hostSetid;
      else
        ++hostPlain;
      unlink(host);
    }
  }
  printf("%s: ok=%ld eperm=%ld other=%ld own_setid=%ld host_plain=%ld host_setid=%ld\n", label, ok,
         eperm, other, ownSetid, hostPlain, hostSetid);
}

static double nowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int setattr(int dfd, const char* path, unsigned flags, uint64_t set, uint64_t clr) {
  struct mount_attr a;
  memset(&a, 0, sizeof(a));
  a.attr_set = set;
  a.attr_clr = clr;
  return (int)syscall(SYS_mount_setattr, dfd, path, flags, &a, sizeof(a));
}

/* The race: one thread keeps asking for a remount,bind,rw of an allowed target while another
 * flips the target string in memory to the locked read-only mount. */
static char raceBuf[256];
static volatile int raceStop;
static const char *raceA, *raceB;
static void* flipper(void* arg) {
  (void)arg;
  while (!raceStop) {
    strcpy(raceBuf, raceB);
    strcpy(raceBuf, raceA);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: probe MODE ...\n");
    return 2;
  }
  const char* m = argv[1];
  if (!strcmp(m, "getppid") && argc == 3) {
    long n = atol(argv[2]);
    double t = nowNs();
    for (long i = 0; i < n; ++i) syscall(SYS_getppid);
    printf("ns/op %.1f\n", (nowNs() - t) / n);
    return 0;
  }
  if (!strcmp(m, "mountloop") && argc == 4) {
    long n = atol(argv[3]);
    double t = nowNs();
    for (long i = 0; i < n; ++i) {
      if (mount("none", argv[2], "tmpfs", 0, NULL) != 0) {
        report("mount", -1);
        return 1;
      }
      if (umount2(argv[2], 0) != 0) {
        report("umount", -1);
        return 1;
      }
    }
    printf("ns/op %.1f\n", (nowNs() - t) / n);
    return 0;
  }
  if (!strcmp(m, "remount") && argc == 4) {
    /* A superblock remount with no data (busybox passes the old options, which tmpfs refuses). */
    unsigned long f = MS_REMOUNT | (!strcmp(argv[3], "ro") ? MS_RDONLY : 0);
    report(!strcmp(argv[3], "ro") ? "remount_ro" : "remount_rw",
           mount(NULL, argv[2], NULL, f, NULL));
    return 0;
  }
  if (!strcmp(m, "setattr-rw") && argc == 3) {
    report("mount_setattr_clear_ro", setattr(AT_FDCWD, argv[2], 0, 0, MOUNT_ATTR_RDONLY));
    return 0;
  }
  if (!strcmp(m, "setattr-ro") && argc == 3) {
    report("mount_setattr_set_ro", setattr(AT_FDCWD, argv[2], 0, MOUNT_ATTR_RDONLY, 0));
    return 0;
  }
  if (!strcmp(m, "opentree-rw") && argc == 4) {
    /* Clone the ro mount, clear ro on the detached copy, attach it: must stay read-only. */
    report("open_tree_clone_nonrecursive",
           syscall(SYS_open_tree, AT_FDCWD, argv[2], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, argv[2],
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    report("open_tree_clone", fd);
    if (fd < 0) return 0;
    report("mount_setattr_detached_clear_ro", setattr(fd, "", AT_EMPTY_PATH, 0, MOUNT_ATTR_RDONLY));
    report("move_mount_clone",
           syscall(SYS_move_mount, fd, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH));
    return 0;
  }
  if (!strcmp(m, "opentree-rw-rec") && argc == 4) {
    /* The row: clone DIR recursively (it holds an rbind of a ro volume), clear ro on the
     * whole detached clone, then create REL (a path inside the clone) through it. */
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, argv[2],
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    report("open_tree_clone_rec", fd);
    if (fd < 0) return 0;
    report("mount_setattr_rec_clear_ro",
           setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, 0, MOUNT_ATTR_RDONLY));
    int f = openat(fd, argv[3], O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    report("openat_through_clone", f);
    if (f >= 0) report("write_through_clone", write(f, "pwned\n", 6));
    return 0;
  }
  if (!strcmp(m, "opentree-attr") && argc == 4) {
    /* open_tree_attr(2) (Linux 6.15, nr 467): clone and clear ro in one call. */
    struct mount_attr a;
    memset(&a, 0, sizeof(a));
    a.attr_clr = MOUNT_ATTR_RDONLY;
    int fd = (int)syscall(467, AT_FDCWD, argv[2],
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE, &a, sizeof(a));
    report("open_tree_attr", fd);
    if (fd < 0) return 0;
    int f = openat(fd, argv[3], O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    report("openat_through_attr_clone", f);
    return 0;
  }
  if (!strcmp(m, "setattr-shared") && argc == 3) {
    struct mount_attr a;
    memset(&a, 0, sizeof(a));
    a.propagation = MS_SHARED;
    report("mount_setattr_shared_rec",
           syscall(SYS_mount_setattr, AT_FDCWD, argv[2], AT_RECURSIVE, &a, sizeof(a)));
    return 0;
  }
  if (!strcmp(m, "set-group") && argc == 4) {
    report("move_mount_set_group", syscall(SYS_move_mount, AT_FDCWD, argv[2], AT_FDCWD, argv[3],
                                           0x100 /* MOVE_MOUNT_SET_GROUP */));
    return 0;
  }
  if (!strcmp(m, "clone-attach") && argc == 4) {
    /* open_tree(SRC, CLONE|AT_RECURSIVE) attached with move_mount at DST. */
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, argv[2],
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    report("open_tree_clone_rec", fd);
    if (fd < 0) return 0;
    report("move_mount_clone",
           syscall(SYS_move_mount, fd, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH));
    return 0;
  }
  if (!strcmp(m, "manymounts") && argc == 4) {
    /* N tmpfs mounts at DIR/0 .. DIR/N-1. */
    long n = atol(argv[3]), ok = 0;
    char p[4096];
    for (long i = 0; i < n; ++i) {
      snprintf(p, sizeof(p), "%s/%ld", argv[2], i);
      mkdir(p, 0755);
      if (mount("none", p, "tmpfs", 0, "size=4k") == 0) ++ok;
    }
    printf("mounted %ld\n", ok);
    return 0;
  }
  if (!strcmp(m, "peek") && argc == 3) {
    /* Every way to read another process: the worker must refuse them all. */
    pid_t pid = (pid_t)atol(argv[2]);
    char p[64], buf[64];
    snprintf(p, sizeof(p), "/proc/%d/mem", (int)pid);
    report("open_mem", open(p, O_RDONLY | O_CLOEXEC));
    snprintf(p, sizeof(p), "/proc/%d/environ", (int)pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    long n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
    if (fd >= 0 && n == 0) errno = 0;
    printf("read_environ: %s\n", n > 0 ? "ok" : (n == 0 ? "empty" : ename(errno)));
    snprintf(p, sizeof(p), "/proc/%d/fd/0", (int)pid);
    report("open_fd", open(p, O_RDONLY | O_CLOEXEC));
    char local[8];
    struct iovec l = {local, sizeof(local)}, r = {(void*)0x400000, sizeof(local)};
    report("process_vm_readv", process_vm_readv(pid, &l, 1, &r, 1, 0));
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    report("pidfd_open", pfd);
    if (pfd >= 0) report("pidfd_getfd", syscall(SYS_pidfd_getfd, pfd, 0, 0));
    long pt = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
    report("ptrace_attach", pt);
    if (pt == 0) ptrace(PTRACE_DETACH, pid, NULL, NULL);
    return 0;
  }
  if (!strcmp(m, "fsmount-tmpfs") && argc == 3) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    report("fsopen_tmpfs", fs);
    if (fs < 0) return 0;
    report("fsconfig_create", syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
    int mfd = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
    report("fsmount", mfd);
    if (mfd < 0) return 0;
    report("move_mount_new",
           syscall(SYS_move_mount, mfd, "", AT_FDCWD, argv[2], MOVE_MOUNT_F_EMPTY_PATH));
    return 0;
  }
  if (!strcmp(m, "fsopen") && argc == 3) {
    report("fsopen", syscall(SYS_fsopen, argv[2], FSOPEN_CLOEXEC));
    return 0;
  }
  if (!strcmp(m, "fspick-rw") && argc == 3) {
    int fd = (int)syscall(SYS_fspick, AT_FDCWD, argv[2], FSPICK_CLOEXEC);
    report("fspick", fd);
    if (fd < 0) return 0;
    report("fsconfig_rw", syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "rw", NULL, 0));
    report("fsconfig_reconfigure",
           syscall(SYS_fsconfig, fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0));
    return 0;
  }
  if (!strcmp(m, "move") && argc == 4) {
    report("move_mount", syscall(SYS_move_mount, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 0));
    return 0;
  }
  if (!strcmp(m, "global")) {
    /* Each must fail with EPERM from the errno rule even with every capability. */
    report("bpf", syscall(SYS_bpf, 0 /*BPF_MAP_CREATE*/, NULL, 0));
    report("init_module", syscall(SYS_init_module, NULL, 0, ""));
    report("finit_module", syscall(SYS_finit_module, 0, "", 0));
    report("delete_module", syscall(SYS_delete_module, "nonexistent", 0));
    report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
    report("kexec_file_load", syscall(SYS_kexec_file_load, -1, -1, 0, "", 0));
    report("open_by_handle_at", syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    report("swapon", syscall(SYS_swapon, "/nonexistent", 0));
    report("swapoff", syscall(SYS_swapoff, "/nonexistent"));
    report("acct", syscall(SYS_acct, NULL));
    report("settimeofday", syscall(SYS_settimeofday, NULL, NULL));
    report("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, NULL));
    report("iopl", syscall(SYS_iopl, 3));
    report("ioperm", syscall(SYS_ioperm, 0x80, 1, 1));
    report("quotactl", syscall(SYS_quotactl, 0, NULL, 0, NULL));
    report("syslog", syscall(SYS_syslog, 3 /*READ_ALL*/, NULL, 0));
    return 0;
  }
  if (!strcmp(m, "garbage")) {
    /* Every trapped call with NULL, small, kernel, unmapped and unterminated arguments. */
    static const long nrs[] = {SYS_mount,     SYS_umount2,       SYS_fsopen,
                               SYS_fsconfig,  SYS_fsmount,       SYS_move_mount,
                               SYS_open_tree, SYS_mount_setattr, SYS_fspick};
    size_t pg = 4096;
    char* big = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(big, 'A', 3 * pg);
    munmap(big + 2 * pg, pg); /* 8 KiB of 'A' then an unmapped page: no NUL anywhere */
    uintptr_t unmapped = (uintptr_t)(big + 2 * pg);
    uintptr_t edge = (uintptr_t)(big + 2 * pg - 1); /* one readable byte, no NUL */
    uintptr_t vals[] = {0,
                        1,
                        (uintptr_t)-1,
                        0xdeadbeef,
                        0xffffffff00000000ull,
                        unmapped,
                        edge,
                        (uintptr_t)big,
                        0xffff800000000000ull,
                        (uintptr_t) "/",
                        (uintptr_t) "/proc"};
    const size_t nv = sizeof(vals) / sizeof(vals[0]);
    unsigned long calls = 0;
    srand(42);
    for (size_t k = 0; k < sizeof(nrs) / sizeof(nrs[0]); ++k) {
      for (size_t i = 0; i < nv; ++i) {
        for (int rep = 0; rep < 8; ++rep) {
          uintptr_t a[6];
          for (int j = 0; j < 6; ++j) a[j] = rep == 0 ? vals[i] : vals[(size_t)rand() % nv];
          /* Never pass flags that would actually detach / or proc from this probe's view. */
          long rc = syscall(nrs[k], a[0], a[1], a[2], a[3], a[4], a[5]);
          if (rc >= 0 && nrs[k] != SYS_umount2 && nrs[k] != SYS_mount && rc > 2) close((int)rc);
          ++calls;
        }
      }
    }
    printf("garbage calls: %lu\n", calls);
    return 0;
  }
  if (!strcmp(m, "fdmount") && argc == 3) {
    /* fdmount DIR: a tmpfs onto DIR named as runc names its targets, /proc/self/fd/<n> of an
     * O_PATH fd (the supervisor's worker is in another pid namespace: "self" is not it). */
    int fd = open(argv[2], O_PATH | O_DIRECTORY | O_CLOEXEC);
    char p[64];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    report("fdmount", fd < 0 ? -1 : mount("none", p, "tmpfs", 0, NULL));
    return 0;
  }
  if (!strcmp(m, "setid-create") && argc == 3) {
    /* setid-create DIR: every way to make a file with a set-id mode in one call, raw syscalls
     * (libc may map one onto another); then a plain create, which must work. */
    char p[4096];
    long fd;
#define AT(name) (snprintf(p, sizeof p, "%s/%s", argv[2], name), p)
    fd = syscall(SYS_openat, AT_FDCWD, AT("openat"), O_CREAT | O_WRONLY, 04755);
    report("openat_creat", fd);
    if (fd >= 0) close((int)fd);
#ifdef SYS_open
    fd = syscall(SYS_open, AT("open"), O_CREAT | O_WRONLY | O_EXCL, 02755);
    report("open_creat", fd);
    if (fd >= 0) close((int)fd);
#endif
#ifdef SYS_creat
    fd = syscall(SYS_creat, AT("creat"), 06755);
    report("creat", fd);
    if (fd >= 0) close((int)fd);
#endif
#ifdef SYS_mknod
    report("mknod_reg", syscall(SYS_mknod, AT("mknod"), S_IFREG | 04755, 0));
#endif
    report("mknodat_reg", syscall(SYS_mknodat, AT_FDCWD, AT("mknodat"), S_IFREG | 04755, 0));
    fd = syscall(SYS_openat, AT_FDCWD, argv[2], O_TMPFILE | O_WRONLY, 04755);
    report("tmpfile", fd);
    if (fd >= 0) {
      char self[64];
      snprintf(self, sizeof self, "/proc/self/fd/%ld", fd);
      report("tmpfile_link", linkat(AT_FDCWD, self, AT_FDCWD, AT("tmpfile"), AT_SYMLINK_FOLLOW));
      close((int)fd);
    }
    fd = syscall(SYS_openat, AT_FDCWD, AT("plain"), O_CREAT | O_WRONLY, 0755);
    report("openat_plain", fd);
    if (fd >= 0) close((int)fd);
    /* Calls whose set-id mode a filter cannot see: openat2's mode is in memory, fchmodat2 is a
     * chmod outside the split, an io_uring ring's OPENAT never passes the filter. */
    struct {
      uint64_t flags, mode, resolve;
    } how = {O_CREAT | O_WRONLY, 04755, 0};
    fd = syscall(437 /* openat2 */, AT_FDCWD, AT("openat2"), &how, sizeof how);
    report("openat2_creat", fd);
    if (fd >= 0) close((int)fd);
    report("fchmodat2", syscall(452 /* fchmodat2 */, AT_FDCWD, AT("plain"), 04755, 0));
    {
      uint32_t params[30]; /* struct io_uring_params: 120 bytes */
      memset(params, 0, sizeof params);
      fd = syscall(425 /* io_uring_setup */, 4, params);
      report("io_uring_setup", fd);
      if (fd >= 0) close((int)fd);
    }
#undef AT
    return 0;
  }
  if (!strcmp(m, "setid-existing") && argc >= 3) {
    /* setid-existing PATH...: open(O_CREAT|O_WRONLY, 04755) of what is already there, each
     * within 5 s (a FIFO must not block the supervisor). */
    alarm(5);
    for (int i = 2; i < argc; ++i) {
      long fd = syscall(SYS_openat, AT_FDCWD, argv[i], O_CREAT | O_WRONLY, 04755);
      printf("existing %s: %s\n", argv[i], fd < 0 ? ename(errno) : "ok");
      if (fd >= 0) close((int)fd);
    }
    return 0;
  }
  if (!strcmp(m, "setid-race") && argc == 5) {
    /* setid-race OWN HOST N: openat(O_CREAT|O_EXCL, 04755) on a buffer flipping between a name
     * in the container's own files (OWN) and one on a host bind (HOST). The supervisor sees one
     * name, the kernel may walk the other. Counts what landed where after each try. */
    raceA = argv[2];
    raceB = argv[3];
    strcpy(raceBuf, raceA);
    long n = atol(argv[4]);
    pthread_t th;
    pthread_create(&th, NULL, flipper, NULL);
    setidRaceCount("setid-race", raceBuf, raceA, raceB, n);
    raceStop = 1;
    pthread_join(th, NULL);
    return 0;
  }
  if (!strcmp(m, "setid-race-link") && argc == 5) {
    /* setid-race-link DIR HOSTDIR N: openat(DIR/l/f, O_CREAT|O_EXCL, 04755) while another thread
     * swaps the symlink DIR/l between DIR/own and HOSTDIR (rename over it): the copy of the path
     * the supervisor read stays the same, the file system under it does not. */
    static char own[256], link[256], tmp[256], target[256], ownFile[256], hostFile[256];
    snprintf(own, sizeof own, "%s/own", argv[2]);
    snprintf(link, sizeof link, "%s/l", argv[2]);
    snprintf(tmp, sizeof tmp, "%s/l.tmp", argv[2]);
    snprintf(target, sizeof target, "%s/l/f", argv[2]);
    snprintf(ownFile, sizeof ownFile, "%s/f", own);
    snprintf(hostFile, sizeof hostFile, "%s/f", argv[3]);
    mkdir(own, 0755);
    symlink(own, link);
    long n = atol(argv[4]);
    pid_t swapper = fork();
    if (swapper == 0) {
      for (;;) {
        unlink(tmp);
        symlink(argv[3], tmp);
        rename(tmp, link);
        unlink(tmp);
        symlink(own, tmp);
        rename(tmp, link);
      }
    }
    setidRaceCount("setid-race-link", target, ownFile, hostFile, n);
    kill(swapper, SIGKILL);
    waitpid(swapper, NULL, 0);
    return 0;
  }
  if (!strcmp(m, "race") && argc == 5) {
    /* race ALLOWED LOCKED N: remount,bind,rw on a buffer flipping between the two paths. */
    raceA = argv[2];
    raceB = argv[3];
    strcpy(raceBuf, raceA);
    long n = atol(argv[4]);
    pthread_t th;
    pthread_create(&th, NULL, flipper, NULL);
    long ok = 0, eperm = 0, other = 0;
    for (long i = 0; i < n; ++i) {
      if (mount(NULL, raceBuf, NULL, MS_REMOUNT | MS_BIND, NULL) == 0)
        ++ok;
      else if (errno == EPERM)
        ++eperm;
      else
        ++other;
    }
    raceStop = 1;
    pthread_join(th, NULL);
    printf("race: ok=%ld eperm=%ld other=%ld\n", ok, eperm, other);
    return 0;
  }
  fprintf(stderr, "probe: unknown mode %s\n", m);
  return 2;
}
