#include "eci/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "eci/fs_util.h"
#include "json_strict.h"

namespace eci::audit {
namespace {

using nlohmann::json;

constexpr const char* kStringFields[] = {"source", "event", "container", "name",
                                         "image",  "rule",  "reason"};

std::string* fieldOf(Record& r, std::string_view key) {
  if (key == "time") return &r.time;
  if (key == "source") return &r.source;
  if (key == "event") return &r.event;
  if (key == "container") return &r.container;
  if (key == "name") return &r.name;
  if (key == "image") return &r.image;
  if (key == "rule") return &r.rule;
  if (key == "reason") return &r.reason;
  return nullptr;
}

// Fixed-width decimal digits at text[pos, pos+n).
bool digits(std::string_view text, size_t pos, size_t n, int& out) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  out = v;
  return true;
}

// source and event are short identifiers: they key rate limits and filters, so no free text.
bool isToken(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence.
void cutUtf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  s.resize(max);
  size_t i = s.size();
  while (i > 0 && (static_cast<unsigned char>(s[i - 1]) & 0xC0) == 0x80) --i;
  if (i == 0) return;
  const auto lead = static_cast<unsigned char>(s[i - 1]);
  const size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (i - 1 + len > s.size()) s.resize(i - 1);
}

// Every string field cut to kMaxFieldBytes, an oversized extra replaced: what a record may hold
// whoever made it (a sender's JSON, or eci-enforcerd itself).
void bound(Record& r) {
  cutUtf8(r.time, kMaxFieldBytes);
  for (const char* k : kStringFields) cutUtf8(*fieldOf(r, k), kMaxFieldBytes);
  if (r.extra.is_object() &&
      r.extra.dump(-1, ' ', false, json::error_handler_t::replace).size() > kMaxExtraBytes) {
    r.extra = json{{"truncated", true}};
  }
}

}  // namespace

std::string formatTime(Clock::time_point t) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const time_t secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int frac = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

Result<Clock::time_point> parseTime(std::string_view text) {
  const auto bad = [&] {
    return Error("'" + std::string(text.substr(0, 64)) +
                 "' is not an RFC 3339 time (e.g. 2026-12-02T08:41:37Z)");
  };
  int Y, M, D, h, m, s;
  if (!digits(text, 0, 4, Y) || text.size() < 19 || text[4] != '-' || !digits(text, 5, 2, M) ||
      text[7] != '-' || !digits(text, 8, 2, D) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits(text, 11, 2, h) ||
      text[13] != ':' || !digits(text, 14, 2, m) || text[16] != ':' || !digits(text, 17, 2, s))
    return bad();
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || s > 60) return bad();
  // system_clock counts nanoseconds in 64 bits: about 1678..2262. Keep well inside.
  if (Y < 1970 || Y > 2200)
    return Error("'" + std::string(text.substr(0, 64)) + "': year out of range (1970-2200)");
  size_t pos = 19;
  long long nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t n = 0;
    long long scale = 100000000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (n < 9) {
        nanos += (text[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
      ++n;
    }
    if (n == 0 || n > 18) return bad();
  }
  if (pos >= text.size()) return bad();
  long offset = 0;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    ++pos;
  } else if (text[pos] == '+' || text[pos] == '-') {
    int oh, om;
    if (!digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !digits(text, pos + 4, 2, om) || oh > 23 || om > 59)
      return bad();
    offset = (oh * 3600L + om * 60L) * (text[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != text.size()) return bad();
  struct tm tm {};
  tm.tm_year = Y - 1900;
  tm.tm_mon = M - 1;
  tm.tm_mday = D;
  tm.tm_hour = h;
  tm.tm_min = m;
  tm.tm_sec = s;
  const time_t t = timegm(&tm);
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
      std::chrono::seconds(static_cast<long long>(t) - offset) + std::chrono::nanoseconds(nanos)));
}

