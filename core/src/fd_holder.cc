#include "eci/fd_holder.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/sys.h"

namespace eci::fdhold {

std::string encode(Op op, std::string_view name) {
  Header h;
  h.op = op;
  h.nameLen = static_cast<uint32_t>(name.size());
  std::string out(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(name);
  return out;
}

Result<Message> decode(const void* buf, size_t len) {
  Header h;
  if (len < sizeof h)
    return Error(ErrorKind::kProtocol, "fd holder: message shorter than its header");
  std::memcpy(&h, buf, sizeof h);
  if (h.magic != kMagic)
    return Error(ErrorKind::kProtocol, "fd holder: wrong magic (another protocol)");
  if (h.op < Op::kPut || h.op > Op::kEnd)
    return Error(ErrorKind::kProtocol, "fd holder: unknown op");
  if (h.nameLen > kMaxNameLen) return Error(ErrorKind::kProtocol, "fd holder: name too long");
  if (len != sizeof h + h.nameLen)
    return Error(ErrorKind::kProtocol, "fd holder: length does not match");
  Message m{h.op, std::string(static_cast<const char*>(buf) + sizeof h, h.nameLen)};
  for (unsigned char ch : m.name)
    if (ch < 0x21 || ch > 0x7e)
      return Error(ErrorKind::kProtocol, "fd holder: name not printable ASCII");
  return m;
}

Status Store::put(std::string name, std::vector<UniqueFd> fds) {
  if (fds.empty())
    return Error(ErrorKind::kInvalidInput, "fd holder: put '" + name + "' without fds");
  if (name.empty() || name.size() > kMaxNameLen)
    return Error(ErrorKind::kInvalidInput, "fd holder: empty or too long name");
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    it->second = std::move(fds);  // the old fds close here
    return {};
  }
  if (entries_.size() >= kMaxEntries)
    return Error(ErrorKind::kUnavailable,
                 "fd holder: " + std::to_string(kMaxEntries) + " entries held already");
  entries_.emplace(std::move(name), std::move(fds));
  return {};
}

size_t Store::drop(std::string_view name) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return 0;
  entries_.erase(it);
  return 1;
}

size_t Store::dropPrefix(std::string_view prefix) {
  size_t n = 0;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && std::string_view(it->first).starts_with(prefix);) {
    it = entries_.erase(it);
    ++n;
  }
  return n;
}

size_t Store::fdCount() const {
  size_t n = 0;
  for (const auto& [name, fds] : entries_) n += fds.size();
  return n;
}

