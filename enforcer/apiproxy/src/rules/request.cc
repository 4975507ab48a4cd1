// Request normalisation and Go-compatible JSON reading (request.h).
#include "eci/apiproxy/request.h"

#include <algorithm>
#include <unordered_set>

namespace eci::apiproxy {
namespace {

Error bad(const std::string& why) {
  return Error(ErrorKind::kInvalidInput, why);
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isTokenChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A dockerd API version as the CLI and SDKs send it: digits '.' digits. gorilla/mux would take
// any [0-9.]+ and dockerd's version comparison reads odd forms ("1..41", "1.41.0") in ways we
// would rather not reproduce.
bool validVersion(std::string_view v) {
  const auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size() || dot > 3 ||
      v.size() - dot - 1 > 3) {
    return false;
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != dot && (v[i] < '0' || v[i] > '9')) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> NormalizedRequest::queryValue(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return v;
  }
  return std::nullopt;
}

size_t NormalizedRequest::queryCount(std::string_view key) const {
  return static_cast<size_t>(
      std::count_if(query.begin(), query.end(), [&](const auto& kv) { return kv.first == key; }));
}

Result<std::string> percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return bad("invalid URL escape (truncated %XX)");
      const int hi = hexValue(s[i + 1]);
      const int lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return bad("invalid URL escape \"" + std::string(s.substr(i, 3)) + "\"");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string goPathClean(std::string_view p) {
  if (p.empty()) return ".";
  const bool rooted = p.front() == '/';
  std::vector<std::string_view> parts;
  size_t dotdots = 0;  // leading ".." kept in a relative path
  size_t i = 0;
  while (i < p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view seg = p.substr(i, j - i);
    i = j + 1;
    if (seg.empty() || seg == ".") continue;
    if (seg == "..") {
      if (parts.size() > dotdots) {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(seg);
        ++dotdots;
      }
      continue;
    }
    parts.push_back(seg);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out.append(parts[k]);
  }
  if (out.empty()) return ".";
  return out;
}

std::string muxCleanPath(std::string_view p) {
  if (p.empty()) return "/";
  std::string in(p);
  if (in.front() != '/') in.insert(in.begin(), '/');
  std::string np = goPathClean(in);
  // gorilla/mux puts the trailing slash back (path.Clean removes it).
  if (in.back() == '/' && np != "/") np += '/';
  return np;
}

int refusalStatus(const Error& e) {
  // Only the rules' own refusals choose a status; a failed system call (a host look-up) that
  // reaches here stays the 400 it always was, whatever its errno's kind.
  if (e.isSystem()) return 400;
  switch (e.kind()) {
    case ErrorKind::kDenied:
      return 403;
    case ErrorKind::kTooLarge:
      return 413;
    default:
      return 400;
  }
}

Result<NormalizedRequest> normalizeRequest(const Request& req) {
  NormalizedRequest n;
  if (req.method.empty() || req.method.size() > 16 ||
      !std::all_of(req.method.begin(), req.method.end(), isTokenChar)) {
    return bad("malformed request method");
  }
  n.method = req.method;
  const std::string& t = req.target;
  if (t.empty() || t.front() != '/') {
    // Absolute-form ("http://host/path") and "*" targets: the CLI never sends them, and Go
    // would route them differently from a plain path.
    return bad("the request target must be an absolute path (origin-form)");
  }
  if (t.size() > 64 * 1024) return bad("request target too long");
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') {
      return bad("the request target has a control, space, '#' or non-ASCII byte");
    }
  }
  const auto q = t.find('?');
  const std::string_view rawPath = std::string_view(t).substr(0, q);
  const std::string_view rawQuery =
      q == std::string::npos ? std::string_view() : std::string_view(t).substr(q + 1);

