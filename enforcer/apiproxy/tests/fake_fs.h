// A fake host filesystem for the guard's unit tests: symlinks and (dev, ino) by path.
#pragma once

#include <map>
#include <string>

#include "eci/apiproxy/decide.h"
#include "eci/apiproxy/request.h"

namespace eci::apiproxy::testing {

class FakeFs : public HostFs {
 public:
  FakeFs() {
    // A Debian-like host: /var/run -> /run, the guard's public socket, dockerd's private one,
    // containerd's, the per-container socket directory.
    dir("/");
    dir("/run");
    dir("/var");
    dir("/var/lib");
    dir("/var/lib/docker");
    dir("/etc");
    dir("/etc/docker");
    dir("/home");
    dir("/home/dev");
    dir("/home/dev/src");
    dir("/tmp");
    dir("/run/eci");
    dir("/run/containerd");
    dir("/run/eci-apiproxy");
    dir("/run/eci-apiproxy/sockets");
    link("/var/run", "/run");
    sock("/run/docker.sock");
    sock("/run/eci/dockerd.sock");
    sock("/run/containerd/containerd.sock");
  }
  void dir(const std::string& p) { files_[p] = {next_++, true, false}; }
  void sock(const std::string& p) { files_[p] = {next_++, false, true}; }
  void file(const std::string& p) { files_[p] = {next_++, false, false}; }
  void link(const std::string& p, const std::string& target) { links_[p] = target; }
  void hardlink(const std::string& p, const std::string& existing) { files_[p] = files_[existing]; }
  // Another mount of the same directory (a bind mount elsewhere).
  void alias(const std::string& p, const std::string& existing) { files_[p] = files_[existing]; }

  void mountAt(const std::string& mountpoint, const std::string& existing) {
    files_[mountpoint] = files_[existing];
    mounts_.push_back(mountpoint);
  }
  std::vector<std::string> mountsUnder(const std::string& dir) const override {
    std::vector<std::string> out;
    for (const auto& m : mounts_) {
      if (m.size() > dir.size() && m.compare(0, dir.size(), dir) == 0 &&
          (dir == "/" || m[dir.size()] == '/')) {
        out.push_back(m);
      }
    }
    return out;
  }
  Result<std::string> resolve(const std::string& absPath) const override {
    std::string cur = goPathClean(absPath);
    for (int hops = 0; hops < 40; ++hops) {
      bool changed = false;
      // The longest prefix that is a symlink gets replaced by its target.
      for (size_t end = cur.size(); end > 0; end = cur.rfind('/', end - 1)) {
        const std::string prefix = cur.substr(0, end);
        auto it = links_.find(prefix);
        if (it != links_.end()) {
          cur = goPathClean(it->second + cur.substr(end));
          changed = true;
          break;
        }
        if (end == 0) break;
      }
      if (!changed) return cur;
    }
    return Error(ELOOP, "too many levels of symbolic links");  // as the kernel would
  }
  // The host's routes/addresses (networks()); `networksError`: they cannot be read.
  std::vector<HostNetwork> hostNetworks;
  bool networksError = false;
  mutable int networksCalls = 0;
  Result<std::vector<HostNetwork>> networks() const override {
    ++networksCalls;
    if (networksError) return Error("cannot read /proc/net/route");
    return hostNetworks;
  }
  std::optional<FileId> stat(const std::string& absPath) const override {
    auto r = resolve(absPath);
    if (!r.ok()) return std::nullopt;
    auto it = files_.find(*r);
    if (it == files_.end()) return std::nullopt;
    return FileId{1, it->second.ino, it->second.isDir, it->second.isSocket};
  }

 private:
  struct F {
    uint64_t ino;
    bool isDir;
    bool isSocket;
  };
  std::map<std::string, F> files_;
  std::map<std::string, std::string> links_;
  std::vector<std::string> mounts_;
  uint64_t next_ = 100;
};

}  // namespace eci::apiproxy::testing
