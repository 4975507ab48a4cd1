// Request normalisation as dockerd 20.10 executes it (Go net/http + gorilla/mux 1.8): the raw
// request-target is split and percent-decoded once, the /v<major>.<minor> prefix is taken off,
// the query is parsed as url.ParseQuery does, and Go's JSON key matching is mirrored. Anything
// Go would read differently from us (non-clean paths, ';' in queries, repeated security keys,
// form bodies overriding the query, JSON keys that collide under Go's case folding) is refused:
// the guard decides on exactly what dockerd will execute, or not at all. Pure, fuzzed.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eci/apiproxy/decide.h"
#include "eci/error.h"

namespace eci::apiproxy {

struct NormalizedRequest {
  std::string method;
  std::string path;     // percent-decoded, version prefix removed: "/containers/create"
  std::string version;  // "1.41", or "" when the request had no /vN.NN prefix
  // url.ParseQuery's result in order; Go's Form.Get takes the first value of a key.
  std::vector<std::pair<std::string, std::string>> query;
  std::string mediaType;  // Content-Type's media type, lowercased ("" if absent)

  // First value (Go's r.FormValue) or nullopt.
  std::optional<std::string> queryValue(std::string_view key) const;
  size_t queryCount(std::string_view key) const;
};

// A refusal's ErrorKind gives its HTTP status (refusalStatus): kInvalidInput for a malformed or
// ambiguous request (400).
Result<NormalizedRequest> normalizeRequest(const Request& req);

// The HTTP status the guard answers a refused request with, from the refusal's kind: 403 when a
// rule or a look-up refused it (kDenied), 413 when its body is too large to inspect (kTooLarge),
// 400 for everything else: malformed or ambiguous input, and any other failure (a failed system
// call included: the request is refused as one the guard cannot check, never passed on).
int refusalStatus(const Error& e);

// Percent-decoding as Go's url.PathUnescape / QueryUnescape (plusIsSpace for queries).
Result<std::string> percentDecode(std::string_view s, bool plusIsSpace);

// Go's path.Clean, plus the trailing slash gorilla/mux keeps ("/a/b/" stays "/a/b/").
std::string muxCleanPath(std::string_view p);
// path.Clean (no trailing slash kept), as dockerd applies to bind sources.
std::string goPathClean(std::string_view p);

// ---- JSON as Go's encoding/json reads it ---------------------------------------------------

// Go's key folding: ASCII case-insensitive, and U+017F (ſ) = 's', U+212A (K) = 'k' (the only
// non-ASCII runes whose simple folding reaches ASCII letters).
std::string goFoldKey(std::string_view key);

// Parses a request body. Refused (400): invalid JSON, trailing data, nesting deeper than 64, and
// any object holding two keys equal under goFoldKey (Go merges or lets the later one win where
// nlohmann keeps only the last: the two readers would disagree).
Result<nlohmann::json> parseGoJson(std::string_view body);

// The member Go's decoder would fill for struct field `field` (case-insensitive); nullptr if
// absent. `obj` must be an object whose keys were checked by parseGoJson.
const nlohmann::json* goField(const nlohmann::json& obj, std::string_view field);
nlohmann::json* goField(nlohmann::json& obj, std::string_view field);
// Removes that member; true if there was one.
bool goEraseField(nlohmann::json& obj, std::string_view field);

}  // namespace eci::apiproxy
