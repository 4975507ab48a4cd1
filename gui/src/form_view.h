// The generated form: search and filter over the FormModel, a tree with type-appropriate editors
// (delegate), the selected setting's description, and the list editor (new entry with its
// normalised image form / "did you mean" for commands, add, remove).
#pragma once

#include <QStyledItemDelegate>
#include <QWidget>

#include "form_model.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTreeView;
class QCompleter;

namespace eci::gui {

class ValueDelegate : public QStyledItemDelegate {
  Q_OBJECT

 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  QWidget* createEditor(QWidget* parent, const QStyleOptionViewItem& option,
                        const QModelIndex& index) const override;
  void setEditorData(QWidget* editor, const QModelIndex& index) const override;
  void setModelData(QWidget* editor, QAbstractItemModel* model,
                    const QModelIndex& index) const override;
};

class FormView : public QWidget {
  Q_OBJECT

 public:
  explicit FormView(Document* doc, QWidget* parent = nullptr);

  FormModel* model() const { return model_; }
  FormFilter* filter() const { return filter_; }
  QTreeView* tree() const { return tree_; }
  QLineEdit* searchField() const { return search_; }
  QLineEdit* newEntryField() const { return newEntry_; }
  QLabel* entryHint() const { return hint_; }

  // Selects (and scrolls to) the row of `pointer` or of its closest ancestor with a row; clears
  // a search/filter that hides it. Returns the pointer of the row selected.
  QString selectPointer(const QString& pointer);
  QString currentPointer() const;
  // Adds `text` as a new entry of the selected list (or of the list of the selected entry).
  bool addEntry(const QString& text);
  // Removes the selected list entry, or resets the selected setting to "not set".
  bool removeSelected();

 signals:
  void currentPointerChanged(const QString& pointer);

 protected:
  bool eventFilter(QObject* obj, QEvent* ev) override;

 private:
  QModelIndex currentSource() const;
  QModelIndex listIndex() const;  // the list the new entry goes to (source model)
  void updateDetails();
  void updateHint();

  Document* doc_;
  FormModel* model_;
  FormFilter* filter_;
  QLineEdit* search_;
  QComboBox* mode_;
  QTreeView* tree_;
  QLabel* banner_;
  QLabel* description_;
  QLineEdit* newEntry_;
  QPushButton* add_;
  QPushButton* remove_;
  QLabel* hint_;
  QCompleter* commandCompleter_;
};

}  // namespace eci::gui
