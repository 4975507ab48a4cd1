// libFuzzer target for the bind-source parsers of untrusted text: overlay mount data (from a spec
// and from mountinfo), a volume's opts.json, and mountinfo itself feeding hostPathsOfMount and the
// volume check. Any input must give a result or an Error: no crash, exception or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mount_sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    switch (selector % 4) {
      case 0:
        (void)eci::runc::overlayPaths(text, (selector & 4) != 0);
        break;
      case 1: {
        auto v = eci::runc::parseVolumeOpts(text);
        if (v.ok()) (void)eci::runc::volumeOptsPaths(*v);
        break;
      }
      case 2: {
        auto t = eci::parseMountInfo(text);
        if (t.ok()) {
          for (const auto& m : *t) (void)eci::runc::hostPathsOfMount(*t, m);
        }
        break;
      }
      default: {
        // A whole volume check against a fuzzed mount table and opts.json.
        const auto cut = text.find('\x01');
        const std::string table = text.substr(0, cut);
        const std::string opts = cut == std::string::npos ? "" : text.substr(cut + 1);
        eci::runc::SpecContext ctx;
        ctx.containerId = "c1";
        ctx.policy = eci::Policy::failClosedDefaults();
        ctx.engineDataRoot = "/var/lib/docker";
        ctx.resolve = [](const std::string& p) { return eci::runc::normalizePath(p); };
        ctx.hostMounts = [&] { return eci::parseMountInfo(table); };
        ctx.readFile = [&](const std::string&) -> eci::Result<std::string> { return opts; };
        ctx.isSocket = [](const std::string&) { return false; };
        (void)eci::runc::checkBindSource("v", "/var/lib/docker/volumes/v/_data", ctx);
        break;
      }
    }
  } catch (const std::exception&) {
    __builtin_trap();
  }
  return 0;
}
