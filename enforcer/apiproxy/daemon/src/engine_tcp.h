// Whether dockerd behind `upstream` listens on TCP without TLS (the reason, or nullopt).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace eci::apiproxy {

std::optional<std::string> engineTcpWithoutTls(const std::filesystem::path& upstream);

}  // namespace eci::apiproxy
