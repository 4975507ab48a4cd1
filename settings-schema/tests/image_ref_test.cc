#include "eci/settings/image_ref.h"

#include <gtest/gtest.h>

namespace eci::settings {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

std::string norm(std::string_view text) {
  auto p = parseImagePattern(text);
  return p.ok() ? p->str() : "ERROR: " + p.error().message();
}

TEST(ImageRef, Normalisation) {
  EXPECT_EQ(norm("docker:cli"), "docker.io/library/docker:cli");
  EXPECT_EQ(norm("docker.io/library/docker:cli"), "docker.io/library/docker:cli");
  EXPECT_EQ(norm("index.docker.io/library/docker:cli"), "docker.io/library/docker:cli");
  EXPECT_EQ(norm("alpine"), "docker.io/library/alpine:latest");
  EXPECT_EQ(norm("docker.io/alpine"), "docker.io/library/alpine:latest");
  EXPECT_EQ(norm("testcontainers/ryuk:*"), "docker.io/testcontainers/ryuk:*");
  EXPECT_EQ(norm("localhost:5000/x/y:1.0"), "localhost:5000/x/y:1.0");
  EXPECT_EQ(norm("ghcr.io/org/img"), "ghcr.io/org/img:latest");
  EXPECT_EQ(norm("alpine@" + kDigest), "docker.io/library/alpine@" + kDigest);
  EXPECT_EQ(norm("alpine:3.19@" + kDigest), "docker.io/library/alpine@" + kDigest);
  EXPECT_EQ(norm("*"), "*");
}

TEST(ImageRef, RepositoryWildcards) {
  EXPECT_EQ(norm("testcontainers/*:*"), "docker.io/testcontainers/*:*");
  EXPECT_EQ(norm("your-registry.com/ci-tools/*:*"), "your-registry.com/ci-tools/*:*");
  EXPECT_EQ(norm("your-registry.com/*"), "your-registry.com/*:latest");
  EXPECT_EQ(norm("docker.io/*:*"), "docker.io/library/*:*");
  // Stable: the normalised form parses to itself.
  for (const char* p :
       {"testcontainers/*:*", "docker.io/*:*", "docker:cli", "your-registry.com/*"}) {
    EXPECT_EQ(norm(norm(p)), norm(p)) << p;
  }
}

TEST(ImageRef, RejectsMalformed) {
  for (const char* bad :
       {"", "Docker:cli", "docker:", "docker: cli", "a//b", "-a", "a-", "a..b", "a:b:c",
        "docker*:cli", "*/foo", "foo/*/bar", "reg.io:x/a", "a:-tag", "a b"}) {
    EXPECT_FALSE(parseImagePattern(bad).ok()) << bad;
  }
  EXPECT_NE(norm("Docker:cli").find("must be lowercase"), std::string::npos);
  EXPECT_NE(norm("docker*:cli").find("'*' is only allowed"), std::string::npos);
}

TEST(ImageRef, RejectsMalformedDigests) {
  EXPECT_NE(norm("alpine@sha256:abc").find("64 hex digits, this one has 3"), std::string::npos);
  EXPECT_NE(norm("alpine@sha256:" + std::string(64, 'A')).find("lowercase hex"), std::string::npos);
  EXPECT_NE(norm("alpine@sha512:" + std::string(128, 'a')).find("only sha256"), std::string::npos);
  EXPECT_NE(norm("alpine@" + std::string(64, 'a')).find("sha256:<64 hex digits>"),
            std::string::npos);
  EXPECT_FALSE(parseImagePattern("alpine:*@" + kDigest).ok());
  EXPECT_FALSE(parseImagePattern("org/*@" + kDigest).ok());
  // A concrete reference may not use pattern syntax.
  EXPECT_FALSE(parseImageReference("alpine:*").ok());
  EXPECT_FALSE(parseImageReference("org/*").ok());
  EXPECT_FALSE(parseImageReference("*").ok());
}

TEST(ImageMatcher, Matches) {
  auto m = ImageMatcher::build({"docker:cli", "docker.io/localstack/localstack:*",
                                "testcontainers/*:*", "ghcr.io/acme/*", "busybox@" + kDigest});
  EXPECT_TRUE(m.matches("docker:cli"));
  EXPECT_TRUE(m.matches("docker.io/library/docker:cli"));
  EXPECT_FALSE(m.matches("docker"));  // :latest is not :cli
  EXPECT_FALSE(m.matches("docker:dind"));
  EXPECT_TRUE(m.matches("localstack/localstack"));
  EXPECT_TRUE(m.matches("localstack/localstack:3.0"));
  EXPECT_FALSE(m.matches("localstack/other:3.0"));
  EXPECT_TRUE(m.matches("testcontainers/ryuk:0.5.1"));
  EXPECT_TRUE(m.matches("testcontainers/sshd"));
  EXPECT_FALSE(m.matches("testcontainers/deep/ryuk:1"));  // '*' does not cross '/'
  EXPECT_FALSE(m.matches("testcontainersx/ryuk:1"));
  EXPECT_TRUE(m.matches("ghcr.io/acme/tool"));
  EXPECT_FALSE(m.matches("ghcr.io/acme/tool:v2"));
  EXPECT_TRUE(m.matches("busybox@" + kDigest));
  EXPECT_TRUE(m.matches("busybox:1.36@" + kDigest));
  EXPECT_FALSE(m.matches("busybox"));
  EXPECT_FALSE(m.matches("busybox@sha256:" + std::string(64, 'b')));
  EXPECT_FALSE(m.matches("NOT VALID"));
  EXPECT_TRUE(ImageMatcher::build({"*"}).matches("anything/at:all"));
  EXPECT_FALSE(ImageMatcher{}.matches("docker:cli"));
}

TEST(ImageMatcher, BuildReportsBadEntries) {
  std::vector<std::string> errors;
  auto m = ImageMatcher::build({"docker:cli", "Bad"}, &errors);
  EXPECT_EQ(m.size(), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("lowercase"), std::string::npos);
}

}  // namespace
}  // namespace eci::settings
