#include "eci/seccomp/module.h"

#include <mutex>

#include "eci/enforcerd/range_allocator.h"
#include "eci/seccomp/supervisor.h"

namespace eci::seccomp {

namespace {

class SeccompModule : public enforcerd::Module {
 public:
  explicit SeccompModule(ModuleOptions o) : opts_(std::move(o)) {}
  const char* name() const override { return "seccomp"; }

  Status start(const enforcerd::ModuleContext& ctx) override {
    std::filesystem::path sock = opts_.socketPath;
    if (sock.empty()) sock = ctx.config.controlSocket.parent_path() / "seccomp.sock";
    SupervisorOptions so;
    so.socketPath = sock.string();
    // Containers keep their mount vetting across our restarts (supervisor.h, "Restarts"): their
    // fds are kept by the fd holder next to the control socket, and a restarted daemon drops
    // those of containers the runtime no longer has (no live range allocation after
    // RangeAllocator::load() reconciled with runc's state).
    so.fdHolderSocket = (ctx.config.controlSocket.parent_path() / "fdholder.sock").string();
    so.containerExists = [&ranges = ctx.ranges](const std::string& id) {
      for (const auto& a : ranges.list())
        if (a.id == id) return true;
      return false;
    };
    // Denied trapped calls into the audit log (docs/audit.md).
    so.onDenial = [audit = ctx.audit](const std::string& id, const std::string& call, int err,
                                      const std::string& reason, uint64_t dropped) {
      audit::Record r;
      r.source = "seccomp";
      r.event = "refused";
      r.container = id;
      r.rule = call;
      r.reason = reason;
      r.extra = {{"errno", err}};
      if (dropped > 0) r.extra["dropped"] = dropped;
      audit(std::move(r));
    };
    auto sup = std::make_unique<Supervisor>(so);
    ECI_TRY_CTX(sup->start(), "starting the seccomp supervisor");
    std::lock_guard<std::mutex> l(mu_);
    socket_ = sock.string();
    sup_ = std::move(sup);
    return {};
  }

  void stop() override {
    std::unique_ptr<Supervisor> sup;
    {
      std::lock_guard<std::mutex> l(mu_);
      sup = std::move(sup_);
    }
    if (sup) sup->stop();
  }

  Status onCreate(const enforcerd::ContainerCreate& c, nlohmann::json& grantExtra) override {
    if (!c.eciEnabled) return {};
    std::lock_guard<std::mutex> l(mu_);
    // Fail closed: no running supervisor, no container (runc would fail to connect anyway).
    if (!sup_) return Error(ErrorKind::kUnavailable, "the seccomp supervisor is not running");
    grantExtra = {{"listenerPath", socket_}};
    return {};
  }

  nlohmann::json status() const override {
    std::lock_guard<std::mutex> l(mu_);
    if (!sup_) return {{"running", false}};
    auto s = sup_->status();
    s["running"] = true;
    return s;
  }

 private:
  ModuleOptions opts_;
  mutable std::mutex mu_;
  std::string socket_;
  std::unique_ptr<Supervisor> sup_;
};

}  // namespace

std::unique_ptr<enforcerd::Module> makeModule(ModuleOptions options) {
  return std::make_unique<SeccompModule>(std::move(options));
}

}  // namespace eci::seccomp
