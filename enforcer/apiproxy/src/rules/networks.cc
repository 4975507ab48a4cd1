// `docker network create` against the host's own networks (host_networks.h, internal.h).
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "eci/apiproxy/host_networks.h"
#include "eci/apiproxy/request.h"
#include "internal.h"

namespace eci::apiproxy {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool hexValue(std::string_view s, uint64_t& v) {
  if (s.empty() || s.size() > 16) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  return ec == std::errc() && p == s.data() + s.size();
}

// Each line of a /proc/net table in turn (the text ends with a newline, possibly not).
template <typename F>
Status forEachLine(std::string_view text, F&& f) {
  size_t n = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++n;
    if (trim(line).empty()) continue;
    if (Status st = f(line, n); !st.ok()) return st;
  }
  return {};
}

}  // namespace

Result<HostNetwork> parseCidr(std::string_view cidr) {
  const std::string bad = "invalid CIDR address: " + std::string(cidr);
  if (cidr.empty() || cidr.size() > 64) return Error(bad);
  const size_t slash = cidr.find('/');
  const std::string addr(cidr.substr(0, slash));
  HostNetwork n;
  n.v6 = addr.find(':') != std::string::npos;
  if (inet_pton(n.v6 ? AF_INET6 : AF_INET, addr.c_str(), n.addr.data()) != 1) return Error(bad);
  const unsigned maxLen = n.v6 ? 128 : 32;
  n.prefixLen = maxLen;
  if (slash != std::string_view::npos) {
    std::string_view len = cidr.substr(slash + 1);
    unsigned v = 0;
    // Go: decimal digits only, no sign, no leading zeros but "0" itself.
    if (len.empty() || len.size() > 3 || (len.size() > 1 && len.front() == '0')) return Error(bad);
    auto [p, ec] = std::from_chars(len.data(), len.data() + len.size(), v);
    if (ec != std::errc() || p != len.data() + len.size() || v > maxLen) return Error(bad);
    n.prefixLen = v;
  }
  return n;
}

