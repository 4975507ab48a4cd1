// The OCI spec (config.json) rewrite eci-runc applies on `create`: a pure function from the
// engine's spec + the enforcer's grant to the spec the real runc runs, or a refusal whose message
// the user sees as `OCI runtime create failed: error in the container spec: <message>`.
//
// Pure: everything it needs from the host (path resolution, which namespaces are the host's, the
// machine's capability bounding set, AppArmor) comes in through SpecContext, so every rule is unit
// tested and fuzzed without a container engine.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eci/error.h"
#include "eci/mountinfo.h"
#include "eci/policy.h"

namespace eci::runc {

// Prefix runc-shaped errors carry; containerd puts it after "OCI runtime create failed: ".
inline constexpr const char* kSpecErrorPrefix = "error in the container spec: ";

struct SpecContext {
  std::string containerId;
  std::string bundle;  // relative bind sources are relative to it (as runc does)
  Policy policy;
  uint32_t rangeStart = 0;  // host id container root maps to
  uint32_t rangeSize = 65536;
  std::string engineDataRoot;                // e.g. /var/lib/docker; restricted as a whole
  std::vector<std::string> extraRestricted;  // e.g. a non-default engine socket (eci-runc flag)
  uint64_t hostCapBounding = ~0ULL;          // CapBnd of eci-runc (bit n = capability n)
  bool apparmorAvailable = false;
  // Host path resolution (symlinks and `..`); a missing tail is kept lexically. Default: realpath
  // on the longest existing prefix.
  std::function<std::string(const std::string&)> resolve;
  // True if `path` names the host's (eci-runc's own) namespace of `type` ("pid", "network", ...).
  // Default: compares st_dev/st_ino with /proc/self/ns/<kind>.
  std::function<bool(const std::string& type, const std::string& path)> isHostNamespace;
  // Other ECI containers whose namespaces the spec joins (--pid/--ipc/--network=container:X):
  // pid from the spec's `/proc/<pid>/ns/<type>` path -> that container's id, as eci-runc found it
  // (see joinedNamespacePids). The new container then runs in their user namespace, and
  // rangeStart/rangeSize must be that namespace's range. A `/proc/<pid>/ns/*` path whose pid is
  // not here is refused: never join an arbitrary process's namespaces.
  std::map<int, std::string> joined;

  // Bind-source rules (mount_sources.h). The guard's per-container engine sockets (contract 3):
  // a source under this directory is allowed only as a unix socket at <32 hex>/docker.sock.
  std::string guardSocketDir = "/run/eci-apiproxy/sockets";
  // The host's mount table (to see what a volume's _data really shows). Default: readMountInfo().
  std::function<Result<std::vector<MountEntry>>()> hostMounts;
  // A small host file (a volume's opts.json). Default: fs::readFile, at most 64 KiB.
  std::function<Result<std::string>(const std::string&)> readFile;
  // `path` (resolved) is a unix socket. Default: lstat.
  std::function<bool(const std::string&)> isSocket;
};

// A FIFO (`type: p`) of linux.devices. runc mknods it without a user namespace, but in one it
// bind-mounts the HOST's node at the entry's path instead (any host file, not only a FIFO), so
// rewriteSpec takes these entries out of linux.devices and eci-runc makes each FIFO itself (in the
// container's private state dir, owned by the mapped uid/gid) and binds it at `path`.
struct FifoDevice {
  std::string path;  // absolute, in the container
  uint32_t mode = 0666;
  uint32_t uid = 0;  // container ids
  uint32_t gid = 0;
};

struct RewriteResult {
  nlohmann::json spec;
  std::vector<std::string> notes;  // what was changed and why (logged by eci-runc)
  std::vector<FifoDevice> fifos;   // removed from linux.devices; eci-runc provides them
};

// ECI on: applies every rule of docs/design/eci-runc.md; ECI off: returns the spec unchanged.
// A refusal is an Error whose message is the user-visible text (without kSpecErrorPrefix).
Result<RewriteResult> rewriteSpec(const nlohmann::json& spec, const SpecContext& ctx);

// The restricted-host-mount rule for one bind source: `written` as the user gave it (used in the
// message), `resolved` the host path it really names (symlinks and `..` resolved). eci-runc calls
// it again on the path the ID-mapped bind actually opened, so a symlink swapped in between the
// check and the mount is caught.
Status checkBindSource(const std::string& written, const std::string& resolved,
                       const SpecContext& ctx);
bool isBindMount(const nlohmann::json& mount);
// A bind with the `rbind` option: its submounts are part of it (Docker's -v uses rbind).
bool isRecursiveBind(const nlohmann::json& mount);

// The pids of `/proc/<pid>/ns/<type>` paths in linux.namespaces (user namespace entries ignored:
// eci replaces them), sorted, without duplicates. Malformed entries are skipped (rewriteSpec
// reports them).
std::vector<int> joinedNamespacePids(const nlohmann::json& spec);

// Lexical normalisation of an absolute path ("/a/./b/../c/" -> "/a/c").
std::string normalizePath(const std::string& path);
// Default resolver used when SpecContext::resolve is empty.
std::string resolveHostPath(const std::string& path);
// Default host namespace check used when SpecContext::isHostNamespace is empty.
bool isHostNamespacePath(const std::string& type, const std::string& path);
// CapBnd of the calling process from /proc/self/status (all bits set if it can't be read).
uint64_t readCapBounding();
// Capability name ("CAP_SYS_ADMIN") -> number, or -1 if unknown.
int capabilityNumber(const std::string& name);

}  // namespace eci::runc
