// Shared pieces of the rule implementation (not part of the library's interface).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eci/apiproxy/decide.h"
#include "eci/settings/image_ref.h"

namespace eci::apiproxy::detail {

// ---- host paths (paths.cc) ----

enum class Reach {
  kNone,
  kPublicSocket,    // exactly the engine's public socket (directly, symlink or hard link)
  kEngineInternal,  // dockerd's private socket, containerd's, or another configured one
  kSocketDir,       // at or under the per-container socket directory
  kAncestor,        // a directory that contains an engine socket or the socket directory
};

struct PathCheck {
  Reach reach = Reach::kNone;
  std::string resolved;  // symlinks resolved
  std::string what;      // the engine path reached, for the log
};

// `source` as the request gave it (dockerd path.Clean()s it first). Error: cannot resolve.
Result<PathCheck> checkHostPath(const std::string& source, const Config& config, const HostFs& fs);

// Host-path restrictions for local volumes' device= (policy.restrictedHostMounts and
// config.extraRestricted): the path, anything below it, or a directory above it.
std::string restrictedHit(const std::string& resolved, const Policy& policy, const Config& config,
                          const HostFs& fs);

// ---- local volume options (paths.cc) ----

struct LocalOptsCheck {
  bool refuse = false;
  std::string reason;
  std::string bindDevice;  // non-empty: o=bind|rbind, this host path is bind-mounted
};
LocalOptsCheck checkLocalVolumeOptions(const std::map<std::string, std::string>& opts);
// Local volume options whose volume shows host files: a bind of a host path (o=bind device=),
// options refused anyway, or a filesystem from a host device (device=/dev/...). dockerd acts on
// such a volume as host root (docker cp, copying the image's files into it when it is empty).
bool optionsShowHostFiles(const std::map<std::string, std::string>& opts);
// An existing volume that shows host files: its local options do, or it is a plugin's (whose
// contents are unknown).
bool volumeShowsHostFiles(const VolumeFacts& v);

// A logging-driver option value that makes dockerd connect to a host unix socket: a URL whose
// scheme (as Go's url.Parse reads it, case-insensitively) is unix, unixgram or unixpacket.
bool logOptionNamesUnixSocket(std::string_view value);
inline bool isLocalDriver(const std::string& d) {
  return d.empty() || d == "local";
}

// ---- networks (networks.cc) ----

struct NetworkRefusal {
  int status = 403;
  std::string message;
  std::string rule;
};
// A `POST /networks/create` body (parsed, Go-insensitive keys): a bridge network whose subnet
// overlaps a route or address of the host's own namespace would capture the host's traffic for
// those addresses (the longer prefix wins); a bridge named after a host interface would take it
// over. A config-only network is checked whatever its driver (the driver of the network made
// `--config-from` it applies); a `--config-from` bridge network is checked against the prefixes
// of the network it names (facts.networks; missing -> need.networks, asked for and decided again).
// std::nullopt: allowed, or `need` got what must be fetched first.
std::optional<NetworkRefusal> checkNetworkCreate(const nlohmann::json& body, const HostFs& fs,
                                                 const Facts& facts, Need& need);

// ---- images (images.cc) ----

enum class AllowState { kAllowed, kDenied, kNeed };
struct AllowEval {
  AllowState state = AllowState::kDenied;
  std::string via;  // which entry allowed it (log)
};
// Is the image `img` (full inspect facts) allowed to mount the socket under `policy`?
AllowEval evalImage(const ImageFacts& img, const Policy& policy, const Facts& facts, Need& need);

// "docker:cli" -> "docker.io/library/docker" (Docker's message names the repository); an
// unparsable reference (an image ID, ...) is returned as given.
std::string messageImageName(const std::string& ref);

std::string socketDeniedMessage(const std::string& image, bool emptyList);

// ---- create bodies (create.cc) ----

struct MountReq {
  enum class Kind { kBind, kVolume, kTmpfs };
  Kind kind = Kind::kBind;
  std::string source;  // bind: host path as given; volume: name ("" anonymous)
  std::string driver;  // volume driver requested ("" default)
  std::map<std::string, std::string> driverOpts;  // Mounts[].VolumeOptions.DriverConfig.Options
  // Where the entry lives, for the rewrite: (hostConfig object, "Binds"|"Mounts", index).
  nlohmann::json* owner = nullptr;
  bool inBinds = true;
  bool createMountpoint = false;  // Mounts[].BindOptions.CreateMountpoint (Binds always create)
  size_t index = 0;
};

struct CreateBody {
  std::string image;
  std::vector<MountReq> mounts;
  std::vector<std::string> volumesFrom;      // container names
  std::vector<nlohmann::json*> hostConfigs;  // inner HostConfig and the top level (embedded)
  bool runtimeGiven = false;
  // LogConfig.Config of both HostConfigs: (option, value).
  std::vector<std::pair<std::string, std::string>> logOptions;
};

// Reads a create body as dockerd's ContainerConfigWrapper does (both the inner HostConfig and
// the deprecated top-level one). Error (400): a field of the wrong type, a malformed bind.
Result<CreateBody> readCreateBody(nlohmann::json& body);

struct ServiceBody {
  std::vector<MountReq> mounts;  // TaskTemplate.ContainerSpec.Mounts
  // TaskTemplate.LogDriver.Options: (option, value).
  std::vector<std::pair<std::string, std::string>> logOptions;
};
// swarm service specs (create and update).
Result<ServiceBody> readServiceBody(nlohmann::json& body);

// mount.Mount objects in a JSON array (create's and service's Mounts).
Status readMountArray(nlohmann::json* arr, std::vector<MountReq>& out);

}  // namespace eci::apiproxy::detail
