// libFuzzer target: untrusted request heads and bodies through the guard's parsers
// (normalizeRequest, route matching, Go-compatible JSON, create/service body readers). Any input
// must give a value or an Error: never a crash, an exception or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"
#include "internal.h"

using namespace eci::apiproxy;  // NOLINT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  // "<method> <target>\n<content-type>\n<body>"
  const auto nl1 = in.find('\n');
  const std::string line = in.substr(0, nl1);
  const std::string rest = nl1 == std::string::npos ? "" : in.substr(nl1 + 1);
  const auto nl2 = rest.find('\n');
  Request r;
  const auto sp = line.find(' ');
  r.method = line.substr(0, sp);
  r.target = sp == std::string::npos ? "" : line.substr(sp + 1);
  r.headers.emplace_back("Content-Type", rest.substr(0, nl2));
  const std::string body = nl2 == std::string::npos ? "" : rest.substr(nl2 + 1);
  try {
    auto n = normalizeRequest(r);
    if (n.ok()) {
      auto m = matchRoute(n->method, n->path);
      if (m.spec != nullptr && m.command.empty()) __builtin_trap();
      (void)n->queryValue("networkmode");
    }
    (void)percentDecode(r.target, true);
    (void)goPathClean(r.target);
    (void)muxCleanPath(r.target);
    auto j = parseGoJson(body);
    if (j.ok()) {
      nlohmann::json copy = *j;
      auto cb = detail::readCreateBody(copy);
      if (cb.ok()) {
        for (auto* hc : cb->hostConfigs) goEraseField(*hc, "Runtime");
        (void)copy.dump();
      }
      nlohmann::json svc = *j;
      (void)detail::readServiceBody(svc);
    }
    (void)parseImageInspect(body);
    (void)parseImageList(body);
    (void)parseContainerInspect(body);
    (void)parseVolumeInspect(body);
  } catch (...) {
    __builtin_trap();  // an exception escaping the parsers is a bug
  }
  return 0;
}
