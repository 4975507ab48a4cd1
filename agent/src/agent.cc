#include "eci/agent/agent.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <thread>

#include "eci/enforcer_client.h"
#include "eci/file_lock.h"
#include "eci/fs_util.h"
#include "eci/ipc.h"
#include "eci/log.h"
#include "eci/settings/build_policy.h"
#include "eci/settings/validator.h"

namespace eci::agent {
namespace {

using nlohmann::json;

constexpr const char* kStateFile = "agent-state.json";
constexpr const char* kTokenFile = "tokens.json";
// Refresh this long before the ID token expires, so a member never drops to "sign in required".
constexpr int64_t kRefreshMarginSeconds = 120;

std::string nowRfc3339() {
  char buf[32];
  time_t t = ::time(nullptr);
  struct tm tm {};
  ::gmtime_r(&t, &tm);
  ::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The provider could not be reached (http.cc, oidc.cc): keep the last state rather than drop it.
bool transient(const Error& e) {
  return e.kind() == ErrorKind::kUnavailable;
}

const char* desiredName(int d) {
  switch (d) {
    case 1:
      return "admin";
    case 2:
      return "defaults";
    default:
      return "nothing";
  }
}

}  // namespace

Result<KeyPair> ensureAgentKey(const std::filesystem::path& stateDir) {
  ECI_TRY(fs::makeDirs(stateDir, 0700));
  if (::chmod(stateDir.c_str(), 0700) != 0) {
    return Error::fromErrno("chmod('" + stateDir.string() + "', 0700)");
  }
  const auto keyPath = stateDir / "eci-policy.key";
  if (::access(keyPath.c_str(), F_OK) == 0) return KeyPair::loadPrivate(keyPath);
  ECI_ASSIGN_OR_RETURN(key, KeyPair::generate());
  ECI_TRY(key.writeTo(stateDir));
  return key;
}

json Agent::FileState::toJson() const {
  return {{"role", role},        {"path", path.string()},        {"found", found},
          {"locked", locked},    {"lockProblems", lockProblems}, {"valid", valid},
          {"findings", findings}};
}

Agent::Agent(AgentConfig config, Locations locations, std::unique_ptr<Platform> platform,
             KeyPair key)
    : config_(std::move(config)),
      locations_(std::move(locations)),
      platform_(std::move(platform)),
      key_(std::move(key)),
      oidc_(config_) {}

Agent::~Agent() = default;

Result<std::unique_ptr<Agent>> Agent::create(AgentConfig config, Locations locations,
                                             std::unique_ptr<Platform> platform) {
  ECI_ASSIGN_OR_RETURN(key, ensureAgentKey(config.stateDir));
  std::unique_ptr<Agent> a(
      new Agent(std::move(config), std::move(locations), std::move(platform), std::move(key)));
  a->loadState();
  return a;
}

void Agent::loadState() {
  try {
    auto text = fs::readFile(config_.stateDir / kStateFile, 4u << 20);
    if (text.ok()) {
      auto j = json::parse(*text, nullptr, false);
      if (j.is_object()) {
        serial_ = j.value("serial", uint64_t{0});
        if (j.contains("lastGood") && !j["lastGood"].is_null()) {
          auto p = Policy::fromJson(j["lastGood"]);
          if (p.ok()) lastGood_ = *p;
        }
        if (j.contains("pushedPolicy") && !j["pushedPolicy"].is_null()) {
          auto p = Policy::fromJson(j["pushedPolicy"]);
          if (p.ok()) pushedPolicy_ = *p;
        }
        const std::string kind = j.value("pushedKind", std::string());
        pushedKind_ = kind == "admin"      ? Desired::kAdmin
                      : kind == "defaults" ? Desired::kDefaults
                                           : Desired::kNothing;
      }
    }
    auto tok = fs::readFile(config_.stateDir / kTokenFile, 1u << 20);
    if (tok.ok()) {
      auto j = json::parse(*tok, nullptr, false);
      auto t = TokenSet::fromJson(j);
      if (t.ok()) tokens_ = *t;
    }
  } catch (const std::exception& e) {
    LOG_WARN("agent state in %s ignored: %s", config_.stateDir.c_str(), e.what());
  }
}

Status Agent::persistState() {
  json j = {{"serial", serial_},
            {"lastGood", lastGood_ ? lastGood_->toJson() : json(nullptr)},
            {"pushedPolicy", pushedPolicy_ ? pushedPolicy_->toJson() : json(nullptr)},
            {"pushedKind", desiredName(static_cast<int>(pushedKind_))}};
  return fs::writeFileAtomic(config_.stateDir / kStateFile, j.dump(2) + "\n", 0600);
}

Agent::FileState Agent::readFile(const std::string& role, const std::filesystem::path& path) {
  FileState f;
  f.role = role;
  f.path = path;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return f;
  f.found = true;
  auto rep = checkFileLocked(path);
  if (!rep.ok()) {
    f.lockProblems.push_back(rep.error().str());
    return f;
  }
  for (const auto& p : rep->problems) f.lockProblems.push_back(p.str());
  if (!rep->locked()) return f;
  auto bytes = readLockedFile(path, 4u << 20);
  if (!bytes.ok()) {
    f.lockProblems.push_back(bytes.error().str());
    return f;
  }
  f.locked = true;
  f.bytes = std::move(*bytes);
  return f;
}

Agent::SignIn Agent::checkSignIn(const std::vector<std::string>& allowedOrgs) {
  try {
    user_.clear();
    org_.clear();
    if (allowedOrgs.empty()) {
      signInDetail_ =
          "sign in required: no allowedOrgs configured (" + locations_.registryJson.string() + ")";
      return SignIn::kRequired;
    }
    if (!tokens_) {
      signInDetail_ = "sign in required";
      return SignIn::kRequired;
    }
    if (tokens_->expiresAt - unixNow() < kRefreshMarginSeconds) {
      auto fresh = oidc_.refresh(tokens_->refreshToken);
      if (fresh.ok()) {
        tokens_ = *fresh;
        if (auto st =
                fs::writeFileAtomic(config_.stateDir / kTokenFile, tokens_->toJson().dump(), 0600);
            !st.ok()) {
          LOG_WARN("storing refreshed tokens: %s", st.error().str().c_str());
        }
      } else if (transient(fresh.error()) && tokens_->expiresAt > unixNow()) {
        // Still valid for a while; the next poll retries the refresh.
      } else if (transient(fresh.error())) {
        signInDetail_ = "identity provider unreachable, keeping the last state and retrying: " +
                        fresh.error().str();
        return SignIn::kUnreachable;
      } else {
        signInDetail_ = "sign in required: session expired (" + fresh.error().str() + ")";
        return SignIn::kRequired;
      }
    }
    auto claims = oidc_.verify(tokens_->idToken);
    if (!claims.ok()) {
      if (transient(claims.error())) {
        signInDetail_ = "identity provider unreachable, keeping the last state and retrying: " +
                        claims.error().str();
        return SignIn::kUnreachable;
      }
      signInDetail_ = "sign-in refused: " + claims.error().str();
      return SignIn::kRefused;
    }
    auto org = checkOrgMembership(*claims, config_.orgClaim, allowedOrgs);
    if (!org.ok()) {
      signInDetail_ = "sign-in refused: " + org.error().str();
      return SignIn::kRefused;
    }
    user_ = claims->value("email", claims->value("sub", std::string()));
    org_ = *org;
    signInDetail_ = "signed in as " + user_ + " (member of " + org_ + ")";
    return SignIn::kSignedIn;
  } catch (const std::exception& e) {
    signInDetail_ = std::string("sign-in refused: unexpected token contents: ") + e.what();
    return SignIn::kRefused;
  }
}

void Agent::evaluate(bool force) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  files_ = {readFile("admin-settings", locations_.adminSettings),
            readFile("registry", locations_.registryJson)};
  FileState& s = files_[0];
  FileState& r = files_[1];
  policyError_.clear();
  orgsError.clear();

