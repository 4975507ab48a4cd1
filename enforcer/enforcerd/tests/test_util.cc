#include "test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <sstream>

namespace eci::enforcerd::testing {

TempDir::TempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "eci-enforcerd-test.XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

KeyPair makeKey() {
  auto k = KeyPair::generate();
  if (!k.ok()) ADD_FAILURE() << "KeyPair::generate: " << k.error().str();
  return std::move(k).value();
}

void trustKey(const KeyPair& key, const std::filesystem::path& dir, const std::string& name) {
  std::filesystem::create_directories(dir);
  auto pem = key.publicPem();
  ASSERT_TRUE(pem.ok()) << pem.error().str();
  writeFile(dir / (name + ".pub"), *pem);
}

Policy testPolicy(bool enabled) {
  Policy p = Policy::failClosedDefaults();
  p.enabled = enabled;
  p.locked = true;
  p.restrictedHostMounts.push_back("/srv/secret");
  p.allowedOrgs = {"myorg"};
  p.inputsDigest = "sha256:00";
  return p;
}

std::string signedBundle(const KeyPair& key, const Policy& policy, uint64_t serial) {
  auto b = signBundle(key, policy, serial);
  if (!b.ok()) {
    ADD_FAILURE() << "signBundle: " << b.error().str();
    return {};
  }
  return *b;
}

void writeFile(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace eci::enforcerd::testing
