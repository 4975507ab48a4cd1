// The guard's audit records (eci/audit.h): the same facts as its log lines, sent to eci-enforcerd
// fire-and-forget by the gate, within each caller's share (audit_budget.h). Never blocks a
// decision, never changes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
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

// event "refused": one refused request.
nlohmann::json refusalRecord(const Request& req, const Caller& caller, const RefusalFacts& f,
                             unsigned status);

// Whose share a record is charged to (audit_budget.h): the container for a request on its own
// socket (or the socket, before its create has named the container), else the peer's uid.
// Containers are kept apart from uids: one user's containers do not eat into that user's share.
std::string auditCallerKey(const Caller& caller, const std::string& socketToken);

// event "suppressed", rule "audit-share": `count` refusals of the caller `key` were not recorded
// during `over` (over its share, or the guard's senders full).
nlohmann::json suppressedRecord(const std::string& key, uint64_t count,
                                std::chrono::steady_clock::duration over);

// event "reserve-failed", rule "socket-reserve": a restarted guard could not give a container its
// engine socket back (reconcile.h).
nlohmann::json reserveFailureRecord(const std::string& containerId, const std::string& name,
                                    const std::string& image, const std::string& reason);

}  // namespace eci::apiproxy