Result<std::vector<HostNetwork>> parseProcNetRoute(std::string_view text) {
  std::vector<HostNetwork> out;
  Status st = forEachLine(text, [&](std::string_view line, size_t n) -> Status {
    auto f = fields(line);
    if (n == 1 && !f.empty() && f[0] == "Iface") return {};  // the header
    uint64_t dest = 0, mask = 0;
    if (f.size() < 8 || !hexValue(f[1], dest) || !hexValue(f[7], mask) || dest > 0xffffffffu ||
        mask > 0xffffffffu) {
      return Error("/proc/net/route line " + std::to_string(n) + ": unexpected format");
    }
    HostNetwork h;
    h.device = std::string(f[0]);
    // The kernel printed the __be32 as a host-order integer: its bytes in memory are the
    // address's bytes in network order again.
    const auto d = static_cast<uint32_t>(dest);
    const auto m = static_cast<uint32_t>(mask);
    std::memcpy(h.addr.data(), &d, 4);
    h.prefixLen = static_cast<unsigned>(__builtin_popcount(m));
    out.push_back(std::move(h));
    return {};
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

Result<std::vector<HostNetwork>> parseProcNetIpv6Route(std::string_view text) {
  std::vector<HostNetwork> out;
  Status st = forEachLine(text, [&](std::string_view line, size_t n) -> Status {
    auto f = fields(line);
    uint64_t len = 0;
    if (f.size() < 10 || f[0].size() != 32 || !hexValue(f[1], len) || len > 128) {
      return Error("/proc/net/ipv6_route line " + std::to_string(n) + ": unexpected format");
    }
    HostNetwork h;
    h.v6 = true;
    for (size_t i = 0; i < 16; ++i) {
      uint64_t b = 0;
      if (!hexValue(f[0].substr(2 * i, 2), b)) {
        return Error("/proc/net/ipv6_route line " + std::to_string(n) + ": bad destination");
      }
      h.addr[i] = static_cast<uint8_t>(b);
    }
    h.prefixLen = static_cast<unsigned>(len);
    h.device = std::string(f[9]);
    out.push_back(std::move(h));
    return {};
  });
  if (!st.ok()) return std::move(st).error();
  return out;
}

bool networksOverlap(const HostNetwork& a, const HostNetwork& b) {
  if (a.v6 != b.v6) return false;
  const unsigned bits = std::min(a.prefixLen, b.prefixLen);
  for (unsigned i = 0; i < bits / 8; ++i)
    if (a.addr[i] != b.addr[i]) return false;
  if (const unsigned rest = bits % 8; rest != 0) {
    const auto mask = static_cast<uint8_t>(0xff00u >> rest);
    if ((a.addr[bits / 8] & mask) != (b.addr[bits / 8] & mask)) return false;
  }
  return true;
}

std::string formatNetwork(const HostNetwork& n) {
  HostNetwork c = n;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned keep = c.prefixLen > i * 8 ? std::min(8u, c.prefixLen - i * 8) : 0;
    c.addr[i] &= static_cast<uint8_t>(0xff00u >> keep);
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(c.v6 ? AF_INET6 : AF_INET, c.addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(c.prefixLen);
}

namespace detail {

namespace {

constexpr std::string_view kPrefix = "enhanced container isolation: ";

NetworkRefusal badBody(const std::string& what) {
  return {400, std::string(kPrefix) + what, "network-body"};
}

// An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96+n) also as the IPv4 prefix it names.
std::optional<HostNetwork> mappedV4(const HostNetwork& n) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!n.v6 || n.prefixLen < 96 || std::memcmp(n.addr.data(), kMapped, 12) != 0) return {};
  HostNetwork v4;
  std::memcpy(v4.addr.data(), n.addr.data() + 12, 4);
  v4.prefixLen = n.prefixLen - 96;
  return v4;
}

}  // namespace

std::optional<NetworkRefusal> checkNetworkCreate(const nlohmann::json& body, const HostFs& fs,
                                                 const Facts& facts, Need& need) {
  if (!body.is_object()) return badBody("bad network body");
  std::string driver;
  if (const auto* v = goField(body, "Driver"); v != nullptr && !v->is_null()) {
    if (!v->is_string()) return badBody("Driver must be a string");
    driver = v->get<std::string>();
  }
  bool configOnly = false;
  if (const auto* v = goField(body, "ConfigOnly"); v != nullptr && !v->is_null()) {
    if (!v->is_boolean()) return badBody("ConfigOnly must be a boolean");
    configOnly = v->get<bool>();
  }
  // Only the bridge driver puts the network's subnet into the host's routing table (a route via
  // the new bridge). overlay lives in its own namespace; macvlan/ipvlan attach containers to a
  // parent interface without a host route. Plugins are refused elsewhere (plugin installs). A
  // config-only network has no driver of its own: a bridge network may take its subnet later
  // (`--config-from`), so its subnet is checked whatever driver it names.
  if (!configOnly && !driver.empty() && driver != "bridge") return std::nullopt;

  std::vector<std::pair<std::string, HostNetwork>> wanted;
  auto want = [&wanted](const std::string& given) -> std::optional<NetworkRefusal> {
    auto net = parseCidr(given);
    if (!net.ok()) return badBody(net.error().message());
    wanted.emplace_back(given, *net);
    if (auto v4 = mappedV4(*net)) wanted.emplace_back(given, *v4);
    return std::nullopt;
  };
  // `--config-from X`: dockerd copies X's IPAM configuration into the new network.
  if (const auto* cf = goField(body, "ConfigFrom"); cf != nullptr && !cf->is_null()) {
    if (!cf->is_object()) return badBody("ConfigFrom must be an object");
    const auto* n = goField(*cf, "Network");
    if (n != nullptr && !n->is_null() && !n->is_string()) {
      return badBody("ConfigFrom.Network must be a string");
    }
    if (n != nullptr && n->is_string() && !n->get<std::string>().empty()) {
      const std::string name = *n;
      auto it = facts.networks.find(name);
      if (it == facts.networks.end()) {
        need.networks.push_back(name);
        return std::nullopt;
      }
      // A missing network: dockerd refuses the create itself.
      if (it->second) {
        for (const auto& p : it->second->prefixes) {
          // A prefix dockerd accepted once but we cannot read: refuse rather than skip it.
          if (auto r = want(p)) {
            return NetworkRefusal{403,
                                  std::string(kPrefix) + "network \"" + name +
                                      "\" has an address range the guard cannot read: " + p,
                                  "network-subnet"};
          }
        }
      }
    }
  }
  if (const auto* ipam = goField(body, "IPAM"); ipam != nullptr && !ipam->is_null()) {
    if (!ipam->is_object()) return badBody("IPAM must be an object");
    const auto* cfg = goField(*ipam, "Config");
    if (cfg != nullptr && !cfg->is_null()) {
      if (!cfg->is_array()) return badBody("IPAM.Config must be an array");
      for (const auto& entry : *cfg) {
        if (!entry.is_object()) return badBody("IPAM.Config entries must be objects");
        // Subnet is the route dockerd adds; IPRange and Gateway lie inside it, but are checked
        // too so that a malformed one is not first noticed by dockerd.
        for (const char* key : {"Subnet", "IPRange", "Gateway"}) {
          const auto* v = goField(entry, key);
          if (v == nullptr || v->is_null()) continue;
          if (!v->is_string())
            return badBody(std::string("IPAM.Config.") + key + " must be a string");
          if (v->get<std::string>().empty()) continue;
          if (auto r = want(v->get<std::string>())) return r;
        }
      }
    }
  }
  // A bridge named after an interface the host already has would be that interface: dockerd
  // adopts an existing bridge (the host's LAN bridge, say) and configures it.
  if (const auto* opts = goField(body, "Options"); opts != nullptr && !opts->is_null()) {
    if (!opts->is_object()) return badBody("Options must be an object");
    // Driver options are a map[string]string: keys are exact, not Go-insensitive.
    if (auto it = opts->find("com.docker.network.bridge.name"); it != opts->end()) {
      if (!it->is_string()) return badBody("Options values must be strings");
      const std::string name = *it;
      // Linux interface names: no '/', not "." or "..", at most 15 bytes; a name the host cannot
      // have is left to dockerd's own check.
      if (!name.empty() && name.size() <= 15 && name.find('/') == std::string::npos &&
          name != "." && name != ".." && fs.stat("/sys/class/net/" + name)) {
        return NetworkRefusal{403,
                              std::string(kPrefix) + "network bridge name \"" + name +
                                  "\" is an interface of the host; the network would take it over",
                              "network-bridge"};
      }
    }
  }
  if (wanted.empty()) return std::nullopt;  // dockerd picks a free pool (it skips host routes)

  auto host = fs.networks();
  if (!host.ok()) {
    return NetworkRefusal{500,
                          std::string(kPrefix) +
                              "cannot read the host's routes to check the "
                              "network's subnet",
                          "network-subnet"};
  }
  for (const auto& [given, net] : wanted) {
    for (const auto& h : *host) {
      // A default route (0/0) overlaps everything and is what every docker network narrows.
      if (h.prefixLen == 0 || !networksOverlap(net, h)) continue;
      return NetworkRefusal{
          403,
          std::string(kPrefix) + "network subnet \"" + given + "\" overlaps the host's network " +
              formatNetwork(h) + (h.device.empty() ? "" : " (" + h.device + ")") +
              "; its containers would receive the host's traffic for those addresses",
          "network-subnet"};
    }
  }
  return std::nullopt;
}

}  // namespace detail
}  // namespace eci::apiproxy
