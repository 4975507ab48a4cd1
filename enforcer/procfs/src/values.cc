#include "eci/procfs/values.h"

#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace eci::procfs {
namespace {

constexpr int64_t kIntMin = INT_MIN;
constexpr int64_t kIntMax = INT_MAX;
// fs.nr_open: sysctl_nr_open_min = BITS_PER_LONG, sysctl_nr_open_max = INT_MAX rounded down to a
// multiple of BITS_PER_LONG (fs/file.c) on 64-bit.
constexpr int64_t kNrOpenMax = 2147483584;

// Ordered by path; the FUSE tree is built from this table.
constexpr SysctlSpec kSysctls[] = {
    {"fs/nr_open", SysctlKind::kIntVec, 64, kNrOpenMax, 1},
    {"fs/protected_hardlinks", SysctlKind::kIntVec, 0, 1, 1},
    {"fs/protected_symlinks", SysctlKind::kIntVec, 0, 1, 1},
    // core_pattern reaching the host would let a container run a program as host root on the
    // next crash anywhere; it is always per container.
    {"kernel/core_pattern", SysctlKind::kString, 0, 0, 128},  // CORENAME_MAX_SIZE
    {"kernel/dmesg_restrict", SysctlKind::kIntVec, 0, 1, 1},
    {"kernel/kptr_restrict", SysctlKind::kIntVec, 0, 2, 1},
    {"kernel/panic", SysctlKind::kIntVec, kIntMin, kIntMax, 1},
    {"kernel/panic_on_oops", SysctlKind::kIntVec, kIntMin, kIntMax, 1},
    {"kernel/printk", SysctlKind::kIntVec, kIntMin, kIntMax, 4},
    {"kernel/sysrq", SysctlKind::kIntVec, kIntMin, kIntMax, 1},
    {"vm/mmap_min_addr", SysctlKind::kULong, 0, 0, 1},
    {"vm/overcommit_memory", SysctlKind::kIntVec, 0, 2, 1},
};

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

std::vector<std::string_view> splitWs(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isSpace(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !isSpace(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Unsigned part of a kernel integer, base 0 like simple_strtoull.
std::optional<uint64_t> parseUnsigned(std::string_view t) {
  int base = 10;
  if (t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) {
    base = 16;
    t.remove_prefix(2);
  } else if (t.size() > 1 && t[0] == '0') {
    base = 8;
    t.remove_prefix(1);
  }
  if (t.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v, base);
  if (ec != std::errc() || p != t.data() + t.size()) return std::nullopt;
  return v;
}

}  // namespace

std::span<const SysctlSpec> emulatedSysctls() {
  return kSysctls;
}

const SysctlSpec* findSysctl(std::string_view path) {
  for (const auto& s : kSysctls)
    if (path == s.path) return &s;
  return nullptr;
}

std::optional<int64_t> parseKernelInt(std::string_view token) {
  bool neg = false;
  if (!token.empty() && token[0] == '-') {
    neg = true;
    token.remove_prefix(1);
  }
  auto u = parseUnsigned(token);
  if (!u) return std::nullopt;
  if (*u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  const auto v = static_cast<int64_t>(*u);
  return neg ? -v : v;
}

Result<SysctlValue> SysctlValue::fromHost(const SysctlSpec& spec, std::string_view text) {
  SysctlValue v(spec);
  switch (spec.kind) {
    case SysctlKind::kIntVec: {
      auto toks = splitWs(text);
      if (toks.size() != spec.count)
        return Error("/proc/sys/" + std::string(spec.path) + ": expected " +
                     std::to_string(spec.count) + " integers, got '" + std::string(text) + "'");
      for (auto t : toks) {
        auto n = parseKernelInt(t);
        if (!n)
          return Error("/proc/sys/" + std::string(spec.path) + ": not an integer: '" +
                       std::string(t) + "'");
        v.ints_.push_back(*n);
      }
      break;
    }
    case SysctlKind::kULong: {
      auto toks = splitWs(text);
      auto n = toks.size() == 1 ? parseUnsigned(toks[0]) : std::nullopt;
      if (!n)
        return Error("/proc/sys/" + std::string(spec.path) + ": not an unsigned integer: '" +
                     std::string(text) + "'");
      v.ulong_ = *n;
      break;
    }
    case SysctlKind::kString: {
      std::string_view s = text;
      if (auto nl = s.find('\n'); nl != std::string_view::npos) s = s.substr(0, nl);
      if (s.size() > spec.count - 1) s = s.substr(0, spec.count - 1);
      v.str_ = std::string(s);
      break;
    }
  }
  return v;
}

int SysctlValue::write(std::string_view data, uint64_t offset) {
  switch (spec_->kind) {
    case SysctlKind::kIntVec: {
      // sysctl_writes_strict=1 (the default): a numeric write past position 0 is ignored.
      if (offset != 0) return 0;
      auto toks = splitWs(data);
      if (toks.empty()) return EINVAL;
      std::vector<int64_t> next = ints_;
      // Values beyond the vector are ignored, as __do_proc_dointvec stops when it is full.
      for (size_t i = 0; i < toks.size() && i < spec_->count; ++i) {
        auto n = parseKernelInt(toks[i]);
        if (!n || *n < spec_->min || *n > spec_->max) return EINVAL;
        next[i] = *n;
      }
      ints_ = std::move(next);
      return 0;
    }
    case SysctlKind::kULong: {
      if (offset != 0) return 0;
      auto toks = splitWs(data);
      if (toks.empty()) return EINVAL;
      // A leading '-' is EINVAL for the unsigned-long handler.
      auto n = parseUnsigned(toks[0]);
      if (!n) return EINVAL;
      ulong_ = *n;
      return 0;
    }
    case SysctlKind::kString: {
      // _proc_do_string: continue a write only up to the current end; stop at '\n' or NUL;
      // silently truncate at maxlen-1.
      const size_t maxLen = spec_->count - 1;
      if (offset > str_.size()) return 0;
      std::string next = str_.substr(0, static_cast<size_t>(offset));
      for (char c : data) {
        if (c == '\0' || c == '\n' || next.size() >= maxLen) break;
        next.push_back(c);
      }
      str_ = std::move(next);
      return 0;
    }
  }
  return EINVAL;
}

std::string SysctlValue::render() const {
  std::string out;
  switch (spec_->kind) {
    case SysctlKind::kIntVec:
      for (size_t i = 0; i < ints_.size(); ++i) {
        if (i) out.push_back('\t');
        out += std::to_string(ints_[i]);
      }
      break;
    case SysctlKind::kULong:
      out = std::to_string(ulong_);
      break;
    case SysctlKind::kString:
      out = str_;
      break;
  }
  out.push_back('\n');
  return out;
}

std::string renderUptime(double uptimeSeconds, double idleSeconds) {
  auto centis = [](double s) -> unsigned long long {
    return s <= 0 ? 0ULL : static_cast<unsigned long long>(s * 100.0);
  };
  const auto u = centis(uptimeSeconds), i = centis(idleSeconds);
  char buf[64];
  (void)std::snprintf(buf, sizeof buf, "%llu.%02llu %llu.%02llu\n", u / 100, u % 100, i / 100,
                      i % 100);
  return buf;
}

void PageSnapshot::set(std::string text, int64_t monoNs, int64_t realNs) {
  text_ = std::move(text);
  renderedNs_ = monoNs;
  versionNs_ = valid_ && realNs <= versionNs_ ? versionNs_ + 1 : realNs;
  valid_ = true;
}

void PageSnapshot::adopt(std::string text, int64_t monoNs, int64_t realNs) {
  if (valid_ && text == text_) {
    renderedNs_ = monoNs;  // still current: keep the version, the kernel's pages stay valid
    return;
  }
  set(std::move(text), monoNs, realNs);
}

void PageSnapshot::refreshForRead(std::string fresh, int64_t monoNs, int64_t realNs) {
  if (valid_ && fresh.size() != text_.size()) return;  // serve the old text whole
  adopt(std::move(fresh), monoNs, realNs);
}

std::string_view swapsHeader() {
  return "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
}

std::optional<std::pair<double, double>> parseUptime(std::string_view text) {
  const std::string s(text.substr(0, 128));
  char* end = nullptr;
  errno = 0;
  const double a = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || errno != 0) return std::nullopt;
  const char* second = end;
  const double b = std::strtod(second, &end);
  if (end == second || errno != 0) return std::nullopt;
  return std::make_pair(a, b);
}

}  // namespace eci::procfs
