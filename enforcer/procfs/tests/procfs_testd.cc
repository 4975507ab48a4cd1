// eci-procfs-testd: hosts eci::procfs::Manager outside eci-enforcerd for the end-to-end tests, so
// the FUSE server can be killed on purpose. Line protocol on stdin, one reply line on stdout:
//   add ID UID GID   -> "ok <dir>" | "err <message>"
//   remove ID        -> "ok" | "err <message>"
//   health           -> "ok <unhealthy count> <containers>"
//   status ID        -> "ok <one-line JSON of Manager::status(ID)>" | "err <message>"
// EOF on stdin stops every session and exits.
// `eci-procfs-testd --spec CONFIG ID BASE HOOK` instead rewrites CONFIG (an OCI config.json) in
// place with addProcfsToSpec, as eci-runc does.
#include <iostream>
#include <sstream>
#include <string>

#include "eci/fs_util.h"
#include "eci/procfs/manager.h"
#include "eci/procfs/spec.h"

namespace {

int rewriteSpec(const std::string& config, const std::string& id, const std::string& base,
                const std::string& hook) {
  auto text = eci::fs::readFile(config, 1 << 20);
  if (!text.ok()) {
    std::cerr << text.error().str() << std::endl;
    return 1;
  }
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    std::cerr << config << ": " << e.what() << std::endl;
    return 1;
  }
  if (auto st = eci::procfs::addProcfsToSpec(spec, id, base, hook); !st.ok()) {
    std::cerr << st.error().str() << std::endl;
    return 1;
  }
  if (auto st = eci::fs::writeFileAtomic(config, spec.dump(2), 0644); !st.ok()) {
    std::cerr << st.error().str() << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::string(argv[1]) == "--spec")
    return rewriteSpec(argv[2], argv[3], argv[4], argv[5]);
  eci::procfs::ManagerOptions opt;
  if (argc > 1) opt.base = argv[1];
  eci::procfs::Manager mgr(opt);
  if (auto st = mgr.cleanupStale(); !st.ok()) std::cout << "warn " << st.error().str() << std::endl;
  std::cout << "ready" << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd, id;
    in >> cmd;
    if (cmd == "add") {
      unsigned uid = 0, gid = 0;
      in >> id >> uid >> gid;
      auto r = mgr.add({id, uid, gid});
      if (r.ok())
        std::cout << "ok " << r->string() << std::endl;
      else
        std::cout << "err " << r.error().str() << std::endl;
    } else if (cmd == "remove") {
      in >> id;
      auto st = mgr.remove(id);
      std::cout << (st.ok() ? "ok" : "err " + st.error().str()) << std::endl;
    } else if (cmd == "status") {
      in >> id;
      auto r = mgr.status(id);
      if (r.ok())
        std::cout << "ok " << r->dump() << std::endl;
      else
        std::cout << "err " << r.error().str() << std::endl;
    } else if (cmd == "health") {
      const auto bad = mgr.checkHealth();
      std::cout << "ok " << bad << " " << mgr.size() << std::endl;
    } else {
      std::cout << "err unknown command '" << cmd << "'" << std::endl;
    }
  }
  return 0;
}
