// The benchmark input shared by bench_settings (in-process) and bench_admin_validate (the whole
// eci-admin process): an admin-settings.json with 10,000 images (a realistic mix) and 200 commands.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "eci/settings/commands.h"

namespace {

constexpr size_t kImages = 10000;

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out.append(p);
  return out;
}
constexpr size_t kCommands = 200;

// A realistic mix: short Hub names, org repos with any tag, private registries, digests and
// repository wildcards.
std::vector<std::string> allowlist() {
  std::vector<std::string> v;
  v.reserve(kImages);
  for (size_t i = 0; v.size() < kImages; ++i) {
    const std::string n = std::to_string(i);
    switch (i % 5) {
      case 0:
        v.push_back(cat({"tool", n, ":v", n}));
        break;
      case 1:
        v.push_back(cat({"org", n, "/img:*"}));
        break;
      case 2:
        v.push_back(cat({"registry.corp", std::to_string(i % 7), ".com/team/app", n, ":1.0"}));
        break;
      case 3: {
        std::string hex = std::to_string(1000000 + i);
        hex.insert(0, 64 - hex.size(), 'a');
        v.push_back(cat({"ghcr.io/acme/svc", n, "@sha256:", hex}));
        break;
      }
      default:
        v.push_back(cat({"ci", n, "/*:*"}));
        break;
    }
  }
  return v;
}

std::string settingsFile() {
  std::string s =
      "{\n  \"configurationFileVersion\": 2,\n  \"enhancedContainerIsolation\": {\n"
      "    \"locked\": true,\n    \"value\": true,\n    \"dockerSocketMount\": {\n"
      "      \"imageList\": {\n        \"images\": [\n";
  const auto images = allowlist();
  for (size_t i = 0; i < images.size(); ++i) {
    s += "          \"" + images[i] + "\"" + (i + 1 < images.size() ? ",\n" : "\n");
  }
  s += "        ]\n      },\n      \"commandList\": {\"type\": \"deny\", \"commands\": [";
  const auto& known = eci::settings::knownCommands();
  for (size_t i = 0; i < kCommands; ++i) {
    s += (i ? ", \"" : "\"") + known[i % known.size()] + "\"";
  }
  s += "]}\n    }\n  }\n}\n";
  return s;
}

}  // namespace
