// Framed JSON messages over unix stream sockets between eci's parts (agent → enforcer pushes,
// eci-runc/eci-admin → enforcer requests). A frame is a 4-byte big-endian length followed by that
// many bytes of UTF-8 JSON. Every read and write has a deadline so a stuck peer never hangs a
// container create. Protocol messages: docs/design/protocol.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::ipc {

constexpr size_t kMaxFrameBytes = 8u << 20;
using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kDefaultTimeout{10000};

// Creates the socket (removing a stale one), mode 0600, listening. The parent directory is created
// 0700 if missing.
Result<UniqueFd> listenUnix(const std::filesystem::path& path, int backlog = 128);
Result<UniqueFd> connectUnix(const std::filesystem::path& path,
                             std::chrono::milliseconds timeout = kDefaultTimeout);

Status sendMessage(int fd, const nlohmann::json& msg,
                   std::chrono::milliseconds timeout = kDefaultTimeout);
Result<nlohmann::json> recvMessage(int fd, std::chrono::milliseconds timeout = kDefaultTimeout,
                                   size_t maxBytes = kMaxFrameBytes);

// AF_VSOCK, for the agent on the host and eci-enforcerd in the VM. Listening binds VMADDR_CID_ANY;
// the caller checks the peer's CID.
Result<UniqueFd> listenVsock(uint32_t port, int backlog = 16);
Result<UniqueFd> connectVsock(uint32_t cid, uint32_t port);

// One request, one reply, on a fresh connection.
Result<nlohmann::json> call(const std::filesystem::path& socket, const nlohmann::json& request,
                            std::chrono::milliseconds timeout = kDefaultTimeout);

struct PeerCred {
  pid_t pid;
  uid_t uid;
  gid_t gid;
};
Result<PeerCred> peerCred(int fd);

}  // namespace eci::ipc
