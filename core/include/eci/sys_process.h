// Cheap helper processes and memory for short-lived binaries (eci-runc runs four times per
// `docker run`). On a virtualised host a page fault costs ~30 us, so what a process touches and
// copies on write is most of what it costs; these helpers avoid the faults fork() and a growing
// heap cause.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>

#include "eci/error.h"

namespace eci::sys {

// Makes the next `bytes` (< 16 MiB) of this process's heap resident in one call, for a process
// about to allocate about that much (eci-runc's create parses and rewrites a container's spec).
// Each first touch of a heap page is a page fault; MADV_POPULATE_WRITE (Linux 5.14) maps them
// all at once instead. glibc is told to serve allocations up to twice that size from the heap
// (not from an mmap of their own, whose pages would fault afresh) and not to trim the populated
// top away. Best effort: false, and no harm, when the kernel or the allocator does not play along.
// Call it before anything forks: fork() makes every resident page a fault for the parent again.
bool prefaultHeap(size_t bytes);

// A helper process that shares this process's memory (clone(2) with CLONE_VM) and runs
// `fn(arg)` on a stack of its own, for the short helpers eci needs to act in another namespace.
//
// Why not fork(): fork() write-protects every private page of ours, so each page we write
// afterwards faults once more, whether or not the child still lives (eci-runc's create paid ~170
// such faults, ~5 ms, for its two helpers).
//
// What `fn` may do, since it runs on our live memory: system calls and reads of what the parent
// prepared, nothing else (no allocation, no locks, no library state: another thread of ours may
// hold them). It shares the starting thread's TLS, so errno too: with CLONE_VFORK in `flags` we
// are suspended until it exits and nothing is lost; without it (a child that outlives start())
// `fn` must make only calls that cannot fail, or it could change errno under our feet. Every
// signal is blocked in the child (one of our handlers must never run there); SIGKILL still ends
// it. It has its own copy of our fd table and fs (root, cwd), so setns() and close() in it are
// its own. Returning from `fn` ends the child with that exit status.
//
// `flags`: more clone flags, e.g. CLONE_NEWUSER (the child starts in a new user namespace),
// CLONE_VFORK (start() returns once the child has exited or exec'ed). Destroying the object
// SIGKILLs the child if it still runs, reaps it and frees its stack.
class SharedVmChild {
 public:
  static Result<SharedVmChild> start(int (*fn)(void*), void* arg, int flags);

  SharedVmChild(SharedVmChild&& o) noexcept;
  SharedVmChild& operator=(SharedVmChild&& o) noexcept;
  SharedVmChild(const SharedVmChild&) = delete;
  SharedVmChild& operator=(const SharedVmChild&) = delete;
  ~SharedVmChild();

  pid_t pid() const { return pid_; }
  // Waits for the child to end; waitpid's status. Once only.
  Result<int> wait();

 private:
  SharedVmChild() = default;
  void reset();

  pid_t pid_ = -1;
  void* stack_ = nullptr;
  size_t stackSize_ = 0;
};

// A child that starts in a new user namespace (SharedVmChild with CLONE_NEWUSER) and stays until
// this object is destroyed, for writing that namespace's maps from here (/proc/<pid>/uid_map) and
// opening /proc/<pid>/ns/user: eci's ID-mapped mounts, and the kernel probe for them. It keeps
// our credentials (a map only says how they read inside its namespace) and its namespace is
// ours, so sharing our memory lets nobody in who could not already reach it. It ends when we
// do, too: it waits on a pipe whose write end only we hold.
class UsernsHolder {
 public:
  static Result<UsernsHolder> start();
  pid_t pid() const { return child_.pid(); }

 private:
  struct Pipe;
  UsernsHolder(std::unique_ptr<Pipe> pipe, SharedVmChild child);
  static int hold(void* pipe);  // the child's side
  // Declared first, destroyed last: the child reads the pipe's fds until it is reaped.
  std::unique_ptr<Pipe> pipe_;
  SharedVmChild child_;

 public:
  UsernsHolder(UsernsHolder&&) noexcept;
  UsernsHolder& operator=(UsernsHolder&&) = delete;
  ~UsernsHolder();
};

}  // namespace eci::sys
