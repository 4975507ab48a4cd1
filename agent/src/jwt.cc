#include "eci/agent/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <ctime>

#include "eci/base64.h"

namespace eci::agent {

struct Jwks::Key {
  std::string kid;
  std::string kty;  // "RSA" or "EC"
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

Result<std::string> jsonB64(const nlohmann::json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return Error(std::string("JWK member '") + name + "' missing or not a string");
  }
  return base64::decodeUrl(it->get<std::string>());
}

EVP_PKEY* fromData(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

Result<EVP_PKEY*> rsaKey(const nlohmann::json& jwk) {
  ECI_ASSIGN_OR_RETURN(n, jsonB64(jwk, "n"));
  ECI_ASSIGN_OR_RETURN(e, jsonB64(jwk, "e"));
  // Short moduli are forgeable in practice; OpenID Providers use >= 2048 bits.
  if (n.size() < 256) return Error("JWK RSA modulus shorter than 2048 bits");
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()), int(n.size()), nullptr);
  BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()), int(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  EVP_PKEY* pkey = nullptr;
  if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1) {
    pkey = fromData("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn);
  BN_free(be);
  if (!pkey) return Error("JWK: cannot build an RSA public key");
  return pkey;
}

Result<EVP_PKEY*> ecKey(const nlohmann::json& jwk) {
  auto crv = jwk.value("crv", std::string());
  if (crv != "P-256") return Error("JWK: unsupported EC curve '" + crv + "'");
  ECI_ASSIGN_OR_RETURN(x, jsonB64(jwk, "x"));
  ECI_ASSIGN_OR_RETURN(y, jsonB64(jwk, "y"));
  if (x.size() != 32 || y.size() != 32) return Error("JWK: P-256 coordinates must be 32 bytes");
  std::string point = "\x04" + x + y;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  EVP_PKEY* pkey = nullptr;
  if (bld &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ==
          1) {
    pkey = fromData("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  // fromdata accepts a point off the curve; an explicit public-key check refuses it.
  if (pkey) {
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr);
    const bool valid = c && EVP_PKEY_public_check(c) == 1;
    EVP_PKEY_CTX_free(c);
    if (!valid) {
      EVP_PKEY_free(pkey);
      pkey = nullptr;
    }
  }
  if (!pkey) return Error("JWK: invalid P-256 public key");
  return pkey;
}

Result<nlohmann::json> parseJsonPart(std::string_view b64, const char* what) {
  ECI_ASSIGN_OR_RETURN(raw, base64::decodeUrl(b64));
  auto j = nlohmann::json::parse(raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(std::string("ID token: ") + what + " is not a JSON object");
  }
  return j;
}

struct Parts {
  std::string_view header, payload, signature, signingInput;
};

Result<Parts> split(std::string_view token) {
  if (token.size() > 64 * 1024) return Error("ID token: larger than 64 KiB");
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos) return Error("ID token: not a JWS compact serialisation");
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Error("ID token: not a JWS compact serialisation (expected 3 parts)");
  }
  return Parts{token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1),
               token.substr(0, d2)};
}

Result<int64_t> numericClaim(const nlohmann::json& c, const char* name, bool required) {
  auto it = c.find(name);
  if (it == c.end()) {
    if (required) return Error(std::string("ID token: claim '") + name + "' missing");
    return int64_t{-1};
  }
  if (!it->is_number()) return Error(std::string("ID token: claim '") + name + "' not a number");
  return static_cast<int64_t>(it->get<double>());
}

}  // namespace

int64_t unixNow() {
  return static_cast<int64_t>(::time(nullptr));
}

Jwks::Jwks() = default;
Jwks::~Jwks() = default;
Jwks::Jwks(Jwks&&) noexcept = default;
Jwks& Jwks::operator=(Jwks&&) noexcept = default;
size_t Jwks::size() const {
  return keys_.size();
}
bool Jwks::hasKid(const std::string& kid) const {
  for (const auto& k : keys_)
    if (k->kid == kid) return true;
  return false;
}

Result<Jwks> Jwks::parse(std::string_view text) {
  try {
    if (text.size() > 1u << 20) return Error("JWKS: larger than 1 MiB");
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("keys") || !j["keys"].is_array()) {
      return Error("JWKS: expected an object with a \"keys\" array");
    }
    Jwks out;
    std::string skipped;
    for (const auto& jwk : j["keys"]) {
      if (!jwk.is_object()) continue;
      if (jwk.value("use", std::string("sig")) != "sig") continue;
      auto key = std::make_unique<Key>();
      key->kid = jwk.value("kid", std::string());
      key->kty = jwk.value("kty", std::string());
      Result<EVP_PKEY*> pk = Error("unsupported kty '" + key->kty + "'");
      if (key->kty == "RSA") pk = rsaKey(jwk);
      if (key->kty == "EC") pk = ecKey(jwk);
      if (!pk.ok()) {
        skipped += (skipped.empty() ? "" : "; ") + pk.error().str();
        continue;
      }
      key->pkey = *pk;
      out.keys_.push_back(std::move(key));
    }
    if (out.keys_.empty())
      return Error("JWKS: no usable RS256/ES256 signing key (" + skipped + ")");
    return out;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("ID token/JWKS: unexpected JSON: ") + e.what());
  }
}

