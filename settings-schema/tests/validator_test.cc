#include "eci/settings/validator.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace eci::settings {
namespace {

Report settings(const std::string& text) {
  return validateBytes(text, "admin-settings.json", FileKind::kAdminSettings);
}

// The findings as "severity line:col pointer: reason" lines, for compact assertions.
std::vector<std::string> lines(const Report& r) {
  std::vector<std::string> out;
  for (const auto& f : r.findings) {
    out.push_back(std::string(severityName(f.severity)) + " " + std::to_string(f.position.line) +
                  ":" + std::to_string(f.position.column) + " " + f.pointer + ": " + f.reason);
  }
  return out;
}

std::string eci(const std::string& inner) {
  return R"({"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": true, "locked": true, )" +
         inner + "}}";
}

bool hasReason(const Report& r, Severity sev, const std::string& pointer, const std::string& part) {
  for (const auto& f : r.findings) {
    if (f.severity == sev && f.pointer == pointer && f.reason.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string readExample(const std::string& name) {
  std::ifstream in(std::string(ECI_SETTINGS_EXAMPLES_DIR) + "/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Validator, ShippedExamplesAreValid) {
  for (const char* name :
       {"admin-settings.json", "admin-settings.minimal.json",
        "admin-settings.restricted-mounts.json", "registry.json", "registry.multi-org.json"}) {
    Report r = validateBytes(readExample(name), name);
    EXPECT_TRUE(r.valid()) << name;
    EXPECT_TRUE(r.findings.empty())
        << name << ": " << (r.findings.empty() ? "" : formatText(r.findings[0]));
  }
}

TEST(Validator, TypeErrorMessageMatchesTheDocumentedForm) {
  Report r = settings(
      "{\n  \"configurationFileVersion\": 2,\n  \"enhancedContainerIsolation\": {\n    \"locked\": "
      "true,\n    \"value\": \"yes\"\n  }\n}\n");
  ASSERT_EQ(r.findings.size(), 1u) << lines(r)[0];
  EXPECT_EQ(formatText(r.findings[0]),
            "error: admin-settings.json:5:14: /enhancedContainerIsolation/value: expected "
            "boolean, got string \"yes\"");
  EXPECT_FALSE(r.valid());
}

TEST(Validator, EnumAndVersion) {
  Report r = settings(R"({"configurationFileVersion": 3, "dnsInhibition": {"value": "some"}})");
  EXPECT_TRUE(hasReason(r, Severity::kError, "/configurationFileVersion",
                        "expected one of 2, got integer 3"));
  EXPECT_TRUE(
      hasReason(r, Severity::kError, "/dnsInhibition/value",
                "expected one of \"auto\", \"ipv4\", \"ipv6\", \"none\", got string \"some\""));
  Report missing = settings(R"({"enhancedContainerIsolation": {"value": false}})");
  EXPECT_TRUE(hasReason(missing, Severity::kError, "",
                        "missing required key \"configurationFileVersion\""));
}

TEST(Validator, UnknownTopLevelKeyIsAWarning) {
  Report r = settings(R"({"configurationFileVersion": 2, "futureSetting": {"value": 1},
                          "analyticsEnabld": {"value": false}})");
  EXPECT_TRUE(r.valid());
  EXPECT_TRUE(hasReason(r, Severity::kWarning, "/futureSetting", "unknown key \"futureSetting\""));
  EXPECT_TRUE(
      hasReason(r, Severity::kWarning, "/analyticsEnabld", "did you mean \"analyticsEnabled\"?"));
}

TEST(Validator, UnknownNestedKeyIsAnError) {
  Report r = settings(eci(R"("dockerSocketMount": {"imageList": {"imagse": []}})"));
  EXPECT_FALSE(r.valid());
  EXPECT_TRUE(hasReason(r, Severity::kError,
                        "/enhancedContainerIsolation/dockerSocketMount/imageList/imagse",
                        "unknown key \"imagse\"; did you mean \"images\"?"));
}

TEST(Validator, ImageEntries) {
  Report r = settings(eci(R"("dockerSocketMount": {"imageList": {"images":
      ["docker:cli", "docker.io/library/docker:cli", "Alpine", "x@sha256:12", "*"]}})"));
  const std::string p = "/enhancedContainerIsolation/dockerSocketMount/imageList/images";
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p + "/1", "same image as entry 0"));
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/2", "must be lowercase"));
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/3", "64 hex digits"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p + "/4", "lets every image mount"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p, "redundant"));
}

TEST(Validator, CommandEntries) {
  Report r = settings(eci(R"("dockerSocketMount": {"imageList": {"images": ["docker:cli"]},
      "commandList": {"type": "deny", "commands": ["push", "biuld", "compose", "push"]}})"));
  const std::string p = "/enhancedContainerIsolation/dockerSocketMount/commandList/commands";
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/1", "did you mean \"build\"?"));
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/2", "not supported"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p + "/3", "listed twice"));
  Report t = settings(eci(R"("dockerSocketMount": {"commandList": {"type": "block"}})"));
  EXPECT_TRUE(hasReason(t, Severity::kError,
                        "/enhancedContainerIsolation/dockerSocketMount/commandList/type",
                        "expected one of \"allow\", \"deny\", got string \"block\""));
}

