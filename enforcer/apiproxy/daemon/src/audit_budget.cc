// Each caller's share of the guard's audit records (audit_budget.h).
#include "audit_budget.h"

#include <algorithm>

namespace eci::apiproxy {

void AuditBudget::refill(double& tokens, Clock::time_point& at, double rate, double burst,
                         Clock::time_point now) {
  if (now <= at) return;  // a clock read out of order gives nothing back
  const double secs = std::chrono::duration<double>(now - at).count();
  tokens = std::min(burst, tokens + secs * rate);
  at = now;
}

AuditBudget::Share& AuditBudget::shareOf(const std::string& caller, Clock::time_point now,
                                         std::string& key) {
  key = caller;
  if (auto it = shares_.find(key); it != shares_.end()) return it->second;
  if (shares_.size() >= opts_.maxCallers) {
    // Forget callers that owe nothing: full bucket, nothing in flight, no count to report.
    for (auto it = shares_.begin(); it != shares_.end();) {
      Share& s = it->second;
      refill(s.tokens, s.at, opts_.callerRatePerSec, opts_.callerBurst, now);
      if (s.tokens >= opts_.callerBurst && s.inFlight == 0 && s.suppressed == 0) {
        it = shares_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Still full: every further caller shares one entry, so the table never grows without bound
  // (many callers flooding at once then share one caller's record budget, never more).
  if (shares_.size() >= opts_.maxCallers) key = std::string(kOverflowKey);
  return shares_.try_emplace(key, Share{opts_.callerBurst, now, 0, 0, {}}).first->second;
}

void AuditBudget::countSuppressed(Share& s, uint64_t n, Clock::time_point since) {
  if (s.suppressed == 0 || since < s.firstSuppressed) s.firstSuppressed = since;
  s.suppressed += n;
}

std::optional<std::string> AuditBudget::admit(const std::string& caller, Clock::time_point now) {
  std::lock_guard lk(mu_);
  std::string key;
  Share& s = shareOf(caller, now, key);
  refill(s.tokens, s.at, opts_.callerRatePerSec, opts_.callerBurst, now);
  if (globalTokens_ < 0) {
    globalTokens_ = opts_.globalBurst;
    globalAt_ = now;
  }
  refill(globalTokens_, globalAt_, opts_.globalRatePerSec, opts_.globalBurst, now);
  // The caller's own share first: a caller over it is refused even while the guard is idle, so
  // it never gets to drain the global budget other callers depend on.
  const bool overShare = s.tokens < 1 || s.inFlight >= opts_.callerInFlight;
  const bool overGlobal = globalTokens_ < 1 || globalInFlight_ >= opts_.globalInFlight;
  if (overShare || overGlobal) {
    countSuppressed(s, 1, now);
    ++suppressedTotal_;
    return std::nullopt;
  }
  s.tokens -= 1;
  globalTokens_ -= 1;
  ++s.inFlight;
  ++globalInFlight_;
  return key;
}

void AuditBudget::sent(const std::string& ticket) {
  std::lock_guard lk(mu_);
  if (auto it = shares_.find(ticket); it != shares_.end() && it->second.inFlight > 0) {
    --it->second.inFlight;
  }
  if (globalInFlight_ > 0) --globalInFlight_;
}

void AuditBudget::unsent(const std::string& ticket, Clock::time_point now) {
  std::lock_guard lk(mu_);
  auto it = shares_.find(ticket);
  if (it != shares_.end()) {
    if (it->second.inFlight > 0) --it->second.inFlight;
    countSuppressed(it->second, 1, now);
  }
  if (globalInFlight_ > 0) --globalInFlight_;
  ++suppressedTotal_;
}

std::vector<AuditBudget::Summary> AuditBudget::dueSummaries(Clock::time_point now) {
  std::lock_guard lk(mu_);
  std::vector<Summary> due;
  for (auto& [caller, s] : shares_) {
    if (s.suppressed == 0 || now - s.firstSuppressed < opts_.summaryEvery) continue;
    if (globalInFlight_ >= opts_.globalInFlight) break;  // the rest at the next call
    due.push_back({caller, s.suppressed, now - s.firstSuppressed});
    s.suppressed = 0;
    ++globalInFlight_;
  }
  return due;
}

void AuditBudget::summarySent() {
  std::lock_guard lk(mu_);
  if (globalInFlight_ > 0) --globalInFlight_;
}

void AuditBudget::summaryUnsent(const Summary& sum, Clock::time_point now) {
  std::lock_guard lk(mu_);
  if (globalInFlight_ > 0) --globalInFlight_;
  std::string key;
  countSuppressed(shareOf(sum.caller, now, key), sum.suppressed, now - sum.over);
}

uint64_t AuditBudget::suppressedTotal() const {
  std::lock_guard lk(mu_);
  return suppressedTotal_;
}

size_t AuditBudget::callersTracked() const {
  std::lock_guard lk(mu_);
  return shares_.size();
}

int AuditBudget::inFlight() const {
  std::lock_guard lk(mu_);
  return globalInFlight_;
}

}  // namespace eci::apiproxy