Result<std::string> tokenKid(std::string_view token) {
  try {
    ECI_ASSIGN_OR_RETURN(p, split(token));
    ECI_ASSIGN_OR_RETURN(h, parseJsonPart(p.header, "header"));
    auto it = h.find("kid");
    return (it != h.end() && it->is_string()) ? it->get<std::string>() : std::string();
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("ID token/JWKS: unexpected JSON: ") + e.what());
  }
}

Result<nlohmann::json> verifyIdToken(std::string_view token, const Jwks& jwks,
                                     const VerifyOptions& opts) {
  try {
    ECI_ASSIGN_OR_RETURN(p, split(token));
    ECI_ASSIGN_OR_RETURN(header, parseJsonPart(p.header, "header"));
    const std::string alg = header.value("alg", std::string());
    const char* kty = alg == "RS256" ? "RSA" : alg == "ES256" ? "EC" : nullptr;
    // Anything else ("none", HS256 keyed with a public key, ...) is the classic JWT downgrade.
    if (!kty) return Error("ID token: algorithm '" + alg + "' not accepted (RS256 or ES256 only)");
    const std::string kid = header.value("kid", std::string());
    ECI_ASSIGN_OR_RETURN(sig, base64::decodeUrl(p.signature));

    std::string derSig;
    if (alg == "ES256") {
      // JWS carries r||s; OpenSSL verifies DER.
      if (sig.size() != 64) return Error("ID token: ES256 signature must be 64 bytes");
      ECDSA_SIG* es = ECDSA_SIG_new();
      BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), 32, nullptr);
      BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()) + 32, 32, nullptr);
      if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return Error("ID token: bad ES256 signature");
      }
      unsigned char* der = nullptr;
      int len = i2d_ECDSA_SIG(es, &der);
      ECDSA_SIG_free(es);
      if (len <= 0) return Error("ID token: bad ES256 signature");
      derSig.assign(reinterpret_cast<char*>(der), static_cast<size_t>(len));
      OPENSSL_free(der);
    } else {
      derSig = sig;
    }

    bool verified = false;
    bool candidate = false;
    for (const auto& k : jwks.keys()) {
      if (k->kty != kty) continue;
      if (!kid.empty() && !k->kid.empty() && k->kid != kid) continue;
      candidate = true;
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      if (ctx && EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, k->pkey) == 1 &&
          EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(derSig.data()),
                           derSig.size(),
                           reinterpret_cast<const unsigned char*>(p.signingInput.data()),
                           p.signingInput.size()) == 1) {
        verified = true;
      }
      EVP_MD_CTX_free(ctx);
      if (verified) break;
    }
    if (!candidate) {
      return Error("ID token: no key in the issuer's JWKS matches kid '" + kid + "' (" + alg + ")");
    }
    if (!verified) return Error("ID token: signature does not verify against the issuer's JWKS");

    ECI_ASSIGN_OR_RETURN(claims, parseJsonPart(p.payload, "payload"));
    const std::string iss = claims.value("iss", std::string());
    if (iss != opts.issuer) {
      return Error("ID token: issuer '" + iss + "' is not the configured issuer '" + opts.issuer +
                   "'");
    }
    bool audOk = false;
    if (auto it = claims.find("aud"); it != claims.end()) {
      if (it->is_string()) audOk = *it == opts.audience;
      if (it->is_array()) {
        for (const auto& a : *it) audOk = audOk || (a.is_string() && a == opts.audience);
      }
    }
    if (!audOk) {
      return Error("ID token: audience " +
                   (claims.contains("aud") ? claims["aud"].dump() : "(none)") +
                   " does not include '" + opts.audience + "'");
    }
    ECI_ASSIGN_OR_RETURN(exp, numericClaim(claims, "exp", true));
    ECI_ASSIGN_OR_RETURN(iat, numericClaim(claims, "iat", true));
    ECI_ASSIGN_OR_RETURN(nbf, numericClaim(claims, "nbf", false));
    if (opts.now >= exp + opts.skewSeconds) {
      return Error("ID token: expired " + std::to_string(opts.now - exp) + " s ago");
    }
    if (nbf >= 0 && opts.now + opts.skewSeconds < nbf)
      return Error("ID token: not valid yet (nbf)");
    if (iat > opts.now + opts.skewSeconds) return Error("ID token: issued in the future (iat)");
    return claims;
  } catch (const nlohmann::json::exception& e) {
    // A value of an unexpected type (or a number out of range) in input we do not control.
    return Error(std::string("ID token/JWKS: unexpected JSON: ") + e.what());
  }
}

}  // namespace eci::agent
