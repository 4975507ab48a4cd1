// Internal to eci_core: JSON parsing for bytes that come from another trust domain (bundles pushed
// by an agent, frames from a peer). nlohmann keeps the last of duplicate keys while another reader
// may keep the first; refusing duplicates means everyone who reads a signed document sees the same
// thing. The depth cap bounds memory and stack for adversarial nesting.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "eci/error.h"

namespace eci::internal {

struct JsonParseAbort {
  std::string reason;
};

// `what` names the document in the error ("policy bundle", "frame").
inline Result<nlohmann::json> parseJsonStrict(std::string_view text, const std::string& what,
                                              int maxDepth = 64) {
  using nlohmann::json;
  std::vector<std::unordered_set<std::string>> keys;  // one set per open object
  auto cb = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    if (depth > maxDepth) throw JsonParseAbort{"nested deeper than " + std::to_string(maxDepth)};
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key: {
        const auto& k = parsed.get_ref<const std::string&>();
        if (!keys.empty() && !keys.back().insert(k).second) {
          throw JsonParseAbort{"duplicate key \"" + k + "\""};
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const JsonParseAbort& e) {
    return Error(what + ": malformed JSON: " + e.reason);
  } catch (const json::parse_error& e) {
    // e.what() carries nlohmann's internal names ("[json.exception.parse_error.101]"); keep only
    // the byte offset and the tail that explains the problem.
    std::string msg = e.what();
    const auto pos = msg.find("parse error");
    if (pos != std::string::npos) msg = msg.substr(pos);
    return Error(what + ": malformed JSON: " + msg);
  } catch (const std::exception& e) {
    return Error(what + ": malformed JSON: " + std::string(e.what()));
  }
}

// dump() throws on invalid UTF-8 in strings; callers need an Error instead.
inline Result<std::string> dumpJson(const nlohmann::json& j, const std::string& what) {
  try {
    return j.dump();
  } catch (const std::exception& e) {
    return Error(ErrorKind::kInvalidInput, what + ": cannot serialise: invalid UTF-8 in a string");
  }
}

}  // namespace eci::internal
