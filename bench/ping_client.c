/* Added latency per request as a long-lived client sees it (an SDK, Testcontainers, a CI agent):
 * one process that opens a fresh unix-socket connection per request, sends one GET and reads the
 * answer to its end (Content-Length), ROUNDS times, round-robin over the sockets given, so every
 * socket is sampled under the same machine state. bench/apiproxy.sh runs it next to its curl rows
 * (a new client process per request, as `docker version` is): the curl rows include what a cold
 * CPU cache costs each side after a process start, this one does not.
 *   ping_client PATH ROUNDS SOCKET...
 * Prints one line per socket: "<socket> <median us> <p10 us> <p90 us>". Exit 1 on any failed
 * request (a failed sample is never counted).
 * ECI_PING_IDLE_US=N sleeps N microseconds before each request (not timed): every side then
 * starts each request from idle, as between two `docker` commands, but with no process start. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS 8
#define MAX_ROUNDS 100000

static double nowUs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* One request on a new connection; microseconds, or -1 on any failure. */
static double once(const char* sock, const char* req, size_t reqLen) {
  struct sockaddr_un a;
  memset(&a, 0, sizeof a);
  a.sun_family = AF_UNIX;
  if (strlen(sock) >= sizeof a.sun_path) return -1;
  strcpy(a.sun_path, sock);
  char buf[65536];
  size_t have = 0;
  const double t0 = nowUs();
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr*)&a, sizeof a) != 0 ||
      write(fd, req, reqLen) != (ssize_t)reqLen) {
    close(fd);
    return -1;
  }
  for (;;) {
    const ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = '\0';
    const char* end = strstr(buf, "\r\n\r\n");
    if (!end) continue;
    /* The answer is complete when its body (Content-Length) is in: dockerd's plain GETs have one.
     */
    const char* cl = strcasestr(buf, "\r\nContent-Length:");
    if (cl && cl < end) {
      const size_t body = strtoul(cl + 17, NULL, 10);
      if (have >= (size_t)(end + 4 - buf) + body) {
        const double us = nowUs() - t0;
        close(fd);
        return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? us : -1;
      }
    }
  }
  close(fd);
  return -1;
}

static int cmp(const void* x, const void* y) {
  const double a = *(const double*)x, b = *(const double*)y;
  return (a > b) - (a < b);
}

int main(int argc, char** argv) {
  if (argc < 4 || argc - 3 > MAX_SOCKETS) {
    fprintf(stderr, "usage: ping_client PATH ROUNDS SOCKET... (at most %d sockets)\n", MAX_SOCKETS);
    return 2;
  }
  const char* path = argv[1];
  const int rounds = atoi(argv[2]);
  const int nsock = argc - 3;
  if (rounds <= 0 || rounds > MAX_ROUNDS) return 2;
  char req[1024];
  const int reqLen = snprintf(
      req, sizeof req, "GET %s HTTP/1.1\r\nHost: api\r\nUser-Agent: eci-bench\r\n\r\n", path);
  if (reqLen <= 0 || reqLen >= (int)sizeof req) return 2;
  const char* idleEnv = getenv("ECI_PING_IDLE_US");
  const long idleUs = idleEnv ? strtol(idleEnv, NULL, 10) : 0;
  if (idleUs < 0 || idleUs > 1000000) return 2;
  double* samples = calloc((size_t)nsock * (size_t)rounds, sizeof(double));
  if (!samples) return 1;
  for (int r = 0; r < rounds; ++r)
    for (int s = 0; s < nsock; ++s) {
      if (idleUs > 0) usleep((useconds_t)idleUs);
      const double us = once(argv[3 + s], req, (size_t)reqLen);
      if (us < 0) {
        fprintf(stderr, "ping_client: GET %s on %s failed\n", path, argv[3 + s]);
        return 1;
      }
      samples[(size_t)s * (size_t)rounds + (size_t)r] = us;
    }
  for (int s = 0; s < nsock; ++s) {
    double* v = samples + (size_t)s * (size_t)rounds;
    qsort(v, (size_t)rounds, sizeof(double), cmp);
    printf("%s %.0f %.0f %.0f\n", argv[3 + s], v[rounds / 2], v[rounds / 10], v[rounds * 9 / 10]);
  }
  free(samples);
  return 0;
}