  // Validation and the policy are only computed from locked files; anything else keeps the last
  // good policy.
  std::optional<Policy> candidate;
  if (!s.found) {
    policyError_ = s.path.string() + ": not found";
  } else if (!s.locked) {
    policyError_ = s.lockProblems.empty() ? s.path.string() + ": not locked" : s.lockProblems[0];
  } else if (r.found && !r.locked) {
    policyError_ = r.lockProblems.empty() ? r.path.string() + ": not locked" : r.lockProblems[0];
  } else {
    auto sRep =
        settings::validateBytes(*s.bytes, s.path.string(), settings::FileKind::kAdminSettings);
    for (const auto& f : sRep.findings) s.findings.push_back(settings::formatText(f));
    s.valid = sRep.valid();
    std::optional<settings::Report> rRep;
    if (r.found) {
      rRep = settings::validateBytes(*r.bytes, r.path.string(), settings::FileKind::kRegistry);
      for (const auto& f : rRep->findings) r.findings.push_back(settings::formatText(f));
      r.valid = rRep->valid();
    }
    auto orgs = resolveAllowedOrgs(*platform_, locations_, r.bytes);
    if (!orgs.ok()) orgsError = orgs.error().str();
    if (!s.valid || (rRep && !r.valid)) {
      const auto& bad = !s.valid ? s : r;
      policyError_ = bad.path.string() + " does not validate" +
                     (bad.findings.empty() ? "" : ": " + bad.findings[0]);
    } else if (!orgs.ok()) {
      policyError_ = orgsError;
    } else {
      auto built = settings::buildPolicy(sRep, rRep ? &*rRep : nullptr);
      if (!built.ok()) {
        policyError_ = built.error().str();
      } else {
        orgs_ = *orgs;
        candidate = *built;
        candidate->allowedOrgs = orgs_.orgs;
      }
    }
  }
  if (candidate) {
    lastGood_ = candidate;
  } else if (lastGood_) {
    policyError_ += "; the last good policy stays in force";
  }

