#include "eci/enforcerd/caller_store.h"

#include <sys/stat.h>

#include <ctime>
#include <nlohmann/json.hpp>
#include <vector>

#include "eci/enforcerd/range_allocator.h"
#include "eci/fs_util.h"

namespace eci::enforcerd {
namespace {

using nlohmann::json;

int64_t nowSeconds() {
  return static_cast<int64_t>(::time(nullptr));
}

}  // namespace

std::function<bool(const std::string&)> engineContainerDirProbe(std::string engineDataRoot) {
  return [root = std::move(engineDataRoot)](const std::string& id) {
    if (root.empty() || !validContainerId(id)) return false;
    struct stat st {};
    return ::lstat((root + "/containers/" + id).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
}

CallerStore::CallerStore(std::filesystem::path stateFile,
                         std::function<bool(const std::string&)> engineHas)
    : stateFile_(std::move(stateFile)), engineHas_(std::move(engineHas)) {}

Status CallerStore::load() {
  std::lock_guard lock(mu_);
  byId_.clear();
  const std::string where = "callers file '" + stateFile_.string() + "'";
  struct stat st {};
  if (::lstat(stateFile_.c_str(), &st) != 0) return {};
  auto text = fs::readFile(stateFile_, 16u << 20);
  if (!text.ok()) return std::move(text).error().wrap("reading " + where);
  const json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return Error(where + ": not a JSON object");
  if (doc.value("format", "") != kFormat) {
    return Error(where + ": /format: expected \"" + std::string(kFormat) + "\"");
  }
  auto list = doc.find("callers");
  if (list == doc.end() || !list->is_array()) return Error(where + ": /callers: expected array");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& e = (*list)[i];
    auto isU32 = [&](const char* k) {
      return e.contains(k) && e[k].is_number_unsigned() && e[k].get<uint64_t>() <= UINT32_MAX;
    };
    if (!e.is_object() || !e.contains("id") || !e["id"].is_string() ||
        !validContainerId(e["id"].get<std::string>()) || !isU32("uid") || !isU32("gid")) {
      return Error(where + ": /callers/" + std::to_string(i) +
                   ": expected {\"id\": container id, \"uid\": u32, \"gid\": u32}");
    }
    Caller c;
    c.uid = e["uid"].get<uint32_t>();
    c.gid = e["gid"].get<uint32_t>();
    c.recordedAt = e.value("recordedAt", int64_t{0});
    byId_[e["id"].get<std::string>()] = c;
  }
  return {};
}

Status CallerStore::persistLocked() {
  json list = json::array();
  for (const auto& [id, c] : byId_) {
    list.push_back({{"id", id}, {"uid", c.uid}, {"gid", c.gid}, {"recordedAt", c.recordedAt}});
  }
  const json doc = {{"format", kFormat}, {"callers", std::move(list)}};
  return fs::writeFileAtomic(stateFile_, doc.dump() + "\n", 0600);
}

void CallerStore::pruneLocked(int64_t now) {
  // Records of containers the engine no longer has (removed without ever running, or removed
  // while eci-runc was not told), past the grace period.
  for (auto it = byId_.begin(); it != byId_.end();) {
    if (now - it->second.recordedAt > kGraceSeconds && !engineHas_(it->first)) {
      it = byId_.erase(it);
    } else {
      ++it;
    }
  }
  // Still full: the oldest go first (a forgotten caller means today's rules, never more rights).
  while (byId_.size() >= kMaxRecords) {
    auto oldest = byId_.begin();
    for (auto it = byId_.begin(); it != byId_.end(); ++it) {
      if (it->second.recordedAt < oldest->second.recordedAt) oldest = it;
    }
    byId_.erase(oldest);
  }
}

Status CallerStore::set(const std::string& id, uint32_t uid, uint32_t gid) {
  if (!validContainerId(id)) return Error("invalid container id '" + id + "'");
  std::lock_guard lock(mu_);
  const int64_t now = nowSeconds();
  if (byId_.size() >= kMaxRecords / 2) pruneLocked(now);
  const auto before = byId_;
  byId_[id] = Caller{uid, gid, now};
  if (auto st = persistLocked(); !st.ok()) {
    byId_ = before;  // not on disk: not acknowledged, not used
    return std::move(st).error().wrap("persisting the caller of container " + id);
  }
  return {};
}

std::optional<Caller> CallerStore::get(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  return it->second;
}

Status CallerStore::release(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = byId_.find(id);
  if (it == byId_.end() || engineHas_(id)) return {};
  byId_.erase(it);
  return persistLocked();
}

size_t CallerStore::size() const {
  std::lock_guard lock(mu_);
  return byId_.size();
}

}  // namespace eci::enforcerd
