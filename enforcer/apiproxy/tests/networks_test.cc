// `docker network create` against the host's networks: the parsers (host_networks.h), the rule
// (decide(): network-subnet, network-bridge) and RealHostFs::networks() on fixture files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "eci/apiproxy/host_networks.h"
#include "eci/apiproxy/real_host_fs.h"
#include "helpers.h"

namespace eci::apiproxy {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace)

HostNetwork net(const std::string& cidr, const std::string& dev = "eth0") {
  auto n = parseCidr(cidr);
  EXPECT_TRUE(n.ok()) << cidr;
  HostNetwork h = n.ok() ? *n : HostNetwork{};
  h.device = dev;
  return h;
}

TEST(HostNetworks, ParsesCidrsAsGoDoes) {
  EXPECT_EQ(formatNetwork(*parseCidr("10.1.2.3/16")), "10.1.0.0/16");  // host bits may be set
  EXPECT_EQ(formatNetwork(*parseCidr("192.168.5.1")), "192.168.5.1/32");
  EXPECT_EQ(formatNetwork(*parseCidr("fd00:1::/64")), "fd00:1::/64");
  EXPECT_EQ(formatNetwork(*parseCidr("0.0.0.0/0")), "0.0.0.0/0");
  EXPECT_TRUE(parseCidr("fd00::1/128")->v6);
  for (const char* bad :
       {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0/24",
        "fe80::1%eth0/64", "fd00::/129", " 10.0.0.0/8", "10.0.0.0/8 ", "10.0.0.0/+8", "host/8"}) {
    EXPECT_FALSE(parseCidr(bad).ok()) << bad;
  }
}

TEST(HostNetworks, OverlapIsAgreementOnTheShorterPrefix) {
  EXPECT_TRUE(networksOverlap(net("10.0.0.0/8"), net("10.1.2.0/24")));
  EXPECT_TRUE(networksOverlap(net("10.1.2.0/24"), net("10.0.0.0/8")));
  EXPECT_TRUE(networksOverlap(net("10.1.2.128/25"), net("10.1.2.200/32")));
  EXPECT_FALSE(networksOverlap(net("10.1.2.0/25"), net("10.1.2.200/32")));
  EXPECT_FALSE(networksOverlap(net("172.17.0.0/16"), net("172.18.0.0/16")));
  EXPECT_TRUE(networksOverlap(net("172.16.0.0/12"), net("172.31.255.0/24")));
  EXPECT_FALSE(networksOverlap(net("172.16.0.0/12"), net("172.32.0.0/24")));
  EXPECT_FALSE(networksOverlap(net("10.0.0.0/8"), net("a00::/8")));  // families never overlap
  EXPECT_TRUE(networksOverlap(net("fd00::/8"), net("fd12:3456::/32")));
}

// The kernel's own text, as read on x86_64 (little endian): 10.0.2.0/24 dev eth0, default via
// 10.0.2.2, 172.17.0.0/16 dev docker0.
constexpr const char* kRoute =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
constexpr const char* kRoute6 =
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000001 80 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n";

TEST(HostNetworks, ParsesProcNetRouteTables) {
  auto v4 = parseProcNetRoute(kRoute);
  ASSERT_TRUE(v4.ok()) << v4.error().str();
  ASSERT_EQ(v4->size(), 3u);
  EXPECT_EQ(formatNetwork((*v4)[0]), "0.0.0.0/0");
  EXPECT_EQ(formatNetwork((*v4)[1]), "10.0.2.0/24");
  EXPECT_EQ((*v4)[1].device, "eth0");
  EXPECT_EQ(formatNetwork((*v4)[2]), "172.17.0.0/16");
  auto v6 = parseProcNetIpv6Route(kRoute6);
  ASSERT_TRUE(v6.ok()) << v6.error().str();
  ASSERT_EQ(v6->size(), 2u);
  EXPECT_EQ(formatNetwork((*v6)[0]), "fd00::/64");
  EXPECT_EQ(formatNetwork((*v6)[1]), "::1/128");
  EXPECT_EQ((*v6)[1].device, "lo");
  // Malformed tables are errors (the create is then refused), never "no routes".
  EXPECT_FALSE(parseProcNetRoute("Iface\tDestination\neth0\tzz\n").ok());
  EXPECT_FALSE(parseProcNetIpv6Route("fd00 40\n").ok());
}

