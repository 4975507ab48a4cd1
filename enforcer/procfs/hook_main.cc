// eci-procfs-hook: runc's createRuntime hook that binds the emulated /proc/sys knobs of
// <base>/<container id> over the container's procfs (see eci/procfs/spec.h for why a hook).
// Input: the OCI state on stdin. Output: nothing on success; one error line and exit 1 otherwise,
// which makes runc fail the start (closed) rather than run the container without emulation.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "eci/fs_util.h"
#include "eci/procfs/spec.h"

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "eci-procfs-hook: %s\n", msg.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string base = "/run/eci/procfs";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
      base = argv[++i];
    } else {
      return fail(std::string("unknown argument '") + argv[i] + "' (usage: --base DIR)");
    }
  }
  std::string in;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(0, buf, sizeof buf)) > 0) {
    in.append(buf, static_cast<size_t>(n));
    if (in.size() > (1 << 20)) return fail("state on stdin is larger than 1 MiB");
  }
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("state on stdin: ") + e.what());
  }
  const auto id = state.value("id", std::string());
  const auto bundle = state.value("bundle", std::string());
  const int pid = state.value("pid", 0);
  if (!eci::procfs::validContainerId(id) || bundle.empty() || pid <= 0)
    return fail("state on stdin lacks a valid id, bundle or pid");

  auto cfgText = eci::fs::readFile(std::filesystem::path(bundle) / "config.json", 16 << 20);
  if (!cfgText.ok()) return fail(cfgText.error().str());
  std::string rootPath;
  try {
    rootPath = nlohmann::json::parse(*cfgText).at("root").at("path").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return fail(bundle + "/config.json: /root/path: " + e.what());
  }
  std::filesystem::path rootfs(rootPath);
  if (rootfs.is_relative()) rootfs = std::filesystem::path(bundle) / rootfs;

  const auto mountDir = std::filesystem::path(base) / id;
  auto r = eci::procfs::bindProcSys(pid, rootfs, mountDir);
  if (!r.ok()) return fail("container " + id + ": " + r.error().str());
  return 0;
}
