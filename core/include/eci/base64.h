// Base64 (RFC 4648), the one implementation in eci: the standard alphabet with padding (policy
// bundle signatures, signing.h) and the URL-safe alphabet without padding (JWS/JWT and JWK
// fields, agent/jwt.h).
//
// Decoding is strict in both: a signed or signature-carrying field must have exactly one spelling,
// or an attacker could produce a second valid-looking encoding of the same bytes (a token or bundle
// that compares unequal but verifies). Refused: any character outside the alphabet (no
// whitespace, no line breaks, no mixing of '+/' with '-_'), '=' anywhere but as final padding,
// a length no encoder produces (one character left over after a group of four), and non-zero
// unused bits in the last character (EVP_DecodeBlock ignores them: "AB==" and "AA==" would both
// decode to one zero byte). Failures are ErrorKind::kInvalidInput.
#pragma once

#include <string>
#include <string_view>

#include "eci/error.h"

namespace eci::base64 {

// Standard alphabet ('+', '/'), padded with '=' to a multiple of 4.
std::string encode(std::string_view raw);

// The inverse of encode(): standard alphabet, padding required. Empty text is refused too (its
// length is not a positive multiple of 4): no eci field encodes zero bytes, so an empty one is a
// missing one.
Result<std::string> decode(std::string_view text);

// URL-safe alphabet ('-', '_'), no padding: the "base64url" of RFC 7515 §2 (JWS), which omits
// the trailing '='.
std::string encodeUrl(std::string_view raw);

// The inverse of encodeUrl(). Padding is optional, and that is the one lenience: RFC 7515 §2
// says JWS omits it, but some JWK publishers pad their key parameters; padding, when present,
// must be exactly what completes the last group of four (nothing after it, no more than needed).
// Empty text decodes to empty bytes (an empty JWS payload is legal).
Result<std::string> decodeUrl(std::string_view text);

}  // namespace eci::base64
