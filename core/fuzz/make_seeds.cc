// Regenerates corpus/bundle from fuzz-only.key: a valid bundle plus broken variants.
// Build by hand when the bundle format changes:
//   g++ -std=c++20 -I../include make_seeds.cc <eci_core objects> -lcrypto -o /tmp/make_seeds
#include <fstream>
#include <nlohmann/json.hpp>

#include "eci/signing.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  auto key = eci::KeyPair::loadPrivate(argv[1]);
  if (!key.ok()) return 1;
  const std::string dir = argv[2];
  auto write = [&](const std::string& name, const std::string& s) {
    std::ofstream(dir + "/" + name, std::ios::binary) << s;
  };
  eci::Policy p = eci::Policy::failClosedDefaults();
  p.socketMountImages = {"docker.io/library/docker:cli", "docker.io/myorg/*"};
  p.commandList.commands = {"push", "build"};
  p.allowedOrgs = {"myorg"};
  p.inputsDigest = "sha256:0123";
  const std::string valid = *eci::signBundle(*key, p, 42);
  write("valid-1.json", valid);
  eci::Policy off;
  off.enabled = false;
  write("valid-2.json", *eci::signBundle(*key, off, 1));
  auto j = nlohmann::json::parse(valid);
  auto variant = [&](const std::string& name, auto f) {
    auto c = j;
    f(c);
    write(name, c.dump());
  };
  variant("tampered-policy.json", [](auto& c) { c["policy"]["enabled"] = false; });
  variant("tampered-serial.json", [](auto& c) { c["serial"] = 43; });
  variant("bad-base64.json", [](auto& c) { c["signature"] = "@@@="; });
  variant("wrong-format.json", [](auto& c) { c["format"] = "eci-policy-bundle/0"; });
  variant("unknown-key.json", [](auto& c) { c["x"] = nullptr; });
  variant("keyid-mismatch.json", [](auto& c) { c["keyId"] = "0000000000000000"; });
  write("truncated.json", valid.substr(0, valid.size() / 2));
  write("duplicate-key.json", "{\"serial\":1,\"serial\":2}");
  return 0;
}
