#include "eci/agent/config.h"

#include <gtest/gtest.h>

namespace eci::agent {
namespace {

TEST(AgentConfig, Full) {
  auto c = parseAgentConfig(R"({"issuer":"https://idp.test:8443","client_id":"eci",
    "org_claim":"groups","ca_file":"/etc/eci/ca.pem","state_dir":"/var/lib/eci-agent",
    "enforcer_push_socket":"/tmp/p.sock","poll_seconds":2})",
                            "agent.json");
  ASSERT_TRUE(c.ok()) << c.error().str();
  EXPECT_EQ(c->audience, "eci");  // defaults to client_id
  EXPECT_EQ(c->orgClaim, "groups");
  EXPECT_EQ(c->enforcerPushSocket, "/tmp/p.sock");
  EXPECT_EQ(c->pollSeconds, 2);
}

TEST(AgentConfig, Refusals) {
  auto bad = [](const std::string& text, const std::string& part) {
    auto c = parseAgentConfig(text, "agent.json");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_NE(c.error().str().find(part), std::string::npos) << c.error().str();
  };
  bad(R"({"issuer":"http://idp","client_id":"x"})", "/issuer: must be an https:// URL");
  bad(R"({"issuer":"https://idp"})", "/client_id: required");
  bad(R"({"issuer":"https://idp","client_id":"x","client-id":"y"})", "/client-id: unknown key");
  bad(R"({"issuer":"https://idp","client_id":"x","state_dir":"rel"})", "/state_dir");
  bad(R"({"issuer":"https://idp","client_id":"x","vsock_cid":3})", "/vsock_port");
  bad(R"({"issuer":"https://idp","client_id":7})", "/client_id: must be a string");
  bad(R"([1,2)", "invalid JSON");
}

TEST(AgentConfig, UnlockedConfigFileRefused) {
  char tmpl[] = "/tmp/eci-agent-cfg-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::filesystem::path dir = tmpl;
  auto f = dir / "agent.json";
  FILE* fp = std::fopen(f.c_str(), "w");
  std::fputs(R"({"issuer":"https://idp","client_id":"x"})", fp);
  std::fclose(fp);
  ASSERT_EQ(::chmod(f.c_str(), 0666), 0);
  auto c = loadAgentConfig(f);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().str().find("writable by all users"), std::string::npos);
  ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
  EXPECT_TRUE(loadAgentConfig(f).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace eci::agent