namespace {

// A uid-0 peer or nothing: the holder hands out container namespaces and notify fds.
bool peerIsRoot(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

Result<sockaddr_un> addressOf(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path)
    return Error(ErrorKind::kTooLarge, "fd holder socket path '" + path + "' is too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

void setTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// One client message. False: the client is gone (or broke the protocol) and is closed.
bool serveOne(int client, Store& store) {
  char buf[sizeof(Header) + kMaxNameLen + 1];
  int got[sys::kMaxPassedFds];
  size_t ngot = 0;
  bool truncated = false;
  const ssize_t n =
      sys::recvWithFds(client, buf, sizeof buf, got, sys::kMaxPassedFds, &ngot, &truncated);
  std::vector<UniqueFd> fds;
  for (size_t i = 0; i < ngot; ++i) fds.emplace_back(got[i]);
  if (n <= 0) return false;
  auto msg = decode(buf, static_cast<size_t>(n));
  if (!msg.ok() || truncated) {
    LOG_WARN("%s", msg.ok() ? "fd holder: too many fds in one message" : msg.error().str().c_str());
    return false;
  }
  switch (msg->op) {
    case Op::kPut:
      if (auto st = store.put(msg->name, std::move(fds)); !st.ok())
        LOG_WARN("%s", st.error().str().c_str());
      return true;
    case Op::kDrop:
      store.drop(msg->name);
      return true;
    case Op::kDropPrefix:
      if (msg->name.empty()) return false;  // "drop everything" is never what a client means
      store.dropPrefix(msg->name);
      return true;
    case Op::kList: {
      for (const auto& [name, held] : store.entries()) {
        const std::string m = encode(Op::kEntry, name);
        std::vector<int> raw;
        for (const auto& f : held) raw.push_back(f.get());
        if (sys::sendWithFds(client, m.data(), m.size(), raw.data(), raw.size()) < 0) return false;
      }
      const std::string end = encode(Op::kEnd, "");
      return sys::sendWithFds(client, end.data(), end.size(), nullptr, 0) >= 0;
    }
    default:
      return false;  // kEntry/kEnd are replies, never requests
  }
}

}  // namespace

int runHolder(const std::string& socketPath, std::chrono::milliseconds grace) {
  log::setProgramName("eci-fd-holder");
  const std::filesystem::path sock(socketPath);
  std::error_code ec;
  std::filesystem::create_directories(sock.parent_path(), ec);
  ::chmod(sock.parent_path().c_str(), 0700);
  const std::string lockPath = socketPath + ".lock";
  UniqueFd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) {
    LOG_ERROR("fd holder: open('%s'): %s", lockPath.c_str(), strerror(errno));
    return 1;
  }
  // One holder per socket: a second one started in a race leaves at once (the first serves).
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return 0;
  auto addr = addressOf(socketPath);
  if (!addr.ok()) {
    LOG_ERROR("%s", addr.error().str().c_str());
    return 1;
  }
  UniqueFd listenFd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ::unlink(socketPath.c_str());  // a dead holder's; we hold the lock
  const mode_t old = umask(0177);
  const int rc = bind(listenFd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr);
  umask(old);
  if (!listenFd || rc != 0 || listen(listenFd.get(), 16) != 0) {
    LOG_ERROR("fd holder: binding '%s': %s", socketPath.c_str(), strerror(errno));
    return 1;
  }
  // Held fds count against RLIMIT_NOFILE: take the hard limit.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  (void)fs::writeFileAtomic(socketPath + ".pid", std::to_string(getpid()) + "\n", 0600);
  LOG_INFO("fd holder: serving %s (exits %lld ms after its last client)", socketPath.c_str(),
           static_cast<long long>(grace.count()));

  Store store;
  std::vector<UniqueFd> clients;
  auto lastClient = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<pollfd> pfds{{listenFd.get(), POLLIN, 0}};
    for (auto& c : clients) pfds.push_back({c.get(), POLLIN, 0});
    if (poll(pfds.data(), pfds.size(), 200) < 0 && errno != EINTR) break;
    std::vector<UniqueFd> keep;
    for (size_t i = 0; i < clients.size(); ++i) {
      const short ev = pfds[i + 1].revents;
      if (ev == 0 || ((ev & POLLIN) && serveOne(clients[i].get(), store)))
        keep.push_back(std::move(clients[i]));
    }
    clients = std::move(keep);
    if (pfds[0].revents & POLLIN) {
      UniqueFd c(accept4(listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c && peerIsRoot(c.get()) && clients.size() < 16) {
        setTimeouts(c.get(), 5);  // a stuck client cannot stall the holder for long
        clients.push_back(std::move(c));
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (!clients.empty()) {
      lastClient = now;
    } else if (now - lastClient > grace) {
      LOG_WARN("fd holder: no client for %lld ms; closing %zu held fds of %zu entries",
               static_cast<long long>(grace.count()), store.fdCount(), store.size());
      break;
    }
  }
  ::unlink(socketPath.c_str());
  ::unlink((socketPath + ".pid").c_str());
  return 0;
}

std::optional<int> runHolderIfRequested(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], kHolderFlag) != 0) return std::nullopt;
  if (argc != 4) return 2;
  char* end = nullptr;
  const unsigned long long ms = std::strtoull(argv[3], &end, 10);
  if (end == argv[3] || *end != '\0') return 2;
  return runHolder(argv[2], std::chrono::milliseconds(ms));
}

