#include "eci/signing.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "eci/base64.h"
#include "eci/fs_util.h"
#include "json_strict.h"

namespace eci {

struct SigningKey {
  EVP_PKEY* pkey = nullptr;
  ~SigningKey() { EVP_PKEY_free(pkey); }
};

namespace {

using nlohmann::json;

constexpr char kFormat[] = "eci-policy-bundle/1";
constexpr size_t kMaxBundleBytes = 4u << 20;
constexpr size_t kMaxKeyFileBytes = 64u << 10;
constexpr size_t kSignatureBytes = 64;
constexpr size_t kKeyIdHexChars = 16;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// The OpenSSL error queue is per thread; drain it so a later failure does not report a stale
// reason, and return the most recent entry as text.
std::string opensslReason() {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof buf);
  return buf;
}

// Refuses encrypted private keys instead of letting OpenSSL prompt on the terminal.
int noPassphrase(char*, int, int, void*) {
  return -1;
}

std::string hex(const unsigned char* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

bool isRfc3339Utc(const std::string& s) {
  // YYYY-MM-DDTHH:MM:SSZ, the only form signBundle writes.
  static const char kShape[] = "dddd-dd-ddTdd:dd:ddZ";
  if (s.size() != sizeof kShape - 1) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (kShape[i] == 'd') {
      if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    } else if (s[i] != kShape[i]) {
      return false;
    }
  }
  return true;
}

std::string nowRfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  (void)std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string signedBytes(const std::string& canonical) {
  return std::string(kFormat) + "\n" + canonical;
}

Error bundleError(const std::string& what) {
  return Error("policy bundle: " + what);
}

bool isEd25519(EVP_PKEY* pkey) {
  return EVP_PKEY_is_a(pkey, "ED25519") == 1;
}

}  // namespace

KeyPair::KeyPair() = default;
KeyPair::~KeyPair() {
  delete key_;
}
KeyPair::KeyPair(KeyPair&& other) noexcept
    : key_(std::exchange(other.key_, nullptr)), private_(std::exchange(other.private_, false)) {}
KeyPair& KeyPair::operator=(KeyPair&& other) noexcept {
  if (this != &other) {
    delete key_;
    key_ = std::exchange(other.key_, nullptr);
    private_ = std::exchange(other.private_, false);
  }
  return *this;
}

Result<KeyPair> KeyPair::generate() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) {
    return Error("EVP_PKEY_keygen_init(ED25519): " + opensslReason());
  }
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &pkey) <= 0) {
    return Error("EVP_PKEY_keygen(ED25519): " + opensslReason());
  }
  KeyPair kp;
  kp.key_ = new SigningKey{pkey};
  kp.private_ = true;
  return kp;
}

Result<KeyPair> KeyPair::loadPrivate(const std::filesystem::path& pem) {
  ECI_ASSIGN_OR_RETURN(text, fs::readFile(pem, kMaxKeyFileBytes));
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return Error("BIO_new_mem_buf: " + opensslReason());
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr);
  if (pkey == nullptr) {
    return Error("'" + pem.string() + "': not a PEM private key (" + opensslReason() + ")");
  }
  KeyPair kp;
  kp.key_ = new SigningKey{pkey};
  if (!isEd25519(pkey)) return Error("'" + pem.string() + "': not an Ed25519 key");
  kp.private_ = true;
  return kp;
}

Result<KeyPair> KeyPair::publicFromPem(const std::string& text) {
  if (text.size() > kMaxKeyFileBytes) return Error("public key PEM is too large");
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  if (!bio) return Error("BIO_new_mem_buf: " + opensslReason());
  EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio.get(), nullptr, noPassphrase, nullptr);
  if (pkey == nullptr) return Error("not a PEM public key (" + opensslReason() + ")");
  KeyPair kp;
  kp.key_ = new SigningKey{pkey};
  if (!isEd25519(pkey)) return Error("not an Ed25519 public key");
  return kp;
}

