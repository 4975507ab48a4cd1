#include "eci/settings/json_doc.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace eci::settings {
namespace {

using nlohmann::json;

std::string printable(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char* kHex = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

}  // namespace

// A strict recursive-descent parser. Recursion depth is bounded because parseJson() measured the
// nesting depth before calling it.
class JsonParser {
 public:
  // Without `wanted` the parser builds the value tree and keeps a copy of the bytes (parseJson).
  // With it, it builds nothing and only notes where the values and keys at the wanted JSON
  // Pointers are (Document::positionsFor, on bytes already parsed, so valid): a file with
  // findings pays one scan that allocates little, instead of a second full parse that kept a
  // pointer string for every value.
  JsonParser(std::string_view s, Document& doc, const std::unordered_set<std::string>* wanted)
      : s_(s), doc_(doc), wanted_(wanted) {
    if (wanted_ == nullptr) doc_.bytes_ = std::string(s);
  }

  // Returns false and sets error_ on the first problem.
  bool run() {
    skipWs();
    if (!parseValue(doc_.root_)) return false;
    skipWs();
    if (i_ != s_.size())
      return fail("unexpected " + printable(s_[i_]) + " after the JSON document");
    return true;
  }

  Position errorPos;
  std::string errorReason;

 private:
  Position pos() const { return {line_, static_cast<uint32_t>(i_ - lineStart_ + 1)}; }
  bool fail(std::string reason) {
    errorPos = pos();
    errorReason = std::move(reason);
    return false;
  }
  bool failEof(const char* expected) {
    return fail(std::string("unexpected end of file, expected ") + expected);
  }

