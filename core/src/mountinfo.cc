#include "eci/mountinfo.h"

#include <algorithm>
#include <climits>
#include <cstdint>

#include "eci/fs_util.h"
#include "eci/paths.h"

namespace eci {
namespace {

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    if (i >= line.size()) break;
    size_t j = line.find(' ', i);
    if (j == std::string_view::npos) j = line.size();
    f.push_back(line.substr(i, j - i));
    i = j;
  }
  return f;
}

bool parseUnsigned(std::string_view s, unsigned long long& out) {
  if (s.empty() || s.size() > 19) return false;
  unsigned long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

std::string unescapeOctal(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out.push_back(
          static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

bool MountEntry::readOnly() const {
  std::string_view o = options;
  size_t i = 0;
  while (i <= o.size()) {
    size_t j = o.find(',', i);
    if (j == std::string_view::npos) j = o.size();
    if (o.substr(i, j - i) == "ro") return true;
    i = j + 1;
  }
  return false;
}

Result<std::vector<MountEntry>> parseMountInfo(std::string_view text, size_t maxEntries) {
  std::vector<MountEntry> out;
  size_t lineNo = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineNo;
    if (line.empty()) continue;
    auto bad = [&](const char* what) {
      return Error(ErrorKind::kInvalidInput,
                   "mountinfo line " + std::to_string(lineNo) + ": " + what);
    };
    auto f = splitFields(line);
    // id parent maj:min root mountpoint options [optional...] - fstype source superopts
    auto sep = std::find(f.begin() + std::min<size_t>(f.size(), 6), f.end(), std::string_view("-"));
    if (f.size() < 7 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 3)
      return bad("too few fields");
    MountEntry e;
    unsigned long long id = 0, parent = 0, maj = 0, min = 0;
    if (!parseUnsigned(f[0], id) || !parseUnsigned(f[1], parent) || id > INT32_MAX ||
        parent > INT32_MAX)
      return bad("bad mount id");
    size_t colon = f[2].find(':');
    if (colon == std::string_view::npos || !parseUnsigned(f[2].substr(0, colon), maj) ||
        !parseUnsigned(f[2].substr(colon + 1), min) || maj > UINT32_MAX || min > UINT32_MAX)
      return bad("bad major:minor");
    e.id = static_cast<int>(id);
    e.parent = static_cast<int>(parent);
    e.major = static_cast<unsigned>(maj);
    e.minor = static_cast<unsigned>(min);
    e.root = unescapeOctal(f[3]);
    e.mountPoint = unescapeOctal(f[4]);
    e.options = std::string(f[5]);
    for (auto opt = f.begin() + 6; opt != sep; ++opt) {
      unsigned long long g = 0;
      if (opt->starts_with("shared:") && parseUnsigned(opt->substr(7), g)) e.sharedGroup = g;
      if (opt->starts_with("master:") && parseUnsigned(opt->substr(7), g)) e.masterGroup = g;
    }
    e.fstype = unescapeOctal(*(sep + 1));
    e.source = unescapeOctal(*(sep + 2));
    if (f.end() - sep > 3) e.superOptions = std::string(*(sep + 3));
    if (out.size() >= maxEntries) {
      return Error(ErrorKind::kTooLarge,
                   "mountinfo: more than " + std::to_string(maxEntries) + " mounts");
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<MountEntry>> readMountInfo(const std::string& pid) {
  // mountinfo of a busy host (many containers) can be large; 64 MiB is far above any real one.
  ECI_ASSIGN_OR_RETURN(text, fs::readFile("/proc/" + pid + "/mountinfo", 64u << 20));
  return parseMountInfo(text);
}

const MountEntry* topMountAt(const std::vector<MountEntry>& table, std::string_view mountPoint) {
  const MountEntry* top = nullptr;
  for (const auto& e : table) {
    if (e.mountPoint == mountPoint) top = &e;
  }
  return top;
}

const MountEntry* mountOf(const std::vector<MountEntry>& table, std::string_view path) {
  const MountEntry* best = nullptr;
  for (const auto& e : table) {
    if (!paths::isUnder(path, e.mountPoint)) continue;
    if (!best || e.mountPoint.size() >= best->mountPoint.size()) best = &e;
  }
  return best;
}

}  // namespace eci
