// Grant records of a guard older than the state directory (grant_migrate.h): what the old guard
// wrote (<socketDir>/<token>/grant.json, fs::writeFileAtomic 0600, as its writeGrantRecord did
// before e496217) is moved into the GrantStore; anything else is refused and left in place. The
// e2e part (a real container's record moved back to the old layout, the guard restarted) is
// tests/e2e/apiproxy_restart_test.sh, section 9.
#include "grant_migrate.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "eci/fs_util.h"
#include "grant_store.h"
#include "grant_test_ids.h"
#include "reserve.h"

namespace eci::apiproxy {
namespace {

using grant_ids::kId;
using grant_ids::kImage;
using grant_ids::kTok;

namespace stdfs = std::filesystem;

const std::string kTok2 = "fedcba9876543210fedcba9876543210";

std::string slurp(const stdfs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class GrantMigrate : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the records must be root's)";
    char tmpl[] = "/tmp/eci-grant-migrate-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    socketDir_ = root_ / "run-sockets";
    stdfs::create_directory(socketDir_);
    ASSERT_EQ(::chmod(socketDir_.c_str(), 0711), 0);
    store_.emplace(root_ / "var-lib-eci-apiproxy");
    ASSERT_TRUE(store_->prepare().ok());
  }
  void TearDown() override {
    if (!root_.empty()) stdfs::remove_all(root_);
  }
  stdfs::path oldFile(const std::string& name) const { return socketDir_ / name / "grant.json"; }
  // The old guard: the token's socket directory (root 0711) and, next to the socket, its
  // record written by fs::writeFileAtomic with mode 0600 (readGrantRecord/writeGrantRecord
  // before e496217). `text` replaces the record's JSON for malformed ones.
  void writeOld(const std::string& name, const GrantRecord& r,
                std::optional<std::string> text = std::nullopt) const {
    const stdfs::path dir = socketDir_ / name;
    stdfs::create_directory(dir);
    ASSERT_EQ(::chmod(dir.c_str(), 0711), 0);
    ASSERT_TRUE(fs::writeFileAtomic(oldFile(name), text ? *text : grantRecordJson(r), 0600).ok());
  }
  GrantMigration migrate() const {
    auto m = migrateOldGrantRecords(socketDir_, *store_);
    EXPECT_TRUE(m.ok()) << m.error().str();
    return m.ok() ? *m : GrantMigration{-1, -1, -1};
  }
  // Refused: counted, the old file where it was, nothing in the store.
  void expectRefusedAndLeft(const std::string& name, const std::string& why) const {
    const GrantMigration m = migrate();
    EXPECT_EQ(m.refused, 1) << why;
    EXPECT_EQ(m.migrated, 0) << why;
    EXPECT_EQ(m.superseded, 0) << why;
    EXPECT_TRUE(stdfs::exists(stdfs::symlink_status(oldFile(name)))) << why;
    EXPECT_TRUE(store_->tokens().empty()) << why;
  }

