// The guard's refusals in the audit log (eci/audit.h): the same facts as its "refused ..." log
// line, sent to eci-enforcerd fire-and-forget. Never blocks the decision, never changes it.
#pragma once

#include <filesystem>
#include <string>

#include "eci/apiproxy/decide.h"

namespace eci::apiproxy {

// What a record says about the refusal itself (a Decision's, or one the bridge made).
struct RefusalFacts {
  std::string rule;
  std::string reason;  // the log's reason, else the client's message
  std::string image;
  std::string command;
};
inline RefusalFacts refusalFactsOf(const Decision& d) {
  return {d.rule, d.reason.empty() ? d.message : d.reason, d.image, d.command};
}

void auditRefusal(const std::filesystem::path& controlSocket, const Request& req,
                  const Caller& caller, const RefusalFacts& f, unsigned status);

}  // namespace eci::apiproxy
