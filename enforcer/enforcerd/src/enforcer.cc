#include "eci/enforcerd/enforcer.h"

#include <fcntl.h>
#include <sys/file.h>

#include "eci/fs_util.h"
#include "eci/log.h"

namespace eci::enforcerd {
namespace {

using nlohmann::json;

Result<std::string> stringField(const json& req, const char* key, bool required) {
  auto it = req.find(key);
  if (it == req.end()) {
    if (required) return Error(std::string("request /") + key + ": missing");
    return std::string();
  }
  if (!it->is_string()) return Error(std::string("request /") + key + ": expected string");
  return it->get<std::string>();
}

Status absoluteOrEmpty(const std::string& path, const char* key) {
  if (!path.empty() && path[0] != '/') {
    return Error(std::string("request /") + key + ": expected an absolute path, got '" + path +
                 "'");
  }
  return {};
}

}  // namespace

json errorReply(const std::string& message) {
  return json{{"ok", false}, {"error", message}};
}

Enforcer::Enforcer(Config config, LivenessProbe probe)
    : config_(std::move(config)),
      policy_(config_.stateDir, config_.trustedKeysDir),
      ranges_(config_.stateDir / kAllocationsFile, config_.rangeBase, config_.rangeCount,
              std::move(probe), config_.reconcileInterval),
      callers_(config_.stateDir / kCallersFile, engineContainerDirProbe(config_.engineDataRoot)),
      auditRate_({.ratePerSec = config_.auditRatePerSec, .burst = config_.auditBurst}) {}

Enforcer::~Enforcer() {
  stopModules();
}

void Enforcer::addModule(std::unique_ptr<Module> module) {
  modules_.push_back(std::move(module));
}

Status Enforcer::init() {
  ECI_TRY(RangeAllocator::validateGeometry(config_.rangeBase, config_.rangeCount));
  ECI_TRY_CTX(fs::makeDirs(config_.stateDir, 0700), "creating the state dir");
  const auto lockPath = config_.stateDir / kLockFile;
  UniqueFd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return Error::fromErrno("open('" + lockPath.string() + "')");
  // Two daemons on one state dir would hand out the same ranges. flock dies with the process, so
  // a kill -9 never leaves a stale lock behind.
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Error::fromErrno("flock('" + lockPath.string() + "', LOCK_EX|LOCK_NB)",
                            "another eci-enforcerd uses this state dir");
  }
  lock_ = std::move(lock);
  policy_.load();
  ECI_TRY_CTX(ranges_.load(), "loading range allocations");
  ECI_TRY_CTX(callers_.load(), "loading container callers");
  if (!config_.auditLog.empty()) {
    audit_ = std::make_unique<audit::Writer>(
        audit::Writer::Options{config_.auditLog, config_.auditMaxBytes, config_.auditKeep},
        auditMirror_);
  }
  return {};
}

Status Enforcer::startModules() {
  ModuleContext ctx{config_, policy_, ranges_,
                    [this](audit::Record r) { (void)audit(std::move(r)); }};
  for (; started_ < modules_.size(); ++started_) {
    if (auto st = modules_[started_]->start(ctx); !st.ok()) {
      auto err =
          std::move(st).error().wrap(std::string("starting module ") + modules_[started_]->name());
      stopModules();
      return err;
    }
  }
  return {};
}

void Enforcer::stopModules() {
  while (started_ > 0) {
    --started_;
    modules_[started_]->stop();
  }
}

json Enforcer::handleControl(const json& request) {
  try {
    if (!request.is_object()) return errorReply("request: expected a JSON object");
    auto op = stringField(request, "op", true);
    if (!op.ok()) return errorReply(op.error().str());
    if (*op == "create") return create(request);
    if (*op == "release") return release(request);
    if (*op == "setCaller") return setCaller(request);
    if (*op == "status") return statusJson();
    if (*op == "audit") return auditOp(request);
    return errorReply(
        "request /op: unknown operation '" + *op +
        "' on the control socket (expected create, release, setCaller, status or audit)");
  } catch (const std::exception& e) {
    // nlohmann throws on type mismatches and on bad UTF-8 in dump(); neither may kill the daemon.
    return errorReply(std::string("internal error handling the request: ") + e.what());
  }
}

