#include "eci/audit.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace eci::audit {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

struct TempDir {
  stdfs::path path;
  TempDir() {
    char tmpl[] = "/tmp/eci-audit-test.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    stdfs::remove_all(path, ec);
  }
};

Record sample(const std::string& container = "abc123", const std::string& name = "web") {
  Record r;
  r.source = "eci-apiproxyd";
  r.event = "refused";
  r.container = container;
  r.name = name;
  r.image = "busybox:latest";
  r.rule = "privileged";
  r.reason = "host pid namespace";
  return r;
}

TEST(AuditTime, FormatsUtcWithMilliseconds) {
  const auto t = Clock::time_point(std::chrono::milliseconds(1764664897123LL));
  EXPECT_EQ(formatTime(t), "2025-12-02T08:41:37.123Z");
  auto back = parseTime("2025-12-02T08:41:37.123Z");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, t);
}

TEST(AuditTime, ParsesOffsetsAndRefusesJunk) {
  auto a = parseTime("2025-12-02T10:41:37+02:00");
  auto b = parseTime("2025-12-02T08:41:37Z");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  for (const char* bad :
       {"", "2025-12-02", "2025-12-02T08:41:37", "2025-13-02T08:41:37Z", "2025-12-02T08:41:37.Z",
        "2025-12-02T08:41:37Zjunk", "yesterday", "2025-12-02T08:41:37+2:00", "2999-01-01T00:00:00Z",
        "1900-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parseTime(bad).ok()) << bad;
  }
}

TEST(AuditTime, SinceTakesRelativeDurations) {
  const auto now = Clock::time_point(std::chrono::seconds(1000000));
  EXPECT_EQ(*parseSince("10m", now), now - std::chrono::minutes(10));
  EXPECT_EQ(*parseSince("2h", now), now - std::chrono::hours(2));
  EXPECT_EQ(*parseSince("90s", now), now - std::chrono::seconds(90));
  EXPECT_EQ(*parseSince("1d", now), now - std::chrono::hours(24));
  EXPECT_TRUE(parseSince("2025-12-02T08:41:37Z", now).ok());
  EXPECT_FALSE(parseSince("10x", now).ok());
  EXPECT_FALSE(parseSince("m", now).ok());
  EXPECT_FALSE(parseSince("999999999999d", now).ok());  // no overflow
  EXPECT_FALSE(parseSince("99999999d", now).ok());
}

TEST(AuditRecord, LineRoundTripsAndIsOneLine) {
  Record r = sample();
  r.time = "2025-12-02T08:41:37.123Z";
  r.reason = "two\nlines\r\"quoted\"";
  r.extra = json{{"uid", 1000}};
  const std::string line = formatLine(r);
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto back = parseLine(line.substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(*back, r);
}

TEST(AuditRecord, FieldsAreBounded) {
  Record r = sample();
  r.time = formatTime(Clock::now());
  r.reason = std::string(100000, 'x');
  json big = json::object();
  for (int i = 0; i < 500; ++i) big["k" + std::to_string(i)] = std::string(50, 'v');
  r.extra = big;
  const std::string line = formatLine(r);
  EXPECT_LT(line.size(), kMaxLineBytes);
  auto back = parseLine(line.substr(0, line.size() - 1));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->reason.size(), kMaxFieldBytes);
  EXPECT_EQ(back->extra, (json{{"truncated", true}}));
}

TEST(AuditRecord, FromJsonValidates) {
  EXPECT_FALSE(fromJson(json::array(), false).ok());
  EXPECT_FALSE(fromJson(json{{"source", "eci-runc"}}, false).ok());  // no event
  EXPECT_FALSE(fromJson(json{{"source", "eci runc!"}, {"event", "refused"}}, false).ok());
  EXPECT_FALSE(
      fromJson(json{{"source", "eci-runc"}, {"event", "refused"}, {"rule", 3}}, false).ok());
  EXPECT_FALSE(
      fromJson(json{{"source", "eci-runc"}, {"event", "refused"}, {"extra", "x"}}, false).ok());
  EXPECT_FALSE(
      fromJson(json{{"source", "eci-runc"}, {"event", "refused"}, {"bogus", "x"}}, false).ok());
  // No time: fine for a sender (the writer stamps it), not for a line read back.
  EXPECT_TRUE(fromJson(json{{"source", "eci-runc"}, {"event", "refused"}}, false).ok());
  EXPECT_FALSE(fromJson(json{{"source", "eci-runc"}, {"event", "refused"}}, true).ok());
  EXPECT_TRUE(isRemoteSource("eci-runc"));
  EXPECT_TRUE(isRemoteSource("seccomp"));
  EXPECT_FALSE(isRemoteSource("eci-enforcerd"));
}

TEST(AuditRecord, ParseLineRefusesMalformed) {
  for (const char* bad :
       {"", "{", "[]", "null", "{\"time\":\"x\",\"source\":\"a\",\"event\":\"b\"}",
        "{\"source\":\"a\",\"source\":\"b\",\"event\":\"c\",\"time\":\"2025-12-02T08:41:37Z\"}"}) {
    EXPECT_FALSE(parseLine(bad).ok()) << bad;
  }
}

TEST(AuditFilter, ContainerIdPrefixOrName) {
  Record r = sample("0123456789abcdef", "web");
  r.time = "2025-12-02T08:41:37.000Z";
  EXPECT_TRUE(Filter{}.matches(r));
  EXPECT_TRUE((Filter{std::nullopt, "0123"}.matches(r)));
  EXPECT_TRUE((Filter{std::nullopt, "web"}.matches(r)));
  EXPECT_TRUE((Filter{std::nullopt, "/web"}.matches(r)));
  EXPECT_FALSE((Filter{std::nullopt, "we"}.matches(r)));  // names match whole
  EXPECT_FALSE((Filter{std::nullopt, "1234"}.matches(r)));
  Record noId = sample("", "");
  noId.time = r.time;
  EXPECT_FALSE((Filter{std::nullopt, "0"}.matches(noId)));
  EXPECT_TRUE((Filter{*parseTime("2025-12-02T08:41:00Z"), ""}.matches(r)));
  EXPECT_FALSE((Filter{*parseTime("2025-12-02T08:42:00Z"), ""}.matches(r)));
}

TEST(AuditLineSplitter, SplitsAcrossChunksAndDropsOversized) {
  LineSplitter s;
  EXPECT_TRUE(s.feed("ab").empty());
  auto l = s.feed("c\nde\nf");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], "abc");
  EXPECT_EQ(l[1], "de");
  const std::string huge(kMaxLineBytes + 10, 'x');
  EXPECT_TRUE(s.feed(huge).empty());
  l = s.feed("tail\nok\n");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0], "ok");
  EXPECT_EQ(s.dropped(), 1u);
}

