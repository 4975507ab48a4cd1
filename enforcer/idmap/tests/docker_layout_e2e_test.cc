// Against the layout a real Docker (Debian's dockerd 20.10, overlay2, its own containerd, plain
// runc) leaves: a private dockerd builds a two-layer image whose second layer replaces a directory
// (Docker records that as trusted.overlay.opaque=y in the layer), runs a container, and the
// ID-mapped overlay is built from the container's real `merged` mount. Needs root.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "eci/idmap/idmap.h"
#include "test_util.h"

namespace eci::idmap {
namespace {

namespace fsys = std::filesystem;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class PrivateDockerd {
 public:
  explicit PrivateDockerd(const std::string& dir) : dir_(dir) {
    const std::string cfg = dir + "/daemon.json";
    std::ofstream(cfg) << "{\"data-root\":\"" << dir << "/data\",\"exec-root\":\"" << dir
                       << "/exec\",\"pidfile\":\"" << dir << "/docker.pid\",\"hosts\":[\"unix://"
                       << dir << "/docker.sock\"],\"bridge\":\"none\",\"iptables\":false,"
                       << "\"ip6tables\":false,\"storage-driver\":\"overlay2\"}";
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = dir + "/dockerd.log";
      FILE* f = std::freopen(log.c_str(), "w", stdout);
      (void)f;
      ::dup2(STDOUT_FILENO, STDERR_FILENO);
      // Own containerd namespaces so a dockerd of another test can't see these containers.
      ::execlp("dockerd", "dockerd", "--config-file", cfg.c_str(), "--containerd-namespace",
               "eci-idmap-test", "--containerd-plugins-namespace", "eci-idmap-test-p",
               static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 300 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~PrivateDockerd() {
    docker("rm -f eci-idmap-c >/dev/null");
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  bool ready() { return docker("version >/dev/null") == 0; }
  int docker(const std::string& args, std::string* out = nullptr) {
    return testing::run("DOCKER_BUILDKIT=0 docker -H unix://" + dir_ + "/docker.sock " + args, out);
  }
  std::string log() { return testing::readFileOr(dir_ + "/dockerd.log"); }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

TEST(DockerLayoutE2E, IdmappedRootfsFromARealDockerContainer) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root";
  testing::TempDir tmp;
  PrivateDockerd d(tmp.path());
  ASSERT_TRUE(d.ready()) << "dockerd did not start:\n" << d.log();

  const std::string rfs = tmp.path() + "/rfs";
  for (const char* sub : {"", "/bin", "/etc", "/etc/x", "/tmp", "/proc", "/sys", "/dev"}) {
    fsys::create_directories(rfs + sub);
  }
  fsys::copy_file("/bin/busybox", rfs + "/bin/busybox");
  for (const char* a : {"sh", "rm", "mkdir", "echo", "sleep"}) {
    fsys::create_symlink("busybox", rfs + "/bin/" + a);
  }
  testing::writeFile(rfs + "/etc/x/old", "old\n");
  testing::writeFile(rfs + "/etc/ufile", "u\n", 1000, 1000);
  std::string out;
  ASSERT_EQ(testing::run("tar -C " + rfs + " -c . | DOCKER_BUILDKIT=0 docker -H unix://" +
                             tmp.path() + "/docker.sock import - eci-idmap-test:base",
                         &out),
            0)
      << out;
  fsys::create_directories(tmp.path() + "/ctx");
  std::ofstream(tmp.path() + "/ctx/Dockerfile")
      << "FROM eci-idmap-test:base\nRUN rm -rf /etc/x && mkdir /etc/x && echo new > /etc/x/new\n";
  ASSERT_EQ(d.docker("build --network none -t eci-idmap-test:2 " + tmp.path() + "/ctx", &out), 0)
      << out;
  ASSERT_EQ(d.docker("run -d --name eci-idmap-c eci-idmap-test:2 sleep 1000", &out), 0) << out;
  ASSERT_EQ(d.docker("inspect -f '{{.GraphDriver.Data.MergedDir}}' eci-idmap-c", &out), 0) << out;
  const std::string merged = trim(out);
  ASSERT_FALSE(merged.empty());

  auto opts = overlayOptionsAt(merged);
  ASSERT_TRUE(opts.ok()) << opts.error().str();
  EXPECT_EQ(opts->lowerDirs.size(), 3u);  // init layer + two image layers

  auto layout = Layout::make(tmp.path() + "/run", "c");
  ASSERT_TRUE(layout.ok());
  auto cfs = ContainerFs::begin(*layout, {100000, 65536}, {100000, 65536});
  ASSERT_TRUE(cfs.ok()) << cfs.error().str();
  auto root = cfs->mountRootfs(*opts);
  ASSERT_TRUE(root.ok()) << root.error().str();
  const std::string r = *root;

  const std::string failures = testing::runAsNamespaceRoot(cfs->userns().fd(), [&] {
    std::string f;
    struct stat st {};
    if (fsys::exists(r + "/etc/x/old")) f += "Docker's opaque dir ignored; ";
    if (!fsys::exists(r + "/etc/x/new")) f += "etc/x/new missing; ";
    if (::stat((r + "/etc/ufile").c_str(), &st) != 0 || st.st_uid != 1000) f += "ufile uid; ";
    if (::stat((r + "/bin/busybox").c_str(), &st) != 0 || st.st_uid != 0) f += "busybox uid; ";
    std::ofstream w(r + "/from-eci");
    w << "x";
    w.close();
    if (!w) f += "write failed; ";
    return f;
  });
  EXPECT_EQ(failures, "");
  EXPECT_EQ(testing::owner(opts->upperDir + "/from-eci"), "0:0");
  // Docker sees the write through its own overlay: `docker diff` lists it.
  ASSERT_EQ(d.docker("diff eci-idmap-c", &out), 0) << out;
  EXPECT_NE(out.find("A /from-eci"), std::string::npos) << out;

  cfs->commit();
  ASSERT_TRUE(cleanup(*layout).ok());
  auto left = mountsUnder(layout->runDir());
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  // Docker removes its container (unmounting merged) without being blocked by us.
  ASSERT_EQ(d.docker("rm -f eci-idmap-c", &out), 0) << out;
  EXPECT_FALSE(fsys::exists(merged)) << "Docker's merged dir was not removed";
}

}  // namespace
}  // namespace eci::idmap
