#include "eci/procfs/spec.h"

#include <gtest/gtest.h>

namespace eci::procfs {
namespace {

std::vector<std::string> dests(const std::vector<nlohmann::json>& ms) {
  std::vector<std::string> out;
  for (const auto& m : ms) out.push_back(m.at("destination"));
  return out;
}

TEST(Spec, MountsOnlyWhereTheHostHasTheTarget) {
  auto none = [](const std::string&) { return false; };
  auto ms = procfsMountsForSpec("c1", "/run/eci/procfs", none);
  EXPECT_EQ(dests(ms), (std::vector<std::string>{"/proc/uptime", "/proc/swaps"}));
  EXPECT_EQ(ms[0].at("source"), "/run/eci/procfs/c1/proc/uptime");
  EXPECT_EQ(ms[0].at("type"), "bind");

  auto all = [](const std::string&) { return true; };
  ms = procfsMountsForSpec("c1", "/b", all);
  EXPECT_EQ(dests(ms), (std::vector<std::string>{"/proc/uptime", "/proc/swaps", "/sys/kernel/debug",
                                                 "/sys/kernel/tracing", "/sys/kernel/security",
                                                 "/sys/kernel/config",
                                                 "/sys/devices/virtual/dmi/id/product_uuid"}));
  EXPECT_EQ(ms.back().at("source"), "/b/c1/sys/devices/virtual/dmi/id/product_uuid");
  for (const auto& m : ms) {
    // No mount under /proc/sys: runc refuses those (checkProcMount); the hook binds them.
    EXPECT_NE(m.at("destination").get<std::string>().rfind("/proc/sys", 0), 0u);
  }
}

TEST(Spec, AddAppendsMountsAndHook) {
  nlohmann::json spec = {{"mounts", {{{"destination", "/proc"}, {"type", "proc"}}}},
                         {"hooks", {{"createRuntime", {{{"path", "/x"}}}}}}};
  auto none = [](const std::string&) { return false; };
  ASSERT_TRUE(addProcfsToSpec(spec, "c1", "/b", "/h", none).ok());
  ASSERT_EQ(spec["mounts"].size(), 3u);
  EXPECT_EQ(spec["mounts"][0]["destination"], "/proc");  // engine's mounts stay first
  EXPECT_EQ(spec["mounts"][1]["destination"], "/proc/uptime");
  ASSERT_EQ(spec["hooks"]["createRuntime"].size(), 2u);
  EXPECT_EQ(spec["hooks"]["createRuntime"][1]["path"], "/h");
  EXPECT_EQ(spec["hooks"]["createRuntime"][1]["args"],
            (nlohmann::json{"eci-procfs-hook", "--base", "/b"}));
  EXPECT_TRUE(spec["hooks"]["createRuntime"][1].contains("timeout"));

  nlohmann::json empty = nlohmann::json::object();
  ASSERT_TRUE(addProcfsToSpec(empty, "c2", "/b", "/h", none).ok());
  EXPECT_EQ(empty["mounts"].size(), 2u);
  EXPECT_EQ(empty["hooks"]["createRuntime"].size(), 1u);
}

TEST(Spec, BadShapesAreRefusedUnchanged) {
  nlohmann::json bad = {{"mounts", "x"}};
  auto st = addProcfsToSpec(bad, "c", "/b", "/h");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("/mounts"), std::string::npos);
  EXPECT_EQ(bad["mounts"], "x");
  nlohmann::json bad2 = {{"hooks", {{"createRuntime", 3}}}};
  EXPECT_FALSE(addProcfsToSpec(bad2, "c", "/b", "/h").ok());
  EXPECT_FALSE(bad2.contains("mounts"));
}

TEST(Spec, FromGrant) {
  nlohmann::json spec = nlohmann::json::object();
  auto none = addProcfsFromGrant(spec, "c", nlohmann::json::object(), false);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_TRUE(spec.empty());  // no procfs module in the daemon: nothing added
  const nlohmann::json grant = {{"procfs", {{"base", "/b"}, {"hook", "/h"}}}};
  // runc run: the hook binds the knobs.
  auto run = addProcfsFromGrant(spec, "c", grant, /*callerBindsKnobs=*/false);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->value_or(""), "/b/c");
  EXPECT_EQ(spec["mounts"][0]["source"], "/b/c/proc/uptime");
  EXPECT_EQ(spec["hooks"]["createRuntime"][0]["path"], "/h");
  // runc create: the same mounts, no hook (eci-runc binds the knobs after the create).
  nlohmann::json created = nlohmann::json::object();
  auto create = addProcfsFromGrant(created, "c", grant, /*callerBindsKnobs=*/true);
  ASSERT_TRUE(create.ok());
  EXPECT_EQ(create->value_or(""), "/b/c");
  EXPECT_EQ(created["mounts"], spec["mounts"]);
  EXPECT_FALSE(created.contains("hooks"));
  nlohmann::json s2 = nlohmann::json::object();
  EXPECT_FALSE(addProcfsFromGrant(s2, "c", {{"procfs", {{"base", 1}}}}, true).ok());
  EXPECT_FALSE(
      addProcfsFromGrant(s2, "c", {{"procfs", {{"base", "/b"}, {"hook", ""}}}}, true).ok());
  EXPECT_TRUE(s2.empty());
}

TEST(Spec, ContainerIds) {
  EXPECT_TRUE(validContainerId("abc-DEF_1.2"));
  EXPECT_TRUE(validContainerId(std::string(128, 'a')));
  EXPECT_FALSE(validContainerId(std::string(129, 'a')));
  for (const char* bad : {"", ".", "..", "a/b", "../x", "a b", "a\nb"})
    EXPECT_FALSE(validContainerId(bad)) << bad;
}

}  // namespace
}  // namespace eci::procfs