TEST(AuditWriter, CreatesRootOnlyFileAndAppendsLines) {
  TempDir t;
  const auto path = t.path / "log" / "audit.log";
  std::vector<std::string> mirrored;
  Writer w({path, 1u << 20, 3},
           [&](const Record&, const std::string& line) { mirrored.push_back(line); });
  ASSERT_TRUE(w.write(sample()).ok());
  ASSERT_TRUE(w.write(sample("def", "db")).ok());
  struct stat st {};
  ASSERT_EQ(::stat((t.path / "log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(mirrored.size(), 2u);
  auto all = readAll(path, {}, 3);
  ASSERT_TRUE(all.ok()) << all.error().str();
  ASSERT_EQ(all->records.size(), 2u);
  EXPECT_EQ(all->records[0].container, "abc123");
  EXPECT_EQ(all->records[1].name, "db");
  EXPECT_TRUE(parseTime(all->records[0].time).ok());
  auto onlyDb = readAll(path, {std::nullopt, "db"}, 3);
  ASSERT_TRUE(onlyDb.ok());
  ASSERT_EQ(onlyDb->records.size(), 1u);
}

TEST(AuditWriter, RotatesBySizeAndKeepsTheBound) {
  TempDir t;
  const auto path = t.path / "audit.log";
  const uint64_t maxBytes = 4096;
  Writer w({path, maxBytes, 2});
  for (int i = 0; i < 500; ++i) {
    Record r = sample("c" + std::to_string(i));
    ASSERT_TRUE(w.write(r).ok());
  }
  uint64_t total = 0;
  for (int n = 0; n <= 2; ++n) {
    const auto p = rotatedPath(path, n);
    ASSERT_TRUE(stdfs::exists(p)) << p;
    EXPECT_LE(stdfs::file_size(p), maxBytes);
    total += stdfs::file_size(p);
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 077, 0u);
  }
  EXPECT_FALSE(stdfs::exists(rotatedPath(path, 3)));
  EXPECT_LE(total, 3 * maxBytes);
  // Reading back: oldest first, ending with the newest record, nothing malformed.
  auto all = readAll(path, {}, 2);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->malformed, 0u);
  ASSERT_FALSE(all->records.empty());
  EXPECT_EQ(all->records.back().container, "c499");
  for (size_t i = 1; i < all->records.size(); ++i) {
    EXPECT_EQ(std::stoi(all->records[i].container.substr(1)),
              std::stoi(all->records[i - 1].container.substr(1)) + 1);
  }
}

TEST(AuditWriter, RefusesSymlinkAndOpenDirectory) {
  TempDir t;
  stdfs::create_directory(t.path / "d");
  ::chmod((t.path / "d").c_str(), 0700);
  stdfs::create_symlink("/etc/passwd-not-there", t.path / "d" / "audit.log");
  Writer w({t.path / "d" / "audit.log", 1u << 20, 1});
  EXPECT_FALSE(w.write(sample()).ok());
  EXPECT_FALSE(stdfs::exists("/etc/passwd-not-there"));

  stdfs::create_directory(t.path / "open");
  ::chmod((t.path / "open").c_str(), 0777);
  Writer w2({t.path / "open" / "audit.log", 1u << 20, 1});
  auto st = w2.write(sample());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().str().find("writable by no one else"), std::string::npos);
}

