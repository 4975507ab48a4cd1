// The guard's refusals in the audit log (eci/audit.h): the same facts as its "refused ..." log
// line, sent to eci-enforcerd fire-and-forget. Never blocks the decision, never changes it.
#pragma once

#include <filesystem>

#include "eci/apiproxy/decide.h"

namespace eci::apiproxy {

void auditRefusal(const std::filesystem::path& controlSocket, const Request& req,
                  const Caller& caller, const Decision& d, unsigned status);

}  // namespace eci::apiproxy