  const std::vector<std::string> orgs =
      lastGood_ ? lastGood_->allowedOrgs : std::vector<std::string>{};
  signIn_ = checkSignIn(orgs);

  Desired desired = pushedKind_;
  if (signIn_ == SignIn::kSignedIn && lastGood_) {
    desired = Desired::kAdmin;
  } else if (signIn_ == SignIn::kUnreachable) {
    desired = pushedKind_;  // keep whatever is in force
  } else if (pushedKind_ == Desired::kAdmin) {
    // Signed out, expired or refused: the admin's policy must not outlive the sign-in; the
    // enforcer goes back to its fail-closed defaults (ECI on).
    desired = Desired::kDefaults;
  }
  if (desired == Desired::kNothing) {
    (void)persistState();
    return;
  }
  const Policy policy =
      desired == Desired::kAdmin
          ? (signIn_ == SignIn::kUnreachable && pushedPolicy_ ? *pushedPolicy_ : *lastGood_)
          : Policy::failClosedDefaults();
  push(policy, desired, force);
}

void Agent::push(const Policy& policy, Desired kind, bool force) {
  try {
    bool needPush = force || !pushedPolicy_ || !(*pushedPolicy_ == policy) || pushedKind_ != kind;
    // Over vsock there is no status call: retry until a push was confirmed.
    if (config_.vsockCid && !lastPushApplied_) needPush = true;
    uint64_t enforcerHighest = 0;
    if (!config_.vsockCid) {
      auto st = enforcer::Client(config_.enforcerControlSocket).status();
      if (!st.ok()) {
        enforcerReachable_ = false;
        lastPushApplied_ = false;
        lastPushResult_ = "enforcer unreachable: " + st.error().str();
        return;  // retried on the next poll
      }
      enforcerReachable_ = true;
      const json& j = *st;
      enforcerHighest = j.value("highestSerial", uint64_t{0});
      // The enforcer restarted without our policy, fell back to defaults, or someone else pushed:
      // put ours back.
      if (j.value("serial", uint64_t{0}) != serial_ ||
          j.value("keyId", std::string()) != key_.keyId() || !j.value("verified", false)) {
        needPush = true;
      } else if (!needPush) {
        lastPushApplied_ = true;  // the enforcer confirms ours is in force (e.g. after our restart)
      }
    }
    if (!needPush) return;
    serial_ = std::max(serial_, enforcerHighest) + 1;
    if (auto st = persistState(); !st.ok()) {
      // Never reuse a serial: without a persisted serial, do not push.
      lastPushApplied_ = false;
      lastPushResult_ = "persisting the serial: " + st.error().str();
      return;
    }
    auto bundle = signBundle(key_, policy, serial_);
    if (!bundle.ok()) {
      lastPushApplied_ = false;
      lastPushResult_ = "signing: " + bundle.error().str();
      return;
    }
    auto res = config_.vsockCid
                   ? enforcer::pushBundleVsock(*config_.vsockCid, config_.vsockPort, *bundle)
                   : enforcer::pushBundle(config_.enforcerPushSocket, *bundle);
    lastPushAt_ = nowRfc3339();
    if (!res.ok()) {
      enforcerReachable_ = false;
      lastPushApplied_ = false;
      lastPushResult_ = "push failed: " + res.error().str();
      LOG_WARN("push of serial %llu failed: %s", static_cast<unsigned long long>(serial_),
               res.error().str().c_str());
      return;
    }
    lastPushApplied_ = res->applied;
    if (res->applied) {
      pushedPolicy_ = policy;
      pushedKind_ = kind;
      lastPushResult_ = std::string("applied (") + desiredName(static_cast<int>(kind)) + ")";
      LOG_INFO("pushed policy serial %llu (%s, ECI %s)", static_cast<unsigned long long>(serial_),
               desiredName(static_cast<int>(kind)), policy.enabled ? "on" : "off");
    } else {
      lastPushResult_ = "refused by the enforcer: " + res->reason;
      LOG_WARN("enforcer refused serial %llu: %s", static_cast<unsigned long long>(serial_),
               res->reason.c_str());
    }
    (void)persistState();
  } catch (const std::exception& e) {
    lastPushApplied_ = false;
    lastPushResult_ = std::string("push: unexpected reply: ") + e.what();
  }
}

json Agent::status() {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  json files = json::array();
  for (const auto& f : files_) files.push_back(f.toJson());
  const char* state = signIn_ == SignIn::kSignedIn      ? "signed in"
                      : signIn_ == SignIn::kRefused     ? "refused"
                      : signIn_ == SignIn::kUnreachable ? "provider unreachable"
                                                        : "sign in required";
  json signIn = {{"state", state}, {"detail", signInDetail_}, {"issuer", config_.issuer}};
  if (!user_.empty()) signIn["user"] = user_;
  if (!org_.empty()) signIn["org"] = org_;
  if (tokens_) signIn["expiresAt"] = tokens_->expiresAt;  // never the tokens themselves
  if (loginInProgress_) signIn["loginInProgress"] = true;
  return {{"ok", true},
          {"files", files},
          {"allowedOrgs", {{"orgs", orgs_.orgs}, {"source", orgs_.source}, {"error", orgsError}}},
          {"policyError", policyError_},
          {"lastGood", lastGood_ ? lastGood_->toJson() : json(nullptr)},
          {"signIn", signIn},
          {"inForce", desiredName(static_cast<int>(pushedKind_))},
          {"lastPush",
           {{"at", lastPushAt_},
            {"serial", serial_},
            {"applied", lastPushApplied_},
            {"result", lastPushResult_}}},
          {"enforcerReachable", enforcerReachable_},
          {"keyId", key_.keyId()}};
}

void Agent::wake() {
  if (wakeFd_) {
    uint64_t one = 1;
    (void)!::write(wakeFd_.get(), &one, sizeof one);
  }
}

void Agent::loginFlow(UniqueFd conn) {
  const int fd = conn.get();
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    loginInProgress_ = true;
  }
  ScopeExit done([&] {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    loginInProgress_ = false;
  });
  auto auth = oidc_.startDeviceAuthorization();
  if (!auth.ok()) {
    (void)ipc::sendMessage(fd, {{"ok", false}, {"error", auth.error().str()}});
    return;
  }
  (void)ipc::sendMessage(fd, {{"ok", true},
                              {"stage", "code"},
                              {"verification_uri", auth->verificationUri},
                              {"verification_uri_complete", auth->verificationUriComplete},
                              {"user_code", auth->userCode},
                              {"expires_in", auth->expiresAt - unixNow()}});
  auto tokens = oidc_.waitForDeviceToken(*auth, shuttingDown_);
  if (!tokens.ok()) {
    (void)ipc::sendMessage(fd, {{"ok", false}, {"error", tokens.error().str()}});
    return;
  }
  auto claims = oidc_.verify(tokens->idToken);
  if (!claims.ok()) {
    (void)ipc::sendMessage(fd, {{"ok", false}, {"error", claims.error().str()}});
    return;
  }
  std::vector<std::string> orgs;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (lastGood_) orgs = lastGood_->allowedOrgs;
  }
  if (orgs.empty()) {
    (void)ipc::sendMessage(
        fd, {{"ok", false},
             {"error", "no allowedOrgs configured (" + locations_.registryJson.string() +
                           "): there is no organisation to sign in to"}});
    return;
  }
  auto org = checkOrgMembership(*claims, config_.orgClaim, orgs);
  if (!org.ok()) {
    // Non-members are not kept signed in (Docker Desktop signs them out).
    (void)ipc::sendMessage(fd, {{"ok", false}, {"error", org.error().str()}});
    return;
  }
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (auto st = fs::writeFileAtomic(config_.stateDir / kTokenFile, tokens->toJson().dump(), 0600);
        !st.ok()) {
      (void)ipc::sendMessage(fd, {{"ok", false}, {"error", "storing tokens: " + st.error().str()}});
      return;
    }
    tokens_ = *tokens;
    evaluate(false);
  }
  json st = status();
  (void)ipc::sendMessage(fd, {{"ok", true},
                              {"stage", "done"},
                              {"user", claims->value("email", claims->value("sub", ""))},
                              {"org", *org},
                              {"status", st}});
}

