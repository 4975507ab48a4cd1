// libFuzzer target: the guard's request framing (raw head checks, Beast parse, framing rules,
// chunked body) on arbitrary bytes. Must never crash, hang or accept a request whose head it
// could not parse.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eci/apiproxy/framing.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t consumed = 0;
  auto r = eci::apiproxy::parseAndCheck(in, &consumed);
  if (r && (r->status < 400 || r->status > 599)) __builtin_trap();
  if (!r && consumed > in.size()) __builtin_trap();
  return 0;
}
