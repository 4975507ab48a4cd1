// sys_process.h: the shared-memory helper process and the heap prefault.
#include "eci/sys_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace eci::sys {
namespace {

struct Shared {
  int written = 0;
  int readFd = -1;
  int writeFd = -1;
};

int writeAndExit7(void* p) {
  static_cast<Shared*>(p)->written = 42;  // lands in the parent's memory: CLONE_VM
  return 7;
}

TEST(SharedVmChildTest, AVforkChildWritesOurMemoryAndItsStatusIsWaitedFor) {
  Shared s;
  auto child = SharedVmChild::start(writeAndExit7, &s, CLONE_VFORK);
  ASSERT_TRUE(child.ok()) << child.error().str();
  // CLONE_VFORK: start() came back only once the child had finished writing and exited.
  EXPECT_EQ(s.written, 42);
  auto status = child->wait();
  ASSERT_TRUE(status.ok()) << status.error().str();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 7);
  EXPECT_FALSE(child->wait().ok()) << "a second wait has no child";
}

int chdirToRoot(void* p) {
  // Its own fs (no CLONE_FS): our cwd stays where it is.
  static_cast<Shared*>(p)->written = ::chdir("/") == 0 ? 1 : -1;
  return 0;
}

TEST(SharedVmChildTest, TheChildsCwdIsItsOwn) {
  char before[4096];
  ASSERT_NE(::getcwd(before, sizeof before), nullptr);
  ASSERT_EQ(::chdir("/proc"), 0);
  Shared s;
  {
    auto child = SharedVmChild::start(chdirToRoot, &s, CLONE_VFORK);
    ASSERT_TRUE(child.ok()) << child.error().str();
  }
  char after[4096];
  ASSERT_NE(::getcwd(after, sizeof after), nullptr);
  EXPECT_EQ(s.written, 1);
  EXPECT_STREQ(after, "/proc");
  ASSERT_EQ(::chdir(before), 0);
}

int blockOnPipe(void* p) {
  const auto* s = static_cast<Shared*>(p);
  ::syscall(SYS_close, s->writeFd);
  char c;
  ::syscall(SYS_read, s->readFd, &c, 1);
  return 0;
}

// A pipe for blockOnPipe: the child blocks on readFd until every copy of writeFd is closed.
Shared withPipe() {
  Shared s;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) == 0) {
    s.readFd = p[0];
    s.writeFd = p[1];
  }
  return s;
}

ino_t userNsInode(const std::string& proc) {
  struct stat st {};
  if (::stat((proc + "/ns/user").c_str(), &st) != 0) return 0;
  return st.st_ino;
}

TEST(SharedVmChildTest, ANewUserNamespaceChildRunsBesideUsAndIsReapedOnDestruction) {
  Shared s = withPipe();
  ASSERT_GE(s.readFd, 0);
  pid_t pid = -1;
  {
    auto child = SharedVmChild::start(blockOnPipe, &s, CLONE_NEWUSER);
    ASSERT_TRUE(child.ok()) << child.error().str();
    pid = child->pid();
    const std::string proc = "/proc/" + std::to_string(pid);
    // It runs while we go on (no CLONE_VFORK), in a user namespace that is not ours.
    EXPECT_NE(userNsInode(proc), 0u);
    EXPECT_NE(userNsInode(proc), userNsInode("/proc/self"));
    // Every signal is blocked in it: one of our handlers must never run on our memory there.
    unsigned long long blocked = 0;
    {
      FILE* f = std::fopen((proc + "/status").c_str(), "r");
      ASSERT_NE(f, nullptr);
      char line[256];
      while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::strncmp(line, "SigBlk:", 7) == 0) blocked = std::strtoull(line + 7, nullptr, 16);
      std::fclose(f);
    }
    for (int sig : {SIGTERM, SIGINT, SIGCHLD, SIGUSR1, SIGSEGV, SIGRTMAX})
      EXPECT_TRUE(blocked & (1ULL << (sig - 1))) << "signal " << sig << " not blocked";
  }  // destroyed while it still blocks: killed and reaped
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH) << "pid " << pid << " is still there (a zombie or running)";
  ::close(s.readFd);
  ::close(s.writeFd);
}

TEST(SharedVmChildTest, TheChildEndsWhenWeCloseOurEndOfItsPipe) {
  Shared s = withPipe();
  ASSERT_GE(s.readFd, 0);
  auto child = SharedVmChild::start(blockOnPipe, &s, 0);
  ASSERT_TRUE(child.ok()) << child.error().str();
  ::close(s.writeFd);  // the child closed its own copy: ours was the last writer
  auto status = child->wait();
  ASSERT_TRUE(status.ok()) << status.error().str();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  ::close(s.readFd);
}

TEST(UsernsHolderTest, ItsNamespaceIsNewUntilItIsDestroyed) {
  pid_t pid = -1;
  {
    auto holder = UsernsHolder::start();
    ASSERT_TRUE(holder.ok()) << holder.error().str();
    pid = holder->pid();
    const std::string proc = "/proc/" + std::to_string(pid);
    EXPECT_NE(userNsInode(proc), 0u);
    EXPECT_NE(userNsInode(proc), userNsInode("/proc/self"));
    auto moved = std::move(*holder);  // Result<> hands it on: the child stays
    EXPECT_EQ(moved.pid(), pid);
    EXPECT_EQ(::kill(pid, 0), 0);
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH) << "pid " << pid << " is still there (a zombie or running)";
}

long minorFaults() {
  rusage r{};
  ::getrusage(RUSAGE_SELF, &r);
  return r.ru_minflt;
}

TEST(PrefaultHeapTest, AllocationsAfterItLandOnResidentPages) {
  const bool ok = prefaultHeap(size_t{4} << 20);
#if defined(__SANITIZE_ADDRESS__)
  // The sanitizer's allocator does not take glibc's mallopt settings: nothing to prefault.
  EXPECT_FALSE(ok);
#else
  ASSERT_TRUE(ok);
  const long before = minorFaults();
  std::vector<std::unique_ptr<std::string> > v;
  for (int i = 0; i < 20000; ++i) v.push_back(std::make_unique<std::string>(40, 'x'));  // ~1.5 MiB
  const long faults = minorFaults() - before;
  // Without it the same allocations fault ~600 times (one per fresh heap page).
  EXPECT_LT(faults, 40);
#endif
  EXPECT_FALSE(prefaultHeap(0));
  EXPECT_FALSE(prefaultHeap(size_t{64} << 20));
}

}  // namespace
}  // namespace eci::sys
