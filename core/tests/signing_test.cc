#include "eci/signing.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace eci {
namespace {

using nlohmann::json;

Policy samplePolicy() {
  Policy p = Policy::failClosedDefaults();
  p.socketMountImages = {"docker.io/library/docker:cli"};
  p.commandList.commands = {"push"};
  p.allowedOrgs = {"myorg"};
  p.inputsDigest = "sha256:abcd";
  return p;
}

class SigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = KeyPair::generate();
    ASSERT_TRUE(k.ok()) << k.error().str();
    key_ = std::move(k).value();
    auto pem = key_.publicPem();
    ASSERT_TRUE(pem.ok());
    auto pub = KeyPair::publicFromPem(*pem);
    ASSERT_TRUE(pub.ok()) << pub.error().str();
    trusted_.push_back(std::move(pub).value());
    auto b = signBundle(key_, samplePolicy(), 7);
    ASSERT_TRUE(b.ok()) << b.error().str();
    bundle_ = *b;
  }

  // Re-serialises a modified bundle (its signature left as is).
  std::string mutated(const std::function<void(json&)>& f) const {
    json j = json::parse(bundle_);
    f(j);
    return j.dump();
  }

  std::string verifyError(const std::string& text) const {
    auto r = verifyBundle(text, trusted_);
    EXPECT_FALSE(r.ok()) << "bundle unexpectedly verified";
    return r.ok() ? std::string() : r.error().str();
  }

  KeyPair key_;
  std::vector<KeyPair> trusted_;
  std::string bundle_;
};

TEST_F(SigningTest, KeyIdIs16HexOfPublicKeyAndStable) {
  const std::string id = key_.keyId();
  ASSERT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(trusted_[0].keyId(), id);
  EXPECT_TRUE(key_.hasPrivate());
  EXPECT_FALSE(trusted_[0].hasPrivate());
  auto other = KeyPair::generate();
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->keyId(), id);
}

TEST_F(SigningTest, RawSignVerify) {
  auto sig = key_.sign("message");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(trusted_[0].verify("message", *sig));
  EXPECT_FALSE(trusted_[0].verify("messagE", *sig));
  EXPECT_FALSE(trusted_[0].verify("message", sig->substr(0, 63)));
  EXPECT_FALSE(trusted_[0].sign("x").ok());  // public only
}

TEST_F(SigningTest, SignedBundleVerifies) {
  auto r = verifyBundle(bundle_, trusted_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->serial, 7u);
  EXPECT_EQ(r->keyId, key_.keyId());
  EXPECT_EQ(r->policy, samplePolicy());
  EXPECT_EQ(r->issuedAt.size(), 20u);
  EXPECT_EQ(r->issuedAt.back(), 'Z');
}