TEST(Validator, ContradictionImageListWhileEciOff) {
  Report r = settings(R"({"configurationFileVersion": 2, "enhancedContainerIsolation":
      {"value": false, "locked": true, "dockerSocketMount": {"imageList": {"images": ["docker:cli"]}}}})");
  EXPECT_TRUE(r.valid());
  EXPECT_TRUE(hasReason(r, Severity::kWarning, "/enhancedContainerIsolation/dockerSocketMount",
                        "has no effect while ECI is off"));
}

TEST(Validator, UnlockedEciWarns) {
  Report r = settings(
      R"({"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": true, "locked": false}})");
  EXPECT_TRUE(r.valid());
  EXPECT_TRUE(hasReason(r, Severity::kWarning, "/enhancedContainerIsolation/locked",
                        "developers can turn ECI off"));
  Report noLock =
      settings(R"({"configurationFileVersion": 2, "enhancedContainerIsolation": {"value": true}})");
  EXPECT_TRUE(hasReason(noLock, Severity::kWarning, "/enhancedContainerIsolation",
                        "without \"locked\": true"));
}

TEST(Validator, CommandListWithoutImages) {
  Report r =
      settings(eci(R"("dockerSocketMount": {"commandList": {"type": "allow", "commands": []}})"));
  const std::string p = "/enhancedContainerIsolation/dockerSocketMount/commandList";
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p, "no image is allowed to mount"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p, "blocks every docker command"));
}

