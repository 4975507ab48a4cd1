// Reading container create bodies (and swarm service mounts) as dockerd does (internal.h).
#include <algorithm>

#include "eci/apiproxy/request.h"
#include "internal.h"

namespace eci::apiproxy::detail {
namespace {

using nlohmann::json;

Error typeError(const std::string& field, const char* want) {
  return Error(ErrorKind::kInvalidInput, "create body: " + field + " must be " + want);
}

// A Go string field: absent/null = "", otherwise a JSON string (Go refuses other types).
Result<std::string> goString(const json& obj, std::string_view field) {
  const json* v = goField(obj, field);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) return typeError(std::string(field), "a string");
  return v->get<std::string>();
}

// dockerd's ValidMountMode (volume/mounts/linux_parser.go): comma-separated rw|ro, z|Z,
// propagation, nocopy, consistency; each class at most once.
bool validMountMode(std::string_view mode) {
  if (mode.empty()) return true;
  int rw = 0, label = 0, prop = 0, copy = 0, cons = 0;
  size_t start = 0;
  while (start <= mode.size()) {
    size_t comma = mode.find(',', start);
    if (comma == std::string_view::npos) comma = mode.size();
    const std::string_view o = mode.substr(start, comma - start);
    start = comma + 1;
    if (o == "rw" || o == "ro") {
      ++rw;
    } else if (o == "z" || o == "Z") {
      ++label;
    } else if (o == "private" || o == "rprivate" || o == "slave" || o == "rslave" ||
               o == "shared" || o == "rshared") {
      ++prop;
    } else if (o == "nocopy") {
      ++copy;
    } else if (o == "consistent" || o == "cached" || o == "delegated" || o == "default") {
      ++cons;
    } else {
      return false;
    }
    if (comma == mode.size()) break;
  }
  return rw <= 1 && label <= 1 && prop <= 1 && copy <= 1 && cons <= 1;
}

// One HostConfig.Binds entry, as linuxParser.ParseMountRaw splits it.
Result<MountReq> parseBind(const std::string& raw, const std::string& volumeDriver) {
  if (std::count(raw.begin(), raw.end(), ':') > 2) {
    return Error(ErrorKind::kInvalidInput, "invalid volume specification: '" + raw + "'");
  }
  std::vector<std::string> arr;
  size_t start = 0;
  for (int i = 0; i < 2; ++i) {
    const auto colon = raw.find(':', start);
    if (colon == std::string::npos) break;
    arr.push_back(raw.substr(start, colon - start));
    start = colon + 1;
  }
  arr.push_back(raw.substr(start));
  if (arr[0].empty())
    return Error(ErrorKind::kInvalidInput, "invalid volume specification: '" + raw + "'");
  MountReq m;
  std::string mode;
  if (arr.size() == 1) {
    // Only a container path: an anonymous volume.
    m.kind = MountReq::Kind::kVolume;
    m.driver = volumeDriver;
    return m;
  }
  if (arr.size() == 2 && validMountMode(arr[1])) {
    return Error(ErrorKind::kInvalidInput, "invalid volume specification: '" + raw + "'");
  }
  if (arr.size() == 3) mode = arr[2];
  if (!validMountMode(mode)) return Error(ErrorKind::kInvalidInput, "invalid mode: " + mode);
  m.source = arr[0];
  if (!m.source.empty() && m.source.front() == '/') {
    m.kind = MountReq::Kind::kBind;
  } else {
    m.kind = MountReq::Kind::kVolume;
    m.driver = volumeDriver;
  }
  return m;
}

// A logging driver's options: {"<where>": {"<optsField>": {"key": "value", ...}}}, a Go
// map[string]string (non-strings are a 400 as in dockerd).
Status readLogOptions(const json& obj, const std::string& where, std::string_view field,
                      std::string_view optsField,
                      std::vector<std::pair<std::string, std::string>>& out) {
  const json* lc = goField(obj, field);
  if (lc == nullptr || lc->is_null()) return {};
  if (!lc->is_object()) return typeError(where + std::string(field), "an object");
  const json* opts = goField(*lc, optsField);
  if (opts == nullptr || opts->is_null()) return {};
  const std::string name = where + std::string(field) + "." + std::string(optsField);
  if (!opts->is_object()) return typeError(name, "an object of strings");
  for (auto it = opts->begin(); it != opts->end(); ++it) {
    if (!it->is_string()) return typeError(name, "an object of strings");
    out.emplace_back(it.key(), it->get<std::string>());
  }
  return {};
}

Status readHostConfig(json& hc, const std::string& where, CreateBody& out) {
  if (!hc.is_object()) return typeError(where, "an object");
  ECI_ASSIGN_OR_RETURN(volumeDriver, goString(hc, "VolumeDriver"));
  ECI_ASSIGN_OR_RETURN(runtime, goString(hc, "Runtime"));
  if (goField(hc, "Runtime") != nullptr) out.runtimeGiven = true;
  (void)runtime;
  if (json* binds = goField(hc, "Binds"); binds != nullptr && !binds->is_null()) {
    if (!binds->is_array()) return typeError(where + "Binds", "an array of strings");
    for (size_t i = 0; i < binds->size(); ++i) {
      const json& b = (*binds)[i];
      if (!b.is_string()) return typeError(where + "Binds", "an array of strings");
      ECI_ASSIGN_OR_RETURN(m, parseBind(b.get<std::string>(), volumeDriver));
      m.owner = &hc;
      m.inBinds = true;
      m.index = i;
      out.mounts.push_back(std::move(m));
    }
  }
  if (json* mounts = goField(hc, "Mounts"); mounts != nullptr && !mounts->is_null()) {
    const size_t before = out.mounts.size();
    ECI_TRY(readMountArray(mounts, out.mounts));
    for (size_t i = before; i < out.mounts.size(); ++i) out.mounts[i].owner = &hc;
  }
  if (const json* vf = goField(hc, "VolumesFrom"); vf != nullptr && !vf->is_null()) {
    if (!vf->is_array()) return typeError(where + "VolumesFrom", "an array of strings");
    for (const auto& v : *vf) {
      if (!v.is_string()) return typeError(where + "VolumesFrom", "an array of strings");
      const std::string s = v.get<std::string>();
      out.volumesFrom.push_back(s.substr(0, s.find(':')));
    }
  }
  ECI_TRY(readLogOptions(hc, where, "LogConfig", "Config", out.logOptions));
  out.hostConfigs.push_back(&hc);
  return {};
}

}  // namespace

