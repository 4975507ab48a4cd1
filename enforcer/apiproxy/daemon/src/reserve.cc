// Re-serving per-container sockets: the pure pieces (reserve.h).
#include "reserve.h"

#include <limits>
#include <nlohmann/json.hpp>

namespace eci::apiproxy {

using nlohmann::json;

namespace {

bool isLowerHex(std::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A uid or gid as JSON: an unsigned integer below (id_t)-1 ("nobody known" is not an identity).
template <typename Id>
std::optional<Id> idOf(const json& v) {
  if (!v.is_number_unsigned()) return std::nullopt;
  const auto n = v.get<std::uint64_t>();
  if (n >= std::numeric_limits<Id>::max()) return std::nullopt;
  return static_cast<Id>(n);
}

}  // namespace

bool isSocketToken(std::string_view s) {
  return isLowerHex(s, 32);
}

std::optional<std::string> socketTokenOf(std::string_view path, std::string_view socketDir) {
  // The directory as configured, without a trailing slash (but "/" stays "/").
  while (socketDir.size() > 1 && socketDir.back() == '/') socketDir.remove_suffix(1);
  if (socketDir.empty() || socketDir[0] != '/') return std::nullopt;
  const std::string prefix = socketDir == "/" ? "/" : std::string(socketDir) + "/";
  if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = path.substr(prefix.size());
  // <token>/docker.sock, nothing else.
  if (rest.size() != 32 + 1 + kSocketName.size()) return std::nullopt;
  const std::string_view token = rest.substr(0, 32);
  if (!isSocketToken(token) || rest[32] != '/' || rest.substr(33) != kSocketName) {
    return std::nullopt;
  }
  return std::string(token);
}

std::string grantRecordJson(const GrantRecord& r) {
  return json{{"containerId", r.containerId},
              {"imageId", r.imageId},
              {"uid", static_cast<std::uint64_t>(r.uid)},
              {"gid", static_cast<std::uint64_t>(r.gid)}}
      .dump();
}

Result<GrantRecord> parseGrantRecord(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.size() != 4) return Error("grant record: not an object of four keys");
  GrantRecord r;
  const auto id = j.find("containerId");
  const auto image = j.find("imageId");
  if (id == j.end() || !id->is_string() || !isLowerHex(id->get<std::string>(), 64)) {
    return Error("grant record: containerId is not a 64-hex container id");
  }
  if (image == j.end() || !image->is_string() || image->get<std::string>().empty()) {
    return Error("grant record: imageId missing");
  }
  const auto uid = j.contains("uid") ? idOf<uid_t>(j["uid"]) : std::nullopt;
  const auto gid = j.contains("gid") ? idOf<gid_t>(j["gid"]) : std::nullopt;
  if (!uid || !gid) return Error("grant record: uid/gid missing or not an id");
  r.containerId = id->get<std::string>();
  r.imageId = image->get<std::string>();
  r.uid = *uid;
  r.gid = *gid;
  return r;
}

Result<ReserveTarget> parseReserveTarget(std::string_view inspectJson, std::string_view socketDir) {
  const json j = json::parse(inspectJson, nullptr, false);
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    return Error("container inspect: no Id");
  }
  ReserveTarget t;
  t.id = j["Id"].get<std::string>();
  if (!isLowerHex(t.id, 64)) return Error("container inspect: Id is not 64 hex: " + t.id);
  if (j.contains("Image") && j["Image"].is_string()) t.image = j["Image"].get<std::string>();
  if (j.contains("State") && j["State"].is_object()) {
    const json& st = j["State"];
    t.running = st.value("Running", false);
    if (st.contains("Pid") && st["Pid"].is_number_integer()) t.pid = st["Pid"].get<pid_t>();
  }
  if (t.running && t.pid <= 1) return Error("container inspect: running without a pid");
  if (j.contains("Mounts") && j["Mounts"].is_array()) {
    for (const auto& m : j["Mounts"]) {
      if (!m.is_object() || m.value("Type", "") != "bind") continue;
      const std::string source = m.value("Source", "");
      if (auto token = socketTokenOf(source, socketDir)) {
        const std::string dest = m.value("Destination", "");
        if (dest.empty() || dest[0] != '/') {
          return Error("container inspect: socket bind without an absolute destination");
        }
        t.sockets.push_back({*token, source, dest});
      } else {
        // As at grant (gate.cc): every bind but the socket itself.
        t.bindSources.push_back(source);
      }
    }
  }
  return t;
}

Result<std::vector<ListedContainer>> containersWithSockets(std::string_view listJson,
                                                           std::string_view socketDir) {
  const json j = json::parse(listJson, nullptr, false);
  if (!j.is_array()) return Error("container list: not an array");
  std::vector<ListedContainer> out;
  for (const auto& c : j) {
    if (!c.is_object() || !c.contains("Mounts") || !c["Mounts"].is_array()) continue;
    ListedContainer lc;
    lc.id = c.value("Id", "");
    if (!isLowerHex(lc.id, 64)) continue;
    for (const auto& m : c["Mounts"]) {
      if (!m.is_object() || m.value("Type", "") != "bind") continue;
      if (auto token = socketTokenOf(m.value("Source", ""), socketDir)) {
        lc.tokens.push_back(std::move(*token));
      }
    }
    if (!lc.tokens.empty()) out.push_back(std::move(lc));
  }
  return out;
}

std::optional<std::string> grantMismatch(const GrantRecord& record, const ReserveTarget& target) {
  if (record.containerId != target.id) {
    return "the grant record names container " + record.containerId.substr(0, 12);
  }
  if (record.imageId != target.image) {
    return "the grant record names image " + record.imageId + ", the container runs " +
           target.image;
  }
  return std::nullopt;
}

}  // namespace eci::apiproxy
