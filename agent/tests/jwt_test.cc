#include "eci/agent/jwt.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "eci/agent/oidc.h"
#include "eci/base64.h"

namespace eci::agent {
namespace {

using nlohmann::json;

std::string bnB64(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(k, name, &bn), 1);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return base64::encodeUrl(out);
}

// A test issuer: real keys, real signatures, JWKs exported the way a provider publishes them.
struct TestKey {
  EVP_PKEY* pkey = nullptr;
  std::string alg, kid;
  TestKey(const std::string& a, const std::string& k) : alg(a), kid(k) {
    pkey = a == "RS256" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  }
  ~TestKey() { EVP_PKEY_free(pkey); }
  json jwk() const {
    if (alg == "RS256") {
      return {{"kty", "RSA"},
              {"kid", kid},
              {"use", "sig"},
              {"alg", alg},
              {"n", bnB64(pkey, OSSL_PKEY_PARAM_RSA_N)},
              {"e", bnB64(pkey, OSSL_PKEY_PARAM_RSA_E)}};
    }
    unsigned char pub[65];
    size_t len = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                                              sizeof pub, &len),
              1);
    EXPECT_EQ(len, 65u);
    std::string x(reinterpret_cast<char*>(pub + 1), 32), y(reinterpret_cast<char*>(pub + 33), 32);
    return {{"kty", "EC"},
            {"kid", kid},
            {"crv", "P-256"},
            {"use", "sig"},
            {"x", base64::encodeUrl(x)},
            {"y", base64::encodeUrl(y)}};
  }
  std::string sign(const json& claims, json header = json::object()) const {
    if (!header.contains("alg")) header["alg"] = alg;
    if (!header.contains("kid")) header["kid"] = kid;
    std::string input = base64::encodeUrl(header.dump()) + "." + base64::encodeUrl(claims.dump());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, pkey);
    size_t len = 0;
    EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    sig.resize(len);
    EVP_MD_CTX_free(ctx);
    if (alg == "ES256") {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(es);
      sig = raw;
    }
    return input + "." + base64::encodeUrl(sig);
  }
};

class JwtTest : public ::testing::Test {
 protected:
  // RSA key generation is slow on a loaded machine: one set of keys for the whole suite.
  static void SetUpTestSuite() {
    rsa_ = new TestKey("RS256", "rsa1");
    ec_ = new TestKey("ES256", "ec1");
    other_ = new TestKey("RS256", "rsa1");  // same kid, different key: a forger's
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete other_;
  }
  JwtTest() {
    auto set = Jwks::parse(json{{"keys", {rsa_->jwk(), ec_->jwk()}}}.dump());
    EXPECT_TRUE(set.ok()) << set.error().str();
    if (set.ok()) jwks_ = std::move(*set);
  }
  json claims() const {
    return {{"iss", "https://idp.test"}, {"aud", "eci-agent"}, {"sub", "alice"},
            {"iat", now_ - 10},          {"exp", now_ + 600},  {"orgs", {"myorg"}}};
  }
  Result<json> verify(const std::string& token) {
    return verifyIdToken(token, jwks_, {"https://idp.test", "eci-agent", now_, 60});
  }
  static void expectError(const Result<json>& r, const std::string& part) {
    ASSERT_FALSE(r.ok()) << "accepted a token that must be refused";
    EXPECT_NE(r.error().str().find(part), std::string::npos) << r.error().str();
  }

  int64_t now_ = unixNow();
  static TestKey* rsa_;
  static TestKey* ec_;
  static TestKey* other_;
  Jwks jwks_;
};

TestKey* JwtTest::rsa_ = nullptr;
TestKey* JwtTest::ec_ = nullptr;
TestKey* JwtTest::other_ = nullptr;

TEST_F(JwtTest, Rs256Valid) {
  auto r = verify(rsa_->sign(claims()));
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ((*r)["sub"], "alice");
}

TEST_F(JwtTest, Es256Valid) {
  auto r = verify(ec_->sign(claims()));
  ASSERT_TRUE(r.ok()) << r.error().str();
}

TEST_F(JwtTest, AudienceArray) {
  auto c = claims();
  c["aud"] = {"other", "eci-agent"};
  EXPECT_TRUE(verify(rsa_->sign(c)).ok());
}

TEST_F(JwtTest, WrongIssuer) {
  auto c = claims();
  c["iss"] = "https://evil.test";
  expectError(verify(rsa_->sign(c)), "issuer 'https://evil.test' is not the configured issuer");
}

TEST_F(JwtTest, WrongAudience) {
  auto c = claims();
  c["aud"] = "someone-else";
  expectError(verify(rsa_->sign(c)), "does not include 'eci-agent'");
}

TEST_F(JwtTest, Expired) {
  auto c = claims();
  c["exp"] = now_ - 3600;
  expectError(verify(rsa_->sign(c)), "expired");
}

