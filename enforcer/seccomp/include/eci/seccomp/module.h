// The seccomp-notify supervisor as an eci-enforcerd module. It listens on `socketPath` (default:
// seccomp.sock next to the control socket, i.e. /run/eci/seccomp.sock), and every create's grant
// carries modules/seccomp = {"listenerPath": socketPath}, which eci-runc merges into the spec with
// addSeccompFromGrant() (spec.h).
#pragma once

#include <filesystem>
#include <memory>

#include "eci/enforcerd/module.h"

namespace eci::seccomp {

struct ModuleOptions {
  std::filesystem::path socketPath;  // empty: <control socket dir>/seccomp.sock
};

std::unique_ptr<enforcerd::Module> makeModule(ModuleOptions options = {});

}  // namespace eci::seccomp