json Enforcer::handlePush(const json& request) {
  try {
    if (!request.is_object()) return errorReply("request: expected a JSON object");
    auto op = stringField(request, "op", true);
    if (!op.ok()) return errorReply(op.error().str());
    if (*op != "push") {
      return errorReply("request /op: unknown operation '" + *op +
                        "' on the push socket (expected push)");
    }
    auto text = stringField(request, "bundle", true);
    if (!text.ok()) return errorReply(text.error().str());
    PushOutcome out = policy_.push(*text);
    audit::Record rec;
    rec.source = "eci-enforcerd";
    rec.event = out.applied ? "policy-accepted" : "policy-refused";
    rec.rule = "policy-push";
    rec.reason = out.applied ? "policy applied" : out.reason;
    rec.extra = json{{"serial", out.serial}};
    (void)audit(std::move(rec));
    if (!out.applied) {
      LOG_WARN("policy push refused: %s", out.reason.c_str());
      return json{{"ok", false}, {"error", out.reason}, {"serial", out.serial}};
    }
    LOG_INFO("policy serial %llu applied", static_cast<unsigned long long>(out.serial));
    return json{{"ok", true}, {"serial", out.serial}};
  } catch (const std::exception& e) {
    return errorReply(std::string("internal error handling the push: ") + e.what());
  }
}

json Enforcer::create(const json& request) {
  auto id = stringField(request, "id", true);
  if (!id.ok()) return errorReply(id.error().str());
  if (!validContainerId(*id)) return errorReply("request /id: invalid container id '" + *id + "'");
  auto bundle = stringField(request, "bundle", true);
  if (!bundle.ok()) return errorReply(bundle.error().str());
  auto runcRoot = stringField(request, "runcRoot", false);
  if (!runcRoot.ok()) return errorReply(runcRoot.error().str());
  // The container joins namespaces of this one (eci-runc found it): it shares its range.
  auto joins = stringField(request, "joins", false);
  if (!joins.ok()) return errorReply(joins.error().str());
  if (!joins->empty() && !validContainerId(*joins))
    return errorReply("request /joins: invalid container id '" + *joins + "'");
  if (bundle->empty()) return errorReply("request /bundle: must not be empty");
  if (auto st = absoluteOrEmpty(*bundle, "bundle"); !st.ok()) return errorReply(st.error().str());
  if (auto st = absoluteOrEmpty(*runcRoot, "runcRoot"); !st.ok()) {
    return errorReply(st.error().str());
  }

  const auto pol = policy_.current();
  ContainerCreate c{*id, *bundle, *runcRoot, pol->policy.enabled, {}};
  bool fresh = false;
  if (pol->policy.enabled) {
    auto alloc = ranges_.allocate(*id, *bundle, *runcRoot, &fresh, *joins);
    if (!alloc.ok()) {
      LOG_ERROR("create %s: %s", id->c_str(), alloc.error().str().c_str());
      return errorReply(alloc.error().str());
    }
    c.range = {alloc->start, RangeAllocator::kRangeSize};
  }
  json extra = json::object();
  for (size_t i = 0; i < started_; ++i) {
    json mine = nullptr;
    if (auto st = modules_[i]->onCreate(c, mine); !st.ok()) {
      // Undo only what this call made: with an id that was already live, its modules' state
      // and range belong to that container.
      if (fresh) {
        for (size_t j = 0; j < i; ++j) modules_[j]->onRelease(*id);
        (void)ranges_.release(*id);
      }
      auto err = std::move(st).error().wrap(std::string("module ") + modules_[i]->name());
      LOG_ERROR("create %s: %s", id->c_str(), err.str().c_str());
      return errorReply(err.str());
    }
    if (!mine.is_null()) extra[modules_[i]->name()] = std::move(mine);
  }
  json reply = {{"ok", true},
                {"policy", pol->policy.toJson()},
                {"verified", pol->verified},
                {"serial", pol->serial},
                {"fresh", fresh},
                {"range", {{"start", c.range.start}, {"size", c.range.size}}},
                {"engineDataRoot", config_.engineDataRoot}};
  if (!pol->verified) reply["reason"] = pol->reason;
  if (!extra.empty()) reply["modules"] = std::move(extra);
  if (auto caller = callers_.get(*id)) {
    reply["caller"] = {{"uid", caller->uid}, {"gid", caller->gid}};
  }
  return reply;
}

json Enforcer::release(const json& request) {
  auto id = stringField(request, "id", true);
  if (!id.ok()) return errorReply(id.error().str());
  if (!validContainerId(*id)) return errorReply("request /id: invalid container id '" + *id + "'");
  for (size_t i = started_; i > 0; --i) modules_[i - 1]->onRelease(*id);
  if (auto st = callers_.release(*id); !st.ok()) {
    LOG_ERROR("release %s: caller record: %s", id->c_str(), st.error().str().c_str());
  }
  auto released = ranges_.release(*id);
  if (!released.ok()) {
    LOG_ERROR("release %s: %s", id->c_str(), released.error().str().c_str());
    return errorReply(released.error().str());
  }
  return json{{"ok", true}, {"released", *released}};
}

