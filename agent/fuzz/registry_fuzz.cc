// libFuzzer target: registry.json allowedOrgs extraction and the agent config parser.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eci/agent/config.h"
#include "eci/agent/org_sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  (void)eci::agent::parseRegistryJson(in, "fuzz/registry.json");
  (void)eci::agent::parseAgentConfig(in, "fuzz/agent.json");
  return 0;
}
