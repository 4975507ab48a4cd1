#include "eci/enforcerd/policy_store.h"

#include <charconv>
#include <system_error>

#include "eci/fs_util.h"
#include "eci/log.h"
#include "eci/signing.h"

namespace eci::enforcerd {
namespace {

Result<std::vector<KeyPair>> trustedKeys(const std::filesystem::path& dir) {
  auto keys = loadTrustedKeys(dir);
  if (!keys.ok()) return std::move(keys).error().wrap("loading trusted keys");
  if (keys->empty()) {
    return Error("no trusted keys (*.pub) in '" + dir.string() + "'");
  }
  return keys;
}

// The serial file holds the highest serial ever accepted. It outlives a persisted bundle that
// stops verifying (tampered, key removed), so an attacker who corrupts the bundle file cannot
// then replay an older signed bundle.
uint64_t readSerialFile(const std::filesystem::path& path) {
  auto text = fs::readFile(path, 64);
  if (!text.ok()) return 0;
  uint64_t v = 0;
  const char* b = text->data();
  const char* e = b + text->size();
  while (e > b && (e[-1] == '\n' || e[-1] == ' ')) --e;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e) return 0;
  return v;
}

}  // namespace

const char* policySourceName(PolicySource s) {
  switch (s) {
    case PolicySource::kDefaults:
      return "defaults";
    case PolicySource::kPersisted:
      return "persisted";
    case PolicySource::kPushed:
      return "pushed";
  }
  return "?";
}

PolicyStore::PolicyStore(std::filesystem::path stateDir, std::filesystem::path trustedKeysDir)
    : stateDir_(std::move(stateDir)),
      trustedKeysDir_(std::move(trustedKeysDir)),
      state_(std::make_shared<PolicyState>()) {
  auto s = std::make_shared<PolicyState>();
  s->reason = "no policy pushed yet";
  state_ = std::move(s);
}

void PolicyStore::load() {
  std::lock_guard pushLock(pushMu_);
  auto s = std::make_shared<PolicyState>();
  s->highestSerial = readSerialFile(serialPath());

  std::error_code ec;
  if (!std::filesystem::exists(bundlePath(), ec)) {
    s->reason = "no policy pushed yet";
  } else {
    auto text = fs::readFile(bundlePath(), kMaxBundleBytes);
    Result<Bundle> bundle = Error("");
    if (!text.ok()) {
      bundle = std::move(text).error();
    } else {
      auto keys = trustedKeys(trustedKeysDir_);
      bundle = keys.ok() ? verifyBundle(*text, *keys) : Result<Bundle>(std::move(keys).error());
    }
    if (!bundle.ok()) {
      s->reason = "persisted policy failed verification: " + bundle.error().str();
    } else {
      s->policy = bundle->policy;
      s->verified = true;
      s->serial = bundle->serial;
      s->keyId = bundle->keyId;
      s->issuedAt = bundle->issuedAt;
      s->source = PolicySource::kPersisted;
      // The bundle is written before the serial file; a crash between the two leaves the serial
      // file behind, never ahead.
      s->highestSerial = std::max(s->highestSerial, bundle->serial);
    }
  }
  std::lock_guard lock(stateMu_);
  state_ = std::move(s);
}

PushOutcome PolicyStore::push(const std::string& bundleText) {
  std::lock_guard pushLock(pushMu_);
  const auto cur = current();
  PushOutcome out;
  out.serial = cur->highestSerial;
  if (bundleText.size() > kMaxBundleBytes) {
    out.reason = "bundle is larger than " + std::to_string(kMaxBundleBytes) + " bytes";
    return out;
  }
  auto keys = trustedKeys(trustedKeysDir_);
  if (!keys.ok()) {
    out.reason = "cannot verify bundles: " + keys.error().str();
    return out;
  }
  auto bundle = verifyBundle(bundleText, *keys);
  if (!bundle.ok()) {
    out.reason = "bundle verification failed: " + bundle.error().str();
    return out;
  }
  if (bundle->serial <= cur->highestSerial) {
    out.reason = "bundle serial " + std::to_string(bundle->serial) +
                 " is not greater than the current serial " + std::to_string(cur->highestSerial) +
                 " (a replayed or stale bundle)";
    return out;
  }
  // Persist before applying: a policy in force must survive a crash, and a bundle that cannot be
  // persisted is refused rather than held only in memory.
  if (auto st = fs::writeFileAtomic(bundlePath(), bundleText, 0600); !st.ok()) {
    out.reason = "cannot persist the policy: " + st.error().str();
    return out;
  }
  if (auto st = fs::writeFileAtomic(serialPath(), std::to_string(bundle->serial) + "\n", 0600);
      !st.ok()) {
    // The bundle file already carries the serial, and load() takes the larger of the two.
    LOG_DEBUG("persisting the serial: %s", st.error().str().c_str());
  }
  auto s = std::make_shared<PolicyState>();
  s->policy = bundle->policy;
  s->verified = true;
  s->serial = bundle->serial;
  s->highestSerial = bundle->serial;
  s->keyId = bundle->keyId;
  s->issuedAt = bundle->issuedAt;
  s->source = PolicySource::kPushed;
  {
    std::lock_guard lock(stateMu_);
    state_ = std::move(s);
  }
  out.applied = true;
  out.serial = bundle->serial;
  return out;
}

std::shared_ptr<const PolicyState> PolicyStore::current() const {
  std::lock_guard lock(stateMu_);
  return state_;
}

}  // namespace eci::enforcerd
