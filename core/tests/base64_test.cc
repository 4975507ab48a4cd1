#include "eci/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace eci::base64 {
namespace {

// RFC 4648 §10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  const std::vector<std::pair<std::string, std::string>> v = {{"", ""},
                                                              {"f", "Zg=="},
                                                              {"fo", "Zm8="},
                                                              {"foo", "Zm9v"},
                                                              {"foob", "Zm9vYg=="},
                                                              {"fooba", "Zm9vYmE="},
                                                              {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, enc] : v) {
    EXPECT_EQ(encode(raw), enc);
    std::string url = enc;
    while (!url.empty() && url.back() == '=') url.pop_back();
    EXPECT_EQ(encodeUrl(raw), url);
    if (raw.empty()) continue;  // decode() refuses empty text (see below)
    auto d = decode(enc);
    ASSERT_TRUE(d.ok()) << enc << ": " << d.error().str();
    EXPECT_EQ(*d, raw);
    auto u = decodeUrl(url);
    ASSERT_TRUE(u.ok()) << url << ": " << u.error().str();
    EXPECT_EQ(*u, raw);
  }
}

TEST(Base64Test, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 1; n <= all.size(); n += 7) {
    const std::string raw = all.substr(all.size() - n);
    auto d = decode(encode(raw));
    ASSERT_TRUE(d.ok()) << n;
    EXPECT_EQ(*d, raw);
    auto u = decodeUrl(encodeUrl(raw));
    ASSERT_TRUE(u.ok()) << n;
    EXPECT_EQ(*u, raw);
  }
}

TEST(Base64Test, AlphabetsDiffer) {
  const std::string raw("\xfb\xff\xbf", 3);
  EXPECT_EQ(encode(raw), "+/+/");
  EXPECT_EQ(encodeUrl(raw), "-_-_");
  EXPECT_FALSE(decode("-_-_").ok());
  EXPECT_FALSE(decodeUrl("+/+/").ok());
  EXPECT_FALSE(decodeUrl("ab+c").ok());
  EXPECT_FALSE(decode("ab-c").ok());
}

void expectRefused(const Result<std::string>& r, const std::string& why) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidInput);
  EXPECT_FALSE(r.error().isSystem());
  EXPECT_NE(r.error().str().find(why), std::string::npos) << r.error().str();
}

TEST(Base64Test, StandardNeedsExactPadding) {
  expectRefused(decode(""), "not a positive multiple of 4");
  expectRefused(decode("Zg"), "not a positive multiple of 4");
  expectRefused(decode("Zg="), "not a positive multiple of 4");
  expectRefused(decode("Zm9vYg"), "not a positive multiple of 4");
  expectRefused(decode("ab=c"), "data after '='");
  expectRefused(decode("a===="), "not a positive multiple of 4");
  expectRefused(decode("a==="), "'=' before the end");
  expectRefused(decode("Z===Zg=="), "data after '='");
}

TEST(Base64Test, BadCharactersRefused) {
  for (const char* bad : {"Zm9v YmF", "Zm9v\nYmF", "Zm9v!mFy", "Zm9\x80YmFy", "Zm9v\tYmF"}) {
    expectRefused(decode(bad), "unexpected character");
  }
  expectRefused(decode("Zm9v YmF"), "unexpected character at offset 4");
  expectRefused(decodeUrl("Zm9v.YmFy"), "unexpected character at offset 4");
  expectRefused(decodeUrl(std::string("Zm\0v", 4)), "unexpected character at offset 2");
}

// EVP_DecodeBlock and the old hand-written base64url decoder ignored the unused low bits of the
// last character: "Zh==" and "Zg==" both gave "f". Only the encoder's own spelling is accepted.
TEST(Base64Test, NonCanonicalTrailingBitsRefused) {
  expectRefused(decode("Zh=="), "non-canonical");
  expectRefused(decode("Zm9="), "non-canonical");
  EXPECT_EQ(*decode("Zm8="), "fo");
  expectRefused(decodeUrl("Zh"), "non-canonical");
  expectRefused(decodeUrl("Zm9"), "non-canonical");
  EXPECT_EQ(*decodeUrl("Zm8"), "fo");
}

// RFC 7515 §2: JWS base64url has no padding; padding that exactly completes the last group is
// tolerated (some JWK publishers pad), anything else is not.
TEST(Base64Test, UrlPaddingIsOptionalButExact) {
  EXPECT_EQ(*decodeUrl("Zg"), "f");
  EXPECT_EQ(*decodeUrl("Zg=="), "f");
  EXPECT_EQ(*decodeUrl("Zm8="), "fo");
  EXPECT_EQ(*decodeUrl(""), "");
  expectRefused(decodeUrl("Zg="), "padding does not complete");
  expectRefused(decodeUrl("Zm8=="), "padding does not complete");
  expectRefused(decodeUrl("Zm9v=="), "padding does not complete");
  expectRefused(decodeUrl("Zg==="), "'=' before the end");
  expectRefused(decodeUrl("Zg=a"), "data after '='");
  expectRefused(decodeUrl("=Zg"), "data after '='");
  // A lone character carries 6 bits: no byte, no encoder writes it.
  expectRefused(decodeUrl("Zm9vY"), "lone character");
  expectRefused(decodeUrl("Z"), "lone character");
}

}  // namespace
}  // namespace eci::base64
