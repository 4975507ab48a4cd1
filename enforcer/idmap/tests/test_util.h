// Fixtures shared by the idmap tests: a Docker-like layer layout with an engine overlay mounted in
// it, and a way to run checks as root of a container's user namespace.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

namespace eci::idmap::testing {

// A temporary directory (mode 0711 so a user namespace's root may search it). Destruction detaches
// every mount below it first and removes nothing if one stays.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// What Docker's overlay2 driver leaves for a running container, under <root>/data (0710):
//   data/L0/diff        lowest layer: etc/root-file (0:0), etc/user-file (1000:1000),
//                       gone/old (0:0), opq/old (0:0), bin/* (busybox + links when withBusybox)
//   data/L1/diff        middle layer: opq marked opaque (trusted.overlay.opaque=y) with opq/new,
//                       gone/old whited out (char 0:0)
//   data/U/{diff,work}  the container's layer; data/U/merged holds the engine's overlay
// Layer dirs are 0710 root:root like Docker's.
struct EngineLayout {
  std::string dataRoot, lower0, lower1, upperDir, workDir, merged;
};
EngineLayout makeEngineLayout(const std::string& root, bool withBusybox = false);

// Runs `check` in a child that joined the user namespace `usernsFd` as its root (setresuid(0)).
// Returns what the check returned (empty = success) or why the child could not run it.
std::string runAsNamespaceRoot(int usernsFd, const std::function<std::string()>& check);

// "uid:gid" of a path (lstat), or "error: ..." .
std::string owner(const std::string& path);
bool isMounted(const std::string& path);
void writeFile(const std::string& path, const std::string& data, uid_t uid = 0, gid_t gid = 0);
std::string readFileOr(const std::string& path, const std::string& fallback = "<unreadable>");
// Runs a shell command; returns its exit status, stdout+stderr into `out` when given.
int run(const std::string& cmd, std::string* out = nullptr);

}  // namespace eci::idmap::testing
