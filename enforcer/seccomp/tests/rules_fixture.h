// The fixture the seccomp rules tests share (rules_test.cc, rules_propagation_test.cc,
// rules_setid_test.cc): a container's mount table as runc leaves it, a caller's memory and an
// Environment that resolves paths against that table.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "eci/seccomp/rules.h"

namespace eci::seccomp::testing {

// A container as runc leaves it (ids as in a real mountinfo; 0:50 overlay rootfs, 0:60 proc,
// 0:61 tmpfs /dev, 0:62 sysfs, 8:1 the host disk behind two volumes, 0:5 devtmpfs /dev/null).
inline constexpr const char* kInitial =
    "500 400 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l\n"
    "501 500 0:60 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "502 500 0:61 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755\n"
    "503 500 0:62 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro\n"
    "504 500 8:1 /home/u /mnt ro,relatime - ext4 /dev/sda1 rw\n"
    "505 500 8:1 /home/u/rw /data rw,relatime - ext4 /dev/sda1 rw\n"
    "506 501 0:60 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw\n"
    "507 501 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw\n"
    "508 501 0:70 / /proc/uptime rw,nosuid - fuse.eci-procfs eci rw\n";

inline std::vector<MountEntry> parse(const std::string& s) {
  auto r = parseMountInfo(s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : std::vector<MountEntry>{};
}

class FakeMemory : public MemoryReader {
 public:
  std::map<uint64_t, std::string> strings;  // address -> bytes (NUL appended by readString)
  std::optional<std::string> readString(uint64_t addr, size_t max) override {
    auto it = strings.find(addr);
    if (it == strings.end() || it->second.size() >= max) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> readBytes(uint64_t addr, size_t len) override {
    auto it = strings.find(addr);
    if (it == strings.end() || it->second.size() < len) return std::nullopt;
    return it->second.substr(0, len);
  }
};

// Paths resolve to entries of the table by their mount point (root of that mount), or to a
// non-root directory on the rootfs otherwise.
class FakeEnv : public Environment {
 public:
  std::vector<MountEntry> table;
  const Decoded* d = nullptr;
  bool sysAdmin = true, pidns = true, netns = true, mntns = true;
  std::map<std::string, PathInfo> overrides;
  PathInfo lookup(const std::optional<std::string>& p) {
    PathInfo info;
    if (!p) {
      info.err = ENOENT;
      return info;
    }
    if (overrides.count(*p)) return overrides[*p];
    for (const auto& m : table)
      if (m.mountPoint == *p) {
        info.mount = m;
        info.mountRoot = true;
        info.major = m.major;
        info.minor = m.minor;
        return info;
      }
    // Deepest mount containing the path.
    const MountEntry* best = nullptr;
    for (const auto& m : table)
      if ((m.mountPoint == "/" || p->rfind(m.mountPoint + "/", 0) == 0) &&
          (!best || m.mountPoint.size() > best->mountPoint.size()))
        best = &m;
    if (best) {
      info.mount = *best;
      info.major = best->major;
      info.minor = best->minor;
    }
    return info;
  }
  PathInfo resolve(Which w) override { return lookup(w == Which::kSource ? d->source : d->target); }
  bool tableReadable = true;
  const std::vector<MountEntry>* mountTable() override { return tableReadable ? &table : nullptr; }
  bool callerHasSysAdmin() override { return sysAdmin; }
  bool callerInContainerPidNs() override { return pidns; }
  bool callerInContainerNetNs() override { return netns; }
  bool callerInContainerMntNs() override { return mntns; }
  PathInfo resolveInRoot(const std::string& p) override { return lookup(p); }
  PathInfo resolveCreated() override { return lookup(d->target); }
};

class RulesTest : public ::testing::Test {
 protected:
  RulesTest() : container(parse(kInitial)) { env.table = parse(kInitial); }

  Decision mountCall(const char* src, const char* tgt, const char* type, uint64_t flags,
                     const char* data = nullptr) {
    FakeMemory mem;
    uint64_t args[6] = {
        src ? 0x1000u : 0u, tgt ? 0x2000u : 0u, type ? 0x3000u : 0u, flags, data ? 0x4000u : 0u, 0};
    if (src) mem.strings[0x1000] = src;
    if (tgt) mem.strings[0x2000] = tgt;
    if (type) mem.strings[0x3000] = type;
    if (data) mem.strings[0x4000] = data;
    decoded = decode(Call::kMount, args, mem);
    env.d = &decoded;
    return decide(decoded, container, env);
  }
  Decision umountCall(const char* tgt, uint64_t flags = 0) {
    FakeMemory mem;
    uint64_t args[6] = {0x2000, flags, 0, 0, 0, 0};
    mem.strings[0x2000] = tgt;
    decoded = decode(Call::kUmount2, args, mem);
    env.d = &decoded;
    return decide(decoded, container, env);
  }
  Decision setattrCall(const char* tgt, uint64_t set, uint64_t clr, uint64_t flags = 0) {
    FakeMemory mem;
    mount_attr a{};
    a.attr_set = set;
    a.attr_clr = clr;
    mem.strings[0x2000] = tgt;
    mem.strings[0x5000] = std::string(reinterpret_cast<char*>(&a), sizeof(a));
    uint64_t args[6] = {static_cast<uint64_t>(AT_FDCWD), 0x2000, flags, 0x5000, sizeof(a), 0};
    decoded = decode(Call::kMountSetattr, args, mem);
    env.d = &decoded;
    return decide(decoded, container, env);
  }

  ContainerMounts container;
  FakeEnv env;
  Decoded decoded;
};

}  // namespace eci::seccomp::testing
