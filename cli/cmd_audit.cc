// `eci-admin audit [--follow] [--since T] [--container X] [--format table|json] [--file P]`: the
// audit log eci-enforcerd writes (eci/audit.h, docs/audit.md): every refusal and policy push, one
// JSON object per line. Reads the rotated files oldest first, then the current one; --follow
// keeps reading the current file across rotations until interrupted.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "commands.h"
#include "eci/audit.h"
#include "eci/unique_fd.h"

namespace eci::cli {
namespace {

// eci-enforcerd's --audit-keep allows at most 100 rotated files; missing ones are skipped.
constexpr int kMaxRotated = 100;

struct AuditOptions {
  std::string file = audit::kDefaultLogPath;
  std::string since;
  std::string container;
  std::string format = "table";
  bool follow = false;
};

std::string cut(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n);
}

void printHeader(const AuditOptions& o) {
  static bool done = false;
  if (done || o.format != "table") return;
  done = true;
  std::printf("%-24s %-13s %-15s %-12s %-16s %-20s %-16s %s\n", "TIME", "SOURCE", "EVENT",
              "CONTAINER", "NAME", "IMAGE", "RULE", "REASON");
}

void printRecord(const AuditOptions& o, const audit::Record& r) {
  printHeader(o);
  if (o.format == "json") {
    std::fputs(audit::formatLine(r).c_str(), stdout);
  } else {
    std::string reason = r.reason;
    if (r.extra.is_object() && r.extra.contains("suppressed"))
      reason += " (" + r.extra["suppressed"].dump() + " more suppressed before this)";
    std::printf("%-24s %-13s %-15s %-12s %-16s %-20s %-16s %s\n", r.time.c_str(), r.source.c_str(),
                r.event.c_str(), cut(r.container, 12).c_str(), cut(r.name, 16).c_str(),
                cut(r.image, 20).c_str(), cut(r.rule, 16).c_str(), reason.c_str());
  }
  std::fflush(stdout);
}

std::string openError(const std::string& path, int err) {
  if (err == EACCES || err == EPERM)
    return path + ": " + std::strerror(err) + " (the audit log is root-only: run as root)";
  if (err == ENOENT)
    return "no audit log at " + path +
           " (nothing audited yet, or eci-enforcerd writes elsewhere: --file)";
  return path + ": " + std::strerror(err);
}

// Tails `path` from its start: prints what `filter` matches, and when the file is rotated (a new
// inode at `path`) finishes the old one and goes on with the new. Runs until killed. Two rotations
// within one 200 ms poll would skip the file in between; eci-enforcerd's rate limits keep the log
// far below that (about 8 MiB per 200 ms).
int follow(const AuditOptions& o, const audit::Filter& filter) {
  UniqueFd fd;
  ino_t ino = 0;
  audit::LineSplitter split;
  off_t offset = 0;
  for (;;) {
    if (!fd) {
      fd = UniqueFd(::open(o.file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
      struct stat st {};
      if (fd && ::fstat(fd.get(), &st) == 0) {
        ino = st.st_ino;
        offset = 0;
        split = audit::LineSplitter();
      } else if (!fd && errno != ENOENT) {
        std::fprintf(stderr, "eci-admin audit: %s\n", openError(o.file, errno).c_str());
        return 2;
      }
    }
    bool rotated = false;
    if (fd) {
      struct stat now {};
      // Truncated under us (copytruncate): start over at the top.
      if (::fstat(fd.get(), &now) == 0 && now.st_size < offset) {
        ::lseek(fd.get(), 0, SEEK_SET);
        offset = 0;
      }
      struct stat at {};
      rotated = ::stat(o.file.c_str(), &at) != 0 || at.st_ino != ino;
      char buf[64 * 1024];
      ssize_t n;
      // Read to the end (after a rotation: what was written before it, then switch files).
      while ((n = ::read(fd.get(), buf, sizeof buf)) > 0) {
        offset += n;
        for (const auto& line : split.feed(std::string_view(buf, static_cast<size_t>(n)))) {
          auto r = audit::parseLine(line);
          if (r.ok() && filter.matches(*r)) printRecord(o, *r);
        }
      }
      if (rotated) fd.reset();
    }
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int runAudit(const AuditOptions& o) {
  audit::Filter filter;
  filter.container = o.container;
  if (!o.since.empty()) {
    auto t = audit::parseSince(o.since);
    if (!t.ok()) {
      std::fprintf(stderr, "eci-admin audit: %s\n", t.error().str().c_str());
      return 2;
    }
    filter.since = *t;
  }
  size_t malformed = 0;
  bool any = false;
  // Rotated files first, oldest first; --follow then reads the current one itself.
  for (int n = kMaxRotated; n >= (o.follow ? 1 : 0); --n) {
    const auto p = audit::rotatedPath(o.file, n);
    auto res = audit::readAll(p, filter, 0);
    if (!res.ok()) {
      if (res.error().kind() == ErrorKind::kNotFound) continue;
      std::fprintf(stderr, "eci-admin audit: %s\n",
                   res.error().isSystem() ? openError(p.string(), res.error().code()).c_str()
                                          : res.error().str().c_str());
      return 2;
    }
    any = true;
    malformed += res->malformed;
    for (const auto& r : res->records) printRecord(o, r);
  }
  if (malformed > 0) {
    std::fprintf(stderr, "eci-admin audit: %zu malformed line(s) skipped\n", malformed);
  }
  if (o.follow) {
    printHeader(o);
    return follow(o, filter);
  }
  if (!any) {
    std::fprintf(stderr, "eci-admin audit: %s\n", openError(o.file, ENOENT).c_str());
    return 2;
  }
  printHeader(o);
  return 0;
}

}  // namespace

void registerAudit(CLI::App& app, int& exitCode) {
  auto opts = std::make_shared<AuditOptions>();
  CLI::App* cmd = app.add_subcommand(
      "audit", "Show the audit log: every refusal and policy push eci-enforcerd recorded");
  cmd->add_flag("-f,--follow", opts->follow, "Keep printing new records (across rotations)");
  cmd->add_option("--since", opts->since,
                  "Only records from this time on: RFC 3339 (2026-12-02T08:00:00Z) or a "
                  "duration back from now (90s, 10m, 2h, 7d)");
  cmd->add_option("--container", opts->container, "Only this container: id prefix or name");
  cmd->add_option("--format", opts->format, "Output format")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  cmd->add_option("--file", opts->file, "The audit log (eci-enforcerd's --audit-log)")
      ->capture_default_str();
  cmd->callback([opts, &exitCode] { exitCode = runAudit(*opts); });
}

}  // namespace eci::cli
