// libFuzzer target: the settings parser, schema validation, semantic checks and policy building,
// on arbitrary bytes. Every input must produce findings or a policy, never a crash, a hang or an
// exception (nlohmann throws on invalid UTF-8 when dumping: the parser must never let one through).
#include <cstddef>
#include <cstdint>
#include <string>

#include "eci/settings/build_policy.h"
#include "eci/settings/image_ref.h"
#include "eci/settings/validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  for (auto kind : {eci::settings::FileKind::kUnknown, eci::settings::FileKind::kAdminSettings,
                    eci::settings::FileKind::kRegistry}) {
    auto report = eci::settings::validateBytes(bytes, "fuzz.json", kind);
    for (const auto& f : report.findings) (void)eci::settings::formatText(f);
    if (report.parsed) (void)report.root.dump();
    if (kind == eci::settings::FileKind::kAdminSettings && report.valid()) {
      auto policy = eci::settings::buildPolicy(report, nullptr);
      if (policy.ok()) {
        // What the enforcer does with the list must accept everything buildPolicy produced.
        std::vector<std::string> errors;
        auto m = eci::settings::ImageMatcher::build(policy->socketMountImages, &errors);
        if (!errors.empty()) __builtin_trap();
        (void)policy->toJson().dump();
      }
    }
  }
  // The image grammar on its own.
  auto pattern = eci::settings::parseImagePattern(bytes);
  if (pattern.ok()) {
    auto again = eci::settings::parseImagePattern(pattern->str());
    if (!again.ok() || again->str() != pattern->str()) __builtin_trap();  // normalisation is stable
  }
  return 0;
}
