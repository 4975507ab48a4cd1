#include "eci/sys_process.h"

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>

namespace eci::sys {

bool prefaultHeap(size_t bytes) {
  // glibc caps the mmap threshold at 32 MiB; a request at or above the threshold is mmap'ed.
  if (bytes == 0 || bytes >= (size_t{16} << 20)) return false;
  const int size = static_cast<int>(bytes);
  if (mallopt(M_MMAP_THRESHOLD, 2 * size) == 0 || mallopt(M_TRIM_THRESHOLD, 4 * size) == 0)
    return false;
  void* block = std::malloc(bytes);
  if (block == nullptr) return false;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto at = reinterpret_cast<uintptr_t>(block);
  const uintptr_t start = (at + page - 1) & ~(page - 1);
  const uintptr_t end = (at + bytes) & ~(page - 1);
  const bool ok = end > start &&
                  ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE) == 0;
  std::free(block);  // back to the top of the heap, resident: the next allocations reuse it
  return ok;
}

namespace {
// Enough for `fn` and glibc's clone trampoline; the lowest page is a guard.
constexpr size_t kChildStack = 64 * 1024;
}  // namespace

Result<SharedVmChild> SharedVmChild::start(int (*fn)(void*), void* arg, int flags) {
  SharedVmChild c;
  void* stack = ::mmap(nullptr, kChildStack, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return Error::fromErrno("mmap() of a helper's stack");
  c.stack_ = stack;
  c.stackSize_ = kChildStack;
  if (::mprotect(stack, static_cast<size_t>(::sysconf(_SC_PAGESIZE)), PROT_NONE) != 0)
    return Error::fromErrno("mprotect() of a helper's stack guard");
  // Blocked in the child from its first instruction: it inherits the mask clone() sees.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid =
      ::clone(fn, static_cast<char*>(stack) + kChildStack, CLONE_VM | flags | SIGCHLD, arg);
  const int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return Error(err, "clone(CLONE_VM) of a helper process");
  c.pid_ = pid;
  return c;
}

SharedVmChild::SharedVmChild(SharedVmChild&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      stack_(std::exchange(o.stack_, nullptr)),
      stackSize_(std::exchange(o.stackSize_, 0)) {}

SharedVmChild& SharedVmChild::operator=(SharedVmChild&& o) noexcept {
  if (this != &o) {
    reset();
    pid_ = std::exchange(o.pid_, -1);
    stack_ = std::exchange(o.stack_, nullptr);
    stackSize_ = std::exchange(o.stackSize_, 0);
  }
  return *this;
}

SharedVmChild::~SharedVmChild() {
  reset();
}

Result<int> SharedVmChild::wait() {
  if (pid_ <= 0) return Error(ErrorKind::kInternal, "SharedVmChild::wait: no child to wait for");
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r < 0) return Error::fromErrno("waitpid(" + std::to_string(pid_) + ")");
  pid_ = -1;  // reaped: its stack is no longer in use
  return status;
}

void SharedVmChild::reset() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  // Only once the child is gone: until then the stack is its.
  if (stack_ != nullptr) ::munmap(stack_, stackSize_);
  stack_ = nullptr;
  stackSize_ = 0;
}

struct UsernsHolder::Pipe {
  int read = -1, write = -1;
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
};

// The holder's side: it closes its copy of the write end (ours must be the last one), then waits
// for end of file. It shares our memory and errno (see SharedVmChild), so it makes only calls
// that cannot fail here: a close of an fd it owns, a read that no signal (all blocked) can
// interrupt. Plain syscall(2), not glibc's read(): that one is a cancellation point and would mark
// our thread's cancellation state while it blocks.
int UsernsHolder::hold(void* p) {
  const auto* pipe = static_cast<const Pipe*>(p);
  ::syscall(SYS_close, pipe->write);
  char c;
  ::syscall(SYS_read, pipe->read, &c, 1);
  return 0;
}

Result<UsernsHolder> UsernsHolder::start() {
  auto pipe = std::make_unique<Pipe>();
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error::fromErrno("pipe2() for a user namespace holder");
  pipe->read = fds[0];
  pipe->write = fds[1];
  auto child = SharedVmChild::start(hold, pipe.get(), CLONE_NEWUSER);
  if (!child.ok()) {
    return Error(ErrorKind::kDenied,
                 "clone(CLONE_NEWUSER) of a user namespace holder: " + child.error().str(),
                 "user namespaces disabled? (user.max_user_namespaces)");
  }
  return UsernsHolder(std::move(pipe), std::move(*child));
}

UsernsHolder::UsernsHolder(std::unique_ptr<Pipe> pipe, SharedVmChild child)
    : pipe_(std::move(pipe)), child_(std::move(child)) {}
UsernsHolder::UsernsHolder(UsernsHolder&&) noexcept = default;

UsernsHolder::~UsernsHolder() {
  // Our end closed lets it return; child_'s destructor then reaps it (or kills it first).
  if (pipe_ && pipe_->write >= 0) {
    ::close(pipe_->write);
    pipe_->write = -1;
  }
}

}  // namespace eci::sys
