// The decision bridge (gate.h): facts in, decide() out, effects applied.
#include "gate.h"

#include <grp.h>
#include <pwd.h>
#include <sys/random.h>

#include <cstdlib>
#include <cstring>

#include "audit_refusal.h"
#include "eci/apiproxy/real_host_fs.h"
#include "eci/apiproxy/request.h"
#include "eci/apiproxy/routes.h"
#include "eci/enforcer_client.h"
#include "eci/ipc.h"
#include "eci/log.h"
#include "eci/sys.h"
#include "engine_tcp.h"
#include "reconcile.h"

namespace eci::apiproxy {

namespace {

using nlohmann::json;

std::string freshToken() {
  unsigned char b[16];
  size_t got = 0;
  while (got < sizeof b) {
    const ssize_t n = ::getrandom(b + got, sizeof b - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

// A reference or id as one path segment of an engine URL (mux's {name:.*} takes '/' too).
std::string escapePath(const std::string& s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (isalnum(c) || c == '/' || c == ':' || c == '@' || c == '.' || c == '-' || c == '_') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Request toRequest(const Exchange& ex) {
  Request r;
  const auto& h = *ex.header;
  r.method = std::string(h.method_string());
  r.target = std::string(h.target());
  for (const auto& f : h)
    r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  if (h.find(http::field::transfer_encoding) != h.end()) {
    r.contentLength = -1;
  } else if (auto it = h.find(http::field::content_length); it != h.end()) {
    r.contentLength = std::strtoll(std::string(it->value()).c_str(), nullptr, 10);
  }
  r.body = ex.body;
  return r;
}

// The container id (or name) a request names, for routes the bridge itself acts on.
std::optional<std::string> routeVar(const Request& req, std::string_view method,
                                    std::string_view pattern) {
  auto n = normalizeRequest(req);
  if (!n.ok()) return std::nullopt;
  RouteMatch m = matchRoute(n->method, n->path);
  if (!m.spec || m.vars.empty()) return std::nullopt;
  if (m.spec->method != method || m.spec->pattern != pattern) return std::nullopt;
  return m.vars[0];
}

// The supplementary groups of `uid` from the user database (none for a uid without an entry):
// never more than a client of that uid can hold, possibly fewer (fail closed).
std::vector<gid_t> groupsOf(uid_t uid, gid_t gid) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return {};
  int n = 64;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  if (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) {
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(pw.pw_name, gid, groups.data(), &n) < 0) return {};
  }
  groups.resize(static_cast<size_t>(n));
  return groups;
}

// dockerd creates a missing bind source at start, as host root: a developer could make
// root-owned directories wherever the allowlist lets them bind, also where they may not write
// (another user's home, a root-owned share), and their container root could then not write into
// it. The guard makes each one first as the person it acts for, as `mkdir -p` run by them would;
// what they could not make themselves is refused. Root's requests are left to dockerd (the same
// result). A symlink swapped into the path later gains nothing: eci-runc checks the source again.
std::optional<Refusal> createBindSourcesAs(const std::vector<std::string>& paths, uid_t uid,
                                           gid_t gid) {
  if (paths.empty() || uid == 0) return std::nullopt;
  if (uid == static_cast<uid_t>(-1)) {
    return Refusal{403,
                   "enhanced container isolation: bind source \"" + paths[0] +
                       "\" does not exist and the guard cannot tell who is asking to create it"};
  }
  const std::vector<gid_t> groups = groupsOf(uid, gid);
  for (const auto& p : paths) {
    if (auto st = sys::mkdirAllAs(p, uid, gid, groups); !st.ok()) {
      LOG_WARN("bind source %s not created as uid %u: %s", p.c_str(), uid,
               st.error().str().c_str());
      return Refusal{403, "enhanced container isolation: bind source \"" + p +
                              "\" does not exist and cannot be created as uid " +
                              std::to_string(uid) + " (" + std::strerror(st.error().errnoOr(EIO)) +
                              "); the engine would create it as root. Create it yourself first"};
    }
  }
  return std::nullopt;
}

// The HostFs of a decision made on the I/O thread: every host file look-up may block (a stale
// NFS mount, a slow disk), so the first one marks the decision as needing the pool. What it
// answers meanwhile does not matter: that decision is thrown away and made again on the pool.
class DeferringHostFs : public HostFs {
 public:
  Result<std::string> resolve(const std::string& absPath) const override {
    used = true;
    return Error("host file look-up deferred to the worker pool: " + absPath);
  }
  std::optional<FileId> stat(const std::string&) const override {
    used = true;
    return std::nullopt;
  }
  std::vector<std::string> mountsUnder(const std::string&) const override {
    used = true;
    return {};
  }
  mutable bool used = false;
};

}  // namespace

// What the rules protect besides the policy: the engine's sockets, the per-container socket dir
// and the engine's data root.
Config Gate::rulesConfig(const PolicyState& ps) const {
  Config rc;
  rc.publicSocket = cfg_.listenSocket.string();
  rc.privateSocket = cfg_.upstreamSocket.string();
  rc.otherSockets = cfg_.protectedSockets;
  rc.socketDir = cfg_.socketDir.string();
  if (!ps.engineDataRoot.empty()) rc.extraRestricted.push_back(ps.engineDataRoot);
  return rc;
}

Gate::PolicyPtr Gate::cachedPolicy(bool fresh) {
  std::lock_guard lk(mu_);
  if (!fresh && policy_ && policy_->valid &&
      std::chrono::steady_clock::now() - policy_->fetched < cfg_.policyRefresh) {
    return policy_;
  }
  return nullptr;
}

Gate::PolicyPtr Gate::policyFor(bool fresh) {
  if (auto p = cachedPolicy(fresh)) return p;
  return fetchPolicy();
}

Gate::PolicyPtr Gate::fetchPolicy() {
  auto st = std::make_shared<PolicyState>();
  st->fetched = std::chrono::steady_clock::now();
  auto reply = ipc::call(cfg_.controlSocket, json{{"op", "status"}}, std::chrono::seconds(5));
  if (reply.ok() && reply->value("ok", false) && reply->contains("policy")) {
    auto p = Policy::fromJson((*reply)["policy"]);
    if (p.ok()) {
      st->policy = std::move(*p);
      st->valid = true;
    }
    st->engineDataRoot = reply->value("engineDataRoot", "");
  }
  if (!st->valid) {
    // Fail closed: ECI on, nothing allowlisted (what eci-runc applies without a policy too).
    LOG_WARN(
        "cannot read the policy from eci-enforcerd at %s (%s): deciding on the fail-closed "
        "defaults",
        cfg_.controlSocket.c_str(),
        reply.ok() ? reply->dump().substr(0, 200).c_str() : reply.error().str().c_str());
    st->policy = Policy::failClosedDefaults();
  }
  PolicyPtr out = std::move(st);
  std::lock_guard lk(mu_);
  policy_ = out;
  return out;
}

std::string Gate::registryDigest(const std::string& ref) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    auto it = digests_.find(ref);
    // A failed look-up ("" digest) is retried sooner than a good one goes stale.
    const auto ttl = (it != digests_.end() && it->second.digest.empty())
                         ? std::min<std::chrono::steady_clock::duration>(cfg_.digestRefresh,
                                                                         std::chrono::seconds(30))
                         : std::chrono::steady_clock::duration(cfg_.digestRefresh);
    if (it != digests_.end() && now - it->second.at < ttl) return it->second.digest;
  }
  std::string digest;
  // dockerd resolves it with its own registry auth and mirrors (engine-api.md §4).
  auto r = engineCall(cfg_.upstreamSocket, http::verb::get,
                      "/distribution/" + escapePath(ref) + "/json", {}, std::chrono::seconds(15));
  if (r.ok() && r->status == 200) {
    auto j = json::parse(r->body, nullptr, false);
    if (j.is_object() && j.contains("Descriptor") && j["Descriptor"].is_object()) {
      digest = j["Descriptor"].value("digest", "");
    }
  }
  std::lock_guard lk(mu_);
  digests_[ref] = Digest{digest, now};
  return digest;
}

void Gate::fetchFacts(const Need& need, Facts& facts) {
  // Each look-up: 404 -> std::nullopt (does not exist); any other failure (engine error, bad
  // JSON) leaves the key unset, and decide() fails closed on it.
  auto lookUp = [this](const std::vector<std::string>& keys, auto& into, const char* prefix,
                       const char* suffix, auto parse) {
    for (const auto& key : keys) {
      auto r = engineCall(cfg_.upstreamSocket, http::verb::get,
                          std::string(prefix) + escapePath(key) + suffix);
      if (!r.ok()) continue;
      if (r->status == 404) {
        into[key] = std::nullopt;
      } else if (r->status == 200) {
        if (auto f = parse(r->body); f.ok()) into[key] = std::move(*f);
      }
    }
  };
  lookUp(need.images, facts.images, "/images/", "/json", parseImageInspect);
  lookUp(need.containers, facts.containers, "/containers/", "/json", parseContainerInspect);
  lookUp(need.volumes, facts.volumes, "/volumes/", "", parseVolumeInspect);
  lookUp(need.networks, facts.networks, "/networks/", "", parseNetworkInspect);
  for (const auto& ref : need.registryDigests) facts.registryDigests[ref] = registryDigest(ref);
  if (need.imageList) {
    auto r = engineCall(cfg_.upstreamSocket, http::verb::get, "/images/json");
    if (r.ok() && r->status == 200) {
      if (auto l = parseImageList(r->body); l.ok()) facts.localImages = std::move(*l);
    }
  }
}

void Gate::containerGone(const std::string& id) {
  std::string token;
  {
    std::lock_guard lk(mu_);
    reserveFailureAudited_.erase(id);  // the table holds only containers the engine has
    auto it = socketsByContainer_.find(id);
    if (it == socketsByContainer_.end()) return;
    token = it->second;
    socketsByContainer_.erase(it);
  }
  if (close_) close_(token);
  LOG_INFO("container %s removed: its engine socket %s is closed", id.substr(0, 12).c_str(),
           token.c_str());
}

std::optional<std::string> Gate::recheckSocketGrant(const GrantRecord& record) {
  // The policy as a create or start would see it: read afresh (a push applies at once; an
  // unreachable eci-enforcerd gives the fail-closed defaults, which allow no socket mount).
  PolicyPtr ps = policyFor(/*fresh=*/true);
  Request req;
  req.method = "POST";
  req.target = "/containers/" + record.containerId + "/start";
  req.contentLength = 0;
  // Root on the public socket: what is checked is the container (its image by ID against the
  // socket-mount allowlist, its binds), not the rights of whoever asks.
  Caller caller;
  caller.uid = 0;
  caller.gid = 0;
  const Config rc = rulesConfig(*ps);
  Facts facts;
  RealHostFs fs;
  Decision d;
  for (int round = 0;; ++round) {
    d = apiproxy::decide(req, caller, ps->policy, rc, facts, fs, round);
    if (d.verdict != Verdict::kNeedFacts || round >= kMaxRounds) break;
    fetchFacts(d.need, facts);
  }
  if (d.verdict == Verdict::kAllow) return std::nullopt;
  if (d.verdict == Verdict::kRefuse) {
    return "the current policy refuses its start (rule " + d.rule + ": " + d.reason + ")";
  }
  return std::string("its start could not be decided under the current policy");
}

void Gate::adoptSocket(const std::string& id, const std::string& token) {
  std::lock_guard lk(mu_);
  socketsByContainer_[id] = token;
  reserveFailureAudited_.erase(id);  // served again: a later failure is news
}

void Gate::auditRelayRefusal(const Listener& l, const Peer& peer, std::string_view method,
                             std::string_view target, const RefusalFacts& f, unsigned status) {
  Request req;
  req.method = std::string(method);
  req.target = std::string(target);
  Caller caller;
  caller.uid = peer.uid;
  caller.gid = peer.gid;
  caller.pid = peer.pid;
  if (l.isContainerSocket()) {
    std::lock_guard lk(mu_);  // containerId is set when the container's create succeeds
    caller.perContainerSocket = true;
    caller.containerId = l.containerId;
  }
  auditRefusal(req, caller, auditCallerKey(caller, l.token), f, status);
}

Gate::Gate(const ProxyConfig& cfg, const GrantStore& grants) : cfg_(cfg), grants_(grants) {
  AuditBudget::Options o;
  // Never more than the senders the client library has: a record the budget admits is never
  // dropped there for want of one (which would be unfair again).
  o.globalInFlight = enforcer::kMaxAuditInFlight;
  auditBudget_ = std::make_shared<AuditBudget>(o);
}

void Gate::sendAuditRecord(const std::string& callerKey, json record) {
  const auto now = std::chrono::steady_clock::now();
  std::optional<std::string> ticket = auditBudget_->admit(callerKey, now);
  if (!ticket) return;  // counted: the caller's next summary says how many
  std::shared_ptr<AuditBudget> budget = auditBudget_;
  if (!enforcer::sendAuditDetached(cfg_.controlSocket, std::move(record),
                                   std::chrono::milliseconds(1000),
                                   [budget, t = *ticket] { budget->sent(t); })) {
    auditBudget_->unsent(*ticket, now);
  }
}

void Gate::flushAuditSummaries() {
  const auto now = std::chrono::steady_clock::now();
  for (const AuditBudget::Summary& s : auditBudget_->dueSummaries(now)) {
    json record = suppressedRecord(s.caller, s.suppressed, s.over);
    LOG_WARN("audit: %s", record.value("reason", "").c_str());
    std::shared_ptr<AuditBudget> budget = auditBudget_;
    if (!enforcer::sendAuditDetached(cfg_.controlSocket, std::move(record),
                                     std::chrono::milliseconds(1000),
                                     [budget] { budget->summarySent(); })) {
      auditBudget_->summaryUnsent(s, now);  // counted again: the next flush retries
    }
  }
}

void Gate::auditReserveFailure(const std::string& id, const std::string& name,
                               const std::string& image, const std::string& reason) {
  {
    std::lock_guard lk(mu_);
    // Keyed by container alone: reasons carry details that differ between passes (an fd
    // number), and the admin needs the fact once, not once per engine reconnect.
    if (!reserveFailureAudited_.insert(id).second) return;
  }
  // Charged to the container: a container that keeps breaking its socket's path cannot crowd
  // others' records out either.
  sendAuditRecord("container:" + id, reserveFailureRecord(id, name, image, reason));
}

void Gate::auditEngineTrouble(const Listener& l, const Peer& peer, std::string_view method,
                              std::string_view target, const RefusalFacts& f, unsigned status) {
  {
    std::lock_guard lk(mu_);
    const auto now = std::chrono::steady_clock::now();
    auto [it, first] = engineTroubleAuditedAt_.try_emplace(f.rule, now);
    if (!first) {
      if (now - it->second < kEngineTroubleAuditEvery) return;
      it->second = now;
    }
  }
  auditRelayRefusal(l, peer, method, target, f, status);
}

Outcome Gate::decide(Exchange& ex) {
  // With mayBlock, decideImpl always has an answer.
  return *decideImpl(ex, /*mayBlock=*/true);
}

std::optional<Outcome> Gate::decideInline(Exchange& ex) {
  return decideImpl(ex, /*mayBlock=*/false);
}

void Gate::checkEngineTcp() {
  std::optional<std::string> problem = engineTcpWithoutTls(cfg_.upstreamSocket);
  if (problem) LOG_ERROR("%s: refusing every request while ECI is on", problem->c_str());
  std::lock_guard lk(mu_);
  tcpProblem_ = std::move(problem);
  tcpCheckedAt_ = std::chrono::steady_clock::now();
}

void Gate::refreshDecisionCaches() {
  const auto now = std::chrono::steady_clock::now();
  const std::chrono::steady_clock::time_point last(
      std::chrono::steady_clock::duration(lastRequestAt_.load(std::memory_order_relaxed)));
  if (now - last > kRefreshWhileActive) return;
  bool policyDue, tcpDue;
  {
    std::lock_guard lk(mu_);
    policyDue = !policy_ || now - policy_->fetched >= cfg_.policyRefresh / 2;
    // Due before the next call (half a refresh period away), not only when already stale.
    tcpDue = now + cfg_.policyRefresh / 2 - tcpCheckedAt_ > kTcpCheckEvery;
  }
  if (policyDue) fetchPolicy();
  if (tcpDue) checkEngineTcp();
}

std::optional<Outcome> Gate::decideImpl(Exchange& ex, bool mayBlock) {
  const auto now = std::chrono::steady_clock::now();
  lastRequestAt_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  Outcome v;
  const auto& h = *ex.header;
  // Bodies mean a decision that matters (create, start, build, ...): read the policy afresh so
  // a push applies to the very next request.
  const bool fresh = h.method() != http::verb::get && h.method() != http::verb::head;
  PolicyPtr ps = mayBlock ? policyFor(fresh) : cachedPolicy(fresh);
  if (!ps) return std::nullopt;  // needs eci-enforcerd: the pool's job
  Request req = toRequest(ex);
  Caller caller;
  caller.uid = ex.caller.uid;
  caller.gid = ex.caller.gid;
  caller.pid = ex.caller.pid;
  uid_t recordUid = ex.caller.uid;
  gid_t recordGid = ex.caller.gid;
  if (ex.listener->isContainerSocket()) {
    std::lock_guard lk(mu_);
    caller.perContainerSocket = true;
    caller.containerId = ex.listener->containerId;
    caller.imageId = ex.listener->imageId;
    caller.containerBindSources = ex.listener->bindSources;
    // A sibling made through a container's socket acts on host files as the person who created
    // that container, never as the container's mapped root.
    recordUid = ex.listener->ownerUid;
    recordGid = ex.listener->ownerGid;
  }
  const std::string auditKey = auditCallerKey(caller, ex.listener->token);
  if (ps->policy.enabled) {
    // No TCP without TLS while ECI is on: such an engine is reachable past the guard, so the
    // guard refuses everything until it is fixed (checked at most every 10 s).
    bool tcpDue;
    std::optional<std::string> tcp;
    {
      std::lock_guard lk(mu_);
      tcpDue = now - tcpCheckedAt_ > kTcpCheckEvery;
      tcp = tcpProblem_;
    }
    if (tcpDue) {
      if (!mayBlock) return std::nullopt;  // the check connects to dockerd and reads /proc
      checkEngineTcp();
      std::lock_guard lk(mu_);
      tcp = tcpProblem_;
    }
    if (tcp) {
      if (!mayBlock) return std::nullopt;  // refusals are decided (and logged) on the pool
      v.refusal = Refusal{503,
                          "enhanced container isolation: the engine listens on TCP without "
                          "TLS (" +
                              *tcp + "); ECI does not allow it"};
      auditRefusal(req, caller, auditKey, {"tcp-without-tls", v.refusal->message, {}, {}},
                   503);  // fire and forget (bounded)
      return v;
    }
  }
  Config rc = rulesConfig(*ps);
  // Only a create with its body read can be given a socket (decideCreate asks for the body
  // first): no getrandom for every other request.
  if (req.body) rc.freshToken = freshToken();
  Facts facts;
  Decision d;
  if (!mayBlock) {
    // One round, no facts, no host files: only a plain allow with nothing to apply is kept.
    DeferringHostFs fs;
    d = apiproxy::decide(req, caller, ps->policy, rc, facts, fs, 0);
    if (fs.used || d.verdict != Verdict::kAllow || d.socket || d.recordsCaller ||
        !d.missingBindSources.empty()) {
      return std::nullopt;
    }
    return v;
  }
  RealHostFs fs;
  for (int round = 0;; ++round) {
    d = apiproxy::decide(req, caller, ps->policy, rc, facts, fs, round);
    if (d.verdict != Verdict::kNeedFacts || round >= kMaxRounds) break;
    fetchFacts(d.need, facts);
  }
  const std::string who = ex.listener->isContainerSocket()
                              ? "container " + caller.containerId.substr(0, 12) + "'s socket"
                              : "uid " + std::to_string(ex.caller.uid);
  switch (d.verdict) {
    case Verdict::kNeedBody:
      v.needBody = true;
      v.maxBody = d.maxBody;
      return v;
    case Verdict::kNeedFacts:
    case Verdict::kRefuse: {
      Refusal r;
      r.status = d.verdict == Verdict::kRefuse && d.status >= 400 && d.status < 600
                     ? static_cast<unsigned>(d.status)
                     : 403;
      r.message = d.message.empty() ? "enhanced container isolation: request refused" : d.message;
      // Every refusal once: who, what, image, rule and why.
      LOG_WARN("refused %s %s from %s: command=%s image=%s rule=%s reason=%s", req.method.c_str(),
               req.target.c_str(), who.c_str(), d.command.c_str(), d.image.c_str(), d.rule.c_str(),
               d.reason.c_str());
      auditRefusal(req, caller, auditKey, refusalFactsOf(d),
                   r.status);  // fire and forget
      v.refusal = std::move(r);
      return v;
    }
    case Verdict::kRewrite:
      ex.body = d.body;
      break;
    case Verdict::kAllow:
      break;
  }

  if (auto r = createBindSourcesAs(d.missingBindSources, recordUid, recordGid)) {
    LOG_WARN("refused %s %s from %s: rule=bind-source-create reason=%s", req.method.c_str(),
             req.target.c_str(), who.c_str(), r->message.c_str());
    auditRefusal(req, caller, auditKey, {"bind-source-create", r->message, d.image, d.command},
                 r->status);
    v.refusal = std::move(*r);
    return v;
  }

  std::shared_ptr<Listener> granted;
  if (d.socket) {
    // Audited: an allowed socket mount that fails closed on the guard's side is something the
    // admin must see (a full or tampered socket directory); it costs a granted create each, so
    // it cannot be flooded more cheaply than the decision's own refusals.
    if (!open_) {
      v.refusal = Refusal{500, "enhanced container isolation: per-container sockets unavailable"};
      auditRefusal(req, caller, auditKey, {"socket-create", v.refusal->message, d.image, d.command},
                   500);
      return v;
    }
    auto l = open_(*d.socket);
    if (!l.ok()) {
      LOG_ERROR("refused %s %s from %s: rule=socket-create reason=per-container socket %s: %s",
                req.method.c_str(), req.target.c_str(), who.c_str(), d.socket->path.c_str(),
                l.error().str().c_str());
      v.refusal = Refusal{500,
                          "enhanced container isolation: cannot create the container's "
                          "engine socket"};
      auditRefusal(
          req, caller, auditKey,
          {"socket-create", "per-container socket: " + l.error().str(), d.image, d.command}, 500);
      return v;
    }
    granted = *l;
    std::lock_guard lk(mu_);
    granted->ownerUid = recordUid;
    granted->ownerGid = recordGid;
  }

  const bool isCreate = d.recordsCaller && req.method == "POST";
  // Only a DELETE can name a container to forget: no second parse of every other request.
  std::optional<std::string> deleted;
  if (req.method == "DELETE") deleted = routeVar(req, "DELETE", "/containers/{name}");
  if (deleted) {
    // The socket table is keyed by full id; the request may name the container otherwise.
    auto ct = engineCall(cfg_.upstreamSocket, http::verb::get,
                         "/containers/" + escapePath(*deleted) + "/json");
    deleted.reset();
    if (ct.ok() && ct->status == 200) {
      if (auto f = parseContainerInspect(ct->body); f.ok()) deleted = f->id;
    }
  }
  if (isCreate || granted) {
    const std::string control = cfg_.controlSocket.string();
    CloseSocket closeFn = close_;
    // What the audit record of a failed caller record needs (not the create body).
    Request auditReq;
    auditReq.method = req.method;
    auditReq.target = req.target;
    RefusalFacts auditFacts{"record-caller", {}, d.image, d.command};
    v.afterResponse = [this, granted, isCreate, recordUid, recordGid, control, closeFn,
                       token = d.socket ? d.socket->token : std::string(), image = d.image,
                       auditReq, caller, auditKey,
                       auditFacts](unsigned status, const std::string& body) mutable -> Status {
      if (status != 201) {
        // The create failed: its socket must not outlive it.
        if (granted && closeFn) closeFn(token);
        return okStatus();
      }
      auto j = json::parse(body, nullptr, false);
      const std::string id = j.is_object() ? j.value("Id", "") : "";
      if (id.empty()) {
        // Audited here, once (the relay does not audit a failed hook): a create the engine may
        // have made but the guard cannot name or record, so the admin must see it.
        if (granted && closeFn) closeFn(token);
        auditFacts.rule = "create-reply";
        auditFacts.reason = "the engine's create reply has no container id";
        auditRefusal(auditReq, caller, auditKey, auditFacts, 500);
        return Error("the engine's create reply has no container id");
      }
      if (granted) {
        // The socket now names this container: its requests get the command list, and it may
        // bind only what this container itself binds.
        auto ct = engineCall(cfg_.upstreamSocket, http::verb::get, "/containers/" + id + "/json");
        std::unique_lock lk(mu_);
        granted->containerId = id;
        if (ct.ok() && ct->status == 200) {
          if (auto f = parseContainerInspect(ct->body); f.ok()) {
            granted->imageId = f->image;
            for (const auto& m : f->mounts) {
              if (m.type == "bind" && m.source != granted->path.string()) {
                granted->bindSources.push_back(m.source);
              }
            }
          }
        }
        socketsByContainer_[id] = token;
        LOG_INFO("container %s (image %s) gets its own engine socket %s", id.substr(0, 12).c_str(),
                 image.c_str(), granted->path.c_str());
        // What a restarted guard needs to serve this socket again with the same identity
        // (reconcile.h). Without it the socket is not re-served after a restart (fail closed).
        const GrantRecord record{id, granted->imageId, granted->ownerUid, granted->ownerGid};
        lk.unlock();
        if (auto st = grants_.store(token, record); !st.ok()) {
          LOG_WARN("container %s: no grant record (its socket will not survive a restart): %s",
                   id.substr(0, 12).c_str(), st.error().str().c_str());
        }
      }
      if (isCreate) {
        // Contract 4: eci-enforcerd knows who asked before the client learns the id, so the
        // container's first start already maps its host binds to this caller.
        json msg{{"op", "setCaller"}, {"id", id}, {"uid", recordUid}, {"gid", recordGid}};
        Result<json> r = Error("the caller's identity is unknown (no peer credentials)");
        if (recordUid != static_cast<uid_t>(-1))
          r = ipc::call(control, msg, std::chrono::seconds(5));
        std::string why;
        if (!r.ok()) {
          why = r.error().str();
        } else if (!r->value("ok", false)) {
          why = "eci-enforcerd refused it: " + r->value("error", std::string("no reason given"));
        }
        if (!why.empty()) {
          // Fail closed. Without a caller record eci-runc maps host binds as the container's
          // root (0 on disk), which is more than this caller may have; and eci-enforcerd may be
          // back by the time the container starts. So the container must not outlive this
          // answer: remove it (it never ran) and refuse, and its socket, if any, goes with it.
          auto rm = engineCall(cfg_.upstreamSocket, http::verb::delete_,
                               "/containers/" + escapePath(id) + "?force=1&v=1");
          const bool removed = rm.ok() && (rm->status == 204 || rm->status == 404);
          if (granted && closeFn) closeFn(token);
          {
            std::lock_guard lk(mu_);
            socketsByContainer_.erase(id);
          }
          auditFacts.reason = "could not record who created container " + id + ": " + why;
          auditRefusal(auditReq, caller, auditKey, auditFacts, 500);
          return Error("enhanced container isolation could not record who created container " +
                       id.substr(0, 12) + " (" + why + "); " +
                       (removed ? "the container was removed, try again"
                                : "removing it failed too: remove it with docker rm"));
        }
      }
      return okStatus();
    };
  } else if (deleted) {
    v.afterResponse = [this, id = *deleted](unsigned status, const std::string&) -> Status {
      if (status == 204 || status == 200) {
        containerGone(id);
      }
      return okStatus();
    };
  }
  return v;
}

}  // namespace eci::apiproxy
