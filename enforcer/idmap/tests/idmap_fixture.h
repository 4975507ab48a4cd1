// The fixture of the eci_idmap kernel tests (idmap_test.cc, idmap_lifecycle_test.cc): root
// required, a temporary directory per test, one range.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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

class IdmapTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::geteuid(), 0u) << "these tests need root"; }
  TempDir tmp_;
  std::string runDir() const { return tmp_.path() + "/run"; }
};

}  // namespace eci::idmap::testing

// What every test file of the fixture uses, by its short name.
namespace eci::idmap {
using testing::EngineLayout;
using testing::IdmapTest;
using testing::kRange;
using testing::statUid;
using testing::TempDir;
namespace fsys = std::filesystem;
}  // namespace eci::idmap
