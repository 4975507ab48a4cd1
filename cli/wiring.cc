// `eci-admin status`'s wiring part: is this machine's engine really running containers through
// eci? Read-only look at the installed layout and the running daemons (root sees all of /proc):
//   - the dpkg diversion of Debian's runc (/usr/sbin/runc -> /usr/sbin/runc.distrib),
//   - /usr/sbin/runc is eci-runc, the real runc is there and is not eci-runc,
//   - each running dockerd/containerd finds `runc` = eci-runc first in its PATH,
//   - no daemon.json runtime whose path bypasses eci-runc,
//   - who owns the engine socket (/run/docker.sock): the guard, or dockerd directly.
// Each finding is {check, ok, detail}; nothing here changes the machine.
#include "wiring.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace eci::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kRunc = "/usr/sbin/runc";
constexpr const char* kRuncDistrib = "/usr/sbin/runc.distrib";
constexpr const char* kDaemonJson = "/etc/docker/daemon.json";
constexpr const char* kEngineSocket = "/run/docker.sock";
// systemd's default PATH for services (a daemon environ without PATH uses it).
constexpr const char* kServicePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// eci-runc is recognised by what the path finally resolves to (a status report, not a security
// decision: eci-runc itself refuses a "real runc" that is itself).
bool isEciRunc(const fs::path& p, std::string* resolved) {
  std::error_code ec;
  const fs::path r = fs::canonical(p, ec);
  if (resolved) *resolved = ec ? std::string("missing") : r.string();
  return !ec && r.filename() == "eci-runc";
}

json finding(const std::string& check, bool ok, const std::string& detail) {
  return json{{"check", check}, {"ok", ok}, {"detail", detail}};
}

// /var/lib/dpkg/diversions: triples of lines (diverted path, divert-to, package; ":" = --local).
json diversionCheck() {
  std::istringstream in(slurp("/var/lib/dpkg/diversions"));
  std::string from, to, pkg;
  while (std::getline(in, from) && std::getline(in, to) && std::getline(in, pkg)) {
    if (from != kRunc) continue;
    const bool ok = to == kRuncDistrib;
    return finding("runc diversion", ok,
                   std::string(kRunc) + " diverted to " + to + " by " +
                       (pkg == ":" ? std::string("a local diversion") : "package " + pkg));
  }
  return finding("runc diversion", false,
                 std::string(kRunc) + " is not diverted (Debian's runc is the engine's runc)");
}

json runcLinkCheck() {
  std::string r;
  const bool ok = isEciRunc(kRunc, &r);
  return finding("/usr/sbin/runc is eci-runc", ok, std::string(kRunc) + " -> " + r);
}

json realRuncCheck() {
  std::string r;
  struct stat st {};
  if (::stat(kRuncDistrib, &st) != 0) {
    return finding("real runc", false, std::string(kRuncDistrib) + " is missing");
  }
  const bool self = isEciRunc(kRuncDistrib, &r);
  return finding("real runc", !self,
                 std::string(kRuncDistrib) + (self ? " is eci-runc itself (loop)" : " -> " + r));
}

std::string envOf(const std::string& environ, const std::string& key) {
  std::istringstream in(environ);
  std::string kv;
  while (std::getline(in, kv, '\0')) {
    if (kv.rfind(key + "=", 0) == 0) return kv.substr(key.size() + 1);
  }
  return {};
}

// The `runc` a daemon would run: the first PATH entry holding one (as execvp/Go's LookPath do).
json engineChecks() {
  json out = json::array();
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string comm = slurp(e.path() / "comm");
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm != "dockerd" && comm != "containerd") continue;
    const std::string environ = slurp(e.path() / "environ");
    std::string path = envOf(environ, "PATH");
    if (path.empty()) path = kServicePath;
    std::string found, resolved = "no runc in PATH";
    std::istringstream dirs(path);
    std::string d;
    while (std::getline(dirs, d, ':')) {
      if (d.empty()) continue;
      struct stat st {};
      if (::stat((fs::path(d) / "runc").c_str(), &st) == 0) {
        found = (fs::path(d) / "runc").string();
        break;
      }
    }
    const bool ok = !found.empty() && isEciRunc(found, &resolved);
    std::string detail =
        comm + " (pid " + pid + ") runs " + (found.empty() ? "?" : found) + " -> " + resolved;
    const std::string real = envOf(environ, "ECI_RUNC_REAL_RUNC");
    if (!real.empty()) detail += "; ECI_RUNC_REAL_RUNC=" + real;
    out.push_back(finding("engine uses eci: " + comm, ok, detail));
  }
  if (out.empty()) out.push_back(finding("engine uses eci", true, "no dockerd/containerd running"));
  return out;
}

