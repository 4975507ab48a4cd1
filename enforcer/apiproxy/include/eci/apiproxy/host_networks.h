// The host's networks as the guard compares them with a `docker network create` (pure parsing;
// RealHostFs reads /proc/net/route, /proc/net/ipv6_route and the interface addresses).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eci/apiproxy/decide.h"

namespace eci::apiproxy {

// "10.1.0.0/16", "fd00:1::/64" as Go's net.ParseCIDR reads them (host bits may be set); a bare
// address is a /32 or /128. No zones, no spaces.
Result<HostNetwork> parseCidr(std::string_view cidr);

// /proc/net/route (IPv4, the main table: Destination and Mask as the kernel prints a __be32 with
// %08X, i.e. in host byte order) and /proc/net/ipv6_route (every table, the local one too).
Result<std::vector<HostNetwork>> parseProcNetRoute(std::string_view text);
Result<std::vector<HostNetwork>> parseProcNetIpv6Route(std::string_view text);

// Two prefixes of one family overlap when they agree on the shorter prefix's bits.
bool networksOverlap(const HostNetwork& a, const HostNetwork& b);

// "10.1.0.0/16" (the address with host bits cleared).
std::string formatNetwork(const HostNetwork& n);

}  // namespace eci::apiproxy
