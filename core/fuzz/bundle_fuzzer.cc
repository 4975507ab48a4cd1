// libFuzzer target for the policy-bundle verifier: the bytes an agent (or anything that can reach
// the push socket) hands to eci-enforcerd. The trusted key is the fuzz-only key in this directory,
// so seeds signed with it (corpus/bundle/valid-*.json) take the fuzzer past the signature check
// into the policy parser. That key is trusted nowhere else.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eci/policy.h"
#include "eci/signing.h"

namespace {

constexpr char kFuzzOnlyPub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAmKYKViPszurDDejPYi1oLfsZuAydsP3pUJ+pwhlzGy0=\n"
    "-----END PUBLIC KEY-----\n";

const std::vector<eci::KeyPair>& trusted() {
  static const std::vector<eci::KeyPair> keys = [] {
    std::vector<eci::KeyPair> v;
    auto k = eci::KeyPair::publicFromPem(kFuzzOnlyPub);
    if (!k.ok()) __builtin_trap();
    v.push_back(std::move(k).value());
    return v;
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto r = eci::verifyBundle(text, trusted());
  if (r.ok()) {
    // Whatever verifies must survive the round trip the enforcer does when it persists it.
    auto back = eci::Policy::fromJson(r->policy.toJson());
    if (!back.ok() || !(*back == r->policy)) __builtin_trap();
  } else {
    (void)r.error().str();
  }
  // Signatures stop almost every mutation before the policy parser; exercise it directly too.
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto it = j.find("policy");
    auto p = eci::Policy::fromJson(it != j.end() ? *it : j);
    if (!p.ok()) (void)p.error().str();
  }
  return 0;
}
