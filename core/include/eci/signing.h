// Ed25519 signing of policy bundles (OpenSSL 3 EVP). Format: docs/design/policy-bundle.md.
//
// A bundle is a JSON object
//   {"format": "eci-policy-bundle/1", "serial": <uint64>, "issuedAt": "<RFC 3339 UTC>",
//    "keyId": "<first 16 hex of sha256(raw public key)>", "policy": {...Policy JSON...},
//    "signature": "<base64 of Ed25519 signature>"}
// The signature covers the bytes "eci-policy-bundle/1\n" followed by the canonical serialisation
// (nlohmann dump(), keys sorted, no whitespace) of the object without "signature".
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eci/error.h"
#include "eci/policy.h"

namespace eci {

struct SigningKey;  // opaque EVP_PKEY holder

class KeyPair {
 public:
  KeyPair();
  ~KeyPair();
  KeyPair(KeyPair&&) noexcept;
  KeyPair& operator=(KeyPair&&) noexcept;

  static Result<KeyPair> generate();
  // PEM (PKCS#8 private key / SubjectPublicKeyInfo public key).
  static Result<KeyPair> loadPrivate(const std::filesystem::path& pem);
  static Result<KeyPair> loadPublic(const std::filesystem::path& pem);
  static Result<KeyPair> publicFromPem(const std::string& pem);

  // Writes DIR/eci-policy.key (0600) and DIR/eci-policy.pub (0644) atomically.
  Status writeTo(const std::filesystem::path& dir) const;
  Result<std::string> publicPem() const;
  std::string keyId() const;
  bool hasPrivate() const;

  Result<std::string> sign(const std::string& message) const;  // raw 64-byte signature
  bool verify(const std::string& message, const std::string& signature) const;

 private:
  SigningKey* key_ = nullptr;
  bool private_ = false;
};

struct Bundle {
  uint64_t serial = 0;
  std::string issuedAt;
  std::string keyId;
  Policy policy;
};

// Signs `policy` with `serial`; returns the bundle JSON text.
Result<std::string> signBundle(const KeyPair& key, const Policy& policy, uint64_t serial);

// Parses (bounded: 4 MiB) and verifies a bundle against any of `trusted` keys. Checks format,
// keyId match, signature and policy shape. Does NOT check the serial against previous ones (the
// caller keeps that state).
Result<Bundle> verifyBundle(const std::string& text, const std::vector<KeyPair>& trusted);

// Loads every *.pub in `dir` (e.g. /etc/eci/trusted-keys).
Result<std::vector<KeyPair>> loadTrustedKeys(const std::filesystem::path& dir);

}  // namespace eci
