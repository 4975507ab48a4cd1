// Re-serving per-container engine sockets after the guard restarts (issue 14): the pure pieces.
// A socket granted at create lives at <socketDir>/<32 lowercase hex>/docker.sock (in a root-owned
// 0711 directory); the guard records the grant in its state directory (grant_store.h), naming
// the container, its image and who created it. On start the guard lists every container, and a
// container whose binds name such a socket gets its listener back with the identity of that
// record, if the record names this very container.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::apiproxy {

inline constexpr std::string_view kSocketName = "docker.sock";
// An older guard's record, next to the socket: <socketDir>/<token>/grant.json (grant_migrate.h).
inline constexpr std::string_view kGrantRecordName = "grant.json";

// true for exactly 32 characters of [0-9a-f] (what freshToken makes).
bool isSocketToken(std::string_view s);
// The token of `path` if it is exactly <socketDir>/<token>/docker.sock, else nullopt. Strict on
// purpose: nothing else under the socket directory (other names, `..`, `//`, upper-case hex,
// deeper paths) is ever taken for a per-container socket.
std::optional<std::string> socketTokenOf(std::string_view path, std::string_view socketDir);

// What the guard knows about a granted socket that the container cannot forge.
struct GrantRecord {
  std::string containerId;  // 64 lowercase hex
  std::string imageId;      // "sha256:<64 hex>" (inspect .Image)
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};
std::string grantRecordJson(const GrantRecord& r);
// Strict: an object with exactly these four keys, a 64-hex id, a non-empty image id, and uid/gid
// numbers that are real ids (not -1, in range).
Result<GrantRecord> parseGrantRecord(std::string_view json);

// One container as reconciling sees it (GET /containers/{id}/json, reduced).
struct SocketMount {
  std::string token;
  std::string source;       // <socketDir>/<token>/docker.sock
  std::string destination;  // inside the container
};
struct ReserveTarget {
  std::string id;
  std::string image;  // .Image
  bool running = false;
  pid_t pid = 0;  // .State.Pid while running
  std::vector<SocketMount> sockets;
  // The container's other bind sources: what a create on its socket may bind (as at grant).
  std::vector<std::string> bindSources;
};
Result<ReserveTarget> parseReserveTarget(std::string_view inspectJson, std::string_view socketDir);
// GET /containers/json?all=1, reduced to the containers whose binds name a per-container socket
// (the rest need no inspect), with those sockets' tokens.
struct ListedContainer {
  std::string id;
  std::vector<std::string> tokens;
};
Result<std::vector<ListedContainer>> containersWithSockets(std::string_view listJson,
                                                           std::string_view socketDir);

// Why `record` may not give `target` the socket `token` back, or nullopt if it may.
std::optional<std::string> grantMismatch(const GrantRecord& record, const ReserveTarget& target);

}  // namespace eci::apiproxy
