#include "eci/settings/json_doc.h"

#include <gtest/gtest.h>

namespace eci::settings {
namespace {

TEST(JsonDoc, RecordsValueAndKeyPositions) {
  const std::string text = "{\n  \"a\": {\n    \"b\": [1, \"x\"]\n  }\n}\n";
  auto r = parseJson(text, "f.json");
  ASSERT_TRUE(r.ok) << r.error.reason;
  EXPECT_EQ(r.document.valuePosition("/a/b/1"), (Position{3, 14}));
  EXPECT_EQ(r.document.valuePosition("/a/b"), (Position{3, 10}));
  EXPECT_EQ(r.document.keyPosition("/a/b"), (Position{3, 5}));
  EXPECT_EQ(r.document.valuePosition(""), (Position{1, 1}));
  // A missing member falls back to its closest ancestor.
  EXPECT_EQ(r.document.valuePosition("/a/missing"), (Position{2, 8}));
  EXPECT_EQ(r.document.root()["a"]["b"][1], "x");
}

TEST(JsonDoc, EscapedPointerTokens) {
  auto r = parseJson(R"({"a/b": {"c~d": true}})", "f.json");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.document.valuePosition("/a~1b/c~0d"), (Position{1, 17}));
}

TEST(JsonDoc, SyntaxErrorHasLineAndColumn) {
  auto r = parseJson("{\n  \"a\": 1,\n}\n", "admin-settings.json");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.position, (Position{3, 1}));
  EXPECT_EQ(r.error.file, "admin-settings.json");
  EXPECT_EQ(r.error.reason, "invalid JSON: expected a string key, got '}'");
}

TEST(JsonDoc, RefusesBom) {
  auto r = parseJson("\xEF\xBB\xBF{}", "f.json");
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.reason.find("byte order mark"), std::string::npos);
  EXPECT_EQ(r.error.position, (Position{1, 1}));
  EXPECT_FALSE(parseJson("\xFF\xFE{\0}\0", "f.json").ok);
}

TEST(JsonDoc, SizeCapBeforeParsing) {
  ParseLimits limits;
  limits.maxBytes = 10;
  auto r = parseJson("{\"a\": \"0123456789\"}", "f.json", limits);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.reason, "file is 19 bytes; the limit is 10 bytes");
}

TEST(JsonDoc, DepthCapBeforeParsing) {
  std::string deep(100000, '[');  // would overflow the stack of a naive recursive parser
  auto r = parseJson(deep, "f.json");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.reason, "nesting is deeper than 32 levels");
  EXPECT_EQ(r.error.position, (Position{1, 33}));
  // Brackets inside strings do not count.
  EXPECT_TRUE(parseJson("{\"a\": \"" + std::string(100, '[') + "\"}", "f.json").ok);
}

TEST(JsonDoc, RefusesDuplicateKeys) {
  auto r = parseJson("{\"a\": 1,\n \"a\": 2}", "f.json");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error.position, (Position{2, 2}));
  EXPECT_NE(r.error.reason.find("duplicate key \"a\""), std::string::npos);
}

TEST(JsonDoc, StrictGrammar) {
  for (const char* bad :
       {"", "{", "{\"a\" 1}", "[1,]", "01", "1.", "-", "tru", "\"\\x\"", "\"a\nb\"", "{} x",
        "\"\\ud800\"", "\"\\udc00\"", "[1 2]", "nul", "\"\xC3\x28\"", "\"\xE0\x80\x80\"",
        "\"\xED\xA0\x80\"", "\"\xF5\x80\x80\x80\""}) {
    EXPECT_FALSE(parseJson(bad, "f.json").ok) << "accepted: " << bad;
  }
  auto r = parseJson(R"(["\u00e9\ud83d\ude00", -0.5e3, 18446744073709551615, -9, null, false])",
                     "f.json");
  ASSERT_TRUE(r.ok) << r.error.reason;
  EXPECT_EQ(r.document.root()[0], "\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(r.document.root()[1], -500.0);
  EXPECT_EQ(r.document.root()[2].get<uint64_t>(), 18446744073709551615ULL);
  EXPECT_EQ(r.document.root()[3], -9);
}

TEST(JsonDoc, DescribeValue) {
  EXPECT_EQ(describeValue("yes"), "string \"yes\"");
  EXPECT_EQ(describeValue(3), "integer 3");
  EXPECT_EQ(describeValue(true), "boolean true");
  EXPECT_EQ(describeValue(nlohmann::json::array()), "array");
  EXPECT_EQ(describeValue(nullptr), "null");
}

}  // namespace
}  // namespace eci::settings