  // gorilla/mux routes on the decoded path: "/v1.41/containers%2Fcreate" is create.
  ECI_ASSIGN_OR_RETURN(path, percentDecode(rawPath, /*plusIsSpace=*/false));
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("the decoded request path has a control character");
  }
  // dockerd answers a non-clean path with a 301 to the clean one: refuse instead of guessing
  // what a client following the redirect will send.
  if (muxCleanPath(path) != path) {
    return bad("non-canonical request path (\"//\", \"/./\" or \"/../\")");
  }
  // /v{version:[0-9.]+}/...: every route is registered with and without it.
  if (path.size() > 2 && path[1] == 'v' && ((path[2] >= '0' && path[2] <= '9') || path[2] == '.')) {
    size_t end = 2;
    while (end < path.size() && ((path[end] >= '0' && path[end] <= '9') || path[end] == '.')) {
      ++end;
    }
    if (end < path.size() && path[end] == '/') {
      n.version = path.substr(2, end - 2);
      if (!validVersion(n.version)) {
        return bad("malformed API version \"" + n.version + "\" in the request path");
      }
      n.path = path.substr(end);
    } else {
      n.path = path;
    }
  } else {
    n.path = path;
  }

  // url.ParseQuery: '&'-separated; Go >= 1.17 drops pairs holding ';' (we refuse them: a proxy
  // splitting on ';' too would disagree), bad escapes drop the pair (we refuse).
  size_t start = 0;
  while (start <= rawQuery.size() && !rawQuery.empty()) {
    size_t amp = rawQuery.find('&', start);
    if (amp == std::string_view::npos) amp = rawQuery.size();
    std::string_view part = rawQuery.substr(start, amp - start);
    start = amp + 1;
    if (part.empty()) {
      if (amp == rawQuery.size()) break;
      continue;
    }
    if (part.find(';') != std::string_view::npos) return bad("';' in the query string");
    const auto eq = part.find('=');
    ECI_ASSIGN_OR_RETURN(key, percentDecode(part.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      ECI_ASSIGN_OR_RETURN(v, percentDecode(part.substr(eq + 1), true));
      value = std::move(v);
    }
    n.query.emplace_back(std::move(key), std::move(value));
    if (n.query.size() > 1000) return bad("too many query parameters");
    if (amp == rawQuery.size()) break;
  }

  // Content-Type: dockerd calls r.FormValue, which lets an urlencoded or multipart body
  // override the query (e.g. /build with body "networkmode=host"). No docker client sends
  // those, so refuse them everywhere rather than parse bodies we do not otherwise read.
  int contentTypes = 0;
  for (const auto& [name, value] : req.headers) {
    if (asciiLower(name) != "content-type") continue;
    if (++contentTypes > 1) return bad("repeated Content-Type header");
    std::string_view v = value;
    const auto semi = v.find(';');
    n.mediaType = asciiLower(trim(v.substr(0, semi)));
  }
  if (n.mediaType == "application/x-www-form-urlencoded" ||
      n.mediaType.rfind("multipart/", 0) == 0) {
    return bad("form-encoded request bodies are not accepted (Content-Type " + n.mediaType + ")");
  }
  return n;
}

// ---- JSON ------------------------------------------------------------------------------------

std::string goFoldKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (c == 0xC5 && i + 1 < key.size() && static_cast<unsigned char>(key[i + 1]) == 0xBF) {
      out.push_back('s');  // U+017F LATIN SMALL LETTER LONG S
      ++i;
    } else if (c == 0xE2 && i + 2 < key.size() && static_cast<unsigned char>(key[i + 1]) == 0x84 &&
               static_cast<unsigned char>(key[i + 2]) == 0xAA) {
      out.push_back('k');  // U+212A KELVIN SIGN
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

namespace {
struct JsonRefusal {
  std::string why;
};
constexpr int kMaxJsonDepth = 64;
}  // namespace

Result<nlohmann::json> parseGoJson(std::string_view body) {
  if (body.size() > kMaxInspectedBody)
    return Error(ErrorKind::kTooLarge, "request body too large to inspect");
  std::vector<std::unordered_set<std::string>> keys;
  auto cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (depth > kMaxJsonDepth) throw JsonRefusal{"JSON nested too deeply"};
    switch (ev) {
      case E::object_start:
        keys.emplace_back();
        break;
      case E::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case E::key:
        if (!keys.empty() && parsed.is_string()) {
          if (!keys.back().insert(goFoldKey(parsed.get_ref<const std::string&>())).second) {
            throw JsonRefusal{"JSON object has the key \"" + parsed.get<std::string>() +
                              "\" twice (keys are matched case-insensitively)"};
          }
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    auto j = nlohmann::json::parse(body.begin(), body.end(), cb, /*allow_exceptions=*/false);
    if (j.is_discarded()) return bad("the request body is not valid JSON");
    return j;
  } catch (const JsonRefusal& r) {
    return bad(r.why);
  } catch (const nlohmann::json::exception&) {
    return bad("the request body is not valid JSON");
  }
}

const nlohmann::json* goField(const nlohmann::json& obj, std::string_view field) {
  if (!obj.is_object()) return nullptr;
  const std::string want = goFoldKey(field);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (goFoldKey(it.key()) == want) return &it.value();
  }
  return nullptr;
}

nlohmann::json* goField(nlohmann::json& obj, std::string_view field) {
  return const_cast<nlohmann::json*>(goField(static_cast<const nlohmann::json&>(obj), field));
}

bool goEraseField(nlohmann::json& obj, std::string_view field) {
  if (!obj.is_object()) return false;
  const std::string want = goFoldKey(field);
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (goFoldKey(it.key()) == want) {
      obj.erase(it);
      return true;
    }
  }
  return false;
}

}  // namespace eci::apiproxy
