// Test helpers: a fake engine answering decide()'s fact requests, and the daemon's loop.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "eci/apiproxy/decide.h"
#include "fake_fs.h"

namespace eci::apiproxy::testing {

inline constexpr const char* kToken = "0123456789abcdef0123456789abcdef";
inline const std::string kD1 = "sha256:" + std::string(64, '1');
inline const std::string kD2 = "sha256:" + std::string(64, '2');
inline const std::string kId1 = "sha256:" + std::string(64, 'a');
inline const std::string kId2 = "sha256:" + std::string(64, 'b');
inline const std::string kId3 = "sha256:" + std::string(64, 'c');

struct FakeEngine {
  std::map<std::string, ImageFacts> images;  // by every name and id it answers to
  std::map<std::string, ContainerFacts> containers;
  std::map<std::string, VolumeFacts> volumes;
  std::map<std::string, NetworkFacts> networks;
  std::map<std::string, std::string> registry;  // "repo:tag" -> digest; absent: unreachable
  std::vector<ImageFacts> list;                 // GET /images/json
  int rounds = 0;

  void addImage(const ImageFacts& f, std::vector<std::string> names) {
    names.push_back(f.id);
    for (const auto& n : names) images[n] = f;
    ImageFacts short_ = f;
    short_.layers.clear();
    list.push_back(short_);
  }
};

inline Policy policy(std::vector<std::string> images = {}, bool derived = true) {
  Policy p;
  p.enabled = true;
  p.socketMountImages = std::move(images);
  p.allowDerivedImages = derived;
  return p;
}

inline Config config() {
  Config c;
  c.freshToken = kToken;
  return c;
}

inline Request request(std::string method, std::string target, std::string body = {},
                       std::string contentType = "application/json") {
  Request r;
  r.method = std::move(method);
  r.target = std::move(target);
  if (!contentType.empty()) r.headers.emplace_back("Content-Type", contentType);
  r.contentLength = static_cast<int64_t>(body.size());
  if (!body.empty()) r.body = std::move(body);
  return r;
}

// The daemon's loop: body first (kept aside until asked), then facts, until a final verdict.
inline Decision run(Request r, const Policy& p, FakeEngine& e, const FakeFs& fs,
                    const Caller& caller = {}, const Config& cfg = config()) {
  std::optional<std::string> body = std::move(r.body);
  r.body.reset();
  Facts facts;
  for (int round = 0;; ++round) {
    Decision d = decide(r, caller, p, cfg, facts, fs, round);
    if (d.verdict == Verdict::kNeedBody) {
      EXPECT_FALSE(r.body.has_value()) << "asked for the body twice";
      if (r.body) return d;
      r.body = body.value_or("");
      continue;
    }
    if (d.verdict != Verdict::kNeedFacts) {
      e.rounds = round;
      return d;
    }
    EXPECT_FALSE(d.need.empty()) << "kNeedFacts with nothing needed";
    if (d.need.empty() || round > 10) return d;
    for (const auto& i : d.need.images) {
      auto it = e.images.find(i);
      facts.images[i] = it == e.images.end() ? std::nullopt : std::optional(it->second);
    }
    for (const auto& c : d.need.containers) {
      auto it = e.containers.find(c);
      facts.containers[c] = it == e.containers.end() ? std::nullopt : std::optional(it->second);
    }
    for (const auto& v : d.need.volumes) {
      auto it = e.volumes.find(v);
      facts.volumes[v] = it == e.volumes.end() ? std::nullopt : std::optional(it->second);
    }
    for (const auto& n : d.need.networks) {
      auto it = e.networks.find(n);
      facts.networks[n] = it == e.networks.end() ? std::nullopt : std::optional(it->second);
    }
    for (const auto& k : d.need.registryDigests) {
      auto it = e.registry.find(k);
      facts.registryDigests[k] = it == e.registry.end() ? "" : it->second;
    }
    if (d.need.imageList) facts.localImages = e.list;
  }
}

inline std::string createBody(const std::string& hostConfig,
                              const std::string& image = "docker:cli") {
  return R"({"Image":")" + image + R"(","HostConfig":)" + hostConfig + "}";
}

}  // namespace eci::apiproxy::testing
