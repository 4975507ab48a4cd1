// libFuzzer target: the desktop.plist parser (pugixml) must never crash, hang or leak on any input.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eci/agent/org_sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = eci::agent::parseDesktopPlist(in, "fuzz.plist");
  if (r.ok() && *r) {
    for (const auto& o : **r) (void)eci::agent::checkOrgName(o, "fuzz");
  }
  return 0;
}
