#include "spec_rewrite.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "eci/fs_util.h"
#include "eci/paths.h"
#include "mount_sources.h"

namespace eci::runc {
namespace {

using nlohmann::json;

constexpr const char* kUserNsReason = "(because they use the linux user-namespace for isolation)";

// Capability numbers from lx/capability.h (0..40 on 6.x).
constexpr std::array<const char*, 41> kCapNames = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

// Docker's default masked and read-only paths (moby oci/defaults.go). `--privileged` and
// `--security-opt systempaths=unconfined` drop them; inside a user namespace most of these are
// still host-global kernel state (kcore, sysrq-trigger, timer_list...), so they are re-applied.
const std::vector<std::string>& maskedPaths() {
  static const std::vector<std::string> k = {
      "/proc/asound",
      "/proc/acpi",
      "/proc/kcore",
      "/proc/keys",
      "/proc/latency_stats",
      "/proc/timer_list",
      "/proc/timer_stats",
      "/proc/sched_debug",
      "/proc/scsi",
      "/sys/firmware",
      "/sys/devices/virtual/powercap",
  };
  return k;
}
const std::vector<std::string>& readonlyPaths() {
  static const std::vector<std::string> k = {
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
  };
  return k;
}

// The device nodes a container gets without --privileged (runc's default set); anything else in
// lx.devices is a host device the container must not reach.
struct StdDevice {
  const char* path;
  int major;
  int minor;
};
constexpr std::array<StdDevice, 8> kStdDevices = {{
    {"/dev/null", 1, 3},
    {"/dev/zero", 1, 5},
    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8},
    {"/dev/urandom", 1, 9},
    {"/dev/tty", 5, 0},
    {"/dev/console", 5, 1},
    {"/dev/ptmx", 5, 2},
}};

json deviceRule(bool allow, const char* type, long major, long minor, const char* access) {
  json r = {{"allow", allow}, {"access", access}};
  if (type != nullptr) r["type"] = type;
  if (major >= 0) r["major"] = major;
  if (minor >= 0) r["minor"] = minor;
  return r;
}

// Docker's default device cgroup: deny everything, allow the standard nodes, mknod of any
// (mknod of a real device fails in a user namespace anyway), the pty devices and tun.
json defaultDeviceCgroup() {
  json rules = json::array();
  rules.push_back(deviceRule(false, nullptr, -1, -1, "rwm"));
  for (const auto& d : kStdDevices) rules.push_back(deviceRule(true, "c", d.major, d.minor, "rwm"));
  rules.push_back(deviceRule(true, "c", -1, -1, "m"));
  rules.push_back(deviceRule(true, "b", -1, -1, "m"));
  rules.push_back(deviceRule(true, "c", 136, -1, "rwm"));  // /dev/pts/*
  rules.push_back(deviceRule(true, "c", 10, 200, "rwm"));  // /dev/net/tun
  return rules;
}

bool isStandardDevice(const json& dev) {
  if (!dev.is_object()) return false;
  const auto path = dev.value("path", std::string());
  const auto type = dev.value("type", std::string());
  if (type != "c") return false;
  const auto major = dev.value("major", -1L);
  const auto minor = dev.value("minor", -1L);
  return std::any_of(kStdDevices.begin(), kStdDevices.end(), [&](const StdDevice& d) {
    return path == d.path && major == d.major && minor == d.minor;
  });
}

Error specError(const std::string& ptr, const std::string& what) {
  return Error("config.json " + ptr + ": " + what);
}

Status ensureObject(json& parent, const char* key, const std::string& ptr) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) {
    parent[key] = json::object();
    return {};
  }
  if (!it->is_object()) return specError(ptr + "/" + key, "expected object");
  return {};
}

Status ensureArray(json& parent, const char* key, const std::string& ptr) {
  auto it = parent.find(key);
  if (it == parent.end() || it->is_null()) {
    parent[key] = json::array();
    return {};
  }
  if (!it->is_array()) return specError(ptr + "/" + key, "expected array");
  return {};
}