struct NetworkRule : ::testing::Test {
  FakeFs fs;
  FakeEngine engine;
  void SetUp() override {
    fs.hostNetworks = {net("0.0.0.0/0"),         net("10.0.2.0/24"), net("10.0.2.15/32"),
                       net("127.0.0.0/8", "lo"), net("fe80::/64"),   net("::/0", "lo")};
    fs.dir("/sys");
    fs.dir("/sys/class");
    fs.dir("/sys/class/net");
    fs.dir("/sys/class/net/eth0");
    fs.dir("/sys/class/net/br-lan");
  }
  Decision create(const std::string& body, const Caller& caller = {}) {
    return run(request("POST", "/v1.41/networks/create", body), policy(), engine, fs, caller);
  }
};

TEST_F(NetworkRule, SubnetOverlappingAHostNetworkIsRefused) {
  for (const char* subnet : {"10.0.2.0/24", "10.0.2.128/25", "10.0.0.0/16", "10.0.0.0/8",
                             "127.0.0.0/24", "10.0.2.15/32", "fe80::/64", "fe80::/10"}) {
    for (const char* shape :
         {R"({"Name":"n","IPAM":{"Config":[{"Subnet":"%s"}]}})",
          R"({"name":"n","driver":"bridge","ipam":{"config":[{"subnet":"%s"}]}})",
          R"({"Name":"n","IPAM":{"Config":[{"Subnet":"172.30.0.0/16"},{"Subnet":"%s"}]}})"}) {
      std::string body = shape;
      body.replace(body.find("%s"), 2, subnet);
      Decision d = create(body);
      EXPECT_EQ(d.verdict, Verdict::kRefuse) << body;
      EXPECT_EQ(d.status, 403) << body;
      EXPECT_EQ(d.rule, "network-subnet") << body;
      EXPECT_NE(d.message.find("overlaps the host's network"), std::string::npos) << d.message;
    }
  }
  // IPRange alone (a Subnet that does not overlap, an IPRange that does, is malformed for
  // dockerd anyway) and an IPv4-mapped IPv6 prefix.
  EXPECT_EQ(
      create(R"({"IPAM":{"Config":[{"Subnet":"172.30.0.0/16","IPRange":"10.0.2.0/28"}]}})").rule,
      "network-subnet");
  EXPECT_EQ(create(R"({"IPAM":{"Config":[{"Subnet":"::ffff:10.0.2.0/120"}]}})").rule,
            "network-subnet");
}

TEST_F(NetworkRule, OtherSubnetsDriversAndPoolsPass) {
  for (const char* body :
       {R"({"Name":"n"})", R"({"Name":"n","IPAM":{"Driver":"default"}})",
        R"({"Name":"n","IPAM":{"Config":[{"Subnet":"172.30.0.0/16","Gateway":"172.30.0.1"}]}})",
        R"({"Name":"n","IPAM":{"Config":[{"Subnet":"10.0.3.0/24"}]}})",
        R"({"Name":"n","EnableIPv6":true,"IPAM":{"Config":[{"Subnet":"fd00:1::/64"}]}})",
        // macvlan/ipvlan add no host route: the host's own LAN is their usual subnet.
        R"({"Name":"n","Driver":"macvlan","IPAM":{"Config":[{"Subnet":"10.0.2.0/24"}]},
            "Options":{"parent":"eth0"}})",
        R"({"Name":"n","Options":{"com.docker.network.bridge.name":"br-new"}})"}) {
    Decision d = create(body);
    EXPECT_EQ(d.verdict, Verdict::kAllow) << body << ": " << d.message;
  }
  // Without a subnet there is nothing to compare: the host's routes are not even read.
  fs.networksCalls = 0;
  EXPECT_EQ(create(R"({"Name":"n"})").verdict, Verdict::kAllow);
  EXPECT_EQ(fs.networksCalls, 0);
}

TEST_F(NetworkRule, FailsClosedAndRefusesMalformedBodies) {
  fs.networksError = true;
  Decision d = create(R"({"IPAM":{"Config":[{"Subnet":"172.30.0.0/16"}]}})");
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.status, 500);
  EXPECT_EQ(d.rule, "network-subnet");
  for (const char* body :
       {R"([])", R"({"Driver":7})", R"({"IPAM":[]})", R"({"IPAM":{"Config":{}}})",
        R"({"IPAM":{"Config":[7]}})", R"({"IPAM":{"Config":[{"Subnet":7}]}})",
        R"({"IPAM":{"Config":[{"Subnet":"10.0.0.0/40"}]}})", R"({"Options":[]})",
        R"({"Options":{"com.docker.network.bridge.name":7}})"}) {
    Decision b = create(body);
    EXPECT_EQ(b.verdict, Verdict::kRefuse) << body;
    EXPECT_EQ(b.status, 400) << body;
  }
}

