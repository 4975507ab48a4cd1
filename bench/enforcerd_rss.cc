// eci-enforcerd footprint and create latency: starts the real daemon on private paths, makes N
// live allocations (fake containers whose bundle dirs exist, so reconcile keeps them), then
// reports the daemon's RSS (VmRSS, VmHWM), thread count and create latencies, sequential and
// with 50 concurrent clients.
// usage: bench_enforcerd_rss ENFORCERD_BIN [N=100]
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "eci/enforcer_client.h"

extern char** environ;

namespace {

std::string procStatus(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s ENFORCERD_BIN [N]\n", argv[0]);
    return 2;
  }
  const int n = argc > 2 ? std::atoi(argv[2]) : 100;
  char tmpl[] = "/tmp/eci-bench-enforcerd.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 2;
  const std::filesystem::path dir = tmpl;
  std::filesystem::create_directories(dir / "keys");
  const std::string control = (dir / "run/enforcer.sock").string();
  std::vector<std::string> args = {argv[1],
                                   "--control-socket",
                                   control,
                                   "--push-socket",
                                   (dir / "run/push.sock").string(),
                                   "--state-dir",
                                   (dir / "state").string(),
                                   "--trusted-keys",
                                   (dir / "keys").string()};
  std::vector<char*> av;
  for (auto& a : args) av.push_back(a.data());
  av.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  if (posix_spawn(&pid, av[0], &fa, nullptr, av.data(), environ) != 0) return 2;
  eci::enforcer::Client client(control);
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    up = client.status().ok();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  int rc = 0;
  if (!up) {
    std::fprintf(stderr, "eci-enforcerd did not start\n");
    rc = 1;
  } else {
    std::printf("idle:                 VmRSS %s, threads %s\n", procStatus(pid, "VmRSS").c_str(),
                procStatus(pid, "Threads").c_str());
    std::vector<double> seq;
    for (int i = 0; i < n; ++i) {
      const std::string id = "bench" + std::to_string(i);
      std::filesystem::create_directories(dir / "bundles" / id);
      const auto t0 = std::chrono::steady_clock::now();
      auto g = client.create(id, (dir / "bundles" / id).string(), (dir / "runc").string());
      seq.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      if (!g.ok()) {
        std::fprintf(stderr, "create %s: %s\n", id.c_str(), g.error().str().c_str());
        rc = 1;
        break;
      }
    }
    std::printf("%d live allocations: VmRSS %s, VmHWM %s, threads %s\n", n,
                procStatus(pid, "VmRSS").c_str(), procStatus(pid, "VmHWM").c_str(),
                procStatus(pid, "Threads").c_str());
    std::printf(
        "sequential create:    median %.2f ms, p99 %.2f ms (one fsync'd state write each)\n",
        pct(seq, 0.5), pct(seq, 0.99));
    std::vector<double> conc(50);
    std::vector<std::thread> threads;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) {
      threads.emplace_back([&, i] {
        const std::string id = "conc" + std::to_string(i);
        std::filesystem::create_directories(dir / "bundles" / id);
        eci::enforcer::Client c(control);
        const auto s = std::chrono::steady_clock::now();
        auto g = c.create(id, (dir / "bundles" / id).string(), (dir / "runc").string());
        conc[i] =
            g.ok() ? std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s)
                         .count()
                   : -1;
      });
    }
    for (auto& t : threads) t.join();
    const double wall =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (std::count(conc.begin(), conc.end(), -1.0) > 0) rc = 1;
    std::printf("50 concurrent creates: wall %.1f ms, median %.2f ms, max %.2f ms\n", wall,
                pct(conc, 0.5), pct(conc, 1.0));
    std::printf("%d live allocations: VmRSS %s, VmHWM %s, threads %s\n", n + 50,
                procStatus(pid, "VmRSS").c_str(), procStatus(pid, "VmHWM").c_str(),
                procStatus(pid, "Threads").c_str());
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  return rc;
}
