// The engine API guard's decision: a PURE function of (request, caller, policy, facts) that says
// whether eci-apiproxyd forwards a request to dockerd, forwards a rewritten one, refuses it, or
// must first fetch facts (image/container/volume inspects) and ask again. No I/O happens here:
// host paths are looked at through the HostFs interface the daemon implements (tests use fakes),
// engine facts arrive pre-fetched in Facts. docs/design/apiproxy-rules.md explains every rule.
//
// Daemon loop (per request, after the head is read):
//   Decision d = decide(req, caller, policy, config, facts, hostFs);
//   while (d.verdict == kNeedBody || d.verdict == kNeedFacts) {
//     kNeedBody:  read the body (it is small JSON; > d.maxBody bytes -> 413, never forward) and
//                 set req.body; kNeedFacts: fetch every item of d.need on the PRIVATE socket
//                 into facts (404 -> store std::nullopt), then decide() again.
//   }                       (at most kMaxRounds rounds; decide() refuses past that: fail closed)
//   kAllow: forward as is (body streamed if it was not read). kRewrite: forward d.body instead
//   (fix Content-Length; drop Transfer-Encoding). kRefuse: answer d.status with
//   Content-Type exactly "application/json" and body {"message": d.message}; log d.rule/d.reason.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eci/error.h"
#include "eci/policy.h"