std::string joinList(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

// --- namespaces ----------------------------------------------------------------------------

// The pid of "/proc/<pid>/ns/<name>" (what dockerd writes for container:X), or -1.
int procNsPid(const std::string& path) {
  static const std::string kPrefix = "/proc/";
  if (path.compare(0, kPrefix.size(), kPrefix) != 0) return -1;
  size_t i = kPrefix.size();
  long pid = 0;
  const size_t digits = i;
  while (i < path.size() && path[i] >= '0' && path[i] <= '9' && i - digits < 9) {
    pid = pid * 10 + (path[i] - '0');
    ++i;
  }
  if (i == digits || pid <= 0) return -1;
  if (path.compare(i, 4, "/ns/") != 0) return -1;
  const std::string name = path.substr(i + 4);
  if (name.empty() || name.find('/') != std::string::npos) return -1;
  return static_cast<int>(pid);
}

Status rewriteNamespaces(json& lx, const SpecContext& ctx, std::vector<std::string>& notes) {
  ECI_TRY(ensureArray(lx, "namespaces", "/linux"));
  json& nss = lx["namespaces"];
  auto isHost = [&](const std::string& type, const std::string& path) {
    return ctx.isHostNamespace ? ctx.isHostNamespace(type, path) : isHostNamespacePath(type, path);
  };

  std::set<std::string> fresh;   // present without a path
  std::set<std::string> hostNs;  // joined by path to the host's
  std::set<std::string> present;
  std::set<int> strangers;  // /proc/<pid>/ns/* of a process that is no ECI container
  for (size_t i = 0; i < nss.size(); ++i) {
    const json& ns = nss[i];
    const std::string ptr = "/linux/namespaces/" + std::to_string(i);
    if (!ns.is_object()) return specError(ptr, "expected object");
    auto t = ns.find("type");
    if (t == ns.end() || !t->is_string()) return specError(ptr + "/type", "expected string");
    const std::string type = t->get<std::string>();
    auto p = ns.find("path");
    if (p != ns.end() && !p->is_null() && !p->is_string()) {
      return specError(ptr + "/path", "expected string");
    }
    present.insert(type);
    const std::string path = (p != ns.end() && p->is_string()) ? p->get<std::string>() : "";
    if (path.empty()) {
      fresh.insert(type);
    } else if (isHost(type, path)) {
      hostNs.insert(type);
    } else if (type != "user") {
      const int pid = procNsPid(path);
      if (pid > 0 && !ctx.joined.count(pid)) strangers.insert(pid);
    }
  }

  // A namespace missing from the spec is shared with the host (what Docker emits for --pid=host).
  std::vector<std::string> shared;
  for (const char* t : {"pid", "ipc", "uts", "mount"}) {
    if (!present.count(t) || hostNs.count(t)) shared.emplace_back(t);
  }
  if (!shared.empty()) {
    return Error("invalid or unsupported container spec: containers can't share namespaces [" +
                 joinList(shared) + "] with the host " + kUserNsReason);
  }
  if (!present.count("network") || hostNs.count("network")) {
    return Error(
        "invalid or unsupported container spec: containers can't share a network namespace with "
        "the host " +
        std::string(kUserNsReason));
  }
  // Joining another process's namespaces needs its user namespace (it owns them), and eci only
  // hands out the user namespace of another ECI container: the host's, or a process's outside
  // ECI, would give the container the ids and capabilities of that namespace.
  if (!strangers.empty()) {
    return Error(
        "invalid or unsupported container spec: containers can only share namespaces with other "
        "containers under Enhanced Container Isolation (process " +
        std::to_string(*strangers.begin()) + " is not one) " + kUserNsReason);
  }

  // The user namespace is always a fresh one with eci's range, whatever the engine asked for
  // (--userns=host is ignored, as Docker's ECI does); a cgroup namespace is added so the
  // container does not see the host's cgroup paths.
  json out = json::array();
  bool hadUser = false;
  bool hadCgroup = false;
  for (const auto& ns : nss) {
    const std::string type = ns["type"].get<std::string>();
    if (type == "user") {
      hadUser = true;
      continue;
    }
    if (type == "cgroup") {
      if (ns.contains("path") && ns["path"].is_string() &&
          isHost("cgroup", ns["path"].get<std::string>())) {
        notes.emplace_back("cgroup namespace: host namespace replaced by a new one");
        continue;
      }
      hadCgroup = true;
    }
    out.push_back(ns);
  }
  out.push_back({{"type", "user"}});
  if (!ctx.joined.empty()) {
    std::set<std::string> ids;
    for (const auto& [pid, id] : ctx.joined) ids.insert(id);
    notes.push_back("user namespace and uid/gid range shared with container " +
                    joinList(std::vector<std::string>(ids.begin(), ids.end())) +
                    " (its namespaces are joined)");
  } else if (!hadUser) {
    notes.emplace_back("user namespace added (--userns=host is ignored)");
  }
  if (!hadCgroup) {
    out.push_back({{"type", "cgroup"}});
    notes.emplace_back("cgroup namespace added");
  }
  nss = std::move(out);

  const json map =
      json::array({{{"containerID", 0}, {"hostID", ctx.rangeStart}, {"size", ctx.rangeSize}}});
  lx["uidMappings"] = map;
  lx["gidMappings"] = map;
  return {};
}

// --- mounts --------------------------------------------------------------------------------

}  // namespace

