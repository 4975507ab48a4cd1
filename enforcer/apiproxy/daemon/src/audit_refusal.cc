#include "audit_refusal.h"

#include <nlohmann/json.hpp>

#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"
#include "eci/enforcer_client.h"

namespace eci::apiproxy {

void auditRefusal(const std::filesystem::path& controlSocket, const Request& req,
                  const Caller& caller, const RefusalFacts& f, unsigned status) {
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
  json rec = {{"source", "eci-apiproxyd"},
              {"event", "refused"},
              {"container", caller.perContainerSocket ? caller.containerId : std::string()},
              {"name", name},
              {"image", f.image},
              {"rule", f.rule},
              {"reason", f.reason},
              {"extra", std::move(extra)}};
  enforcer::sendAuditDetached(controlSocket, std::move(rec), std::chrono::milliseconds(1000));
}

}  // namespace eci::apiproxy
