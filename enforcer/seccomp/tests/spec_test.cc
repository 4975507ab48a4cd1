#include "eci/seccomp/spec.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace eci::seccomp {
namespace {

using nlohmann::json;

std::string actionFor(const json& seccomp, const std::string& name) {
  for (const auto& r : seccomp["syscalls"])
    for (const auto& n : r["names"])
      if (n == name) return r["action"];
  return "default:" + seccomp["defaultAction"].get<std::string>();
}

// The shape of Docker's default profile with CAP_SYS_ADMIN granted (mount in an allow rule).
json dockerSpec(bool sysAdmin) {
  json names = {"read", "write", "getppid", "syslog", "bpf"};
  if (sysAdmin) {
    names.push_back("mount");
    names.push_back("umount2");
  }
  return {{"ociVersion", "1.0.2"},
          {"linux",
           {{"seccomp",
             {{"defaultAction", "SCMP_ACT_ERRNO"},
              {"architectures", {"SCMP_ARCH_X86_64"}},
              {"syscalls",
               {{{"names", names}, {"action", "SCMP_ACT_ALLOW"}},
                {{"names", {"clone"}},
                 {"action", "SCMP_ACT_ALLOW"},
                 {"args",
                  {{{"index", 0}, {"value", 2114060288}, {"op", "SCMP_CMP_MASKED_EQ"}}}}}}}}}}}};
}

TEST(Spec, PrivilegedGetsAllowProfileWithRules) {
  json spec = {{"ociVersion", "1.0.2"}, {"linux", {{"namespaces", json::array()}}}};
  auto r = mergeSeccompIntoSpec(spec, "/run/eci/seccomp.sock", "c1");
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_TRUE(r->notifyInstalled);
  const auto& s = spec["linux"]["seccomp"];
  // Allow-list, not allow-by-default: calls libseccomp cannot name (open_tree_attr) get ENOSYS.
  EXPECT_EQ(s["defaultAction"], "SCMP_ACT_ERRNO");
  EXPECT_EQ(s["defaultErrnoRet"], ENOSYS);
  EXPECT_EQ(s["listenerPath"], "/run/eci/seccomp.sock");
  EXPECT_EQ(s["listenerMetadata"], "c1");
  for (const auto& n : notifySyscalls()) EXPECT_EQ(actionFor(s, n), "SCMP_ACT_NOTIFY") << n;
  for (const auto& n : kernelGlobalSyscalls()) EXPECT_EQ(actionFor(s, n), "SCMP_ACT_ERRNO") << n;
  EXPECT_EQ(actionFor(s, "getppid"), "SCMP_ACT_ALLOW");  // data path untouched
  EXPECT_EQ(actionFor(s, "reboot"), "SCMP_ACT_ALLOW");   // namespaced, see spec.cc
  for (const char* n : {"read", "openat", "clone3", "socketcall", "chmod"})
    EXPECT_EQ(actionFor(s, n), "SCMP_ACT_ALLOW") << n;
  EXPECT_EQ(actionFor(s, "open_tree_attr"), "default:SCMP_ACT_ERRNO");
  // chmod: allowed without set-id bits, trapped with them (argument filters, no round trip
  // for a plain chmod).
  int allow = 0, notify = 0;
  for (const auto& r : s["syscalls"])
    for (const auto& n : r["names"])
      if (n == "fchmodat") {
        ASSERT_TRUE(r.contains("args"));
        EXPECT_EQ(r["args"][0]["index"], 2);
        EXPECT_EQ(r["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        (r["action"] == "SCMP_ACT_ALLOW" ? allow : notify)++;
      }
  EXPECT_EQ(allow, 1);
  EXPECT_EQ(notify, 2);
  // openat: the data path (mode 0) stays allowed in the kernel; only a set-id mode is trapped,
  // one argument per rule (cheap for runc's libseccomp compile at every start).
  allow = notify = 0;
  for (const auto& rule : s["syscalls"])
    for (const auto& n : rule["names"])
      if (n == "openat") {
        ASSERT_TRUE(rule.contains("args"));
        ASSERT_EQ(rule["args"].size(), 1u);
        EXPECT_EQ(rule["args"][0]["index"], 3);  // mode
        (rule["action"] == "SCMP_ACT_ALLOW" ? allow : notify)++;
      }
  EXPECT_EQ(allow, 1);
  EXPECT_EQ(notify, 2);
  EXPECT_GT(knownSyscalls().size(), 400u);
}

TEST(Spec, DockerProfileWithSysAdminTrapsOnlyWhatItAllowed) {
  json spec = dockerSpec(true);
  auto r = mergeSeccompIntoSpec(spec, "/run/eci/seccomp.sock");
  ASSERT_TRUE(r.ok());
  const auto& s = spec["linux"]["seccomp"];
  EXPECT_EQ(actionFor(s, "mount"), "SCMP_ACT_NOTIFY");
  EXPECT_EQ(actionFor(s, "umount2"), "SCMP_ACT_NOTIFY");
  // Not allowed by the engine's profile: stays refused (not handed to the supervisor).
  EXPECT_EQ(actionFor(s, "fsopen"), "default:SCMP_ACT_ERRNO");
  EXPECT_EQ(actionFor(s, "bpf"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(actionFor(s, "syslog"), "SCMP_ACT_ERRNO");
  EXPECT_EQ(actionFor(s, "read"), "SCMP_ACT_ALLOW");
  // Conditional rules are kept as they are.
  EXPECT_EQ(actionFor(s, "clone"), "SCMP_ACT_ALLOW");
  // Each name appears in exactly one rule (libseccomp refuses duplicates).
  std::vector<std::string> all;
  for (const auto& rule : s["syscalls"])
    for (const auto& n : rule["names"]) all.push_back(n);
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end());
}

TEST(Spec, DockerProfileWithoutSysAdminInstallsNoListener) {
  json spec = dockerSpec(false);
  auto r = mergeSeccompIntoSpec(spec, "/run/eci/seccomp.sock");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->notifyInstalled);
  EXPECT_FALSE(spec["linux"]["seccomp"].contains("listenerPath"));
  EXPECT_EQ(actionFor(spec["linux"]["seccomp"], "mount"), "default:SCMP_ACT_ERRNO");
}

TEST(Spec, BadInputLeavesSpecUnchanged) {
  json spec = dockerSpec(true);
  spec["linux"]["seccomp"]["syscalls"][0]["names"] = "mount";
  const json before = spec;
  auto r = mergeSeccompIntoSpec(spec, "/run/eci/seccomp.sock");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().str().find("/linux/seccomp/syscalls/0"), std::string::npos);
  EXPECT_EQ(spec, before);
  EXPECT_FALSE(mergeSeccompIntoSpec(spec, "relative.sock").ok());
  json notify = dockerSpec(true);
  notify["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_NOTIFY";
  EXPECT_FALSE(mergeSeccompIntoSpec(notify, "/s").ok());
  json listener = dockerSpec(true);
  listener["linux"]["seccomp"]["listenerPath"] = "/other";
  EXPECT_FALSE(mergeSeccompIntoSpec(listener, "/s").ok());
}

TEST(Spec, NotifyAndErrnoListsAreDisjoint) {
  const auto& global = kernelGlobalSyscalls();
  const auto& unfilterable = unfilterableSyscalls();
  for (const auto& n : notifySyscalls()) {
    EXPECT_EQ(std::count(global.begin(), global.end(), n), 0) << n;
    EXPECT_EQ(std::count(unfilterable.begin(), unfilterable.end(), n), 0) << n;
  }
  for (const auto& n : unfilterable) EXPECT_EQ(std::count(global.begin(), global.end(), n), 0) << n;
}

// The one rule naming `name`, or nullptr (a name in two rules would be a second path).
const json* onlyRuleFor(const json& seccomp, const std::string& name) {
  const json* found = nullptr;
  for (const auto& r : seccomp["syscalls"])
    for (const auto& n : r["names"])
      if (n == name) {
        if (found != nullptr) return nullptr;
        found = &r;
      }
  return found;
}

// openat2, fchmodat2 and io_uring answer ENOSYS whatever the engine's profile allowed: their
// arguments are out of a filter's reach (an O_CREAT|04755 inside struct open_how or an io_uring
// SQE), so allowing them would skip the set-id rules; programs fall back from ENOSYS.
TEST(Spec, UnfilterableCallsAnswerEnosysUnderEveryProfile) {
  json privileged = {{"ociVersion", "1.0.2"}, {"linux", json::object()}};
  json docker = dockerSpec(true);
  // Debian's engine allows them by name in its default profile.
  docker["linux"]["seccomp"]["syscalls"][0]["names"].insert(
      docker["linux"]["seccomp"]["syscalls"][0]["names"].end(),
      {"openat2", "io_uring_setup", "io_uring_enter", "io_uring_register", "fchmodat2"});
  json allowDefault = dockerSpec(false);
  allowDefault["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_ALLOW";
  for (json* spec : {&privileged, &docker, &allowDefault}) {
    ASSERT_TRUE(mergeSeccompIntoSpec(*spec, "/run/eci/seccomp.sock").ok());
    const auto& s = (*spec)["linux"]["seccomp"];
    for (const char* n :
         {"openat2", "fchmodat2", "io_uring_setup", "io_uring_enter", "io_uring_register"}) {
      const json* r = onlyRuleFor(s, n);
      ASSERT_NE(r, nullptr) << n << " in " << s.dump();
      EXPECT_EQ((*r)["action"], "SCMP_ACT_ERRNO") << n;
      EXPECT_EQ((*r)["errnoRet"], ENOSYS) << n;
    }
    EXPECT_EQ(actionFor(s, "read"), "SCMP_ACT_ALLOW");  // the data path stays untouched
  }
}

}  // namespace
}  // namespace eci::seccomp

namespace eci::seccomp {
namespace {

TEST(Spec, FromGrant) {
  nlohmann::json spec = {{"linux", nlohmann::json::object()}};
  EXPECT_FALSE(addSeccompFromGrant(spec, "c1", nlohmann::json::object()).ok());  // fail closed
  EXPECT_FALSE(addSeccompFromGrant(spec, "c1", {{"seccomp", {{"listenerPath", 3}}}}).ok());
  ASSERT_TRUE(
      addSeccompFromGrant(spec, "c1", {{"seccomp", {{"listenerPath", "/run/eci/seccomp.sock"}}}})
          .ok());
  EXPECT_EQ(spec["linux"]["seccomp"]["listenerPath"], "/run/eci/seccomp.sock");
  EXPECT_EQ(spec["linux"]["seccomp"]["listenerMetadata"], "c1");
}

}  // namespace
}  // namespace eci::seccomp