namespace eci::apiproxy {

// ---- Input ---------------------------------------------------------------------------------

struct Request {
  std::string method;  // as sent (case-sensitive, like Go's mux)
  std::string target;  // the raw request-target, exactly as sent ("/v1.41/containers/json?all=1")
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  // -1: chunked / unknown length; 0: no body; else Content-Length. The daemon's HTTP parser has
  // already refused CL+TE, repeated CL, obs-fold, non-chunked TE.
  int64_t contentLength = 0;
  // Set by the daemon after decide() answered kNeedBody (the whole body, <= Decision::maxBody).
  std::optional<std::string> body;
};

struct Caller {
  uid_t uid = static_cast<uid_t>(-1);  // SO_PEERCRED of the client (public socket)
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  // The connection arrived on a per-container socket (contract 3) served for this container.
  bool perContainerSocket = false;
  std::string containerId;  // that container (empty on the public socket)
  std::string imageId;      // its image ID ("sha256:...") as recorded at create
  // Host paths that container itself has bind-mounted (its HostConfig binds / bind Mounts
  // sources): a request on its socket may only bind host paths under one of these.
  std::vector<std::string> containerBindSources;
};

// Where the engine sockets are (from eci-apiproxyd's config / the harness).
struct Config {
  std::string publicSocket = "/run/docker.sock";  // the guard's (what users bind)
  std::string privateSocket = "/run/eci/dockerd.sock";
  std::vector<std::string> otherSockets = {"/run/containerd/containerd.sock"};  // never mountable
  std::string socketDir = "/run/eci-apiproxy/sockets";  // per-container sockets (contract 3)
  // Extra paths no volume device= may bind (the engine data-root, ...), besides the policy's
  // restrictedHostMounts.
  std::vector<std::string> extraRestricted = {"/var/lib/docker", "/var/lib/containerd"};
  // 32 lowercase hex digits the daemon generated for this request; used if the decision gives a
  // container its own socket (Decision::socket). Must be fresh per request.
  std::string freshToken;
};

// A network the host's own namespace routes: a route's destination or an interface's address
// with its prefix (host_networks.h reads and parses them).
struct HostNetwork {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // network byte order; IPv4 in the first 4 bytes
  unsigned prefixLen = 0;          // 0: a default route
  std::string device;              // interface, for the message ("" unknown)
};

// Host facts, implemented by the daemon with realpath(3)/stat(2)/procfs (tests: fakes).
class HostFs {
 public:
  struct FileId {
    uint64_t dev = 0;
    uint64_t ino = 0;
    bool isDir = false;
    bool isSocket = false;
  };
  virtual ~HostFs() = default;
  // Every symlink resolved (like realpath(3)); a missing tail is appended lexically after the
  // longest existing prefix is resolved (dockerd creates missing -v sources). Error: refuse.
  virtual Result<std::string> resolve(const std::string& absPath) const = 0;
  // stat(2) following symlinks; std::nullopt when the path does not exist.
  virtual std::optional<FileId> stat(const std::string& absPath) const = 0;
  // Mount points strictly below `resolvedDir` (from /proc/self/mountinfo). Binds are recursive
  // (rbind): a mount of /run (or of the socket) below a bound directory comes along with it.
  // Default: none (a daemon without mountinfo relies on eci-runc's OCI-level check).
  virtual std::vector<std::string> mountsUnder(const std::string& resolvedDir) const {
    (void)resolvedDir;
    return {};
  }
  // The host network namespace's routes (every table the kernel lists) and interface addresses.
  // Error: cannot be read; a network create is then refused (fail closed).
  virtual Result<std::vector<HostNetwork>> networks() const {
    return Error("host networks: this HostFs cannot read the host's routes");
  }
};

// GET /images/{ref}/json, reduced.
struct ImageFacts {
  std::string id;                        // "sha256:<config digest>"
  std::vector<std::string> repoTags;     // "docker:cli"
  std::vector<std::string> repoDigests;  // "docker@sha256:..." (normalised or not; we normalise)
  std::vector<std::string> layers;       // RootFS.Layers
};
// GET /containers/{id}/json, reduced.
struct ContainerFacts {
  std::string id;
  std::string image;      // .Image: the image ID
  std::string imageName;  // .Config.Image: as the user named it
  struct Mount {
    std::string type;    // bind | volume | tmpfs | npipe
    std::string source;  // host path (bind; for volumes the volume's _data path)
    std::string name;    // volume name
    std::string driver;  // volume driver
  };
  std::vector<Mount> mounts;  // .Mounts
};
// GET /volumes/{name}, reduced.
struct VolumeFacts {
  std::string name;
  std::string driver;
  std::map<std::string, std::string> options;  // .Options (local: type, o, device)
};

// GET /networks/{id}, reduced: what a `--config-from` network takes from it.
struct NetworkFacts {
  std::string name;
  std::vector<std::string> prefixes;  // IPAM.Config[].Subnet, IPRange, Gateway (non-empty ones)
};

Result<ImageFacts> parseImageInspect(std::string_view json);
// GET /images/json (Id, RepoTags, RepoDigests; no layers).
Result<std::vector<ImageFacts>> parseImageList(std::string_view json);
Result<ContainerFacts> parseContainerInspect(std::string_view json);
Result<VolumeFacts> parseVolumeInspect(std::string_view json);
Result<NetworkFacts> parseNetworkInspect(std::string_view json);

struct Facts {
  // Keyed by the exact string given in Need::images / containers / volumes.
  // std::nullopt = dockerd answered 404 (does not exist).
  std::map<std::string, std::optional<ImageFacts>> images;
  std::map<std::string, std::optional<ContainerFacts>> containers;
  std::map<std::string, std::optional<VolumeFacts>> volumes;
  std::map<std::string, std::optional<NetworkFacts>> networks;
  // The registry's current digest for "repo:tag" keys of Need::registryDigests (from the
  // daemon's cache, GET /distribution/{repo:tag}/json); "" = unknown (registry unreachable).
  std::map<std::string, std::string> registryDigests;
  // GET /images/json, when Need::imageList asked for it (allowDerivedImages: which local images
  // are allowed parents).
  std::optional<std::vector<ImageFacts>> localImages;
};

// ---- Output --------------------------------------------------------------------------------

struct Need {
  std::vector<std::string> images;           // GET /images/{ref}/json
  std::vector<std::string> containers;       // GET /containers/{id}/json
  std::vector<std::string> volumes;          // GET /volumes/{name}
  std::vector<std::string> networks;         // GET /networks/{id}
  std::vector<std::string> registryDigests;  // "docker.io/library/docker:cli"
  bool imageList = false;                    // GET /images/json -> Facts::localImages
  bool empty() const {
    return images.empty() && containers.empty() && volumes.empty() && networks.empty() &&
           registryDigests.empty() && !imageList;
  }
};

// A per-container socket to serve (contract 3): the create body's socket bind was rewritten to
// `path` (= <socketDir>/<token>/docker.sock). The daemon creates that listener before forwarding,
// ties it to the id dockerd answers, and removes it if the create fails.
struct SocketGrant {
  std::string token;
  std::string path;
  std::string image;  // normalised image reference the grant was made for
};

enum class Verdict { kAllow, kRewrite, kRefuse, kNeedBody, kNeedFacts };

struct Decision {
  Verdict verdict = Verdict::kRefuse;
  // kRefuse
  int status = 0;
  std::string message;  // the client-visible message (Docker's exact text where it has one)
  std::string rule;     // short rule name for the log ("socket-mount", "command-list", ...)
  std::string reason;   // longer reason for the log
  // kRewrite: the body to forward instead
  std::string body;
  std::optional<SocketGrant> socket;
  // kNeedBody
  size_t maxBody = 0;
  // kNeedFacts
  Need need;
  // Always (when the route is known): the docker CLI command name the request maps to ("push"),
  // the normalised route ("POST /images/{name}/push") and, for logs, the container's image.
  std::string command;
  std::string route;
  std::string image;
  // Set for a create/start that passed: the caller identity the daemon records (contract 4).
  bool recordsCaller = false;
  // kAllow/kRewrite of a create or start: bind sources (path-cleaned) that do not exist and that
  // dockerd would create at start, as host root (`-v` binds, `--mount` with CreateMountpoint).
  // The daemon creates them first as the person it acts for (mkdir -p with their ids) so they
  // are that person's, and refuses if that person could not create them.
  std::vector<std::string> missingBindSources;
};

constexpr size_t kMaxInspectedBody = 4u << 20;  // 4 MiB: larger inspected JSON -> 413
constexpr int kMaxRounds = 8;

// ECI off (policy.enabled == false): always kAllow.
Decision decide(const Request& req, const Caller& caller, const Policy& policy,
                const Config& config, const Facts& facts, const HostFs& fs, int round = 0);

// Docker's message for a command refused by the command list (quotes `requestUri` as sent).
std::string commandBlockedMessage(std::string_view requestUri);

}  // namespace eci::apiproxy
