#include "eci/settings/mdm_formats.h"

#include <openssl/evp.h>

#include <cstdio>

namespace eci::settings::mdm {
namespace {

// Decodes one code point at `i` (advanced); -1 on invalid UTF-8 (overlong, surrogate, > U+10FFFF,
// truncated).
long decodeUtf8(std::string_view s, size_t& i) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) {
    ++i;
    return c0;
  }
  int len = 0;
  long cp = 0;
  long min = 0;
  if ((c0 & 0xE0) == 0xC0) {
    len = 2;
    cp = c0 & 0x1F;
    min = 0x80;
  } else if ((c0 & 0xF0) == 0xE0) {
    len = 3;
    cp = c0 & 0x0F;
    min = 0x800;
  } else if ((c0 & 0xF8) == 0xF0) {
    len = 4;
    cp = c0 & 0x07;
    min = 0x10000;
  } else {
    return -1;
  }
  if (i + len > s.size()) return -1;
  for (int k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (c & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  i += len;
  return cp;
}

void appendUtf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string hex4(unsigned v) {
  char buf[8];
  (void)std::snprintf(buf, sizeof buf, "%04X", v & 0xFFFF);
  return buf;
}

// PowerShell's single-quote characters: ' and the typographic U+2018..U+201B.
bool psIsQuoteAt(std::string_view t, size_t i, size_t& len) {
  if (i < t.size() && t[i] == '\'') {
    len = 1;
    return true;
  }
  if (i + 2 < t.size() && static_cast<unsigned char>(t[i]) == 0xE2 &&
      static_cast<unsigned char>(t[i + 1]) == 0x80) {
    const auto c = static_cast<unsigned char>(t[i + 2]);
    if (c >= 0x98 && c <= 0x9B) {
      len = 3;
      return true;
    }
  }
  return false;
}

void skipPsSpace(std::string_view t, size_t& pos) {
  while (pos < t.size()) {
    const char c = t[pos];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++pos;
    } else if (c == '#') {  // a comment to the end of the line
      while (pos < t.size() && t[pos] != '\n') ++pos;
    } else {
      break;
    }
  }
}

}  // namespace

Result<std::u16string> utf8ToUtf16(std::string_view utf8) {
  std::u16string out;
  out.reserve(utf8.size());
  for (size_t i = 0; i < utf8.size();) {
    const size_t at = i;
    const long cp = decodeUtf8(utf8, i);
    if (cp < 0) return Error("invalid UTF-8 at byte " + std::to_string(at));
    if (cp >= 0x10000) {
      const long v = cp - 0x10000;
      out += static_cast<char16_t>(0xD800 + (v >> 10));
      out += static_cast<char16_t>(0xDC00 + (v & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

Result<std::string> utf16ToUtf8(std::u16string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned c = s[i];
    if (c >= 0xD800 && c <= 0xDBFF) {
      if (i + 1 >= s.size() || s[i + 1] < 0xDC00 || s[i + 1] > 0xDFFF) {
        return Error("unpaired UTF-16 surrogate at unit " + std::to_string(i));
      }
      appendUtf8(out, 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00));
      ++i;
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      return Error("unpaired UTF-16 surrogate at unit " + std::to_string(i));
    } else {
      appendUtf8(out, c);
    }
  }
  return out;
}

Result<std::string> xmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    const long cp = decodeUtf8(s, i);
    if (cp < 0) return Error("invalid UTF-8 at byte " + std::to_string(at));
    switch (cp) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;  // also keeps "]]>" out of character data
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;  // a raw CR is normalised to LF by every XML parser
      default:
        if ((cp < 0x20 && cp != '\t' && cp != '\n') || cp == 0xFFFE || cp == 0xFFFF) {
          return Error("character U+" + hex4(static_cast<unsigned>(cp)) + " at byte " +
                       std::to_string(at) + " cannot appear in XML 1.0");
        }
        out.append(s.substr(at, i - at));
    }
  }
  return out;
}

Result<std::string> shQuote(std::string_view s) {
  if (s.find('\0') != std::string_view::npos) {
    return Error("a NUL byte cannot be passed through a shell word");
  }
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";  // close, an escaped quote, reopen
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

Result<std::string> shReadWord(std::string_view t, size_t& pos) {
  std::string out;
  bool any = false;
  while (pos < t.size()) {
    const char c = t[pos];
    if (c == '\'') {
      const size_t end = t.find('\'', pos + 1);
      if (end == std::string_view::npos) {
        return Error("unterminated single-quoted string at byte " + std::to_string(pos));
      }
      out.append(t.substr(pos + 1, end - pos - 1));
      pos = end + 1;
      any = true;
    } else if (c == '\\') {
      if (pos + 1 >= t.size()) return Error("backslash at the end of the script");
      if (t[pos + 1] != '\n') out += t[pos + 1];  // backslash-newline is a line continuation
      pos += 2;
      any = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '>' || c == '|' || c == '&') {
      break;
    } else if (c == '"' || c == '$' || c == '`') {
      // Expansions would make the value depend on the environment: the exports never write them.
      return Error(std::string("unexpected '") + c + "' in a literal shell word at byte " +
                   std::to_string(pos));
    } else {
      out += c;
      ++pos;
      any = true;
    }
  }
  if (!any) return Error("no shell word at byte " + std::to_string(pos));
  return out;
}

Result<std::string> psQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) return Error("psQuote: non-ASCII text needs psTextExpression");
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

