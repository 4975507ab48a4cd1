// The decision bridge of eci-apiproxyd: gathers what the pure decision function (decide.h) needs —
// the caller, the policy from eci-enforcerd, image/container/volume facts and registry digests
// from the engine's private socket — calls it, applies its rewrites, opens per-container sockets,
// records the caller of every create with eci-enforcerd, and logs every refusal once. decide() may
// block; it runs on the worker pool, never on the I/O thread. decideInline() never blocks: the I/O
// thread calls it first and uses its answer only for an allow that needed no I/O at all.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <vector>

#include "audit_budget.h"
#include "audit_refusal.h"
#include "eci/apiproxy/decide.h"
#include "grant_store.h"
#include "proxy_impl.h"

namespace eci::apiproxy {

class Gate {
 public:
  // Opens the listener of a per-container socket (contract 3) at grant.path / removes one.
  using OpenSocket = std::function<Result<std::shared_ptr<Listener>>(const SocketGrant& grant)>;
  using CloseSocket = std::function<void(const std::string& token)>;

  // `grants`: where granted sockets are recorded (outlives the gate).
  Gate(const ProxyConfig& cfg, const GrantStore& grants);
  void setSocketHooks(OpenSocket open, CloseSocket close) {
    open_ = std::move(open);
    close_ = std::move(close);
  }
  // First call with ex.body unset; a needBody verdict asks for the body and a second call.
  Outcome decide(Exchange& ex);
  // The same decision without blocking, for the I/O thread: an allow that needed nothing but the
  // cached policy (no eci-enforcerd call, no engine look-up, no host file, no effect to apply).
  // std::nullopt: anything else (refusals included); the caller then runs decide() on the pool,
  // which decides from scratch. Plain GETs (ping, version, ps, inspect) never leave the I/O thread.
  std::optional<Outcome> decideInline(Exchange& ex);
  // The engine removed a container: drop its socket, if it had one.
  void containerGone(const std::string& id);
  // Why container `record.containerId` may no longer have its engine socket under the current
  // policy, or nullopt if it may: the start decision (decide.h) for it, made afresh as root on
  // the public socket. A grant served again after a restart or a reboot is checked like a
  // `docker start` through the guard, because a start by the engine itself (a restart policy,
  // at boot) never passes the guard. Blocking (eci-enforcerd, engine look-ups).
  std::optional<std::string> recheckSocketGrant(const GrantRecord& record);
  // A socket re-served after a restart (reconcile.h) belongs to container `id` again.
  void adoptSocket(const std::string& id, const std::string& token);
  // A refusal the relay answered itself (no decision made it: the engine unreachable, a body too
  // large to inspect, ...) into the audit log like the decision's own: a request on a container's
  // own socket is recorded with that container's id. Never blocks (the record is sent
  // detached); call it only on a refusal path, never for every request.
  void auditRelayRefusal(const Listener& l, const Peer& peer, std::string_view method,
                         std::string_view target, const RefusalFacts& f, unsigned status);
  // Every audit record of the guard goes out through here, charged to `callerKey`'s share
  // (audit_budget.h): over it, the record is not sent but counted for the caller's summary.
  // Never blocks (the record is sent detached).
  void sendAuditRecord(const std::string& callerKey, nlohmann::json record);
  // Sends the summaries due ("N refusals from X not recorded"); the relay calls it every second.
  void flushAuditSummaries();
  // Keeps what decideInline() decides on fresh while clients come: the policy is read again
  // once it is half its refresh period old, the TCP-without-TLS check is made again before it is
  // due. Without it the first plain GET after a pause of a second (every interactive `docker ps`)
  // found both stale and went to the pool, to wait there for eci-enforcerd. Blocking: the relay
  // runs it on the pool every half refresh period, and only while requests came in the last
  // kRefreshWhileActive (an idle guard wakes nobody). How stale a GET's policy may be is
  // unchanged (at most policyRefresh); requests with a body still read it afresh.
  void refreshDecisionCaches();
  static constexpr std::chrono::seconds kRefreshWhileActive{60};
  // A restarted guard could not give container `id` its socket back (reconcile.h): one audit
  // record per container until it is served again or removed (every pass logs it; the audit
  // log gets the fact once, not once per engine reconnect).
  void auditReserveFailure(const std::string& id, const std::string& name, const std::string& image,
                           const std::string& reason);
  // The same for the engine failing the guard (rule engine-unreachable, engine-no-answer), at
  // most one record a rule every kEngineTroubleAuditEvery: one outage is one fact for the admin,
  // and a client hammering a dead or misbehaving engine must not crowd the guard's few audit
  // senders (kMaxAuditInFlight) away from other refusals.
  static constexpr std::chrono::seconds kEngineTroubleAuditEvery{10};
  void auditEngineTrouble(const Listener& l, const Peer& peer, std::string_view method,
                          std::string_view target, const RefusalFacts& f, unsigned status);

