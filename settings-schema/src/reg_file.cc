#include "eci/settings/reg_file.h"

#include <algorithm>
#include <cctype>

#include "eci/settings/mdm_formats.h"

namespace eci::settings {
namespace {

bool ieq(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view rtrim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view ltrim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// The file as UTF-8 text: UTF-16LE (BOM FF FE, what regedit writes) is converted.
Result<std::string> decode(std::string_view bytes) {
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xFE) {
    if (bytes.size() % 2 != 0) return Error("UTF-16 text with an odd number of bytes");
    std::u16string u;
    u.reserve(bytes.size() / 2);
    for (size_t i = 2; i < bytes.size(); i += 2) {
      u += static_cast<char16_t>(static_cast<unsigned char>(bytes[i]) |
                                 (static_cast<unsigned char>(bytes[i + 1]) << 8));
    }
    return mdm::utf16ToUtf8(u);
  }
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xEF\xBB\xBF")
    return std::string(bytes.substr(3));
  return std::string(bytes);
}

// A "..." string at `pos` (regedit escapes only \\ and \").
Result<std::string> readQuoted(std::string_view s, size_t& pos) {
  if (pos >= s.size() || s[pos] != '"') return Error("expected '\"'");
  std::string out;
  for (size_t i = pos + 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      if (i + 1 >= s.size() || (s[i + 1] != '\\' && s[i + 1] != '"')) {
        return Error("unknown escape in a string (only \\\\ and \\\" exist)");
      }
      out += s[++i];
    } else if (s[i] == '"') {
      pos = i + 1;
      return out;
    } else {
      out += s[i];
    }
  }
  return Error("unterminated string");
}

Result<std::vector<unsigned char>> readHexBytes(std::string_view s) {
  std::vector<unsigned char> out;
  s = ltrim(rtrim(s));
  if (s.empty()) return out;
  size_t i = 0;
  while (true) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) return Error("missing hex byte after ','");
    int v = 0;
    int digits = 0;
    while (i < s.size() && std::isxdigit(static_cast<unsigned char>(s[i])) && digits < 2) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
      v = v * 16 + (std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10);
      ++digits;
      ++i;
    }
    if (digits == 0) return Error("bad hex byte");
    out.push_back(static_cast<unsigned char>(v));
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    if (s[i] != ',') return Error("expected ',' between hex bytes");
    ++i;
  }
  return out;
}

Result<std::string> utf16leBytesToString(const std::vector<unsigned char>& b) {
  if (b.size() % 2 != 0) return Error("odd number of bytes in a UTF-16 string");
  std::u16string u;
  for (size_t i = 0; i + 1 < b.size(); i += 2) {
    const auto c = static_cast<char16_t>(b[i] | (b[i + 1] << 8));
    if (c == 0) break;
    u += c;
  }
  return mdm::utf16ToUtf8(u);
}

Result<RegValue> parseData(RegValue v, std::string_view data) {
  data = ltrim(data);
  if (data == "-") {
    v.type = RegValue::Type::kDelete;
    return v;
  }
  if (!data.empty() && data[0] == '"') {
    size_t pos = 0;
    ECI_ASSIGN_OR_RETURN(s, readQuoted(data, pos));
    if (!rtrim(data.substr(pos)).empty()) return Error("text after the string");
    v.type = RegValue::Type::kSz;
    v.strings.push_back(std::move(s));
    return v;
  }
  if (data.size() >= 6 && ieq(data.substr(0, 6), "dword:")) {
    auto hex = rtrim(data.substr(6));
    if (hex.empty() || hex.size() > 8 || !std::all_of(hex.begin(), hex.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c));
        })) {
      return Error("dword: needs 1..8 hex digits");
    }
    v.type = RegValue::Type::kDword;
    v.number = std::stoull(std::string(hex), nullptr, 16);
    return v;
  }
  if (data.size() >= 3 && ieq(data.substr(0, 3), "hex")) {
    std::string_view rest = data.substr(3);
    unsigned kind = 3;  // plain hex: = REG_BINARY
    if (!rest.empty() && rest[0] == '(') {
      const size_t close = rest.find(')');
      if (close == std::string_view::npos || close == 1 || close > 9) return Error("bad hex(type)");
      const std::string t(rest.substr(1, close - 1));
      if (!std::all_of(t.begin(), t.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
        return Error("bad hex(type)");
      }
      kind = static_cast<unsigned>(std::stoul(t, nullptr, 16));
      rest = rest.substr(close + 1);
    }
    if (rest.empty() || rest[0] != ':') return Error("expected ':' after hex");
    ECI_ASSIGN_OR_RETURN(bytes, readHexBytes(rest.substr(1)));
    v.bytes = bytes;
    switch (kind) {
      case 2: {
        v.type = RegValue::Type::kExpandSz;
        ECI_ASSIGN_OR_RETURN(s, utf16leBytesToString(bytes));
        v.strings.push_back(std::move(s));
        break;
      }
      case 7: {
        v.type = RegValue::Type::kMultiSz;
        ECI_ASSIGN_OR_RETURN(list, mdm::regMultiSzFromBytes(bytes));
        v.strings = std::move(list);
        break;
      }
      case 0xb:
        if (bytes.size() != 8) return Error("hex(b) (QWORD) needs 8 bytes");
        v.type = RegValue::Type::kQword;
        for (int i = 7; i >= 0; --i) v.number = (v.number << 8) | bytes[static_cast<size_t>(i)];
        break;
      case 3:
        v.type = RegValue::Type::kBinary;
        break;
      default:
        v.type = RegValue::Type::kOther;
    }
    return v;
  }
  return Error("unknown value data (expected \"string\", dword:, hex:, hex(N): or -)");
}

}  // namespace