// A daemon.json runtime whose binary is not eci-runc is a way around eci for anyone who can
// reach the engine (`--runtime NAME`).
json daemonJsonCheck() {
  std::error_code ec;
  if (!fs::exists(kDaemonJson, ec)) return finding("daemon.json runtimes", true, "no daemon.json");
  json dj = json::parse(slurp(kDaemonJson), nullptr, false);
  if (!dj.is_object())
    return finding("daemon.json runtimes", false, "daemon.json is not valid JSON");
  std::string bad;
  if (dj.contains("runtimes") && dj["runtimes"].is_object()) {
    for (auto it = dj["runtimes"].begin(); it != dj["runtimes"].end(); ++it) {
      const std::string p = it->is_object() ? it->value("path", "") : "";
      std::string r;
      // A bare name is looked up in dockerd's PATH, where `runc` is eci-runc when wired.
      const bool eci = p.empty() || (p == "runc") || isEciRunc(p, &r);
      if (!eci) bad += (bad.empty() ? "" : ", ") + it.key() + " (" + p + ")";
    }
  }
  if (!bad.empty()) return finding("daemon.json runtimes", false, "runtimes bypassing eci: " + bad);
  return finding("daemon.json runtimes", true,
                 "no runtime bypasses eci" + (dj.contains("live-restore")
                                                  ? "; live-restore " + dj["live-restore"].dump()
                                                  : std::string()));
}

// Who listens on the engine socket: /proc/net/unix gives the listening socket's inode, the
// owners' /proc/PID/fd links name it.
json guardCheck() {
  std::istringstream in(slurp("/proc/net/unix"));
  std::string line, inode;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, refs, proto, flags, type, st, ino, path;
    f >> num >> refs >> proto >> flags >> type >> st >> ino >> path;
    // flags 00010000 = __SO_ACCEPTCON: a listening socket.
    if ((path == kEngineSocket || path == "/var/run/docker.sock") && flags == "00010000") {
      inode = ino;
      break;
    }
  }
  if (inode.empty())
    return finding("engine API guard", false, "nobody listens on /run/docker.sock");
  const std::string target = "socket:[" + inode + "]";
  std::string owners;
  bool guarded = false;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec2;
    for (const auto& fd : fs::directory_iterator(e.path() / "fd", ec2)) {
      std::error_code ec3;
      if (fs::read_symlink(fd.path(), ec3).string() != target) continue;
      std::string comm = slurp(e.path() / "comm");
      while (!comm.empty() && comm.back() == '\n') comm.pop_back();
      guarded = guarded || comm == "eci-apiproxyd";
      owners += (owners.empty() ? "" : ", ") + comm + " (pid " + pid + ")";
      break;
    }
  }
  return finding("engine API guard", guarded,
                 "/run/docker.sock owned by " + (owners.empty() ? std::string("?") : owners));
}

}  // namespace

json wiringStatus() {
  json out = json::array({diversionCheck(), runcLinkCheck(), realRuncCheck()});
  for (auto& e : engineChecks()) out.push_back(std::move(e));
  out.push_back(daemonJsonCheck());
  out.push_back(guardCheck());
  return out;
}

void printWiringText(const json& wiring) {
  std::printf("Wiring\n");
  for (const auto& w : wiring) {
    std::printf("  %-8s %s: %s\n", w.value("ok", false) ? "ok" : "PROBLEM",
                w.value("check", "").c_str(), w.value("detail", "").c_str());
  }
}

}  // namespace eci::cli
