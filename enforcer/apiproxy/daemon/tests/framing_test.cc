// Request framing: every ambiguous or malformed request is refused with a 4xx before dockerd
// could see it; ordinary Docker client requests pass.
#include "eci/apiproxy/framing.h"

#include <gtest/gtest.h>

namespace eci::apiproxy {
namespace {

std::optional<unsigned> statusOf(const std::string& req) {
  auto r = parseAndCheck(req);
  if (!r) return std::nullopt;
  return r->status;
}

TEST(Framing, OrdinaryRequestsPass) {
  EXPECT_EQ(statusOf("GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"), std::nullopt);
  EXPECT_EQ(statusOf("POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\n"
                     "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"),
            std::nullopt);
  EXPECT_EQ(statusOf("POST /v1.41/build HTTP/1.1\r\nHost: docker\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            std::nullopt);
  EXPECT_EQ(statusOf("POST /v1.41/containers/x/attach?stream=1 HTTP/1.1\r\nHost: docker\r\n"
                     "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
            std::nullopt);
  // Incomplete is not an error.
  EXPECT_EQ(statusOf("GET /_ping HTTP/1.1\r\nHost: doc"), std::nullopt);
}

TEST(Framing, SmugglingShapesAreRefused) {
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400u);
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Length: 4\r\n\r\n0\r\n\r\n"),
            400u);
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\n"
                     "Content-Length: 5\r\n\r\nabcde"),
            400u);
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\n"
                     "Content-Length: 4\r\n\r\nabcd"),
            400u);
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: 4, 4\r\n\r\nabcd"), 400u);
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nContent-Length: +4\r\n\r\nabcd"), 400u);
  EXPECT_GE(*statusOf("POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            400u);
  EXPECT_GE(*statusOf("POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
            400u);
  EXPECT_GE(*statusOf("POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: xchunked\r\n\r\n"), 400u);
  // obs-fold
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n"
                     "\r\n"),
            400u);
  // bare LF line endings
  EXPECT_EQ(statusOf("GET /x HTTP/1.1\nHost: d\n\n"), 400u);
  EXPECT_EQ(statusOf("GET /x HTTP/1.1\r\nHost: d\nX: y\r\n\r\n"), 400u);
  // repeated Host, absolute-form, bad target characters
  EXPECT_EQ(statusOf("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400u);
  EXPECT_EQ(statusOf("GET http://docker/v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n"), 400u);
  EXPECT_EQ(statusOf("GET * HTTP/1.1\r\nHost: d\r\n\r\n"), 400u);
  // bad chunking
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "zz\r\nabc\r\n0\r\n\r\n"),
            400u);
  EXPECT_EQ(statusOf("POST /x HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabcdef\r\n0\r\n\r\n"),
            400u);
  // HTTP/2 preface, HTTP/0.9 and 2.0 versions
  EXPECT_GE(*statusOf("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 400u);
  EXPECT_GE(*statusOf("GET /x HTTP/2.0\r\nHost: d\r\n\r\n"), 400u);
  // unknown method
  EXPECT_GE(*statusOf("BREW /x HTTP/1.1\r\nHost: d\r\n\r\n"), 400u);
}

TEST(Framing, OversizedHeadIs431) {
  std::string big = "GET /x HTTP/1.1\r\nHost: d\r\nX-Big: " + std::string(kHeaderLimit, 'a');
  EXPECT_EQ(statusOf(big), 431u);
  EXPECT_EQ(statusOf(big + "\r\n\r\n"), 431u);
}

TEST(Framing, ErrorBodyIsDockerJson) {
  EXPECT_EQ(errorBody("a \"b\""), "{\"message\":\"a \\\"b\\\"\"}\n");
}

}  // namespace
}  // namespace eci::apiproxy
