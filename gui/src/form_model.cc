#include "form_model.h"

#include <QApplication>
#include <QBrush>
#include <QFont>
#include <QPalette>
#include <QStyle>

#include "eci/settings/commands.h"
#include "eci/settings/image_ref.h"

namespace eci::gui {
namespace {

using Kind = SchemaNode::Kind;

bool isList(const SchemaNode& n) {
  return n.kind == Kind::kStringList || n.kind == Kind::kObjectList;
}

QString jsonText(const Json& v) {
  if (v.is_string()) return QString::fromStdString(v.get<std::string>());
  return QString::fromStdString(v.dump());
}

}  // namespace

QString FormModel::notSet() {
  return tr("(not set)");
}

FormModel::FormModel(Document* doc, QObject* parent)
    : QAbstractItemModel(parent), doc_(doc), root_(buildSchemaTree(doc->kind())) {
  connect(doc_, &Document::changed, this, [this] { sync(); });
  sync();
}

const SchemaNode* FormModel::node(const QModelIndex& index) const {
  if (!index.isValid()) return root_.get();
  return static_cast<const SchemaNode*>(index.internalPointer());
}

QModelIndex FormModel::index(int row, int column, const QModelIndex& parent) const {
  const SchemaNode* p = node(parent);
  if (p == nullptr || row < 0 || column < 0 || column >= kColumnCount ||
      row >= static_cast<int>(p->children.size())) {
    return {};
  }
  return createIndex(row, column, p->children[static_cast<size_t>(row)].get());
}

QModelIndex FormModel::indexOf(const SchemaNode* n, int column) const {
  if (n == nullptr || n == root_.get() || n->parent == nullptr) return {};
  const auto& sib = n->parent->children;
  for (size_t i = 0; i < sib.size(); ++i) {
    if (sib[i].get() == n)
      return createIndex(static_cast<int>(i), column, const_cast<SchemaNode*>(n));
  }
  return {};
}

QModelIndex FormModel::parent(const QModelIndex& child) const {
  if (!child.isValid()) return {};
  return indexOf(node(child)->parent);
}

int FormModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() && parent.column() != 0) return 0;
  const SchemaNode* n = node(parent);
  return n == nullptr ? 0 : static_cast<int>(n->children.size());
}

int FormModel::columnCount(const QModelIndex&) const {
  return kColumnCount;
}

QVariant FormModel::headerData(int section, Qt::Orientation o, int role) const {
  if (o != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case kSetting:
      return tr("Setting");
    case kValue:
      return tr("Value");
    case kLocked:
      return tr("Locked");
    case kStatus:
      return tr("Status");
    default:
      return {};
  }
}

QString FormModel::valueText(const SchemaNode& n) const {
  if (isList(n)) {
    const Json* v = at(doc_->json(), n.pointer);
    if (v == nullptr) return notSet();
    if (!v->is_array()) return jsonText(*v);
    return tr("%n entries", nullptr, static_cast<int>(v->size()));
  }
  if (!n.hasValue()) return {};
  const Json* v = at(doc_->json(), n.valuePointer);
  if (v == nullptr) return notSet();
  if (n.kind == Kind::kObjectList && v->is_object()) return {};
  if (v->is_array() && n.valueKind == Kind::kStringOrList) {
    QStringList parts;
    for (const auto& e : *v) parts << jsonText(e);
    return parts.join(QStringLiteral(", "));
  }
  return jsonText(*v);
}

