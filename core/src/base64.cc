#include "eci/base64.h"

#include <array>
#include <cstdint>

namespace eci::base64 {
namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Character -> 6-bit value, -1 outside the alphabet.
using Table = std::array<int8_t, 256>;
constexpr Table reverse(const char* alphabet) {
  Table t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr Table kStandardValues = reverse(kStandard);
constexpr Table kUrlValues = reverse(kUrl);

std::string encodeWith(std::string_view raw, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<unsigned char>(raw[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(raw[i + 1])} << 8) |
                       uint32_t{static_cast<unsigned char>(raw[i + 2])};
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const size_t rest = raw.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<unsigned char>(raw[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<unsigned char>(raw[i + 1])} << 8;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (rest == 2) out += alphabet[(v >> 6) & 63];
    if (pad) out.append(3 - rest, '=');
  }
  return out;
}

// `name` prefixes every message ("invalid base64: ...", "invalid base64url: ...").
Result<std::string> decodeWith(std::string_view text, const Table& values, bool padRequired,
                               const char* name) {
  auto bad = [name](const std::string& why) {
    return Error(ErrorKind::kInvalidInput, std::string("invalid ") + name + ": " + why);
  };
  if (padRequired && (text.empty() || text.size() % 4 != 0)) {
    return bad("length " + std::to_string(text.size()) + " is not a positive multiple of 4");
  }
  // Padding: '=' only at the end, at most two, and (padded or not) the data characters must be a
  // length an encoder produces: n % 4 == 1 would carry fewer than 8 bits in its last group.
  size_t data = text.size();
  while (data > 0 && text[data - 1] == '=') --data;
  const size_t pad = text.size() - data;
  for (size_t i = 0; i < data; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '=') return bad("data after '=' padding");
    if (values[c] < 0) return bad("unexpected character at offset " + std::to_string(i));
  }
  if (pad > 2) return bad("'=' before the end");  // "a===": more padding than any group has
  if (data % 4 == 1) return bad("length " + std::to_string(data) + " leaves a lone character");
  if (pad > 0 && (data + pad) % 4 != 0) {
    return bad("padding does not complete a group of four");
  }
  std::string out;
  out.reserve(data / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data; ++i) {
    acc = (acc << 6) | static_cast<uint32_t>(values[static_cast<unsigned char>(text[i])]);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The 2 or 4 bits left over belong to no byte; an encoder writes them as zero. Anything else is
  // a second spelling of the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return bad("non-canonical encoding");
  return out;
}

}  // namespace

std::string encode(std::string_view raw) {
  return encodeWith(raw, kStandard, /*pad=*/true);
}

Result<std::string> decode(std::string_view text) {
  return decodeWith(text, kStandardValues, /*padRequired=*/true, "base64");
}

std::string encodeUrl(std::string_view raw) {
  return encodeWith(raw, kUrl, /*pad=*/false);
}

Result<std::string> decodeUrl(std::string_view text) {
  return decodeWith(text, kUrlValues, /*padRequired=*/false, "base64url");
}

}  // namespace eci::base64
