// libFuzzer target: decide() on arbitrary requests, policies and engine facts, through the
// daemon's two-phase loop. Invariants checked on every input: the loop ends; ECI off allows;
// a refusal has a 4xx/5xx status and a message; a rewrite is valid JSON and any socket grant
// lies in the per-container socket directory.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "../tests/fake_fs.h"
#include "eci/apiproxy/decide.h"
#include "eci/apiproxy/host_networks.h"

using namespace eci::apiproxy;  // NOLINT

namespace {

const char* kMethods[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "post"};
const char* kImages[] = {
    "docker:cli",
    "docker:*",
    "*",
    "alpine@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    "testcontainers/*:*",
    "localhost:5000/tool:1"};
const char* kCommands[] = {"push", "run", "container*", "image*", "build*", "ps", "exec", "*"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const uint8_t sel = data[0], imgs = data[1], cmds = data[2], flags = data[3];
  const std::string in(reinterpret_cast<const char*>(data + 4), size - 4);
  const auto nl = in.find('\n');
  Request r;
  r.method = kMethods[sel % 7];
  r.target = in.substr(0, nl);
  r.headers.emplace_back("Content-Type", "application/json");
  std::string body = nl == std::string::npos ? "" : in.substr(nl + 1);
  r.contentLength = (flags & 0x40) ? -1 : static_cast<int64_t>(body.size());

  eci::Policy p;
  p.enabled = (flags & 1) == 0;
  p.allowDerivedImages = (flags & 2) != 0;
  for (int i = 0; i < 6; ++i) {
    if (imgs & (1u << i)) p.socketMountImages.push_back(kImages[i]);
  }
  p.commandList.type = (flags & 4) ? eci::CommandList::Type::kAllow : eci::CommandList::Type::kDeny;
  for (int i = 0; i < 8; ++i) {
    if (cmds & (1u << i)) p.commandList.commands.push_back(kCommands[i]);
  }
  p.restrictedHostMounts = {"/etc/docker"};
  Caller caller;
  caller.perContainerSocket = (flags & 8) != 0;
  caller.containerBindSources = {"/home/dev/src"};
  Config cfg;
  cfg.freshToken = "0123456789abcdef0123456789abcdef";
  eci::apiproxy::testing::FakeFs fs;
  fs.link("/tmp/s", "/run/docker.sock");
  // Host networks for network creates: a default route, a LAN, IPv6 link-local.
  for (const char* n : {"0.0.0.0/0", "192.0.2.0/24", "127.0.0.0/8", "fe80::/64"}) {
    if (auto h = parseCidr(n); h.ok()) fs.hostNetworks.push_back(*h);
  }
  fs.networksError = (sel & 0x80) != 0;

  ImageFacts img;
  img.id = "sha256:" + std::string(64, 'a');
  img.repoDigests = {(flags & 16) ? "docker@sha256:" + std::string(64, '1') : ""};
  img.layers = {"sha256:l1", "sha256:l2"};
  ContainerFacts ct;
  ct.id = "c";
  ct.image = img.id;
  ct.imageName = "docker:cli";
  ct.mounts = {{"bind", (flags & 32) ? "/run/docker.sock" : "/home", "", ""},
               {"volume", "", "v", "local"}};
  VolumeFacts vol{"v", "local", {{"o", "bind"}, {"device", (flags & 128) ? "/run" : "/home"}}};

  Facts facts;
  Decision d;
  for (int round = 0;; ++round) {
    d = decide(r, caller, p, cfg, facts, fs, round);
    if (d.verdict == Verdict::kNeedBody) {
      if (r.body) __builtin_trap();  // asked twice
      r.body = body;
      continue;
    }
    if (d.verdict != Verdict::kNeedFacts) break;
    if (round > kMaxRounds + 1 || d.need.empty()) __builtin_trap();  // no progress
    for (const auto& i : d.need.images) {
      facts.images[i] = (i.size() % 3 == 0) ? std::nullopt : std::optional(img);
    }
    for (const auto& c : d.need.containers) facts.containers[c] = ct;
    for (const auto& v : d.need.volumes) facts.volumes[v] = vol;
    for (const auto& n : d.need.networks) {
      facts.networks[n] =
          (flags & 32) ? std::nullopt : std::optional(NetworkFacts{n, {"192.0.2.0/28", "bad"}});
    }
    for (const auto& k : d.need.registryDigests) {
      facts.registryDigests[k] = (flags & 16) ? "sha256:" + std::string(64, '1') : "";
    }
    if (d.need.imageList) facts.localImages = std::vector<ImageFacts>{img};
  }
  if (!p.enabled && d.verdict != Verdict::kAllow) __builtin_trap();
  if (d.verdict == Verdict::kRefuse && (d.status < 400 || d.status > 599 || d.message.empty())) {
    __builtin_trap();
  }
  if (d.verdict == Verdict::kRewrite) {
    auto j = nlohmann::json::parse(d.body, nullptr, false);
    if (j.is_discarded()) __builtin_trap();
    if (d.socket && d.socket->path.rfind(cfg.socketDir + "/", 0) != 0) __builtin_trap();
  }
  return 0;
}