// The guard (eci-apiproxyd) tells who asked the engine for container `id`; the next `create`
// reply carries it and eci-runc maps the container's host binds to that user.
json Enforcer::setCaller(const json& request) {
  auto id = stringField(request, "id", true);
  if (!id.ok()) return errorReply(id.error().str());
  if (!validContainerId(*id)) return errorReply("request /id: invalid container id '" + *id + "'");
  uint32_t ids[2] = {0, 0};
  const char* keys[2] = {"uid", "gid"};
  for (int i = 0; i < 2; ++i) {
    auto it = request.find(keys[i]);
    // (uid_t)-1 means "no id" to the kernel's chown and would map nothing: refused.
    // A non-negative integer (JSON does not say signed or unsigned; nlohmann tells them apart).
    if (it == request.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<uint64_t>() >= uint64_t{UINT32_MAX}) {
      return errorReply(std::string("request /") + keys[i] +
                        ": expected an unsigned integer below 4294967295");
    }
    ids[i] = it->get<uint32_t>();
  }
  if (auto st = callers_.set(*id, ids[0], ids[1]); !st.ok()) {
    LOG_ERROR("setCaller %s: %s", id->c_str(), st.error().str().c_str());
    return errorReply(st.error().str());
  }
  return json{{"ok", true}};
}

bool Enforcer::audit(audit::Record record) {
  if (!audit_) return false;
  // One bucket per container; a record without one (a refused create at the guard, a push)
  // shares its source's bucket, per caller uid when the sender says.
  std::string key = record.container;
  if (key.empty()) {
    key = record.source + "/";
    if (record.extra.is_object()) {
      if (auto uid = record.extra.find("uid");
          uid != record.extra.end() && uid->is_number_integer())
        key += std::to_string(uid->get<int64_t>());
    }
  }
  const auto v = auditRate_.take(key);
  if (!v.allow) return false;
  if (v.suppressed > 0) {
    if (!record.extra.is_object()) record.extra = json::object();
    record.extra["suppressed"] = v.suppressed;
  }
  if (auto st = audit_->write(std::move(record)); !st.ok()) {
    LOG_WARN("audit log: %s", st.error().str().c_str());
    return false;
  }
  return true;
}

// Another root process (eci-runc, eci-apiproxyd, a seccomp worker) reports a refusal. The record
// is checked and bounded (audit::fromJson); its time is ours, never the sender's.
json Enforcer::auditOp(const json& request) {
  auto it = request.find("record");
  if (it == request.end()) return errorReply("request /record: missing");
  auto rec = audit::fromJson(*it, /*requireTime=*/false);
  if (!rec.ok()) return errorReply("request /record: " + rec.error().str());
  if (!audit::isRemoteSource(rec->source)) {
    return errorReply("request /record/source: '" + rec->source +
                      "' may not be sent (expected eci-runc, eci-apiproxyd or seccomp)");
  }
  if (!rec->container.empty() && !validContainerId(rec->container))
    return errorReply("request /record/container: invalid container id");
  const bool written = audit(std::move(*rec));
  return json{{"ok", true}, {"written", written}};
}

json Enforcer::statusJson() {
  const auto pol = policy_.current();
  json allocs = json::array();
  for (const auto& a : ranges_.list()) {
    allocs.push_back({{"id", a.id},
                      {"start", a.start},
                      {"size", RangeAllocator::kRangeSize},
                      {"bundle", a.bundle},
                      {"runcRoot", a.runcRoot},
                      {"allocatedAt", a.allocatedAt}});
    if (!a.joined.empty()) allocs.back()["joined"] = a.joined;
  }
  json mods = json::object();
  for (size_t i = 0; i < started_; ++i) {
    json s = modules_[i]->status();
    mods[modules_[i]->name()] = s.is_null() ? json{{"running", true}} : std::move(s);
  }
  json reply = {{"ok", true},
                {"eci", pol->policy.enabled ? "on" : "off"},
                {"policy", pol->policy.toJson()},
                {"verified", pol->verified},
                {"source", policySourceName(pol->source)},
                {"serial", pol->serial},
                {"highestSerial", pol->highestSerial},
                {"reason", pol->reason},
                {"keyId", pol->keyId},
                {"issuedAt", pol->issuedAt},
                {"engineDataRoot", config_.engineDataRoot},
                {"ranges",
                 {{"base", ranges_.base()},
                  {"size", RangeAllocator::kRangeSize},
                  {"count", ranges_.count()},
                  {"inUse", allocs.size()}}},
                {"allocations", std::move(allocs)},
                {"modules", std::move(mods)}};
  reply["audit"] = {{"log", config_.auditLog.string()},
                    {"suppressed", auditRate_.totalSuppressed()}};
  return reply;
}

}  // namespace eci::enforcerd
