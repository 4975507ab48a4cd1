// How many audit records of its refusals each caller of eci-apiproxyd may have sent (issue 14).
//
// Why: the guard sends its records to eci-enforcerd from a few detached senders (at most
// kMaxAuditInFlight at once, eci/enforcer_client.h); a record that finds them all busy is
// dropped. Shared by everyone, one local user (any uid on the public socket) or one container
// (on its own socket) flooding refused requests would hold them all, and other callers' refusals
// would go unrecorded: a flood of junk would hide the one refusal that matters. eci-enforcerd's
// own rate limit is per caller, but it only sees what reaches it.
//
// So each caller (a key: "uid:1000", "container:<id>") gets a share:
//   - a token bucket (callerBurst records at once, then callerRatePerSec), and
//   - at most callerInFlight records in flight at once (a slow eci-enforcerd cannot let one
//     caller hold every sender);
// and all callers together at most globalInFlight in flight and a global bucket (bounds the
// threads the guard spawns for audit, whoever floods). A refusal over any limit is not sent but
// counted for its caller: once per summaryEvery, a caller with a count gets one summary record
// ("N refusals from caller X not recorded"), so nothing is lost silently. A summary bypasses its
// caller's own share (else a flooder would never get one) but takes a global in-flight slot.
// The client's answer never waits on any of this: the guard answers, the record goes detached.
//
// Pure: the time is passed in (unit-tested with a fake clock, tests/audit_budget_test.cc).
// Thread-safe. The caller table is bounded: idle callers are forgotten, and past maxCallers the
// rest share one entry ("*").
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace eci::apiproxy {

class AuditBudget {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    double callerBurst = 10;
    double callerRatePerSec = 1;
    int callerInFlight = 2;
    double globalBurst = 200;
    double globalRatePerSec = 100;
    int globalInFlight = 8;
    Clock::duration summaryEvery = std::chrono::seconds(5);
    size_t maxCallers = 4096;
  };
  // The key a caller's records are charged to when the table is full.
  static constexpr const char* kOverflowKey = "*";

  explicit AuditBudget(Options options) : opts_(options) {}
  AuditBudget() : AuditBudget(Options{}) {}

  // One refusal of `caller` wants a record. A ticket (the key charged): send the record, then
  // call sent(ticket) once it is gone or failed. nullopt: not sent, counted for the summary.
  std::optional<std::string> admit(const std::string& caller, Clock::time_point now);
  void sent(const std::string& ticket);
  // An admitted record that could not be handed to a sender after all: its slots are given
  // back and it is counted for the summary like any other record not sent.
  void unsent(const std::string& ticket, Clock::time_point now);

  struct Summary {
    std::string caller;
    uint64_t suppressed = 0;
    Clock::duration over{};  // from the first of them to now
  };
  // One summary per caller whose count is summaryEvery old, as many as free global slots allow
  // (the rest wait for the next call); each takes a slot: call summarySent() once it is sent, or
  // summaryUnsent() if it could not be handed to a sender (its count is put back).
  std::vector<Summary> dueSummaries(Clock::time_point now);
  void summarySent();
  void summaryUnsent(const Summary& s, Clock::time_point now);

  uint64_t suppressedTotal() const;
  size_t callersTracked() const;
  int inFlight() const;

 private:
  struct Share {
    double tokens = 0;
    Clock::time_point at{};
    int inFlight = 0;
    uint64_t suppressed = 0;
    Clock::time_point firstSuppressed{};
  };
  static void refill(double& tokens, Clock::time_point& at, double rate, double burst,
                     Clock::time_point now);
  Share& shareOf(const std::string& caller, Clock::time_point now, std::string& key);
  void countSuppressed(Share& s, uint64_t n, Clock::time_point since);

  const Options opts_;
  mutable std::mutex mu_;
  std::map<std::string, Share> shares_;
  double globalTokens_ = -1;  // -1: not started (full at the first admit)
  Clock::time_point globalAt_{};
  int globalInFlight_ = 0;
  uint64_t suppressedTotal_ = 0;
};

}  // namespace eci::apiproxy