  void skipWs() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '\n') {
        ++i_;
        ++line_;
        lineStart_ = i_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++i_;
      } else {
        break;
      }
    }
  }

  bool parseValue(json& out) {
    if (i_ >= s_.size()) return failEof("a value");
    if (wanted_ != nullptr && wanted_->count(pointer_) != 0) doc_.values_.emplace(pointer_, pos());
    switch (s_[i_]) {
      case '{':
        return parseObject(out);
      case '[':
        return parseArray(out);
      case '"': {
        std::string str;
        if (!parseString(str)) return false;
        out = std::move(str);
        return true;
      }
      case 't':
        return parseLiteral("true", json(true), out);
      case 'f':
        return parseLiteral("false", json(false), out);
      case 'n':
        return parseLiteral("null", json(nullptr), out);
      default:
        if (s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9')) return parseNumber(out);
        return fail("expected a value, got " + printable(s_[i_]));
    }
  }

  bool parseLiteral(std::string_view word, json value, json& out) {
    if (s_.substr(i_, word.size()) != word) {
      return fail("invalid literal, expected '" + std::string(word) + "'");
    }
    i_ += word.size();
    out = std::move(value);
    return true;
  }

  bool parseObject(json& out) {
    out = json::object();
    ++i_;  // '{'
    skipWs();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    const size_t base = pointer_.size();
    for (;;) {
      skipWs();
      if (i_ >= s_.size()) return failEof("a string key");
      if (s_[i_] != '"') return fail("expected a string key, got " + printable(s_[i_]));
      const Position keyPos = pos();
      std::string key;
      if (!parseString(key)) return false;
      if (wanted_ == nullptr && out.contains(key)) {
        errorPos = keyPos;
        errorReason = "duplicate key \"" + key + "\" (readers disagree on which one wins)";
        return false;
      }
      skipWs();
      if (i_ >= s_.size()) return failEof("':'");
      if (s_[i_] != ':') return fail("expected ':' after the key, got " + printable(s_[i_]));
      ++i_;
      skipWs();
      json scratch;
      if (wanted_ != nullptr) {
        appendPointerToken(pointer_, key);
        if (wanted_->count(pointer_) != 0) doc_.keys_.emplace(pointer_, keyPos);
      }
      json& slot = wanted_ != nullptr ? scratch : out[key];
      if (!parseValue(slot)) return false;
      pointer_.resize(base);
      skipWs();
      if (i_ >= s_.size()) return failEof("',' or '}'");
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] == '}') {
        ++i_;
        return true;
      }
      return fail("expected ',' or '}' in the object, got " + printable(s_[i_]));
    }
  }

  bool parseArray(json& out) {
    out = json::array();
    ++i_;  // '['
    skipWs();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    const size_t base = pointer_.size();
    for (size_t index = 0;; ++index) {
      skipWs();
      json scratch;
      if (wanted_ != nullptr) {
        pointer_ += '/';
        pointer_ += std::to_string(index);
      } else {
        out.push_back(nullptr);
      }
      if (!parseValue(wanted_ != nullptr ? scratch : out.back())) return false;
      pointer_.resize(base);
      skipWs();
      if (i_ >= s_.size()) return failEof("',' or ']'");
      if (s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (s_[i_] == ']') {
        ++i_;
        return true;
      }
      return fail("expected ',' or ']' in the array, got " + printable(s_[i_]));
    }
  }

  static int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool parseHex4(uint32_t& cp) {
    if (i_ + 4 > s_.size()) return failEof("4 hex digits after \\u");
    cp = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = hexValue(s_[i_]);
      if (h < 0) return fail("invalid \\u escape: expected a hex digit, got " + printable(s_[i_]));
      cp = (cp << 4) | static_cast<uint32_t>(h);
      ++i_;
    }
    return true;
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // Validates one UTF-8 sequence starting at i_ (a byte >= 0x80) and copies it.
  bool copyUtf8(std::string& out) {
    const auto b0 = static_cast<unsigned char>(s_[i_]);
    size_t len;
    uint32_t cp;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      len = 2;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      len = 3;
      cp = b0 & 0x0f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return fail("invalid UTF-8 (" + printable(s_[i_]) + ")");
    }
    if (i_ + len > s_.size()) return fail("invalid UTF-8 (truncated sequence)");
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s_[i_ + k]);
      if ((b & 0xc0) != 0x80) return fail("invalid UTF-8 (bad continuation byte)");
      cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return fail("invalid UTF-8 (overlong, surrogate or out-of-range sequence)");
    }
    out.append(s_.data() + i_, len);
    i_ += len;
    return true;
  }

  bool parseString(std::string& out) {
    ++i_;  // opening quote
    for (;;) {
      if (i_ >= s_.size()) return failEof("'\"' to end the string");
      const char c = s_[i_];
      const auto u = static_cast<unsigned char>(c);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (u < 0x20) {
        return fail(c == '\n' ? "unterminated string (newline inside a string)"
                              : "control character " + printable(c) + " inside a string");
      }
      if (u >= 0x80) {
        if (!copyUtf8(out)) return false;
        continue;
      }
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      ++i_;
      if (i_ >= s_.size()) return failEof("an escape character");
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!parseHex4(cp)) return false;
          if (cp >= 0xdc00 && cp <= 0xdfff) return fail("invalid \\u escape: lone low surrogate");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            if (s_.substr(i_, 2) != "\\u") return fail("invalid \\u escape: lone high surrogate");
            i_ += 2;
            uint32_t lo;
            if (!parseHex4(lo)) return false;
            if (lo < 0xdc00 || lo > 0xdfff) return fail("invalid \\u escape: bad surrogate pair");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          appendUtf8(out, cp);
          break;
        }
        default:
          --i_;
          return fail("invalid escape '\\" + std::string(1, e) + "' in a string");
      }
    }
  }

  bool parseNumber(json& out) {
    const size_t start = i_;
    bool isInt = true;
    if (s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') return fail("invalid number");
    if (s_[i_] == '0') {
      ++i_;
      if (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        return fail("invalid number: leading zeros are not allowed");
      }
    } else {
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      isInt = false;
      ++i_;
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') {
        return fail("invalid number: expected a digit after '.'");
      }
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      isInt = false;
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') {
        return fail("invalid number: expected a digit in the exponent");
      }
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    }
    const char* b = s_.data() + start;
    const char* e = s_.data() + i_;
    if (isInt) {
      int64_t v;
      if (auto r = std::from_chars(b, e, v); r.ec == std::errc() && r.ptr == e) {
        out = v;
        return true;
      }
      uint64_t uv;
      if (auto r = std::from_chars(b, e, uv); r.ec == std::errc() && r.ptr == e) {
        out = uv;
        return true;
      }
    }
    double d;
    auto r = std::from_chars(b, e, d);
    if (r.ec != std::errc() || r.ptr != e) {
      i_ = start;
      return fail("number out of range");
    }
    out = d;
    return true;
  }

  std::string_view s_;
  Document& doc_;
  size_t i_ = 0;
  uint32_t line_ = 1;
  size_t lineStart_ = 0;
  const std::unordered_set<std::string>* wanted_;
  std::string pointer_;
};

