#include "eci/procfs/held_state.h"

#include <linux/fuse.h>

#include <cstring>
#include <nlohmann/json.hpp>

namespace eci::procfs {

namespace {

nlohmann::json initJson(const InitRecord& r) {
  return {{"major", r.major},
          {"minor", r.minor},
          {"maxReadahead", r.maxReadahead},
          {"flags", r.flags},
          {"flags2", r.flags2}};
}

Result<InitRecord> initFrom(const nlohmann::json& j) {
  if (!j.is_object())
    return Error(ErrorKind::kInvalidInput, "held procfs state: INIT record is not an object");
  InitRecord r;
  for (auto [key, field] : {std::pair{"major", &r.major},
                            {"minor", &r.minor},
                            {"maxReadahead", &r.maxReadahead},
                            {"flags", &r.flags},
                            {"flags2", &r.flags2}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX)
      return Error(ErrorKind::kInvalidInput,
                   std::string("held procfs state: INIT field '") + key + "'");
    *field = it->get<uint32_t>();
  }
  // FUSE_INIT_EXT, max_pages etc. exist from 7.31 on; anything older was never recorded by us.
  if (r.major != 7 || r.minor < 31)
    return Error(ErrorKind::kInvalidInput, "held procfs state: INIT protocol " +
                                               std::to_string(r.major) + "." +
                                               std::to_string(r.minor));
  return r;
}

}  // namespace

std::string encodeHeldState(const HeldState& s) {
  nlohmann::json j;
  j["static"] = initJson(s.staticInit);
  j["knobs"] = initJson(s.knobsInit);
  j["rootUid"] = s.rootUid;
  j["rootGid"] = s.rootGid;
  j["startRealNs"] = s.startRealNs;
  j["startBoottime"] = s.startBoottime;
  j["hostIdleAtStart"] = s.hostIdleAtStart;
  j["values"] = s.knobs;
  return j.dump();
}

Result<HeldState> decodeHeldState(std::string_view text) {
  if (text.size() > kMaxHeldStateBytes)
    return Error(ErrorKind::kTooLarge, "held procfs state: too large");
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object())
    return Error(ErrorKind::kInvalidInput, "held procfs state: not a JSON object");
  HeldState s;
  ECI_ASSIGN_OR_RETURN(st, initFrom(j.value("static", nlohmann::json())));
  ECI_ASSIGN_OR_RETURN(kn, initFrom(j.value("knobs", nlohmann::json())));
  s.staticInit = st;
  s.knobsInit = kn;
  for (auto [key, field] : {std::pair{"rootUid", &s.rootUid}, {"rootGid", &s.rootGid}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX)
      return Error(ErrorKind::kInvalidInput, std::string("held procfs state: '") + key + "'");
    *field = it->get<uint32_t>();
  }
  const auto real = j.find("startRealNs");
  const auto boot = j.find("startBoottime");
  const auto idle = j.find("hostIdleAtStart");
  const auto values = j.find("values");
  if (real == j.end() || !real->is_number_integer() || boot == j.end() || !boot->is_number() ||
      idle == j.end() || !idle->is_number() || values == j.end() || !values->is_object())
    return Error(ErrorKind::kInvalidInput, "held procfs state: missing or mistyped field");
  s.startRealNs = real->get<int64_t>();
  s.startBoottime = boot->get<double>();
  s.hostIdleAtStart = idle->get<double>();
  for (const auto& [path, v] : values->items()) {
    if (!v.is_string())
      return Error(ErrorKind::kInvalidInput, "held procfs state: value of '" + path + "'");
    s.knobs[path] = v.get<std::string>();
  }
  return s;
}

std::optional<InitRecord> initRecordOf(const void* request, size_t len) {
  fuse_in_header h;
  if (len < sizeof h) return std::nullopt;
  std::memcpy(&h, request, sizeof h);
  if (h.opcode != FUSE_INIT) return std::nullopt;
  // The fields up to flags exist since 7.6, flags2 only with FUSE_INIT_EXT (7.36); the kernel
  // sends the whole struct either way.
  fuse_init_in in{};
  const size_t body = std::min(len - sizeof h, sizeof in);
  if (body < offsetof(fuse_init_in, flags) + sizeof in.flags) return std::nullopt;
  std::memcpy(&in, static_cast<const char*>(request) + sizeof h, body);
  InitRecord r{in.major, in.minor, in.max_readahead, in.flags, 0};
  if ((in.flags & FUSE_INIT_EXT) && body >= offsetof(fuse_init_in, flags2) + sizeof in.flags2)
    r.flags2 = in.flags2;
  return r;
}

std::string syntheticInit(const InitRecord& r) {
  fuse_in_header h{};
  fuse_init_in in{};
  h.len = sizeof h + sizeof in;
  h.opcode = FUSE_INIT;
  h.unique = kSyntheticInitUnique;
  in.major = r.major;
  in.minor = r.minor;
  in.max_readahead = r.maxReadahead;
  in.flags = r.flags;
  in.flags2 = r.flags2;
  std::string out(sizeof h + sizeof in, '\0');
  std::memcpy(out.data(), &h, sizeof h);
  std::memcpy(out.data() + sizeof h, &in, sizeof in);
  return out;
}

std::string resendNotification() {
  fuse_out_header h{};
  h.len = sizeof h;
  h.error = kFuseNotifyResend;
  h.unique = 0;
  std::string out(sizeof h, '\0');
  std::memcpy(out.data(), &h, sizeof h);
  return out;
}

bool initAdvertisesResend(const InitRecord& r) {
  // flags2 carries bits 32..63 of the 64-bit INIT flags (FUSE_INIT_EXT).
  return (r.flags & FUSE_INIT_EXT) && (r.flags2 & static_cast<uint32_t>(kFuseHasResend >> 32));
}

}  // namespace eci::procfs
