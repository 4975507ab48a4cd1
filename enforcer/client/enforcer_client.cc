#include "eci/enforcer_client.h"

#include <atomic>
#include <thread>

#include "eci/ipc.h"

namespace eci::enforcer {
namespace {

using nlohmann::json;

// Creates wait on at most one fsync'd write in the daemon; the timeout only bounds a stuck peer.
constexpr std::chrono::milliseconds kTimeout{15000};

Result<json> request(const std::filesystem::path& socket, const json& req, const char* what) {
  auto reply = ipc::call(socket, req, kTimeout);
  if (!reply.ok()) {
    return std::move(reply).error().wrap("cannot reach eci-enforcerd at '" + socket.string() +
                                         "' (" + what + ")");
  }
  if (!reply->is_object() || !reply->contains("ok") || !(*reply)["ok"].is_boolean()) {
    return Error(std::string("eci-enforcerd sent a malformed reply to ") + what);
  }
  return reply;
}

std::string errorOf(const json& reply) {
  auto it = reply.find("error");
  return it != reply.end() && it->is_string() ? it->get<std::string>() : "no reason given";
}

}  // namespace

Result<CreateGrant> Client::create(const std::string& containerId, const std::string& bundle,
                                   const std::string& runcRoot, const std::string& joins) {
  json req = {{"op", "create"}, {"id", containerId}, {"bundle", bundle}, {"runcRoot", runcRoot}};
  if (!joins.empty()) req["joins"] = joins;
  ECI_ASSIGN_OR_RETURN(reply, request(socket_, req, "create"));
  if (!reply["ok"].get<bool>()) {
    return Error("eci-enforcerd refused to create container '" + containerId +
                 "': " + errorOf(reply));
  }
  try {
    CreateGrant g;
    auto pol = Policy::fromJson(reply.at("policy"));
    if (!pol.ok()) return std::move(pol).error().wrap("eci-enforcerd's create reply");
    g.policy = std::move(*pol);
    g.policyVerified = reply.at("verified").get<bool>();
    g.range.start = reply.at("range").at("start").get<uint32_t>();
    g.range.size = reply.at("range").at("size").get<uint32_t>();
    g.engineDataRoot = reply.at("engineDataRoot").get<std::string>();
    // Missing (an older daemon): not fresh, so a rollback never releases what it did not make.
    if (auto f = reply.find("fresh"); f != reply.end() && f->is_boolean()) g.fresh = f->get<bool>();
    if (auto m = reply.find("modules"); m != reply.end() && m->is_object()) g.modules = *m;
    if (auto c = reply.find("caller"); c != reply.end() && !c->is_null()) {
      // A caller that cannot be read is an error, not "unknown": unknown would quietly give the
      // container more rights on host files than the person who asked for it.
      const json& u = c->at("uid");
      const json& gr = c->at("gid");
      if (!u.is_number_integer() || !gr.is_number_integer() || u.get<int64_t>() < 0 ||
          gr.get<int64_t>() < 0) {
        return Error("eci-enforcerd's create reply has an invalid caller");
      }
      const uint64_t uid = u.get<uint64_t>();
      const uint64_t gid = gr.get<uint64_t>();
      if (uid >= UINT32_MAX || gid >= UINT32_MAX) {
        return Error("eci-enforcerd's create reply has an invalid caller");
      }
      g.caller = CreateGrant::Caller{static_cast<uint32_t>(uid), static_cast<uint32_t>(gid)};
    }
    // ECI on without a range would be an unprotected container: refuse rather than guess.
    if (g.policy.enabled && (g.range.size == 0 || g.range.start == 0)) {
      return Error("eci-enforcerd granted no uid/gid range while ECI is on");
    }
    return g;
  } catch (const json::exception& e) {
    return Error(std::string("eci-enforcerd's create reply is malformed: ") + e.what());
  }
}

Status Client::release(const std::string& containerId) {
  ECI_ASSIGN_OR_RETURN(reply,
                       request(socket_, {{"op", "release"}, {"id", containerId}}, "release"));
  if (!reply["ok"].get<bool>()) {
    return Error("eci-enforcerd refused to release container '" + containerId +
                 "': " + errorOf(reply));
  }
  return {};
}

Status Client::setCaller(const std::string& containerId, uint32_t uid, uint32_t gid) {
  ECI_ASSIGN_OR_RETURN(
      reply,
      request(socket_, {{"op", "setCaller"}, {"id", containerId}, {"uid", uid}, {"gid", gid}},
              "setCaller"));
  if (!reply["ok"].get<bool>()) {
    return Error("eci-enforcerd refused to record the caller of container '" + containerId +
                 "': " + errorOf(reply));
  }
  return {};
}

Result<nlohmann::json> Client::status() {
  ECI_ASSIGN_OR_RETURN(reply, request(socket_, {{"op", "status"}}, "status"));
  if (!reply["ok"].get<bool>()) return Error("eci-enforcerd status: " + errorOf(reply));
  return reply;
}

namespace {
PushResult pushResultOf(const json& reply) {
  PushResult r;
  r.applied = reply["ok"].get<bool>();
  if (auto it = reply.find("serial"); it != reply.end() && it->is_number_unsigned()) {
    r.serial = it->get<uint64_t>();
  }
  if (!r.applied) r.reason = errorOf(reply);
  return r;
}
}  // namespace

Result<PushResult> pushBundle(const std::filesystem::path& pushSocket, const std::string& bundle) {
  ECI_ASSIGN_OR_RETURN(reply,
                       request(pushSocket, {{"op", "push"}, {"bundle", bundle}}, "policy push"));
  return pushResultOf(reply);
}

Result<PushResult> pushBundleVsock(uint32_t cid, uint32_t port, const std::string& bundle) {
  const std::string where = "eci-enforcerd at vsock " + std::to_string(cid) + ":" +
                            std::to_string(port) + " (policy push)";
  auto fd = ipc::connectVsock(cid, port);
  if (!fd.ok()) return std::move(fd).error().wrap("cannot reach " + where);
  ECI_TRY_CTX(ipc::sendMessage(fd->get(), {{"op", "push"}, {"bundle", bundle}}, kTimeout), where);
  auto reply = ipc::recvMessage(fd->get(), kTimeout);
  if (!reply.ok()) return std::move(reply).error().wrap(where);
  if (!reply->is_object() || !reply->contains("ok") || !(*reply)["ok"].is_boolean()) {
    return Error("eci-enforcerd sent a malformed reply to policy push");
  }
  return pushResultOf(*reply);
}

namespace {
std::atomic<int> g_auditInFlight{0};
std::atomic<uint64_t> g_auditDropped{0};
}  // namespace

Status sendAudit(const std::filesystem::path& controlSocket, const json& record,
                 std::chrono::milliseconds timeout) {
  auto reply = ipc::call(controlSocket, json{{"op", "audit"}, {"record", record}}, timeout);
  if (!reply.ok()) {
    return std::move(reply).error().wrap("cannot reach eci-enforcerd at '" +
                                         controlSocket.string() + "' (audit)");
  }
  if (!reply->is_object() || !reply->value("ok", false)) {
    return Error("eci-enforcerd refused the audit record: " +
                 (reply->is_object() ? reply->value("error", std::string("no reason given"))
                                     : std::string("malformed reply")));
  }
  return {};
}

bool sendAuditDetached(const std::filesystem::path& controlSocket, json record,
                       std::chrono::milliseconds timeout, std::function<void()> done) {
  // Bounded: a flood of refusals costs at most kMaxAuditInFlight threads, each bounded by the
  // timeout; the rest is dropped here (eci-enforcerd would rate-limit it anyway).
  if (g_auditInFlight.fetch_add(1) >= kMaxAuditInFlight) {
    g_auditInFlight.fetch_sub(1);
    g_auditDropped.fetch_add(1);
    return false;
  }
  try {
    std::thread([socket = controlSocket, rec = std::move(record), timeout, done = std::move(done)] {
      try {
        (void)sendAudit(socket, rec, timeout);
      } catch (...) {  // nothing may escape a detached thread
      }
      g_auditInFlight.fetch_sub(1);
      try {
        if (done) done();
      } catch (...) {
      }
    }).detach();
  } catch (const std::exception&) {
    g_auditInFlight.fetch_sub(1);
    g_auditDropped.fetch_add(1);
    return false;
  }
  return true;
}

uint64_t auditDropped() {
  return g_auditDropped.load();
}

}  // namespace eci::enforcer