Result<KeyPair> KeyPair::loadPublic(const std::filesystem::path& pem) {
  ECI_ASSIGN_OR_RETURN(text, fs::readFile(pem, kMaxKeyFileBytes));
  auto kp = publicFromPem(text);
  if (!kp.ok()) return std::move(kp).error().wrap("'" + pem.string() + "'");
  return kp;
}

Status KeyPair::writeTo(const std::filesystem::path& dir) const {
  if (key_ == nullptr || !private_) return Error("writing key pair: no private key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return Error("BIO_new: " + opensslReason());
  // PKCS#8, unencrypted: the file mode (0600, root) is the protection, as for ssh host keys.
  if (PEM_write_bio_PrivateKey(bio.get(), key_->pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Error("PEM_write_bio_PrivateKey: " + opensslReason());
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  std::string privPem(data, static_cast<size_t>(n));
  ECI_ASSIGN_OR_RETURN(pubPem, publicPem());
  ECI_TRY(fs::makeDirs(dir, 0700));
  ECI_TRY(fs::writeFileAtomic(dir / "eci-policy.key", privPem, 0600));
  // Scrub our copy of the private key bytes.
  OPENSSL_cleanse(privPem.data(), privPem.size());
  ECI_TRY(fs::writeFileAtomic(dir / "eci-policy.pub", pubPem, 0644));
  return {};
}

Result<std::string> KeyPair::publicPem() const {
  if (key_ == nullptr) return Error("no key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return Error("BIO_new: " + opensslReason());
  if (PEM_write_bio_PUBKEY(bio.get(), key_->pkey) != 1) {
    return Error("PEM_write_bio_PUBKEY: " + opensslReason());
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string KeyPair::keyId() const {
  if (key_ == nullptr) return {};
  unsigned char raw[64];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key_->pkey, raw, &len) != 1) {
    ERR_clear_error();
    return {};
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(raw, len, digest);
  return hex(digest, sizeof digest).substr(0, kKeyIdHexChars);
}

bool KeyPair::hasPrivate() const {
  return key_ != nullptr && private_;
}

Result<std::string> KeyPair::sign(const std::string& message) const {
  if (!hasPrivate()) return Error("signing: no private key loaded");
  MdCtxPtr ctx(EVP_MD_CTX_new());
  // Ed25519 is a one-shot scheme: no digest is named, the whole message goes to EVP_DigestSign.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) != 1) {
    return Error("EVP_DigestSignInit(ED25519): " + opensslReason());
  }
  std::string sig(kSignatureBytes, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return Error("EVP_DigestSign(ED25519): " + opensslReason());
  }
  sig.resize(len);
  return sig;
}

bool KeyPair::verify(const std::string& message, const std::string& signature) const {
  if (key_ == nullptr || signature.size() != kSignatureBytes) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey) != 1) {
    ERR_clear_error();
    return false;
  }
  const int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  return rc == 1;
}

Result<std::string> signBundle(const KeyPair& key, const Policy& policy, uint64_t serial) {
  if (!key.hasPrivate()) return Error("signing policy bundle: no private key");
  // 0 is what the enforcer holds before any policy; a bundle with it could never be accepted.
  if (serial == 0) return Error("signing policy bundle: serial must be at least 1");
  json body = {
      {"format", kFormat},    {"serial", serial},          {"issuedAt", nowRfc3339()},
      {"keyId", key.keyId()}, {"policy", policy.toJson()},
  };
  ECI_ASSIGN_OR_RETURN(canonical, internal::dumpJson(body, "signing policy bundle"));
  ECI_ASSIGN_OR_RETURN(sig, key.sign(signedBytes(canonical)));
  body["signature"] = base64::encode(sig);
  ECI_ASSIGN_OR_RETURN(out, internal::dumpJson(body, "signing policy bundle"));
  return out + "\n";
}

Result<Bundle> verifyBundle(const std::string& text, const std::vector<KeyPair>& trusted) {
  if (text.size() > kMaxBundleBytes) {
    return Error(ErrorKind::kTooLarge,
                 "policy bundle: larger than " + std::to_string(kMaxBundleBytes) + " bytes");
  }
  ECI_ASSIGN_OR_RETURN(doc, internal::parseJsonStrict(text, "policy bundle"));
  if (!doc.is_object()) return bundleError("expected a JSON object");
  static const char* const kKeys[] = {"format", "serial", "issuedAt",
                                      "keyId",  "policy", "signature"};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find(std::begin(kKeys), std::end(kKeys), it.key()) == std::end(kKeys)) {
      return bundleError("/" + it.key() + ": unknown key");
    }
  }
  for (const char* k : kKeys) {
    if (!doc.contains(k)) return bundleError(std::string("/") + k + ": missing");
  }
  const auto& format = doc["format"];
  if (!format.is_string()) return bundleError("/format: expected string");
  if (format.get_ref<const std::string&>() != kFormat) {
    return bundleError("/format: unsupported format \"" + format.get<std::string>() +
                       "\" (expected \"" + kFormat + "\")");
  }
  const auto& serial = doc["serial"];
  if (!serial.is_number_unsigned()) return bundleError("/serial: expected unsigned integer");
  if (serial.get<uint64_t>() == 0) return bundleError("/serial: must be at least 1");
  const auto& issuedAt = doc["issuedAt"];
  if (!issuedAt.is_string() || !isRfc3339Utc(issuedAt.get_ref<const std::string&>())) {
    return bundleError("/issuedAt: expected RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  }
  const auto& keyIdJ = doc["keyId"];
  if (!keyIdJ.is_string()) return bundleError("/keyId: expected string");
  const auto& keyId = keyIdJ.get_ref<const std::string&>();
  if (keyId.size() != kKeyIdHexChars || !std::all_of(keyId.begin(), keyId.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
      })) {
    return bundleError("/keyId: expected 16 lowercase hex digits");
  }
  const auto& sigJ = doc["signature"];
  if (!sigJ.is_string()) return bundleError("/signature: expected string");
  auto sig = base64::decode(sigJ.get_ref<const std::string&>());
  if (!sig.ok()) return bundleError("/signature: " + sig.error().message());
  if (sig->size() != kSignatureBytes) {
    return bundleError("/signature: expected " + std::to_string(kSignatureBytes) + " bytes, got " +
                       std::to_string(sig->size()));
  }
  if (!doc["policy"].is_object()) return bundleError("/policy: expected object");

  const KeyPair* key = nullptr;
  for (const auto& k : trusted) {
    if (k.keyId() == keyId) {
      key = &k;
      break;
    }
  }
  if (key == nullptr) {
    return Error("policy bundle: signed by key " + keyId + ", which is not a trusted key");
  }

  json body = doc;
  body.erase("signature");
  ECI_ASSIGN_OR_RETURN(canonical, internal::dumpJson(body, "policy bundle"));
  if (!key->verify(signedBytes(canonical), *sig)) {
    return Error("policy bundle: signature does not verify with trusted key " + keyId);
  }
  // Interpreted only once authenticated; still strict so a signer's bug cannot smuggle keys that
  // one enforcer version ignores and another honours.
  auto policy = Policy::fromJson(doc["policy"]);
  if (!policy.ok()) return std::move(policy).error().wrap("policy bundle");

  Bundle b;
  b.serial = serial.get<uint64_t>();
  b.issuedAt = issuedAt.get<std::string>();
  b.keyId = keyId;
  b.policy = std::move(policy).value();
  return b;
}

Result<std::vector<KeyPair>> loadTrustedKeys(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) return Error(ec.value(), "opendir('" + dir.string() + "')");
  std::vector<std::filesystem::path> files;
  for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (ec) return Error(ec.value(), "readdir('" + dir.string() + "')");
    const auto& p = it->path();
    if (p.extension() != ".pub") continue;
    // Symlinks are followed (admins link keys in from packages); directories are skipped.
    if (!std::filesystem::is_regular_file(p, ec)) continue;
    files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  std::vector<KeyPair> keys;
  for (const auto& f : files) {
    auto kp = KeyPair::loadPublic(f);
    if (!kp.ok())
      return std::move(kp).error().wrap("loading trusted keys from '" + dir.string() + "'");
    keys.push_back(std::move(kp).value());
  }
  return keys;
}

}  // namespace eci
