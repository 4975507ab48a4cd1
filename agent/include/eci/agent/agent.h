// eci-agent: reads the admin's locked files, validates them with the settings library, confirms
// that a member of an allowed organisation is signed in, and pushes the signed policy to
// eci-enforcerd. Whatever goes wrong, it never pushes a half-valid policy: the last good one stays
// in force, and without a signed-in member nothing from the admin file is pushed at all.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eci/agent/config.h"
#include "eci/agent/oidc.h"
#include "eci/agent/org_sources.h"
#include "eci/agent/platform.h"
#include "eci/error.h"
#include "eci/policy.h"
#include "eci/signing.h"
#include "eci/unique_fd.h"

namespace eci::agent {

// Creates the agent's Ed25519 key in `stateDir` (0700) if missing: DIR/eci-policy.key (0600) and
// DIR/eci-policy.pub, which the installer copies to the enforcer's trusted-keys directory.
Result<KeyPair> ensureAgentKey(const std::filesystem::path& stateDir);

class Agent {
 public:
  static Result<std::unique_ptr<Agent>> create(AgentConfig config, Locations locations,
                                               std::unique_ptr<Platform> platform);
  ~Agent();

  // Serves the control socket, watches the files and re-evaluates until `stop` is set.
  Status run(const std::atomic<bool>& stop);

  // One evaluation: files → validation → sign-in → push if the desired policy changed or the
  // enforcer lost it. `force` pushes even when nothing changed.
  void evaluate(bool force = false);
  nlohmann::json status();

 private:
  Agent(AgentConfig config, Locations locations, std::unique_ptr<Platform> platform, KeyPair key);

  struct FileState {
    std::string role;
    std::filesystem::path path;
    bool found = false;
    bool locked = false;
    std::vector<std::string> lockProblems;
    bool valid = false;
    std::vector<std::string> findings;
    std::optional<std::string> bytes;
    nlohmann::json toJson() const;
  };
  enum class SignIn { kRequired, kSignedIn, kRefused, kUnreachable };
  enum class Desired { kNothing, kAdmin, kDefaults };

  FileState readFile(const std::string& role, const std::filesystem::path& path);
  // Returns the sign-in state given the orgs; may refresh the tokens (network).
  SignIn checkSignIn(const std::vector<std::string>& allowedOrgs);
  void push(const Policy& policy, Desired kind, bool force);
  Status persistState();
  void loadState();
  void handleControl(UniqueFd conn);
  void loginFlow(UniqueFd conn);
  void refreshWatches();
  void wake();

  AgentConfig config_;
  Locations locations_;
  std::unique_ptr<Platform> platform_;
  KeyPair key_;
  OidcClient oidc_;

  std::recursive_mutex mu_;
  // Inputs last seen.
  std::vector<FileState> files_;
  AllowedOrgs orgs_;
  std::string orgsError;
  std::string policyError_;
  // Sign-in.
  std::optional<TokenSet> tokens_;
  SignIn signIn_ = SignIn::kRequired;
  std::string signInDetail_;
  std::string user_, org_;
  // Policy and push state (persisted in stateDir/agent-state.json).
  std::optional<Policy> lastGood_;
  Desired pushedKind_ = Desired::kNothing;
  std::optional<Policy> pushedPolicy_;
  uint64_t serial_ = 0;
  std::string lastPushAt_;
  bool lastPushApplied_ = false;
  std::string lastPushResult_;
  bool enforcerReachable_ = false;
  bool loginInProgress_ = false;

  UniqueFd inotify_;
  UniqueFd wakeFd_;
  std::vector<int> watches_;
  std::atomic<bool> shuttingDown_{false};
};

}  // namespace eci::agent
