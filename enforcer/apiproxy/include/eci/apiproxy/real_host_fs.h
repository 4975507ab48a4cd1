// The HostFs eci-apiproxyd uses: realpath(3), stat(2) and /proc/self/mountinfo of the host.
// Separate from the pure rules (library eci_apiproxy_hostfs) so the rules stay I/O-free.
#pragma once

#include "eci/apiproxy/decide.h"

namespace eci::apiproxy {

class RealHostFs : public HostFs {
 public:
  // `mountinfo`: where to read mount points from (tests give a fixture).
  explicit RealHostFs(std::string mountinfo = "/proc/self/mountinfo")
      : mountinfo_(std::move(mountinfo)) {}
  Result<std::string> resolve(const std::string& absPath) const override;
  std::optional<FileId> stat(const std::string& absPath) const override;
  std::vector<std::string> mountsUnder(const std::string& resolvedDir) const override;

 private:
  std::string mountinfo_;
};

// Mount points (field 5, octal escapes decoded) of a mountinfo text.
std::vector<std::string> mountPointsOf(std::string_view mountinfo);

}  // namespace eci::apiproxy
