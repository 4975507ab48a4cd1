// Test helper: reads an OCI config.json on stdin, applies mergeSeccompIntoSpec, writes it out.
// Usage: eci_seccomp_specgen LISTENER_PATH [METADATA] < in.json > out.json
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "eci/seccomp/spec.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: eci_seccomp_specgen LISTENER_PATH [METADATA] < spec > spec\n";
    return 2;
  }
  std::string in((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  auto spec = nlohmann::json::parse(in, nullptr, false);
  if (spec.is_discarded()) {
    std::cerr << "specgen: stdin is not JSON\n";
    return 1;
  }
  auto r = eci::seccomp::mergeSeccompIntoSpec(spec, argv[1], argc > 2 ? argv[2] : "");
  if (!r.ok()) {
    std::cerr << "specgen: " << r.error().str() << "\n";
    return 1;
  }
  std::cout << spec.dump(2) << "\n";
  return 0;
}