namespace {

// Linear scan for the deepest nesting, outside strings. Lets the parser recurse safely.
bool depthWithin(std::string_view s, size_t maxDepth, Position& where) {
  size_t depth = 0;
  bool inString = false;
  uint32_t line = 1;
  size_t lineStart = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\n') {
      ++line;
      lineStart = i + 1;
      continue;
    }
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '{' || c == '[') {
      if (++depth > maxDepth) {
        where = {line, static_cast<uint32_t>(i - lineStart + 1)};
        return false;
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace

ParseOutcome parseJson(std::string_view bytes, std::string_view fileLabel,
                       const ParseLimits& limits) {
  ParseOutcome r;
  r.error.file = std::string(fileLabel);
  r.error.severity = Severity::kError;
  auto refuse = [&](Position p, std::string reason) {
    r.error.position = p;
    r.error.reason = std::move(reason);
    return std::move(r);
  };
  if (bytes.size() > limits.maxBytes) {
    return refuse({}, "file is " + std::to_string(bytes.size()) + " bytes; the limit is " +
                          std::to_string(limits.maxBytes) + " bytes");
  }
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") {
    return refuse({1, 1},
                  "file starts with a UTF-8 byte order mark (BOM); Docker Desktop fails to read "
                  "such a file: save it as UTF-8 without BOM");
  }
  if (bytes.substr(0, 2) == "\xFF\xFE" || bytes.substr(0, 2) == "\xFE\xFF") {
    return refuse({1, 1}, "file is UTF-16 encoded; save it as UTF-8 without BOM");
  }
  Position deep;
  if (!depthWithin(bytes, limits.maxDepth, deep)) {
    return refuse(deep, "nesting is deeper than " + std::to_string(limits.maxDepth) + " levels");
  }
  JsonParser p(bytes, r.document, /*wanted=*/nullptr);
  if (!p.run()) {
    r.document = Document();
    return refuse(p.errorPos, "invalid JSON: " + p.errorReason);
  }
  r.ok = true;
  return r;
}

std::vector<Position> Document::positionsFor(const std::vector<PositionQuery>& queries) const {
  // Every query's pointer and its ancestors (the fallback for a member that is missing).
  std::unordered_set<std::string> wanted;
  for (const auto& q : queries) {
    std::string p = q.pointer;
    for (;;) {
      if (!wanted.insert(p).second) break;  // its ancestors are in already
      const auto slash = p.rfind('/');
      if (slash == std::string::npos) break;
      p.resize(slash);
    }
  }
  Document scratch;
  JsonParser parser(bytes_, scratch, &wanted);
  (void)parser.run();  // the same bytes parsed before: cannot fail
  std::vector<Position> out;
  out.reserve(queries.size());
  for (const auto& q : queries) {
    if (q.atKey) {
      if (auto it = scratch.keys_.find(q.pointer); it != scratch.keys_.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    std::string p = q.pointer;
    for (;;) {
      if (auto it = scratch.values_.find(p); it != scratch.values_.end()) {
        out.push_back(it->second);
        break;
      }
      const auto slash = p.rfind('/');
      if (slash == std::string::npos) {
        out.push_back({1, 1});
        break;
      }
      p.resize(slash);
    }
  }
  return out;
}

Position Document::valuePosition(std::string_view pointer) const {
  return positionsFor({{std::string(pointer), false}})[0];
}

Position Document::keyPosition(std::string_view pointer) const {
  return positionsFor({{std::string(pointer), true}})[0];
}

std::string describeValue(const nlohmann::json& v) {
  switch (v.type()) {
    case json::value_t::string: {
      std::string s = v.get_ref<const std::string&>();
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return "string " + json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    }
    case json::value_t::boolean:
      return v.get<bool>() ? "boolean true" : "boolean false";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer " + v.dump();
    case json::value_t::number_float:
      return "number " + v.dump();
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::null:
      return "null";
    default:
      return "value";
  }
}

}  // namespace eci::settings