bool isBindMount(const json& m) {
  if (m.value("type", std::string()) == "bind") return true;
  auto o = m.find("options");
  if (o == m.end() || !o->is_array()) return false;
  return std::any_of(o->begin(), o->end(),
                     [](const json& s) { return s.is_string() && (s == "bind" || s == "rbind"); });
}

bool isRecursiveBind(const json& m) {
  auto o = m.find("options");
  if (o == m.end() || !o->is_array()) return false;
  return std::any_of(o->begin(), o->end(),
                     [](const json& s) { return s.is_string() && s == "rbind"; });
}

namespace {

// --- privileged containment ----------------------------------------------------------------

Status unionPaths(json& lx, const char* key, const std::vector<std::string>& want,
                  std::vector<std::string>& notes) {
  ECI_TRY(ensureArray(lx, key, "/linux"));
  json& arr = lx[key];
  std::set<std::string> have;
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string()) {
      return specError("/linux/" + std::string(key) + "/" + std::to_string(i), "expected string");
    }
    have.insert(arr[i].get<std::string>());
  }
  std::vector<std::string> added;
  for (const auto& p : want) {
    if (!have.count(p)) {
      arr.push_back(p);
      added.push_back(p);
    }
  }
  if (!added.empty()) notes.push_back(std::string(key) + " re-applied: " + joinList(added));
  return {};
}

// A `p` entry as runc reads it: an absolute path and optional fileMode/uid/gid. Major/minor are
// meaningless for a FIFO and ignored.
Result<std::optional<FifoDevice>> fifoOf(const json& d, const std::string& ptr) {
  if (!d.is_object() || d.value("type", std::string()) != "p") return std::optional<FifoDevice>();
  FifoDevice f;
  auto p = d.find("path");
  if (p == d.end() || !p->is_string()) return specError(ptr + "/path", "expected string");
  f.path = p->get<std::string>();
  if (f.path.empty() || f.path[0] != '/')
    return specError(ptr + "/path", "expected an absolute path, got '" + f.path + "'");
  f.path = normalizePath(f.path);
  if (f.path == "/") return specError(ptr + "/path", "a FIFO cannot be the root");
  auto num = [&](const char* key, uint32_t& out, uint64_t max) -> Status {
    auto it = d.find(key);
    if (it == d.end() || it->is_null()) return {};
    if (!it->is_number_unsigned() || it->get<uint64_t>() > max)
      return specError(ptr + "/" + key, "expected an unsigned number <= " + std::to_string(max));
    out = static_cast<uint32_t>(it->get<uint64_t>());
    return {};
  };
  ECI_TRY(num("fileMode", f.mode, 07777));
  ECI_TRY(num("uid", f.uid, 65535));
  ECI_TRY(num("gid", f.gid, 65535));
  return std::optional<FifoDevice>(std::move(f));
}