void Agent::handleControl(UniqueFd conn) {
  try {
    auto cred = ipc::peerCred(conn.get());
    if (!cred.ok() || cred->uid != 0) {
      (void)ipc::sendMessage(conn.get(),
                             {{"ok", false}, {"error", "permission denied: root only"}});
      return;
    }
    auto req = ipc::recvMessage(conn.get(), std::chrono::milliseconds(5000), 64 * 1024);
    if (!req.ok() || !req->is_object()) {
      (void)ipc::sendMessage(conn.get(), {{"ok", false}, {"error", "bad request"}});
      return;
    }
    const std::string op = req->value("op", std::string());
    if (op == "status") {
      (void)ipc::sendMessage(conn.get(), status());
    } else if (op == "login") {
      loginFlow(std::move(conn));
    } else if (op == "logout") {
      {
        std::lock_guard<std::recursive_mutex> lock(mu_);
        tokens_.reset();
        std::error_code ec;
        std::filesystem::remove(config_.stateDir / kTokenFile, ec);
        evaluate(false);
      }
      (void)ipc::sendMessage(conn.get(), {{"ok", true}, {"status", status()}});
    } else if (op == "reload") {
      evaluate(true);
      (void)ipc::sendMessage(conn.get(), {{"ok", true}, {"status", status()}});
    } else {
      (void)ipc::sendMessage(conn.get(), {{"ok", false}, {"error", "unknown op '" + op + "'"}});
    }
  } catch (const std::exception& e) {
    // Never let a malformed request take the agent down.
    LOG_WARN("control request: %s", e.what());
  }
}

