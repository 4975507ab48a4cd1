// libFuzzer: eci-runc's runc command-line parser on arbitrary argv (NUL-separated words).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> argv(1);
  for (size_t i = 0; i < size && argv.size() < 64; ++i) {
    if (data[i] == 0) {
      argv.emplace_back();
    } else {
      argv.back() += static_cast<char>(data[i]);
    }
  }
  auto r = eci::runc::cli::parse(argv);
  if (r.usageError.empty() && r.verbKnown) {
    // What eci-runc hands runc must read back as the same verb, flags and arguments.
    auto again = eci::runc::cli::parse(eci::runc::cli::verbArgvWithBundle(r, "/b"));
    if (again.usageError.empty() && (again.verb != r.verb || again.args != r.args))
      __builtin_trap();
  }
  return 0;
}
