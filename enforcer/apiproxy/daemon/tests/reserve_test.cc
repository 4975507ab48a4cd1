// Re-serving per-container sockets after a restart or reboot: the pure pieces (reserve.h) and
// the grant records in the guard's state directory (grant_store.h). The e2e part (a real container,
// SIGKILLed guard) is tests/e2e/apiproxy_restart_test.sh.
#include "reserve.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "grant_store.h"
#include "grant_test_ids.h"
#include "reconcile.h"

namespace eci::apiproxy {
namespace {

using grant_ids::kId;
using grant_ids::kImage;
using grant_ids::kTok;

namespace fs = std::filesystem;

const std::string kDir = "/run/eci-apiproxy/sockets";

TEST(SocketToken, ExactlyThirtyTwoLowercaseHex) {
  EXPECT_TRUE(isSocketToken(kTok));
  EXPECT_FALSE(isSocketToken(kTok.substr(1)));
  EXPECT_FALSE(isSocketToken(kTok + "0"));
  EXPECT_FALSE(isSocketToken("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(isSocketToken("0123456789abcdeg0123456789abcdef"));
  EXPECT_FALSE(isSocketToken(""));
}

TEST(SocketToken, OnlyTheExactSocketPathCounts) {
  EXPECT_EQ(socketTokenOf(kDir + "/" + kTok + "/docker.sock", kDir), kTok);
  EXPECT_EQ(socketTokenOf(kDir + "/" + kTok + "/docker.sock", kDir + "/"), kTok);
  const std::vector<std::string> bad = {
      kDir + "/" + kTok,                                // the directory
      kDir + "/" + kTok + "/grant.json",                // the record
      kDir + "/" + kTok + "/docker.sock/x",             // deeper
      kDir + "/" + kTok + "/docker.sockx",              // longer name
      kDir + "//" + kTok + "/docker.sock",              // not the form the guard writes
      kDir + "/../" + kTok.substr(3) + "/docker.sock",  // climbing out
      kDir + "/" + kTok + "/../" + kTok + "/docker.sock",
      kDir + "/0123456789ABCDEF0123456789ABCDEF/docker.sock",
      kDir + "/" + kTok.substr(1) + "/docker.sock",
      "/elsewhere/" + kTok + "/docker.sock",
      kDir + "x/" + kTok + "/docker.sock",  // a sibling directory sharing the prefix
      "",
  };
  for (const auto& p : bad) EXPECT_EQ(socketTokenOf(p, kDir), std::nullopt) << p;
  EXPECT_EQ(socketTokenOf(kDir + "/" + kTok + "/docker.sock", "relative/dir"), std::nullopt);
}

TEST(GrantRecord, RoundTrip) {
  const GrantRecord r{kId, kImage, 1000, 1001};
  auto back = parseGrantRecord(grantRecordJson(r));
  ASSERT_TRUE(back.ok()) << back.error().str();
  EXPECT_EQ(back->containerId, kId);
  EXPECT_EQ(back->imageId, kImage);
  EXPECT_EQ(back->uid, 1000u);
  EXPECT_EQ(back->gid, 1001u);
}

TEST(GrantRecord, StrictParse) {
  auto rec = [](const std::string& id, const std::string& uid, const std::string& extra = "") {
    return "{\"containerId\":\"" + id + "\",\"imageId\":\"" + kImage + "\",\"uid\":" + uid +
           ",\"gid\":0" + extra + "}";
  };
  EXPECT_TRUE(parseGrantRecord(rec(kId, "0")).ok());
  EXPECT_FALSE(parseGrantRecord(rec(kId, "-1")).ok());           // negative
  EXPECT_FALSE(parseGrantRecord(rec(kId, "4294967295")).ok());   // (uid_t)-1: nobody known
  EXPECT_FALSE(parseGrantRecord(rec(kId, "4294967296")).ok());   // out of range
  EXPECT_FALSE(parseGrantRecord(rec(kId, "\"0\"")).ok());        // a string
  EXPECT_FALSE(parseGrantRecord(rec(kId, "1.5")).ok());          // not an integer
  EXPECT_FALSE(parseGrantRecord(rec(kId.substr(1), "0")).ok());  // short id
  EXPECT_FALSE(parseGrantRecord(rec(std::string(64, 'A'), "0")).ok());
  EXPECT_FALSE(parseGrantRecord(rec(kId, "0", ",\"x\":1")).ok());  // extra key
  EXPECT_FALSE(
      parseGrantRecord("{\"containerId\":\"" + kId + "\",\"imageId\":\"\",\"uid\":0,\"gid\":0}")
          .ok());
  EXPECT_FALSE(parseGrantRecord("").ok());
  EXPECT_FALSE(parseGrantRecord("[]").ok());
  EXPECT_FALSE(parseGrantRecord(rec(kId, "0") + "garbage").ok());
}

std::string inspect(const std::string& id, bool running, int pid, const std::string& mounts) {
  return "{\"Id\":\"" + id + "\",\"Image\":\"" + kImage +
         "\",\"State\":{\"Running\":" + (running ? "true" : "false") +
         ",\"Pid\":" + std::to_string(pid) + "},\"Mounts\":[" + mounts + "]}";
}

TEST(ReserveTarget, SocketsAndBindSources) {
  const std::string sock = kDir + "/" + kTok + "/docker.sock";
  auto t = parseReserveTarget(
      inspect(kId, true, 4242,
              "{\"Type\":\"bind\",\"Source\":\"" + sock +
                  "\",\"Destination\":\"/var/run/docker.sock\"},"
                  "{\"Type\":\"bind\",\"Source\":\"/home/u/src\",\"Destination\":\"/src\"},"
                  "{\"Type\":\"volume\",\"Name\":\"v\",\"Source\":\"/var/lib/docker/volumes/v/"
                  "_data\",\"Destination\":\"/v\"},"
                  "{\"Type\":\"bind\",\"Source\":\"" +
                  kDir + "/" + kTok + "/grant.json\",\"Destination\":\"/g\"}"),
      kDir);
  ASSERT_TRUE(t.ok()) << t.error().str();
  EXPECT_EQ(t->id, kId);
  EXPECT_EQ(t->image, kImage);
  EXPECT_TRUE(t->running);
  EXPECT_EQ(t->pid, 4242);
  ASSERT_EQ(t->sockets.size(), 1u);
  EXPECT_EQ(t->sockets[0].token, kTok);
  EXPECT_EQ(t->sockets[0].destination, "/var/run/docker.sock");
  // Not the socket, not volumes; anything else under the dir is no socket (a plain bind).
  EXPECT_EQ(t->bindSources,
            (std::vector<std::string>{"/home/u/src", kDir + "/" + kTok + "/grant.json"}));
}

TEST(ReserveTarget, RefusesWhatCannotBeTrusted) {
  EXPECT_FALSE(parseReserveTarget("{}", kDir).ok());
  EXPECT_FALSE(parseReserveTarget(inspect("abc", false, 0, ""), kDir).ok());
  EXPECT_FALSE(parseReserveTarget(inspect(kId, true, 0, ""), kDir).ok());  // running, no pid
  EXPECT_FALSE(parseReserveTarget(inspect(kId, true, 1, ""), kDir).ok());
  const std::string relDest = "{\"Type\":\"bind\",\"Source\":\"" + kDir + "/" + kTok +
                              "/docker.sock\",\"Destination\":\"var/run/docker.sock\"}";
  EXPECT_FALSE(parseReserveTarget(inspect(kId, false, 0, relDest), kDir).ok());
  auto stopped = parseReserveTarget(inspect(kId, false, 0, ""), kDir);
  ASSERT_TRUE(stopped.ok());
  EXPECT_FALSE(stopped->running);
}

TEST(ReserveTarget, ListKeepsOnlyContainersWithSockets) {
  const std::string sock = kDir + "/" + kTok + "/docker.sock";
  const std::string list = "[{\"Id\":\"" + kId + "\",\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"" +
                           sock + "\"}]},{\"Id\":\"" + std::string(64, 'c') +
                           "\",\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/x\"}]},{\"Id\":\"" +
                           std::string(64, 'd') +
                           "\",\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"" + sock + "\"}]}]";
  auto l = containersWithSockets(list, kDir);
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].id, kId);
  EXPECT_EQ((*l)[0].tokens, std::vector<std::string>{kTok});
  EXPECT_FALSE(containersWithSockets("{}", kDir).ok());
}

TEST(ReserveTarget, RecordMustNameThisContainerAndImage) {
  ReserveTarget t;
  t.id = kId;
  t.image = kImage;
  EXPECT_EQ(grantMismatch({kId, kImage, 1000, 1000}, t), std::nullopt);
  EXPECT_NE(grantMismatch({std::string(64, 'e'), kImage, 1000, 1000}, t), std::nullopt);
  EXPECT_NE(grantMismatch({kId, "sha256:" + std::string(64, 'f'), 1000, 1000}, t), std::nullopt);
}

class GrantFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eci-reserve-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // The state directory as an installed guard would get it: not there yet.
    store_.emplace(dir_ / "var-lib-eci-apiproxy");
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path record() const { return store_->fileOf(kTok); }
  void writeRaw(const std::string& text) const {
    std::ofstream(record()) << text;
    ASSERT_EQ(::chmod(record().c_str(), 0600), 0);
  }
  fs::path dir_;
  std::optional<GrantStore> store_;
};

TEST_F(GrantFile, StoredRootOnlyInTheStateDirAndLoadedBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the record must be root's)";
  ASSERT_TRUE(store_->prepare().ok());
  struct stat st {};
  ASSERT_EQ(::stat(store_->dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(store_->dir(), dir_ / "var-lib-eci-apiproxy" / "grants");
  ASSERT_TRUE(store_->store(kTok, {kId, kImage, 1000, 1001}).ok());
  ASSERT_EQ(::stat(record().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(record(), store_->dir() / (kTok + ".json"));
  auto r = store_->load(kTok);
  ASSERT_TRUE(r.ok()) << r.error().str();
  EXPECT_EQ(r->containerId, kId);
  EXPECT_EQ(r->imageId, kImage);
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 1001u);
  // Stored again (same token): replaced whole, no temporary file left behind.
  ASSERT_TRUE(store_->store(kTok, {kId, kImage, 1002, 1002}).ok());
  EXPECT_EQ(store_->load(kTok)->uid, 1002u);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(store_->dir())) files += e.is_regular_file();
  EXPECT_EQ(files, 1u);
}

TEST_F(GrantFile, PrepareMakesAWideDirectoryRootOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  fs::create_directories(store_->dir());
  ASSERT_EQ(::chmod(store_->dir().c_str(), 0755), 0);
  ASSERT_TRUE(store_->prepare().ok());
  struct stat st {};
  ASSERT_EQ(::stat(store_->dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  // Someone else's directory is not the guard's state.
  ASSERT_EQ(::chown(store_->dir().c_str(), 1000, 1000), 0);
  EXPECT_FALSE(store_->prepare().ok());
}

TEST_F(GrantFile, TokensAreTheRecordsOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  ASSERT_TRUE(store_->prepare().ok());
  ASSERT_TRUE(store_->store(kTok, {kId, kImage, 1000, 1000}).ok());
  std::ofstream(store_->dir() / "notes.txt") << "x";
  std::ofstream(store_->dir() / ("." + kTok + ".json.tmp123")) << "x";
  std::ofstream(store_->dir() / "0123456789ABCDEF0123456789abcdef.json") << "x";
  EXPECT_EQ(store_->tokens(), std::vector<std::string>{kTok});
  store_->remove(kTok);
  EXPECT_FALSE(fs::exists(record()));
  EXPECT_TRUE(store_->tokens().empty());
  store_->remove(kTok);        // none: no error
  store_->remove("../notes");  // not a token: nothing removed
  EXPECT_TRUE(fs::exists(store_->dir() / "notes.txt"));
}

TEST_F(GrantFile, ACorruptRecordIsNoRecordAndNamesItsFile) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the record must be root's)";
  ASSERT_TRUE(store_->prepare().ok());
  for (const std::string& text :
       {std::string(), std::string("{\"containerId\": \"") + kId, std::string("[]"),
        std::string("{\"containerId\":\"") + kId + "\",\"imageId\":\"" + kImage +
            "\",\"uid\":-1,\"gid\":0}",
        std::string(8192, ' ')}) {
    writeRaw(text);
    auto r = store_->load(kTok);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.error().str().find(record().string()), std::string::npos) << r.error().str();
  }
  EXPECT_TRUE(store_->tokens() == std::vector<std::string>{kTok});  // still there for the admin
}

TEST_F(GrantFile, RecordsOthersCouldTouchAreNoRecords) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the record must be root's)";
  ASSERT_TRUE(store_->prepare().ok());
  ASSERT_TRUE(store_->store(kTok, {kId, kImage, 1000, 1000}).ok());
  // Readable by others.
  ASSERT_EQ(::chmod(record().c_str(), 0644), 0);
  EXPECT_FALSE(store_->load(kTok).ok());
  ASSERT_EQ(::chmod(record().c_str(), 0600), 0);
  // Owned by someone else.
  ASSERT_EQ(::chown(record().c_str(), 1000, 1000), 0);
  EXPECT_FALSE(store_->load(kTok).ok());
  ASSERT_EQ(::chown(record().c_str(), 0, 0), 0);
  // The directory writable by others.
  ASSERT_EQ(::chmod(store_->dir().c_str(), 0777), 0);
  EXPECT_FALSE(store_->load(kTok).ok());
  ASSERT_EQ(::chmod(store_->dir().c_str(), 0700), 0);
  EXPECT_TRUE(store_->load(kTok).ok());
  // The directory a symlink to a good one.
  fs::rename(store_->dir(), dir_ / "real-grants");
  fs::create_symlink(dir_ / "real-grants", store_->dir());
  EXPECT_FALSE(store_->load(kTok).ok());
  fs::remove(store_->dir());
  fs::rename(dir_ / "real-grants", store_->dir());
  EXPECT_TRUE(store_->load(kTok).ok());
  // A symlink in place of the record.
  fs::rename(record(), dir_ / "real.json");
  fs::create_symlink(dir_ / "real.json", record());
  EXPECT_FALSE(store_->load(kTok).ok());
  // No record; a token that is not one.
  fs::remove(record());
  EXPECT_FALSE(store_->load(kTok).ok());
  EXPECT_FALSE(store_->load("../" + kTok.substr(3)).ok());
  EXPECT_FALSE(store_->store("../" + kTok.substr(3), {kId, kImage, 1000, 1000}).ok());
}

}  // namespace
}  // namespace eci::apiproxy