void Agent::refreshWatches() {
  if (!inotify_) return;
  const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                        IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
  for (const auto& p : {locations_.adminSettings, locations_.registryJson}) {
    // Watch the directory, not the file: MDM tools replace files by rename, which a watch on the
    // old inode would never report. A missing directory is retried on the next poll.
    (void)::inotify_add_watch(inotify_.get(), p.parent_path().c_str(), mask);
  }
}

Status Agent::run(const std::atomic<bool>& stop) {
  ECI_ASSIGN_OR_RETURN(listener, ipc::listenUnix(config_.controlSocket));
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) return Error::fromErrno("inotify_init1()");
  wakeFd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wakeFd_) return Error::fromErrno("eventfd()");
  refreshWatches();
  evaluate(false);
  std::vector<std::thread> threads;
  auto lastEval = std::chrono::steady_clock::now();
  while (!stop.load()) {
    pollfd fds[3] = {
        {listener.get(), POLLIN, 0}, {inotify_.get(), POLLIN, 0}, {wakeFd_.get(), POLLIN, 0}};
    int n = ::poll(fds, 3, 500);
    if (n < 0 && errno != EINTR) return Error::fromErrno("poll()");
    bool again = false;
    if (n > 0 && (fds[0].revents & POLLIN)) {
      UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (conn) {
        // A login waits minutes for the user; each connection gets its own thread.
        threads.emplace_back(
            [this, c = std::move(conn)]() mutable { handleControl(std::move(c)); });
      }
    }
    if (n > 0 && (fds[1].revents & POLLIN)) {
      // Let a burst (write + rename + chmod) settle before reading.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      char buf[8192];
      while (::read(inotify_.get(), buf, sizeof buf) > 0) {
      }
      again = true;
    }
    if (n > 0 && (fds[2].revents & POLLIN)) {
      uint64_t v;
      (void)!::read(wakeFd_.get(), &v, sizeof v);
      again = true;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - lastEval >= std::chrono::seconds(config_.pollSeconds)) again = true;
    if (again) {
      refreshWatches();
      evaluate(false);
      lastEval = std::chrono::steady_clock::now();
    }
  }
  shuttingDown_ = true;
  for (auto& t : threads) t.join();
  return {};
}

}  // namespace eci::agent
