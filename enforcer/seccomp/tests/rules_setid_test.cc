// The seccomp worker's rules (rules.h): set-id bits and device nodes only off host paths.
#include <gtest/gtest.h>

#include "rules_fixture.h"

namespace eci::seccomp {
namespace {

using namespace eci::seccomp::testing;  // NOLINT(google-build-using-namespace): the fixture

// Nothing set-id planted on a host path: chmod with S_ISUID/S_ISGID (the only chmods trapped).
TEST_F(RulesTest, SetIdBitsOnlyOffHostPaths) {
  // The engine's files (their root names the data root) and a named volume beside them.
  env.table.push_back(
      parse("520 500 8:1 /var/lib/docker/containers/c1/hosts /etc/hosts rw - ext4 sda rw\n")[0]);
  env.table.push_back(
      parse("521 500 8:1 /var/lib/docker/volumes/v/_data /vol rw - ext4 sda rw\n")[0]);
  container = ContainerMounts(env.table);
  // Made by the container later: its own tmpfs and overlay, a bind copy of a host bind.
  env.table.push_back(parse("522 500 0:95 / /own rw - tmpfs t rw\n")[0]);
  env.table.push_back(parse("523 500 0:96 / /ovl rw - overlay o rw\n")[0]);
  env.table.push_back(parse("600 500 8:1 /home/u/rw /copy rw - ext4 sda rw\n")[0]);
  FakeMemory mem;
  auto chmodCall = [&](const char* path, uint64_t mode) {
    mem.strings[0x2000] = path;
    uint64_t args[6] = {0x2000, mode, 0, 0, 0, 0};
    decoded = decode(Call::kChmod, args, mem);
    env.d = &decoded;
    return decide(decoded, container, env);
  };
  for (const char* p : {"/data/f", "/mnt/f", "/copy/f"}) {  // host binds and a copy of one
    EXPECT_EQ(chmodCall(p, 04755).err, EPERM) << p;
    EXPECT_EQ(chmodCall(p, 02755).err, EPERM) << p;
    EXPECT_EQ(chmodCall(p, 0755).action, Action::kContinue) << p;
  }
  EXPECT_EQ(chmodCall("/ovl/f", 04755).err, EPERM);          // own overlay: upper dir unknown
  for (const char* p : {"/usr/bin/su", "/own/f", "/vol/f"})  // rootfs, own tmpfs, named volume
    EXPECT_EQ(chmodCall(p, 04755).action, Action::kChmod) << p;
  // fchmodat: mode is the third argument; fchmod works on the fd.
  mem.strings[0x2000] = "/data/f";
  uint64_t at[6] = {static_cast<uint64_t>(AT_FDCWD), 0x2000, 06755, 0, 0, 0};
  decoded = decode(Call::kFchmodat, at, mem);
  EXPECT_EQ(decide(decoded, container, env).err, EPERM);
  EXPECT_EQ(callFromName("fchmod"), Call::kFchmod);
}

// The same plant in one call: a file created with a set-id mode (open/openat/creat with O_CREAT
// or O_TMPFILE, mknod of a regular file). Refused where the file would land on a host path.
TEST_F(RulesTest, SetIdCreateOnlyOffHostPaths) {
  env.table.push_back(
      parse("520 500 8:1 /var/lib/docker/containers/c1/hosts /etc/hosts rw - ext4 sda rw\n")[0]);
  env.table.push_back(
      parse("521 500 8:1 /var/lib/docker/volumes/v/_data /vol rw - ext4 sda rw\n")[0]);
  container = ContainerMounts(env.table);
  FakeMemory mem;
  mem.strings[0x2000] = "";
  auto call = [&](Call c, const char* path, uint64_t flags, uint64_t mode) {
    mem.strings[0x2000] = path;
    uint64_t args[6] = {};
    const uint64_t dirfd = static_cast<uint64_t>(AT_FDCWD);
    switch (c) {
      case Call::kOpen:
        args[0] = 0x2000, args[1] = flags, args[2] = mode;
        break;
      case Call::kOpenat:
        args[0] = dirfd, args[1] = 0x2000, args[2] = flags, args[3] = mode;
        break;
      case Call::kMknodat:
        args[0] = dirfd, args[1] = 0x2000, args[2] = mode;
        break;
      default:
        args[0] = 0x2000, args[1] = mode;
        break;  // creat, mknod
    }
    decoded = decode(c, args, mem);
    env.d = &decoded;
    return decide(decoded, container, env);
  };
  const uint64_t creat = O_WRONLY | O_CREAT | O_TRUNC;
  for (const char* p : {"/data/sh", "/mnt/sh"}) {  // host binds
    EXPECT_EQ(call(Call::kOpenat, p, creat, 04755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kOpen, p, creat, 02755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kCreat, p, 0, 06755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kMknod, p, 0, S_IFREG | 04755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kMknodat, p, 0, S_IFREG | 02755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kOpenat, "/data", O_TMPFILE | O_WRONLY, 04755).err, EPERM);
    EXPECT_EQ(call(Call::kOpenat, p, creat, 0755).action, Action::kContinue) << p;
    // Set-id bits in the mode of an open that creates nothing (the filter looks at the mode
    // only): the kernel ignores the mode, so it goes through.
    EXPECT_EQ(call(Call::kOpenat, p, O_RDONLY, 04755).action, Action::kContinue) << p;
    EXPECT_EQ(call(Call::kOpen, p, O_RDWR | O_APPEND, 06000).action, Action::kContinue) << p;
  }
  // Rootfs, named volume: apk, tar -xp work - emulated, never CONTINUEd (the kernel would walk
  // the path again, after the check, and a racer could swap it for a host path).
  for (const char* p : {"/usr/bin/su", "/vol/su"}) {
    EXPECT_EQ(call(Call::kOpenat, p, creat, 04755).action, Action::kCreateSetId) << p;
    EXPECT_EQ(call(Call::kOpen, p, creat, 02755).action, Action::kCreateSetId) << p;
    EXPECT_EQ(call(Call::kCreat, p, 0, 06755).action, Action::kCreateSetId) << p;
    EXPECT_EQ(call(Call::kMknod, p, 0, S_IFREG | 04755).action, Action::kCreateSetId) << p;
    EXPECT_EQ(call(Call::kMknodat, p, 0, 04755).action, Action::kCreateSetId) << p;  // 0: regular
    // A set-id fifo, socket or device node is never made, even in the container's own files.
    EXPECT_EQ(call(Call::kMknod, p, 0, S_IFIFO | 04755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kMknodat, p, 0, S_IFCHR | 02755).err, EPERM) << p;
    EXPECT_EQ(call(Call::kMknod, p, 0, S_IFIFO | 0755).action, Action::kContinue) << p;
  }
  // Where it would land cannot be told (a dangling symlink, `..` out of a dirfd): refused.
  env.overrides["/tmp/dangling"].err = ELOOP;
  EXPECT_EQ(call(Call::kOpenat, "/tmp/dangling", creat, 04755).err, EPERM);
  for (const char* n : {"open", "openat", "creat", "mknod", "mknodat"})
    EXPECT_NE(callFromName(n), Call::kUnknown) << n;
}

}  // namespace
}  // namespace eci::seccomp