TEST_F(JwtTest, WithinSkewAccepted) {
  auto c = claims();
  c["exp"] = now_ - 30;
  EXPECT_TRUE(verify(rsa_->sign(c)).ok());
}

TEST_F(JwtTest, NotYetValidAndFutureIat) {
  auto c = claims();
  c["nbf"] = now_ + 3600;
  expectError(verify(rsa_->sign(c)), "not valid yet");
  c = claims();
  c["iat"] = now_ + 3600;
  expectError(verify(rsa_->sign(c)), "issued in the future");
}

TEST_F(JwtTest, MissingExp) {
  auto c = claims();
  c.erase("exp");
  expectError(verify(rsa_->sign(c)), "claim 'exp' missing");
}

TEST_F(JwtTest, SignedByAnotherKeyWithSameKid) {
  expectError(verify(other_->sign(claims())), "signature does not verify");
}

TEST_F(JwtTest, UnknownKid) {
  expectError(verify(rsa_->sign(claims(), {{"kid", "nope"}})), "no key in the issuer's JWKS");
}

TEST_F(JwtTest, TamperedPayload) {
  auto tok = rsa_->sign(claims());
  auto c = claims();
  c["orgs"] = {"victimorg"};
  auto d1 = tok.find('.'), d2 = tok.rfind('.');
  std::string forged = tok.substr(0, d1) + "." + base64::encodeUrl(c.dump()) + tok.substr(d2);
  expectError(verify(forged), "signature does not verify");
}

TEST_F(JwtTest, AlgNoneAndHmacRefused) {
  std::string none = base64::encodeUrl(json{{"alg", "none"}}.dump()) + "." +
                     base64::encodeUrl(claims().dump()) + ".";
  expectError(verify(none), "algorithm 'none' not accepted");
  std::string hs = base64::encodeUrl(json{{"alg", "HS256"}, {"kid", "rsa1"}}.dump()) + "." +
                   base64::encodeUrl(claims().dump()) + ".AAAA";
  expectError(verify(hs), "algorithm 'HS256' not accepted");
}

TEST_F(JwtTest, AlgKeyTypeConfusion) {
  // An RS256 signature presented as ES256 with the RSA key's kid: no EC key with that kid.
  auto tok = rsa_->sign(claims(), {{"alg", "ES256"}, {"kid", "rsa1"}});
  EXPECT_FALSE(verify(tok).ok());
}

TEST_F(JwtTest, Garbage) {
  expectError(verify("abc"), "not a JWS");
  expectError(verify("a.b.c.d"), "expected 3 parts");
  EXPECT_FALSE(verify("!!.!!.!!").ok());
}

TEST(Jwks, RejectsUnusableSets) {
  EXPECT_FALSE(Jwks::parse("{}").ok());
  EXPECT_FALSE(Jwks::parse(R"({"keys":[{"kty":"oct","k":"AAAA"}]})").ok());
  // A P-256 point that is not on the curve.
  json bad = {{"keys",
               {{{"kty", "EC"},
                 {"crv", "P-256"},
                 {"x", base64::encodeUrl(std::string(32, '\x01'))},
                 {"y", base64::encodeUrl(std::string(32, '\x02'))}}}}};
  EXPECT_FALSE(Jwks::parse(bad.dump()).ok());
  // A 1024-bit RSA key.
  EVP_PKEY* small = EVP_RSA_gen(1024);
  json jwk = {{"kty", "RSA"}, {"n", bnB64(small, OSSL_PKEY_PARAM_RSA_N)}, {"e", "AQAB"}};
  EVP_PKEY_free(small);
  EXPECT_FALSE(Jwks::parse(json{{"keys", {jwk}}}.dump()).ok());
}

TEST(Base64Url, RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff", 2)}) {
    auto d = base64::decodeUrl(base64::encodeUrl(s));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, s);
  }
  EXPECT_FALSE(base64::decodeUrl("ab+c").ok());
}

TEST(OrgMembership, MemberAndNonMember) {
  json c = {{"sub", "bob"}, {"email", "bob@x.test"}, {"orgs", {"a", "myorg"}}};
  auto r = checkOrgMembership(c, "orgs", {"myorg", "other"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "myorg");
  c["orgs"] = "myorg";  // a single string claim
  EXPECT_TRUE(checkOrgMembership(c, "orgs", {"myorg"}).ok());
  c["orgs"] = {"MyOrg"};  // case-sensitive
  auto no = checkOrgMembership(c, "orgs", {"myorg", "other"});
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(no.error().str(),
            "signed-in user bob@x.test is not a member of an allowed organisation (allowedOrgs: "
            "myorg, other; the user's 'orgs' claim: MyOrg)");
  c.erase("orgs");
  no = checkOrgMembership(c, "orgs", {"myorg"});
  ASSERT_FALSE(no.ok());
  EXPECT_NE(no.error().str().find("claim: none"), std::string::npos);
}

}  // namespace
}  // namespace eci::agent
