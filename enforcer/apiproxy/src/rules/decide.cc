// Stub: every request refused (fail closed) until the rules land. Interface in decide.h.
#include "eci/apiproxy/decide.h"

namespace eci::apiproxy {

std::string commandBlockedMessage(std::string_view requestUri) {
  return "enhanced container isolation: docker command \"" + std::string(requestUri) +
         "\" is blocked; if you wish to allow it, configure the docker socket command list in "
         "the Docker Desktop settings.";
}

Result<ImageFacts> parseImageInspect(std::string_view) {
  return Error("not implemented");
}
Result<ContainerFacts> parseContainerInspect(std::string_view) {
  return Error("not implemented");
}
Result<VolumeFacts> parseVolumeInspect(std::string_view) {
  return Error("not implemented");
}

Decision decide(const Request&, const Caller&, const Policy& policy, const Config&, const Facts&,
                const HostFs&, int) {
  Decision d;
  if (!policy.enabled) {
    d.verdict = Verdict::kAllow;
    return d;
  }
  d.verdict = Verdict::kRefuse;
  d.status = 500;
  d.message = "enhanced container isolation: the engine API guard is not implemented yet";
  d.rule = "stub";
  return d;
}

}  // namespace eci::apiproxy