 private:
  struct PolicyState {
    Policy policy = Policy::failClosedDefaults();
    std::string engineDataRoot;
    std::chrono::steady_clock::time_point fetched{};
    bool valid = false;
  };
  using PolicyPtr = std::shared_ptr<const PolicyState>;
  // The policy to decide on; `fresh`: read it from eci-enforcerd now (blocking).
  PolicyPtr policyFor(bool fresh);
  // Reads the policy from eci-enforcerd and publishes it (blocking).
  PolicyPtr fetchPolicy();
  // Checks whether the engine listens on TCP without TLS and publishes the answer (blocking: it
  // connects to dockerd and reads /proc, never under mu_).
  void checkEngineTcp();
  // The cached policy if it may serve a request that does not need a fresh one, else nullptr.
  PolicyPtr cachedPolicy(bool fresh);
  Config rulesConfig(const PolicyState& ps) const;
  // Shared by decide() (mayBlock) and decideInline(): std::nullopt only when !mayBlock and the
  // decision would have to block or has effects.
  std::optional<Outcome> decideImpl(Exchange& ex, bool mayBlock);
  std::string registryDigest(const std::string& ref);
  void auditRefusal(const Request& req, const Caller& caller, const std::string& callerKey,
                    const RefusalFacts& f, unsigned status) {
    sendAuditRecord(callerKey, refusalRecord(req, caller, f, status));
  }
  void fetchFacts(const Need& need, Facts& facts);

  const ProxyConfig& cfg_;
  const GrantStore& grants_;
  OpenSocket open_;
  CloseSocket close_;
  std::mutex mu_;
  PolicyPtr policy_;  // immutable once published: readers share it without copying
  struct Digest {
    std::string digest;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Digest> digests_;
  // container id -> socket token (per-container sockets)
  std::map<std::string, std::string> socketsByContainer_;
  // Last "engine on TCP without TLS" check (engine_tcp.h), made at most every kTcpCheckEvery.
  static constexpr std::chrono::seconds kTcpCheckEvery{10};
  std::chrono::steady_clock::time_point tcpCheckedAt_{};
  std::optional<std::string> tcpProblem_;
  // When a request was last decided (refreshDecisionCaches), steady_clock ticks.
  std::atomic<std::chrono::steady_clock::rep> lastRequestAt_{0};
  // Each caller's share of the audit senders; shared with the senders' completion callbacks,
  // which may run after the gate is gone (detached threads at exit).
  std::shared_ptr<AuditBudget> auditBudget_;
  // Containers whose failed re-serve was audited (auditReserveFailure).
  std::set<std::string> reserveFailureAudited_;
  // When each engine-trouble rule was last audited (auditEngineTrouble).
  std::map<std::string, std::chrono::steady_clock::time_point> engineTroubleAuditedAt_;
};

}  // namespace eci::apiproxy
