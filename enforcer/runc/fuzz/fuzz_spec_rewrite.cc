// libFuzzer target: arbitrary config.json bytes through the spec rewrite. Any input must give a
// rewritten spec or an Error — never a crash, an exception or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "spec_rewrite.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  eci::runc::SpecContext ctx;
  ctx.containerId = "c1";
  ctx.bundle = "/bundle";
  ctx.policy = eci::Policy::failClosedDefaults();
  ctx.rangeStart = 100000;
  ctx.engineDataRoot = "/var/lib/docker";
  ctx.hostCapBounding = 0x000001fffeffffffULL;
  ctx.resolve = [](const std::string& p) { return eci::runc::normalizePath(p); };
  // Deterministic host: a fixed mount table, no opts.json, no sockets.
  ctx.hostMounts = [] {
    return eci::parseMountInfo(
        "20 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "40 20 8:1 /etc/docker /var/lib/docker/volumes/b/_data rw - ext4 /dev/sda1 rw\n");
  };
  ctx.readFile = [](const std::string& p) -> eci::Result<std::string> {
    return eci::Error(eci::ErrorKind::kNotFound, "no " + p);
  };
  ctx.isSocket = [](const std::string&) { return false; };
  ctx.isHostNamespace = [](const std::string&, const std::string& p) {
    return p.rfind("/proc/1/", 0) == 0;
  };
  try {
    auto r = eci::runc::rewriteSpec(j, ctx);
    if (r.ok()) (void)r->spec.dump();
  } catch (const nlohmann::json::exception&) {
    // A json type error escaping rewriteSpec is a bug: make it a crash the fuzzer reports.
    __builtin_trap();
  }
  return 0;
}
