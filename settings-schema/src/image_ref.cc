#include "eci/settings/image_ref.h"

#include <algorithm>

namespace eci::settings {
namespace {

constexpr std::string_view kDockerHub = "docker.io";
constexpr size_t kMaxNameLength = 255;  // Docker's NameTotalLengthMax

bool isLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
bool validPathComponent(std::string_view c) {
  if (c.empty() || !isLowerAlnum(c.front()) || !isLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size();) {
    if (isLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__" or one or more "-".
    size_t j = i;
    if (c[i] == '.') {
      j = i + 1;
    } else if (c[i] == '_') {
      j = i + 1;
      if (j < c.size() && c[j] == '_') ++j;
    } else if (c[i] == '-') {
      while (j < c.size() && c[j] == '-') ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !isLowerAlnum(c[j])) return false;
    i = j;
  }
  return true;
}

// host[:port]; host labels of letters, digits and '-', separated by '.'.
bool validDomain(std::string_view d) {
  const auto colon = d.find(':');
  std::string_view host = d.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = d.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
  }
  if (host.empty()) return false;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!(isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '-')) return false;
    }
    start = dot + 1;
  }
  return true;
}

bool validTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool word = isLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(word || (i > 0 && (c == '.' || c == '-')))) return false;
  }
  return true;
}

Error refError(std::string_view text, const std::string& why) {
  return Error("invalid image reference \"" + std::string(text) + "\": " + why);
}

Status checkDigest(std::string_view text, std::string_view digest) {
  const auto colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return refError(text, "a digest must look like sha256:<64 hex digits>");
  }
  std::string_view algo = digest.substr(0, colon);
  std::string_view hex = digest.substr(colon + 1);
  if (algo != "sha256") {
    return refError(text, "unsupported digest algorithm \"" + std::string(algo) +
                              "\" (only sha256 is supported)");
  }
  if (hex.size() != 64) {
    return refError(
        text, "a sha256 digest has 64 hex digits, this one has " + std::to_string(hex.size()));
  }
  if (!std::all_of(hex.begin(), hex.end(), isHex)) {
    return refError(text, "a sha256 digest has only lowercase hex digits (0-9, a-f)");
  }
  return {};
}

struct Split {
  std::string repository;  // normalised
  std::string tag;
  std::string digest;
  bool wildcardRepo = false;  // name ended in "/*"
};

// Normalises "name" (no tag/digest) into registry/path. `wildcard` allows a final "/*".
Result<Split> splitName(std::string_view text, std::string_view name, bool wildcard) {
  Split out;
  if (name.empty()) return refError(text, "the repository name is empty");
  if (wildcard && name.size() >= 2 && name.substr(name.size() - 2) == "/*") {
    out.wildcardRepo = true;
    name.remove_suffix(2);
  }
  if (name.find('*') != std::string_view::npos) {
    return refError(text,
                    "'*' is only allowed as the whole entry, as the tag (:*) or as the last "
                    "path component (<prefix>/*)");
  }
  std::string_view domain = kDockerHub;
  std::string_view path = name;
  const auto slash = name.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = name.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      domain = first;
      path = name.substr(slash + 1);
      if (!validDomain(domain)) {
        return refError(text, "\"" + std::string(domain) + "\" is not a valid registry host");
      }
      if (domain == "index.docker.io") domain = kDockerHub;
    }
  } else if (out.wildcardRepo &&
             (name.find_first_of(".:") != std::string_view::npos || name == "localhost")) {
    // "registry.example.com/*": every repository at the top of that registry.
    if (!validDomain(name)) {
      return refError(text, "\"" + std::string(name) + "\" is not a valid registry host");
    }
    out.repository = name == "index.docker.io" ? std::string(kDockerHub) : std::string(name);
    if (out.repository == kDockerHub) out.repository += "/library";
    return out;
  }
  if (path.empty()) return refError(text, "the repository path is empty");
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (!validPathComponent(comp)) {
      const bool upper =
          std::any_of(comp.begin(), comp.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
      if (upper) return refError(text, "repository names must be lowercase");
      return refError(text, "\"" + std::string(comp) +
                                "\" is not a valid repository path component (lowercase letters, "
                                "digits and single separators . _ __ -)");
    }
    start = end + 1;
  }
  out.repository.reserve(domain.size() + path.size() + 9);
  out.repository.append(domain);
  out.repository += '/';
  // Official images live under library/ on Docker Hub: "docker" is "docker.io/library/docker".
  if (domain == kDockerHub && path.find('/') == std::string_view::npos && !out.wildcardRepo) {
    out.repository += "library/";
  }
  out.repository.append(path);
  if (out.repository.size() > kMaxNameLength) {
    return refError(text, "the repository name is longer than 255 characters");
  }
  return out;
}

