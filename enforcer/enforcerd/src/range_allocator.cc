#include "eci/enforcerd/range_allocator.h"

#include <sys/stat.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "eci/fs_util.h"
#include "eci/log.h"

namespace eci::enforcerd {
namespace {

using nlohmann::json;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

bool validContainerId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..") return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '+' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool runtimeHasContainer(const Allocation& a) {
  if (a.runcRoot.empty() && a.bundle.empty()) return true;
  if (!a.runcRoot.empty() && exists(a.runcRoot + "/" + a.id + "/state.json")) return true;
  if (!a.bundle.empty() && exists(a.bundle)) return true;
  return false;
}

RangeAllocator::RangeAllocator(std::filesystem::path stateFile, uint32_t base, uint32_t count,
                               LivenessProbe probe, std::chrono::seconds reconcileInterval,
                               std::string bootId)
    : stateFile_(std::move(stateFile)),
      bootFile_(stateFile_.string() + ".boot"),
      bootId_(std::move(bootId)),
      base_(base),
      count_(count),
      probe_(std::move(probe)),
      reconcileInterval_(reconcileInterval),
      refs_(count, 0) {}

Status RangeAllocator::validateGeometry(uint32_t base, uint32_t count) {
  if (base == 0) return Error("range base must be > 0 (host uid 0 is never mapped)");
  if (count == 0) return Error("range count must be > 0");
  const uint64_t end = uint64_t{base} + uint64_t{count} * kRangeSize;
  if (end > uint64_t{UINT32_MAX}) {
    return Error("ranges end at " + std::to_string(end) + ", beyond the 32-bit uid space");
  }
  return {};
}

std::string RangeAllocator::currentBootId() {
  auto text = fs::readFile("/proc/sys/kernel/random/boot_id", 256);
  if (!text.ok()) return {};
  std::string id = *text;
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
  return id;
}

Status RangeAllocator::load() {
  std::unique_lock lock(mu_);
  byId_.clear();
  refs_.assign(count_, 0);
  std::vector<bool> owned(count_, false);  // a non-joiner holds the range
  const std::string where = "allocations file '" + stateFile_.string() + "'";
  // Which boot wrote the file (see load() in the header). Only a marker that names another boot
  // voids it: a missing one may be an upgrade from a daemon that wrote no marker, while its
  // containers run.
  bool previousBoot = false;
  if (!bootId_.empty() && exists(bootFile_)) {
    auto marker = fs::readFile(bootFile_, 256);
    if (!marker.ok()) return std::move(marker).error().wrap("reading the boot marker");
    previousBoot = *marker != bootId_ + "\n";
  }
  if (previousBoot) {
    LOG_INFO("%s was written in an earlier boot: no range is held any more", where.c_str());
  } else if (exists(stateFile_)) {
    auto text = fs::readFile(stateFile_, 64u << 20);
    if (!text.ok()) return std::move(text).error().wrap("reading " + where);
    json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) return Error(where + ": not a JSON object");
    if (doc.value("format", "") != kFormat) {
      return Error(where + ": /format: expected \"" + std::string(kFormat) + "\"");
    }
    auto list = doc.find("allocations");
    if (list == doc.end() || !list->is_array()) {
      return Error(where + ": /allocations: expected array");
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const json& e = (*list)[i];
      const std::string ptr = where + ": /allocations/" + std::to_string(i);
      if (!e.is_object() || !e.contains("id") || !e["id"].is_string() || !e.contains("start") ||
          !e["start"].is_number_unsigned()) {
        return Error(ptr + ": expected {\"id\": string, \"start\": unsigned, ...}");
      }
      Allocation a;
      a.id = e["id"].get<std::string>();
      const uint64_t start = e["start"].get<uint64_t>();
      if (!validContainerId(a.id)) return Error(ptr + "/id: not a valid container id");
      if (start < base_ || (start - base_) % kRangeSize != 0 ||
          (start - base_) / kRangeSize >= count_) {
        return Error(ptr + "/start: " + std::to_string(start) +
                     " is not a range of the configured geometry (base " + std::to_string(base_) +
                     ", count " + std::to_string(count_) +
                     "); were --range-base/--range-count changed while containers were live?");
      }
      a.start = static_cast<uint32_t>(start);
      if (e.contains("bundle") && e["bundle"].is_string())
        a.bundle = e["bundle"].get<std::string>();
      if (e.contains("runcRoot") && e["runcRoot"].is_string())
        a.runcRoot = e["runcRoot"].get<std::string>();
      if (e.contains("allocatedAt") && e["allocatedAt"].is_number_integer()) {
        a.allocatedAt = e["allocatedAt"].get<int64_t>();
      }
      if (e.contains("joined") && e["joined"].is_string())
        a.joined = e["joined"].get<std::string>();
      if (byId_.count(a.id)) return Error(ptr + "/id: duplicate container id '" + a.id + "'");
      // Joiners share a range; two containers that each were granted it are a corrupt file.
      if (a.joined.empty()) {
        if (owned[indexOf(a.start)]) {
          return Error(ptr + "/start: range " + std::to_string(a.start) + " allocated twice");
        }
        owned[indexOf(a.start)] = true;
      }
      ++refs_[indexOf(a.start)];
      byId_.emplace(a.id, std::move(a));
    }
  }
  // The marker before any write of this boot's allocations: after a power loss it is what tells
  // the next boot to void whatever the unsynced file then holds.
  // Without it (the state dir not writable yet), every write is durable instead: the file is
  // then whole after a power loss too, and is judged by its contents as before.
  unsyncedWrites_ = false;
  if (!bootId_.empty()) {
    auto marked = fs::writeFileAtomic(bootFile_, bootId_ + "\n", 0600, fs::Durability::kDurable);
    if (marked.ok())
      unsyncedWrites_ = true;
    else
      LOG_WARN("boot marker: %s; allocations are written with fsync", marked.error().str().c_str());
  }
  if (previousBoot || reconcileLocked() > 0) {
    const uint64_t v = ++version_;
    lock.unlock();
    ECI_TRY_CTX(flushTo(v), "persisting reconciled allocations");
  }
  return {};
}

