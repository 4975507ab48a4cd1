// ID token verification against an issuer's JWKS with OpenSSL 3: RS256 and ES256 signatures only
// (no "none", no HMAC, key type must match the algorithm), then iss, aud, exp, nbf and iat with a
// small clock skew. Nothing here logs a token.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"

namespace eci::agent {

class Jwks {
 public:
  Jwks();
  ~Jwks();
  Jwks(Jwks&&) noexcept;
  Jwks& operator=(Jwks&&) noexcept;

  // Keys it cannot use (other kty/crv, use "enc") are skipped; an empty usable set is an error.
  static Result<Jwks> parse(std::string_view text);
  size_t size() const;
  bool hasKid(const std::string& kid) const;

  struct Key;  // defined in jwt.cc (an EVP_PKEY and its kid)
  const std::vector<std::unique_ptr<Key>>& keys() const { return keys_; }

 private:
  std::vector<std::unique_ptr<Key>> keys_;
};

struct VerifyOptions {
  std::string issuer;
  std::string audience;
  int64_t now = 0;  // seconds since the epoch
  int64_t skewSeconds = 60;
};

int64_t unixNow();

// The token's header kid (empty if none), so the caller can refetch a JWKS on an unknown kid.
Result<std::string> tokenKid(std::string_view token);

// Verified claims, or an Error saying which check failed ("ID token: issuer 'x' is not 'y'").
Result<nlohmann::json> verifyIdToken(std::string_view token, const Jwks& jwks,
                                     const VerifyOptions& opts);

}  // namespace eci::agent
