#include "json_text.h"

#include <algorithm>

namespace eci::gui {

int offsetOf(const QString& text, eci::settings::Position pos) {
  if (pos.line == 0) return 0;
  int lineStart = 0;
  for (uint32_t l = 1; l < pos.line; ++l) {
    const int nl = text.indexOf(QLatin1Char('\n'), lineStart);
    if (nl < 0) return static_cast<int>(text.size());
    lineStart = nl + 1;
  }
  int lineEnd = text.indexOf(QLatin1Char('\n'), lineStart);
  if (lineEnd < 0) lineEnd = static_cast<int>(text.size());
  // The column counts bytes of UTF-8: convert the line's prefix of that many bytes.
  const QByteArray line = text.mid(lineStart, lineEnd - lineStart).toUtf8();
  const int bytes = std::clamp<int>(static_cast<int>(pos.column) - 1, 0, line.size());
  return lineStart + static_cast<int>(QString::fromUtf8(line.left(bytes)).size());
}

int valueExtent(const QString& text, int offset) {
  const int n = static_cast<int>(text.size());
  if (offset < 0 || offset >= n) return 0;
  const QChar c = text[offset];
  int i = offset;
  if (c == QLatin1Char('"')) {
    for (++i; i < n; ++i) {
      if (text[i] == QLatin1Char('\\')) {
        ++i;
      } else if (text[i] == QLatin1Char('"')) {
        return i + 1 - offset;
      } else if (text[i] == QLatin1Char('\n')) {
        break;
      }
    }
    return i - offset;
  }
  if (c == QLatin1Char('{') || c == QLatin1Char('[')) {
    int depth = 0;
    bool inString = false;
    for (; i < n; ++i) {
      const QChar d = text[i];
      if (inString) {
        if (d == QLatin1Char('\\')) {
          ++i;
        } else if (d == QLatin1Char('"')) {
          inString = false;
        }
        continue;
      }
      if (d == QLatin1Char('"')) {
        inString = true;
      } else if (d == QLatin1Char('{') || d == QLatin1Char('[')) {
        ++depth;
      } else if (d == QLatin1Char('}') || d == QLatin1Char(']')) {
        if (--depth == 0) return i + 1 - offset;
      }
    }
    return n - offset;
  }
  while (i < n && !text[i].isSpace() && text[i] != QLatin1Char(',') &&
         text[i] != QLatin1Char('}') && text[i] != QLatin1Char(']')) {
    ++i;
  }
  return i - offset;
}

std::optional<Json> parseOrdered(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::string dumpText(const Json& j) {
  return j.dump(2, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace) + "\n";
}

std::vector<std::string> splitPointer(const std::string& pointer) {
  std::vector<std::string> out;
  if (pointer.empty()) return out;
  size_t pos = 1;
  while (true) {
    const size_t next = pointer.find('/', pos);
    std::string tok =
        pointer.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
    std::string unescaped;
    for (size_t i = 0; i < tok.size(); ++i) {
      if (tok[i] == '~' && i + 1 < tok.size()) {
        unescaped += tok[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        unescaped += tok[i];
      }
    }
    out.push_back(std::move(unescaped));
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  return out;
}

std::string joinPointer(const std::vector<std::string>& tokens) {
  std::string p;
  for (const auto& t : tokens) eci::settings::appendPointerToken(p, t);
  return p;
}

std::string parentPointer(const std::string& pointer) {
  auto toks = splitPointer(pointer);
  if (!toks.empty()) toks.pop_back();
  return joinPointer(toks);
}

namespace {

bool asIndex(const std::string& tok, size_t& idx) {
  if (tok.empty() || tok.size() > 9) return false;
  idx = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    idx = idx * 10 + static_cast<size_t>(c - '0');
  }
  return true;
}

Json* childOf(Json& node, const std::string& tok, bool create) {
  if (node.is_object()) {
    auto it = node.find(tok);
    if (it != node.end()) return &*it;
    if (!create) return nullptr;
    node[tok] = Json::object();
    return &node[tok];
  }
  if (node.is_array()) {
    size_t idx = 0;
    if (!asIndex(tok, idx) || idx >= node.size()) return nullptr;
    return &node[idx];
  }
  if (create && node.is_null()) {
    node = Json::object();
    node[tok] = Json::object();
    return &node[tok];
  }
  return nullptr;
}

}  // namespace

const Json* at(const Json& root, const std::string& pointer) {
  const Json* cur = &root;
  for (const auto& tok : splitPointer(pointer)) {
    if (cur->is_object()) {
      auto it = cur->find(tok);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      size_t idx = 0;
      if (!asIndex(tok, idx) || idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

bool setAt(Json& root, const std::string& pointer, const Json& value) {
  auto toks = splitPointer(pointer);
  if (toks.empty()) {
    root = value;
    return true;
  }
  Json* cur = &root;
  for (size_t i = 0; i + 1 < toks.size(); ++i) {
    cur = childOf(*cur, toks[i], /*create=*/true);
    if (cur == nullptr) return false;
  }
  const std::string& last = toks.back();
  if (cur->is_null()) *cur = Json::object();
  if (cur->is_object()) {
    (*cur)[last] = value;
    return true;
  }
  if (cur->is_array()) {
    size_t idx = 0;
    if (!asIndex(last, idx) || idx > cur->size()) return false;
    if (idx == cur->size()) {
      cur->push_back(value);
    } else {
      (*cur)[idx] = value;
    }
    return true;
  }
  return false;
}

bool removeAt(Json& root, const std::string& pointer) {
  auto toks = splitPointer(pointer);
  if (toks.empty()) return false;
  const std::string last = toks.back();
  toks.pop_back();
  Json* parent = &root;
  for (const auto& t : toks) {
    parent = childOf(*parent, t, /*create=*/false);
    if (parent == nullptr) return false;
  }
  if (parent->is_object()) return parent->erase(last) > 0;
  size_t idx = 0;
  if (parent->is_array() && asIndex(last, idx) && idx < parent->size()) {
    parent->erase(parent->begin() + static_cast<std::ptrdiff_t>(idx));
    return true;
  }
  return false;
}

const char* diffKindName(DiffEntry::Kind k) {
  switch (k) {
    case DiffEntry::Kind::kAdded:
      return "added";
    case DiffEntry::Kind::kRemoved:
      return "removed";
    case DiffEntry::Kind::kChanged:
      return "changed";
  }
  return "changed";
}

namespace {

void diffInto(const Json& a, const Json& b, const std::string& pointer,
              std::vector<DiffEntry>& out) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      std::string p = pointer;
      eci::settings::appendPointerToken(p, it.key());
      auto jt = b.find(it.key());
      if (jt == b.end()) {
        out.push_back({DiffEntry::Kind::kRemoved, p, it.value(), std::nullopt});
      } else {
        diffInto(it.value(), *jt, p, out);
      }
    }
    for (auto jt = b.begin(); jt != b.end(); ++jt) {
      if (a.contains(jt.key())) continue;
      std::string p = pointer;
      eci::settings::appendPointerToken(p, jt.key());
      out.push_back({DiffEntry::Kind::kAdded, p, std::nullopt, jt.value()});
    }
    return;
  }
  if (a.is_array() && b.is_array()) {
    const size_t common = std::min(a.size(), b.size());
    for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
      const std::string p = pointer + "/" + std::to_string(i);
      if (i < common) {
        diffInto(a[i], b[i], p, out);
      } else if (i < a.size()) {
        out.push_back({DiffEntry::Kind::kRemoved, p, a[i], std::nullopt});
      } else {
        out.push_back({DiffEntry::Kind::kAdded, p, std::nullopt, b[i]});
      }
    }
    return;
  }
  if (a != b) out.push_back({DiffEntry::Kind::kChanged, pointer, a, b});
}

}  // namespace

std::vector<DiffEntry> diffJson(const Json& a, const Json& b) {
  std::vector<DiffEntry> out;
  diffInto(a, b, "", out);
  return out;
}

std::string formatDiff(const std::vector<DiffEntry>& diff) {
  std::string s;
  for (const auto& d : diff) {
    s += diffKindName(d.kind);
    s += ' ';
    s += d.pointer.empty() ? "(document)" : d.pointer;
    s += ": ";
    if (d.before) s += d.before->dump();
    if (d.before && d.after) s += " -> ";
    if (d.after) s += d.after->dump();
    s += '\n';
  }
  return s;
}

MergeResult merge3(const Json& base, const Json& mine, const Json& theirs) {
  MergeResult r{mine, {}, {}};
  const auto changes = diffJson(base, theirs);
  // Array removals by index go last to first so earlier indices stay valid.
  std::vector<const DiffEntry*> removals;
  for (const auto& d : changes) {
    const Json* b = at(base, d.pointer);
    const Json* m = at(r.merged, d.pointer);
    const bool mineUnchanged = (b == nullptr && m == nullptr) || (b && m && *b == *m);
    const bool alreadyThere = d.after ? (m != nullptr && *m == *d.after) : m == nullptr;
    if (alreadyThere) continue;
    if (!mineUnchanged) {
      r.conflicts.push_back(d.pointer);
      continue;
    }
    if (d.kind == DiffEntry::Kind::kRemoved) {
      removals.push_back(&d);
    } else if (setAt(r.merged, d.pointer, *d.after)) {
      r.applied.push_back(d.pointer);
    } else {
      r.conflicts.push_back(d.pointer);
    }
  }
  for (auto it = removals.rbegin(); it != removals.rend(); ++it) {
    if (removeAt(r.merged, (*it)->pointer)) r.applied.push_back((*it)->pointer);
  }
  return r;
}

}  // namespace eci::gui
