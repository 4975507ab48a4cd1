// Logging. Library code logs at debug level only (and rarely); binaries choose the sink and log
// once at their boundary. Messages are printf-style and format-checked by the compiler.
#pragma once

#include <functional>
#include <string_view>

namespace eci::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// A sink receives fully formatted lines (no trailing newline).
using Sink = std::function<void(Level, std::string_view line)>;

// Default sink: stderr, "eci-<prog>: <level>: message". Thread-safe.
void setProgramName(std::string_view name);
void setSink(Sink sink);
void setLevel(Level level);
Level level();

void write(Level level, const char* file, int line, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

}  // namespace eci::log

#define ECI_LOG(lvl, ...)                                               \
  do {                                                                  \
    if (static_cast<int>(lvl) >= static_cast<int>(::eci::log::level())) \
      ::eci::log::write(lvl, __FILE__, __LINE__, __VA_ARGS__);          \
  } while (0)
#define LOG_DEBUG(...) ECI_LOG(::eci::log::Level::kDebug, __VA_ARGS__)
#define LOG_INFO(...) ECI_LOG(::eci::log::Level::kInfo, __VA_ARGS__)
#define LOG_WARN(...) ECI_LOG(::eci::log::Level::kWarning, __VA_ARGS__)
#define LOG_ERROR(...) ECI_LOG(::eci::log::Level::kError, __VA_ARGS__)
