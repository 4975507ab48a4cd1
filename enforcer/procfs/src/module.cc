#include "eci/procfs/module.h"

#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "eci/enforcerd/range_allocator.h"
#include "eci/log.h"
#include "eci/procfs/spec.h"

namespace eci::procfs {
namespace {

std::filesystem::path defaultHook() {
  const std::filesystem::path installed = kDefaultHookPath;
  if (::access(installed.c_str(), X_OK) == 0) return installed;
  // Running from the build tree: build/enforcer/enforcerd/eci-enforcerd next to
  // build/enforcer/procfs/eci-procfs-hook.
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto sibling = self.parent_path().parent_path() / "procfs" / "eci-procfs-hook";
    if (::access(sibling.c_str(), X_OK) == 0) return sibling;
  }
  return installed;
}

class ProcfsModule final : public enforcerd::Module {
 public:
  explicit ProcfsModule(ModuleOptions o) : opt_(std::move(o)) {
    if (opt_.hook.empty()) opt_.hook = defaultHook();
  }
  ~ProcfsModule() override { stop(); }

  const char* name() const override { return "procfs"; }

  Status start(const enforcerd::ModuleContext& ctx) override {
    if (opt_.manager.base.empty())
      opt_.manager.base = ctx.config.controlSocket.parent_path() / "procfs";
    if (::access(opt_.hook.c_str(), X_OK) != 0)
      return Error::fromErrno("access('" + opt_.hook.string() + "', X_OK)",
                              "eci-procfs-hook is not installed");
    // Restarts (issue 15): the sessions' connections and state are kept by the fd holder the
    // seccomp supervisor uses too (names "p/<id>" here); a restarted daemon drops those of
    // containers the runtime no longer has (no live range after RangeAllocator::load()).
    opt_.manager.fdHolderSocket =
        (ctx.config.controlSocket.parent_path() / "fdholder.sock").string();
    opt_.manager.containerExists = [&ranges = ctx.ranges](const std::string& id) {
      for (const auto& a : ranges.list())
        if (a.id == id) return true;
      return false;
    };
    mgr_ = std::make_unique<Manager>(opt_.manager);
    mgr_->resumeHeld();
    // Other mounts left by a previous daemon are dead (their /dev/fuse closed with it, or they
    // could not be resumed); resumed sessions' mounts are left alone.
    ECI_TRY_CTX(mgr_->cleanupStale(), "procfs: removing stale mounts");
    stopping_ = false;
    health_ = std::thread([this] { healthLoop(); });
    return {};
  }

  void stop() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (health_.joinable()) health_.join();
    mgr_.reset();  // unmounts every container's emulation
  }

  Status onCreate(const enforcerd::ContainerCreate& c, nlohmann::json& extra) override {
    if (!c.eciEnabled || !mgr_) return {};
    ContainerInfo info{c.id, c.range.start, c.range.start};
    ECI_ASSIGN_OR_RETURN(dir, mgr_->add(info));
    extra = {
        {"base", opt_.manager.base.string()}, {"dir", dir.string()}, {"hook", opt_.hook.string()}};
    return {};
  }

  void onRelease(const std::string& id) override {
    if (!mgr_) return;
    if (auto st = mgr_->remove(id); !st.ok())
      LOG_WARN("procfs: removing the emulation of %s: %s, ignoring", id.c_str(),
               st.error().str().c_str());
  }

  nlohmann::json status() const override {
    if (!mgr_) return {{"running", false}};
    auto j = mgr_->status();
    j["running"] = true;
    j["hook"] = opt_.hook.string();
    return j;
  }

 private:
  void healthLoop() {
    std::unique_lock lk(mu_);
    while (!cv_.wait_for(lk, opt_.healthInterval, [this] { return stopping_; })) {
      lk.unlock();
      if (const size_t bad = mgr_->checkHealth(); bad > 0)
        LOG_WARN("procfs: %zu container emulation(s) unhealthy (their reads fail with ENOTCONN)",
                 bad);
      lk.lock();
    }
  }

  ModuleOptions opt_;
  std::unique_ptr<Manager> mgr_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread health_;
};

}  // namespace

std::unique_ptr<enforcerd::Module> makeModule(ModuleOptions options) {
  return std::make_unique<ProcfsModule>(std::move(options));
}

}  // namespace eci::procfs
