// libFuzzer target for the audit log's line parser (eci/audit.h): `eci-admin audit` reads lines
// eci-enforcerd wrote, and eci-enforcerd validates records other processes send (fromJson).
// Whatever parses must format back to one bounded line that parses again to the same record.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eci/audit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = eci::audit::parseLine(text);
  if (r.ok()) {
    const std::string line = eci::audit::formatLine(*r);
    if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1 ||
        line.size() > eci::audit::kMaxLineBytes)
      __builtin_trap();
    auto again = eci::audit::parseLine(std::string_view(line).substr(0, line.size() - 1));
    if (!again.ok() || !(*again == *r)) __builtin_trap();
  }
  eci::audit::Filter f;
  f.container = "ab";
  if (r.ok()) (void)f.matches(*r);
  eci::audit::LineSplitter split;
  (void)split.feed(text);
  (void)eci::audit::parseSince(text.substr(0, 40));
  return 0;
}
