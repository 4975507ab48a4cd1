#include <gtest/gtest.h>

#include "eci/seccomp/supervisor.h"

namespace eci::seccomp {
namespace {

TEST(ProcessState, ParsesRuncMessage) {
  // As runc 1.1.5 sends it (specs.ContainerProcessState).
  auto r = parseProcessState(R"({"ociVersion":"1.0.2-dev","fds":["seccompFd"],"pid":4242,
    "metadata":"m","state":{"ociVersion":"1.0.2-dev","id":"c1","status":"creating","pid":4242,
    "bundle":"/b","annotations":{"a":"b"}}})");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->pid, 4242);
  EXPECT_EQ(r->containerId, "c1");
  EXPECT_EQ(r->bundle, "/b");
  EXPECT_EQ(r->metadata, "m");
  ASSERT_EQ(r->fds.size(), 1u);
  EXPECT_EQ(r->fds[0], "seccompFd");
}

TEST(ProcessState, ErrorsNameTheField) {
  auto expectErr = [](const char* json, const char* ptr) {
    auto r = parseProcessState(json);
    ASSERT_FALSE(r.ok()) << json;
    EXPECT_NE(r.error().str().find(ptr), std::string::npos) << r.error().str();
  };
  expectErr(R"({"fds":[],"pid":1,"state":{"id":"x"}})", "/ociVersion");
  expectErr(R"({"ociVersion":"1","pid":1,"state":{"id":"x"}})", "/fds");
  expectErr(R"({"ociVersion":"1","fds":[1],"pid":1,"state":{"id":"x"}})", "/fds/0");
  expectErr(R"({"ociVersion":"1","fds":[],"pid":-3,"state":{"id":"x"}})", "/pid");
  expectErr(R"({"ociVersion":"1","fds":[],"pid":1})", "/state");
  expectErr(R"({"ociVersion":"1","fds":[],"pid":1,"state":{"id":""}})", "/state/id");
  expectErr(R"({"ociVersion":"1",)", "seccomp state");
  expectErr("[]", "not a JSON object");
}

}  // namespace
}  // namespace eci::seccomp
