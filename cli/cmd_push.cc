// `eci-admin policy push BUNDLE [--push-socket P]`: hands a signed bundle to eci-enforcerd, which
// verifies it (trusted key, growing serial) before putting it in force.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "eci/enforcer_client.h"
#include "eci/fs_util.h"

namespace eci::cli {
namespace {

struct PushOptions {
  std::string bundle;
  std::string pushSocket = enforcer::kDefaultPushSocket;
};

// Matches the enforcer's own cap; a larger file is refused here without a round trip.
constexpr size_t kMaxBundleBytes = 4u << 20;

int runPush(const PushOptions& o) {
  auto text = fs::readFile(o.bundle, kMaxBundleBytes);
  if (!text.ok()) {
    (void)std::fprintf(stderr, "eci-admin policy push: cannot read %s: %s\n", o.bundle.c_str(),
                       text.error().str().c_str());
    return 2;
  }
  auto r = enforcer::pushBundle(o.pushSocket, *text);
  if (!r.ok()) {
    (void)std::fprintf(stderr, "eci-admin policy push: %s\n", r.error().str().c_str());
    return 2;
  }
  if (!r->applied) {
    (void)std::fprintf(stderr, "eci-admin policy push: refused: %s\n", r->reason.c_str());
    return 1;
  }
  std::printf("policy serial %llu applied\n", static_cast<unsigned long long>(r->serial));
  return 0;
}

}  // namespace

void registerPolicyPush(CLI::App& policy, int& exitCode) {
  auto opts = std::make_shared<PushOptions>();
  CLI::App* push = policy.add_subcommand("push", "Push a signed policy bundle to eci-enforcerd");
  push->add_option("BUNDLE", opts->bundle, "signed bundle (eci-admin policy sign -o ...)")
      ->required();
  push->add_option("--push-socket", opts->pushSocket, "eci-enforcerd's push socket")
      ->capture_default_str();
  push->callback([opts, &exitCode] { exitCode = runPush(*opts); });
}

}  // namespace eci::cli
