// libFuzzer target: the configuration profile / managed-preferences parser and the Windows
// policy-key value parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eci/agent/org_sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)eci::agent::parseConfigProfile(in, "fuzz.mobileconfig");
  (void)eci::agent::parsePolicyKeyValue(in, "fuzz key");
  return 0;
}