Result<std::vector<RegKey>> parseRegFile(std::string_view bytes, const std::string& origin) {
  if (bytes.size() > kMaxRegFileBytes) {
    return Error(ErrorKind::kTooLarge,
                 origin + ": larger than " + std::to_string(kMaxRegFileBytes) + " bytes");
  }
  auto text = decode(bytes);
  if (!text.ok()) return Error(origin + ": " + text.error().str());
  std::string_view t = *text;
  std::vector<RegKey> keys;
  bool header = false;
  size_t lineNo = 0;
  size_t pos = 0;
  auto nextLine = [&](std::string_view& line) {
    if (pos >= t.size()) return false;
    size_t end = t.find('\n', pos);
    if (end == std::string_view::npos) end = t.size();
    line = rtrim(t.substr(pos, end - pos));
    pos = end + 1;
    ++lineNo;
    return true;
  };
  auto fail = [&](size_t n, const std::string& why) {
    return Error(origin + ":" + std::to_string(n) + ": " + why);
  };
  std::string_view line;
  while (nextLine(line)) {
    const size_t n = lineNo;
    line = ltrim(line);
    if (line.empty() || line[0] == ';') continue;
    if (!header) {
      if (line != "Windows Registry Editor Version 5.00" && line != "REGEDIT4") {
        return fail(n, "not a .reg file (expected 'Windows Registry Editor Version 5.00')");
      }
      header = true;
      continue;
    }
    if (line[0] == '[') {
      if (line.back() != ']') return fail(n, "a key line must end with ']'");
      RegKey k;
      std::string_view path = line.substr(1, line.size() - 2);
      if (!path.empty() && path[0] == '-') {
        k.remove = true;
        path.remove_prefix(1);
      }
      if (path.empty()) return fail(n, "empty key path");
      k.path = std::string(path);
      keys.push_back(std::move(k));
      continue;
    }
    if (keys.empty()) return fail(n, "a value before any [key]");
    RegValue v;
    size_t p = 0;
    if (line[0] == '@') {
      p = 1;
    } else if (line[0] == '"') {
      auto name = readQuoted(line, p);
      if (!name.ok()) return fail(n, "value name: " + name.error().str());
      v.name = std::move(*name);
    } else {
      return fail(n, "expected \"name\"=, @=, [key] or ; comment");
    }
    std::string_view rest = ltrim(line.substr(p));
    if (rest.empty() || rest[0] != '=') return fail(n, "expected '=' after the value name");
    std::string data(rest.substr(1));
    // Hex data continues on the next line after a trailing backslash.
    while (!data.empty() && data.back() == '\\' && ltrim(data).rfind("hex", 0) == 0) {
      data.pop_back();
      std::string_view more;
      if (!nextLine(more)) return fail(n, "a continued hex value at the end of the file");
      data += std::string(ltrim(more));
    }
    auto parsed = parseData(std::move(v), data);
    if (!parsed.ok()) return fail(n, parsed.error().str());
    keys.back().values.push_back(std::move(*parsed));
  }
  if (!header) return Error(origin + ": empty, not a .reg file");
  return keys;
}

const RegValue* findRegValue(const std::vector<RegKey>& keys, std::string_view path,
                             std::string_view name) {
  const RegValue* found = nullptr;
  for (const auto& k : keys) {
    if (!ieq(k.path, path)) continue;
    if (k.remove) found = nullptr;
    for (const auto& v : k.values) {
      if (ieq(v.name, name)) found = v.type == RegValue::Type::kDelete ? nullptr : &v;
    }
  }
  return found;
}

std::optional<std::string> policyKeyText(const RegValue& v) {
  if (v.type != RegValue::Type::kMultiSz && v.type != RegValue::Type::kSz &&
      v.type != RegValue::Type::kExpandSz) {
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 0; i < v.strings.size(); ++i) {
    if (i) out += '\n';
    out += v.strings[i];
  }
  return out;
}

}  // namespace eci::settings