TEST(Validator, RestrictedHostMounts) {
  Report r = settings(eci(
      R"("restrictedHostMounts": ["/srv/a", "relative/x", "/srv/../etc", "/srv//a/", 7, "/"])"));
  const std::string p = "/enhancedContainerIsolation/restrictedHostMounts";
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/1", "not an absolute path"));
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/2", "contains '.' or '..'"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p + "/3", "listed twice"));
  EXPECT_TRUE(hasReason(r, Severity::kError, p + "/4", "expected string, got integer 7"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, p + "/5", "refuses every bind mount"));
}

TEST(Validator, KubernetesImagesRepositoryNeedsItsImages) {
  Report r = settings(eci(R"("dockerSocketMount": {"imageList": {"images": ["docker:cli"]}}},
      "kubernetes": {"enabled": true, "imagesRepository": "registry.acme.com/k8s")") +
                      "");
  // eci() closes two braces; the kubernetes object above is inside the top level.
  EXPECT_TRUE(hasReason(r, Severity::kWarning,
                        "/enhancedContainerIsolation/dockerSocketMount/imageList/images",
                        "registry.acme.com/k8s/desktop-cloud-provider-kind:*"));
}

TEST(Validator, DaemonOptionsMustBeJsonInAString) {
  Report r = settings(
      R"({"configurationFileVersion": 2, "linuxVM": {"dockerDaemonOptions": {"value": "{debug: false}"}}})");
  EXPECT_TRUE(hasReason(r, Severity::kError, "/linuxVM/dockerDaemonOptions/value",
                        "must be a JSON object in a string"));
}

TEST(Validator, OtherContradictions) {
  Report r = settings(eci(R"("dockerSocketMount": {}}, "exposeDockerAPIOnTCP2375": {"value": true},
      "useGrpcfuse": {"value": false}, "useVirtualizationFrameworkVirtioFS": {"value": false},
      "proxy": {"mode": "system", "http": "http://p:3128")"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, "/exposeDockerAPIOnTCP2375/value",
                        "without authentication"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, "/useGrpcfuse/value", "both off"));
  EXPECT_TRUE(hasReason(r, Severity::kWarning, "/proxy/http", "ignored in \"system\" mode"));
}

TEST(Validator, Registry) {
  Report ok = validateBytes(R"({"allowedOrgs": ["myorg1", "myorg2"]})", "registry.json");
  EXPECT_EQ(ok.kind, FileKind::kRegistry);
  EXPECT_TRUE(ok.valid());
  Report bad = validateBytes(R"({"allowedOrgs": ["MyOrg", "a b", "x!", "ok", "ok"], "extra": 1})",
                             "registry.json");
  EXPECT_FALSE(bad.valid());
  EXPECT_TRUE(hasReason(bad, Severity::kError, "/allowedOrgs/0", "did you mean \"myorg\"?"));
  EXPECT_TRUE(hasReason(bad, Severity::kError, "/allowedOrgs/1", "contains a space"));
  EXPECT_TRUE(hasReason(bad, Severity::kError, "/allowedOrgs/2", "not a Docker organisation name"));
  EXPECT_TRUE(hasReason(bad, Severity::kWarning, "/allowedOrgs/4", "listed twice"));
  EXPECT_TRUE(hasReason(bad, Severity::kWarning, "/extra", "unknown key"));
  Report empty = validateBytes(R"({"allowedOrgs": []})", "registry.json");
  EXPECT_FALSE(empty.valid());
  Report wrong = validateBytes(R"({"allowedOrgs": "myorg"})", "registry.json");
  EXPECT_TRUE(hasReason(wrong, Severity::kError, "/allowedOrgs", "expected array, got string"));
}

TEST(Validator, DetectKind) {
  EXPECT_EQ(validateBytes(R"({"allowedOrgs": ["a"]})", "x.json").kind, FileKind::kRegistry);
  EXPECT_EQ(validateBytes(R"({"configurationFileVersion": 2})", "x.json").kind,
            FileKind::kAdminSettings);
  EXPECT_EQ(validateBytes(R"({"analyticsEnabled": {"value": true}})", "x.json").kind,
            FileKind::kAdminSettings);
  Report unknown = validateBytes(R"({"foo": 1})", "x.json");
  EXPECT_EQ(unknown.kind, FileKind::kUnknown);
  EXPECT_FALSE(unknown.valid());
  Report notObject = validateBytes("[1]", "registry.json");
  EXPECT_TRUE(hasReason(notObject, Severity::kError, "", "expected a JSON object"));
}

TEST(Validator, SyntaxErrorsAreFindings) {
  Report r = settings("{\"configurationFileVersion\": 2,\n  \"a\": }");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(formatText(r.findings[0]),
            "error: admin-settings.json:2:8: invalid JSON: expected a value, got '}'");
  EXPECT_FALSE(r.parsed);
}

TEST(Validator, ValidateFileMissingIsIoError) {
  auto r = validateFile("/nonexistent/admin-settings.json");
  EXPECT_FALSE(r.ok());
}

TEST(Validator, EmbeddedSchemasAreDraft7) {
  EXPECT_NE(adminSettingsSchemaText().find("draft-07"), std::string_view::npos);
  EXPECT_NE(registrySchemaText().find("allowedOrgs"), std::string_view::npos);
}

}  // namespace
}  // namespace eci::settings
