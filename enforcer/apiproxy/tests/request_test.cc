// Request normalisation and Go-compatible JSON: every parsing trap of engine-api.md §1 and §3.
#include "eci/apiproxy/request.h"

#include <gtest/gtest.h>

#include "helpers.h"

namespace eci::apiproxy {
namespace {

using testing::request;

NormalizedRequest ok(const Request& r) {
  auto n = normalizeRequest(r);
  EXPECT_TRUE(n.ok()) << (n.ok() ? "" : n.error().str());
  return n.ok() ? *n : NormalizedRequest{};
}

int refusedStatus(const Request& r) {
  auto n = normalizeRequest(r);
  return n.ok() ? 0 : refusalStatus(n.error());
}

TEST(Normalize, VersionPrefixIsStripped) {
  auto n = ok(request("GET", "/v1.41/containers/json?all=1"));
  EXPECT_EQ(n.path, "/containers/json");
  EXPECT_EQ(n.version, "1.41");
  EXPECT_EQ(n.queryValue("all"), "1");
}

TEST(Normalize, NoVersionPrefix) {
  auto n = ok(request("GET", "/containers/json"));
  EXPECT_EQ(n.path, "/containers/json");
  EXPECT_EQ(n.version, "");
}

TEST(Normalize, PercentEncodedSlashIsDecodedBeforeRouting) {
  EXPECT_EQ(ok(request("POST", "/v1.41/containers%2Fcreate")).path, "/containers/create");
  EXPECT_EQ(ok(request("POST", "/v1.41/%63ontainers/create")).path, "/containers/create");
}

TEST(Normalize, EncodedVersionPrefixIsDecodedToo) {
  EXPECT_EQ(ok(request("POST", "/%761.41/containers/create")).path, "/containers/create");
}

TEST(Normalize, DotSegmentsAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/images/../containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/images/%2e%2e/containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/./containers/json")), 400);
}

TEST(Normalize, DuplicateSlashesAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "//containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41//containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers%2F%2Fjson")), 400);
}

TEST(Normalize, TrailingSlashIsKeptAsMuxDoes) {
  EXPECT_EQ(ok(request("GET", "/v1.41/containers/json/")).path, "/containers/json/");
}

TEST(Normalize, BadEscapesAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/%zz/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/json%2")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/json?all=%")), 400);
}

TEST(Normalize, DecodedControlCharactersAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/a%00/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/a%0a/json")), 400);
}

TEST(Normalize, AbsoluteFormAndAsteriskAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "http://localhost/v1.41/containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("OPTIONS", "*")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "")), 400);
}

TEST(Normalize, RawBytesGoWouldReadDifferentlyAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/json#frag")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/json x")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41/containers/\xc3\xa9/json")), 400);
}

TEST(Normalize, MalformedVersionsAreRefused) {
  EXPECT_EQ(refusedStatus(request("GET", "/v1..41/containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v1.41.0/containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v.41/containers/json")), 400);
  EXPECT_EQ(refusedStatus(request("GET", "/v141/containers/json")), 400);
}

TEST(Normalize, MethodMustBeAToken) {
  EXPECT_EQ(refusedStatus(request("GE T", "/_ping")), 400);
  EXPECT_EQ(refusedStatus(request("", "/_ping")), 400);
  EXPECT_EQ(ok(request("post", "/_ping")).method, "post");  // kept: routing is case-sensitive
}

TEST(Normalize, QuerySemicolonsAreRefused) {
  EXPECT_EQ(refusedStatus(request("POST", "/build?t=x;networkmode=host")), 400);
}

TEST(Normalize, QueryDecodingMatchesGo) {
  auto n = ok(request("POST", "/build?networkmode=ho%73t&t=a+b&&x"));
  EXPECT_EQ(n.queryValue("networkmode"), "host");
  EXPECT_EQ(n.queryValue("t"), "a b");
  EXPECT_EQ(n.queryValue("x"), "");
  EXPECT_EQ(n.queryValue("y"), std::nullopt);
}

TEST(Normalize, FirstRepeatedQueryValueWinsAsInGo) {
  auto n = ok(request("POST", "/build?networkmode=default&networkmode=host"));
  EXPECT_EQ(n.queryValue("networkmode"), "default");
  EXPECT_EQ(n.queryCount("networkmode"), 2u);
}

TEST(Normalize, FormBodiesAreRefusedWhateverTheirSpelling) {
  EXPECT_EQ(refusedStatus(request("POST", "/build", "", "application/x-www-form-urlencoded")), 400);
  EXPECT_EQ(refusedStatus(request("POST", "/build", "",
                                  " Application/X-WWW-Form-Urlencoded ; charset=utf-8")),
            400);
  EXPECT_EQ(refusedStatus(request("POST", "/build", "", "multipart/form-data; boundary=x")), 400);
  EXPECT_EQ(refusedStatus(request("POST", "/build", "", "MULTIPART/mixed")), 400);
}

TEST(Normalize, RepeatedContentTypeIsRefused) {
  auto r = request("POST", "/containers/create", "{}");
  r.headers.emplace_back("content-type", "application/x-www-form-urlencoded");
  EXPECT_EQ(refusedStatus(r), 400);
}

