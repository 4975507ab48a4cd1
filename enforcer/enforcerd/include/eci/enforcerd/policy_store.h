// The policy in force: the last good signed bundle, persisted crash-safe in the state dir and
// re-verified at every start. Anything that does not verify leaves ECI on with built-in defaults
// (fail closed) and the reason is kept for `status`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "eci/error.h"
#include "eci/policy.h"

namespace eci::enforcerd {

enum class PolicySource {
  kDefaults,   // fail-closed defaults (no policy, or none that verifies)
  kPersisted,  // the bundle persisted by an earlier run, re-verified at start
  kPushed,     // pushed to this run
};
const char* policySourceName(PolicySource s);

struct PolicyState {
  Policy policy = Policy::failClosedDefaults();
  bool verified = false;
  uint64_t serial = 0;         // serial of the bundle in force; 0 with the defaults
  uint64_t highestSerial = 0;  // highest serial ever accepted: a push must exceed it
  PolicySource source = PolicySource::kDefaults;
  std::string reason;  // why the defaults are in force; empty when a verified policy is
  std::string keyId;
  std::string issuedAt;
};

struct PushOutcome {
  bool applied = false;
  uint64_t serial = 0;  // the pushed bundle's serial when applied, else the current highest
  std::string reason;   // why it was refused
};

class PolicyStore {
 public:
  static constexpr const char* kBundleFile = "policy.bundle";
  static constexpr const char* kSerialFile = "policy.serial";
  static constexpr size_t kMaxBundleBytes = 4u << 20;

  PolicyStore(std::filesystem::path stateDir, std::filesystem::path trustedKeysDir);

  // Loads and re-verifies the persisted bundle. Never fails: whatever is wrong ends in the
  // fail-closed defaults with the reason recorded.
  void load();

  // Verifies `bundleText` against the trusted keys (re-read on every push, so a key added by the
  // admin needs no restart), checks its serial exceeds every serial seen, persists it atomically
  // and only then puts it in force.
  PushOutcome push(const std::string& bundleText);

  // The state in force; cheap (a shared snapshot, swapped whole on every change).
  std::shared_ptr<const PolicyState> current() const;

 private:
  std::filesystem::path bundlePath() const { return stateDir_ / kBundleFile; }
  std::filesystem::path serialPath() const { return stateDir_ / kSerialFile; }

  const std::filesystem::path stateDir_;
  const std::filesystem::path trustedKeysDir_;
  std::mutex pushMu_;  // serialises pushes (verify + persist + swap)
  mutable std::mutex stateMu_;
  std::shared_ptr<const PolicyState> state_;
};

}  // namespace eci::enforcerd
