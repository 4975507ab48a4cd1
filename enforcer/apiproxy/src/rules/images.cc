// Image facts and the socket-mount image allowlist, matched by digest (internal.h).
#include <algorithm>
#include <set>

#include "eci/apiproxy/request.h"
#include "internal.h"

namespace eci::apiproxy {
namespace {

using nlohmann::json;

Result<json> parseEngineJson(std::string_view text, const char* what) {
  auto j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(std::string("malformed ") + what + " from the engine");
  }
  return j;
}

// dockerd's own output: exact key names (no need for Go folding here).
std::vector<std::string> stringList(const json& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

std::string str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

ImageFacts imageFrom(const json& j) {
  ImageFacts f;
  f.id = str(j, "Id");
  f.repoTags = stringList(j, "RepoTags");
  f.repoDigests = stringList(j, "RepoDigests");
  if (auto rf = j.find("RootFS"); rf != j.end() && rf->is_object()) {
    f.layers = stringList(*rf, "Layers");
  }
  return f;
}

}  // namespace

Result<ImageFacts> parseImageInspect(std::string_view text) {
  ECI_ASSIGN_OR_RETURN(j, parseEngineJson(text, "image inspect"));
  ImageFacts f = imageFrom(j);
  if (f.id.empty()) return Error("image inspect without an Id");
  return f;
}

Result<std::vector<ImageFacts>> parseImageList(std::string_view text) {
  auto j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) return Error("malformed image list from the engine");
  std::vector<ImageFacts> out;
  for (const auto& e : j) {
    if (!e.is_object()) continue;
    ImageFacts f = imageFrom(e);
    if (!f.id.empty()) out.push_back(std::move(f));
  }
  return out;
}

Result<ContainerFacts> parseContainerInspect(std::string_view text) {
  ECI_ASSIGN_OR_RETURN(j, parseEngineJson(text, "container inspect"));
  ContainerFacts c;
  c.id = str(j, "Id");
  c.image = str(j, "Image");
  if (auto cfg = j.find("Config"); cfg != j.end() && cfg->is_object()) {
    c.imageName = str(*cfg, "Image");
  }
  if (auto ms = j.find("Mounts"); ms != j.end() && ms->is_array()) {
    for (const auto& m : *ms) {
      if (!m.is_object()) continue;
      c.mounts.push_back({str(m, "Type"), str(m, "Source"), str(m, "Name"), str(m, "Driver")});
    }
  }
  // HostConfig.Binds of a created-but-never-started container are not in .Mounts yet on every
  // engine version: add them too.
  if (auto hc = j.find("HostConfig"); hc != j.end() && hc->is_object()) {
    for (const auto& b : stringList(*hc, "Binds")) {
      const auto colon = b.find(':');
      const std::string src = b.substr(0, colon);
      if (!src.empty() && src.front() == '/') {
        c.mounts.push_back({"bind", src, "", ""});
      } else if (!src.empty() && colon != std::string::npos) {
        c.mounts.push_back({"volume", "", src, ""});
      }
    }
    if (auto ms = hc->find("Mounts"); ms != hc->end() && ms->is_array()) {
      for (const auto& m : *ms) {
        if (!m.is_object()) continue;
        const std::string type = str(m, "Type");
        if (type == "bind") c.mounts.push_back({"bind", str(m, "Source"), "", ""});
        if (type == "volume" && !str(m, "Source").empty()) {
          c.mounts.push_back({"volume", "", str(m, "Source"), ""});
        }
      }
    }
  }
  if (c.id.empty()) return Error("container inspect without an Id");
  return c;
}

Result<VolumeFacts> parseVolumeInspect(std::string_view text) {
  ECI_ASSIGN_OR_RETURN(j, parseEngineJson(text, "volume inspect"));
  VolumeFacts v;
  v.name = str(j, "Name");
  v.driver = str(j, "Driver");
  if (auto o = j.find("Options"); o != j.end() && o->is_object()) {
    for (auto it = o->begin(); it != o->end(); ++it) {
      if (it->is_string()) v.options[it.key()] = it->get<std::string>();
    }
  }
  return v;
}

Result<NetworkFacts> parseNetworkInspect(std::string_view text) {
  ECI_ASSIGN_OR_RETURN(j, parseEngineJson(text, "network inspect"));
  NetworkFacts n;
  n.name = str(j, "Name");
  if (auto ipam = j.find("IPAM"); ipam != j.end() && ipam->is_object()) {
    if (auto cfg = ipam->find("Config"); cfg != ipam->end() && cfg->is_array()) {
      for (const auto& c : *cfg) {
        if (!c.is_object()) continue;
        for (const char* key : {"Subnet", "IPRange", "Gateway"}) {
          if (std::string v = str(c, key); !v.empty()) n.prefixes.push_back(std::move(v));
        }
      }
    }
  }
  return n;
}

