/* The floor of any Engine API guard on this machine: a relay that does nothing but copy bytes
 * between a client's unix-socket connection and a fresh connection to dockerd. One thread, epoll,
 * no parsing, no decisions. bench/apiproxy.sh measures it next to eci-apiproxyd: what the relay
 * adds per request is the cost of the extra hop itself (two more process wake-ups, accept, connect,
 * a read and a write each way), which no guard in front of dockerd can avoid.
 *   relay_floor LISTEN_PATH UPSTREAM_PATH
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct end {
  int fd;
  struct end* peer;
  int readDone; /* EOF seen on this fd */
};

static int unixAddr(const char* path, struct sockaddr_un* a) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a->sun_path) return -1;
  strcpy(a->sun_path, path);
  return 0;
}

/* Closes both ends. The pair's memory is not freed: the peer may still be in this epoll batch,
 * and a bench run makes a few thousand connections of 48 bytes each. */
static void closePair(int ep, struct end* e) {
  struct end* p = e->peer;
  epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL);
  epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
  close(e->fd);
  close(p->fd);
  e->fd = p->fd = -1;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: relay_floor LISTEN_PATH UPSTREAM_PATH\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_un la, ua;
  if (unixAddr(argv[1], &la) != 0 || unixAddr(argv[2], &ua) != 0) return 2;
  unlink(argv[1]);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr*)&la, sizeof la) != 0 || listen(lfd, 128) != 0) {
    perror("relay_floor: listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  static char buf[262144]; /* as large as the guard's largest body read */
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1;
    for (int i = 0; i < n; ++i) {
      struct end* e = evs[i].data.ptr;
      if (e == NULL) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (u < 0 || connect(u, (struct sockaddr*)&ua, sizeof ua) != 0) {
          close(c);
          if (u >= 0) close(u);
          continue;
        }
        struct end* pair = calloc(2, sizeof *pair);
        pair[0] = (struct end){c, &pair[1], 0};
        pair[1] = (struct end){u, &pair[0], 0};
        struct epoll_event a = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &pair[0]};
        struct epoll_event b = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &pair[1]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &a);
        epoll_ctl(ep, EPOLL_CTL_ADD, u, &b);
        continue;
      }
      if (e->fd < 0) continue; /* closed earlier in this batch */
      ssize_t r = read(e->fd, buf, sizeof buf);
      if (r > 0) {
        /* Blocking write: requests and answers here are small; a floor needs no backpressure. */
        for (ssize_t off = 0; off < r;) {
          ssize_t w = write(e->peer->fd, buf + off, (size_t)(r - off));
          if (w <= 0) break;
          off += w;
        }
        continue;
      }
      /* EOF or error: pass the half-close on; close both once both directions are done. */
      e->readDone = 1;
      shutdown(e->peer->fd, SHUT_WR);
      epoll_ctl(ep, EPOLL_CTL_DEL, e->fd, NULL);
      if (e->peer->readDone || r < 0) closePair(ep, e);
    }
  }
}
