// The fd holder: a tiny process that keeps descriptors the kernel gave eci-enforcerd (a
// container's seccomp notify fds and what a worker needs to serve them) across a crash or an
// upgrade of the daemon. The daemon puts each set of fds under a name (SCM_RIGHTS on a root-only
// SOCK_SEQPACKET socket); a restarted daemon lists them back and serves them again. The holder does
// nothing else: it never reads or answers a notification, so it is never a decision maker, and
// while no daemon serves the fds a trapped call stays pending in the kernel (fail closed).
//
// Why a process of its own and not only systemd's fd store: the holder also works where systemd is
// not PID 1 (tests, containers, hand starts), and it is not in the way of systemd's KillMode.
//
// Who can reach it: the socket is 0600 in a 0700 directory and every peer must be uid 0
// (SO_PEERCRED); the fds it holds are the daemon's, never handed to anyone else.
//
// Bounded lifetime: with no client connected for `grace`, the holder exits and closes every fd
// (pending trapped calls then fail with ENOSYS): a daemon that is gone for good does not leave
// containers blocked forever. At most kMaxEntries names are held; more puts are refused.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::fdhold {

// argv[1] of this binary re-executed as the holder: `<binary> --eci-fd-holder SOCKET GRACE_S`.
inline constexpr char kHolderFlag[] = "--eci-fd-holder";
inline constexpr uint32_t kMagic = 0x45434946;  // "ECIF", protocol 1
inline constexpr size_t kMaxNameLen = 1200;
inline constexpr size_t kMaxEntries = 16384;

enum class Op : uint32_t {
  kPut = 1,         // name + 1..kMaxPassedFds fds: hold them, replacing what the name held
  kDrop = 2,        // name: close what it holds
  kDropPrefix = 3,  // name: close every entry whose name starts with it
  kList = 4,        // the holder answers one kEntry (name + dup'ed fds) per entry, then kEnd
  kEntry = 5,
  kEnd = 6,
};

struct Header {
  uint32_t magic = kMagic;
  Op op = Op::kPut;
  uint32_t nameLen = 0;
};

struct Message {
  Op op;
  std::string name;
};

// One message's bytes (header + name); the fds travel beside it.
std::string encode(Op op, std::string_view name);
// Checks magic, op, length and the name (printable ASCII, no NUL, <= kMaxNameLen).
Result<Message> decode(const void* buf, size_t len);

// What the holder holds: pure bookkeeping, unit-tested without a socket.
class Store {
 public:
  // Replaces what `name` held. Refused (EINVAL) without fds, (ENOSPC) past kMaxEntries names.
  Status put(std::string name, std::vector<UniqueFd> fds);
  size_t drop(std::string_view name);
  size_t dropPrefix(std::string_view prefix);
  size_t size() const { return entries_.size(); }
  size_t fdCount() const;
  const std::map<std::string, std::vector<UniqueFd>, std::less<>>& entries() const {
    return entries_;
  }

 private:
  std::map<std::string, std::vector<UniqueFd>, std::less<>> entries_;
};

// Runs the holder on `socketPath` until no client has been connected for `grace`. Takes
// `socketPath`.lock (a second holder on the same path exits 0 at once) and writes its pid to
// `socketPath`.pid. Returns the exit status.
int runHolder(const std::string& socketPath, std::chrono::milliseconds grace);

// Every binary that starts a holder (Client::connectOrStart) calls this first thing in main():
// when argv[1] is kHolderFlag it runs the holder and returns its exit status.
std::optional<int> runHolderIfRequested(int argc, char** argv);

class Client {
 public:
  struct Entry {
    std::string name;
    std::vector<UniqueFd> fds;
  };
  // Connects to the holder on `socketPath`; if none answers, starts one (this binary re-executed
  // with kHolderFlag, in a session of its own so that it outlives us) and waits up to 3 s for it.
  static Result<Client> connectOrStart(const std::string& socketPath,
                                       std::chrono::milliseconds grace);
  // Connects only (no holder started): tests and status.
  static Result<Client> connect(const std::string& socketPath);

  Status put(std::string_view name, const int* fds, size_t n);
  Status drop(std::string_view name);
  Status dropPrefix(std::string_view prefix);
  Result<std::vector<Entry>> list();
  int fd() const { return sock_.get(); }

 private:
  explicit Client(UniqueFd s) : sock_(std::move(s)) {}
  Status send(Op op, std::string_view name, const int* fds, size_t n);
  UniqueFd sock_;
};

}  // namespace eci::fdhold
