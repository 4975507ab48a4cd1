#include "eci/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

namespace eci::log {
namespace {

std::mutex g_mu;
std::string g_program = "eci";
Sink g_sink;  // empty: stderr
std::atomic<Level> g_level{Level::kInfo};

const char* levelName(Level l) {
  switch (l) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarning:
      return "warning";
    case Level::kError:
      return "error";
  }
  return "?";
}

}  // namespace

void setProgramName(std::string_view name) {
  std::lock_guard lock(g_mu);
  g_program = name;
}
void setSink(Sink sink) {
  std::lock_guard lock(g_mu);
  g_sink = std::move(sink);
}
void setLevel(Level l) {
  g_level.store(l);
}
Level level() {
  return g_level.load();
}

void write(Level lvl, const char* file, int line, const char* fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::lock_guard lock(g_mu);
  if (g_sink) {
    g_sink(lvl, buf);
    return;
  }
  if (lvl == Level::kDebug) {
    fprintf(stderr, "%s: debug: %s (%s:%d)\n", g_program.c_str(), buf, file, line);
  } else {
    fprintf(stderr, "%s: %s: %s\n", g_program.c_str(), levelName(lvl), buf);
  }
}

}  // namespace eci::log
