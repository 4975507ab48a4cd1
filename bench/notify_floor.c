/* The floor of a seccomp-notify design on this machine, for the trapped-mount figure:
 * a tmpfs mount+umount pair in a private mount namespace, timed
 *   (a) with no filter,
 *   (b) trapped by SECCOMP_RET_USER_NOTIF and answered CONTINUE at once (a supervisor that does
 *       no work at all, woken with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP as eci's is),
 *   (c) trapped, with the supervisor (inside the same mount namespace) making the call itself.
 * (b)/(a) is the least any seccomp-notify supervisor can cost for this pair here; eci's figure in
 * bench_compare is to be read against it. Needs root. Prints medians over ROUNDS rounds.
 *   notify_floor [PAIRS_PER_ROUND] [ROUNDS] */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1ULL
#endif

enum Mode { kNoFilter, kContinue, kSupervisorActs, kModes };
static const char* const kNames[kModes] = {"no filter", "notify + CONTINUE (zero work)",
                                           "notify + supervisor mounts itself"};
static char target[] = "/tmp/eci-notify-floor.XXXXXX";

static double nowNs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void sendFd(int sock, int fd) {
  char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec io = {&byte, 1};
  struct msghdr m = {
      .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr* h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &fd, sizeof fd);
  if (sendmsg(sock, &m, 0) != 1) die("sendmsg");
}

static int recvFd(int sock) {
  char byte, cbuf[CMSG_SPACE(sizeof(int))];
  struct iovec io = {&byte, 1};
  struct msghdr m = {
      .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  if (recvmsg(sock, &m, 0) != 1 || !CMSG_FIRSTHDR(&m)) die("recvmsg");
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
  return fd;
}

static double pairs(long n) {
  const double t = nowNs();
  for (long i = 0; i < n; ++i)
    if (mount("none", target, "tmpfs", 0, NULL) != 0 || umount2(target, 0) != 0) die("mount loop");
  return (nowNs() - t) / (double)n;
}

/* One round of one mode: ns per pair, measured in a child in its own private mount namespace. */
static double round_(enum Mode mode, long n) {
  int sv[2], out[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(out) != 0) die("socketpair");
  const pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
      die("private mount namespace");
    if (mode != kNoFilter) {
      struct sock_filter f[] = {
          BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mount, 1, 0),
          BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_umount2, 0, 1),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
          BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
      struct sock_fprog prog = {sizeof f / sizeof f[0], f};
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("no_new_privs");
      const int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                                  SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
      if (fd < 0) die("seccomp");
      sendFd(sv[0], fd);
      close(fd);
    }
    const double r = pairs(n);
    if (write(out[1], &r, sizeof r) != sizeof r) die("write");
    _exit(0);
  }
  if (mode != kNoFilter) {
    const int fd = recvFd(sv[1]);
    if (mode == kSupervisorActs) {
      char p[64];
      snprintf(p, sizeof p, "/proc/%d/ns/mnt", child);
      const int ns = open(p, O_RDONLY | O_CLOEXEC);
      if (ns < 0 || setns(ns, CLONE_NEWNS) != 0) die("setns");
      close(ns);
    }
    (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
    struct seccomp_notif req;
    struct seccomp_notif_resp resp;
    for (;;) {
      memset(&req, 0, sizeof req);
      if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) break; /* child gone */
      memset(&resp, 0, sizeof resp);
      resp.id = req.id;
      if (mode == kContinue) {
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
      } else {
        const int r =
            req.data.nr == SYS_mount ? mount("none", target, "tmpfs", 0, NULL) : umount2(target, 0);
        if (r != 0) resp.error = -errno;
      }
      (void)ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    }
    close(fd);
  }
  double r = -1;
  int status = 0;
  if (read(out[0], &r, sizeof r) != sizeof r) die("read");
  waitpid(child, &status, 0);
  close(sv[0]), close(sv[1]), close(out[0]), close(out[1]);
  return r;
}

static int cmp(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

int main(int argc, char** argv) {
  const long n = argc > 1 ? atol(argv[1]) : 3000;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (n <= 0 || rounds <= 0 || rounds > 99) return 2;
  if (!mkdtemp(target)) die("mkdtemp");
  double samples[kModes][99];
  for (int r = 0; r < rounds; ++r)
    for (int m = 0; m < kModes; ++m) {
      if (m == kSupervisorActs) {
        /* The acting supervisor joins the child's namespace for good: run it in a fork. */
        int p[2];
        if (pipe(p) != 0) die("pipe");
        const pid_t s = fork();
        if (s == 0) {
          const double v = round_(kSupervisorActs, n);
          if (write(p[1], &v, sizeof v) != sizeof v) die("write");
          _exit(0);
        }
        close(p[1]);
        double v = -1;
        ssize_t got = read(p[0], &v, sizeof v);
        close(p[0]);
        waitpid(s, NULL, 0);
        samples[m][r] = got == sizeof v ? v : -1;
      } else {
        samples[m][r] = round_((enum Mode)m, n);
      }
      if (samples[m][r] <= 0) {
        fprintf(stderr, "notify_floor: %s: no measurement\n", kNames[m]);
        rmdir(target);
        return 1;
      }
    }
  rmdir(target);
  double med[kModes];
  for (int m = 0; m < kModes; ++m) {
    qsort(samples[m], (size_t)rounds, sizeof(double), cmp);
    med[m] = samples[m][rounds / 2];
  }
  printf("tmpfs mount+umount pair, private mount ns, %d rounds x %ld pairs (medians)\n", rounds, n);
  for (int m = 0; m < kModes; ++m)
    printf("  %-36s %9.0f ns/pair  x%.2f\n", kNames[m], med[m], med[m] / med[kNoFilter]);
  return 0;
}
