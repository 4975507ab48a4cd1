// Decoding a trapped call (rules.h decode, callName, callFromName): the call's number and
// arguments as the kernel gave them, and the strings and structs they point to, read from the
// caller's memory. Nothing here decides anything (rules.cc does).
#include <sys/mount.h>

#include <cstring>

#include "eci/seccomp/rules.h"

namespace eci::seccomp {

const char* callName(Call c) {
  switch (c) {
    case Call::kMount:
      return "mount";
    case Call::kUmount2:
      return "umount2";
    case Call::kFsopen:
      return "fsopen";
    case Call::kFsconfig:
      return "fsconfig";
    case Call::kFsmount:
      return "fsmount";
    case Call::kMoveMount:
      return "move_mount";
    case Call::kOpenTree:
      return "open_tree";
    case Call::kMountSetattr:
      return "mount_setattr";
    case Call::kFspick:
      return "fspick";
    case Call::kChmod:
      return "chmod";
    case Call::kFchmod:
      return "fchmod";
    case Call::kFchmodat:
      return "fchmodat";
    case Call::kOpen:
      return "open";
    case Call::kOpenat:
      return "openat";
    case Call::kCreat:
      return "creat";
    case Call::kMknod:
      return "mknod";
    case Call::kMknodat:
      return "mknodat";
    case Call::kUnknown:
      return "unknown";
  }
  return "unknown";
}

Call callFromName(std::string_view n) {
  if (n == "mount") return Call::kMount;
  if (n == "umount2" || n == "umount") return Call::kUmount2;
  if (n == "fsopen") return Call::kFsopen;
  if (n == "fsconfig") return Call::kFsconfig;
  if (n == "fsmount") return Call::kFsmount;
  if (n == "move_mount") return Call::kMoveMount;
  if (n == "open_tree") return Call::kOpenTree;
  if (n == "mount_setattr") return Call::kMountSetattr;
  if (n == "fspick") return Call::kFspick;
  if (n == "chmod") return Call::kChmod;
  if (n == "fchmod") return Call::kFchmod;
  if (n == "fchmodat") return Call::kFchmodat;
  if (n == "open") return Call::kOpen;
  if (n == "openat") return Call::kOpenat;
  if (n == "creat") return Call::kCreat;
  if (n == "mknod") return Call::kMknod;
  if (n == "mknodat") return Call::kMknodat;
  return Call::kUnknown;
}

Decoded decode(Call call, const uint64_t args[6], MemoryReader& mem) {
  Decoded d;
  d.call = call;
  for (int i = 0; i < 6; ++i) d.args[i] = args[i];
  auto str = [&](uint64_t addr, size_t max, std::optional<std::string>& out) {
    if (addr == 0) return;  // NULL: absent, decide() knows which calls need it
    out = mem.readString(addr, max);
    if (!out) d.badPointer = true;
  };
  switch (call) {
    case Call::kMount: {
      // mount(2) copies up to a page of data whatever its type; every type eci lets through
      // takes a string, so a string (bounded by the page) is the whole argument. The four are
      // read as one batch (every trapped mount pays for each syscall of the supervisor).
      std::vector<MemoryReader::StringRead> reads;
      auto add = [&](uint64_t addr, size_t max, std::optional<std::string>& out) {
        if (addr != 0) reads.push_back({addr, max, &out});  // NULL: absent, as str() above
      };
      add(args[0], kMaxPath, d.source);
      add(args[1], kMaxPath, d.target);
      add(args[2], kMaxFsName, d.fstype);
      add(args[4], kMaxData, d.data);
      mem.readStrings(reads);
      for (const auto& r : reads)
        if (!*r.out) d.badPointer = true;
      break;
    }
    case Call::kUmount2:
      str(args[0], kMaxPath, d.target);
      break;
    case Call::kFsopen:
      str(args[0], kMaxFsName, d.fstype);
      break;
    case Call::kOpenTree:
    case Call::kFspick:
      str(args[1], kMaxPath, d.target);
      break;
    case Call::kMountSetattr: {
      str(args[1], kMaxPath, d.target);
      const uint64_t size = args[4];
      if (args[3] == 0 || size < MOUNT_ATTR_SIZE_VER0 || size > 4096) {
        d.badPointer = true;
        break;
      }
      auto bytes = mem.readBytes(args[3], MOUNT_ATTR_SIZE_VER0);
      if (!bytes || bytes->size() != MOUNT_ATTR_SIZE_VER0) {
        d.badPointer = true;
        break;
      }
      std::memcpy(&d.attr, bytes->data(), sizeof(d.attr));
      break;
    }
    case Call::kMoveMount:
      str(args[1], kMaxPath, d.source);
      str(args[3], kMaxPath, d.target);
      break;
    case Call::kChmod:
    case Call::kOpen:
    case Call::kCreat:
    case Call::kMknod:
      str(args[0], kMaxPath, d.target);
      break;
    case Call::kFchmodat:
    case Call::kOpenat:
    case Call::kMknodat:
      str(args[1], kMaxPath, d.target);
      break;
    case Call::kFchmod:
    case Call::kFsconfig:
    case Call::kFsmount:
    case Call::kUnknown:
      break;
  }
  return d;
}

}  // namespace eci::seccomp