TEST_F(SigningTest, SignatureCoversDocumentedCanonicalBytes) {
  json j = json::parse(bundle_);
  const std::string sigB64 = j["signature"];
  j.erase("signature");
  const std::string message = "eci-policy-bundle/1\n" + j.dump();
  // Decode with a tiny independent decoder so the test does not reuse the code under test.
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string raw;
  unsigned buf = 0;
  int bits = 0;
  for (char c : sigB64) {
    if (c == '=') break;
    buf = (buf << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  ASSERT_EQ(raw.size(), 64u);
  EXPECT_TRUE(trusted_[0].verify(message, raw));
}

TEST_F(SigningTest, PrettyPrintedBundleStillVerifies) {
  // Whitespace and key order of the transport text do not matter; the canonical bytes do.
  auto r = verifyBundle(json::parse(bundle_).dump(2), trusted_);
  EXPECT_TRUE(r.ok()) << r.error().str();
}

TEST_F(SigningTest, TamperedPolicyRefused) {
  const auto msg = verifyError(mutated([](json& j) { j["policy"]["enabled"] = false; }));
  EXPECT_NE(msg.find("signature does not verify"), std::string::npos) << msg;
}

TEST_F(SigningTest, TamperedRestrictedMountsRefused) {
  const auto msg =
      verifyError(mutated([](json& j) { j["policy"]["restrictedHostMounts"] = json::array(); }));
  EXPECT_NE(msg.find("signature does not verify"), std::string::npos) << msg;
}

TEST_F(SigningTest, TamperedSerialRefused) {
  const auto msg = verifyError(mutated([](json& j) { j["serial"] = 8; }));
  EXPECT_NE(msg.find("signature does not verify"), std::string::npos) << msg;
}

TEST_F(SigningTest, TamperedSignatureRefused) {
  const auto msg = verifyError(mutated([](json& j) {
    std::string s = j["signature"];
    s[10] = s[10] == 'A' ? 'B' : 'A';
    j["signature"] = s;
  }));
  EXPECT_NE(msg.find("signature does not verify"), std::string::npos) << msg;
}

TEST_F(SigningTest, WrongKeyRefused) {
  auto other = KeyPair::generate();
  ASSERT_TRUE(other.ok());
  std::vector<KeyPair> wrong;
  wrong.push_back(std::move(other).value());
  auto r = verifyBundle(bundle_, wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("not a trusted key"), std::string::npos) << r.error().str();
}

TEST_F(SigningTest, ForgedKeyIdPointingAtTrustedKeyRefused) {
  // An attacker signs with their own key but claims the trusted key's id.
  auto attacker = KeyPair::generate();
  ASSERT_TRUE(attacker.ok());
  auto forged = signBundle(*attacker, samplePolicy(), 1000);
  ASSERT_TRUE(forged.ok());
  json j = json::parse(*forged);
  j["keyId"] = key_.keyId();
  const auto msg = verifyError(j.dump());
  EXPECT_NE(msg.find("signature does not verify"), std::string::npos) << msg;
}

TEST_F(SigningTest, KeyIdMismatchRefused) {
  const auto msg = verifyError(mutated([](json& j) { j["keyId"] = "0123456789abcdef"; }));
  EXPECT_NE(msg.find("0123456789abcdef, which is not a trusted key"), std::string::npos) << msg;
  const auto msg2 = verifyError(mutated([](json& j) { j["keyId"] = "XYZ"; }));
  EXPECT_NE(msg2.find("/keyId: expected 16 lowercase hex digits"), std::string::npos) << msg2;
}

TEST_F(SigningTest, TruncatedRefused) {
  for (size_t n : {size_t{0}, size_t{1}, bundle_.size() / 2, bundle_.size() - 3}) {
    const auto msg = verifyError(bundle_.substr(0, n));
    EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << n << ": " << msg;
  }
}

TEST_F(SigningTest, BadBase64Refused) {
  struct Case {
    const char* sig;
    const char* reason;
  };
  const Case cases[] = {
      {"!!!!", "unexpected character"},
      {"abc", "multiple of 4"},
      {"", "multiple of 4"},
      {"ab=c", "data after '='"},
      {"a===", "'=' before the end"},
      {"AAAA", "expected 64 bytes, got 3"},
      // 64 bytes need 88 chars ending "=="; non-zero unused bits make a second spelling.
      {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB==",
       "non-canonical"},
  };
  for (const auto& c : cases) {
    const auto msg = verifyError(mutated([&](json& j) { j["signature"] = c.sig; }));
    EXPECT_NE(msg.find("/signature: "), std::string::npos) << c.sig << ": " << msg;
    EXPECT_NE(msg.find(c.reason), std::string::npos) << c.sig << ": " << msg;
  }
}

TEST_F(SigningTest, StrictShapeErrors) {
  struct Case {
    std::function<void(json&)> f;
    const char* expect;
  };
  const Case cases[] = {
      {[](json& j) { j["format"] = "eci-policy-bundle/2"; }, "unsupported format"},
      {[](json& j) { j["format"] = 1; }, "/format: expected string"},
      {[](json& j) { j["serial"] = -1; }, "/serial: expected unsigned integer"},
      {[](json& j) { j["serial"] = 1.5; }, "/serial: expected unsigned integer"},
      {[](json& j) { j["serial"] = "7"; }, "/serial: expected unsigned integer"},
      {[](json& j) { j["serial"] = 0; }, "/serial: must be at least 1"},
      {[](json& j) { j["issuedAt"] = "yesterday"; }, "/issuedAt"},
      {[](json& j) { j["extra"] = true; }, "/extra: unknown key"},
      {[](json& j) { j.erase("policy"); }, "/policy: missing"},
      {[](json& j) { j.erase("signature"); }, "/signature: missing"},
      {[](json& j) { j["policy"] = "x"; }, "/policy: expected object"},
      {[](json& j) { j = json::array(); }, "expected a JSON object"},
  };
  for (const auto& c : cases) {
    const auto msg = verifyError(mutated(c.f));
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST_F(SigningTest, SignedButInvalidPolicyRefusedWithPointer) {
  // A signer bug (unknown policy key) is caught after authentication, with its JSON Pointer.
  json j = json::parse(bundle_);
  j.erase("signature");
  j["policy"]["surprise"] = 1;
  auto sig = key_.sign("eci-policy-bundle/1\n" + j.dump());
  ASSERT_TRUE(sig.ok());
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  const std::string& s = *sig;
  for (size_t i = 0; i < s.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    if (i + 2 < s.size()) v |= static_cast<unsigned char>(s[i + 2]);
    b64 += kAlphabet[(v >> 18) & 63];
    b64 += kAlphabet[(v >> 12) & 63];
    b64 += i + 1 < s.size() ? kAlphabet[(v >> 6) & 63] : '=';
    b64 += i + 2 < s.size() ? kAlphabet[v & 63] : '=';
  }
  j["signature"] = b64;
  const auto msg = verifyError(j.dump());
  EXPECT_NE(msg.find("policy bundle: policy /surprise: unknown key"), std::string::npos) << msg;
}

TEST_F(SigningTest, DuplicateKeysRefused) {
  // A second "policy" key: nlohmann keeps the last, other readers the first.
  std::string text = bundle_;
  const auto pos = text.find("\"serial\"");
  ASSERT_NE(pos, std::string::npos);
  text.insert(pos, "\"policy\":{},");
  const auto msg = verifyError(text);
  EXPECT_NE(msg.find("duplicate key \"policy\""), std::string::npos) << msg;
}

TEST_F(SigningTest, OversizedRefusedBeforeParsing) {
  std::string big = bundle_;
  big.append(4u << 20, ' ');
  auto r = verifyBundle(big, trusted_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTooLarge);
  EXPECT_NE(r.error().str().find("larger than"), std::string::npos);
}

TEST_F(SigningTest, DeepNestingRefused) {
  std::string deep(10000, '[');
  const auto msg = verifyError(deep);
  EXPECT_NE(msg.find("malformed JSON"), std::string::npos) << msg;
}

TEST_F(SigningTest, NoTrustedKeysRefused) {
  auto r = verifyBundle(bundle_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("not a trusted key"), std::string::npos);
}

TEST_F(SigningTest, SignRefusesSerialZeroAndPublicKey) {
  EXPECT_FALSE(signBundle(key_, samplePolicy(), 0).ok());
  EXPECT_FALSE(signBundle(trusted_[0], samplePolicy(), 1).ok());
}

TEST_F(SigningTest, LargestSerialRoundTrips) {
  auto b = signBundle(key_, samplePolicy(), UINT64_MAX);
  ASSERT_TRUE(b.ok());
  auto r = verifyBundle(*b, trusted_);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->serial, UINT64_MAX);
}

class KeyFilesTest : public SigningTest {
 protected:
  void SetUp() override {
    SigningTest::SetUp();
    char tmpl[] = "/tmp/eci-sign-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(KeyFilesTest, WriteToThenLoad) {
  ASSERT_TRUE(key_.writeTo(dir_ / "keys").ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "keys" / "eci-policy.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ / "keys" / "eci-policy.pub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  auto priv = KeyPair::loadPrivate(dir_ / "keys" / "eci-policy.key");
  ASSERT_TRUE(priv.ok()) << priv.error().str();
  EXPECT_EQ(priv->keyId(), key_.keyId());
  auto pub = KeyPair::loadPublic(dir_ / "keys" / "eci-policy.pub");
  ASSERT_TRUE(pub.ok()) << pub.error().str();
  EXPECT_EQ(pub->keyId(), key_.keyId());

  auto b = signBundle(*priv, samplePolicy(), 3);
  ASSERT_TRUE(b.ok());
  std::vector<KeyPair> t;
  t.push_back(std::move(pub).value());
  EXPECT_TRUE(verifyBundle(*b, t).ok());
}

TEST_F(KeyFilesTest, LoadTrustedKeysReadsOnlyPubFiles) {
  ASSERT_TRUE(key_.writeTo(dir_).ok());
  auto other = KeyPair::generate();
  ASSERT_TRUE(other.ok());
  std::ofstream(dir_ / "second.pub") << *other->publicPem();
  std::ofstream(dir_ / "README") << "not a key";
  auto keys = loadTrustedKeys(dir_);
  ASSERT_TRUE(keys.ok()) << keys.error().str();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_TRUE(verifyBundle(bundle_, *keys).ok());
}

TEST_F(KeyFilesTest, LoadTrustedKeysBadFileNamesIt) {
  std::ofstream(dir_ / "broken.pub") << "-----BEGIN PUBLIC KEY-----\nnope\n";
  auto keys = loadTrustedKeys(dir_);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.error().str().find("broken.pub"), std::string::npos) << keys.error().str();
}

TEST_F(KeyFilesTest, LoadTrustedKeysMissingDir) {
  auto keys = loadTrustedKeys(dir_ / "absent");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.error().code(), ENOENT);
}

TEST_F(KeyFilesTest, PrivateKeyIsNotAPublicKeyAndViceVersa) {
  ASSERT_TRUE(key_.writeTo(dir_).ok());
  EXPECT_FALSE(KeyPair::loadPublic(dir_ / "eci-policy.key").ok());
  EXPECT_FALSE(KeyPair::loadPrivate(dir_ / "eci-policy.pub").ok());
}

TEST_F(KeyFilesTest, NonEd25519KeyRefused) {
  // A P-256 key: PEM_read_bio_PUBKEY accepts it, verifyBundle must not.
  EVP_PKEY* ec = EVP_EC_gen("P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  ASSERT_EQ(PEM_write_bio_PUBKEY(bio, ec), 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  const std::string ecPem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  auto r = KeyPair::publicFromPem(ecPem);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("Ed25519"), std::string::npos) << r.error().str();
}

}  // namespace
}  // namespace eci