Result<Allocation> RangeAllocator::allocate(const std::string& id, const std::string& bundle,
                                            const std::string& runcRoot, bool* fresh,
                                            const std::string& joins) {
  if (fresh != nullptr) *fresh = false;
  if (!validContainerId(id)) return Error("invalid container id '" + id + "'");
  std::unique_lock lock(mu_);
  if (auto it = byId_.find(id); it != byId_.end()) {
    // The allocation may come from a concurrent create whose write is not on disk yet.
    Allocation a = it->second;
    const uint64_t v = version_;
    lock.unlock();
    ECI_TRY_CTX(flushTo(v), "persisting the allocation for '" + id + "'");
    return a;
  }

  // Records the allocation of `start` to `id` (a joiner's: the range of `joined`, one more
  // holder). The grant must be on disk before it leaves the daemon, or a crash could hand it out
  // twice.
  auto grant = [&](uint32_t start, const std::string& joined) -> Result<Allocation> {
    Allocation a;
    a.id = id;
    a.start = start;
    a.bundle = bundle;
    a.runcRoot = runcRoot;
    a.allocatedAt = static_cast<int64_t>(::time(nullptr));
    a.joined = joined;
    ++refs_[indexOf(a.start)];
    byId_.emplace(id, a);
    const uint64_t v = ++version_;
    lock.unlock();
    ECI_TRY_CTX(flushTo(v), "persisting the allocation for '" + id + "'");
    if (fresh != nullptr) *fresh = true;
    return a;
  };

  if (!joins.empty()) {
    // A joiner runs in the user namespace of `joins`: it takes no range of its own but keeps
    // that one taken until every member of the group is gone.
    auto owner = byId_.find(joins);
    if (owner == byId_.end()) {
      return Error(ErrorKind::kNotFound, "allocating a uid/gid range for '" + id +
                                             "': container '" + joins +
                                             "', whose namespaces it joins, holds no range");
    }
    return grant(owner->second.start, joins);
  }

  const auto now = std::chrono::steady_clock::now();
  bool reconciled = false;
  if (now - lastReconcile_ >= reconcileInterval_) {
    reconciled = reconcileLocked() > 0;
  }
  auto findFree = [&]() -> size_t {
    for (size_t i = 0; i < refs_.size(); ++i) {
      if (refs_[i] == 0) return i;
    }
    return refs_.size();
  };
  size_t idx = findFree();
  if (idx == refs_.size()) {
    reconciled = reconcileLocked() > 0 || reconciled;
    idx = findFree();
  }
  if (idx == refs_.size()) {
    if (reconciled) {
      const uint64_t v = ++version_;
      lock.unlock();
      (void)flushTo(v);
    }
    return Error(ErrorKind::kUnavailable, "allocating a uid/gid range for '" + id + "': all " +
                                              std::to_string(count_) +
                                              " ranges are in use by live containers");
  }
  return grant(base_ + static_cast<uint32_t>(idx) * kRangeSize, "");
}

