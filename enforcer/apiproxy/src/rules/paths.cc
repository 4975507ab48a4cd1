// Which engine socket a host path reaches, and local volume options (internal.h).
#include "eci/paths.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "eci/apiproxy/request.h"
#include "internal.h"

namespace eci::apiproxy::detail {
namespace {

std::string resolveOrClean(const std::string& p, const HostFs& fs) {
  auto r = fs.resolve(goPathClean(p));
  return r.ok() ? *r : goPathClean(p);
}

bool sameFile(const std::optional<HostFs::FileId>& a, const std::optional<HostFs::FileId>& b) {
  return a && b && a->dev == b->dev && a->ino == b->ino;
}

// The directories above `p` ("/run/docker.sock" -> "/run", "/").
std::vector<std::string> ancestorsOf(const std::string& p) {
  std::vector<std::string> out;
  std::string cur = p;
  while (cur.size() > 1) {
    const auto slash = cur.rfind('/');
    cur = slash == 0 ? "/" : cur.substr(0, slash);
    out.push_back(cur);
  }
  return out;
}

}  // namespace

Result<PathCheck> checkHostPath(const std::string& source, const Config& config, const HostFs& fs) {
  PathCheck pc;
  if (source.empty() || source.front() != '/') {
    return Error(ErrorKind::kInvalidInput,
                 "bind source \"" + source + "\" is not an absolute path");
  }
  // dockerd cleans the source lexically (path.Clean) before mount(2) follows its symlinks.
  auto resolved = fs.resolve(goPathClean(source));
  if (!resolved.ok()) {
    return Error(ErrorKind::kDenied,
                 "cannot resolve bind source \"" + source + "\": " + resolved.error().str());
  }
  pc.resolved = *resolved;
  const auto st = fs.stat(pc.resolved);

  struct Target {
    std::string path;
    Reach exact;
  };
  std::vector<Target> targets;
  targets.push_back({resolveOrClean(config.publicSocket, fs), Reach::kPublicSocket});
  if (!config.privateSocket.empty()) {
    targets.push_back({resolveOrClean(config.privateSocket, fs), Reach::kEngineInternal});
  }
  for (const auto& s : config.otherSockets) {
    if (!s.empty()) targets.push_back({resolveOrClean(s, fs), Reach::kEngineInternal});
  }
  // The exact file: by resolved path, or by (dev, ino) for a hard link.
  for (const auto& t : targets) {
    if (pc.resolved == t.path || sameFile(st, fs.stat(t.path))) {
      pc.reach = t.exact;
      pc.what = t.path;
      return pc;
    }
  }
  if (!config.socketDir.empty()) {
    const std::string dir = resolveOrClean(config.socketDir, fs);
    if (paths::isUnder(pc.resolved, dir)) {
      pc.reach = Reach::kSocketDir;
      pc.what = dir;
      return pc;
    }
    targets.push_back({dir, Reach::kAncestor});
  }
  // A directory holding any of them: by path, or by (dev, ino) for another mount of it, also
  // for mounts below it (binds are recursive).
  std::vector<std::optional<HostFs::FileId>> below;
  if (st && st->isDir) {
    for (const auto& mp : fs.mountsUnder(pc.resolved)) below.push_back(fs.stat(mp));
  }
  for (const auto& t : targets) {
    const auto tst = fs.stat(t.path);
    for (const auto& b : below) {
      if (sameFile(b, tst)) {
        pc.reach = Reach::kAncestor;
        pc.what = t.path;
        return pc;
      }
    }
    for (const auto& a : ancestorsOf(t.path)) {
      const auto ast = fs.stat(a);
      for (const auto& b : below) {
        if (sameFile(b, ast)) {
          pc.reach = Reach::kAncestor;
          pc.what = t.path;
          return pc;
        }
      }
    }
  }
  for (const auto& t : targets) {
    if (paths::isUnder(t.path, pc.resolved)) {
      pc.reach = Reach::kAncestor;
      pc.what = t.path;
      return pc;
    }
    if (st && st->isDir) {
      for (const auto& a : ancestorsOf(t.path)) {
        if (sameFile(st, fs.stat(a))) {
          pc.reach = Reach::kAncestor;
          pc.what = t.path;
          return pc;
        }
      }
    }
  }
  return pc;
}

std::string restrictedHit(const std::string& resolved, const Policy& policy, const Config& config,
                          const HostFs& fs) {
  auto check = [&](const std::string& r) -> std::string {
    const std::string rr = resolveOrClean(r, fs);
    if (paths::isUnder(resolved, rr) || paths::isUnder(rr, resolved)) return r;
    return {};
  };
  for (const auto& r : policy.restrictedHostMounts) {
    if (auto hit = check(r); !hit.empty()) return hit;
  }
  for (const auto& r : config.extraRestricted) {
    if (auto hit = check(r); !hit.empty()) return hit;
  }
  return {};
}

bool optionsShowHostFiles(const std::map<std::string, std::string>& opts) {
  const auto lc = checkLocalVolumeOptions(opts);
  const auto dev = opts.find("device");
  return lc.refuse || !lc.bindDevice.empty() ||
         (dev != opts.end() && !dev->second.empty() && dev->second.front() == '/');
}

bool volumeShowsHostFiles(const VolumeFacts& v) {
  return !isLocalDriver(v.driver) || optionsShowHostFiles(v.options);
}

LocalOptsCheck checkLocalVolumeOptions(const std::map<std::string, std::string>& opts) {
  LocalOptsCheck c;
  auto get = [&](const char* k) -> std::string {
    auto it = opts.find(k);
    return it == opts.end() ? std::string() : it->second;
  };
  const std::string type = get("type");
  const std::string device = get("device");
  const std::string o = get("o");
  bool bind = false;
  std::stringstream ss(o);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    const std::string key = tok.substr(0, tok.find('='));
    if (key == "bind" || key == "rbind") bind = true;
    // remount/move act on an existing mount (the device's) instead of making a new one.
    if (key == "remount" || key == "move" || key == "rmove") {
      c.refuse = true;
      c.reason = "local volume option o=" + key + " is not allowed";
      return c;
    }
    // overlay's lowerdir/upperdir/workdir name host directories.
    if (key == "lowerdir" || key == "upperdir" || key == "workdir") {
      c.refuse = true;
      c.reason = "local volume overlay options (" + key + "=) name host directories";
      return c;
    }
  }
  if (type == "overlay") {
    c.refuse = true;
    c.reason = "local volumes of type overlay name host directories";
    return c;
  }
  if (bind) {
    if (device.empty() || device.front() != '/') {
      c.refuse = true;
      c.reason = "a bind-mounted local volume needs an absolute device path";
      return c;
    }
    c.bindDevice = device;
    return c;
  }
  // Without bind, an absolute device is a block device (or a path) mounted by dockerd as root:
  // the host's disk. Network and memory file systems (nfs ":/export", cifs "//srv/share",
  // tmpfs) do not start with '/'.
  const bool smbShare = (type == "cifs" || type == "smb3") && device.rfind("//", 0) == 0;
  if (!device.empty() && device.front() == '/' && !smbShare) {
    c.refuse = true;
    c.reason = "local volumes may not mount host devices or paths (device=" + device + ")";
  }
  return c;
}

bool logOptionNamesUnixSocket(std::string_view value) {
  // Go's url.Parse: a scheme is a letter then letters, digits, '+', '-' or '.', up to the first
  // ':'; it is compared lowercased. syslog takes unix:// and unixgram://, fluentd unix://; any
  // unix* scheme is refused so a driver added later cannot reach a host socket either. dockerd
  // connects as host root, so such an address would let the caller talk to any host socket
  // (eci-enforcerd's, containerd's, dockerd's private one) past every check of the guard.
  const size_t colon = value.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (!std::isalpha(static_cast<unsigned char>(value[0]))) return false;
  std::string scheme;
  for (size_t i = 0; i < colon; ++i) {
    const auto ch = static_cast<unsigned char>(value[i]);
    if (!std::isalnum(ch) && ch != '+' && ch != '-' && ch != '.') return false;
    scheme += static_cast<char>(std::tolower(ch));
  }
  return scheme.rfind("unix", 0) == 0;
}

}  // namespace eci::apiproxy::detail