Result<Client> Client::connect(const std::string& socketPath) {
  ECI_ASSIGN_OR_RETURN(addr, addressOf(socketPath));
  UniqueFd s(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!s) return Error::fromErrno("socket(AF_UNIX, SOCK_SEQPACKET)");
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return Error::fromErrno("connect('" + socketPath + "')");
  setTimeouts(s.get(), 5);
  return Client(std::move(s));
}

namespace {

// This binary as the holder, in a session of its own (double fork: not our child, not in our
// process group, no death signal), so that our death does not end it.
Status startHolder(const std::string& socketPath, std::chrono::milliseconds grace) {
  std::vector<std::string> args = {"eci-fd-holder", kHolderFlag, socketPath,
                                   std::to_string(grace.count())};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // no handler may run in the child before exec
  const pid_t pid = fork();
  if (pid == 0) {
    // Only async-signal-safe calls from here (the caller may be threaded).
    setsid();
    const pid_t grandchild = fork();
    if (grandchild != 0) _exit(grandchild < 0 ? 1 : 0);
    (void)!chdir("/");  // pin no directory (or the mount it is on) of our caller
    const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) dup2(null, 0);
    sys::execSelfInChild(argv.data(), 3);  // stdout/stderr stay: its log lines go where ours go
  }
  const int forkErr = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Error(forkErr, "fork() for the fd holder");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error(ErrorKind::kInternal, "starting the fd holder failed");
  return {};
}

}  // namespace

Result<Client> Client::connectOrStart(const std::string& socketPath,
                                      std::chrono::milliseconds grace) {
  if (auto c = connect(socketPath); c.ok()) return c;
  ECI_TRY(startHolder(socketPath, grace));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  for (;;) {
    auto c = connect(socketPath);
    if (c.ok() || std::chrono::steady_clock::now() > deadline) return c;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status Client::send(Op op, std::string_view name, const int* fds, size_t n) {
  if (name.size() > kMaxNameLen) return Error(ErrorKind::kTooLarge, "fd holder: name too long");
  const std::string m = encode(op, name);
  if (sys::sendWithFds(sock_.get(), m.data(), m.size(), fds, n) != static_cast<ssize_t>(m.size()))
    return Error::fromErrno("sending to the fd holder");
  return {};
}

Status Client::put(std::string_view name, const int* fds, size_t n) {
  if (n == 0 || n > sys::kMaxPassedFds)
    return Error(ErrorKind::kInvalidInput, "fd holder: 1..8 fds per put");
  return send(Op::kPut, name, fds, n);
}
Status Client::drop(std::string_view name) {
  return send(Op::kDrop, name, nullptr, 0);
}
Status Client::dropPrefix(std::string_view prefix) {
  if (prefix.empty()) return Error(ErrorKind::kInvalidInput, "fd holder: empty prefix");
  return send(Op::kDropPrefix, prefix, nullptr, 0);
}

Result<std::vector<Client::Entry>> Client::list() {
  ECI_TRY(send(Op::kList, "", nullptr, 0));
  std::vector<Entry> out;
  for (;;) {
    char buf[sizeof(Header) + kMaxNameLen + 1];
    int got[sys::kMaxPassedFds];
    size_t ngot = 0;
    bool truncated = false;
    const ssize_t n =
        sys::recvWithFds(sock_.get(), buf, sizeof buf, got, sys::kMaxPassedFds, &ngot, &truncated);
    Entry e;
    for (size_t i = 0; i < ngot; ++i) e.fds.emplace_back(got[i]);
    if (n < 0) return Error::fromErrno("reading the fd holder's list");
    if (n == 0) return Error(ErrorKind::kProtocol, "the fd holder closed the connection");
    ECI_ASSIGN_OR_RETURN(msg, decode(buf, static_cast<size_t>(n)));
    if (msg.op == Op::kEnd) return out;
    if (msg.op != Op::kEntry || truncated || e.fds.empty())
      return Error(ErrorKind::kProtocol, "fd holder: unexpected reply to list");
    e.name = std::move(msg.name);
    out.push_back(std::move(e));
  }
}

}  // namespace eci::fdhold