Result<bool> RangeAllocator::release(const std::string& id) {
  std::unique_lock lock(mu_);
  auto it = byId_.find(id);
  if (it == byId_.end()) return false;
  --refs_[indexOf(it->second.start)];
  byId_.erase(it);
  const uint64_t v = ++version_;
  lock.unlock();
  ECI_TRY_CTX(flushTo(v), "persisting the release of '" + id + "'");
  return true;
}

Result<size_t> RangeAllocator::reconcile() {
  std::unique_lock lock(mu_);
  const size_t freed = reconcileLocked();
  if (freed == 0) return freed;
  const uint64_t v = ++version_;
  lock.unlock();
  ECI_TRY_CTX(flushTo(v), "persisting reconciled allocations");
  return freed;
}

size_t RangeAllocator::reconcileLocked() {
  lastReconcile_ = std::chrono::steady_clock::now();
  size_t freed = 0;
  for (auto it = byId_.begin(); it != byId_.end();) {
    if (probe_(it->second)) {
      ++it;
      continue;
    }
    --refs_[indexOf(it->second.start)];
    it = byId_.erase(it);
    ++freed;
  }
  return freed;
}

std::string RangeAllocator::serializeLocked() const {
  json list = json::array();
  for (const auto& [id, a] : byId_) {
    list.push_back({{"id", a.id},
                    {"start", a.start},
                    {"size", kRangeSize},
                    {"bundle", a.bundle},
                    {"runcRoot", a.runcRoot},
                    {"allocatedAt", a.allocatedAt}});
    if (!a.joined.empty()) list.back()["joined"] = a.joined;
  }
  json doc = {{"format", kFormat}, {"allocations", std::move(list)}};
  return doc.dump(1) + "\n";
}

Status RangeAllocator::flushTo(uint64_t v) {
  std::lock_guard flushLock(flushMu_);
  // Whoever held flushMu_ before us may already have written a state that includes version v:
  // that is the group commit.
  if (persistedVersion_ >= v) return {};
  std::string text;
  uint64_t snapshot = 0;
  {
    std::lock_guard lock(mu_);
    text = serializeLocked();
    snapshot = version_;
  }
  // Unsynced once this boot's marker is written: a reboot voids the file anyway (load()).
  ECI_TRY(
      fs::writeFileAtomic(stateFile_, text, 0600,
                          unsyncedWrites_ ? fs::Durability::kThisBoot : fs::Durability::kDurable));
  persistedVersion_ = snapshot;
  return {};
}

std::vector<Allocation> RangeAllocator::list() const {
  std::lock_guard lock(mu_);
  std::vector<Allocation> out;
  out.reserve(byId_.size());
  for (const auto& [id, a] : byId_) out.push_back(a);
  return out;
}

size_t RangeAllocator::inUse() const {
  std::lock_guard lock(mu_);
  return byId_.size();
}

}  // namespace eci::enforcerd
