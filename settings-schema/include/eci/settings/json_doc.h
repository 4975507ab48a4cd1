// Bounded, strict JSON parsing that remembers where every value is.
//
// Before anything is parsed the size is capped, a UTF-8/UTF-16 byte order mark is refused (Docker
// Desktop fails on a BOM) and the nesting depth is measured by a linear scan, so the recursive
// parser below can never run out of stack. The parser accepts exactly RFC 8259 JSON in UTF-8 and
// additionally refuses duplicate object keys: Docker (Go) silently keeps the last one, so a file
// with duplicates means different things to different readers.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "eci/settings/finding.h"

namespace eci::settings {

struct ParseLimits {
  size_t maxBytes = size_t{4} << 20;  // a 10,000-image allowlist is ~0.5 MiB
  size_t maxDepth = 32;               // admin-settings.json needs 5
};

class Document {
 public:
  const nlohmann::json& root() const { return root_; }

  // Where the value at `pointer` starts. Falls back to the closest ancestor that has a position
  // (e.g. for a member that is missing), and to 1:1 for the root. Each call scans the bytes
  // once: a valid file never pays for positions; a report asks for all of its at once below.
  Position valuePosition(std::string_view pointer) const;
  // Where the key of the object member at `pointer` starts; the value's position otherwise.
  Position keyPosition(std::string_view pointer) const;
  struct PositionQuery {
    std::string pointer;
    bool atKey = false;
  };
  // The positions of many pointers (as above, in order) from one scan of the bytes.
  std::vector<Position> positionsFor(const std::vector<PositionQuery>& queries) const;
  // The parsed tree, moved out (the document keeps its bytes for positions).
  nlohmann::json takeRoot() { return std::move(root_); }

 private:
  friend class JsonParser;
  nlohmann::json root_;
  std::string bytes_;  // what was parsed, for positionsFor()
  // Filled only in positionsFor()'s scratch document.
  std::unordered_map<std::string, Position> values_;
  std::unordered_map<std::string, Position> keys_;
};

struct ParseOutcome {
  bool ok = false;
  Document document;  // valid when ok
  Finding error;      // the first problem when !ok (file is set from `fileLabel`)
};

// Parses `bytes` (the content of `fileLabel`). Never throws.
ParseOutcome parseJson(std::string_view bytes, std::string_view fileLabel,
                       const ParseLimits& limits = {});

// "string \"yes\"", "number 3", "object", "array", "null", "boolean true".
std::string describeValue(const nlohmann::json& v);

}  // namespace eci::settings
