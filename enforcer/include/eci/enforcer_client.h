// Client side of eci-enforcerd's sockets, used by eci-runc, eci-admin and eci-agent.
// Wire format: eci/ipc.h frames; messages: docs/design/protocol.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "eci/error.h"
#include "eci/policy.h"

namespace eci::enforcer {

inline constexpr const char* kDefaultControlSocket = "/run/eci/enforcer.sock";
inline constexpr const char* kDefaultPushSocket = "/run/eci/push.sock";

struct IdRange {
  uint32_t start = 0;  // host uid/gid that container root maps to (100000, 165536, ...)
  uint32_t size = 0;   // always 65536
};

// What eci-runc needs to rewrite one container's spec.
struct CreateGrant {
  Policy policy;  // the policy in force (verified, or fail-closed defaults)
  bool policyVerified = false;
  IdRange range;  // allocated exclusively to this container (size 0 if ECI is off)
  // This create made the allocation. False when the id already held one (a live container with
  // that id, or a retry): a failed create must then release nothing, or it would tear down the
  // live container's range and /proc emulation.
  bool fresh = false;
  std::string engineDataRoot;  // e.g. /var/lib/docker; restricted as a whole
  // The reply's "modules": what each enforcer module tells eci-runc, e.g. modules/procfs
  // {"base", "hook"} for the /proc and /sys emulation (eci/procfs/spec.h).
  nlohmann::json modules = nlohmann::json::object();
  // Who asked the engine for this container (recorded by eci-apiproxyd with setCaller), if known:
  // eci-runc ID-maps the container's host binds so container root acts as this uid/gid.
  struct Caller {
    uint32_t uid = 0;
    uint32_t gid = 0;
  };
  std::optional<Caller> caller;
};

class Client {
 public:
  explicit Client(std::filesystem::path controlSocket = kDefaultControlSocket)
      : socket_(std::move(controlSocket)) {}

  // Allocates (or returns the already allocated) range for `containerId`. `runcRoot` and
  // `bundle` let the enforcer reconcile allocations with the runtime's state after a restart.
  // `joins`: the ECI container whose namespaces this one joins; it shares (and keeps alive) that
  // container's range instead of taking a new one.
  Result<CreateGrant> create(const std::string& containerId, const std::string& bundle,
                             const std::string& runcRoot, const std::string& joins = {});
  // The container is gone (runc delete, or a failed create): release its range. Idempotent.
  Status release(const std::string& containerId);
  // Records who asked the engine for `containerId` (contract 4; eci-apiproxyd calls it after
  // dockerd answered POST /containers/create and before replying to its client). Persisted by
  // the daemon before it answers.
  Status setCaller(const std::string& containerId, uint32_t uid, uint32_t gid);
  Result<nlohmann::json> status();

 private:
  std::filesystem::path socket_;
};

// Pushes a signed bundle to the push socket; the reply says whether it was applied and why not.
struct PushResult {
  bool applied = false;
  uint64_t serial = 0;
  std::string reason;  // why it was refused
};
Result<PushResult> pushBundle(const std::filesystem::path& pushSocket, const std::string& bundle);
// The same push over AF_VSOCK (agent on the host, eci-enforcerd in a VM).
Result<PushResult> pushBundleVsock(uint32_t cid, uint32_t port, const std::string& bundle);

// The audit log (eci/audit.h): eci-enforcerd writes it; other processes send their records on the
// control socket ({"op":"audit","record":{source, event, container, name, image, rule, reason,
// extra}}; the daemon stamps the time and may suppress it under its rate limit).
Status sendAudit(const std::filesystem::path& controlSocket, const nlohmann::json& record,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
// Fire and forget, for a caller that must not wait (the API guard's decision path): the record
// goes from a thread of its own with `timeout`; at most kMaxAuditInFlight are in flight at once,
// more are dropped and counted (auditDropped). Never throws, never blocks the caller.
// true: handed to a sender, which calls `done` (if set) once the record is sent or failed;
// false: dropped here, `done` is not called. A caller sharing these senders among many clients
// budgets them itself (the API guard: enforcer/apiproxy/daemon/src/audit_budget.h).
inline constexpr int kMaxAuditInFlight = 8;
bool sendAuditDetached(const std::filesystem::path& controlSocket, nlohmann::json record,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                       std::function<void()> done = {});
uint64_t auditDropped();

}  // namespace eci::enforcer