  stdfs::path root_;
  stdfs::path socketDir_;
  std::optional<GrantStore> store_;
};

TEST_F(GrantMigrate, WhatTheOldGuardWroteIsStoredAndTheOldFileRemoved) {
  const GrantRecord r1{kId, kImage, 1000, 1001};
  const GrantRecord r2{std::string(64, 'c'), "sha256:" + std::string(64, 'd'), 0, 0};
  writeOld(kTok, r1);
  writeOld(kTok2, r2);
  // The dead socket next to it (a regular file here) is not the migration's: it stays.
  std::ofstream(socketDir_ / kTok / "docker.sock") << "";
  const std::string oldText = slurp(oldFile(kTok));

  const GrantMigration m = migrate();
  EXPECT_EQ(m.migrated, 2);
  EXPECT_EQ(m.refused, 0);
  EXPECT_EQ(m.superseded, 0);
  auto back = store_->load(kTok);  // the store's own strict reader accepts it
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(back->containerId, r1.containerId);
  EXPECT_EQ(back->imageId, r1.imageId);
  EXPECT_EQ(back->uid, 1000u);
  EXPECT_EQ(back->gid, 1001u);
  EXPECT_EQ(slurp(store_->fileOf(kTok)), oldText);  // the same record, byte for byte
  auto back2 = store_->load(kTok2);
  ASSERT_TRUE(back2.ok()) << back2.error().str();
  EXPECT_EQ(back2->containerId, r2.containerId);
  EXPECT_EQ(back2->uid, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(store_->fileOf(kTok).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Only the old record went: its directory and the socket stay (the container binds it).
  EXPECT_FALSE(stdfs::exists(oldFile(kTok)));
  EXPECT_FALSE(stdfs::exists(oldFile(kTok2)));
  EXPECT_TRUE(stdfs::is_directory(socketDir_ / kTok));
  EXPECT_TRUE(stdfs::exists(socketDir_ / kTok / "docker.sock"));
  // Once is all: a second start finds nothing to do.
  const GrantMigration again = migrate();
  EXPECT_EQ(again.migrated + again.refused + again.superseded, 0);
  EXPECT_TRUE(store_->load(kTok).ok());
}

TEST_F(GrantMigrate, ARecordInTheStateDirectoryWins) {
  ASSERT_TRUE(store_->store(kTok, {kId, kImage, 2000, 2000}).ok());
  writeOld(kTok, {kId, kImage, 1000, 1000});
  const GrantMigration m = migrate();
  EXPECT_EQ(m.superseded, 1);
  EXPECT_EQ(m.migrated, 0);
  EXPECT_EQ(m.refused, 0);
  EXPECT_EQ(store_->load(kTok)->uid, 2000u);  // the newer one kept
  EXPECT_FALSE(stdfs::exists(oldFile(kTok)));
  // Even a new record the store will not load is not replaced by an older one (fail closed:
  // load() refuses it and the socket stays dead).
  ASSERT_EQ(::chmod(store_->fileOf(kTok).c_str(), 0644), 0);
  writeOld(kTok, {kId, kImage, 1000, 1000});
  EXPECT_EQ(migrate().superseded, 1);
  EXPECT_FALSE(store_->load(kTok).ok());
  ASSERT_EQ(::chmod(store_->fileOf(kTok).c_str(), 0600), 0);
  EXPECT_EQ(store_->load(kTok)->uid, 2000u);
}

TEST_F(GrantMigrate, ASymlinkedRecordIsRefusedAndLeft) {
  // A good record elsewhere, and grant.json a symlink to it.
  const stdfs::path elsewhere = root_ / "elsewhere.json";
  ASSERT_TRUE(fs::writeFileAtomic(elsewhere, grantRecordJson({kId, kImage, 1000, 1000})).ok());
  stdfs::create_directory(socketDir_ / kTok);
  ASSERT_EQ(::chmod((socketDir_ / kTok).c_str(), 0711), 0);
  stdfs::create_symlink(elsewhere, oldFile(kTok));
  expectRefusedAndLeft(kTok, "symlinked grant.json");
  EXPECT_TRUE(stdfs::is_symlink(oldFile(kTok)));
  EXPECT_TRUE(stdfs::exists(elsewhere));  // never followed, never removed
}

TEST_F(GrantMigrate, ASymlinkedTokenDirectoryIsRefusedAndLeft) {
  const stdfs::path real = root_ / "real-dir";
  stdfs::create_directory(real);
  ASSERT_EQ(::chmod(real.c_str(), 0711), 0);
  ASSERT_TRUE(
      fs::writeFileAtomic(real / "grant.json", grantRecordJson({kId, kImage, 1000, 1000})).ok());
  stdfs::create_directory_symlink(real, socketDir_ / kTok);
  expectRefusedAndLeft(kTok, "symlinked token directory");
  EXPECT_TRUE(stdfs::exists(real / "grant.json"));
}

TEST_F(GrantMigrate, RecordsOthersCouldTouchAreRefusedAndLeft) {
  const GrantRecord r{kId, kImage, 1000, 1000};
  // The old guard wrote 0600 and its reader refused any group or other bit: so does this.
  const mode_t modes[] = {0620, 0602, 0660, 0640, 0604, 0644};
  for (mode_t mode : modes) {
    writeOld(kTok, r);
    ASSERT_EQ(::chmod(oldFile(kTok).c_str(), mode), 0);
    expectRefusedAndLeft(kTok, "mode " + std::to_string(mode));
  }
  // Owned by someone else (root's mode bits, a user's file).
  writeOld(kTok, r);
  ASSERT_EQ(::chown(oldFile(kTok).c_str(), 1000, 1000), 0);
  expectRefusedAndLeft(kTok, "grant.json owned by uid 1000");
  // The token directory someone else's, or writable by others.
  writeOld(kTok, r);
  ASSERT_EQ(::chown((socketDir_ / kTok).c_str(), 1000, 1000), 0);
  expectRefusedAndLeft(kTok, "token directory owned by uid 1000");
  ASSERT_EQ(::chown((socketDir_ / kTok).c_str(), 0, 0), 0);
  ASSERT_EQ(::chmod((socketDir_ / kTok).c_str(), 0731), 0);
  expectRefusedAndLeft(kTok, "group-writable token directory");
  // Put right, the same record migrates (the refusals above were for what they say).
  ASSERT_EQ(::chmod((socketDir_ / kTok).c_str(), 0711), 0);
  EXPECT_EQ(migrate().migrated, 1);
  EXPECT_TRUE(store_->load(kTok).ok());
}

TEST_F(GrantMigrate, NotARegularFileIsRefused) {
  stdfs::create_directory(socketDir_ / kTok);
  ASSERT_EQ(::chmod((socketDir_ / kTok).c_str(), 0711), 0);
  // A FIFO: opened without blocking the start, refused.
  ASSERT_EQ(::mkfifo(oldFile(kTok).c_str(), 0600), 0);
  expectRefusedAndLeft(kTok, "FIFO");
  stdfs::remove(oldFile(kTok));
  stdfs::create_directory(oldFile(kTok));
  ASSERT_EQ(::chmod(oldFile(kTok).c_str(), 0700), 0);
  expectRefusedAndLeft(kTok, "directory");
}

TEST_F(GrantMigrate, DirectoriesNotNamedByATokenAreRefused) {
  const GrantRecord r{kId, kImage, 1000, 1000};
  const std::vector<std::string> bad = {"0123456789ABCDEF0123456789abcdef", kTok.substr(1),
                                        kTok + "0", "notatoken", "." + kTok.substr(1)};
  for (const auto& name : bad) writeOld(name, r);
  writeOld(kTok, r);  // one good record among them still migrates
  const GrantMigration m = migrate();
  EXPECT_EQ(m.refused, static_cast<int>(bad.size()));
  EXPECT_EQ(m.migrated, 1);
  for (const auto& name : bad) EXPECT_TRUE(stdfs::exists(oldFile(name))) << name;
  EXPECT_EQ(store_->tokens(), std::vector<std::string>{kTok});
}

TEST_F(GrantMigrate, MalformedRecordsAreRefusedAndLeft) {
  const std::string good = grantRecordJson({kId, kImage, 1000, 1000});
  const std::vector<std::string> texts = {
      "",
      "{\"containerId\": \"" + kId + "\", \"imag",  // torn
      "[]",
      good + "garbage",
      good.substr(0, good.size() - 1) + ",\"extra\":1}",  // a fifth key
      "{\"containerId\":\"" + kId + "\",\"gid\":0,\"imageId\":\"" + kImage + "\",\"uid\":-1}",
      "{\"containerId\":\"" + kId.substr(1) + "\",\"gid\":0,\"imageId\":\"" + kImage +
          "\",\"uid\":0}",
      std::string(8192, ' '),  // over the size a record can have
  };
  for (const auto& text : texts) {
    writeOld(kTok, {}, text);
    expectRefusedAndLeft(kTok, "text: " + text.substr(0, 60));
    EXPECT_EQ(slurp(oldFile(kTok)), text);  // untouched
  }
}

TEST_F(GrantMigrate, ASocketDirectoryOthersCouldWriteIsNotRead) {
  writeOld(kTok, {kId, kImage, 1000, 1000});
  ASSERT_EQ(::chmod(socketDir_.c_str(), 0777), 0);
  auto m = migrateOldGrantRecords(socketDir_, *store_);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().str().find(socketDir_.string()), std::string::npos) << m.error().str();
  EXPECT_TRUE(stdfs::exists(oldFile(kTok)));
  EXPECT_TRUE(store_->tokens().empty());
  // No socket directory at all (a reboot emptied /run): nothing to do, no error.
  stdfs::remove_all(socketDir_);
  auto none = migrateOldGrantRecords(socketDir_, *store_);
  ASSERT_TRUE(none.ok()) << none.error().str();
  EXPECT_EQ(none->migrated + none->refused + none->superseded, 0);
}

}  // namespace
}  // namespace eci::apiproxy
