// eci-enforcerd's logic without its sockets: the policy store, the range allocator, the modules,
// and the request handlers of the control and push protocols (docs/design/protocol.md). Server
// (server.h) feeds it requests from the sockets; tests call the handlers directly.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "eci/audit.h"
#include "eci/enforcerd/caller_store.h"
#include "eci/enforcerd/config.h"
#include "eci/enforcerd/module.h"
#include "eci/enforcerd/policy_store.h"
#include "eci/enforcerd/range_allocator.h"
#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::enforcerd {

class Enforcer {
 public:
  static constexpr const char* kAllocationsFile = "allocations.json";
  static constexpr const char* kLockFile = "enforcerd.lock";
  static constexpr const char* kCallersFile = "callers.json";

  explicit Enforcer(Config config, LivenessProbe probe = runtimeHasContainer);
  ~Enforcer();
  Enforcer(const Enforcer&) = delete;
  Enforcer& operator=(const Enforcer&) = delete;

  // Before init().
  void addModule(std::unique_ptr<Module> module);

  // Creates the state dir (0700), takes its lock (one daemon per state dir), loads the policy and
  // the allocations. Fails on a corrupt allocations file or a state dir held by another daemon.
  Status init();
  Status startModules();
  void stopModules();

  // Before init(): every audit record written is also passed here (eci-enforcerd: journald).
  void setAuditMirror(audit::Writer::Mirror mirror) { auditMirror_ = std::move(mirror); }
  // Rate-limits (per container, audit::RateLimiter) and appends one audit record; false when it
  // was suppressed or there is no audit log. A record that passes after suppressed ones carries
  // extra.suppressed. Never blocks on anything but the local file.
  bool audit(audit::Record record);

  // Control socket: create, release, setCaller, status, audit. Never throws; errors are
  // {"ok":false,"error":...}.
  nlohmann::json handleControl(const nlohmann::json& request);
  // Push socket (and vsock): push.
  nlohmann::json handlePush(const nlohmann::json& request);

  nlohmann::json statusJson();
  const Config& config() const { return config_; }
  PolicyStore& policy() { return policy_; }
  RangeAllocator& ranges() { return ranges_; }
  CallerStore& callers() { return callers_; }

 private:
  nlohmann::json create(const nlohmann::json& request);
  nlohmann::json release(const nlohmann::json& request);
  nlohmann::json setCaller(const nlohmann::json& request);
  nlohmann::json auditOp(const nlohmann::json& request);

  const Config config_;
  PolicyStore policy_;
  RangeAllocator ranges_;
  CallerStore callers_;
  UniqueFd lock_;
  std::vector<std::unique_ptr<Module>> modules_;
  size_t started_ = 0;  // modules_[0, started_) are running
  audit::Writer::Mirror auditMirror_;
  std::unique_ptr<audit::Writer> audit_;  // null: no audit log configured
  audit::RateLimiter auditRate_;
};

nlohmann::json errorReply(const std::string& message);

}  // namespace eci::enforcerd
