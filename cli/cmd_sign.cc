// `eci-admin keygen`, `eci-admin policy sign`, `eci-admin policy verify`: the administrator's side
// of signed policy bundles (format: docs/design/policy-bundle.md).
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "eci/fs_util.h"
#include "eci/policy.h"
#include "eci/settings/build_policy.h"
#include "eci/settings/validator.h"
#include "eci/signing.h"

namespace eci::cli {
namespace {

constexpr size_t kMaxInputBytes = 4u << 20;

int fail(int code, const std::string& msg) {
  (void)std::fprintf(stderr, "eci-admin: %s\n", msg.c_str());
  return code;
}

// I/O problems (missing file, permissions, a file over the size limit) are exit 2; content that is
// wrong is exit 1: an invalid-input error, or one described by its message only (the parsers'
// Error(message)), unless a system call failed.
int ioOrInvalid(const Error& e) {
  const bool content = e.kind() == ErrorKind::kInvalidInput || e.kind() == ErrorKind::kOther;
  return !e.isSystem() && content ? 1 : 2;
}

struct KeygenOptions {
  std::string outDir;
  bool force = false;
};

int runKeygen(const KeygenOptions& o) {
  const std::filesystem::path dir(o.outDir);
  std::error_code ec;
  if (!o.force && std::filesystem::exists(dir / "eci-policy.key", ec)) {
    return fail(1, (dir / "eci-policy.key").string() +
                       " already exists; refusing to replace a signing key (use --force)");
  }
  auto key = KeyPair::generate();
  if (!key.ok()) return fail(2, key.error().str());
  if (auto s = key->writeTo(dir); !s.ok()) return fail(2, "keygen: " + s.error().str());
  std::printf("private key: %s (mode 0600, keep it secret)\n",
              (dir / "eci-policy.key").string().c_str());
  std::printf("public key:  %s (install it as /etc/eci/trusted-keys/<name>.pub)\n",
              (dir / "eci-policy.pub").string().c_str());
  std::printf("key id:      %s\n", key->keyId().c_str());
  return 0;
}

struct SignOptions {
  std::string keyFile;
  std::string policyFile;
  std::string settingsFile;
  std::string registryFile;
  std::string serial;
  std::string output;
};

Result<uint64_t> parseSerial(const std::string& s) {
  uint64_t v = 0;
  const char* end = s.data() + s.size();
  auto [ptr, err] = std::from_chars(s.data(), end, v);
  if (s.empty() || err != std::errc() || ptr != end) {
    return Error("--serial: '" + s + "' is not an unsigned 64-bit integer");
  }
  if (v == 0)
    return Error(
        "--serial: must be at least 1 (the enforcer accepts only a serial "
        "greater than the one it holds, which starts at 0)");
  return v;
}

Result<Policy> policyFromFile(const std::string& file) {
  ECI_ASSIGN_OR_RETURN(text, fs::readFile(file, kMaxInputBytes));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    std::string msg = e.what();
    const auto pos = msg.find("parse error");
    return Error(file + ": not valid JSON: " + (pos == std::string::npos ? msg : msg.substr(pos)));
  }
  auto p = Policy::fromJson(j);
  if (!p.ok()) return std::move(p).error().wrap(file);
  return p;
}

// Exit code, and the policy in `out` on 0.
int policyFromSettings(const SignOptions& o, Policy& out) {
  auto load = [](const std::string& file, settings::FileKind kind,
                 settings::Report& report) -> int {
    auto r = settings::validateFile(file, kind);
    if (!r.ok()) return fail(2, "cannot read " + file + ": " + r.error().str());
    report = std::move(r).value();
    if (!report.valid()) {
      for (const auto& f : report.findings) {
        if (f.severity == settings::Severity::kError) {
          (void)std::fprintf(stderr, "%s\n", settings::formatText(f).c_str());
        }
      }
      return fail(1, file + " is invalid; nothing signed");
    }
    return 0;
  };
  settings::Report s;
  settings::Report r;
  if (int rc = load(o.settingsFile, settings::FileKind::kAdminSettings, s); rc != 0) return rc;
  if (!o.registryFile.empty()) {
    if (int rc = load(o.registryFile, settings::FileKind::kRegistry, r); rc != 0) return rc;
  }
  auto p = settings::buildPolicy(s, o.registryFile.empty() ? nullptr : &r);
  if (!p.ok()) return fail(1, p.error().str());
  out = std::move(p).value();
  return 0;
}

int runSign(const SignOptions& o) {
  if (o.policyFile.empty() == o.settingsFile.empty()) {
    return fail(2, "policy sign: give exactly one of --policy FILE or --settings FILE");
  }
  if (!o.registryFile.empty() && o.settingsFile.empty()) {
    return fail(2, "policy sign: --registry needs --settings");
  }
  auto serial = parseSerial(o.serial);
  if (!serial.ok()) return fail(2, "policy sign: " + serial.error().str());
  auto key = KeyPair::loadPrivate(o.keyFile);
  if (!key.ok()) return fail(ioOrInvalid(key.error()), "policy sign: " + key.error().str());

  Policy policy;
  if (!o.policyFile.empty()) {
    auto p = policyFromFile(o.policyFile);
    if (!p.ok()) return fail(ioOrInvalid(p.error()), "policy sign: " + p.error().str());
    policy = std::move(p).value();
  } else if (int rc = policyFromSettings(o, policy); rc != 0) {
    return rc;
  }

  auto bundle = signBundle(*key, policy, *serial);
  if (!bundle.ok()) return fail(1, bundle.error().str());
  if (o.output == "-") {
    (void)std::fputs(bundle->c_str(), stdout);
  } else if (auto s = fs::writeFileAtomic(o.output, *bundle, 0644); !s.ok()) {
    return fail(2, "policy sign: " + s.error().str());
  } else {
    std::printf("signed policy bundle %s: serial %llu, key id %s\n", o.output.c_str(),
                static_cast<unsigned long long>(*serial), key->keyId().c_str());
  }
  return 0;
}

struct VerifyOptions {
  std::string pub;
  std::string bundle;
};

std::string joinOrNone(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += (s.empty() ? "" : ", ") + e;
  return s.empty() ? "(none)" : s;
}

int runVerify(const VerifyOptions& o) {
  std::vector<KeyPair> trusted;
  std::error_code ec;
  // A directory is read like the enforcer's trust dir (/etc/eci/trusted-keys); a file is one key.
  if (std::filesystem::is_directory(o.pub, ec)) {
    auto keys = loadTrustedKeys(o.pub);
    if (!keys.ok()) return fail(ioOrInvalid(keys.error()), "policy verify: " + keys.error().str());
    trusted = std::move(keys).value();
    if (trusted.empty()) return fail(2, "policy verify: no *.pub keys in " + o.pub);
  } else {
    auto key = KeyPair::loadPublic(o.pub);
    if (!key.ok()) return fail(ioOrInvalid(key.error()), "policy verify: " + key.error().str());
    trusted.push_back(std::move(key).value());
  }
  // Read one byte past the verifier's limit so an oversized file is refused by verifyBundle with
  // its own message rather than by the reader.
  auto text = fs::readFile(o.bundle, (4u << 20) + 1);
  if (!text.ok()) {
    return fail(text.error().kind() == ErrorKind::kTooLarge ? 1 : 2,
                "policy verify: " + text.error().str());
  }
  auto b = verifyBundle(*text, trusted);
  if (!b.ok()) {
    return fail(1, o.bundle + ": does not verify: " + b.error().str());
  }
  const Policy& p = b->policy;
  std::printf("%s: signature OK\n", o.bundle.c_str());
  std::printf("serial:     %llu\n", static_cast<unsigned long long>(b->serial));
  std::printf("issued at:  %s\n", b->issuedAt.c_str());
  std::printf("key id:     %s\n", b->keyId.c_str());
  std::printf("ECI:        %s%s\n", p.enabled ? "on" : "off",
              p.locked ? " (locked)" : " (not locked)");
  std::printf("socket-mount images: %zu (allowDerivedImages: %s)\n", p.socketMountImages.size(),
              p.allowDerivedImages ? "true" : "false");
  std::printf("command list: %s %s\n",
              p.commandList.type == CommandList::Type::kAllow ? "allow" : "deny",
              joinOrNone(p.commandList.commands).c_str());
  std::printf("restricted host mounts: %zu\n", p.restrictedHostMounts.size());
  std::printf("allowed orgs: %s\n", joinOrNone(p.allowedOrgs).c_str());
  std::printf("inputs digest: %s\n", p.inputsDigest.empty() ? "(none)" : p.inputsDigest.c_str());
  return 0;
}

}  // namespace