// Splits text into name, tag, digest. allowPatterns: ':*' tags and '/*' repositories.
Result<Split> splitReference(std::string_view text, bool allowPatterns) {
  if (text.empty()) return refError(text, "the entry is empty");
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return refError(text, "it contains a space, control or non-ASCII character");
    }
  }
  std::string_view rest = text;
  std::string_view digest;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    ECI_TRY(checkDigest(text, digest));
  }
  std::string_view tag;
  const auto lastSlash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (lastSlash == std::string_view::npos || colon > lastSlash)) {
    tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    const bool anyTag = allowPatterns && tag == "*";
    if (!anyTag && !validTag(tag)) {
      return refError(text, "\"" + std::string(tag) +
                                "\" is not a valid tag (up to 128 letters, digits, _ . -; not "
                                "starting with . or -)");
    }
    if (anyTag && !digest.empty()) {
      return refError(text, "a digest pins one image; it cannot be combined with the tag '*'");
    }
  }
  ECI_ASSIGN_OR_RETURN(split, splitName(text, rest, allowPatterns));
  if (split.wildcardRepo && !digest.empty()) {
    return refError(text, "a digest pins one image; it cannot be combined with '<prefix>/*'");
  }
  split.tag = std::string(tag);
  split.digest = std::string(digest);
  // No tag and no digest means :latest, as for `docker pull`.
  if (split.tag.empty() && split.digest.empty()) split.tag = "latest";
  return split;
}

}  // namespace

std::string ImageReference::str() const {
  std::string s = repository;
  if (!tag.empty()) s += ':' + tag;
  if (!digest.empty()) s += '@' + digest;
  return s;
}

std::string ImagePattern::str() const {
  switch (kind) {
    case Kind::kEverything:
      return "*";
    case Kind::kTag:
      return repository + ':' + tag;
    case Kind::kAnyTag:
      return repository + ":*";
    case Kind::kDigest:
      return repository + '@' + digest;
    case Kind::kRepoWildcard:
      return repository + "/*:" + tag;
  }
  return {};
}

Result<ImageReference> parseImageReference(std::string_view text) {
  ECI_ASSIGN_OR_RETURN(split, splitReference(text, /*allowPatterns=*/false));
  ImageReference r;
  r.repository = std::move(split.repository);
  r.tag = std::move(split.tag);
  r.digest = std::move(split.digest);
  return r;
}

Result<ImagePattern> parseImagePattern(std::string_view text) {
  ImagePattern p;
  if (text == "*") {
    p.kind = ImagePattern::Kind::kEverything;
    return p;
  }
  ECI_ASSIGN_OR_RETURN(split, splitReference(text, /*allowPatterns=*/true));
  p.repository = std::move(split.repository);
  if (split.wildcardRepo) {
    p.kind = ImagePattern::Kind::kRepoWildcard;
    p.tag = std::move(split.tag);
  } else if (!split.digest.empty()) {
    // name:tag@digest: the digest decides, as in Docker; the tag is only a label.
    p.kind = ImagePattern::Kind::kDigest;
    p.digest = std::move(split.digest);
  } else if (split.tag == "*") {
    p.kind = ImagePattern::Kind::kAnyTag;
  } else {
    p.kind = ImagePattern::Kind::kTag;
    p.tag = std::move(split.tag);
  }
  return p;
}

ImageMatcher ImageMatcher::build(const std::vector<std::string>& patterns,
                                 std::vector<std::string>* errors) {
  ImageMatcher m;
  m.exact_.reserve(patterns.size());
  for (const auto& text : patterns) {
    auto p = parseImagePattern(text);
    if (!p.ok()) {
      if (errors != nullptr) errors->push_back(p.error().str());
      continue;
    }
    m.add(*p);
  }
  return m;
}

void ImageMatcher::add(const ImagePattern& p) {
  ++size_;
  switch (p.kind) {
    case ImagePattern::Kind::kEverything:
      everything_ = true;
      break;
    case ImagePattern::Kind::kTag:
      exact_.insert(p.repository + ':' + p.tag);
      break;
    case ImagePattern::Kind::kDigest:
      exact_.insert(p.repository + '@' + p.digest);
      break;
    case ImagePattern::Kind::kAnyTag:
      anyTag_.insert(p.repository);
      break;
    case ImagePattern::Kind::kRepoWildcard:
      if (p.tag == "*") {
        prefixAnyTag_.insert(p.repository);
      } else {
        prefixTag_.insert(p.repository + ':' + p.tag);
      }
      break;
  }
}

bool ImageMatcher::matches(const ImageReference& ref) const {
  if (everything_) return true;
  if (ref.repository.empty()) return false;
  // One buffer, reused for every lookup key.
  std::string key;
  key.reserve(ref.repository.size() + 80);
  if (!ref.digest.empty()) {
    key.assign(ref.repository).append(1, '@').append(ref.digest);
    if (exact_.count(key) != 0) return true;
  }
  if (!ref.tag.empty()) {
    key.assign(ref.repository).append(1, ':').append(ref.tag);
    if (exact_.count(key) != 0) return true;
  }
  if (anyTag_.count(ref.repository) != 0) return true;
  const auto slash = ref.repository.rfind('/');
  if (slash != std::string::npos && (!prefixAnyTag_.empty() || !prefixTag_.empty())) {
    key.assign(ref.repository, 0, slash);
    if (prefixAnyTag_.count(key) != 0) return true;
    if (!ref.tag.empty()) {
      key.append(1, ':').append(ref.tag);
      if (prefixTag_.count(key) != 0) return true;
    }
  }
  return false;
}

bool ImageMatcher::matches(std::string_view reference) const {
  if (everything_) return true;
  auto ref = parseImageReference(reference);
  return ref.ok() && matches(*ref);
}

}  // namespace eci::settings
