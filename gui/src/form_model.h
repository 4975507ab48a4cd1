// The form's item model: the schema tree (schema_tree.h) over one Document. Columns: Setting |
// Value | Locked | Status. List settings have one child row per entry, kept in step with the
// document. Every setData() is one undoable Document edit; the model never holds values itself.
#pragma once

#include <QAbstractItemModel>
#include <QSortFilterProxyModel>
#include <map>
#include <memory>
#include <vector>

#include "document.h"
#include "schema_tree.h"

namespace eci::gui {

class FormModel : public QAbstractItemModel {
  Q_OBJECT

 public:
  enum Column { kSetting = 0, kValue, kLocked, kStatus, kColumnCount };
  enum Role {
    kPointerRole = Qt::UserRole + 1,  // QString: the node's JSON Pointer
    kSeverityRole,                    // int: 0 none, 1 warning, 2 error (own findings)
    kEffectiveLockedRole,             // bool: the lock that applies (own or inherited) is on
    kChangedRole,                     // bool: differs from the file as loaded/saved
    kSearchTextRole,                  // QString: key, title, description, pointer
    kKindRole,                        // int: SchemaNode::Kind of the value (or the node)
    kListRoleRole,                    // int: SchemaNode::ListRole
    kIsListRole,                      // bool: a list setting (entries can be added)
    kIsListItemRole,                  // bool: an entry of a list (can be removed)
    kDescriptionRole,                 // QString
  };

  explicit FormModel(Document* doc, QObject* parent = nullptr);

  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
  Qt::ItemFlags flags(const QModelIndex& index) const override;
  QVariant headerData(int section, Qt::Orientation o, int role = Qt::DisplayRole) const override;

  Document* document() const { return doc_; }
  const SchemaNode* node(const QModelIndex& index) const;
  // The row of `pointer`, else of its closest ancestor that has a row (column 0).
  QModelIndex indexForPointer(const std::string& pointer) const;
  // Text of the value cell ("(not set)" when absent).
  QString valueText(const SchemaNode& n) const;
  // Status column text: findings first, else the entry's normalised image / command check.
  QString statusText(const SchemaNode& n) const;

  static QString notSet();

 private:
  void sync();
  void syncNode(SchemaNode& n, const QModelIndex& idx);
  QModelIndex indexOf(const SchemaNode* n, int column = 0) const;
  bool effectiveLocked(const SchemaNode& n) const;
  bool eciOffGreys(const SchemaNode& n) const;
  std::vector<size_t> findingsOf(const SchemaNode& n) const;
  bool changed(const SchemaNode& n) const;

  Document* doc_;
  std::unique_ptr<SchemaNode> root_;
  std::map<std::string, const SchemaNode*> byPointer_;
  std::multimap<const SchemaNode*, size_t> findings_;  // node -> index into report().findings
};

// Search over key, title, description and pointer, plus one of the filters.
class FormFilter : public QSortFilterProxyModel {
  Q_OBJECT

 public:
  enum class Mode { kAll, kLocked, kChanged, kFindings };
  explicit FormFilter(QObject* parent = nullptr);
  void setSearch(const QString& text);
  void setMode(Mode m);
  Mode mode() const { return mode_; }

 protected:
  bool filterAcceptsRow(int row, const QModelIndex& parent) const override;

 private:
  QString search_;
  Mode mode_ = Mode::kAll;
};

}  // namespace eci::gui
