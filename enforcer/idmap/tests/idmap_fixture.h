// The fixture of the eci_idmap kernel tests (idmap_test.cc, idmap_lifecycle_test.cc): root
// required, a temporary directory per test, one range.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "eci/idmap/idmap.h"
#include "test_util.h"

namespace eci::idmap::testing {

inline constexpr IdRange kRange{100000, 65536};

inline std::string statUid(const std::string& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) return std::string("error: ") + std::strerror(errno);
  return std::to_string(st.st_uid);
}

// The start most kernel tests share, as eci-runc's create does it: the engine's overlay under
// `tmpDir` (makeEngineLayout), container `id`'s layout under `runDir`, its ContainerFs begun
// with kRange, and (unless `mountRootfs` is false) its ID-mapped rootfs over the engine's
// overlay. A failed step is a test failure (ADD_FAILURE) and leaves `ready` false: check it
// with ASSERT_TRUE before using the rest. Members are destroyed in reverse order, so an
// uncommitted ContainerFs is rolled back before anything else goes.
struct StartedContainer {
  EngineLayout engine;
  std::optional<Layout> layout;
  std::optional<ContainerFs> cfs;
  std::string root;  // the mounted rootfs; empty without mountRootfs
  bool ready = false;
};

inline StartedContainer startContainer(const std::string& tmpDir, const std::string& runDir,
                                       const std::string& id, bool withBusybox = false,
                                       bool mountRootfs = true) {
  StartedContainer c;
  c.engine = makeEngineLayout(tmpDir, withBusybox);
  auto layout = Layout::make(runDir, id);
  if (!layout.ok()) {
    ADD_FAILURE() << "Layout::make: " << layout.error().str();
    return c;
  }
  c.layout.emplace(std::move(*layout));
  auto cfs = ContainerFs::begin(*c.layout, kRange, kRange);
  if (!cfs.ok()) {
    ADD_FAILURE() << "ContainerFs::begin: " << cfs.error().str();
    return c;
  }
  c.cfs.emplace(std::move(*cfs));
  if (mountRootfs) {
    auto opts = overlayOptionsAt(c.engine.merged);
    if (!opts.ok()) {
      ADD_FAILURE() << "overlayOptionsAt: " << opts.error().str();
      return c;
    }
    auto root = c.cfs->mountRootfs(*opts);
    if (!root.ok()) {
      ADD_FAILURE() << "mountRootfs: " << root.error().str();
      return c;
    }
    c.root = *root;
  }
  c.ready = true;
  return c;
}

class IdmapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::geteuid(), 0u) << "these tests need root"; }
  TempDir tmp_;
  std::string runDir() const { return tmp_.path() + "/run"; }
  StartedContainer start(const std::string& id, bool mountRootfs = true) const {
    return startContainer(tmp_.path(), runDir(), id, /*withBusybox=*/false, mountRootfs);
  }
};

}  // namespace eci::idmap::testing

// What every test file of the fixture uses, by its short name.
namespace eci::idmap {
using testing::EngineLayout;
using testing::IdmapTest;
using testing::kRange;
using testing::startContainer;
using testing::StartedContainer;
using testing::statUid;
using testing::TempDir;
namespace fsys = std::filesystem;
}  // namespace eci::idmap