TEST(Normalize, TarAndJsonBodiesPass) {
  EXPECT_EQ(ok(request("POST", "/build", "", "application/x-tar")).mediaType, "application/x-tar");
  EXPECT_EQ(
      ok(request("POST", "/containers/create", "{}", "application/json; charset=utf-8")).mediaType,
      "application/json");
}

TEST(CleanPath, GoPathClean) {
  EXPECT_EQ(goPathClean("/run/../run/docker.sock"), "/run/docker.sock");
  EXPECT_EQ(goPathClean("/var/run/../docker.sock"), "/var/docker.sock");
  EXPECT_EQ(goPathClean("//run///docker.sock/"), "/run/docker.sock");
  EXPECT_EQ(goPathClean("/.."), "/");
  EXPECT_EQ(goPathClean(""), ".");
  EXPECT_EQ(goPathClean("a/../../b"), "../b");
  EXPECT_EQ(muxCleanPath("/a/b/"), "/a/b/");
  EXPECT_EQ(muxCleanPath("/"), "/");
}

// ---- JSON ----

TEST(GoJson, FoldKeyMatchesGoSpecialRunes) {
  EXPECT_EQ(goFoldKey("Binds"), "binds");
  EXPECT_EQ(goFoldKey("Bind\xC5\xBF"), "binds");  // ſ
  EXPECT_EQ(goFoldKey("\xE2\x84\xAA"
                      "ey"),
            "key");                              // Kelvin sign
  EXPECT_EQ(goFoldKey("\xC3\xA9"), "\xC3\xA9");  // é stays itself
}

TEST(GoJson, DuplicateKeysAreRefused) {
  EXPECT_FALSE(parseGoJson(R"({"HostConfig":{},"HostConfig":{}})").ok());
  EXPECT_FALSE(parseGoJson(R"({"HostConfig":{"Binds":[],"Binds":[]}})").ok());
}

TEST(GoJson, CaseCollidingKeysAreRefused) {
  EXPECT_FALSE(parseGoJson(R"({"Binds":[],"binds":[]})").ok());
  EXPECT_FALSE(parseGoJson("{\"Binds\":[],\"Bind\xC5\xBF\":[]}").ok());
  EXPECT_FALSE(parseGoJson(R"({"a":{"X":1,"x":2}})").ok());
}

TEST(GoJson, SameKeyInDifferentObjectsIsFine) {
  EXPECT_TRUE(parseGoJson(R"({"a":{"X":1},"b":{"X":2},"X":3})").ok());
}

TEST(GoJson, FieldLookupIsCaseInsensitive) {
  auto j = parseGoJson("{\"hostconfig\":{\"bind\xC5\xBF\":[\"/x:/y\"]}}");
  ASSERT_TRUE(j.ok());
  const auto* hc = goField(*j, "HostConfig");
  ASSERT_NE(hc, nullptr);
  const auto* b = goField(*hc, "Binds");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ((*b)[0], "/x:/y");
}

TEST(GoJson, TrailingDataIsRefused) {
  // Go's Decoder reads the first value only; a second one would be invisible to dockerd.
  EXPECT_FALSE(parseGoJson(R"({"Image":"a"} {"HostConfig":{}})").ok());
}

TEST(GoJson, MalformedAndDeepJsonIsRefused) {
  EXPECT_FALSE(parseGoJson("{").ok());
  EXPECT_FALSE(parseGoJson("").ok());
  EXPECT_FALSE(parseGoJson("{\"a\":\"\xff\"}").ok());  // invalid UTF-8
  EXPECT_FALSE(parseGoJson(std::string(100, '[') + std::string(100, ']')).ok());
}

// The rules' statuses come from the refusal's kind; a failed system call keeps the 400 it always
// had, even when its errno's kind is kDenied or kTooLarge.
TEST(RefusalStatus, FromTheKindOfANonSystemErrorOnly) {
  EXPECT_EQ(refusalStatus(Error(ErrorKind::kInvalidInput, "x")), 400);
  EXPECT_EQ(refusalStatus(Error(ErrorKind::kDenied, "x")), 403);
  EXPECT_EQ(refusalStatus(Error(ErrorKind::kTooLarge, "x")), 413);
  EXPECT_EQ(refusalStatus(Error(ErrorKind::kNotFound, "x")), 400);
  EXPECT_EQ(refusalStatus(Error("x")), 400);
  EXPECT_EQ(refusalStatus(Error(EACCES, "open")), 400);
  EXPECT_EQ(refusalStatus(Error(EFBIG, "read")), 400);
}

TEST(GoJson, OversizeIsA413) {
  auto r = parseGoJson(std::string(kMaxInspectedBody + 1, ' '));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kTooLarge);
  EXPECT_EQ(refusalStatus(r.error()), 413);
}

TEST(GoJson, EraseField) {
  auto j = parseGoJson(R"({"runtime":"x","Other":1})");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE(goEraseField(*j, "Runtime"));
  EXPECT_FALSE(goEraseField(*j, "Runtime"));
  EXPECT_EQ(j->dump(), R"({"Other":1})");
}

}  // namespace
}  // namespace eci::apiproxy
