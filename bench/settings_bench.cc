// Settings performance targets (issue 2):
//   - validating an admin-settings.json with 10,000 images and 200 commands: <= 50 ms
//   - matching an image reference against a 10,000-entry allowlist: >= 1,000,000 matches/s
#include <benchmark/benchmark.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "eci/settings/commands.h"
#include "eci/settings/image_ref.h"
#include "eci/settings/validator.h"
#include "settings_gen.h"

namespace {

void BM_ValidateSettings10kImages200Commands(benchmark::State& state) {
  const std::string file = settingsFile();
  for (auto _ : state) {
    auto r = eci::settings::validateBytes(file, "admin-settings.json");
    if (!r.parsed || eci::settings::hasErrors(r.findings)) {
      state.SkipWithError("the generated settings file did not validate");
      break;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["bytes"] = static_cast<double>(file.size());
}
BENCHMARK(BM_ValidateSettings10kImages200Commands)->Unit(benchmark::kMillisecond);

// References as the enforcer sees them (strings), half allowed, half not.
std::vector<std::string> probes() {
  std::vector<std::string> v;
  for (size_t i = 0; i < 1024; ++i) {
    const std::string n = std::to_string((i * 7919) % kImages);
    switch (i % 8) {
      case 0:
        v.push_back(cat({"tool", n, ":v", n}));
        break;
      case 1:
        v.push_back(cat({"org", n, "/img:2.3"}));
        break;
      case 2:
        v.push_back(cat({"ci", n, "/runner:latest"}));
        break;
      case 3:
        v.push_back(cat({"docker.io/library/tool", n, ":v", n}));
        break;
      case 4:
        v.push_back(cat({"tool", n, ":other"}));
        break;
      case 5:
        v.push_back(cat({"evil/org", n, ":1"}));
        break;
      case 6:
        v.push_back(cat({"registry.example.com/x/y", n}));
        break;
      default:
        v.push_back(cat({"org", n, "/img2:1"}));
        break;
    }
  }
  return v;
}

void BM_MatchAgainst10kAllowlist(benchmark::State& state) {
  const auto matcher = eci::settings::ImageMatcher::build(allowlist());
  const auto refs = probes();
  size_t i = 0;
  size_t hits = 0;
  for (auto _ : state) {
    hits += eci::settings::matches(refs[i++ & 1023], matcher) ? 1 : 0;
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["allowlist"] = static_cast<double>(matcher.size());
}
BENCHMARK(BM_MatchAgainst10kAllowlist);

// Same with the reference already parsed (what a caller matching one image repeatedly pays).
void BM_MatchParsedAgainst10kAllowlist(benchmark::State& state) {
  const auto matcher = eci::settings::ImageMatcher::build(allowlist());
  std::vector<eci::settings::ImageReference> refs;
  for (const auto& p : probes()) refs.push_back(*eci::settings::parseImageReference(p));
  size_t i = 0;
  size_t hits = 0;
  for (auto _ : state) hits += matcher.matches(refs[i++ & 1023]) ? 1 : 0;
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_MatchParsedAgainst10kAllowlist);

}  // namespace

BENCHMARK_MAIN();