std::vector<size_t> FormModel::findingsOf(const SchemaNode& n) const {
  std::vector<size_t> out;
  auto [b, e] = findings_.equal_range(&n);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

QString FormModel::statusText(const SchemaNode& n) const {
  const auto& all = doc_->report().findings;
  QStringList parts;
  for (size_t i : findingsOf(n)) {
    const auto& f = all[i];
    parts << QStringLiteral("%1: %2").arg(
        QString::fromLatin1(eci::settings::severityName(f.severity)),
        QString::fromStdString(f.reason));
  }
  if (!parts.isEmpty()) return parts.join(QStringLiteral("; "));
  const Json* v = n.hasValue() ? at(doc_->json(), n.valuePointer) : nullptr;
  if (v == nullptr || !v->is_string()) return {};
  const std::string s = v->get<std::string>();
  if (n.listRole == SchemaNode::ListRole::kImages && n.kind == Kind::kString) {
    auto p = eci::settings::parseImagePattern(s);
    return p.ok() ? QStringLiteral("\u2192 %1").arg(QString::fromStdString(p->str()))
                  : QString::fromStdString(p.error().str());
  }
  if (n.listRole == SchemaNode::ListRole::kCommands && n.kind == Kind::kString) {
    auto c = eci::settings::checkCommand(s);
    return c.ok ? tr("known command") : QString::fromStdString(c.reason);
  }
  return {};
}

bool FormModel::effectiveLocked(const SchemaNode& n) const {
  const std::string lp = n.effectiveLockPointer();
  if (lp.empty()) return false;
  const Json* v = at(doc_->json(), lp);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

// The ECI sub-settings only matter while ECI is on: grey them when it is off (the validator also
// warns about a list configured while ECI is off).
bool FormModel::eciOffGreys(const SchemaNode& n) const {
  if (n.pointer.rfind("/enhancedContainerIsolation/", 0) != 0) return false;
  const Json* v = at(doc_->json(), "/enhancedContainerIsolation/value");
  return v == nullptr || !v->is_boolean() || !v->get<bool>();
}

bool FormModel::changed(const SchemaNode& n) const {
  if (n.kind == Kind::kCategory || n.pointer.empty()) return false;
  const Json* a = at(doc_->json(), n.pointer);
  const Json* b = at(doc_->baseline(), n.pointer);
  if (a == nullptr || b == nullptr) return a != b;
  return *a != *b;
}

QVariant FormModel::data(const QModelIndex& index, int role) const {
  const SchemaNode* np = index.isValid() ? node(index) : nullptr;
  if (np == nullptr) return {};
  const SchemaNode& n = *np;
  const int col = index.column();
  switch (role) {
    case kPointerRole:
      return QString::fromStdString(n.pointer);
    case kSeverityRole: {
      int sev = 0;
      for (size_t i : findingsOf(n)) {
        sev = std::max(
            sev, doc_->report().findings[i].severity == eci::settings::Severity::kError ? 2 : 1);
      }
      return sev;
    }
    case kEffectiveLockedRole:
      return effectiveLocked(n);
    case kChangedRole:
      return changed(n);
    case kSearchTextRole:
      return QString::fromStdString(n.key + "\n" + n.title + "\n" + n.description + "\n" +
                                    n.pointer);
    case kKindRole:
      return static_cast<int>(n.hasValue() ? n.valueKind : n.kind);
    case kListRoleRole:
      return static_cast<int>(n.listRole);
    case kIsListRole:
      return isList(n);
    case kIsListItemRole:
      return n.parent != nullptr && isList(*n.parent);
    case kDescriptionRole:
      return QString::fromStdString(n.description);
    default:
      break;
  }
  if (role == Qt::DisplayRole || role == Qt::AccessibleTextRole) {
    switch (col) {
      case kSetting:
        return QString::fromStdString(n.title) + (n.required ? QStringLiteral(" *") : QString());
      case kValue:
        return valueText(n);
      case kLocked:
        if (role == Qt::AccessibleTextRole && !n.effectiveLockPointer().empty()) {
          return effectiveLocked(n) ? tr("locked") : tr("not locked");
        }
        return {};
      case kStatus:
        return statusText(n);
      default:
        return {};
    }
  }
  if (role == Qt::EditRole && col == kValue && n.hasValue()) {
    const Json* v = at(doc_->json(), n.valuePointer);
    if (v == nullptr) return notSet();
    return valueText(n);
  }
  if (role == Qt::CheckStateRole && col == kLocked && !n.effectiveLockPointer().empty() &&
      n.kind != Kind::kCategory) {
    return effectiveLocked(n) ? Qt::Checked : Qt::Unchecked;
  }
  if (role == Qt::ToolTipRole) {
    QString tip = QString::fromStdString(n.description);
    if (!n.pointer.empty()) tip += (tip.isEmpty() ? "" : "\n") + QString::fromStdString(n.pointer);
    if (col == kLocked && n.lockPointer.empty() && !n.effectiveLockPointer().empty()) {
      tip = tr("Locked together with its group (%1)")
                .arg(QString::fromStdString(n.effectiveLockPointer()));
    }
    if (col == kStatus) tip = statusText(n);
    return tip.isEmpty() ? QVariant() : tip;
  }
  if (role == Qt::ForegroundRole) {
    const QPalette pal = QApplication::palette();
    if (eciOffGreys(n)) return pal.brush(QPalette::Disabled, QPalette::Text);
    if (col == kValue && valueText(n) == notSet()) {
      return pal.brush(QPalette::Disabled, QPalette::Text);
    }
    return {};
  }
  if (role == Qt::FontRole && col == kSetting && changed(n)) {
    QFont f;
    f.setBold(true);
    return f;
  }
  if (role == Qt::DecorationRole && col == kStatus) {
    int sev = data(index, kSeverityRole).toInt();
    if (sev == 0) return {};
    return QApplication::style()->standardIcon(sev == 2 ? QStyle::SP_MessageBoxCritical
                                                        : QStyle::SP_MessageBoxWarning);
  }
  return {};
}

Qt::ItemFlags FormModel::flags(const QModelIndex& index) const {
  if (!index.isValid()) return Qt::NoItemFlags;
  const SchemaNode& n = *node(index);
  Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
  if (!doc_->editable()) return f;
  if (index.column() == kValue && n.hasValue() && n.valueKind != Kind::kObject) {
    f |= Qt::ItemIsEditable;
  }
  if (index.column() == kLocked && !n.effectiveLockPointer().empty()) {
    // An inherited lock is shown greyed: it is changed on the group that owns it.
    if (n.lockPointer.empty()) {
      f &= ~Qt::ItemIsEnabled;
    } else {
      f |= Qt::ItemIsUserCheckable;
    }
  }
  return f;
}

bool FormModel::setData(const QModelIndex& index, const QVariant& value, int role) {
  if (!index.isValid() || !doc_->editable()) return false;
  const SchemaNode& n = *node(index);
  if (index.column() == kLocked && role == Qt::CheckStateRole && !n.lockPointer.empty()) {
    const bool on = value.toInt() == Qt::Checked;
    return doc_->setValue(n.lockPointer, Json(on),
                          on ? tr("Lock %1").arg(QString::fromStdString(n.pointer))
                             : tr("Unlock %1").arg(QString::fromStdString(n.pointer)));
  }
  if (index.column() != kValue || role != Qt::EditRole || !n.hasValue()) return false;
  const QString text = value.toString();
  const QString what = tr("Edit %1").arg(QString::fromStdString(n.valuePointer));
  if (text == notSet()) return doc_->setValue(n.valuePointer, std::nullopt, what);
  Json v;
  switch (n.valueKind) {
    case Kind::kBool:
      if (text != QLatin1String("true") && text != QLatin1String("false")) return false;
      v = text == QLatin1String("true");
      break;
    case Kind::kInteger: {
      bool ok = false;
      const long long i = text.toLongLong(&ok);
      if (!ok) return false;
      v = i;
      break;
    }
    case Kind::kEnum: {
      // The enum's own JSON value whose text was picked (numbers stay numbers).
      bool found = false;
      for (const auto& e : n.enumValues) {
        if (jsonText(Json::parse(e.dump())) == text) {
          v = Json::parse(e.dump());
          found = true;
        }
      }
      if (!found) v = text.toStdString();
      break;
    }
    case Kind::kStringOrList: {
      const Json* cur = at(doc_->json(), n.valuePointer);
      if (cur != nullptr && cur->is_array()) {
        v = Json::array();
        for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
          v.push_back(part.trimmed().toStdString());
        }
      } else {
        v = text.toStdString();
      }
      break;
    }
    default:
      v = text.toStdString();
      break;
  }
  return doc_->setValue(n.valuePointer, v, what);
}

void FormModel::sync() {
  // The indices below refer to the previous report: drop them before rows change (views ask for
  // data while rows are inserted).
  findings_.clear();
  byPointer_.clear();
  syncNode(*root_, {});
  forEachNode(*root_, [this](SchemaNode& n) {
    if (n.kind == Kind::kCategory) return;
    byPointer_[n.pointer] = &n;
    if (n.hasValue()) byPointer_.emplace(n.valuePointer, &n);
    if (!n.lockPointer.empty()) byPointer_.emplace(n.lockPointer, &n);
  });
  findings_.clear();
  const auto& fs = doc_->report().findings;
  for (size_t i = 0; i < fs.size(); ++i) {
    std::string p = fs[i].pointer;
    while (true) {
      auto it = byPointer_.find(p);
      if (it != byPointer_.end()) {
        findings_.emplace(it->second, i);
        break;
      }
      if (p.empty()) break;
      p = parentPointer(p);
    }
  }
  // Values, findings and locks can change anywhere: repaint every row.
  std::function<void(const QModelIndex&)> touch = [&](const QModelIndex& parent) {
    const int rows = rowCount(parent);
    if (rows == 0) return;
    emit dataChanged(index(0, 0, parent), index(rows - 1, kColumnCount - 1, parent));
    for (int r = 0; r < rows; ++r) touch(index(r, 0, parent));
  };
  touch({});
}

void FormModel::syncNode(SchemaNode& n, const QModelIndex& idx) {
  if (isList(n)) {
    const Json* v = at(doc_->json(), n.pointer);
    const size_t want = v != nullptr && v->is_array() ? v->size() : 0;
    const size_t have = n.children.size();
    if (want < have) {
      beginRemoveRows(idx, static_cast<int>(want), static_cast<int>(have) - 1);
      n.children.resize(want);
      endRemoveRows();
    } else if (want > have) {
      beginInsertRows(idx, static_cast<int>(have), static_cast<int>(want) - 1);
      for (size_t i = have; i < want; ++i) n.children.push_back(buildItemNode(n, i));
      endInsertRows();
    }
  }
  for (size_t i = 0; i < n.children.size(); ++i) {
    syncNode(*n.children[i], index(static_cast<int>(i), 0, idx));
  }
}

QModelIndex FormModel::indexForPointer(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = byPointer_.find(p);
    if (it != byPointer_.end()) return indexOf(it->second);
    if (p.empty()) return {};
    p = parentPointer(p);
  }
}

FormFilter::FormFilter(QObject* parent) : QSortFilterProxyModel(parent) {
  setRecursiveFilteringEnabled(true);
}

void FormFilter::setSearch(const QString& text) {
  search_ = text.trimmed();
  invalidateFilter();
}

void FormFilter::setMode(Mode m) {
  mode_ = m;
  invalidateFilter();
}

bool FormFilter::filterAcceptsRow(int row, const QModelIndex& parent) const {
  const QModelIndex idx = sourceModel()->index(row, 0, parent);
  if (!search_.isEmpty() &&
      !idx.data(FormModel::kSearchTextRole).toString().contains(search_, Qt::CaseInsensitive)) {
    return false;
  }
  switch (mode_) {
    case Mode::kAll:
      return true;
    case Mode::kLocked:
      return idx.data(FormModel::kEffectiveLockedRole).toBool() &&
             !idx.data(FormModel::kPointerRole).toString().isEmpty();
    case Mode::kChanged:
      return idx.data(FormModel::kChangedRole).toBool();
    case Mode::kFindings:
      return idx.data(FormModel::kSeverityRole).toInt() > 0;
  }
  return true;
}

}  // namespace eci::gui