Status rewriteDevices(json& lx, std::vector<std::string>& notes, std::vector<FifoDevice>& fifos) {
  ECI_TRY(ensureArray(lx, "devices", "/linux"));
  json kept = json::array();
  std::vector<std::string> dropped;
  for (size_t i = 0; i < lx["devices"].size(); ++i) {
    const json& d = lx["devices"][i];
    ECI_ASSIGN_OR_RETURN(fifo, fifoOf(d, "/linux/devices/" + std::to_string(i)));
    if (fifo) {
      fifos.push_back(std::move(*fifo));
    } else if (isStandardDevice(d)) {
      kept.push_back(d);
    } else {
      dropped.push_back(d.is_object() ? d.value("path", std::string("?")) : "?");
    }
  }
  if (!dropped.empty()) {
    notes.push_back("host devices dropped: " + std::to_string(dropped.size()) + " (" +
                    dropped.front() + (dropped.size() > 1 ? ", ..." : "") + ")");
  }
  lx["devices"] = std::move(kept);

  ECI_TRY(ensureObject(lx, "resources", "/linux"));
  json& res = lx["resources"];
  const json want = defaultDeviceCgroup();
  if (!res.contains("devices") || res["devices"] != want) {
    res["devices"] = want;
    notes.emplace_back("device cgroup limited to the standard devices");
  }
  return {};
}

Status rewriteCapabilities(json& spec, const SpecContext& ctx, std::vector<std::string>& notes) {
  auto p = spec.find("process");
  if (p == spec.end() || p->is_null()) return {};
  if (!p->is_object()) return specError("/process", "expected object");
  auto c = p->find("capabilities");
  if (c == p->end() || c->is_null()) return {};
  if (!c->is_object()) return specError("/process/capabilities", "expected object");
  std::set<std::string> dropped;
  for (auto set = c->begin(); set != c->end(); ++set) {
    if (set->is_null()) continue;
    if (!set->is_array()) {
      return specError("/process/capabilities/" + set.key(), "expected array");
    }
    json kept = json::array();
    for (size_t i = 0; i < set->size(); ++i) {
      const json& cap = (*set)[i];
      if (!cap.is_string()) {
        return specError("/process/capabilities/" + set.key() + "/" + std::to_string(i),
                         "expected string");
      }
      const int n = capabilityNumber(cap.get<std::string>());
      if (n >= 0 && n < 64 && !(ctx.hostCapBounding & (1ULL << n))) {
        dropped.insert(cap.get<std::string>());
        continue;
      }
      kept.push_back(cap);
    }
    *set = std::move(kept);
  }
  if (!dropped.empty()) {
    std::vector<std::string> v(dropped.begin(), dropped.end());
    notes.push_back("capabilities this machine does not have dropped: " + joinList(v));
  }
  return {};
}

// --- fix-ups a user namespace needs --------------------------------------------------------

Status rewriteSysctls(json& lx, const SpecContext& ctx, std::vector<std::string>& notes) {
  auto it = lx.find("sysctl");
  if (it == lx.end() || it->is_null()) return {};
  if (!it->is_object()) return specError("/linux/sysctl", "expected object");
  auto pg = it->find("net.ipv4.ping_group_range");
  if (pg == it->end()) return {};
  if (!pg->is_string())
    return specError("/linux/sysctl/net.ipv4.ping_group_range", "expected string");
  // The kernel refuses a group range with ids unmapped in the netns owner's user namespace;
  // Docker's default "0 2147483647" is therefore clamped to the container's 65536 ids.
  std::istringstream in(pg->get<std::string>());
  long long lo = 0;
  long long hi = 0;
  if (!(in >> lo >> hi)) {
    return specError("/linux/sysctl/net.ipv4.ping_group_range", "expected \"LOW HIGH\"");
  }
  const long long max = static_cast<long long>(ctx.rangeSize) - 1;
  const long long nlo = std::clamp(lo, 0LL, max);
  const long long nhi = std::clamp(hi, 0LL, max);
  const std::string v = std::to_string(nlo) + " " + std::to_string(nhi);
  if (v != pg->get<std::string>()) {
    notes.push_back("net.ipv4.ping_group_range clamped to " + v);
    *pg = v;
  }
  return {};
}

Status rewriteProcess(json& spec, std::vector<std::string>& notes) {
  auto p = spec.find("process");
  if (p == spec.end() || !p->is_object()) return {};
  // Lowering oom_score_adj below the parent's needs CAP_SYS_RESOURCE in the initial user
  // namespace; a container can't be given a score that makes the OOM killer spare it over the host.
  auto o = p->find("oomScoreAdj");
  if (o != p->end() && o->is_number_integer() && o->get<long long>() < 0) {
    notes.push_back("oomScoreAdj " + std::to_string(o->get<long long>()) + " raised to 0");
    *o = 0;
  }
  return {};
}

}  // namespace

