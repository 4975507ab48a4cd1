#include "test_util.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "eci/idmap/idmap.h"

namespace eci::idmap::testing {
namespace {

void check(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what + ": " + std::strerror(errno));
}

void mkdirMode(const std::string& p, mode_t mode) {
  check(::mkdir(p.c_str(), mode) == 0 || errno == EEXIST, "mkdir " + p);
  check(::chmod(p.c_str(), mode) == 0, "chmod " + p);
}

}  // namespace

TempDir::TempDir() {
  char tmpl[] = "/tmp/eci-idmap-test.XXXXXX";
  check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
  path_ = tmpl;
  check(::chmod(path_.c_str(), 0711) == 0, "chmod");
}

TempDir::~TempDir() {
  for (int round = 0; round < 8; ++round) {
    auto m = mountsUnder(path_);
    if (!m.ok() || m->empty()) break;
    for (const auto& p : *m) ::umount2(p.c_str(), MNT_DETACH);
  }
  auto left = mountsUnder(path_);
  if (left.ok() && left->empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

void writeFile(const std::string& path, const std::string& data, uid_t uid, gid_t gid) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    check(static_cast<bool>(f), "open " + path);
    f << data;
  }
  check(::chown(path.c_str(), uid, gid) == 0, "chown " + path);
}

std::string readFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fallback;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

EngineLayout makeEngineLayout(const std::string& root, bool withBusybox) {
  EngineLayout l;
  l.dataRoot = root + "/data";
  mkdirMode(l.dataRoot, 0710);
  for (const char* layer : {"L0", "L1", "U"}) {
    mkdirMode(l.dataRoot + "/" + layer, 0710);
    mkdirMode(l.dataRoot + "/" + layer + "/diff", 0755);
  }
  l.lower0 = l.dataRoot + "/L0/diff";
  l.lower1 = l.dataRoot + "/L1/diff";
  l.upperDir = l.dataRoot + "/U/diff";
  l.workDir = l.dataRoot + "/U/work";
  l.merged = l.dataRoot + "/U/merged";
  mkdirMode(l.workDir, 0700);
  mkdirMode(l.merged, 0755);

  for (const char* d : {"/etc", "/gone", "/opq", "/bin", "/tmp"}) mkdirMode(l.lower0 + d, 0755);
  check(::chmod((l.lower0 + "/tmp").c_str(), 01777) == 0, "chmod tmp");
  writeFile(l.lower0 + "/etc/root-file", "root\n");
  writeFile(l.lower0 + "/etc/user-file", "user\n", 1000, 1000);
  writeFile(l.lower0 + "/gone/old", "old\n");
  writeFile(l.lower0 + "/opq/old", "old\n");
  if (withBusybox) {
    std::filesystem::copy_file("/bin/busybox", l.lower0 + "/bin/busybox");
    for (const char* a : {"sh", "cat", "stat", "id", "touch", "echo", "ls", "mkdir", "rm"}) {
      std::filesystem::create_symlink("busybox", l.lower0 + "/bin/" + a);
    }
    for (const char* d : {"/proc", "/sys", "/dev", "/vol"}) mkdirMode(l.lower0 + d, 0755);
  }

  // The middle layer as the engine unpacks it: an opaque directory and a whiteout.
  mkdirMode(l.lower1 + "/opq", 0755);
  check(::setxattr((l.lower1 + "/opq").c_str(), "trusted.overlay.opaque", "y", 1, 0) == 0,
        "setxattr trusted.overlay.opaque");
  writeFile(l.lower1 + "/opq/new", "new\n");
  mkdirMode(l.lower1 + "/gone", 0755);
  check(::mknod((l.lower1 + "/gone/old").c_str(), S_IFCHR | 0, makedev(0, 0)) == 0,
        "mknod whiteout");

  const std::string opts = "lowerdir=" + l.lower1 + ":" + l.lower0 + ",upperdir=" + l.upperDir +
                           ",workdir=" + l.workDir + ",index=off";
  check(::mount("overlay", l.merged.c_str(), "overlay", 0, opts.c_str()) == 0,
        "mount engine overlay");
  return l;
}

std::string runAsNamespaceRoot(int usernsFd, const std::function<std::string()>& checkFn) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe2 failed";
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    std::string result;
    if (::setns(usernsFd, CLONE_NEWUSER) != 0) {
      result = std::string("setns: ") + std::strerror(errno);
    } else if (::setgroups(0, nullptr) != 0 || ::setresgid(0, 0, 0) != 0 ||
               ::setresuid(0, 0, 0) != 0) {
      result = std::string("becoming namespace root: ") + std::strerror(errno);
    } else {
      try {
        result = checkFn();
      } catch (const std::exception& e) {
        result = std::string("exception: ") + e.what();
      }
    }
    if (!result.empty()) {
      (void)!::write(p[1], result.data(), result.size());
    }
    _exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[1024];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " (child died)";
  return out;
}

std::string owner(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return std::string("error: ") + std::strerror(errno);
  return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
}

bool isMounted(const std::string& path) {
  auto m = mountsUnder(path);
  if (!m.ok()) return false;
  for (const auto& p : *m) {
    if (p == path) return true;
  }
  return false;
}

int run(const std::string& cmd, std::string* out) {
  FILE* f = ::popen((cmd + " 2>&1").c_str(), "r");
  if (f == nullptr) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const int status = ::pclose(f);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace eci::idmap::testing
