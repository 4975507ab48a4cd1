// Docker image references as admin-settings.json's dockerSocketMount.imageList.images uses them,
// and a fast matcher of a container's image against such an allowlist.
//
// Grammar (Docker's reference grammar, plus ECI's patterns):
//   [registry[:port]/]path[:tag][@sha256:<64 lowercase hex>]
//   name:*          any tag of that repository
//   <prefix>/*[:t]  every repository directly under <prefix> (the '*' does not cross '/': a
//                   pattern that matches less fails closed; Docker has not specified this)
//   *               every image (the whole entry only)
// Normalisation: no registry -> docker.io; docker.io/<one component> -> docker.io/library/...;
// index.docker.io -> docker.io; no tag and no digest -> :latest.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "eci/error.h"

namespace eci::settings {

// A concrete reference (what a container is created from).
struct ImageReference {
  std::string repository;   // "docker.io/library/docker"
  std::string tag;          // "" only when a digest is given without a tag
  std::string digest;       // "sha256:<hex>" or ""
  std::string str() const;  // normalised: repo[:tag][@digest]
};

struct ImagePattern {
  enum class Kind { kEverything, kTag, kAnyTag, kDigest, kRepoWildcard };
  Kind kind = Kind::kTag;
  std::string repository;   // for kRepoWildcard: the prefix, e.g. "docker.io/testcontainers"
  std::string tag;          // kTag, and kRepoWildcard with a fixed tag; "*" = any tag
  std::string digest;       // kDigest
  std::string str() const;  // normalised form, stable: parsePattern(p.str()) == p
};

// Parse errors are plain sentences suitable for a Finding's reason.
Result<ImageReference> parseImageReference(std::string_view text);
Result<ImagePattern> parseImagePattern(std::string_view text);

// Built once per policy; matches() is O(number of path components) with hash lookups, no scan of
// the allowlist.
class ImageMatcher {
 public:
  ImageMatcher() = default;
  // Entries that fail to parse are skipped and reported through `errors` when given; a policy's
  // list is already normalised, so that only happens to a hand-edited list.
  static ImageMatcher build(const std::vector<std::string>& patterns,
                            std::vector<std::string>* errors = nullptr);
  void add(const ImagePattern& p);

  bool matches(const ImageReference& ref) const;
  // Unparsable references never match.
  bool matches(std::string_view reference) const;
  size_t size() const { return size_; }

 private:
  bool everything_ = false;
  std::unordered_set<std::string> exact_;         // "repo:tag" and "repo@digest"
  std::unordered_set<std::string> anyTag_;        // "repo"
  std::unordered_set<std::string> prefixAnyTag_;  // "prefix" of "<prefix>/*:*"
  std::unordered_set<std::string> prefixTag_;     // "prefix:tag" of "<prefix>/*:tag"
  size_t size_ = 0;
};

inline bool matches(std::string_view reference, const ImageMatcher& allowlist) {
  return allowlist.matches(reference);
}

}  // namespace eci::settings
