#include "audit_refusal.h"

#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"

namespace eci::apiproxy {

namespace {
constexpr const char* kUidKey = "uid:";
constexpr const char* kContainerKey = "container:";
constexpr const char* kSocketKey = "socket:";

bool startsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}
}  // namespace

nlohmann::json refusalRecord(const Request& req, const Caller& caller, const RefusalFacts& f,
                             unsigned status) {
  using nlohmann::json;
  // The container acting (a request on its own engine socket) is the record's container; the
  // container a request names (exec, start, ...) or a create's --name is its name.
  std::string name;
  if (auto n = normalizeRequest(req); n.ok()) {
    if (auto q = n->queryValue("name"); q && n->path == "/containers/create") {
      name = *q;
    } else if (n->path.rfind("/containers/", 0) == 0) {
      RouteMatch m = matchRoute(n->method, n->path);
      if (m.spec && !m.vars.empty()) name = m.vars[0];
    }
  }
  json extra = {{"method", req.method},
                {"target", req.target.substr(0, 256)},
                {"command", f.command},
                {"status", status}};
  if (caller.uid != static_cast<uid_t>(-1)) extra["uid"] = caller.uid;
  return json{{"source", "eci-apiproxyd"},
              {"event", "refused"},
              {"container", caller.perContainerSocket ? caller.containerId : std::string()},
              {"name", name},
              {"image", f.image},
              {"rule", f.rule},
              {"reason", f.reason},
              {"extra", std::move(extra)}};
}

std::string auditCallerKey(const Caller& caller, const std::string& socketToken) {
  if (caller.perContainerSocket) {
    if (!caller.containerId.empty()) return kContainerKey + caller.containerId;
    return kSocketKey + socketToken;
  }
  // uid -1 (no peer credentials) is one caller too: such callers share one share.
  return kUidKey + std::to_string(static_cast<long long>(static_cast<int>(caller.uid)));
}

nlohmann::json suppressedRecord(const std::string& key, uint64_t count,
                                std::chrono::steady_clock::duration over) {
  using nlohmann::json;
  const long long secs =
      std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(over).count());
  std::string container;
  std::string who;
  json extra = {{"count", count}, {"seconds", secs}};
  if (startsWith(key, kContainerKey)) {
    container = key.substr(std::string(kContainerKey).size());
    who = "container " + container.substr(0, 12) + "'s socket";
  } else if (startsWith(key, kUidKey)) {
    const std::string uid = key.substr(std::string(kUidKey).size());
    who = "uid " + uid;
    // eci-enforcerd keys its own rate limit on extra.uid: the summary counts against the
    // flooder's bucket there, never another caller's.
    if (uid != "-1") extra["uid"] = std::stoll(uid);
  } else if (startsWith(key, kSocketKey)) {
    // Never the token itself: its random name is what keeps the socket private.
    who = "a container socket whose create has not finished";
  } else {
    who = "callers beyond the guard's table of callers";
  }
  return json{
      {"source", "eci-apiproxyd"},
      {"event", "suppressed"},
      {"container", container},
      {"name", ""},
      {"image", ""},
      {"rule", "audit-share"},
      {"reason", std::to_string(count) + " refusals from " + who + " not recorded in " +
                     std::to_string(secs) + " s: over its share of the guard's audit records"},
      {"extra", std::move(extra)}};
}

nlohmann::json reserveFailureRecord(const std::string& containerId, const std::string& name,
                                    const std::string& image, const std::string& reason) {
  return nlohmann::json{{"source", "eci-apiproxyd"},
                        {"event", "reserve-failed"},
                        {"container", containerId},
                        {"name", name},
                        {"image", image},
                        {"rule", "socket-reserve"},
                        {"reason", reason},
                        {"extra", nlohmann::json::object()}};
}

}  // namespace eci::apiproxy