int capabilityNumber(const std::string& name) {
  for (size_t i = 0; i < kCapNames.size(); ++i) {
    if (name == kCapNames[i]) return static_cast<int>(i);
  }
  return -1;
}

std::string normalizePath(const std::string& path) {
  return paths::normalize(path);
}

std::string resolveHostPath(const std::string& path) {
  const std::string norm = path.empty() || path[0] != '/' ? "/" + path : path;
  // Not cleaned first: symlinks inside the existing part are followed, so `..` after a symlink is
  // resolved the way the kernel would. A prefix realpath can't resolve counts as missing; nothing
  // resolved: the path itself, normalised.
  auto resolved = fs::realpathWithMissingTail(norm, /*skipUnresolvable=*/true);
  return normalizePath(resolved.ok() ? *resolved : norm);
}

bool isHostNamespacePath(const std::string& type, const std::string& path) {
  static const std::map<std::string, std::string> kProcName = {
      {"pid", "pid"},   {"network", "net"}, {"ipc", "ipc"},       {"uts", "uts"},
      {"mount", "mnt"}, {"user", "user"},   {"cgroup", "cgroup"}, {"time", "time"},
  };
  auto it = kProcName.find(type);
  if (it == kProcName.end()) return false;
  struct stat a {};
  struct stat b {};
  if (::stat(path.c_str(), &a) != 0) return false;
  if (::stat(("/proc/self/ns/" + it->second).c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

uint64_t readCapBounding() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("CapBnd:", 0) == 0) {
      return std::strtoull(line.c_str() + 7, nullptr, 16);
    }
  }
  return ~0ULL;
}

std::vector<int> joinedNamespacePids(const json& spec) {
  std::set<int> pids;
  if (!spec.is_object()) return {};
  auto lx = spec.find("linux");
  if (lx == spec.end() || !lx->is_object()) return {};
  auto nss = lx->find("namespaces");
  if (nss == lx->end() || !nss->is_array()) return {};
  for (const auto& ns : *nss) {
    if (!ns.is_object()) continue;
    auto t = ns.find("type");
    auto p = ns.find("path");
    if (t == ns.end() || !t->is_string() || *t == "user") continue;
    if (p == ns.end() || !p->is_string()) continue;
    const int pid = procNsPid(p->get<std::string>());
    if (pid > 0) pids.insert(pid);
  }
  return {pids.begin(), pids.end()};
}

Result<RewriteResult> rewriteSpec(const nlohmann::json& in, const SpecContext& ctx) {
  RewriteResult r;
  r.spec = in;
  if (!r.spec.is_object()) return specError("/", "expected object");
  if (!ctx.policy.enabled) {
    r.notes.emplace_back("ECI is off by policy: spec unchanged");
    return r;
  }
  if (ctx.rangeSize == 0 || ctx.rangeStart == 0) {
    return Error("no uid/gid range allocated for the container (ECI is on)");
  }
  json& spec = r.spec;
  ECI_TRY(ensureObject(spec, "linux", ""));
  json& lx = spec["linux"];

  ECI_TRY(rewriteNamespaces(lx, ctx, r.notes));
  ECI_TRY(checkMountSources(spec, ctx));  // mount_sources.h: every mount, by the paths it names
  ECI_TRY(unionPaths(lx, "maskedPaths", maskedPaths(), r.notes));
  ECI_TRY(unionPaths(lx, "readonlyPaths", readonlyPaths(), r.notes));
  ECI_TRY(rewriteDevices(lx, r.notes, r.fifos));
  ECI_TRY(rewriteCapabilities(spec, ctx, r.notes));
  ECI_TRY(rewriteSysctls(lx, ctx, r.notes));
  ECI_TRY(rewriteProcess(spec, r.notes));
  if (!ctx.apparmorAvailable) {
    auto p = spec.find("process");
    if (p != spec.end() && p->is_object() && p->contains("apparmorProfile")) {
      p->erase("apparmorProfile");
      r.notes.emplace_back("AppArmor profile cleared (AppArmor is not available)");
    }
  }
  return r;
}

}  // namespace eci::runc