TEST(AuditWriter, ExistingFileIsMadeRootOnly) {
  TempDir t;
  const auto path = t.path / "audit.log";
  ::chmod(t.path.c_str(), 0700);
  { std::ofstream(path) << ""; }
  ::chmod(path.c_str(), 0644);
  Writer w({path, 1u << 20, 1});
  ASSERT_TRUE(w.write(sample()).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

TEST(AuditWriter, ARemovedFileIsRecreated) {
  TempDir t;
  const auto path = t.path / "audit.log";
  ::chmod(t.path.c_str(), 0700);
  Writer w({path, 1u << 20, 1});
  ASSERT_TRUE(w.write(sample("a")).ok());
  stdfs::remove(path);
  ASSERT_TRUE(w.write(sample("b")).ok());
  auto all = readAll(path, {}, 1);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->records.size(), 1u);
  EXPECT_EQ(all->records[0].container, "b");
}

TEST(AuditReader, SkipsMalformedLines) {
  TempDir t;
  const auto path = t.path / "audit.log";
  Record r = sample();
  r.time = "2025-12-02T08:41:37.000Z";
  std::ofstream(path) << "garbage\n" << formatLine(r) << "{\"half\":\n\n" << formatLine(r);
  auto all = readAll(path, {}, 3);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->records.size(), 2u);
  EXPECT_EQ(all->malformed, 2u);
  EXPECT_FALSE(readAll(t.path / "missing.log", {}, 3).ok());
}

TEST(AuditRateLimiter, BurstThenRateAndReportsSuppressed) {
  RateLimiter rl(
      {.ratePerSec = 1, .burst = 3, .globalRatePerSec = 1000, .globalBurst = 1000, .maxKeys = 16});
  const auto t0 = RateLimiter::SteadyClock::time_point(std::chrono::seconds(100));
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += rl.take("hammer", t0).allow ? 1 : 0;
  EXPECT_EQ(allowed, 3);
  // Another container is not slowed by the first.
  EXPECT_TRUE(rl.take("quiet", t0).allow);
  // One second later one more passes, carrying the count of what was dropped.
  auto v = rl.take("hammer", t0 + std::chrono::seconds(1));
  EXPECT_TRUE(v.allow);
  EXPECT_EQ(v.suppressed, 97u);
  EXPECT_EQ(rl.totalSuppressed(), 97u);
}

TEST(AuditRateLimiter, GlobalBucketAndKeyTableAreBounded) {
  RateLimiter rl(
      {.ratePerSec = 1, .burst = 1, .globalRatePerSec = 1, .globalBurst = 10, .maxKeys = 4});
  const auto t0 = RateLimiter::SteadyClock::time_point(std::chrono::seconds(100));
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += rl.take("k" + std::to_string(i), t0).allow ? 1 : 0;
  EXPECT_LE(allowed, 10);
  EXPECT_GE(allowed, 1);
}

TEST(AuditWriter, ConcurrentWritersNeverInterleave) {
  TempDir t;
  const auto path = t.path / "audit.log";
  Writer w({path, 64 * 1024, 3});
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) (void)w.write(sample("t" + std::to_string(k)));
    });
  }
  for (auto& th : threads) th.join();
  auto all = readAll(path, {}, 3);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->malformed, 0u);
  EXPECT_GT(all->records.size(), 0u);
}

}  // namespace
}  // namespace eci::audit