Result<std::string> psTextExpression(std::string_view utf8) {
  ECI_ASSIGN_OR_RETURN(units, utf8ToUtf16(utf8));
  std::string out = "-join @(\n";
  std::string run;
  auto flushRun = [&] {
    if (run.empty()) return;
    out += '\'';
    for (char c : run) {
      if (c == '\'') out += '\'';
      out += c;
    }
    out += "'\n";
    run.clear();
  };
  for (char16_t u : units) {
    // Printable ASCII (and tab) stays readable; a line ends a run so the script keeps the
    // file's line structure.
    if ((u >= 0x20 && u < 0x7F) || u == '\t') {
      run += static_cast<char>(u);
      continue;
    }
    flushRun();
    out += "[char]0x" + hex4(u) + "\n";
  }
  flushRun();
  out += ")";
  return out;
}

Result<std::string> psReadQuoted(std::string_view t, size_t& pos) {
  size_t qlen = 0;
  if (!psIsQuoteAt(t, pos, qlen)) {
    return Error("expected a single-quoted string at byte " + std::to_string(pos));
  }
  const size_t start = pos;
  pos += qlen;
  std::string out;
  while (pos < t.size()) {
    size_t l1 = 0;
    if (psIsQuoteAt(t, pos, l1)) {
      size_t l2 = 0;
      if (psIsQuoteAt(t, pos + l1, l2)) {  // a doubled quote: the second one is the character
        out.append(t.substr(pos + l1, l2));
        pos += l1 + l2;
        continue;
      }
      pos += l1;
      return out;
    }
    out += t[pos++];
  }
  return Error("unterminated single-quoted string at byte " + std::to_string(start));
}

Result<std::string> psReadTextExpression(std::string_view t, size_t& pos) {
  constexpr std::string_view kOpen = "-join";
  if (t.substr(pos, kOpen.size()) != kOpen) {
    return Error("expected '-join @(' at byte " + std::to_string(pos));
  }
  pos += kOpen.size();
  skipPsSpace(t, pos);
  if (t.substr(pos, 2) != "@(") return Error("expected '@(' at byte " + std::to_string(pos));
  pos += 2;
  std::u16string units;
  while (true) {
    skipPsSpace(t, pos);
    if (pos >= t.size()) return Error("unterminated -join @( expression");
    if (t[pos] == ')') {
      ++pos;
      break;
    }
    size_t qlen = 0;
    if (psIsQuoteAt(t, pos, qlen)) {
      ECI_ASSIGN_OR_RETURN(s, psReadQuoted(t, pos));
      ECI_ASSIGN_OR_RETURN(u, utf8ToUtf16(s));
      units += u;
      continue;
    }
    constexpr std::string_view kChar = "[char]0x";
    if (t.substr(pos, kChar.size()) == kChar) {
      pos += kChar.size();
      unsigned v = 0;
      int digits = 0;
      while (pos < t.size() && digits < 5 && std::isxdigit(static_cast<unsigned char>(t[pos]))) {
        const char c = t[pos++];
        v = v * 16 +
            static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(c))
                                      ? c - '0'
                                      : (std::tolower(static_cast<unsigned char>(c)) - 'a' + 10));
        ++digits;
      }
      if (digits == 0 || v > 0xFFFF) {
        return Error("bad [char]0x code unit at byte " + std::to_string(pos));
      }
      units += static_cast<char16_t>(v);
      continue;
    }
    return Error("unexpected text in a -join @( expression at byte " + std::to_string(pos));
  }
  return utf16ToUtf8(units);
}

Result<std::string> regQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\r' || c == '\n') return Error("a .reg string cannot contain a line break");
    if (c == '\0') return Error("a .reg string cannot contain NUL");
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Result<std::string> regMultiSzHex(const std::vector<std::string>& items, size_t prefixLen) {
  std::vector<unsigned char> bytes;
  for (const auto& item : items) {
    if (item.empty()) return Error("REG_MULTI_SZ cannot hold an empty string");
    ECI_ASSIGN_OR_RETURN(u, utf8ToUtf16(item));
    for (char16_t c : u) {
      if (c == 0) return Error("REG_MULTI_SZ strings cannot contain NUL");
      bytes.push_back(static_cast<unsigned char>(c & 0xFF));
      bytes.push_back(static_cast<unsigned char>(c >> 8));
    }
    bytes.push_back(0);
    bytes.push_back(0);
  }
  bytes.push_back(0);
  bytes.push_back(0);
  std::string out = "hex(7):";
  size_t col = prefixLen + out.size();
  for (size_t i = 0; i < bytes.size(); ++i) {
    char b[4];
    (void)std::snprintf(b, sizeof b, "%02x", bytes[i]);
    out += b;
    col += 2;
    if (i + 1 < bytes.size()) {
      out += ',';
      ++col;
      if (col >= 76) {  // regedit wraps near 80 columns
        out += "\\\r\n  ";
        col = 2;
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> regMultiSzFromBytes(const std::vector<unsigned char>& bytes) {
  if (bytes.size() % 2 != 0) return Error("REG_MULTI_SZ data has an odd number of bytes");
  std::vector<std::string> out;
  std::u16string cur;
  bool terminated = false;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    const auto u = static_cast<char16_t>(bytes[i] | (bytes[i + 1] << 8));
    if (u != 0) {
      if (terminated) return Error("REG_MULTI_SZ data continues after its final NUL");
      cur += u;
      continue;
    }
    if (cur.empty()) {  // an empty string ends the list
      terminated = true;
      continue;
    }
    ECI_ASSIGN_OR_RETURN(s, utf16ToUtf8(cur));
    out.push_back(std::move(s));
    cur.clear();
  }
  if (!cur.empty()) {  // tolerated, as Windows does: a last string without its NUL
    ECI_ASSIGN_OR_RETURN(s, utf16ToUtf8(cur));
    out.push_back(std::move(s));
  }
  return out;
}

std::string sha256Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  (void)EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  static const char* kHex = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out;
}

}  // namespace eci::settings::mdm
