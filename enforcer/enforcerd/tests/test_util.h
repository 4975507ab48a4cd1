// Helpers shared by eci-enforcerd's tests: private temp dirs, keys, signed bundles.
#pragma once

#include <filesystem>
#include <string>

#include "eci/policy.h"
#include "eci/signing.h"

namespace eci::enforcerd::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

KeyPair makeKey();
// Writes `key`'s public half as DIR/NAME.pub (the trusted-keys layout).
void trustKey(const KeyPair& key, const std::filesystem::path& dir, const std::string& name);
Policy testPolicy(bool enabled = true);
std::string signedBundle(const KeyPair& key, const Policy& policy, uint64_t serial);
void writeFile(const std::filesystem::path& path, const std::string& content);
std::string readFile(const std::filesystem::path& path);

}  // namespace eci::enforcerd::testing
