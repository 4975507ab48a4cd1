#include "mount_sources.h"

#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "eci/fs_util.h"
#include "eci/paths.h"

namespace eci::runc {
namespace {

using nlohmann::json;
using paths::isUnder;

std::string resolveWith(const SpecContext& ctx, const std::string& p) {
  return ctx.resolve ? ctx.resolve(p) : resolveHostPath(p);
}

Result<std::vector<MountEntry>> hostMountsOf(const SpecContext& ctx) {
  return ctx.hostMounts ? ctx.hostMounts() : readMountInfo();
}

Result<std::string> readSmall(const SpecContext& ctx, const std::string& path) {
  return ctx.readFile ? ctx.readFile(path) : fs::readFile(path, 64u << 10);
}

bool isSocketAt(const SpecContext& ctx, const std::string& path) {
  if (ctx.isSocket) return ctx.isSocket(path);
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool fileExists(const SpecContext& ctx, const std::string& path) {
  if (ctx.readFile) return ctx.readFile(path).ok();
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Filesystem types whose source is a name, not a host path, and which show no host files: the
// ones the engine's own spec uses, plus tmpfs-like volumes.
bool isVirtualFs(const std::string& type) {
  static const char* const kTypes[] = {"proc",   "sysfs",   "tmpfs", "devpts", "mqueue",
                                       "cgroup", "cgroup2", "ramfs", "shm"};
  return std::any_of(std::begin(kTypes), std::end(kTypes),
                     [&](const char* t) { return type == t; });
}

bool isHex32(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// "<data-root>/volumes/<name>/_data[/...]" -> "<data-root>/volumes/<name>", else "".
std::string volumeDirOf(const std::string& src, const std::string& dataRoot) {
  if (dataRoot.empty()) return {};
  const std::string volumes = dataRoot + "/volumes/";
  if (src.compare(0, volumes.size(), volumes) != 0) return {};
  const auto slash = src.find('/', volumes.size());
  if (slash == std::string::npos || slash == volumes.size()) return {};
  const std::string rest = src.substr(slash);
  if (rest != "/_data" && rest.compare(0, 7, "/_data/") != 0) return {};
  return src.substr(0, slash);
}

std::string resolvedDataRoot(const SpecContext& ctx) {
  if (ctx.engineDataRoot.empty() || ctx.engineDataRoot[0] != '/') return {};
  return resolveWith(ctx, ctx.engineDataRoot);
}

// The engine's own files for this container (and the network/ipc files of a container whose
// namespaces it joins): what dockerd binds for hosts, hostname, resolv.conf and /dev/shm.
bool isEngineFile(const std::string& src, const SpecContext& ctx, const std::string& dataRoot) {
  if (dataRoot.empty()) return false;
  const std::string mine = dataRoot + "/containers/" + ctx.containerId;
  if (!ctx.containerId.empty() && ctx.containerId.find('/') == std::string::npos &&
      ctx.containerId != "." && ctx.containerId != ".." && isUnder(src, mine)) {
    return true;
  }
  // Only those containers and only these names; the rest of X's directory (config, logs) and
  // every other container stay closed.
  for (const auto& [pid, id] : ctx.joined) {
    if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos) continue;
    const std::string theirs = dataRoot + "/containers/" + id;
    if (src == theirs + "/hosts" || src == theirs + "/hostname" || src == theirs + "/resolv.conf" ||
        isUnder(src, theirs + "/mounts/shm")) {
      return true;
    }
  }
  // BuildKit (inside dockerd) binds the resolv.conf and hosts files it generates for RUN steps
  // from <data-root>/buildkit/executor/. Only those names, directly in that directory: the same
  // directory also holds other builds' bundles (their rootfs), which stay closed.
  const std::string executor = dataRoot + "/buildkit/executor/";
  if (src.compare(0, executor.size(), executor) == 0) {
    const std::string name = src.substr(executor.size());
    if (name.find('/') == std::string::npos &&
        (name == "resolv.conf" || name == "hosts" || name.rfind("hosts", 0) == 0)) {
      return true;
    }
  }
  return false;
}

// Absolute paths of `lists`, each both as written and resolved (/var/run/docker.sock is
// /run/docker.sock): the form a source is compared in is then irrelevant.
std::vector<std::string> rootsOf(const SpecContext& ctx,
                                 std::initializer_list<const std::vector<std::string>*> lists) {
  std::vector<std::string> out;
  for (const auto* list : lists) {
    for (const auto& p : *list) {
      if (p.empty() || p[0] != '/') continue;
      out.push_back(paths::normalize(p));
      out.push_back(resolveWith(ctx, p));
    }
  }
  return out;
}

std::vector<std::string> restrictedRoots(const SpecContext& ctx) {
  // The guard's socket dir: one container's socket is allowed (checkBindSource), the directory or
  // a parent of it would reach every container's socket.
  const std::vector<std::string> engine = {ctx.engineDataRoot, ctx.guardSocketDir};
  return rootsOf(ctx, {&ctx.policy.restrictedHostMounts, &ctx.extraRestricted, &engine});
}

std::vector<std::string> allowedRoots(const SpecContext& ctx) {
  return rootsOf(ctx,
                 {&builtinFileSharingDirectories(), &ctx.policy.fileSharingAllowedDirectories});
}

// The File sharing rule for a host path that is none of the engine's exceptions.
Status checkHostPath(const std::string& written, const std::string& src, const SpecContext& ctx) {
  for (const auto& r : restrictedRoots(ctx)) {
    // Under a restricted path, or a parent of one (-v /etc:/mnt reaches /etc/docker).
    if (isUnder(src, r) || isUnder(r, src)) return Error(restrictedMountMessage(written));
  }
  for (const auto& a : allowedRoots(ctx)) {
    if (isUnder(src, a)) return {};
  }
  return Error(restrictedMountMessage(written));
}

Status checkPathList(const std::vector<std::string>& list, const SpecContext& ctx) {
  for (const auto& p : list) {
    ECI_TRY(checkHostPath(p, resolveWith(ctx, p), ctx));
  }
  return {};
}

// Every option "key=/abs/path" of a mount that is no overlay (e.g. loop=, a future path option):
// the path is checked like a source.
Result<std::vector<std::string>> pathOptions(const json& m) {
  std::vector<std::string> out;
  auto o = m.find("options");
  if (o == m.end() || o->is_null()) return out;
  if (!o->is_array()) return Error("expected array of options");
  for (const auto& opt : *o) {
    if (!opt.is_string()) return Error("expected string options");
    const std::string s = opt.get<std::string>();
    const auto eq = s.find('=');
    if (eq == std::string::npos) continue;
    const std::string v = s.substr(eq + 1);
    if (!v.empty() && v[0] == '/') out.push_back(v);
  }
  return out;
}

// A named volume: plain directory (allowed) or a mount the local driver made from its options,
// which must obey the same rule as a bind of what it shows.
Status checkVolume(const std::string& written, const std::string& volDir, const SpecContext& ctx) {
  const std::string data = volDir + "/_data";
  // The kernel's view first: what is mounted at _data, and which host directory it shows.
  ECI_ASSIGN_OR_RETURN(table, hostMountsOf(ctx));
  if (const MountEntry* m = topMountAt(table, data)) {
    if (m->fstype == "overlay") {
      auto list = overlayPaths(m->superOptions, /*fromMountinfo=*/true);
      if (!list.ok()) return Error(restrictedMountMessage(written));
      ECI_TRY(checkPathList(*list, ctx));
    } else {
      const auto hosts = hostPathsOfMount(table, *m);
      for (const auto& host : hosts) ECI_TRY(checkHostPath(host, host, ctx));
      if (hosts.empty() && !isVirtualFs(m->fstype) && !m->source.empty() && m->source[0] == '/') {
        // A filesystem mounted only here from a host path (a block device): the path decides.
        ECI_TRY(checkHostPath(m->source, resolveWith(ctx, m->source), ctx));
      }
    }
  }
  // The engine's record as a second opinion (it is also what the next mount of it will do).
  const std::string optsPath = volDir + "/opts.json";
  if (fileExists(ctx, optsPath)) {
    auto text = readSmall(ctx, optsPath);
    if (!text.ok()) return Error(restrictedMountMessage(written));
    auto opts = parseVolumeOpts(*text);
    if (!opts.ok()) return Error(restrictedMountMessage(written));
    auto list = volumeOptsPaths(*opts);
    if (!list.ok()) return Error(restrictedMountMessage(written));
    ECI_TRY(checkPathList(*list, ctx));
  }
  return {};
}

// A local volume whose _data shows host files: a bind (o=bind, device=<dir>), overlay layers, or
// a filesystem mounted from a host path. What the container writes there lands in those host
// directories, so for contract 4 it is a host bind and gets the caller's mapping: with the
// container's mapping, container root would write as host root into e.g. another user's home.
// Same two views as checkVolume (the kernel's mount at _data, then opts.json); anything that
// cannot be read counts as host, the stricter mapping.
bool volumeShowsHostFiles(const std::string& volDir, const SpecContext& ctx) {
  auto table = hostMountsOf(ctx);
  if (!table.ok()) return true;
  if (const MountEntry* m = topMountAt(*table, volDir + "/_data")) {
    if (m->fstype == "overlay" || !hostPathsOfMount(*table, *m).empty()) return true;
    if (!isVirtualFs(m->fstype) && !m->source.empty() && m->source[0] == '/') return true;
  }
  const std::string optsPath = volDir + "/opts.json";
  if (!fileExists(ctx, optsPath)) return false;
  auto text = readSmall(ctx, optsPath);
  if (!text.ok()) return true;
  auto opts = parseVolumeOpts(*text);
  if (!opts.ok()) return true;
  auto list = volumeOptsPaths(*opts);
  return !list.ok() || !list->empty();
}

// `docker run --init`: dockerd binds its tini (found in its PATH, e.g. /usr/bin/docker-init)
// read-only at /sbin/docker-init. Only that shape: a file named docker-init under /usr, read-only,
// at that destination. It shows a public program and nothing else.
bool isEngineInit(const json& m, const std::string& resolved) {
  auto d = m.find("destination");
  if (d == m.end() || !d->is_string() || *d != "/sbin/docker-init") return false;
  auto o = m.find("options");
  if (o == m.end() || !o->is_array() ||
      std::none_of(o->begin(), o->end(), [](const json& v) { return v.is_string() && v == "ro"; }))
    return false;
  const auto slash = resolved.rfind('/');
  return isUnder(resolved, "/usr") && slash != std::string::npos &&
         resolved.substr(slash + 1) == "docker-init";
}

std::vector<std::string> splitOptions(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string_view::npos) j = s.size();
    out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string restrictedMountMessage(const std::string& path) {
  return "can't mount " + path + " because it's configured as a restricted host mount";
}

Result<std::vector<std::string>> overlayPaths(std::string_view data, bool fromMountinfo) {
  std::vector<std::string> out;
  auto addPath = [&](const std::string& key, const std::string& p) -> Status {
    if (p.empty() || p[0] != '/') {
      return Error("overlay option " + key + " names a relative or empty path '" + p + "'");
    }
    out.push_back(p);
    return {};
  };
  auto isOct = [](char ch) { return ch >= '0' && ch <= '7'; };
  for (const auto& opt : splitOptions(data)) {
    const auto eq = opt.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = opt.substr(0, eq);
    const std::string raw = opt.substr(eq + 1);
    // Split on unescaped ':' exactly as the kernel does (ovl_unescape: a backslash takes the next
    // character literally, whatever it is), so "a\\:/etc" is two layers here too. mountinfo
    // shows special characters as octal escapes instead, which are decoded (never separators).
    const bool list = key == "lowerdir" || key == "lowerdir+" || key == "datadir+";
    std::vector<std::string> parts;
    std::string cur;
    for (size_t i = 0; i < raw.size(); ++i) {
      const char ch = raw[i];
      if (ch == '\\' && i + 1 < raw.size()) {
        if (fromMountinfo && i + 3 < raw.size() && raw[i + 1] <= '3' && isOct(raw[i + 1]) &&
            isOct(raw[i + 2]) && isOct(raw[i + 3])) {
          cur += static_cast<char>((raw[i + 1] - '0') * 64 + (raw[i + 2] - '0') * 8 +
                                   (raw[i + 3] - '0'));
          i += 3;
        } else {
          cur += raw[i + 1];
          ++i;
        }
      } else if (list && ch == ':') {
        parts.push_back(cur);  // "::" (data-only layers): an empty part, skipped below
        cur.clear();
      } else {
        cur += ch;
      }
    }
    parts.push_back(cur);
    if (list) {
      bool any = false;
      for (const auto& p : parts) {
        if (p.empty()) continue;
        any = true;
        ECI_TRY(addPath(key, p));
      }
      if (!any) return Error("overlay option " + key + " names no layer");
    } else if (key == "upperdir" || key == "workdir" || (!parts[0].empty() && parts[0][0] == '/')) {
      // upperdir, workdir, and any other option whose value is a path.
      ECI_TRY(addPath(key, parts[0]));
    }
  }
  return out;
}

Result<VolumeOpts> parseVolumeOpts(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error("volume opts.json: not a JSON object");
  VolumeOpts v;
  for (const auto& [key, field] :
       {std::pair{"MountType", &v.type}, {"MountOpts", &v.opts}, {"MountDevice", &v.device}}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    if (!it->is_string()) return Error(std::string("volume opts.json: ") + key + ": not a string");
    *field = it->get<std::string>();
  }
  return v;
}

Result<std::vector<std::string>> volumeOptsPaths(const VolumeOpts& v) {
  std::vector<std::string> out;
  if (v.type == "overlay") {
    ECI_ASSIGN_OR_RETURN(list, overlayPaths(v.opts));
    out = std::move(list);
  } else {
    // Paths among the options too (o=loop=/x, a future path option).
    for (const auto& opt : splitOptions(v.opts)) {
      const auto eq = opt.find('=');
      if (eq != std::string::npos && eq + 1 < opt.size() && opt[eq + 1] == '/') {
        out.push_back(opt.substr(eq + 1));
      }
    }
  }
  // device= names a host path for a bind (o=bind/rbind, type none) or a block device; for
  // network filesystems it is "server:/export" (not absolute), which shows no host files.
  if (!v.device.empty() && v.device[0] == '/') out.push_back(v.device);
  return out;
}

std::vector<std::string> hostPathsOfMount(const std::vector<MountEntry>& table,
                                          const MountEntry& m) {
  // Other mounts of the same filesystem whose root contains m's root, outside m itself: m shows
  // <that mount point>/<m.root minus its root>. Every mount of the filesystem's own root ("/")
  // names it (all must pass the rule: a second mount of the disk under /mnt must not make
  // /etc/docker look shared); without one, the shortest path through a bind of a sub-tree.
  std::vector<std::string> ofRoot;
  std::string shortest;
  for (const auto& e : table) {
    if (&e == &m || e.id == m.id) continue;
    if (e.major != m.major || e.minor != m.minor) continue;
    if (!paths::isUnder(m.root, e.root)) continue;
    if (isUnder(e.mountPoint, m.mountPoint)) continue;  // a mount below m
    const std::string rest = m.root.substr(e.root == "/" ? 0 : e.root.size());
    const std::string host = paths::normalize(e.mountPoint + "/" + rest);
    if (e.root == "/") ofRoot.push_back(host);
    if (shortest.empty() || host.size() < shortest.size()) shortest = host;
  }
  if (!ofRoot.empty()) return ofRoot;
  if (!shortest.empty()) return {shortest};
  if (m.root != "/" && !m.root.empty()) {
    // A bind of a filesystem mounted nowhere else in our view (its own mount is hidden): still a
    // sub-tree of a host filesystem; name it by its root so the rule refuses what is not shared.
    return {paths::normalize(m.root)};
  }
  return {};
}

SourceKind classifyBindSource(const std::string& src, const SpecContext& ctx) {
  const std::string dataRoot = resolvedDataRoot(ctx);
  if (isEngineFile(src, ctx, dataRoot)) return SourceKind::kEngineFile;
  if (const std::string vol = volumeDirOf(src, dataRoot); !vol.empty()) {
    return volumeShowsHostFiles(vol, ctx) ? SourceKind::kHost : SourceKind::kNamedVolume;
  }
  if (!ctx.guardSocketDir.empty() && isUnder(src, resolveWith(ctx, ctx.guardSocketDir))) {
    return SourceKind::kGuardSocket;
  }
  return SourceKind::kHost;
}

Status checkBindSource(const std::string& written, const std::string& src, const SpecContext& ctx) {
  const std::string dataRoot = resolvedDataRoot(ctx);
  if (isEngineFile(src, ctx, dataRoot)) return {};
  if (const std::string vol = volumeDirOf(src, dataRoot); !vol.empty()) {
    return checkVolume(written, vol, ctx);
  }
  if (!ctx.guardSocketDir.empty() && ctx.guardSocketDir[0] == '/') {
    const std::string dir = resolveWith(ctx, ctx.guardSocketDir);
    if (isUnder(src, dir) && src != dir) {
      // Contract 3: exactly <dir>/<32 hex token>/docker.sock, and a unix socket.
      const std::string rest = src.substr(dir == "/" ? 1 : dir.size() + 1);
      const auto slash = rest.find('/');
      if (slash != std::string::npos && isHex32(rest.substr(0, slash)) &&
          rest.substr(slash) == "/docker.sock" && isSocketAt(ctx, src)) {
        return {};
      }
      return Error(restrictedMountMessage(written));
    }
  }
  return checkHostPath(written, src, ctx);
}

Status checkOpenedBind(const json& mount, const std::string& written, const std::string& opened,
                       const SpecContext& ctx) {
  if (isEngineInit(mount, opened)) return {};
  return checkBindSource(written, opened, ctx);
}

Status checkMountSources(const json& spec, const SpecContext& ctx) {
  auto it = spec.find("mounts");
  if (it == spec.end() || it->is_null()) return {};
  if (!it->is_array()) return Error("config.json /mounts: expected array");
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string ptr = "config.json /mounts/" + std::to_string(i);
    if (!m.is_object()) return Error(ptr + ": expected object");
    auto t = m.find("type");
    if (t != m.end() && !t->is_null() && !t->is_string())
      return Error(ptr + "/type: expected string");
    const std::string type = t != m.end() && t->is_string() ? t->get<std::string>() : "";
    auto s = m.find("source");
    if (s != m.end() && !s->is_null() && !s->is_string()) {
      return Error(ptr + "/source: expected string");
    }
    const std::string source = s != m.end() && s->is_string() ? s->get<std::string>() : "";
    auto opts = pathOptions(m);
    if (!opts.ok()) return Error(ptr + "/options: " + opts.error().str());

    if (isBindMount(m)) {
      if (s == m.end() || !s->is_string()) return Error(ptr + "/source: expected string");
      std::string abs = source;
      if (abs.empty() || abs[0] != '/') abs = ctx.bundle + "/" + abs;
      const std::string resolved = resolveWith(ctx, abs);
      if (isEngineInit(m, resolved)) continue;
      ECI_TRY(checkBindSource(source, resolved, ctx));
      ECI_TRY(checkPathList(*opts, ctx));
      continue;
    }
    if (type == "overlay") {
      // Every layer is a host directory the container would read (lower) or write (upper, work).
      std::string data;
      if (auto o = m.find("options"); o != m.end() && o->is_array()) {
        for (const auto& opt : *o) data += (data.empty() ? "" : ",") + opt.get<std::string>();
      }
      auto list = overlayPaths(data);
      if (!list.ok()) return Error(list.error().str());
      ECI_TRY(checkPathList(*list, ctx));
      continue;
    }
    if (isVirtualFs(type)) {
      ECI_TRY(checkPathList(*opts, ctx));
      continue;
    }
    // A type eci does not know: a path-like source (a block device, a directory) is refused
    // outright; a name ("server:/export", "none") is left to the kernel, options still checked.
    if (!source.empty() && (source[0] == '/' || source[0] == '.')) {
      return Error(restrictedMountMessage(source));
    }
    ECI_TRY(checkPathList(*opts, ctx));
  }
  return {};
}

}  // namespace eci::runc