void registerKeygen(CLI::App& app, int& exitCode) {
  auto o = std::make_shared<KeygenOptions>();
  CLI::App* cmd = app.add_subcommand(
      "keygen", "Create an Ed25519 key pair for signing policy bundles (eci-policy.key/.pub)");
  cmd->add_option("--out", o->outDir, "Directory for eci-policy.key (0600) and eci-policy.pub")
      ->required();
  cmd->add_flag("--force", o->force, "Replace an existing key pair");
  cmd->callback([o, &exitCode] { exitCode = runKeygen(*o); });
}

void registerPolicySigning(CLI::App& policy, int& exitCode) {
  auto s = std::make_shared<SignOptions>();
  CLI::App* sign = policy.add_subcommand(
      "sign", "Sign a policy (a policy JSON file, or derived from settings) into a bundle");
  sign->add_option("--key", s->keyFile, "Ed25519 private key (PEM), from `eci-admin keygen`")
      ->required();
  sign->add_option("--policy", s->policyFile, "Policy JSON (as printed by `policy --format json`)");
  sign->add_option("--settings", s->settingsFile, "admin-settings.json to derive the policy from");
  sign->add_option("--registry", s->registryFile, "registry.json (with --settings)");
  sign->add_option("--serial", s->serial,
                   "Bundle serial (>= 1); the enforcer accepts only a serial greater than the one "
                   "it holds")
      ->required();
  sign->add_option("-o,--output", s->output, "Where to write the bundle ('-' for stdout)")
      ->required();
  sign->callback([s, &exitCode] { exitCode = runSign(*s); });

  auto v = std::make_shared<VerifyOptions>();
  CLI::App* verify =
      policy.add_subcommand("verify", "Verify a policy bundle's signature and show its content");
  verify->add_option("--pub", v->pub, "Trusted public key (PEM) or a directory of *.pub keys")
      ->required();
  verify->add_option("bundle", v->bundle, "Policy bundle file")->required();
  verify->callback([v, &exitCode] { exitCode = runVerify(*v); });
}

}  // namespace eci::cli