namespace detail {
namespace {

using settings::ImagePattern;
using settings::ImageReference;

struct RepoDigest {
  std::string repo;
  std::string digest;
};

std::vector<RepoDigest> normalisedDigests(const ImageFacts& img) {
  std::vector<RepoDigest> out;
  for (const auto& rd : img.repoDigests) {
    auto r = settings::parseImageReference(rd);
    if (r.ok() && !r->digest.empty()) out.push_back({r->repository, r->digest});
  }
  return out;
}

std::string parentOf(const std::string& repo) {
  const auto slash = repo.rfind('/');
  return slash == std::string::npos ? std::string() : repo.substr(0, slash);
}

// Allowed without derivation: some RepoDigest (or, our extension, the image ID for a pinned
// digest) satisfies an entry. Tag entries need the registry's current digest for that tag.
AllowEval evalDirect(const ImageFacts& img, const std::vector<ImagePattern>& pats,
                     const Facts& facts, Need& need) {
  const auto digests = normalisedDigests(img);
  bool waiting = false;
  auto registryMatch = [&](const std::string& repo, const std::string& tag) -> bool {
    const std::string key = repo + ":" + tag;
    auto it = facts.registryDigests.find(key);
    if (it == facts.registryDigests.end()) {
      if (std::find(need.registryDigests.begin(), need.registryDigests.end(), key) ==
          need.registryDigests.end()) {
        need.registryDigests.push_back(key);
      }
      waiting = true;
      return false;
    }
    if (it->second.empty()) return false;  // registry unreachable: a tag cannot be verified
    return std::any_of(digests.begin(), digests.end(), [&](const RepoDigest& d) {
      return d.repo == repo && d.digest == it->second;
    });
  };
  for (const auto& p : pats) {
    switch (p.kind) {
      case ImagePattern::Kind::kEverything:
        return {AllowState::kAllowed, "*"};
      case ImagePattern::Kind::kDigest:
        for (const auto& d : digests) {
          if (d.repo == p.repository && d.digest == p.digest) {
            return {AllowState::kAllowed, p.str()};
          }
        }
        // Our extension: a pinned digest may name a local image ID (build/import/load images
        // and air-gapped hosts have no RepoDigests). The ID covers config and every layer.
        if (img.id == p.digest) return {AllowState::kAllowed, p.str() + " (image ID)"};
        break;
      case ImagePattern::Kind::kAnyTag:
        for (const auto& d : digests) {
          if (d.repo == p.repository) return {AllowState::kAllowed, p.str()};
        }
        break;
      case ImagePattern::Kind::kTag:
        for (const auto& d : digests) {
          if (d.repo == p.repository) {
            if (registryMatch(p.repository, p.tag)) return {AllowState::kAllowed, p.str()};
            break;
          }
        }
        break;
      case ImagePattern::Kind::kRepoWildcard: {
        std::set<std::string> repos;
        for (const auto& d : digests) {
          if (parentOf(d.repo) == p.repository) repos.insert(d.repo);
        }
        for (const auto& repo : repos) {
          if (p.tag == "*") return {AllowState::kAllowed, p.str()};
          if (registryMatch(repo, p.tag)) return {AllowState::kAllowed, p.str()};
        }
        break;
      }
    }
  }
  return {waiting ? AllowState::kNeed : AllowState::kDenied, {}};
}

}  // namespace

AllowEval evalImage(const ImageFacts& img, const Policy& policy, const Facts& facts, Need& need) {
  std::vector<ImagePattern> pats;
  for (const auto& text : policy.socketMountImages) {
    auto p = settings::parseImagePattern(text);
    if (p.ok()) pats.push_back(*p);  // the policy was validated; a bad entry allows nothing
  }
  if (pats.empty()) return {AllowState::kDenied, {}};
  Need local;
  AllowEval direct = evalDirect(img, pats, facts, local);
  if (direct.state == AllowState::kAllowed) return direct;
  // allowDerivedImages: a local-only image (no RepoDigests) whose layer chain starts with the
  // whole layer chain of a local image that is itself allowed. Never `Parent` (BuildKit leaves
  // it empty; docker load takes it from the tarball).
  bool waiting = direct.state == AllowState::kNeed;
  if (policy.allowDerivedImages && img.repoDigests.empty() && !img.layers.empty()) {
    if (!facts.localImages) {
      local.imageList = true;
      waiting = true;
    } else {
      for (const auto& cand : *facts.localImages) {
        if (cand.id == img.id) continue;
        if (cand.repoDigests.empty() &&
            std::none_of(pats.begin(), pats.end(), [&](const ImagePattern& p) {
              return p.kind == ImagePattern::Kind::kDigest && p.digest == cand.id;
            })) {
          continue;  // cannot be allowed by itself
        }
        AllowEval parent = evalDirect(cand, pats, facts, local);
        if (parent.state == AllowState::kNeed) waiting = true;
        if (parent.state != AllowState::kAllowed) continue;
        auto it = facts.images.find(cand.id);
        if (it == facts.images.end()) {
          local.images.push_back(cand.id);
          waiting = true;
          continue;
        }
        if (!it->second || it->second->layers.empty()) continue;
        const auto& pl = it->second->layers;
        if (pl.size() <= img.layers.size() &&
            std::equal(pl.begin(), pl.end(), img.layers.begin())) {
          return {AllowState::kAllowed, "derived from " + parent.via};
        }
      }
    }
  }
  if (waiting) {
    for (auto& k : local.registryDigests) need.registryDigests.push_back(std::move(k));
    for (auto& k : local.images) need.images.push_back(std::move(k));
    need.imageList = need.imageList || local.imageList;
    return {AllowState::kNeed, {}};
  }
  return {AllowState::kDenied, {}};
}

std::string messageImageName(const std::string& ref) {
  auto r = settings::parseImageReference(ref);
  if (r.ok()) return r->repository;
  return ref;
}

std::string socketDeniedMessage(const std::string& image, bool emptyList) {
  if (emptyList) {
    return "enhanced container isolation: docker socket mount denied for container with image \"" +
           image +
           "\"; allowed image list is empty; if you wish to allow it, configure the docker socket "
           "image list in the Docker Desktop settings.";
  }
  return "enhanced container isolation: docker socket mount denied for container with image \"" +
         image +
         "\"; image is not in the allowed list; if you wish to allow it, configure the docker "
         "socket image list in the Docker Desktop settings.";
}

}  // namespace detail
}  // namespace eci::apiproxy