Status readMountArray(json* arr, std::vector<MountReq>& out) {
  if (!arr->is_array()) return typeError("Mounts", "an array of objects");
  for (size_t i = 0; i < arr->size(); ++i) {
    const json& m = (*arr)[i];
    if (!m.is_object()) return typeError("Mounts", "an array of objects");
    ECI_ASSIGN_OR_RETURN(type, goString(m, "Type"));
    ECI_ASSIGN_OR_RETURN(source, goString(m, "Source"));
    MountReq r;
    r.inBinds = false;
    r.index = i;
    r.source = source;
    if (type == "bind") {
      r.kind = MountReq::Kind::kBind;
      if (const json* bo = goField(m, "BindOptions"); bo != nullptr && !bo->is_null()) {
        if (!bo->is_object()) return typeError("Mounts[].BindOptions", "an object");
        if (const json* cm = goField(*bo, "CreateMountpoint"); cm != nullptr && !cm->is_null()) {
          if (!cm->is_boolean()) return typeError("BindOptions.CreateMountpoint", "a boolean");
          r.createMountpoint = cm->get<bool>();
        }
      }
    } else if (type == "volume") {
      r.kind = MountReq::Kind::kVolume;
      if (const json* vo = goField(m, "VolumeOptions"); vo != nullptr && !vo->is_null()) {
        if (!vo->is_object()) return typeError("Mounts[].VolumeOptions", "an object");
        if (const json* dc = goField(*vo, "DriverConfig"); dc != nullptr && !dc->is_null()) {
          if (!dc->is_object())
            return typeError("Mounts[].VolumeOptions.DriverConfig", "an object");
          ECI_ASSIGN_OR_RETURN(name, goString(*dc, "Name"));
          r.driver = name;
          if (const json* o = goField(*dc, "Options"); o != nullptr && !o->is_null()) {
            if (!o->is_object()) return typeError("DriverConfig.Options", "an object of strings");
            // A Go map: exact keys, the last duplicate wins (parseGoJson refused duplicates).
            for (auto it = o->begin(); it != o->end(); ++it) {
              if (!it->is_string())
                return typeError("DriverConfig.Options", "an object of strings");
              r.driverOpts[it.key()] = it->get<std::string>();
            }
          }
        }
      }
    } else if (type == "tmpfs") {
      r.kind = MountReq::Kind::kTmpfs;
    } else {
      // dockerd: "mount type unknown" (the comparison is exact: "Bind" is unknown too).
      return Error(ErrorKind::kInvalidInput,
                   "mount type \"" + type + "\" is not bind, volume or tmpfs");
    }
    out.push_back(std::move(r));
  }
  return {};
}

Result<CreateBody> readCreateBody(json& body) {
  if (!body.is_object())
    return Error(ErrorKind::kInvalidInput, "the create body must be a JSON object");
  CreateBody out;
  ECI_ASSIGN_OR_RETURN(image, goString(body, "Image"));
  out.image = image;
  // The inner HostConfig and the deprecated embedded one (the top level itself): dockerd uses
  // the inner one when present and merges a few top-level fields; we check both, always.
  if (json* inner = goField(body, "HostConfig"); inner != nullptr && !inner->is_null()) {
    ECI_TRY(readHostConfig(*inner, "HostConfig.", out));
  }
  ECI_TRY(readHostConfig(body, "", out));
  // Config.Volumes: anonymous volumes (with HostConfig.VolumeDriver's driver).
  if (const json* vols = goField(body, "Volumes"); vols != nullptr && !vols->is_null()) {
    if (!vols->is_object()) return typeError("Volumes", "an object");
  }
  return out;
}

Result<ServiceBody> readServiceBody(json& body) {
  ServiceBody out;
  if (!body.is_object())
    return Error(ErrorKind::kInvalidInput, "the service spec must be a JSON object");
  json* tt = goField(body, "TaskTemplate");
  if (tt == nullptr || tt->is_null()) return out;
  if (!tt->is_object()) return typeError("TaskTemplate", "an object");
  ECI_TRY(readLogOptions(*tt, "TaskTemplate.", "LogDriver", "Options", out.logOptions));
  json* cs = goField(*tt, "ContainerSpec");
  if (cs == nullptr || cs->is_null()) return out;
  if (!cs->is_object()) return typeError("TaskTemplate.ContainerSpec", "an object");
  json* mounts = goField(*cs, "Mounts");
  if (mounts == nullptr || mounts->is_null()) return out;
  ECI_TRY(readMountArray(mounts, out.mounts));
  return out;
}

}  // namespace eci::apiproxy::detail
