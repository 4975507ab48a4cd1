// libFuzzer target: the notification argument decoding and the decisions on it. The input is
// [call selector][6 x u64 args][mountinfo length u16][mountinfo text][caller memory image]; the
// memory image is mapped at kBase, so fuzzed pointers hit it, miss it, or straddle its end.
#include <cstdint>
#include <cstring>
#include <string>

#include "eci/seccomp/rules.h"

using namespace eci::seccomp;

namespace {

constexpr uint64_t kBase = 0x10000;

class ImageMemory : public MemoryReader {
 public:
  explicit ImageMemory(std::string image) : image_(std::move(image)) {}
  std::optional<std::string> readBytes(uint64_t addr, size_t len) override {
    if (addr < kBase || addr - kBase > image_.size() || image_.size() - (addr - kBase) < len)
      return std::nullopt;
    return image_.substr(addr - kBase, len);
  }
  std::optional<std::string> readString(uint64_t addr, size_t max) override {
    if (addr < kBase || addr - kBase >= image_.size()) return std::nullopt;
    const size_t off = addr - kBase;
    const size_t end = image_.find('\0', off);
    if (end == std::string::npos || end - off >= max) return std::nullopt;
    return image_.substr(off, end - off);
  }

 private:
  std::string image_;
};

class TableEnv : public Environment {
 public:
  TableEnv(std::vector<MountEntry> table, const Decoded& d) : table_(std::move(table)), d_(d) {}
  PathInfo lookup(const std::optional<std::string>& p) {
    PathInfo info;
    if (!p) {
      info.err = ENOENT;
      return info;
    }
    for (const auto& m : table_)
      if (m.mountPoint == *p) {
        info.mount = m;
        info.mountRoot = true;
        info.major = m.major;
        info.minor = m.minor;
        return info;
      }
    info.attached = !p->empty() && p->front() == '/';
    info.blockDevice = p->rfind("/dev/", 0) == 0;
    return info;
  }
  PathInfo resolve(Which w) override { return lookup(w == Which::kSource ? d_.source : d_.target); }
  const std::vector<MountEntry>* mountTable() override { return &table_; }
  bool callerHasSysAdmin() override { return true; }
  bool callerInContainerPidNs() override { return true; }
  bool callerInContainerNetNs() override { return true; }
  bool callerInContainerMntNs() override { return true; }
  PathInfo resolveInRoot(const std::string& p) override { return lookup(p); }
  PathInfo resolveCreated() override { return lookup(d_.target); }

 private:
  std::vector<MountEntry> table_;
  const Decoded& d_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 + 48 + 2) return 0;
  const Call call = static_cast<Call>(data[0] % (static_cast<int>(Call::kUnknown) + 1));
  uint64_t args[6];
  std::memcpy(args, data + 1, sizeof(args));
  uint16_t tableLen;
  std::memcpy(&tableLen, data + 49, sizeof(tableLen));
  size_t off = 51;
  tableLen = static_cast<uint16_t>(std::min<size_t>(tableLen, size - off));
  std::string tableText(reinterpret_cast<const char*>(data + off), tableLen);
  off += tableLen;
  std::string image(reinterpret_cast<const char*>(data + off), size - off);

  auto table = parseMountInfo(tableText);
  std::vector<MountEntry> entries = table.ok() ? *table : std::vector<MountEntry>{};
  ContainerMounts container(entries);
  ImageMemory mem(image);
  Decoded d = decode(call, args, mem);
  // The private copy is bounded whatever the input.
  if (d.source && d.source->size() >= kMaxPath) __builtin_trap();
  if (d.target && d.target->size() >= kMaxPath) __builtin_trap();
  if (d.fstype && d.fstype->size() >= kMaxFsName) __builtin_trap();
  if (d.data && d.data->size() >= kMaxData) __builtin_trap();
  TableEnv env(entries, d);
  Decision dec = decide(d, container, env);
  // Unreadable arguments are never acted on.
  if (d.badPointer && dec.action != Action::kError) __builtin_trap();
  if (dec.action == Action::kError && dec.err <= 0) __builtin_trap();
  return 0;
}
