// MDM exports: per target, the files read back with the project's own parsers (the agent's
// profile/plist/policy-key readers, the .reg reader, the script-literal readers) give exactly the
// input bytes and orgs — the agent would see the same orgs and settings. Plus determinism,
// refusals, and a randomized round trip with hostile values.
#include "eci/settings/mdm_export.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "eci/settings/build_policy.h"
#include "eci/settings/mdm_formats.h"
#include "eci/settings/mdm_readers.h"
#include "eci/settings/org_sources.h"
#include "eci/settings/reg_file.h"

namespace eci::settings::mdm {
namespace {

std::string readExample(const std::string& name) {
  std::ifstream f(std::string(ECI_SETTINGS_EXAMPLES_DIR) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const ExportFile* findFile(const Export& ex, const std::string& name) {
  for (const auto& f : ex.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// An admin-settings.json carrying every troublesome character in a string (an unknown key is a
// warning, so it validates), CRLF line ends and non-ASCII.
std::string hostileSettings() {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(readExample("admin-settings.json"));
  j["x-note"] =
      "it's \"quoted\" $HOME `cmd` C:\\dir\\ ]]> <&> caf\xc3\xa9 \xf0\x9f\x98\x80 "
      "\xe2\x80\x99 '' '\\'' \n\r\t -join @( [char]0x41 Set-Content";
  std::string s = j.dump(2, ' ', false);
  std::string crlf;
  for (char c : s) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  return crlf + "\r\n";
}

ExportInput baseInput() {
  ExportInput in;
  in.adminSettings = readExample("admin-settings.json");
  in.registry = readExample("registry.multi-org.json");
  in.organization = "Acme & Sons <IT> \"Ops\" 'EU' ]]> caf\xc3\xa9\r\nline2";
  in.identifierPrefix = "com.acme.docker";
  return in;
}

// The policy eci-agent would build from the files a target installs equals the input's.
void expectSamePolicy(const ExportInput& in, const std::string& settings,
                      const std::string& registry) {
  auto want = buildPolicyFromBytes(*in.adminSettings, "in", &*in.registry);
  auto got = buildPolicyFromBytes(settings, "out", &registry);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(want->toJson().dump(), got->toJson().dump());
}

TEST(MdmExport, Targets) {
  EXPECT_EQ(parseTarget("jamf"), Target::kJamf);
  EXPECT_EQ(parseTarget("gpo"), Target::kGpo);
  EXPECT_FALSE(parseTarget("JAMF").has_value());
  for (auto t : {Target::kJamf, Target::kIntune, Target::kGpo, Target::kLinux}) {
    EXPECT_EQ(parseTarget(targetName(t)), t);
  }
}

TEST(MdmExport, JamfProfilePlistAndScript) {
  const ExportInput in = baseInput();
  auto ex = exportFor(Target::kJamf, in);
  ASSERT_TRUE(ex.ok()) << ex.error().str();
  ASSERT_TRUE(verifyExport(*ex, in).ok()) << verifyExport(*ex, in).error().str();
  const auto* prof = findFile(*ex, "docker.mobileconfig");
  ASSERT_NE(prof, nullptr);
  // The agent's own reader of installed profiles.
  auto orgs = parseConfigProfile(prof->content, "p");
  ASSERT_TRUE(orgs.ok());
  EXPECT_EQ(**orgs, (std::vector<std::string>{"myorg1", "myorg2"}));
  EXPECT_NE(prof->content.find("<string>myorg1;myorg2</string>"), std::string::npos);
  auto info = readProfile(prof->content);
  ASSERT_TRUE(info.ok()) << info.error().str();
  EXPECT_EQ(info->scope, "System");
  EXPECT_EQ(info->outerIdentifier, "com.acme.docker");
  EXPECT_EQ(info->innerIdentifier, "com.acme.docker.config");
  EXPECT_NE(info->outerUuid, info->innerUuid);
  EXPECT_EQ(info->organization, in.organization);  // CR, quotes, ]]> all read back
  EXPECT_EQ(info->outerUuid[14], '5');             // RFC 4122 version 5
  auto bare = parseConfigProfile(findFile(*ex, "com.docker.config.plist")->content, "b");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(**bare, **orgs);
  auto sh = readShInstallScript(findFile(*ex, "install-admin-settings.sh")->content);
  ASSERT_TRUE(sh.ok()) << sh.error().str();
  ASSERT_EQ(sh->size(), 2u);
  EXPECT_EQ((*sh)[0].dest, "/Library/Application Support/com.docker.docker/admin-settings.json");
  EXPECT_EQ((*sh)[0].owner, "0:0");  // root:wheel
  EXPECT_EQ((*sh)[0].mode, "644");
  EXPECT_EQ((*sh)[1].owner, "0:80");  // root:admin, as Docker documents for registry.json
  expectSamePolicy(in, (*sh)[0].content, (*sh)[1].content);
}

TEST(MdmExport, WindowsIntuneAndGpo) {
  const ExportInput in = baseInput();
  for (auto t : {Target::kIntune, Target::kGpo}) {
    auto ex = exportFor(t, in);
    ASSERT_TRUE(ex.ok()) << ex.error().str();
    auto v = verifyExport(*ex, in);
    ASSERT_TRUE(v.ok()) << v.error().str();
    EXPECT_EQ(findFile(*ex, "detect.ps1") != nullptr, t == Target::kIntune);
    const auto& ps1 = findFile(*ex, "install.ps1")->content;
    auto ps = readPsScript(ps1, true);
    ASSERT_TRUE(ps.ok()) << ps.error().str();
    EXPECT_EQ(ps->policyKey, "SOFTWARE\\Policies\\Docker\\Docker Desktop");
    EXPECT_EQ(ps->orgs, (std::vector<std::string>{"myorg1", "myorg2"}));
    EXPECT_TRUE(ps->setsOrgs);
    expectSamePolicy(in, ps->files.at("admin-settings.json"), ps->files.at("registry.json"));
    // 64-bit host, SYSTEM/elevated, Docker's ACL (owner Administrators; SYSTEM, Administrators,
    // Everyone RX) are in the script text.
    for (const char* must :
         {"Is64BitProcess", "SysNative", "'S-1-5-18'", "S-1-5-32-544", "S-1-1-0",
          "SetAccessRuleProtection($true, $false)", "'ReadAndExecute'", "$acl.SetOwner($admins)",
          "[Microsoft.Win32.RegistryValueKind]::MultiString"}) {
      EXPECT_NE(ps1.find(must), std::string::npos) << must;
    }
    // The .reg: UTF-16LE with BOM, read by the .reg reader, then by the agent's key reader.
    const auto& reg = findFile(*ex, "allowed-orgs.reg")->content;
    EXPECT_EQ(reg.substr(0, 2), "\xFF\xFE");
    auto keys = parseRegFile(reg, "r");
    ASSERT_TRUE(keys.ok());
    const auto* val = findRegValue(
        *keys, "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Docker\\Docker Desktop", "allowedOrgs");
    ASSERT_NE(val, nullptr);
    auto orgs = parsePolicyKeyValue(*policyKeyText(*val), "key");
    ASSERT_TRUE(orgs.ok());
    EXPECT_EQ(**orgs, ps->orgs);
    auto admx = readAdmxPair(findFile(*ex, "docker-desktop.admx")->content,
                             findFile(*ex, "en-US/docker-desktop.adml")->content);
    ASSERT_TRUE(admx.ok()) << admx.error().str();
    EXPECT_EQ(admx->key, "Software\\Policies\\Docker\\Docker Desktop");
    EXPECT_EQ(admx->valueName, "allowedOrgs");
    EXPECT_NE(admx->explain.find(in.organization), std::string::npos);
  }
}

TEST(MdmExport, LinuxScript) {
  const ExportInput in = baseInput();
  auto ex = exportFor(Target::kLinux, in);
  ASSERT_TRUE(ex.ok());
  ASSERT_TRUE(verifyExport(*ex, in).ok());
  ASSERT_EQ(ex->files.size(), 1u);
  EXPECT_EQ(ex->files[0].mode, 0755u);
  auto sh = readShInstallScript(ex->files[0].content);
  ASSERT_TRUE(sh.ok());
  ASSERT_EQ(sh->size(), 2u);
  EXPECT_EQ((*sh)[0].dest, "/usr/share/docker-desktop/admin-settings.json");
  EXPECT_EQ((*sh)[1].dest, "/usr/share/docker-desktop/registry/registry.json");
  EXPECT_EQ((*sh)[1].owner, "0:0");
  expectSamePolicy(in, (*sh)[0].content, (*sh)[1].content);
}

TEST(MdmExport, HostileValuesRoundTripOnEveryTarget) {
  ExportInput in = baseInput();
  in.adminSettings = hostileSettings();
  for (auto t : {Target::kJamf, Target::kIntune, Target::kGpo, Target::kLinux}) {
    auto ex = exportFor(t, in);
    ASSERT_TRUE(ex.ok()) << targetName(t) << ": " << ex.error().str();
    auto v = verifyExport(*ex, in);
    EXPECT_TRUE(v.ok()) << targetName(t) << ": " << v.error().str();
  }
}

TEST(MdmExport, DeterministicUuidsChangeWithContent) {
  ExportInput in = baseInput();
  auto a = exportFor(Target::kJamf, in);
  auto b = exportFor(Target::kJamf, in);
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < a->files.size(); ++i) EXPECT_EQ(a->files[i].content, b->files[i].content);
  in.registry = readExample("registry.json");
  auto c = exportFor(Target::kJamf, in);
  ASSERT_TRUE(c.ok());
  auto ia = readProfile(findFile(*a, "docker.mobileconfig")->content);
  auto ic = readProfile(findFile(*c, "docker.mobileconfig")->content);
  EXPECT_NE(ia->outerUuid, ic->outerUuid);
  EXPECT_NE(ia->innerUuid, ic->innerUuid);
}

TEST(MdmExport, Refusals) {
  ExportInput in;
  EXPECT_FALSE(exportFor(Target::kLinux, in).ok());  // nothing to export
  in.adminSettings = R"({"configurationFileVersion": 2, "enhancedContainerIsolation": 3})";
  auto r = exportFor(Target::kLinux, in);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidInput);
  EXPECT_NE(r.error().str().find("does not validate"), std::string::npos);
  in.allowInvalid = true;
  EXPECT_TRUE(exportFor(Target::kLinux, in).ok());
  in = baseInput();
  in.organization = std::string("a\x01");
  EXPECT_FALSE(exportFor(Target::kJamf, in).ok());
  in = baseInput();
  in.identifierPrefix = "com.acme docker";
  EXPECT_FALSE(exportFor(Target::kJamf, in).ok());
  in = baseInput();
  in.registry = R"({"allowedOrgs": ["MyOrg"]})";  // org names are lowercase
  EXPECT_FALSE(exportFor(Target::kGpo, in).ok());
}

TEST(MdmExport, OnlySettingsNoOrgArtefacts) {
  ExportInput in;
  in.adminSettings = readExample("admin-settings.minimal.json");
  auto jamf = exportFor(Target::kJamf, in);
  ASSERT_TRUE(jamf.ok());
  EXPECT_EQ(findFile(*jamf, "docker.mobileconfig"), nullptr);
  EXPECT_TRUE(verifyExport(*jamf, in).ok());
  auto gpo = exportFor(Target::kGpo, in);
  ASSERT_TRUE(gpo.ok());
  EXPECT_EQ(findFile(*gpo, "allowed-orgs.reg"), nullptr);
  EXPECT_TRUE(verifyExport(*gpo, in).ok()) << verifyExport(*gpo, in).error().str();
  auto ps = readPsScript(findFile(*gpo, "install.ps1")->content, true);
  ASSERT_TRUE(ps.ok());
  EXPECT_FALSE(ps->setsOrgs);
}

TEST(MdmExport, VerifyCatchesTampering) {
  const ExportInput in = baseInput();
  auto ex = exportFor(Target::kIntune, in);
  ASSERT_TRUE(ex.ok());
  Export bad = *ex;
  for (auto& f : bad.files) {
    if (f.name == "install.ps1") {
      f.content.replace(f.content.find("[System.IO.File]::WriteAllText($tmp, $Text, $Utf8NoBom)"),
                        56, "Set-Content -LiteralPath $tmp -Value $Text -Encoding UTF8   ");
    }
  }
  EXPECT_FALSE(verifyExport(bad, in).ok());
  bad = *ex;
  bad.files.push_back({"extra.txt", "x", 0644, ""});  // a file nobody checked
  EXPECT_FALSE(verifyExport(bad, in).ok());
  auto jamf = exportFor(Target::kJamf, in);
  bad = *jamf;
  for (auto& f : bad.files) {
    if (f.name == "docker.mobileconfig") {
      f.content.replace(f.content.find("<string>System</string>"), 23, "<string>User</string>");
    }
  }
  EXPECT_FALSE(verifyExport(bad, in).ok());
  // A non-ASCII byte in a .ps1 would be read in the ANSI code page by PowerShell 5.1.
  EXPECT_FALSE(readPsScript("# caf\xc3\xa9\n", true).ok());
}

// Randomized: random hostile strings in a settings value, the file's whitespace and the
// organization; every target's export must read back exactly.
TEST(MdmExport, RandomizedRoundTrip) {
  const std::vector<std::string> pieces = {"'",           "\"",
                                           "\\",          "$",
                                           "`",           "]]>",
                                           "\n",          "\r",
                                           "\t",          "&",
                                           "<",           ">",
                                           "é",           "😀",
                                           "\u2019",      "\u2018",
                                           "''",          "'\\''",
                                           "@(",          ")",
                                           "-join",       "Set-Content",
                                           "ECI_FILE_1=", "install_file ",
                                           "#",           " ",
                                           "%x%",         "[char]0x0041",
                                           "\u2028",      "x"};
  const std::vector<std::string> ws = {" ", "\n", "\r\n", "\t", ""};
  std::mt19937 rng(4);
  auto text = [&] {
    std::string s;
    for (size_t n = rng() % 10; n > 0; --n) s += pieces[rng() % pieces.size()];
    return s;
  };
  for (int i = 0; i < 60; ++i) {
    nlohmann::ordered_json note = text();
    std::string settings = "{" + ws[rng() % ws.size()] + "\"configurationFileVersion\": 2," +
                           ws[rng() % ws.size()] + "\"x-note\":" + ws[rng() % ws.size()] +
                           note.dump(-1, ' ', rng() % 2 == 0) + ws[rng() % ws.size()] + "}" +
                           ws[rng() % ws.size()];
    ExportInput in;
    in.adminSettings = settings;
    in.registry = R"({"allowedOrgs": ["a-1", "b_2", "c-3"]})";
    in.organization = text();
    for (auto t : {Target::kJamf, Target::kIntune, Target::kGpo, Target::kLinux}) {
      auto ex = exportFor(t, in);
      ASSERT_TRUE(ex.ok()) << ex.error().str() << "\n" << settings;
      auto v = verifyExport(*ex, in);
      ASSERT_TRUE(v.ok()) << targetName(t) << ": " << v.error().str() << "\n" << settings;
    }
  }
}

// The generated sh installers really run (as root) and leave exactly the exported files with
// the documented owner and mode; a folder writable by others is refused.
TEST(MdmExport, ShellScriptsRunWithDestdir) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
  ExportInput in = baseInput();
  in.adminSettings = hostileSettings();
  for (auto t : {Target::kLinux, Target::kJamf}) {
    auto ex = exportFor(t, in);
    ASSERT_TRUE(ex.ok());
    char tmpl[] = "/tmp/eci-mdm-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string root = tmpl;
    ASSERT_TRUE(writeExport(*ex, root + "/out").ok());
    const std::string cmd =
        "DESTDIR=" + root + "/dest sh " + root + "/out/install-admin-settings.sh >/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << targetName(t);
    auto files = readShInstallScript(findFile(*ex, "install-admin-settings.sh")->content);
    ASSERT_TRUE(files.ok());
    for (const auto& f : *files) {
      const std::string path = root + "/dest" + f.dest;
      std::ifstream in2(path, std::ios::binary);
      std::stringstream ss;
      ss << in2.rdbuf();
      EXPECT_EQ(ss.str(), f.content) << path;
      struct stat st {};
      ASSERT_EQ(stat(path.c_str(), &st), 0);
      EXPECT_EQ(st.st_mode & 07777, 0644u);
      EXPECT_EQ(st.st_uid, 0u);
      EXPECT_EQ(std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid), f.owner);
    }
    // A folder others can write: refused, nothing installed there.
    const std::string loose = root + "/loose";
    const std::string dir = t == Target::kLinux ? "/usr/share/docker-desktop"
                                                : "/Library/Application Support/com.docker.docker";
    ASSERT_EQ(
        std::system(("mkdir -p '" + loose + dir + "' && chmod 777 '" + loose + dir + "'").c_str()),
        0);
    const std::string cmd2 =
        "DESTDIR=" + loose + " sh " + root + "/out/install-admin-settings.sh >/dev/null 2>&1";
    EXPECT_NE(std::system(cmd2.c_str()), 0);
    EXPECT_NE(access((loose + dir + "/admin-settings.json").c_str(), F_OK), 0);
    EXPECT_EQ(std::system(("rm -rf '" + root + "'").c_str()), 0);
  }
}

}  // namespace
}  // namespace eci::settings::mdm