Result<Clock::time_point> parseSince(std::string_view text, Clock::time_point now) {
  if (!text.empty() && text.size() <= 12 && std::isdigit(static_cast<unsigned char>(text[0]))) {
    size_t i = 0;
    long long n = 0;
    while (i < text.size() && i < 9 && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    if (i + 1 == text.size()) {
      long long unit = 0;
      switch (text[i]) {
        case 's':
          unit = 1;
          break;
        case 'm':
          unit = 60;
          break;
        case 'h':
          unit = 3600;
          break;
        case 'd':
          unit = 86400;
          break;
      }
      // At most ~95 years back: far from the clock's 64-bit nanosecond range.
      if (unit != 0 && n * unit <= 3'000'000'000LL) return now - std::chrono::seconds(n * unit);
    }
  }
  auto t = parseTime(text);
  if (!t.ok()) {
    return Error("--since '" + std::string(text.substr(0, 64)) +
                 "': expected an RFC 3339 time (2026-12-02T08:00:00Z) or a duration back from "
                 "now (90s, 10m, 2h, 7d)");
  }
  return t;
}

bool isRemoteSource(std::string_view source) {
  return source == "eci-runc" || source == "eci-apiproxyd" || source == "seccomp";
}

json toJson(const Record& r) {
  json j = {{"time", r.time}, {"source", r.source}, {"event", r.event}, {"container", r.container},
            {"name", r.name}, {"image", r.image},   {"rule", r.rule},   {"reason", r.reason}};
  if (r.extra.is_object() && !r.extra.empty()) j["extra"] = r.extra;
  return j;
}

Result<Record> fromJson(const json& j, bool requireTime) {
  if (!j.is_object()) return Error("audit record: expected a JSON object");
  Record r;
  for (const auto& [key, value] : j.items()) {
    if (key == "extra") {
      if (value.is_null()) continue;
      if (!value.is_object()) return Error("audit record /extra: expected an object");
      r.extra = value;  // bounded below, whatever the sender put there
      continue;
    }
    std::string* field = fieldOf(r, key);
    if (field == nullptr) return Error("audit record: unknown field '" + key.substr(0, 64) + "'");
    if (!value.is_string()) return Error("audit record /" + key + ": expected a string");
    *field = value.get<std::string>();
  }
  bound(r);
  if (!isToken(r.source)) return Error("audit record /source: expected a short identifier");
  if (!isToken(r.event)) return Error("audit record /event: expected a short identifier");
  if (requireTime) {
    if (auto t = parseTime(r.time); !t.ok()) return std::move(t).error().wrap("audit record /time");
  }
  return r;
}

std::string formatLine(const Record& r) {
  Record b = r;
  bound(b);
  // dump escapes control characters and newlines: one record is always one line.
  std::string line = toJson(b).dump(-1, ' ', false, json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

Result<Record> parseLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Error("audit line longer than the limit");
  ECI_ASSIGN_OR_RETURN(j, internal::parseJsonStrict(line, "audit line", 8));
  return fromJson(j, /*requireTime=*/true);
}

bool Filter::matches(const Record& r) const {
  if (since) {
    auto t = parseTime(r.time);
    if (!t.ok() || *t < *since) return false;
  }
  if (!container.empty()) {
    const bool idPrefix =
        !r.container.empty() && r.container.compare(0, container.size(), container) == 0;
    // docker shows names with a leading '/' in inspect; accept either spelling.
    std::string_view want = container;
    std::string_view name = r.name;
    if (!want.empty() && want[0] == '/') want.remove_prefix(1);
    if (!name.empty() && name[0] == '/') name.remove_prefix(1);
    if (!idPrefix && (name.empty() || name != want)) return false;
  }
  return true;
}

std::filesystem::path rotatedPath(const std::filesystem::path& path, int n) {
  if (n == 0) return path;
  return std::filesystem::path(path.string() + "." + std::to_string(n));
}

std::vector<std::string> LineSplitter::feed(std::string_view chunk) {
  std::vector<std::string> out;
  while (!chunk.empty()) {
    const size_t nl = chunk.find('\n');
    const std::string_view part = chunk.substr(0, nl);
    if (!skipping_) {
      if (buf_.size() + part.size() > kMaxLineBytes) {
        buf_.clear();
        skipping_ = true;
        ++dropped_;
      } else {
        buf_.append(part);
      }
    }
    if (nl == std::string_view::npos) break;
    if (!skipping_) out.push_back(std::move(buf_));
    buf_.clear();
    skipping_ = false;
    chunk.remove_prefix(nl + 1);
  }
  return out;
}

Result<ReadResult> readAll(const std::filesystem::path& path, const Filter& filter, int keep) {
  ReadResult res;
  bool any = false;
  for (int n = keep; n >= 0; --n) {
    const auto p = rotatedPath(path, n);
    UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      if (errno == ENOENT) continue;
      return Error::fromErrno("open('" + p.string() + "')");
    }
    any = true;
    LineSplitter split;
    char buf[64 * 1024];
    for (;;) {
      const ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got < 0) {
        if (errno == EINTR) continue;
        return Error::fromErrno("read('" + p.string() + "')");
      }
      if (got == 0) break;
      for (auto& line : split.feed(std::string_view(buf, static_cast<size_t>(got)))) {
        if (line.empty()) continue;
        auto r = parseLine(line);
        if (!r.ok()) {
          ++res.malformed;
          continue;
        }
        if (filter.matches(*r)) res.records.push_back(std::move(*r));
      }
    }
    res.malformed += split.dropped();
  }
  if (!any) return Error(ErrorKind::kNotFound, "no audit log at '" + path.string() + "'");
  return res;
}

Writer::Writer(Options options, Mirror mirror)
    : opts_(std::move(options)), mirror_(std::move(mirror)) {}

Status Writer::openLocked() {
  const auto dir = opts_.path.parent_path();
  const std::string base = opts_.path.filename().string();
  if (dir.empty() || base.empty() || base == "." || base == "..")
    return Error("audit log path '" + opts_.path.string() + "' must name a file in a directory");
  if (!dir_) {
    ECI_TRY(fs::makeDirs(dir, 0700));
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
    if (!d) return Error::fromErrno("open('" + dir.string() + "')");
    struct stat st {};
    if (::fstat(d.get(), &st) != 0) return Error::fromErrno("fstat('" + dir.string() + "')");
    // Whoever else owns or may write the directory could swap the files we rotate.
    if (st.st_uid != ::geteuid() || (st.st_mode & 022) != 0) {
      return Error("audit log directory '" + dir.string() +
                   "' must be owned by this user and writable by no one else");
    }
    dir_ = std::move(d);
  }
  UniqueFd f(::openat(dir_.get(), base.c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
  if (!f) return Error::fromErrno("open('" + opts_.path.string() + "')");
  struct stat st {};
  if (::fstat(f.get(), &st) != 0) return Error::fromErrno("fstat('" + opts_.path.string() + "')");
  if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
    return Error("audit log '" + opts_.path.string() + "' is not a regular file of this user");
  if ((st.st_mode & 077) != 0 && ::fchmod(f.get(), 0600) != 0)
    return Error::fromErrno("fchmod('" + opts_.path.string() + "', 0600)");
  fd_ = std::move(f);
  size_ = static_cast<uint64_t>(st.st_size);
  return {};
}

Status Writer::rotateLocked() {
  fd_.reset();
  const std::string base = opts_.path.filename().string();
  // path.(keep-1) -> path.keep ... path -> path.1; the oldest is replaced by rename.
  for (int n = opts_.keep; n >= 1; --n) {
    const std::string from = n == 1 ? base : base + "." + std::to_string(n - 1);
    const std::string to = base + "." + std::to_string(n);
    if (::renameat(dir_.get(), from.c_str(), dir_.get(), to.c_str()) != 0 && errno != ENOENT)
      return Error::fromErrno("rotating the audit log: rename('" + from + "', '" + to + "')");
  }
  if (opts_.keep <= 0 && ::unlinkat(dir_.get(), base.c_str(), 0) != 0 && errno != ENOENT)
    return Error::fromErrno("rotating the audit log: unlink('" + base + "')");
  return openLocked();
}

Status Writer::write(Record r) {
  r.time = formatTime(Clock::now());
  const std::string line = formatLine(r);
  {
    std::lock_guard lock(mu_);
    // Removed behind our back (an admin, logrotate without copytruncate): start a new file
    // rather than write into an unlinked one nobody can read.
    struct stat st {};
    if (fd_ && ::fstat(fd_.get(), &st) == 0 && st.st_nlink == 0) fd_.reset();
    if (!fd_) ECI_TRY(openLocked());
    if (size_ > 0 && size_ + line.size() > opts_.maxBytes) ECI_TRY(rotateLocked());
    // One write(2) with O_APPEND: a line is never interleaved with another writer's.
    const ssize_t n = ::write(fd_.get(), line.data(), line.size());
    if (n < 0) {
      const Error e = Error::fromErrno("write('" + opts_.path.string() + "')");
      fd_.reset();  // reopen next time (the file may have been removed or the disk freed)
      return e;
    }
    size_ += static_cast<uint64_t>(n);
  }
  if (mirror_) mirror_(r, line);
  return {};
}

void RateLimiter::refill(Bucket& b, double rate, double burst, SteadyClock::time_point now) {
  if (b.at == SteadyClock::time_point{}) {
    b.at = now;
    return;
  }
  const double secs = std::chrono::duration<double>(now - b.at).count();
  if (secs > 0) b.tokens = std::min(burst, b.tokens + secs * rate);
  b.at = now;
}

RateLimiter::Verdict RateLimiter::take(const std::string& key, SteadyClock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= opts_.maxKeys) {
      // Forget keys whose bucket refilled completely and owes no report.
      for (auto i = buckets_.begin(); i != buckets_.end();) {
        refill(i->second, opts_.ratePerSec, opts_.burst, now);
        if (i->second.tokens >= opts_.burst && i->second.suppressed == 0)
          i = buckets_.erase(i);
        else
          ++i;
      }
    }
    // Still full: every other key shares one bucket (never an unbounded table).
    const std::string k = buckets_.size() >= opts_.maxKeys ? std::string("*") : key;
    it = buckets_.try_emplace(k, Bucket{opts_.burst, now, 0}).first;
  }
  Bucket& b = it->second;
  refill(b, opts_.ratePerSec, opts_.burst, now);
  refill(global_, opts_.globalRatePerSec, opts_.globalBurst, now);
  if (b.tokens < 1 || global_.tokens < 1) {
    ++b.suppressed;
    ++totalSuppressed_;
    return {false, 0};
  }
  b.tokens -= 1;
  global_.tokens -= 1;
  Verdict v{true, b.suppressed};
  b.suppressed = 0;
  return v;
}

uint64_t RateLimiter::totalSuppressed() const {
  std::lock_guard lock(mu_);
  return totalSuppressed_;
}

}  // namespace eci::audit
