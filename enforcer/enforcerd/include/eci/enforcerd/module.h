// The seam through which later parts of eci-enforcerd (seccomp notify supervisor, FUSE /proc and
// /sys emulation, the engine API proxy) plug into the daemon without touching its core.
//
// Lifecycle (see docs/design/protocol.md, "Modules"):
//   1. main() builds the Enforcer, calls addModule() for each module, then Enforcer::init()
//      (state dir locked, policy loaded, allocations reconciled).
//   2. startModules(): start() in registration order, before any socket accepts a client. A module
//      that fails to start stops the daemon (modules already started are stopped in reverse): a
//      supervisor that is not running must not let containers be created as if it were.
//   3. While serving: onCreate() after a range is granted and before the grant is sent;
//      onRelease() when a container's range is released; status() for `eci-admin status`.
//   4. stopModules(): stop() in reverse order, after the sockets stopped accepting and in-flight
//      requests finished. stop() must be idempotent and must not block longer than a few seconds.
// Hooks are called from connection threads concurrently; a module guards its own state.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "eci/audit.h"
#include "eci/enforcer_client.h"
#include "eci/enforcerd/config.h"
#include "eci/error.h"

namespace eci::enforcerd {

class PolicyStore;
class RangeAllocator;

struct ModuleContext {
  const Config& config;
  PolicyStore& policy;
  RangeAllocator& ranges;
  // The audit log (Enforcer::audit: rate-limited, never blocks on more than the local file).
  std::function<void(audit::Record)> audit = [](audit::Record) {};
};

// What a module learns about a container being created.
struct ContainerCreate {
  std::string id;
  std::string bundle;
  std::string runcRoot;
  bool eciEnabled = true;
  enforcer::IdRange range;  // size 0 when ECI is off
};

class Module {
 public:
  virtual ~Module() = default;
  virtual const char* name() const = 0;
  virtual Status start(const ModuleContext& ctx) = 0;
  virtual void stop() = 0;
  // May add fields for eci-runc under the grant's "modules"/<name> key. An error fails the create
  // (fail closed) and the range it was granted is released.
  virtual Status onCreate(const ContainerCreate& /*c*/, nlohmann::json& /*grantExtra*/) {
    return {};
  }
  virtual void onRelease(const std::string& /*containerId*/) {}
  // Shown under "modules"/<name> in the status reply.
  virtual nlohmann::json status() const { return nullptr; }
};

}  // namespace eci::enforcerd