// `docker network create --config-only --subnet <host LAN> -d macvlan cfg` then
// `docker network create --config-from cfg n` (bridge): the subnet arrives through another network.
TEST_F(NetworkRule, ConfigOnlyAndConfigFromNetworksAreChecked) {
  Decision d = create(
      R"({"Name":"cfg","ConfigOnly":true,"Driver":"macvlan","IPAM":{"Config":[{"Subnet":"10.0.2.0/25"}]}})");
  EXPECT_EQ(d.rule, "network-subnet") << d.message;
  EXPECT_EQ(create(R"({"Name":"cfg","configonly":true,"driver":"ipvlan","ipam":{"config":[
                       {"subnet":"10.0.2.0/25"}]}})")
                .rule,
            "network-subnet");
  // A config network made past the guard (ECI off then, or root on the private socket).
  engine.networks["cfg"] = NetworkFacts{"cfg", {"10.0.2.0/25"}};
  engine.networks["free"] = NetworkFacts{"free", {"172.30.0.0/16", "172.30.0.1"}};
  engine.networks["odd"] = NetworkFacts{"odd", {"not-a-prefix"}};
  d = create(R"({"Name":"n","ConfigFrom":{"Network":"cfg"}})");
  EXPECT_EQ(d.verdict, Verdict::kRefuse);
  EXPECT_EQ(d.rule, "network-subnet") << d.message;
  EXPECT_EQ(create(R"({"name":"n","configfrom":{"network":"cfg"}})").rule, "network-subnet");
  EXPECT_EQ(create(R"({"Name":"n","ConfigFrom":{"Network":"odd"}})").rule, "network-subnet");
  EXPECT_EQ(create(R"({"Name":"n","ConfigFrom":{"Network":"free"}})").verdict, Verdict::kAllow);
  // A network that does not exist: dockerd answers the create with its own error.
  EXPECT_EQ(create(R"({"Name":"n","ConfigFrom":{"Network":"nope"}})").verdict, Verdict::kAllow);
  // macvlan from a config network: no host route.
  EXPECT_EQ(create(R"({"Name":"n","Driver":"macvlan","ConfigFrom":{"Network":"cfg"}})").verdict,
            Verdict::kAllow);
  for (const char* body :
       {R"({"ConfigOnly":"yes"})", R"({"ConfigFrom":"cfg"})", R"({"ConfigFrom":{"Network":7}})"}) {
    EXPECT_EQ(create(body).status, 400) << body;
  }
}

TEST_F(NetworkRule, BridgeNamedAfterAHostInterfaceIsRefused) {
  for (const char* name : {"eth0", "br-lan"}) {
    Decision d =
        create(std::string(R"({"Name":"n","Options":{"com.docker.network.bridge.name":")") + name +
               R"("}})");
    EXPECT_EQ(d.verdict, Verdict::kRefuse) << name;
    EXPECT_EQ(d.rule, "network-bridge") << name;
  }
}

TEST_F(NetworkRule, EciOffAndOtherRoutesPassThrough) {
  Policy off;
  off.enabled = false;
  EXPECT_EQ(
      run(request("POST", "/networks/create", R"({"IPAM":{"Config":[{"Subnet":"10.0.2.0/24"}]}})"),
          off, engine, fs)
          .verdict,
      Verdict::kAllow);
  // network connect is not a create: its --ip lies inside an existing network.
  EXPECT_EQ(
      run(request("POST", "/networks/n/connect", R"({"Container":"c"})"), policy(), engine, fs)
          .verdict,
      Verdict::kAllow);
}

TEST(RealHostNetworks, ReadsTheKernelsTablesAndFailsClosed) {
  char tmpl[] = "/tmp/eci-procnet-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/route") << kRoute;
  std::ofstream(dir + "/ipv6_route") << kRoute6;
  RealHostFs fs("/proc/self/mountinfo", dir);
  auto n = fs.networks();
  ASSERT_TRUE(n.ok()) << n.error().str();
  EXPECT_EQ(n->size(), 5u);
  std::filesystem::remove(dir + "/ipv6_route");  // a kernel without IPv6
  ASSERT_TRUE(fs.networks().ok());
  EXPECT_EQ(fs.networks()->size(), 3u);
  std::ofstream(dir + "/route") << "garbage\n";
  EXPECT_FALSE(fs.networks().ok());
  std::filesystem::remove(dir + "/route");
  EXPECT_FALSE(fs.networks().ok());
  std::filesystem::remove_all(dir);
  // The real host: at least loopback's 127.0.0.0/8 (from the interface addresses).
  auto real = RealHostFs().networks();
  ASSERT_TRUE(real.ok()) << real.error().str();
  bool lo = false;
  for (const auto& h : *real) lo = lo || formatNetwork(h) == "127.0.0.0/8";
  EXPECT_TRUE(lo);
}

}  // namespace
}  // namespace eci::apiproxy
