// productUuid (values.h), apart from values.cc: it is the only part of the emulation's value code
// that needs libcrypto, and eci-runc, which links the rest, must not load libcrypto on every call
// (a dynamic load costs milliseconds of each runtime call on the development VM).
#include <openssl/evp.h>

#include <array>
#include <string>
#include <string_view>

#include "eci/procfs/values.h"

namespace eci::procfs {

std::string productUuid(std::string_view containerId) {
  static constexpr std::string_view kNamespace = "eci.procfs.product_uuid";
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned mdLen = 0;
  std::string input(kNamespace);
  input.push_back('\0');
  input.append(containerId);
  EVP_Digest(input.data(), input.size(), md.data(), &mdLen, EVP_sha256(), nullptr);
  md[6] = static_cast<unsigned char>((md[6] & 0x0f) | 0x50);
  md[8] = static_cast<unsigned char>((md[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

}  // namespace eci::procfs
