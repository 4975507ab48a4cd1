// The HostFs eci-apiproxyd uses: realpath(3), stat(2), /proc/self/mountinfo, the routing tables
// and interface addresses of the host (the guard runs in the host's network namespace).
// Separate from the pure rules (library eci_apiproxy_hostfs) so the rules stay I/O-free.
#pragma once

#include "eci/apiproxy/decide.h"

namespace eci::apiproxy {

class RealHostFs : public HostFs {
 public:
  // `mountinfo`: where to read mount points from (tests give a fixture).
  // `procNet`: where route and ipv6_route are read from (tests give fixtures); interface
  // addresses come from getifaddrs(3) when it is the real /proc/net.
  explicit RealHostFs(std::string mountinfo = "/proc/self/mountinfo",
                      std::string procNet = "/proc/net")
      : mountinfo_(std::move(mountinfo)), procNet_(std::move(procNet)) {}
  Result<std::string> resolve(const std::string& absPath) const override;
  std::optional<FileId> stat(const std::string& absPath) const override;
  std::vector<std::string> mountsUnder(const std::string& resolvedDir) const override;
  Result<std::vector<HostNetwork>> networks() const override;

 private:
  std::string mountinfo_;
  std::string procNet_;
};

}  // namespace eci::apiproxy
