// libFuzzer target for eci/base64.h, the decoder under policy-bundle signatures and JWT/JWK fields.
// Beyond "no crash": strict decoding means one spelling per byte string, so whatever decodes must
// encode back to exactly the input (for base64url, the input without its optional padding). A
// second accepted spelling traps.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eci/base64.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto d = eci::base64::decode(text); d.ok()) {
    if (eci::base64::encode(*d) != text) __builtin_trap();
  }
  if (auto u = eci::base64::decodeUrl(text); u.ok()) {
    std::string_view unpadded = text;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.remove_suffix(1);
    if (eci::base64::encodeUrl(*u) != unpadded) __builtin_trap();
  }
  return 0;
}
