// RealHostFs (real_host_fs.h).
#include "eci/apiproxy/real_host_fs.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "eci/apiproxy/host_networks.h"
#include "eci/apiproxy/request.h"
#include "eci/fs_util.h"
#include "eci/mountinfo.h"
#include "eci/paths.h"

namespace eci::apiproxy {

Result<std::string> RealHostFs::resolve(const std::string& absPath) const {
  if (absPath.empty() || absPath.front() != '/') {
    return Error(ErrorKind::kInvalidInput, "resolve('" + absPath + "')", "not an absolute path");
  }
  // Clean first: with no "." or ".." left, a missing tail can be appended lexically (a path
  // that does not exist has no symlinks to follow; dockerd creates it as directories). Any
  // realpath failure but ENOENT is an error: the guard refuses what it cannot resolve.
  return fs::realpathWithMissingTail(goPathClean(absPath));
}

std::optional<HostFs::FileId> RealHostFs::stat(const std::string& absPath) const {
  struct stat st {};
  if (::stat(absPath.c_str(), &st) != 0) return std::nullopt;
  return FileId{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                S_ISDIR(st.st_mode), S_ISSOCK(st.st_mode)};
}

std::vector<std::string> RealHostFs::mountsUnder(const std::string& dir) const {
  std::vector<std::string> out;
  auto text = fs::readFile(mountinfo_, 16u << 20);
  if (!text.ok()) return out;
  auto table = parseMountInfo(*text);  // core's parser: the one every eci check uses
  if (!table.ok()) return out;
  for (auto& m : table.value()) {
    if (m.mountPoint.empty() || m.mountPoint.front() != '/' || m.mountPoint == dir) continue;
    if (paths::isUnder(m.mountPoint, dir)) out.push_back(std::move(m.mountPoint));
  }
  return out;
}

namespace {

unsigned prefixOf(const uint8_t* mask, size_t len) {
  unsigned n = 0;
  for (size_t i = 0; i < len; ++i) n += static_cast<unsigned>(__builtin_popcount(mask[i]));
  return n;
}

}  // namespace

Result<std::vector<HostNetwork>> RealHostFs::networks() const {
  // Routes: IPv4's main table and every IPv6 table. Any read or parse failure is an error: the
  // create is refused rather than checked against half the routes.
  auto v4 = fs::readFile(procNet_ + "/route", 4u << 20);
  if (!v4.ok()) return std::move(v4).error();
  auto out = parseProcNetRoute(*v4);
  if (!out.ok()) return std::move(out).error();
  // A kernel without IPv6 has no ipv6_route: no IPv6 routes then.
  if (auto v6 = fs::readFile(procNet_ + "/ipv6_route", 4u << 20); v6.ok()) {
    auto r6 = parseProcNetIpv6Route(*v6);
    if (!r6.ok()) return std::move(r6).error();
    out->insert(out->end(), r6->begin(), r6->end());
  } else if (v6.error().code() != ENOENT) {
    return std::move(v6).error();
  }
  if (procNet_ != "/proc/net") return out;
  // Interface addresses: IPv4's local table (127.0.0.0/8 on lo, each address) is not in
  // /proc/net/route.
  struct ifaddrs* ifs = nullptr;
  if (::getifaddrs(&ifs) != 0) return Error::fromErrno("getifaddrs()");
  for (auto* i = ifs; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_netmask == nullptr) continue;
    HostNetwork h;
    h.device = i->ifa_name != nullptr ? i->ifa_name : "";
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      const auto* m = reinterpret_cast<const sockaddr_in*>(i->ifa_netmask);
      std::memcpy(h.addr.data(), &a->sin_addr, 4);
      h.prefixLen = prefixOf(reinterpret_cast<const uint8_t*>(&m->sin_addr), 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      const auto* m = reinterpret_cast<const sockaddr_in6*>(i->ifa_netmask);
      h.v6 = true;
      std::memcpy(h.addr.data(), &a->sin6_addr, 16);
      h.prefixLen = prefixOf(reinterpret_cast<const uint8_t*>(&m->sin6_addr), 16);
    } else {
      continue;
    }
    out->push_back(std::move(h));
  }
  ::freeifaddrs(ifs);
  return out;
}

}  // namespace eci::apiproxy
