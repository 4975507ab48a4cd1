/* uptime_probe: open + read + close of a file in a tight loop, run inside a container.
 * Prints the median ns per operation over ROUNDS rounds of ITERS operations each:
 *   median_ns_per_op=1234 path=/proc/uptime iters=20000 rounds=7 bytes=17
 * Static so it runs in a bare busybox rootfs. Every read must return data (a failed open/read
 * exits 1: a benchmark of errors would look fast). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long nowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char** argv) {
  const int iters = argc > 1 ? atoi(argv[1]) : 20000;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  const char* path = argc > 3 ? argv[3] : "/proc/uptime";
  if (iters <= 0 || rounds <= 0) return 2;
  if (rounds > 101) rounds = 101;
  double perOp[101];
  char buf[4096];
  ssize_t bytes = 0;
  for (int r = 0; r < rounds; ++r) {
    const long long t0 = nowNs();
    for (int i = 0; i < iters; ++i) {
      const int fd = open(path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        perror("open");
        return 1;
      }
      bytes = read(fd, buf, sizeof buf);
      if (bytes <= 0) {
        perror("read");
        return 1;
      }
      close(fd);
    }
    perOp[r] = (double)(nowNs() - t0) / iters;
  }
  qsort(perOp, (size_t)rounds, sizeof perOp[0], cmp);
  printf("median_ns_per_op=%.0f path=%s iters=%d rounds=%d bytes=%zd\n", perOp[rounds / 2], path,
         iters, rounds, bytes);
  return 0;
}
