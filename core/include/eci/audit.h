// The audit log: one JSON object per line for every refusal (spec refusals at eci-runc, socket and
// command refusals at the API guard, denied trapped syscalls) and every policy push, accepted or
// refused. eci-enforcerd is its only writer (other processes send it records over the control
// socket); `eci-admin audit` reads it. Format and bounds: docs/audit.md.
//
//   {"time":"2026-12-02T08:41:37.123Z","source":"eci-apiproxyd","event":"refused",
//    "container":"<id or empty>","name":"<name>","image":"busybox:latest","rule":"privileged",
//    "reason":"...","extra":{...}}
//
// Pure parts (format, parse, filter, rate limiter) are unit-tested and the line parser is fuzzed
// (core/fuzz/audit_line_fuzzer.cc); the Writer owns the file: root-only, append-only, rotated by
// size, so the log can never take more than (keep + 1) * maxBytes of disk.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eci/error.h"
#include "eci/unique_fd.h"

namespace eci::audit {

inline constexpr const char* kDefaultLogPath = "/var/log/eci/audit.log";
// Each string field is cut to this many bytes, `extra` to kMaxExtraBytes of JSON: a line is at
// most a few KiB whatever a sender puts in it.
inline constexpr size_t kMaxFieldBytes = 1024;
inline constexpr size_t kMaxExtraBytes = 2048;
inline constexpr size_t kMaxLineBytes = 16 * 1024;

using Clock = std::chrono::system_clock;

struct Record {
  std::string time;       // RFC 3339 UTC with milliseconds; the writer stamps it
  std::string source;     // eci-runc | eci-apiproxyd | eci-enforcerd | seccomp
  std::string event;      // refused | policy-accepted | policy-refused | ...
  std::string container;  // full container id, empty when there is none (a refused create)
  std::string name;       // container name, if known
  std::string image;
  std::string rule;
  std::string reason;
  nlohmann::json extra;  // null, or an object of further facts

  bool operator==(const Record&) const = default;
};

// "2026-12-02T08:41:37.123Z".
std::string formatTime(Clock::time_point t);
// RFC 3339: "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" (also 't', 'z', or ' ' between date and
// time).
Result<Clock::time_point> parseTime(std::string_view text);
// --since: RFC 3339, or a relative duration back from `now`: "90s", "10m", "2h", "7d".
Result<Clock::time_point> parseSince(std::string_view text, Clock::time_point now = Clock::now());

// Sources another process may send records for (eci-enforcerd writes its own directly).
bool isRemoteSource(std::string_view source);

// Record <-> JSON. fromJson checks types (strings; extra an object) and bounds (fields cut to
// kMaxFieldBytes; an oversized extra is replaced by {"truncated":true}); `requireTime` for lines
// read back from the file, where time must parse.
nlohmann::json toJson(const Record& r);
Result<Record> fromJson(const nlohmann::json& j, bool requireTime);

// One line, '\n'-terminated, never longer than kMaxLineBytes; invalid UTF-8 is replaced.
std::string formatLine(const Record& r);
// A line from the file (without its '\n'). Strict: one JSON object, no duplicate keys, time parses.
Result<Record> parseLine(std::string_view line);

// What `eci-admin audit` shows.
struct Filter {
  std::optional<Clock::time_point> since;
  // A container id prefix or an exact container name; empty: every record.
  std::string container;
  bool matches(const Record& r) const;
};

// Rotated file names: path, path.1 (newest rotated) ... path.keep.
std::filesystem::path rotatedPath(const std::filesystem::path& path, int n);

struct ReadResult {
  std::vector<Record> records;  // oldest first
  size_t malformed = 0;         // lines skipped
};
// Reads path.keep ... path.1, path (those that exist) and keeps what `filter` matches.
Result<ReadResult> readAll(const std::filesystem::path& path, const Filter& filter, int keep);

// Splits a byte stream into lines; a line longer than kMaxLineBytes is dropped (counted).
class LineSplitter {
 public:
  // Appends `chunk` and returns the complete lines it finished (without '\n').
  std::vector<std::string> feed(std::string_view chunk);
  size_t dropped() const { return dropped_; }

 private:
  std::string buf_;
  bool skipping_ = false;  // inside an oversized line: drop up to its '\n'
  size_t dropped_ = 0;
};

class Writer {
 public:
  struct Options {
    std::filesystem::path path = kDefaultLogPath;
    uint64_t maxBytes = 8u << 20;  // rotate before the file would exceed this
    int keep = 3;                  // rotated files kept: path.1 .. path.keep
  };
  // Called with every record written (eci-enforcerd: journald).
  using Mirror = std::function<void(const Record& r, const std::string& line)>;

  explicit Writer(Options options, Mirror mirror = {});
  // Stamps r.time (now), appends one line (one write(2), O_APPEND), rotating first when the file
  // would grow past maxBytes. Creates the directory 0700 and the file 0600; refuses a directory
  // or file that is not the writer's own, or that others may write, and never follows a symlink
  // for the file. Thread-safe. On error nothing is written (the caller logs it).
  Status write(Record r);
  const Options& options() const { return opts_; }

 private:
  Status openLocked();
  Status rotateLocked();

  const Options opts_;
  Mirror mirror_;
  std::mutex mu_;
  UniqueFd dir_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

// Token buckets per key (a container id, or a source without one): a container that hammers a
// denied call gets `burst` records at once and then `ratePerSec`; what it loses is counted and
// reported on its next record that passes. The key table is bounded (idle keys are evicted; past
// maxKeys the rest share one bucket), and one global bucket bounds the total.
class RateLimiter {
 public:
  struct Options {
    double ratePerSec = 5;
    double burst = 20;
    double globalRatePerSec = 200;
    double globalBurst = 1000;
    size_t maxKeys = 4096;
  };
  struct Verdict {
    bool allow = false;
    uint64_t suppressed = 0;  // when allowed: records of this key dropped since its last one
  };
  using SteadyClock = std::chrono::steady_clock;

  explicit RateLimiter(Options options) : opts_(options), global_{options.globalBurst, {}, 0} {}
  RateLimiter() : RateLimiter(Options{}) {}
  Verdict take(const std::string& key, SteadyClock::time_point now = SteadyClock::now());
  uint64_t totalSuppressed() const;

 private:
  struct Bucket {
    double tokens;
    SteadyClock::time_point at;
    uint64_t suppressed;
  };
  static void refill(Bucket& b, double rate, double burst, SteadyClock::time_point now);

  const Options opts_;
  mutable std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
  Bucket global_;
  uint64_t totalSuppressed_ = 0;
};

}  // namespace eci::audit
