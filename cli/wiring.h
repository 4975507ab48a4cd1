// `eci-admin status`: how this machine is wired (runc diversion, the engine's runc, daemon.json
// runtimes, the engine socket's owner). Read-only; see wiring.cc.
#pragma once

#include <nlohmann/json.hpp>

namespace eci::cli {

// [{"check": name, "ok": bool, "detail": text}, ...]
nlohmann::json wiringStatus();
void printWiringText(const nlohmann::json& wiring);

}  // namespace eci::cli
