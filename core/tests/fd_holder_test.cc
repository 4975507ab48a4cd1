#include "eci/fd_holder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace eci::fdhold {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  UniqueFd r, w;
};
Pipe makePipe() {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
  return {UniqueFd(p[0]), UniqueFd(p[1])};
}

std::vector<UniqueFd> one(int fd) {
  std::vector<UniqueFd> v;
  v.emplace_back(dup(fd));
  return v;
}

// --- the wire format ------------------------------------------------------------------------

TEST(FdHolderProtocol, RoundTrips) {
  const std::string m = encode(Op::kPut, "c/pn/abc@4026532000");
  auto d = decode(m.data(), m.size());
  ASSERT_TRUE(d.ok()) << d.error().str();
  EXPECT_EQ(d->op, Op::kPut);
  EXPECT_EQ(d->name, "c/pn/abc@4026532000");
}

TEST(FdHolderProtocol, RefusesMalformedMessages) {
  const std::string good = encode(Op::kDrop, "x");
  EXPECT_FALSE(decode(good.data(), sizeof(Header) - 1).ok()) << "short header";
  EXPECT_FALSE(decode(good.data(), good.size() - 1).ok()) << "length mismatch";
  std::string bad = good;
  bad[0] ^= 1;
  EXPECT_FALSE(decode(bad.data(), bad.size()).ok()) << "magic";
  Header h;
  h.op = static_cast<Op>(99);
  std::string unknown(reinterpret_cast<const char*>(&h), sizeof h);
  EXPECT_FALSE(decode(unknown.data(), unknown.size()).ok()) << "op";
  const std::string longName = encode(Op::kPut, std::string(kMaxNameLen + 1, 'a'));
  EXPECT_FALSE(decode(longName.data(), longName.size()).ok()) << "name length";
  for (const char* name : {"a b", "a\nb", "a\x7f"}) {
    const std::string m = encode(Op::kPut, name);
    EXPECT_FALSE(decode(m.data(), m.size()).ok()) << "name '" << name << "'";
  }
  const std::string nul = encode(Op::kPut, std::string_view("a\0b", 3));
  EXPECT_FALSE(decode(nul.data(), nul.size()).ok()) << "NUL in the name";
}

// --- the bookkeeping --------------------------------------------------------------------------

TEST(FdHolderStore, PutReplacesAndClosesTheOldFds) {
  Store s;
  auto a = makePipe(), b = makePipe();
  ASSERT_TRUE(s.put("n/k/1", one(a.w.get())).ok());
  ASSERT_TRUE(s.put("n/k/1", one(b.w.get())).ok());
  EXPECT_EQ(s.size(), 1u);
  a.w.reset();  // the store's copy of a's write end must be gone: the read end sees EOF
  char c;
  EXPECT_EQ(read(a.r.get(), &c, 1), 0);
  EXPECT_FALSE(s.put("n/k/2", {}).ok()) << "a put without fds";
  EXPECT_FALSE(s.put("", one(b.w.get())).ok()) << "an empty name";
}

TEST(FdHolderStore, DropAndDropPrefixCloseExactlyTheirEntries) {
  Store s;
  auto p = makePipe();
  for (const char* n : {"c/--/x@1", "n/x@1/1", "n/x@1/2", "n/x@12/1", "n/y@1/1"})
    ASSERT_TRUE(s.put(n, one(p.w.get())).ok());
  EXPECT_EQ(s.dropPrefix("n/x@1/"), 2u);  // not n/x@12/1: the '/' ends the key
  EXPECT_EQ(s.drop("c/--/x@1"), 1u);
  EXPECT_EQ(s.drop("c/--/x@1"), 0u);
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.entries().contains("n/x@12/1"));
  EXPECT_TRUE(s.entries().contains("n/y@1/1"));
  EXPECT_EQ(s.fdCount(), 2u);
}

TEST(FdHolderStore, IsBounded) {
  Store s;
  auto p = makePipe();
  for (size_t i = 0; i < kMaxEntries; ++i)
    ASSERT_TRUE(s.put(std::to_string(i), one(p.w.get())).ok());
  auto st = s.put("one-more", one(p.w.get()));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind(), ErrorKind::kUnavailable);
  EXPECT_TRUE(s.put("0", one(p.w.get())).ok()) << "replacing stays possible";
}

// --- the holder process's loop, in a thread, through its real socket --------------------------

class FdHolderLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/eci-fdholder-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    sock_ = dir_ + "/run/fdholder.sock";
    holder_ = std::thread([this] { rc_ = runHolder(sock_, 300ms); });
    for (int i = 0; i < 300 && !std::filesystem::exists(sock_); ++i)
      std::this_thread::sleep_for(10ms);
  }
  void TearDown() override {
    if (holder_.joinable()) holder_.join();  // exits 300 ms after its last client
    std::filesystem::remove_all(dir_);
  }
  std::string dir_, sock_;
  std::thread holder_;
  int rc_ = -1;
};

TEST_F(FdHolderLoop, KeepsFdsAcrossClientsAndHandsThemBack) {
  auto p = makePipe();
  {
    auto c = Client::connect(sock_);
    ASSERT_TRUE(c.ok()) << c.error().str();
    int fds[2] = {p.w.get(), p.r.get()};
    ASSERT_TRUE(c->put("n/k@1/1", fds, 2).ok());
    ASSERT_TRUE(c->put("n/k@1/2", fds, 1).ok());
  }  // the "daemon" dies here
  struct stat st {};
  ASSERT_EQ(stat(sock_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "root-only socket";
  ASSERT_EQ(stat((dir_ + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto c = Client::connect(sock_);  // the restarted one, within the grace time
  ASSERT_TRUE(c.ok()) << c.error().str();
  auto entries = c->list();
  ASSERT_TRUE(entries.ok()) << entries.error().str();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "n/k@1/1");
  ASSERT_EQ((*entries)[0].fds.size(), 2u);
  // The fd handed back is the same pipe: what we write through it comes out of our read end.
  ASSERT_EQ(write((*entries)[0].fds[0].get(), "z", 1), 1);
  char ch = 0;
  ASSERT_EQ(read(p.r.get(), &ch, 1), 1);
  EXPECT_EQ(ch, 'z');
  ASSERT_TRUE(c->dropPrefix("n/k@1/").ok());
  entries = c->list();
  ASSERT_TRUE(entries.ok());
  EXPECT_TRUE(entries->empty());
  // Every copy the holder had is closed: with ours gone, the read end sees EOF.
  entries->clear();
  p.w.reset();
  EXPECT_EQ(read(p.r.get(), &ch, 1), 0);
}

TEST_F(FdHolderLoop, ExitsAfterTheGraceTimeWithoutClientsAndClosesEverything) {
  auto p = makePipe();
  {
    auto c = Client::connect(sock_);
    ASSERT_TRUE(c.ok());
    int fd = p.w.get();
    ASSERT_TRUE(c->put("x", &fd, 1).ok());
  }
  p.w.reset();
  holder_.join();
  EXPECT_EQ(rc_, 0);
  char ch;
  EXPECT_EQ(read(p.r.get(), &ch, 1), 0) << "the holder's copy is closed when it exits";
  EXPECT_FALSE(std::filesystem::exists(sock_));
}

TEST_F(FdHolderLoop, RefusesNonRootPeers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another uid";
  // A child that drops to nobody, connects and asks for the list: the holder closes the
  // connection without an answer.
  const pid_t pid = fork();
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    auto c = Client::connect(sock_);
    if (!c.ok()) _exit(0);  // refused outright (the 0700 directory): also fine
    auto l = c->list();
    _exit(l.ok() ? 11 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "a non-root peer got the list";
  // Also with the directory open to it (the peer check alone).
  chmod(dir_.c_str(), 0755);
  chmod((dir_ + "/run").c_str(), 0755);
  chmod(sock_.c_str(), 0666);
  const pid_t pid2 = fork();
  if (pid2 == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    auto c = Client::connect(sock_);
    if (!c.ok()) _exit(12);
    auto l = c->list();
    _exit(l.ok() ? 11 : 0);
  }
  ASSERT_EQ(waitpid(pid2, &status, 0), pid2);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the uid check let a non-root peer in";
}

TEST_F(FdHolderLoop, ClosesClientsThatBreakTheProtocol) {
  auto c = Client::connect(sock_);
  ASSERT_TRUE(c.ok());
  const char junk[] = "not a header at all";
  ASSERT_GT(send(c->fd(), junk, sizeof junk, MSG_NOSIGNAL), 0);
  char buf[16];
  EXPECT_EQ(recv(c->fd(), buf, sizeof buf, 0), 0) << "closed by the holder";
}

}  // namespace
}  // namespace eci::fdhold
