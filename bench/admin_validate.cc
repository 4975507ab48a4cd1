// `eci-admin validate` of a 10,000-image admin-settings.json as a whole process (exec, dynamic
// loading, static initialisers, parse, schema, semantic checks, exit), next to `eci-admin --help`
// (the start-up floor). Target (issue 15): validate <= 50 ms.
//   bench_admin_validate build/cli/eci-admin [runs]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "settings_gen.h"

extern char** environ;

namespace {

struct Times {
  double wallMedian = -1, wallMin = -1, cpuMedian = -1;  // ms
};

// Wall time (what a user waits) and CPU time (user + sys of the child: what the process costs,
// stable on a loaded machine) of `runs` executions; -1 if a run failed.
Times timeRuns(const std::vector<std::string>& argv, int runs) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  std::vector<double> ms;
  std::vector<double> cpu;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pid_t pid = 0;
    if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) return {};
    int status = 0;
    struct rusage ru {};
    if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return {};
    }
    cpu.push_back((ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  posix_spawn_file_actions_destroy(&fa);
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  return {ms[ms.size() / 2], ms.front(), cpu[cpu.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    (void)std::fprintf(stderr, "usage: %s ECI_ADMIN [runs]\n", argv[0]);
    return 2;
  }
  const std::string admin = argv[1];
  const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 21;
  char path[] = "/tmp/eci-bench-admin-settings-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return 2;
  const std::string file = settingsFile();
  if (write(fd, file.data(), file.size()) != static_cast<ssize_t>(file.size())) return 2;
  close(fd);
  (void)timeRuns({admin, "validate", "--kind", "settings", path}, 2);  // warm the page cache
  const auto help = timeRuns({admin, "--help"}, runs);
  const auto val = timeRuns({admin, "validate", "--kind", "settings", path}, runs);
  unlink(path);
  if (help.wallMedian < 0 || val.wallMedian < 0) {
    (void)std::fprintf(stderr, "eci-admin failed\n");
    return 1;
  }
  (void)std::printf(
      "eci-admin --help:    wall median %6.1f ms  min %6.1f ms  cpu median %6.1f ms\n",
      help.wallMedian, help.wallMin, help.cpuMedian);
  (void)std::printf(
      "eci-admin validate:  wall median %6.1f ms  min %6.1f ms  cpu median %6.1f ms\n"
      "  (10,000 images + 200 commands, %zu KiB; target <= 50 ms: %s)\n",
      val.wallMedian, val.wallMin, val.cpuMedian, file.size() / 1024,
      val.wallMin <= 50 ? "met (min wall)" : "NOT met");
  return 0;
}
